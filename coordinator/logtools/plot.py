"""``sim-plot``: the four PNGs of one Cascade run (FPS per shard, flash lateness per
shard, R(t), and the run's merged flash-lateness histogram).

    sim-plot RUN_DIR --out plots/

prints the path of each PNG it wrote. matplotlib is optional for the project (pip
install 'cascade-fireflies[plot]'); it is imported only to draw. Exit status: 0 ok,
2 bad input (not a run directory, a bad option, no matplotlib, an unwritable --out).
``sim-gather --plot DIR`` draws the same four plots for each run it reads.

This module parses options and prints; the drawing is
:mod:`coordinator.logtools.plots`, the reading :mod:`shared.runlog`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from coordinator.logtools.args import Parser
from coordinator.logtools.plots import MATPLOTLIB_HINT, matplotlib_missing, plot_run
from shared.runlog.reading import NotARunError, read_run

__all__ = ["main"]

PROG = "sim-plot"


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run the tool; returns the exit status (``prog`` names it in messages)."""
    parser = Parser(
        prog=prog,
        description="Draw four PNGs of a Cascade run: FPS per shard, flash lateness per "
                    "shard, R(t), and the run's merged flash-lateness histogram.",
        epilog="Files: <run>-fps.png, <run>-lateness.png, <run>-R.png, "
               "<run>-lateness-hist.png. Exit status: 0 ok, 2 bad input. "
               "See docs/gather.md.")
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path,
                        help="a run directory (holding run.json)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path("."),
                        help="directory for the PNGs, created if missing (default: .)")
    args = parser.parse_args(argv)
    if matplotlib_missing():
        print(f"error: plotting needs matplotlib: {MATPLOTLIB_HINT}", file=sys.stderr)
        return 2
    if args.out.exists() and not args.out.is_dir():
        print(f"error: --out {args.out}: not a directory; give a directory for the PNGs",
              file=sys.stderr)
        return 2
    try:
        run = read_run(args.run_dir)
    except NotARunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in run.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    try:
        paths = plot_run(run, args.out)
    except OSError as exc:
        print(f"error: --out {args.out}: cannot write the plots ({exc.strerror})",
              file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
