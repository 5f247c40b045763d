"""What the run does when a worker is lost: ``--on-worker-loss abort|restart`` and
``--max-restarts N``.

``abort`` (the default) ends the run as before: the loss is named in ``workers_lost``
and the exit is 3. With ``restart`` a lock-step run rolls back instead: every worker
stops, the newest checkpoint every shard saved is merged (or, when there is none yet,
the run starts again from its initial state), and a new *generation* of workers
resumes from it and replays to the end. Lock-step is deterministic, so the replayed
windows are the ones the lost run computed, and the final hashes are those of a run
with no loss. A real-time run instead gives the lost shard a new worker that starts
from the shard's last snapshot while the others run on (``replacement``). A shard lost
more than ``--max-restarts`` times ends the run as ``abort`` does (docs/recovery.md,
tests/test_recovery.py).

:class:`Recoveries` keeps the count per shard and the :class:`Recovery` records the
summary lists. Not here: noticing a loss (``departures``, ``liveness``), or running a
generation (``session``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["ON_LOSS", "ABORT", "RESTART", "Recovery", "Recoveries", "across"]

ABORT = "abort"
RESTART = "restart"
ON_LOSS = (ABORT, RESTART)


@dataclass(frozen=True)
class Recovery:
    """Shard ``shard`` lost (``reason``) at sim time ``lost_at_s``; it went back to
    ``resumed_from_s`` (lock-step: the checkpoint, for every shard; real time: the
    shard's snapshot, losing ``gap_s`` simulated seconds) and ran again ``recovery_s``
    seconds (wall) after the loss was noticed."""

    shard: int
    reason: str
    lost_at_s: float | None
    resumed_from_s: float
    recovery_s: float
    gap_s: float | None = None  # real time: the simulated seconds the shard lost

    def to_dict(self) -> dict[str, Any]:
        out = {"shard": self.shard, "reason": self.reason, "lost_at_s": self.lost_at_s,
               "resumed_from_s": round(self.resumed_from_s, 6),
               "recovery_s": round(self.recovery_s, 3)}
        if self.gap_s is not None:
            out["gap_s"] = round(self.gap_s, 3)
        return out


class Recoveries:
    """The restart policy of one run and what it did."""

    def __init__(self, mode: str, max_restarts: int) -> None:
        if mode not in ON_LOSS:
            raise ValueError(f"--on-worker-loss {mode!r}: must be {' or '.join(ON_LOSS)}")
        self.mode = mode
        self.max_restarts = max_restarts
        self.done: list[Recovery] = []
        self._restarts: dict[int, int] = {}

    def allows(self, lost: Mapping[int, Any]) -> bool:
        """May the run restart after losing the shards ``lost``?"""
        return self.mode == RESTART and bool(lost) and all(
            self._restarts.get(k, 0) < self.max_restarts for k in lost)

    def restarting(self, lost: Mapping[int, Any]) -> None:
        """Count one restart for each shard in ``lost``."""
        for k in lost:
            self._restarts[k] = self._restarts.get(k, 0) + 1

    def recovered(self, recovery: Recovery) -> None:
        self.done.append(recovery)

    def summary(self) -> dict[str, Any]:
        """The summary's ``recoveries`` (present only when the run restarted)."""
        return {"recoveries": [r.to_dict() for r in self.done]} if self.done else {}

def across(earlier: list[dict[str, Any]], last: dict[str, Any]) -> dict[str, Any]:
    """The last generation's summary figures, with R_max and the time to sync taken over
    every generation (lock-step replays are exact: a replayed moment had the same R)."""
    if not earlier:
        return last
    every = [*earlier, last]
    synced = [g["time_to_sync_s"] for g in every if g.get("time_to_sync_s") is not None]
    return {**last, "R_max": max(g["R_max"] for g in every),
            "time_to_sync_s": min(synced) if synced else None}
