#!/usr/bin/env python3
"""Sweep worker counts and agent counts through sim-coordinator and compare the runs.

    python scripts/bench_scaling.py --workers 1,2,4 --agents 2500,10000 --duration 20

runs, for every agent count n (grid side round(sqrt(n))) and every worker count W,

    sim-coordinator --headless --workers W --grid SIDE --duration D --period P
                    --seed S --log-dir DIR [EXTRA...]

one after the other, reads the run directory each prints on its
``run directory: <path>`` line, and prints the comparison table of gather_logs.py.
``--dry-run`` prints the commands instead of running them.
Exit status: 0 ok, 1 a run failed (the others are still compared), 2 bad options.
"""

from __future__ import annotations

import argparse
import math
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(1, str(_ROOT))

import runlogs  # noqa: E402

RUN_DIR_PREFIX = "run directory: "


def _positive_ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers")
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} must list integers >= 1")
    return values


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench_scaling.py",
        description="Run sim-coordinator over a grid of worker and agent counts and "
                    "print a comparison table of the runs.")
    parser.add_argument("--workers", type=_positive_ints, default=[1, 2, 4],
                        metavar="W,W,...", help="worker counts (default: 1,2,4)")
    parser.add_argument("--agents", type=_positive_ints, default=[2500, 10000],
                        metavar="N,N,...",
                        help="agent counts; each becomes a square grid of side "
                             "round(sqrt(N)) (default: 2500,10000)")
    parser.add_argument("--duration", type=_positive, default=20.0, metavar="SECONDS",
                        help="seconds per run (default: 20)")
    parser.add_argument("--period", type=_positive, default=5.0, metavar="SECONDS",
                        help="firefly period (default: 5)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every run (default: 1)")
    parser.add_argument("--log-dir", type=Path, default=Path("runs"), metavar="DIR",
                        help="where the runs are written (default: runs)")
    parser.add_argument("--extra", default="", metavar="ARGS",
                        help="extra arguments for sim-coordinator, one shell-quoted "
                             "string, e.g. --extra='--fps 60 --limit 1000'")
    parser.add_argument("--sim", default="sim-coordinator", metavar="COMMAND",
                        help="the simulator command (default: sim-coordinator)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text",
                        help="table style (default: text)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands, one per line, and run nothing")
    args = parser.parse_args(argv)
    try:
        args.extra_args = shlex.split(args.extra)
        args.sim_args = shlex.split(args.sim)
    except ValueError as exc:
        parser.error(f"cannot split --extra/--sim: {exc}")
    if not args.sim_args:
        parser.error("--sim must name a command")
    return args


def grid_side(agents: int) -> int:
    """Side of the square grid closest to ``agents`` cells."""
    return max(1, round(math.sqrt(agents)))


def commands(args: argparse.Namespace) -> list[list[str]]:
    """One sim-coordinator command line per (agents, workers) pair, agents outermost."""
    out = []
    for agents in args.agents:
        for workers in args.workers:
            out.append([
                *args.sim_args, "--headless", "--workers", str(workers),
                "--grid", str(grid_side(agents)), "--duration", f"{args.duration:g}",
                "--period", f"{args.period:g}", "--seed", str(args.seed),
                "--log-dir", str(args.log_dir), *args.extra_args,
            ])
    return out


def _resolve(command: list[str]) -> list[str]:
    """Find a bare program name on PATH, else next to this Python (an unactivated venv)."""
    program = command[0]
    if "/" in program or shutil.which(program):
        return command
    beside = Path(sys.executable).parent / program
    return [str(beside), *command[1:]] if beside.is_file() else command


def run_one(command: list[str]) -> tuple[Path | None, str]:
    """Run one simulation, echoing its output; (run directory or None, problem)."""
    print(f"$ {shlex.join(command)}", file=sys.stderr, flush=True)
    command = _resolve(command)
    run_dir = None
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
            try:
                for line in proc.stdout:
                    sys.stderr.write(line)
                    if line.startswith(RUN_DIR_PREFIX):
                        run_dir = Path(line[len(RUN_DIR_PREFIX):].strip())
                code = proc.wait()
            except KeyboardInterrupt:  # the simulator got the Ctrl-C too: let it finish
                proc.wait()
                raise
    except OSError as exc:
        return None, f"cannot start {command[0]}: {exc.strerror}"
    if code != 0:
        return run_dir, f"exit status {code}"
    if run_dir is None:
        return None, f"no '{RUN_DIR_PREFIX.strip()}' line in its output"
    return run_dir, ""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for agents in args.agents:
        side = grid_side(agents)
        if side * side != agents:
            print(f"note: {agents} agents -> grid {side}x{side} ({side * side} agents)",
                  file=sys.stderr)
    if args.dry_run:
        for command in commands(args):
            print(shlex.join(command))
        return 0
    runs, status = [], 0
    try:
        for command in commands(args):
            run_dir, problem = run_one(command)
            if problem:
                print(f"error: {shlex.join(command)}: {problem}", file=sys.stderr)
                status = 1
            if run_dir is None:
                continue
            try:
                run = runlogs.read_run(run_dir)
            except runlogs.NotARunError as exc:
                print(f"error: {exc}", file=sys.stderr)
                status = 1
                continue
            for warning in run.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            runs.append(run)
    except KeyboardInterrupt:
        print("interrupted: comparing the runs finished so far", file=sys.stderr)
        status = 1
    if runs:
        rows = [runlogs.comparison_row(run) for run in runs]
        print(runlogs.format_table(rows, runlogs.COMPARISON_COLUMNS, args.format))
    return status


if __name__ == "__main__":
    sys.exit(main())
