"""``sim-gather``: the per-shard FPS, lateness and counters of Cascade runs as tables,
CSV, JSON and plots.

    sim-gather runs/run-20261121-070000-1 [more run dirs]

prints one table per run (a row per shard and a run row "all" whose percentiles come
from merged histograms) and, with several runs, a comparison table. Problems in the
logs are warnings on stderr, one line each; the rest is still gathered.
Exit status: 0 ok, 2 bad input (a path that is not a run directory, a bad option,
--plot without matplotlib). See docs/gather.md.

This module parses options, prints and writes files; the reading and the figures are
:mod:`shared.runlog`, the drawing :mod:`coordinator.logtools.plots` (which imports
matplotlib only to draw).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Callable, Sequence

from coordinator.logtools.args import Parser
from coordinator.logtools.plots import MATPLOTLIB_HINT, matplotlib_missing, plot_run
from coordinator.logtools.load import load_run
from shared.runlog.reading import Run
from shared.runlog.rows import comparison_row, run_rows
from shared.runlog.tables import (COMPARISON_COLUMNS, SHARD_COLUMNS, SHARD_LEGEND,
                                  format_table, heading, rows_to_csv, runs_to_json)
from shared.synchrony import SYNC_THRESHOLD

__all__ = ["main", "parse_args"]

PROG = "sim-gather"


def parse_args(argv: Sequence[str] | None, prog: str = PROG) -> argparse.Namespace:
    parser = Parser(
        prog=prog,
        description="Tables (and plots) of per-shard FPS, lateness and counters of "
                    "Cascade runs.",
        epilog="A line's t is the end of its interval: the window keeps SINCE < t <= "
               "UNTIL. Exit status: 0 ok, 2 bad input (the valid runs are still "
               "reported). See docs/gather.md.")
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", type=Path,
                        help="a run directory (holding run.json)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text",
                        help="table style on stdout (default: text)")
    parser.add_argument("--csv", metavar="FILE", type=Path,
                        help="write every shard row and run row of every run as CSV")
    parser.add_argument("--json", metavar="FILE", type=Path,
                        help="write rows, comparison, merged histograms and warnings as JSON")
    parser.add_argument("--since", metavar="SECONDS", type=float,
                        help="keep lines with t > SECONDS")
    parser.add_argument("--until", metavar="SECONDS", type=float,
                        help="keep lines with t <= SECONDS")
    parser.add_argument("--plot", metavar="DIR", type=Path,
                        help="write 4 PNGs per run into DIR (needs matplotlib)")
    args = parser.parse_args(argv)
    for name in ("since", "until"):
        value = getattr(args, name)
        if value is not None and not math.isfinite(value):
            parser.error(f"--{name} (={value}) must be a finite number of seconds")
    if args.since is not None and args.until is not None and args.since >= args.until:
        parser.error(f"--since (={args.since}) must be smaller than --until (={args.until})")
    return args


def _print_run(run: Run, style: str) -> None:
    window = ""
    if run.since is not None or run.until is not None:
        low = "start" if run.since is None else f"{run.since:g}"
        high = "end" if run.until is None else f"{run.until:g}"
        window = f"  window=({low}, {high}]"
    table = format_table(run_rows(run), SHARD_COLUMNS, style)
    if style == "markdown":
        print(f"### {heading(run.info)}{window}\n\n{table}\n")
    else:
        print(f"{heading(run.info)}{window}\n{table}\n")


def _print_comparison(runs: list[Run], style: str) -> None:
    table = format_table([comparison_row(run) for run in runs], COMPARISON_COLUMNS, style)
    title = (f"comparison of {len(runs)} runs (T_R{SYNC_THRESHOLD:g}_s: time to "
             f"R >= {SYNC_THRESHOLD:g} held for a period)")
    print(f"### {title}\n\n{table}\n" if style == "markdown" else f"{title}\n{table}\n")


def _stems(runs: list[Run]) -> list[str]:
    """File name stems for the plots, unique even when two runs share a name."""
    seen: dict[str, int] = {}
    out = []
    for run in runs:
        seen[run.name] = seen.get(run.name, 0) + 1
        out.append(run.name if seen[run.name] == 1 else f"{run.name}-{seen[run.name]}")
    return out


def _write_outputs(runs: list[Run], args: argparse.Namespace) -> int:
    outputs: list[tuple[Path | None, Callable[[list[Run]], str]]] = [
        (args.csv, rows_to_csv),
        (args.json, lambda r: json.dumps(runs_to_json(r), indent=1) + "\n")]
    status = 0
    for file, render in outputs:
        if file is None:
            continue
        try:
            file.write_text(render(runs))
        except OSError as exc:
            print(f"error: {file}: cannot write ({exc.strerror})", file=sys.stderr)
            status = 2
    return status


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run the tool; returns the exit status (``prog`` names it in messages)."""
    args = parse_args(argv, prog)
    if args.plot:
        if matplotlib_missing():
            print(f"error: --plot needs matplotlib: {MATPLOTLIB_HINT}", file=sys.stderr)
            return 2
    runs, status = [], 0
    for path in args.run_dirs:
        run = load_run(path, sys.stderr)
        if run is None:
            status = 2
            continue
        runs.append(run.window(args.since, args.until))
    if not runs:
        return status
    for run in runs:
        _print_run(run, args.format)
    print(f"_{SHARD_LEGEND}_\n" if args.format == "markdown" else f"{SHARD_LEGEND}\n")
    if len(runs) > 1:
        _print_comparison(runs, args.format)
    status = max(status, _write_outputs(runs, args))
    if args.plot:
        try:
            for run, stem in zip(runs, _stems(runs)):
                for png in plot_run(run, args.plot, stem=stem):
                    print(f"wrote {png}", file=sys.stderr)
        except OSError as exc:
            print(f"error: {args.plot}: cannot write the plots ({exc.strerror})",
                  file=sys.stderr)
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
