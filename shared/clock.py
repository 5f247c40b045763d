"""Clocks that agents wait through: real time or deterministic lock-step.

An agent never calls asyncio timers itself. It asks the clock for an *alarm*: a
future that resolves with the simulated time at which the alarm was due. A signal
from a neighbour *moves* a pending alarm (earlier, when nudged) or rings it at once,
without waking the agent's coroutine: the cheapest way to deliver a nudge.

* :class:`RealTimeClock`: simulated time is the event loop's monotonic time minus
  ``t0`` (the start barrier). On Linux that clock is shared by all processes of the
  host, so times in messages between shards are comparable.
* :class:`LockstepClock`: simulated time only moves when a test or driver calls
  :meth:`LockstepClock.advance`; alarms ring in (time, key) order. Deterministic.

Both keep one alarm slot per key (agent index 0..n-1) and implement :class:`Clock`,
the interface agents, frame loops and the worker are typed with. Built with a Cascade
:class:`~shared.cascade.Scheduler`, an alarm is that scheduler's cheap ``Wakeup``
(only the scheduler's runs may await it: the shard's agents); without one it is an
asyncio Future any task may await. Not here: what an
alarm means to an agent (``worker.agents``) or who preempts (``worker.quota``).
"""

from __future__ import annotations

import asyncio
import heapq
from typing import Any, Callable, Protocol

from .alarm_queue import AlarmQueue
from .cascade import Scheduler

__all__ = ["Clock", "RealTimeClock", "LockstepClock", "PREEMPTED", "CLOCKS"]

#: The run's clock (``--clock``): simulated time follows the wall clock, or advances in
#: lock-step windows of one coupling delay (docs/lockstep.md).
CLOCKS = ("realtime", "lockstep")


class _Preempted:
    """What a preempted alarm rings with: the wait ended without the alarm being due."""

    def __repr__(self) -> str:
        return "PREEMPTED"


PREEMPTED = _Preempted()


class Clock(Protocol):
    """What agents wait through: one alarm slot per key, simulated time, a barrier.

    An alarm is a future that resolves with the sim time it was due (or with
    :data:`PREEMPTED`, or with ``None`` once stopped). A clock is *parked* until
    :meth:`start`: alarms set before it are recorded and ring only after it. It is not
    a scheduler of arbitrary callbacks and knows nothing about agents or quotas.
    """

    #: The Cascade scheduler whose runs await the alarms (None: asyncio futures).
    scheduler: Scheduler | None

    def now(self) -> float:
        """Simulated time (seconds since the start barrier)."""
        ...

    def alarm(self, key: int, due: float) -> asyncio.Future[Any]:
        """Set key's alarm: a future resolving with ``due`` once sim time reaches it."""
        ...

    def pending(self, key: int) -> bool:
        """Is key's alarm set and not yet rung?"""
        ...

    def move(self, key: int, due: float, now: float) -> None:
        """Re-time key's pending alarm; ``due <= now`` rings it at once with ``now``."""
        ...

    def preempt(self, n: int) -> int:
        """Ring up to ``n`` pending alarms with :data:`PREEMPTED`; returns how many."""
        ...

    def parked(self) -> int:
        """Alarms set and waiting for :meth:`start` (0 once started)."""
        ...

    def start(self, t0: float) -> None:
        """Open the barrier: sim time 0 is host monotonic time ``t0``."""
        ...

    def stop_all(self) -> int:
        """Ring every pending alarm, and every later one, with ``None``; returns how
        many were pending."""
        ...


