"""The option parser of the log tools: argparse, except that a bad option is one
line on stderr (``prog: error: ... (see --help)``) and exit status 2, not a usage
dump. Not a place for options themselves: each tool declares its own."""

from __future__ import annotations

import argparse
from typing import NoReturn

__all__ = ["Parser"]


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``--help`` still shows it all)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

