#!/usr/bin/env python3
"""The four PNGs of one Cascade run: the ``sim-plot`` command
(coordinator/logtools/plot.py) under its old name. Needs the package installed
(pip install -e '.[plot]'). See docs/gather.md.

    python scripts/plot_run.py RUN_DIR --out plots/
"""

import sys
from pathlib import Path

from coordinator.logtools.plot import main

if __name__ == "__main__":
    sys.exit(main(prog=Path(__file__).name))
