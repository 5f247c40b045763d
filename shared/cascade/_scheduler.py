"""The VM's scheduler: many long-lived runs stepped inside ONE asyncio task.

An agent that waits for its alarm a hundred thousand times does not need an asyncio
Task, a Future, a done-callback and a loop ``Handle`` per wait. A :class:`Scheduler`
steps each run's coroutine itself (``coro.send``), as trio's and curio's kernels do:
when a run awaits a :class:`Wakeup` it is parked on it, and ``Wakeup.set_result``
puts it on the scheduler's ready queue; the scheduler's one asyncio task drains that
queue. asyncio sees one task per scheduler, however many runs it holds.

What a run may await:

* a :class:`Wakeup` (``Scheduler.wakeup()``): the cheap path, one object per wait;
* anything asyncio offers (a Future, ``asyncio.sleep``, an Event, a lock): the run is
  resumed from the future's done-callback, as an asyncio Task would be;
* a bare ``yield`` (``asyncio.sleep(0)``, the VM's ``yield_every``): the run goes to
  the back of the ready queue (the scheduler's task gives the event loop a turn at
  least every ``slice_s``, 2 ms by default).

:meth:`Scheduler.run_ready` steps the ready runs synchronously, for a driver that must
let woken runs act before it goes on (``shared.lockstep_clock.LockstepClock``). Not here: what
a run computes (the VM) or when a Wakeup rings (the clock that made it). The
scheduler does not cancel runs; :meth:`Scheduler.close` closes the ones still alive.
"""

from __future__ import annotations

import asyncio
import logging
import time
import types
from collections import deque
from typing import Any, Coroutine

__all__ = ["Scheduler", "Wakeup", "Run"]

log = logging.getLogger(__name__)

#: The scheduler's task looks at the time every this many steps (see ``slice_s``).
_CHECK_EVERY = 32


@types.coroutine
def _one_loop_turn() -> Any:
    yield


class Wakeup:
    """A one-shot awaitable a :class:`Scheduler` run parks on; much cheaper than an
    asyncio Future. It quacks like one where the clocks need it (``done``,
    ``set_result``, ``result``) but has no callbacks, cancellation or loop. Only a run
    of the scheduler that made it may await it (an asyncio Task would refuse it)."""

    __slots__ = ("_scheduler", "_done", "_value", "_waiter")

    def __init__(self, scheduler: "Scheduler") -> None:
        self._scheduler = scheduler
        self._done = False
        self._value: Any = None
        self._waiter: Run | None = None

    def done(self) -> bool:
        return self._done

    def result(self) -> Any:
        if not self._done:
            raise asyncio.InvalidStateError("Wakeup has not rung yet")
        return self._value

    def set_result(self, value: Any) -> None:
        """Ring: the parked run (if any) is made ready to resume with ``value``."""
        if self._done:
            raise asyncio.InvalidStateError("Wakeup has already rung")
        self._done = True
        self._value = value
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            self._scheduler._ready_append(waiter)
            self._scheduler._kick()

    # A Wakeup is its own iterator, as asyncio's C Future is: ``await`` needs no
    # generator object per wait (184 bytes per parked agent).
    def __await__(self) -> "Wakeup":
        return self

    def __next__(self) -> "Wakeup":
        if self._done:
            raise StopIteration(self._value)
        return self  # yielded to the scheduler, which parks the run on us

    def send(self, _: Any) -> "Wakeup":
        return self.__next__()


class Run:
    """One run held by a :class:`Scheduler`: its coroutine and, once it ends, its
    result or exception. Await :meth:`Scheduler.join` (or poll :meth:`done`)."""

    __slots__ = ("coro", "_outcome", "_failed", "_done")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self._outcome: Any = None
        self._failed = False
        self._done = False

    def done(self) -> bool:
        return self._done

    def outcome(self) -> Any:
        """The run's return value, or the exception it ended with."""
        if not self._done:
            raise asyncio.InvalidStateError("the run has not ended")
        return self._outcome

    def result(self) -> Any:
        """The run's return value; raises the exception it ended with."""
        outcome = self.outcome()
        if self._failed:
            raise outcome
        return outcome


