"""Reading run directories for a command-line tool: :func:`load_run` reads one and
tells its problems on the tool's error stream, one line each.

Not here: the reading itself (``shared.runlog.reading``, which never prints).
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from shared.runlog.reading import NotARunError, Run, read_run

__all__ = ["load_run"]


def load_run(path: str | Path, err: TextIO) -> Run | None:
    """The run at ``path``, its warnings written to ``err`` as ``warning: ...`` lines;
    None (after an ``error: ...`` line) when ``path`` is not a run directory."""
    try:
        run = read_run(path)
    except NotARunError as exc:
        print(f"error: {exc}", file=err)
        return None
    for warning in run.warnings:
        print(f"warning: {warning}", file=err)
    return run
