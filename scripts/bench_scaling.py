#!/usr/bin/env python3
"""Sweep worker counts and agent counts through sim-coordinator and compare the runs.

    python scripts/bench_scaling.py --workers 1,2,4 --agents 2500,10000 --duration 20

runs, for every agent count n (grid side round(sqrt(n))) and every worker count W,

    sim-coordinator --headless --workers W --grid SIDE --duration D --period P
                    --seed S --log-dir DIR [EXTRA...]

one after the other, reads the run directory each prints on its
``run directory: <path>`` line, and prints the comparison table of sim-gather.
``--dry-run`` prints the commands instead of running them.
Exit status: 0 ok, 1 a run failed (the others are still compared), 2 bad options.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from coordinator.logtools.args import Parser
from coordinator.logtools.sweep import grid_side, positive_ints, run_one, sim_command
from coordinator.logtools.load import load_run
from shared.runlog.rows import comparison_row
from shared.runlog.tables import COMPARISON_COLUMNS, format_table


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(
        prog="bench_scaling.py",
        description="Run sim-coordinator over a grid of worker and agent counts and "
                    "print a comparison table of the runs.")
    parser.add_argument("--workers", type=positive_ints, default=[1, 2, 4],
                        metavar="W,W,...", help="worker counts (default: 1,2,4)")
    parser.add_argument("--agents", type=positive_ints, default=[2500, 10000],
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


def commands(args: argparse.Namespace) -> list[list[str]]:
    """One sim-coordinator command line per (agents, workers) pair, agents outermost."""
    return [sim_command(args.sim_args, agents=agents, workers=workers, duration=args.duration,
                        period=args.period, seed=args.seed, log_dir=args.log_dir,
                        extra=args.extra_args)
            for agents in args.agents for workers in args.workers]


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
            run_dir, problem = run_one(command, sys.stderr)
            if problem:
                print(f"error: {shlex.join(command)}: {problem}", file=sys.stderr)
                status = 1
            if run_dir is None:
                continue
            run = load_run(run_dir, sys.stderr)
            if run is None:
                status = 1
                continue
            runs.append(run)
    except KeyboardInterrupt:
        print("interrupted: comparing the runs finished so far", file=sys.stderr)
        status = 1
    if runs:
        rows = [comparison_row(run) for run in runs]
        print(format_table(rows, COMPARISON_COLUMNS, args.format))
    return status


if __name__ == "__main__":
    sys.exit(main())
