"""The coordinator's console: the lines a user reads, and who owns the terminal.

:class:`Console` prints through the ``out`` callable the CLI hands in (the only way
the coordinator prints). While the live view owns the terminal
(:meth:`Console.taken_over`), status lines are dropped (they are in
coordinator.jsonl anyway), other lines are held and printed when the view is gone,
and the root logger writes to coordinator.log in the run directory instead of the
terminal. Everything is restored in one place: leaving ``taken_over``.

Not here: drawing (``view``) or what the lines say (the session, the aggregator,
the run records).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

__all__ = ["Console"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Console:
    """Prints lines through ``out``, or holds them while the terminal is taken over."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self._out = out
        self._held: list[str] | None = None  # a list while the terminal is taken over

    @property
    def is_taken_over(self) -> bool:
        return self._held is not None

    def out(self, line: str, *, status: bool = False) -> None:
        """Print a line; while taken over, drop status lines and hold the others."""
        if self._held is None:
            self._out(line)
        elif not status:
            self._held.append(line)

    @contextmanager
    def taken_over(self, log_path: Path) -> Iterator[None]:
        """Hand the terminal to someone else (the live view) for the ``with`` block.

        Logging goes to ``log_path`` meanwhile; on the way out, on every path, the
        root logger's handlers come back and the held lines are printed in order."""
        if self._held is not None:
            raise RuntimeError("the console is already taken over; leave the first takeover first")
        root = logging.getLogger()
        handler = logging.FileHandler(log_path)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        saved = root.handlers[:]
        root.handlers = [handler]
        self._held = []
        try:
            yield
        finally:
            root.handlers = saved
            handler.close()
            held, self._held = self._held, None
            for line in held:
                self._out(line)
