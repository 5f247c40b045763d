#!/usr/bin/env python3
"""Gather the per-shard FPS and jitter logs of Cascade runs into tables and plots.

    python scripts/gather_logs.py runs/run-20261121-070000-1 [more run dirs]

prints one table per run (a row per shard and a run row "all" whose percentiles come
from merged histograms) and, with several runs, a comparison table. Problems in the
logs are warnings on stderr, one line each; the rest is still gathered.
Exit status: 0 ok, 2 bad input (a path that is not a run directory, a bad option,
--plot without matplotlib). See docs/gather.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(1, str(_ROOT))

import runlogs  # noqa: E402  (scripts/ is sys.path[0] when run as a script)

PLOT_HINT = ("error: --plot needs matplotlib: pip install 'cascade-fireflies[plot]' "
             "(or pip install matplotlib)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gather_logs.py",
        description="Tables (and plots) of per-shard FPS, lateness and counters of "
                    "Cascade runs.",
        epilog="A line's t is the end of its interval: the window keeps SINCE < t <= "
               "UNTIL. Exit status: 0 ok, 2 bad input (the valid runs are still "
               "reported).")
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


def _plotter():
    """plot_run.plot_run, or None when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    import plot_run

    return plot_run.plot_run


def _print_run(run: runlogs.Run, style: str) -> None:
    window = ""
    if run.since is not None or run.until is not None:
        low = "start" if run.since is None else f"{run.since:g}"
        high = "end" if run.until is None else f"{run.until:g}"
        window = f"  window=({low}, {high}]"
    table = runlogs.format_table(runlogs.run_rows(run), runlogs.SHARD_COLUMNS, style)
    if style == "markdown":
        print(f"### {run.info.heading()}{window}\n\n{table}\n")
    else:
        print(f"{run.info.heading()}{window}\n{table}\n")


def _print_comparison(runs: list[runlogs.Run], style: str) -> None:
    rows = [runlogs.comparison_row(run) for run in runs]
    table = runlogs.format_table(rows, runlogs.COMPARISON_COLUMNS, style)
    title = f"comparison of {len(runs)} runs (T_R0.9_s: time to R >= 0.9 held for a period)"
    print(f"### {title}\n\n{table}\n" if style == "markdown" else f"{title}\n{table}\n")


def _stems(runs: list[runlogs.Run]) -> list[str]:
    """File name stems for the plots, unique even when two runs share a name."""
    seen: dict[str, int] = {}
    out = []
    for run in runs:
        seen[run.name] = seen.get(run.name, 0) + 1
        out.append(run.name if seen[run.name] == 1 else f"{run.name}-{seen[run.name]}")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plot = _plotter() if args.plot else None
    if args.plot and plot is None:
        print(PLOT_HINT, file=sys.stderr)
        return 2
    runs, status = [], 0
    for path in args.run_dirs:
        try:
            run = runlogs.read_run(path).window(args.since, args.until)
        except runlogs.NotARunError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
            continue
        for warning in run.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        runs.append(run)
    for run in runs:
        _print_run(run, args.format)
    if runs:
        legend = runlogs.SHARD_LEGEND
        print(f"_{legend}_\n" if args.format == "markdown" else f"{legend}\n")
    if len(runs) > 1:
        _print_comparison(runs, args.format)
    outputs = [(args.csv, runlogs.rows_to_csv),
               (args.json, lambda r: json.dumps(runlogs.runs_to_json(r), indent=1) + "\n")]
    for file, render in outputs:
        if runs and file is not None:
            try:
                file.write_text(render(runs))
            except OSError as exc:
                print(f"error: {file}: cannot write ({exc.strerror})", file=sys.stderr)
                status = 2
    if runs and plot is not None:
        args.plot.mkdir(parents=True, exist_ok=True)
        for run, stem in zip(runs, _stems(runs)):
            for png in plot(run, args.plot, stem=stem):
                print(f"wrote {png}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