class Scheduler:
    """Steps many runs (coroutines) inside one asyncio task; see the module doc.

    ``slice_s``: the most time the scheduler's task steps runs before it gives the
    event loop a turn, so sockets, timers and frames are served during a burst of
    ready runs (checked every ``_CHECK_EVERY`` steps).
    """

    def __init__(self, *, slice_s: float = 0.002) -> None:
        if not slice_s > 0:
            raise ValueError(f"slice_s(={slice_s!r}) must be > 0 seconds")
        self.slice_s = slice_s
        self._ready: deque[Run] = deque()
        self._ready_append = self._ready.append
        self._live: list[Run] = []  # every run spawned; ended ones are dropped in bulk
        self._alive = 0
        self._task: asyncio.Task[None] | None = None
        self._idle: asyncio.Future[None] | None = None  # set while the task sleeps
        self._joined: list[asyncio.Future[None]] = []
        self._closed = False
        self._outside = 0  # runs parked on asyncio awaitables

    # -- making runs and wakeups ------------------------------------------------------
    def wakeup(self) -> Wakeup:
        """A new :class:`Wakeup` for one wait of one of this scheduler's runs."""
        return Wakeup(self)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> Run:
        """Hold ``coro`` as a new run; it takes its first step when the scheduler next
        runs (on the event loop, or in :meth:`run_ready`)."""
        if self._closed:
            coro.close()
            raise RuntimeError("the scheduler is closed")
        run = Run(coro)
        live = self._live
        if len(live) > 2 * self._alive + 1024:
            live[:] = [r for r in live if not r._done]
        live.append(run)
        self._alive += 1
        self._ready_append(run)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._main(),
                                                                name="cascade-scheduler")
        self._kick()
        return run

    @property
    def alive(self) -> int:
        """Runs not ended yet."""
        return self._alive

    @property
    def outside(self) -> int:
        """Runs parked on an asyncio awaitable (resumed only after event loop turns)."""
        return self._outside

    @property
    def ready(self) -> int:
        """Runs ready to take a step."""
        return len(self._ready)

    # -- stepping ---------------------------------------------------------------------
    def run_ready(self, limit: int | None = None) -> int:
        """Step ready runs now, in order, including runs made ready meanwhile, until
        none is ready (or ``limit`` steps); returns how many steps were taken."""
        ready, step = self._ready, self._step
        n = 0
        while ready and (limit is None or n < limit):
            step(ready.popleft())
            n += 1
        return n

    def _step(self, run: Run) -> None:
        if run._done:  # closed while it was ready
            return
        try:
            yielded = run.coro.send(None)
        except StopIteration as stop:
            self._end(run, stop.value, False)
        except BaseException as exc:  # noqa: BLE001 - the run's outcome, not ours
            self._end(run, exc, True)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        else:
            if type(yielded) is Wakeup:
                if yielded._scheduler is not self:
                    self._throw(run, RuntimeError("a run awaited another scheduler's Wakeup"))
                else:
                    yielded._waiter = run
            elif yielded is None:  # a bare yield: to the back of the queue
                self._ready_append(run)
            elif getattr(yielded, "_asyncio_future_blocking", None):
                yielded._asyncio_future_blocking = False
                self._outside += 1
                yielded.add_done_callback(lambda _f, run=run: self._resume(run))
            else:
                self._throw(run, RuntimeError(f"a run yielded {yielded!r}; await a Wakeup, "
                                              f"an asyncio future or sleep(0)"))

    def _throw(self, run: Run, exc: BaseException) -> None:
        try:
            run.coro.throw(exc)
        except StopIteration as stop:
            self._end(run, stop.value, False)
        except BaseException as failure:  # noqa: BLE001
            self._end(run, failure, True)
        else:  # it caught the error and yielded again: it is broken
            run.coro.close()
            self._end(run, exc, True)

    def _resume(self, run: Run) -> None:
        self._outside -= 1
        if run._done:  # closed meanwhile
            return
        self._ready_append(run)
        self._kick()

    def _end(self, run: Run, outcome: Any, failed: bool) -> None:
        run._outcome, run._failed, run._done = outcome, failed, True
        self._alive -= 1
        if not self._alive:
            self._live.clear()
            joined, self._joined = self._joined, []
            for fut in joined:
                if not fut.done():
                    fut.set_result(None)

    def _kick(self) -> None:
        idle = self._idle
        if idle is not None:
            self._idle = None
            if not idle.done():
                idle.set_result(None)

    async def _main(self) -> None:
        """The scheduler's asyncio task: drain the ready queue, a time slice per loop turn."""
        loop = asyncio.get_running_loop()
        clock = time.perf_counter
        try:
            while True:
                if self._ready:
                    end = clock() + self.slice_s
                    while self.run_ready(_CHECK_EVERY) == _CHECK_EVERY and clock() < end:
                        pass
                    if self._ready:
                        await _one_loop_turn()
                    continue
                self._idle = loop.create_future()
                await self._idle
        except asyncio.CancelledError:
            self.close()
            raise

    # -- ending -----------------------------------------------------------------------
    async def join(self) -> None:
        """Wait until every run has ended."""
        if not self._alive:
            return
        fut = asyncio.get_running_loop().create_future()
        self._joined.append(fut)
        await fut

    def close(self) -> None:
        """Close every run still alive (``GeneratorExit`` at its await) and stop the
        scheduler's task. Their outcome is ``asyncio.CancelledError``."""
        self._closed = True
        for run in list(self._live):
            if not run._done:
                try:
                    run.coro.close()
                except RuntimeError as exc:  # it awaited again while closing
                    log.error("a run ignored being closed: %r", exc)
                self._end(run, asyncio.CancelledError("the scheduler was closed"), True)
        self._ready.clear()
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
