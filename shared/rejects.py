"""Rejected messages, counted and logged in summary: at most one warning per source
per interval, never a line each (a flood of garbage must not become a flood of logs).

:class:`RejectLog` is the bookkeeping of one source (a socket): :meth:`RejectLog.reject`
counts a rejection and remembers the first reason of the current window; when the
window (``interval_s``) is over, the next rejection or :meth:`RejectLog.flush` logs
one line: ``dropped 9,412 malformed telemetry messages in the last 1.0 s; first: ...``.

Not here: deciding what is malformed (the receivers) or counting it in the run's
counters (the caller does that where its counters live).
"""

from __future__ import annotations

import logging
import time
from typing import Callable

__all__ = ["RejectLog"]


class RejectLog:
    """Summarised warnings about messages dropped from one source, ``what`` naming
    them (e.g. ``"malformed telemetry messages"``)."""

    def __init__(self, logger: logging.Logger, what: str, *, verb: str = "dropped",
                 interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.log = logger
        self.what = what
        self.verb = verb
        self.interval_s = interval_s
        self.clock = clock
        self.total = 0
        self._pending = 0
        self._first: str | None = None
        self._since = clock()
        self._last_line = -float("inf")

    def reject(self, reason: str) -> bool:
        """Count one rejection; returns True when it is the first of its window (the
        caller may log more about it, such as a traceback, once per window)."""
        self.total += 1
        self._pending += 1
        first = self._first is None
        if first:
            self._first = reason
        now = self.clock()
        if now - self._last_line >= self.interval_s:
            self.flush(now)
        return first

    def flush(self, now: float | None = None) -> None:
        """Log the window's line now if anything was dropped since the last one."""
        now = self.clock() if now is None else now
        if self._pending:
            self.log.warning("%s %s %s in the last %.1f s; first: %s", self.verb,
                             f"{self._pending:,}", self.what, max(0.0, now - self._since),
                             self._first)
        self._pending = 0
        self._first = None
        self._since = now
        self._last_line = now
