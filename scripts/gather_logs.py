#!/usr/bin/env python3
"""Tables, CSV/JSON and plots of Cascade run directories: the ``sim-gather`` command
(coordinator/logtools/gather.py) under its old name. Needs the package installed
(pip install -e .). See docs/gather.md.

    python scripts/gather_logs.py runs/run-20261121-070000-1 [more run dirs]
"""

import sys
from pathlib import Path

from coordinator.logtools.gather import main

if __name__ == "__main__":
    sys.exit(main(prog=Path(__file__).name))
