"""How a run ends: the stop request (the first reason wins), the set-up failure, and
the process exit code each ending maps to.

Reasons: ``duration`` (the run's time is up), ``quit`` (``q`` in the live view),
``interrupted`` (SIGINT / Ctrl-C), ``terminated`` (SIGTERM), ``error``; a run that
ran its duration but lost a worker ends ``workers_lost``.

Not here: who asks to stop (the session's signal handlers, the run loop, the live
view) or what stopping does (``session``).
"""

from __future__ import annotations

import asyncio

__all__ = ["EXIT_CODES", "SetupError", "StopRequest", "exit_reason"]

EXIT_CODES: dict[str, int] = {"duration": 0, "quit": 0, "interrupted": 130, "terminated": 143,
                              "error": 1, "workers_lost": 3}


class SetupError(RuntimeError):
    """The workers could not be brought to the start barrier."""


class StopRequest:
    """The run's stop flag: an :class:`asyncio.Event` plus the first reason given."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.reason: str | None = None

    def request(self, reason: str) -> bool:
        """Ask the run to stop; True when this is the first request (its reason counts)."""
        first = self.reason is None
        if first:
            if reason not in EXIT_CODES:
                raise ValueError(f"stop reason {reason!r} is not one of {sorted(EXIT_CODES)}")
            self.reason = reason
        self.event.set()
        return first

    def is_set(self) -> bool:
        return self.event.is_set()


def exit_reason(stop_reason: str | None, workers_lost: bool) -> str:
    """The run's ending as summary.json records it: the stop reason (``duration``
    when nobody asked), ``workers_lost`` when a worker died in a run that otherwise
    ran its course."""
    reason = stop_reason or "duration"
    if reason == "duration" and workers_lost:
        return "workers_lost"
    return reason
