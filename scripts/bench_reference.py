#!/usr/bin/env python3
"""The firefly model in Brian2 (the reference) beside the simulator's lock-step mode.

    python scripts/bench_reference.py --grid 316 --duration 20 --seeds 1,2,3 --workers 1,2

runs one model (docs/design.md §4: W×H torus, Moore neighbours, period P, nudge ε,
refractory r, reset jitter J; coupling delay D) per seed in Brian2 and in
``sim-coordinator --clock lockstep`` per worker count, and prints a row per (engine,
workers, seed), medians, lock-step wall / Brian2 wall and, when 1 is among the worker
counts, parallel efficiency (RTF_k / RTF_1) / k.

What it is not: a bit-for-bit check. Brian2 is clock-driven with step ``--dt``: the
delay is rounded to whole steps, a cell nudged past P flashes at the next step (not at
once), and all nudges of one step apply before it resets. Its initial phases and
jitter come from numpy and Brian2, not from the simulator's streams. So flashes per
agent per period, final R and time to sync T_R (``shared.synchrony.time_to_sync`` on R
sampled every 0.1 s; the simulator samples its own frames) are compared statistically.
wall_s includes set-up (Brian2: building, and compiling on the first seed unless
cached; lock-step: the processes); run_s is the engine's run; RTF = simulated s / run_s.
Brian2 is an optional extra: ``pip install '.[reference]'``.
Exit status: 0 ok, 1 a run failed, 2 bad options or Brian2 missing.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import NamedTuple, Optional

import numpy as np

from coordinator.logtools.sweep import RUN_DIR_PREFIX, positive_ints
from shared.grid import Grid, parse_grid
from shared.model import FireflyParams
from shared.synchrony import combine_order, partial_order, time_to_sync

SAMPLE_EVERY = 0.1  # simulated seconds between R samples on the Brian2 side


Row = NamedTuple("Row", [("engine", str), ("workers", int), ("seed", int),
                         ("flashes_per_period", float), ("r_final", float),
                         ("t_sync", Optional[float]), ("wall_s", float), ("run_s", float),
                         ("rtf", float)])  # flashes per agent per period; T_R or None


def non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
    return value


def positive(text: str) -> float:
    if (value := non_negative(text)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def seed_list(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must list integers >= 0, like 1,2,3")
    return seeds


def grid(text: str) -> Grid:
    try:
        return parse_grid(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench_reference.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add = p.add_argument
    add("--grid", type=grid, default=Grid(316, 316), metavar="N|WxH", help="torus grid")
    add("--period", type=positive, default=5.0, help="flash period P (s)")
    add("--nudge", type=positive, default=0.5, help="phase advance ε per flash seen (s), <= P")
    add("--refractory", type=non_negative, default=1.0, help="refractory r (s), < P")
    add("--jitter", type=non_negative, default=0.1, help="reset jitter J (s): U(0, J), < P")
    add("--delay", type=positive, default=0.01, help="coupling delay D (s), > 0")
    add("--duration", type=positive, default=20.0, help="simulated seconds per run")
    add("--seeds", type=seed_list, default=[1, 2, 3], metavar="S,S,...", help="seeds")
    add("--workers", type=positive_ints, default=[2], metavar="K,K,...",
        help="lock-step worker counts")
    add("--dt", type=positive, default=0.001, help="Brian2 time step (s), <= D")
    add("--sim", default="sim-coordinator", metavar="COMMAND", help="the simulator command")
    add("--timeout", type=positive, default=600.0, help="wall limit per lock-step run (s)")
    add("--skip-brian2", action="store_true", help="run the lock-step side only")
    add("--skip-lockstep", action="store_true", help="run the Brian2 side only")
    args = p.parse_args(argv)
    try:  # the simulator's own rules for the model's parameters
        FireflyParams(args.period, args.nudge, args.refractory, args.jitter)
    except ValueError as exc:
        p.error(str(exc))
    if args.skip_brian2 and args.skip_lockstep:
        p.error("--skip-brian2 and --skip-lockstep leave nothing to run")
    if args.dt > args.delay:
        p.error("--dt must be <= --delay (Brian2 rounds the delay to whole steps)")
    try:
        args.sim_args = shlex.split(args.sim)
    except ValueError as exc:
        p.error(f"--sim: {exc}")
    if not args.sim_args:
        p.error("--sim must name a command")
    args.seeds, args.workers = list(dict.fromkeys(args.seeds)), list(dict.fromkeys(args.workers))
    return args


def run_brian2(b2: ModuleType, args: argparse.Namespace, seed: int, target: str) -> Row:
    n, period, t_end = args.grid.cells, args.period, args.duration
    start = time.perf_counter()
    b2.start_scope()
    b2.prefs.codegen.target = target
    b2.defaultclock.dt = args.dt * b2.second
    b2.seed(seed)
    cells = b2.NeuronGroup(n, "dphi/dt = 1/second : 1", threshold="phi >= P",
                           reset="phi = J*rand()", method="euler", name="cells")
    cells.phi = np.random.default_rng(seed).uniform(0.0, period, n)
    links = b2.Synapses(cells, cells, on_pre="phi_post += eps*int(phi_post >= refr)",
                        delay=args.delay * b2.second, name="links")
    table = args.grid.neighbour_table()  # the simulator's own Moore neighbours
    links.connect(i=np.repeat(np.arange(n), [len(t) for t in table]),
                  j=np.fromiter((j for t in table for j in t), dtype=np.int64))
    spikes = b2.SpikeMonitor(cells, record=False, name="spikes")
    points: list[tuple[float, float]] = []

    def order() -> float:  # a cell nudged past P flashes at the next step: count it at P
        phases = np.minimum(np.asarray(cells.phi[:]), period)
        return combine_order([(*partial_order(phases, period), n)])

    @b2.network_operation(dt=SAMPLE_EVERY * b2.second, name="sample")
    def sample(t: object) -> None:
        points.append((float(t / b2.second), order()))

    net = b2.Network(cells, links, spikes, sample)
    namespace = {"P": period, "J": args.jitter, "eps": args.nudge, "refr": args.refractory}
    net.run(0 * b2.second, namespace=namespace)  # compiles; fixed names: cached after once
    points.clear()
    run_start = time.perf_counter()
    net.run(t_end * b2.second, namespace=namespace)
    run_s = time.perf_counter() - run_start
    r_final = order()
    if not points or points[-1][0] < t_end - 1e-9:
        points.append((t_end, r_final))
    return Row("brian2", 1, seed, int(spikes.num_spikes) / (n * t_end / period), r_final,
               time_to_sync(points, period), time.perf_counter() - start, run_s, t_end / run_s)


def run_lockstep(args: argparse.Namespace, seed: int, workers: int) -> Row:
    program = args.sim_args[0]
    if not shutil.which(program) and Path(sys.executable).with_name(program).is_file():
        program = str(Path(sys.executable).with_name(program))  # an unactivated venv
    with tempfile.TemporaryDirectory(prefix="bench-ref-") as log_dir:
        command = [program, *args.sim_args[1:], "--clock", "lockstep", "--headless",
                   "--grid", f"{args.grid.width}x{args.grid.height}", "--delay", repr(args.delay),
                   "--period", repr(args.period), "--nudge", repr(args.nudge),
                   "--refractory", repr(args.refractory), "--jitter", repr(args.jitter),
                   "--duration", repr(args.duration), "--seed", str(seed),
                   "--workers", str(workers), "--log-dir", log_dir]
        start = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"killed after --timeout {args.timeout:g} s") from None
        except OSError as exc:
            raise RuntimeError(f"cannot start {command[0]}: {exc.strerror}") from None
        wall = time.perf_counter() - start
        run_dir = next((line[len(RUN_DIR_PREFIX):].strip() for line in done.stdout.splitlines()
                        if line.startswith(RUN_DIR_PREFIX)), None)
        if done.returncode != 0 or run_dir is None:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"exit {done.returncode}: {' | '.join(tail)}")
        summary = json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))
    per_period = summary["flashes"] / (summary["agents"] * float(summary["sim_time"]) / args.period)
    return Row("lockstep", workers, seed, per_period, float(summary["R_final"]),
               summary["time_to_sync_s"], wall, float(summary["duration_s"]), float(summary["rtf"]))


def fmt(row: Row, seed: str | None = None) -> str:
    t_sync = "-" if row.t_sync is None else f"{row.t_sync:.1f}"
    return (f"{row.engine:<9}{row.workers:>3} {seed or row.seed:>6}"
            f" {row.flashes_per_period:>10.3f} {row.r_final:>7.4f} {t_sync:>6}"
            f" {row.wall_s:>8.2f} {row.run_s:>8.2f} {row.rtf:>7.3f}")


def median_row(rows: list[Row]) -> Row:
    """Medians of the seeds' rows; T_R only when every seed synchronised."""
    def med(field: str) -> float:
        return statistics.median(getattr(r, field) for r in rows)
    synced = all(r.t_sync is not None for r in rows)
    return Row(rows[0].engine, rows[0].workers, -1, med("flashes_per_period"), med("r_final"),
               med("t_sync") if synced else None, med("wall_s"), med("run_s"), med("rtf"))


