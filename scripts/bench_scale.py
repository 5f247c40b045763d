#!/usr/bin/env python3
"""How far the simulator scales on this machine: real headless runs, measured figures.

    python scripts/bench_scale.py --agents 10000,100000 --workers 2 --period 5 --duration 60

For every (agents, workers) pair it runs sim-coordinator (square grid of side
round(sqrt(agents)), random initial phases) and prints, per run: the slowest shard's
FPS, p99 flash lateness and p99 edge latency (from the merged histograms of all
shards), flashes/s, the workers' CPU (sum of the shards' medians, 100 = one core),
memory (peak RSS summed over workers, and per agent), and the lateness trend: p99 of
the second half of the run against the first (a ratio far above 1 means the run is
falling behind).

``--find-max`` searches for the largest agent count that keeps min FPS >= --min-fps
and p99 flash lateness <= --max-p99-ms (doubling, then bisecting).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from coordinator.logtools.args import Parser
from coordinator.logtools.sweep import grid_side, positive_ints, run_one, sim_command
from shared.runlog.reading import Run, read_run
from shared.runlog.rows import merged_histogram, run_rows
from shared.runlog.tables import format_table

COLUMNS = ("agents", "workers", "min_fps", "p99_flash_ms", "p99_edge_ms", "flashes_per_s",
           "cpu_pct", "rss_mib", "rss_kib_per_agent", "p99_trend", "ok")


def measure(run: Run) -> dict[str, Any]:
    lines = {k: [x for x in v if x.fps is not None] for k, v in run.shard_lines.items()}
    pooled = [x for v in run.shard_lines.values() for x in v]
    fps = [x.fps for v in lines.values() for x in v[1:]]  # the first second includes start-up
    rows = run_rows(run)
    total = rows[-1]
    end = max((x.t for x in pooled), default=0.0)
    first = [x for x in pooled if x.t <= end / 2]
    second = [x for x in pooled if x.t > end / 2]
    p99_first = merged_histogram(first, "flash_lateness").percentile(0.99)
    p99_second = merged_histogram(second, "flash_lateness").percentile(0.99)
    agents = total["agents"] or 0
    rss = total["rss_peak_bytes"] or 0
    return {
        "run": run.name,
        "agents": agents,
        "workers": len(run.shard_lines),
        "min_fps": min(fps) if fps else None,
        "p99_flash_ms": total["flash_lateness_p99_ms"],
        "p99_edge_ms": total["edge_latency_p99_ms"],
        "flashes_per_s": total["flashes_per_s"],
        "cpu_pct": total["cpu_percent_median"],
        "rss_mib": round(rss / 2**20, 1),
        "rss_kib_per_agent": round(rss / 1024 / agents, 2) if agents else None,
        "p99_first_half_ms": round(p99_first, 3),
        "p99_second_half_ms": round(p99_second, 3),
        "p99_trend": round(p99_second / p99_first, 2) if p99_first else None,
    }


def within(row: dict[str, Any], args: argparse.Namespace) -> bool:
    return (row["min_fps"] is not None and row["min_fps"] >= args.min_fps
            and row["p99_flash_ms"] is not None and row["p99_flash_ms"] <= args.max_p99_ms)


def simulate(agents: int, workers: int, args: argparse.Namespace) -> dict[str, Any] | None:
    command = sim_command(args.sim_args, agents=agents, workers=workers, duration=args.duration,
                          period=args.period, seed=args.seed, log_dir=args.log_dir,
                          extra=args.extra_args)
    run_dir, problem = run_one(command, sys.stderr)
    if problem or run_dir is None:
        print(f"error: {shlex.join(command)}: {problem}", file=sys.stderr)
        return None
    row = measure(read_run(run_dir))
    row["ok"] = "yes" if within(row, args) else "no"
    print("  ".join(f"{k}={row[k]}" for k in COLUMNS), file=sys.stderr, flush=True)
    return row


def find_max(workers: int, args: argparse.Namespace, rows: list[dict[str, Any]]) -> int | None:
    """Largest agent count within the bounds, to within --resolution."""
    good, bad = None, None
    n = args.agents[0]
    while bad is None:
        row = simulate(n, workers, args)
        if row is not None:
            rows.append(row)
        if row is not None and row["ok"] == "yes":
            good, n = n, n * 2
        else:  # a failed run is out of bounds too
            bad = n
    low = good or 0
    while bad - low > max(args.resolution, 1):
        mid = (low + bad) // 2
        row = simulate(mid, workers, args)
        if row is not None:
            rows.append(row)
        if row is not None and row["ok"] == "yes":
            low = good = mid
        else:
            bad = mid
    return good


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="bench_scale.py", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=positive_ints, default=[10_000, 100_000],
                        help="agent counts (with --find-max: the starting count)")
    parser.add_argument("--workers", type=positive_ints, default=[2], help="worker counts")
    parser.add_argument("--period", type=float, default=5.0, help="firefly period, s (default 5)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run (default 60)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-dir", type=Path, default=Path("runs/bench-scale"))
    parser.add_argument("--extra", default="",
                        help="more sim-coordinator options, one quoted string")
    parser.add_argument("--sim", default="sim-coordinator", help="simulator command")
    parser.add_argument("--find-max", action="store_true",
                        help="search the largest agent count within --min-fps and --max-p99-ms")
    parser.add_argument("--min-fps", type=float, default=27.0)
    parser.add_argument("--max-p99-ms", type=float, default=25.0)
    parser.add_argument("--resolution", type=int, default=2_500,
                        help="--find-max stops when the bracket is this narrow (agents)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text")
    args = parser.parse_args(argv)
    try:
        args.extra_args, args.sim_args = shlex.split(args.extra), shlex.split(args.sim)
    except ValueError as exc:
        parser.error(f"cannot split --extra/--sim: {exc}")
    if not args.sim_args:
        parser.error("--sim must name a command")
    rows: list[dict[str, Any]] = []
    status = 0
    for workers in args.workers:
        if args.find_max:
            best = find_max(workers, args, rows)
            side = grid_side(best) if best else 0
            print(f"largest agent count within min_fps>={args.min_fps:g} and "
                  f"p99<={args.max_p99_ms:g} ms on {workers} workers: {side * side} "
                  f"(grid {side}x{side}; searched to within {args.resolution} agents)")
        else:
            for agents in args.agents:
                row = simulate(agents, workers, args)
                if row is None:
                    status = 1
                else:
                    rows.append(row)
    print(format_rows(rows, args.format))
    return status


def format_rows(rows: list[dict[str, Any]], style: str) -> str:
    return format_table(rows, [(c, c, str) for c in COLUMNS], style)


if __name__ == "__main__":
    sys.exit(main())
