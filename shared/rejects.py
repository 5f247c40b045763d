"""Rejected messages, counted and logged in summary: at most one warning per source
per interval, never a line each (a flood of garbage must not become a flood of logs).

:class:`RejectLog` is the bookkeeping of one source (a socket): :meth:`RejectLog.reject`
counts a rejection and remembers the first reason of the current window; when the
window (``interval_s``) is over, the next rejection or :meth:`RejectLog.flush` logs
one line: ``dropped 9,412 malformed telemetry messages in the last 1.0 s; first: ...``.

:meth:`RejectLog.failed` is the one policy for what a message handler raised: a
:class:`~shared.protocol.ProtocolError`, or bad content (``KeyError``, ``TypeError``,
``ValueError``, ``OverflowError``), is the peer's fault and only summarised; anything
else is our bug, summarised too, with its traceback logged once per window. Every
bound socket's handler (the coordinator's control and telemetry sockets, each
worker's edge inbox) ends in it, so no exception reaches the event loop.

Not here: deciding what is malformed (the receivers) or counting it in the run's
counters (the caller does that where its counters live).
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from .protocol import ProtocolError

__all__ = ["RejectLog"]

_BAD_CONTENT = (KeyError, TypeError, ValueError, OverflowError)
_REASON_CHARS = 200  # a hostile message may be huge: its reason is clipped


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

    def failed(self, exc: Exception) -> None:
        """Count the message whose handler raised ``exc`` (module docstring: whose
        fault it is decides whether a traceback is logged)."""
        if isinstance(exc, ProtocolError):
            self.reject(_clip(str(exc)))
        elif isinstance(exc, _BAD_CONTENT):
            self.reject(_clip(repr(exc)))
        elif self.reject(_clip(f"unhandled {exc!r}")):  # one traceback per window
            self.log.error("one of the %s could not be handled", self.what, exc_info=exc)


def _clip(text: str) -> str:
    return text if len(text) <= _REASON_CHARS else text[:_REASON_CHARS] + "..."
