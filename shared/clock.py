"""Clocks that agents wait through: real time or deterministic lock-step.

An agent never calls asyncio timers itself. It asks the clock for an *alarm*: a
future that resolves with the simulated time at which the alarm was due. A signal
from a neighbour *moves* a pending alarm (earlier, when nudged) or rings it at once,
without waking the agent's coroutine: the cheapest way to deliver a nudge.

* :class:`RealTimeClock`: simulated time is the event loop's monotonic time minus
  ``t0`` (the start barrier). On Linux that clock is shared by all processes of the
  host, so times in messages between shards are comparable.
* :class:`~shared.lockstep_clock.LockstepClock` (its own module): simulated time only
  moves when a test or driver calls ``advance``; alarms ring in (time, key) order.

Both keep one alarm slot per key (agent index 0..n-1) and implement :class:`Clock`,
the interface agents, frame loops and the worker are typed with. Built with a Cascade
:class:`~shared.cascade.Scheduler`, an alarm is that scheduler's cheap ``Wakeup``
(only the scheduler's runs may await it: the shard's agents); without one it is an
asyncio Future any task may await. Not here: what an
alarm means to an agent (``worker.agents``) or who preempts (``worker.quota``).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Protocol

from .alarm_queue import AlarmQueue
from .cascade import Scheduler

__all__ = ["Clock", "RealTimeClock", "PREEMPTED", "CLOCKS"]

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