def load_brian2() -> tuple[ModuleType, str]:
    """(the brian2 module, its code target) or exit 2 with one line on how to install it."""
    try:
        import brian2 as b2
    except ImportError:
        print("Brian2 is not installed: pip install '.[reference]' (or run with --skip-brian2)")
        sys.exit(2)
    except Exception as exc:  # e.g. brian2 2.9.0 under numpy >= 2.4 (ndarray.ptp is gone)
        print(f"Brian2 is installed but does not import ({type(exc).__name__}: {exc}); "
              "brian2 <= 2.9.0 needs numpy < 2.4 (or run with --skip-brian2)")
        sys.exit(2)
    from brian2.codegen.runtime.cython_rt import CythonCodeObject
    return b2, "cython" if CythonCodeObject.is_available() else "numpy"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    b2, target = (None, "-") if args.skip_brian2 else load_brian2()
    g = args.grid
    print(f"grid {g.width}x{g.height} ({g.cells} agents) P={args.period:g} eps={args.nudge:g}"
          f" r={args.refractory:g} J={args.jitter:g} D={args.delay:g} T={args.duration:g}"
          f" seeds={args.seeds} workers={args.workers} brian2: dt={args.dt:g} target={target}")
    if target == "numpy":
        print("Cython is not available: Brian2 runs its numpy target (slower)")
    print(f"{'engine':<9}{'K':>3} {'seed':>6} {'fl/ag/P':>10} {'R_final':>7} {'T_R':>6}"
          f" {'wall_s':>8} {'run_s':>8} {'RTF':>7}")
    groups: dict[tuple[str, int], list[Row]] = {}
    failed = False
    jobs = ([] if args.skip_brian2 else [("brian2", 1)]) + \
           ([] if args.skip_lockstep else [("lockstep", k) for k in args.workers])
    for engine, k in jobs:
        for seed in args.seeds:
            try:
                if engine == "lockstep":
                    row = run_lockstep(args, seed, k)
                else:
                    try:
                        row = run_brian2(b2, args, seed, target)
                    except Exception as exc:
                        if target != "cython":
                            raise
                        print(f"Brian2's cython target failed ({type(exc).__name__}: {exc});"
                              " the numpy target from now on")
                        target = "numpy"
                        row = run_brian2(b2, args, seed, target)
            except Exception as exc:
                print(f"{engine:<9}{k:>3} {seed:>6}  FAILED: {exc}")
                failed = True
                continue
            groups.setdefault((engine, k), []).append(row)
            print(fmt(row), flush=True)
    medians = {key: median_row(rows) for key, rows in groups.items()}
    for row in medians.values():
        print(fmt(row, "median"))
    ref, one = medians.get(("brian2", 1)), medians.get(("lockstep", 1))
    for (engine, k), row in medians.items():
        if engine == "lockstep" and ref is not None:
            print(f"lock-step K={k} / Brian2 (medians): wall x{row.wall_s / ref.wall_s:.2f},"
                  f" run time x{row.run_s / ref.run_s:.2f}")
        if engine == "lockstep" and one is not None and k != 1:
            print(f"lock-step parallel efficiency K={k}: (RTF_{k} / RTF_1) / {k} = "
                  f"{row.rtf / one.rtf / k:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
