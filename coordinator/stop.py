"""How a run ends: the stop request (the first reason wins), the set-up failure, and
the process exit code each ending maps to.

Reasons: ``duration`` (the run's time is up), ``quit`` (``q`` in the live view),
``interrupted`` (SIGINT / Ctrl-C), ``terminated`` (SIGTERM), ``error``; a run that
ran its duration but lost a worker ends ``workers_lost``.

How long stopping may take: :func:`stop_grace` is the deadline a running worker
gets to stop, write its final line and say bye, scaled by its shard's size (measured:
docs/protocol.md, "Liveness"); a worker stopped by SIGSTOP gets
``STALLED_STOP_GRACE_S``, and a set-up that did not finish ``SETUP_STOP_GRACE_S``.

Not here: who asks to stop (the session's signal handlers, the run loop, the live
view) or what stopping does (``session``).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Mapping

__all__ = ["EXIT_CODES", "RESTART", "SetupError", "StopRequest", "every_worker_left", "exit_reason",
           "exit_text", "stop_grace",
           "unstopped_reason", "SETUP_STOP_GRACE_S", "STALLED_STOP_GRACE_S"]

EXIT_CODES: dict[str, int] = {"duration": 0, "quit": 0, "interrupted": 130, "terminated": 143,
                              "error": 1, "workers_lost": 3}


#: The stop of a generation that a restart follows (coordinator.recovery): not an ending.
RESTART = "restart"

SETUP_STOP_GRACE_S = 1.0  # workers still setting up: SIGTERM, then SIGKILL after this
STALLED_STOP_GRACE_S = 1.0  # a worker stopped by SIGSTOP at the end of the run
STOP_GRACE_BASE_S = 3.0
STOP_GRACE_PER_AGENT_S = 300e-6  # measured: 125,000 agents took up to 18.3 s to stop (twice that)


def stop_grace(agents_per_shard: int) -> float:
    """Seconds a running worker with ``agents_per_shard`` agents gets to stop."""
    if agents_per_shard < 0:
        raise ValueError(f"agents_per_shard={agents_per_shard}: must be >= 0")
    return STOP_GRACE_BASE_S + STOP_GRACE_PER_AGENT_S * agents_per_shard


def exit_text(code: int) -> str:
    """``exited with code 1`` or ``killed by SIGKILL`` (a negative Popen code)."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def unstopped_reason(*, silent: float, sigstopped: bool, stalled_at_stop: bool, grace: float) -> str:
    """Why a worker that did not stop in time is lost."""
    if sigstopped:
        return f"stopped (SIGSTOP) at the end of the run: no word for {silent:.1f} s"
    if stalled_at_stop:
        return f"stalled at the end of the run: no word for {silent:.1f} s"
    return f"did not stop within {grace:.1f} s"


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
            if reason not in EXIT_CODES and reason != RESTART:
                raise ValueError(f"stop reason {reason!r} is not one of "
                                 f"{sorted([*EXIT_CODES, RESTART])}")
            self.reason = reason
        self.event.set()
        return first

    def is_set(self) -> bool:
        return self.event.is_set()


def every_worker_left(byes: Mapping[int, str], *, workers: int, own_stall: float,
                      heartbeat_timeout: float, heartbeat_s: float) -> str:
    """The error of a run no worker is left in: the coordinator's own stall, when it
    explains why every worker stopped hearing it."""
    heard_nothing = [why for why in byes.values() if why.startswith("no word from the coordinator")]
    # A worker gives up heartbeat_timeout after the last heartbeat it got, which left
    # up to heartbeat_s before the stall began: a stall that long is the cause.
    if len(heard_nothing) == workers or own_stall >= heartbeat_timeout - heartbeat_s:
        return (f"every worker left: none heard this coordinator for {heartbeat_timeout:.0f} s; "
                f"the coordinator was stalled (stopped or starved of CPU) for {own_stall:.1f} s")
    return "every worker left"


def exit_reason(stop_reason: str | None, workers_lost: bool) -> str:
    """The run's ending as summary.json records it: the stop reason (``duration``
    when nobody asked), ``workers_lost`` when a worker died in a run that otherwise
    ran its course."""
    reason = stop_reason or "duration"
    if reason == RESTART:  # a restart (coordinator.recovery) that did not happen
        return "workers_lost"
    if reason == "duration" and workers_lost:
        return "workers_lost"
    return reason
