"""Liveness: when each worker was last heard from, and which are stalled or lost.

:class:`Liveness` keeps, per shard, the monotonic time of the last message read from
it (a telemetry frame or report, or a control message). A shard silent for more than
``stall_s`` is *stalled*: its figures are stale and stop feeding R and min FPS, and
the status line names it. Silent for more than ``lost_s`` it is *lost* — unless the
caller's ``working(shard)`` says its process is still using the CPU: an overloaded
worker (its event loop busy for seconds at a time) stays stalled, never lost.
:class:`Loss` is what summary.json's ``workers_lost`` records for one lost shard.

The thresholds are chosen by measurement (docs/protocol.md, "Liveness"): a worker
sends 30 frames a second, so a healthy one is never silent for 1 s, even starved of
CPU (0.5 s at most); a worker stopped with SIGSTOP for 8 s and resumed must not be
lost, hence 10 s. An overloaded one (a 125,000-agent shard on this 2-core machine)
was silent for 4.4 s and 9 s: ``working`` keeps it.

The coordinator's own stalls are excused (:meth:`Liveness.excuse`), and silence
is measured when messages are *read*: the caller drains its sockets before
:meth:`Liveness.check`, so a coordinator that was itself stalled (its queues full of
fresh messages) does not mistake its own stall for its workers'.

Not here: reading sockets (``control``, ``telemetry``), what a loss does to the run
(``session``), or the figures (``aggregator``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Liveness", "LivenessChanges", "Loss", "STALL_S", "LOST_S", "process_stopped"]

log = logging.getLogger(__name__)

STALL_S = 1.0  # silent this long: stalled (shown, its figures left out)
LOST_S = 10.0  # silent this long: lost


@dataclass
class Loss:
    """One lost shard: its exit code (None while its process has not been reaped),
    why it counts as lost, and ``since_s``: the sim time from which its figures stop
    (None when it was lost before the run began)."""

    reason: str
    since_s: float | None
    code: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason, "since_s": self.since_s}


@dataclass
class LivenessChanges:
    """What one :meth:`Liveness.check` found: shards newly stalled, resumed, lost
    (each with its silence in seconds)."""

    stalled: dict[int, float] = field(default_factory=dict)
    resumed: dict[int, float] = field(default_factory=dict)
    lost: dict[int, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.stalled or self.resumed or self.lost)


class Liveness:
    """The last-heard times of ``shards`` workers; nothing is tracked before
    :meth:`start` (set-up has its own timeout) or after :meth:`forget`."""

    def __init__(self, shards: int, *, stall_s: float = STALL_S, lost_s: float = LOST_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < stall_s < lost_s:
            raise ValueError(f"stall_s={stall_s} and lost_s={lost_s}: need 0 < stall_s < lost_s")
        self.shards = shards
        self.stall_s = stall_s
        self.lost_s = lost_s
        self._clock = clock
        self._last: dict[int, float] = {}  # tracked shards only
        self._stalled: set[int] = set()
        self._resumed_after: dict[int, float] = {}  # stalled shards heard again: their silence
        self.longest_silence: dict[int, float] = {}  # per shard, over the run (a measurement)
        self._measuring = False

    def start(self) -> None:
        """Begin tracking every shard, as if each was heard now (the start barrier)."""
        now = self._clock()
        self._last = {k: now for k in range(self.shards)}
        self.longest_silence = {k: 0.0 for k in range(self.shards)}
        self._measuring = True

    def stop_measuring(self) -> None:
        """The run stopped: silences from here on are the shutdown's, not the run's."""
        self._measuring = False

    def heard(self, shard: int) -> None:
        """A message from ``shard`` was read just now."""
        last = self._last.get(shard)
        if last is None:
            return
        now = self._clock()
        gap = now - last
        if self._measuring and gap > self.longest_silence.get(shard, 0.0):
            self.longest_silence[shard] = gap
        if shard in self._stalled:
            self._resumed_after[shard] = max(gap, self._resumed_after.get(shard, 0.0))
        self._last[shard] = now

    def excuse(self, seconds: float) -> None:
        """The coordinator itself was stalled for ``seconds`` (stopped, starved of CPU):
        silence is counted in its running time, so every shard is credited with them."""
        now = self._clock()
        for shard, last in self._last.items():
            self._last[shard] = min(now, last + seconds)

    def track(self, shard: int) -> None:
        """Track ``shard`` again from now (a replacement took it over)."""
        self._last[shard] = self._clock()

    def forget(self, shard: int) -> None:
        """Stop tracking ``shard`` (it is gone or stopping)."""
        self._last.pop(shard, None)
        self._stalled.discard(shard)
        self._resumed_after.pop(shard, None)

    def silent_for(self, shard: int) -> float:
        """Seconds since ``shard`` was last heard (0.0 when it is not tracked)."""
        last = self._last.get(shard)
        return 0.0 if last is None else self._clock() - last

    @property
    def stalled(self) -> list[int]:
        """Tracked shards silent past ``stall_s`` at the last check, in order."""
        return sorted(self._stalled)

    def check(self, working: Callable[[int], bool] = lambda shard: False) -> LivenessChanges:
        """Move shards between live, stalled and lost; lost shards are forgotten.
        ``working(shard)``: is a shard silent past the deadline still busy (its
        process using the CPU)? Then it stays stalled."""
        changes = LivenessChanges()
        for shard in list(self._last):
            silent = self.silent_for(shard)
            if silent > self.longest_silence.get(shard, 0.0):
                self.longest_silence[shard] = silent
            if silent > self.lost_s and not working(shard):
                changes.lost[shard] = silent
                self.forget(shard)
            elif silent > self.stall_s:
                if shard not in self._stalled:
                    self._stalled.add(shard)
                    changes.stalled[shard] = silent
            elif shard in self._stalled:
                self._stalled.discard(shard)
                changes.resumed[shard] = self._resumed_after.pop(shard, silent)
        return changes

    def measurements(self) -> dict[str, float]:
        """The longest silence of each shard, rounded (summary.json)."""
        return {str(k): round(v, 3) for k, v in sorted(self.longest_silence.items())}


def process_stopped(pid: int) -> bool:
    """Is process ``pid`` stopped (SIGSTOP, state T)? False when it is gone or unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    # the state follows the command name, which is in parentheses and may hold spaces
    state = stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3]
    return state in (b"T", b"t")

