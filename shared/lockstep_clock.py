"""The lock-step clock: simulated time that moves only when told to, events in one
canonical order (docs/lockstep.md). The real-time clock, the :class:`~shared.clock.Clock`
interface and the alarm slots both share are in :mod:`shared.clock`.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from typing import Any, Callable

from .cascade import Scheduler
from .clock import _AlarmSlots

__all__ = ["LockstepClock"]


class LockstepClock(_AlarmSlots):
    """Simulated time that advances only when told to (:meth:`advance`); for
    deterministic runs and tests.

    Events happen in one canonical order: by time, then key (an agent's local index,
    which follows its global cell id), then kind: a key's delivered signals
    (:meth:`deliver_at`, by source) before its alarm; with a coupling delay signals of
    one instant all come first (see :meth:`deliver_at`). An alarm moved to a due that has
    passed rings as an event at ``now`` in that order, not at once. So the order does
    not depend on how agents are split into shards (docs/lockstep.md).

    ``lookahead`` (the coupling delay D > 0): an agent rung at t touches nothing but
    its own cell before t + D, so the clock rings on and lets the rung agents act (each
    until its next alarm) only before an event of a rung agent's cell, one at or past
    t + D, a callback, or the end: the same order, far fewer event-loop turns. Without
    it (signals at once), ``settle`` turns pass after every ring.

    It is started at construction unless ``parked=True``; parked, it records alarms
    and :meth:`advance` refuses to move time until :meth:`start`. Its time never
    follows the wall clock, so :meth:`start`'s ``t0`` only opens the barrier.
    """

    def __init__(self, n_keys: int, start_time: float = 0.0, *, parked: bool = False,
                 lookahead: float | None = None, scheduler: Scheduler | None = None) -> None:
        super().__init__(n_keys, lambda: asyncio.get_running_loop().create_future(), scheduler)
        if lookahead is not None and not lookahead > 0:
            raise ValueError(f"lookahead(={lookahead!r}) must be > 0 (the coupling delay)")
        self._now = start_time
        self._callbacks: list[tuple[float, int, Callable[[], None]]] = []
        # (when, -1, source, keys, callback): one flash reaching several keys at once
        self._signals: list[tuple[float, int, int, tuple[int, ...],
                                  Callable[[int, float], None]]] = []
        self._seq = 0
        self.started = not parked
        self.lookahead = lookahead
        self._rung: dict[int, float] = {}  # lookahead: key -> ring time, until it waits again

    def alarm(self, key: int, due: float) -> asyncio.Future[Any]:
        if self._rung:
            self._rung.pop(key, None)  # it has acted
        return super().alarm(key, due)

    def start(self, t0: float) -> None:
        """Open the barrier (``t0`` is not used: lock-step time is not wall time)."""
        if self.started:
            raise RuntimeError("clock already started")
        self.started = True

    def now(self) -> float:
        return self._now

    def move(self, key: int, due: float, now: float) -> None:
        """Re-time a pending alarm; one due by ``now`` rings at ``now``, in event order
        (after the event that moved it and key's other signals at ``now``)."""
        self._push(key, due if due > now else now)

    def call_at(self, when: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` when sim time reaches ``when`` (for frame loops in tests)."""
        self._seq += 1
        heapq.heappush(self._callbacks, (when, self._seq, callback))

    def deliver_at(self, when: float, keys: tuple[int, ...], source: int,
                   callback: Callable[[int, float], None]) -> None:
        """Call ``callback(key, when)`` for each of ``keys`` when sim time reaches
        ``when``: the flash of global cell ``source`` reaching them (a coupling delay
        after it). At one instant every signal comes before every alarm, in order of
        source: for each key that is its order (signals by source, then its alarm), and
        keys do not touch one another at one instant when signals take time."""
        heapq.heappush(self._signals, (when, -1, source, keys, callback))

    async def advance(self, to: float, *, settle: int = 3) -> None:
        """Move time to ``to``, running every event due by then in order (callbacks
        first at equal times); after each ring and callback woken agents act before
        time moves on: the scheduler steps its ready runs at once, or (no scheduler)
        the event loop runs ``settle`` turns."""
        if not self.started:
            raise RuntimeError("clock is parked: call start() before advance()")
        signals, callbacks = self._signals, self._callbacks
        first_alarm, pop_alarm = self._queue.first, self._queue.pop
        pop = heapq.heappop
        rung, lookahead = self._rung, self.lookahead
        horizon = _NEVER[0]  # lookahead: the earliest time a rung agent's signals may land
        drain = self._drain if self.scheduler is not None else None
        await self._settle(settle)  # let runs created since the last call set their alarms
        while True:
            alarm = first_alarm() or _NEVER  # stale entries (moved, rung) skipped
            signal = signals[0] if signals else _NEVER
            callback = callbacks[0] if callbacks else _NEVER
            t = min(alarm[0], signal[0], callback[0])
            if rung and (t > to or t >= horizon or callback[0] == t
                         or (signal[0] == t and not rung.keys().isdisjoint(signal[3]))
                         or (alarm[0] == t and alarm[1] in rung)):
                await self._let_rung_act()
                horizon = _NEVER[0]
                continue
            if t > to or t == _NEVER[0]:
                break
            self._now = max(self._now, t)
            if callback[0] == t:
                pop(callbacks)[2]()
            elif signal[0] == t:
                when, _, _, keys, deliver = pop(signals)
                for key in keys:
                    deliver(key, when)
                continue  # a signal wakes nobody: it moves alarms
            else:
                due, key, _ = pop_alarm()
                if self._ring_now(key, due) and lookahead is not None:
                    rung[key] = due
                    horizon = min(horizon, due + lookahead)
                    continue  # it acts later, before anything it could touch
            if drain is not None and not self.scheduler.outside:  # type: ignore[union-attr]
                drain()  # the woken agents act now, no event loop turn needed
            else:
                await self._settle(settle)
        self._now = max(self._now, to)
        await self._settle(settle)

    async def _settle(self, turns: int) -> None:
        """Let woken agents act: ``turns`` event loop turns (futures' callbacks run in
        them), the scheduler's ready runs stepped after each."""
        scheduler = self.scheduler
        for _ in range(turns):
            if scheduler is not None:
                self._drain()
            await asyncio.sleep(0)
        if scheduler is not None:
            self._drain()

    def _drain(self) -> None:
        """Step every ready run of the scheduler now (the woken agents act)."""
        scheduler = self.scheduler
        assert scheduler is not None
        scheduler.run_ready(_DRAIN_STEPS)
        if scheduler.ready:
            raise RuntimeError(f"{scheduler.ready} runs still ready after {_DRAIN_STEPS:,} "
                               f"steps: some never wait on the clock")

    async def _let_rung_act(self) -> None:
        """Let every rung agent act until it has set its next alarm (by stepping the
        scheduler's ready runs; the event loop turns while some wait on something
        else, such as a quota slot, for up to ``_ACT_TIMEOUT_S``)."""
        scheduler = self.scheduler
        deadline = None
        turns = 0
        while True:
            if scheduler is not None:
                self._drain()
                if self._rung and not scheduler.outside:  # nothing left that could wake them
                    raise RuntimeError(f"agents {sorted(self._rung)[:5]} were rung and ended "
                                       f"without waiting again (did their tasks fail?)")
            if not self._rung:
                return
            turns += 1
            if turns < 1000:
                await asyncio.sleep(0)
                continue
            now = time.monotonic()  # a long wait: stop spinning, and give up some day
            if deadline is None:
                deadline = now + _ACT_TIMEOUT_S
            elif now > deadline:
                raise RuntimeError(f"agents {sorted(self._rung)[:5]} were rung and did not "
                                   f"wait again within {_ACT_TIMEOUT_S:g} s (did their tasks "
                                   f"fail?)")
            await asyncio.sleep(0.001)

    def pending_alarms(self) -> dict[int, float]:
        """key -> due of every pending alarm (for a checkpoint)."""
        version, futures = self._version, self._futures
        return {key: due for due, key, v in self._queue.entries()
                if v == version[key] and futures[key] is not None}

    def pending_signals(self) -> list[tuple[float, int, int]]:
        """(when, key, source) of every signal not yet delivered (for a checkpoint)."""
        return [(t, key, source) for t, _, source, keys, _ in self._signals for key in keys]

    def stop_all(self) -> int:
        self._signals.clear()
        self._rung.clear()
        return super().stop_all()


_NEVER = (float("inf"), 0, 0)
#: How long rung agents may take to act (a quota slot can take a coordinator round trip).
_ACT_TIMEOUT_S = 60.0
#: The most scheduler steps one drain may take before it calls the runs broken.
_DRAIN_STEPS = 10_000_000