class _AlarmSlots:
    """What both clocks share: one alarm slot per key (a future, or None), an
    :class:`~shared.alarm_queue.AlarmQueue` of ``(due, key, version)`` entries where
    only a key's newest version counts (compacted when stale ones pile up), the
    parked/started/stopped states, and ringing: at once (:meth:`move` to a due that
    has passed), by preemption, or to stop. How time moves and when due alarms ring
    is each clock's own business (``_push`` and the clock's ring loop)."""

    def __init__(self, n_keys: int, new_future: Callable[[], Any],
                 scheduler: Scheduler | None) -> None:
        self.scheduler = scheduler
        self._new_future = scheduler.wakeup if scheduler is not None else new_future
        self._futures: list[asyncio.Future[Any] | None] = [None] * n_keys
        self._version = [0] * n_keys
        self._queue = AlarmQueue(self._version, self._futures)
        self._live = 0  # alarms pending
        self.stopped = False
        self.started = False

    def parked(self) -> int:
        """Alarms waiting for :meth:`start` (0 once started)."""
        return self._live if not self.started else 0

    def alarm(self, key: int, due: float) -> asyncio.Future[Any]:
        """A future resolving with ``due`` once sim time reaches ``due`` (with None at
        once after :meth:`stop_all`)."""
        fut = self._new_future()
        if self.stopped:
            fut.set_result(None)
            return fut
        if self._futures[key] is None:
            self._live += 1
        self._futures[key] = fut
        self._push(key, due)
        return fut

    def pending(self, key: int) -> bool:
        return self._futures[key] is not None

    def move(self, key: int, due: float, now: float) -> None:
        """Re-time a pending alarm; one that is due by ``now`` rings at once with
        ``now`` (never before the signal that moved it)."""
        if due <= now:
            self._ring_now(key, now)
            return
        self._push(key, due)

    def _push(self, key: int, due: float) -> None:
        version = self._version[key] + 1
        self._version[key] = version
        queue = self._queue
        queue.push(due, key, version)
        if queue.held > 4 * self._live + 1024:
            queue.compact()  # amortised O(1): stale entries never outnumber 3x the live

    def _ring_now(self, key: int, value: Any) -> bool:
        """Resolve key's pending alarm with ``value`` now; False when none was pending."""
        fut = self._futures[key]
        if fut is None:
            return False
        self._futures[key] = None
        self._live -= 1
        self._version[key] += 1
        if fut.done():
            return False
        fut.set_result(value)
        return True

    def preempt(self, n: int) -> int:
        """Ring up to ``n`` pending alarms with :data:`PREEMPTED`, lowest key first
        (their agents give their quota slots back). Returns how many."""
        done = 0
        for key in range(len(self._futures)):
            if done >= n:
                break
            done += self._ring_now(key, PREEMPTED)
        return done

    def stop_all(self) -> int:
        """Ring every pending alarm with ``None`` (meaning: stop), and every alarm set
        from now on. Returns how many were pending."""
        self.stopped = True
        n = 0
        for key in range(len(self._futures)):
            n += self._ring_now(key, None)
        self._queue.clear()
        return n


class RealTimeClock(_AlarmSlots):
    """Alarms on the event loop's clock; sim time = loop.time() - t0.

    The clock keeps its own queue of ``(due, key, version)`` entries and holds ONE
    event loop timer, for the earliest due. Moving an alarm pushes a new entry and
    bumps the key's version; stale entries are skipped when they surface and compacted
    away when they pile up. Measured at 50,000 agents per worker, one asyncio ``TimerHandle``
    per agent (cancel + ``call_at`` on every nudge) spent about a third of the
    worker's time in the loop's timer heap, whose comparisons run in Python.

    Before :meth:`start` the clock is parked: alarms are recorded but nothing is
    scheduled, so agents can take their first step (and wait) before the start
    barrier opens.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, n_keys: int, t0: float | None = None,
                 *, scheduler: Scheduler | None = None) -> None:
        super().__init__(n_keys, loop.create_future, scheduler)
        self.loop = loop
        self._time = loop.time
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = float("inf")
        self.t0 = 0.0
        if t0 is not None:
            self.start(t0)

    def start(self, t0: float) -> None:
        """Open the barrier: sim time 0 is monotonic time ``t0``; parked alarms are
        scheduled now."""
        if self.started:
            raise RuntimeError("clock already started")
        self.t0 = t0
        self.started = True
        self._arm()

    def now(self) -> float:
        return self._time() - self.t0

    def _push(self, key: int, due: float) -> None:
        super()._push(key, due)
        if due < self._timer_due and self.started:
            self._arm()

    def _arm(self) -> None:
        """Point the loop timer at the earliest live due."""
        first = self._queue.first()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if first is not None:
            self._timer_due = first[0]
            self._timer = self.loop.call_at(self._timer_due + self.t0, self._ring)
        else:
            self._timer_due = float("inf")

    def _ring(self) -> None:
        """Ring every alarm due by now, in due order; never one that is not yet due
        (loops with coarse timers, like uvloop's, may call us early: we re-arm)."""
        self._timer = None
        self._timer_due = float("inf")
        now = self._time() - self.t0
        queue = self._queue
        first, pop = queue.first, queue.pop
        ring = self._ring_now
        while True:
            entry = first()
            if entry is None or entry[0] > now:
                break
            pop()
            ring(entry[1], entry[0])
        self._arm()

    def stop_all(self) -> int:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return super().stop_all()


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
        scheduler's ready runs; the event loop turns only if some still have not)."""
        for _ in range(100_000):
            if self.scheduler is not None:
                self._drain()
            if not self._rung:
                return
            await asyncio.sleep(0)
        raise RuntimeError(f"agents {sorted(self._rung)[:5]} were rung and never waited "
                           f"again (did their tasks fail?)")

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
#: The most scheduler steps one drain may take before it calls the runs broken.
_DRAIN_STEPS = 10_000_000
