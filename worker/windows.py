"""The lock-step window loop: the shard's time advances one coupling delay at a time.

Window w covers simulated time up to (w + 1) * delay. The loop runs the shard's clock
to the window's end (every event up to and including it, in the clock's canonical
order), sends the window's boundary flashes on every link (one batch per link, empty
or not: the batch is also the barrier), then waits for every neighbour's batch of the
same window before the next. Frames and shard log lines are due in simulated time,
as in real time; each line also says its real-time factor (``rtf``) and, as
histograms, how long its windows ran (``window_ms``) and waited at the barrier
(``barrier_wait_ms``), in wall milliseconds. Having reached
``duration`` it keeps sending a frame every quarter second (so the coordinator hears
it is alive) until told to stop. Why this is exact: docs/lockstep.md.

Not here: the real-time frame loop (``frames``), the clock (``shared.clock``).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Callable

from shared.lockstep_clock import LockstepClock
from shared.histogram import Histogram
from shared.limits import IDLE_FRAME_S

from .frames import FrameLoop
from .inbox import EdgeInbox
from .outbox import EdgeOutbox

__all__ = ["WindowLoop"]


class WindowLoop:
    """Runs the lock-step windows until ``duration``, then idles until ``stop``."""

    def __init__(self, clock: LockstepClock, frames: FrameLoop, outbox: EdgeOutbox,
                 inbox: EdgeInbox, *, delay: float, duration: float,
                 checkpoint_every: float = 0.0,
                 checkpoint: Callable[[int, float], None] | None = None) -> None:
        self.clock = clock
        self.frames = frames
        self.outbox = outbox
        self.inbox = inbox
        self.delay = delay
        self.duration = duration
        self.windows = math.ceil(duration / delay - 1e-9)
        # A resumed run starts at a window's end: the same (w + 1) * delay as before.
        self.first = round(clock.now() / delay)
        # ``checkpoint(window, end)`` saves the state at the end of ``window``, the first
        # window end at or past each multiple of ``checkpoint_every``.
        self.checkpoint_every = checkpoint_every
        self.checkpoint = checkpoint
        self._last_report = (clock.now(), time.monotonic())
        self._frames_since = 0  # frames sent since the last report
        # Wall time per window: running its events, and waiting at its barrier (ms).
        self.window_ms = Histogram()
        self.barrier_wait_ms = Histogram()

    async def run(self, stop: asyncio.Event) -> None:
        frames, clock = self.frames, self.clock
        fps, interval = frames.fps, frames.report_interval
        start = clock.now()
        frame = math.floor(start * fps + 1e-9) + 1
        next_report = (math.floor(start / interval + 1e-9) + 1) * interval
        every = self.checkpoint_every
        next_checkpoint = (math.floor(start / every + 1e-9) + 1) * every if every else math.inf
        for w in range(self.first, self.windows):
            if stop.is_set():
                return
            end = min((w + 1) * self.delay, self.duration)  # never summed: no drift
            began = time.perf_counter()
            await clock.advance(end)
            self.outbox.flush(window=True)
            ran = time.perf_counter()
            await self._barrier(w + 1 - self.first, stop)
            if stop.is_set():  # the barrier may not have completed: nothing more to save
                return
            self.window_ms.record((ran - began) * 1000.0)
            self.barrier_wait_ms.record((time.perf_counter() - ran) * 1000.0)
            if end >= next_checkpoint - 1e-12 and end < self.duration and self.checkpoint:
                self.checkpoint(w, end)
                next_checkpoint = (math.floor(end / every + 1e-9) + 1) * every
            while frame / fps <= end + 1e-12:
                frames.send_frame(frame, end)
                frames.metrics.frames += 1
                self._frames_since += 1
                frame += 1
            if end >= next_report - 1e-12 and end < self.duration:
                self.report(end)
                next_report += interval
        while not stop.is_set():  # done: say so by frames until the coordinator stops us
            frames.send_frame(frame, clock.now())
            frame += 1
            try:
                await asyncio.wait_for(stop.wait(), IDLE_FRAME_S)
            except asyncio.TimeoutError:
                pass

    async def _barrier(self, window: int, stop: asyncio.Event) -> None:
        """Wait for every neighbour's batch ``window``; a stop ends the wait."""
        arrived = asyncio.ensure_future(self.inbox.window(window))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({arrived, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not arrived.done():
                arrived.cancel()
        if arrived.done() and not arrived.cancelled():
            arrived.result()  # a broken link raises here

    def report(self, now: float) -> None:
        """A shard log line at sim time ``now``: its ``fps`` counts frames per
        simulated second (as in real time, where the two clocks agree), ``rtf`` says
        how fast simulated time went by the wall clock."""
        t_prev, wall_prev = self._last_report
        wall = time.monotonic()
        sim = max(now - t_prev, 1e-9)
        rtf = sim / max(wall - wall_prev, 1e-9)
        fps = self._frames_since / sim
        self._last_report, self._frames_since = (now, wall), 0
        windows = {"window_ms": self.window_ms.to_dict(),
                   "barrier_wait_ms": self.barrier_wait_ms.to_dict()}
        self.window_ms, self.barrier_wait_ms = Histogram(), Histogram()
        self.frames.report(now, more={"rtf": round(rtf, 3), "fps": round(fps, 2), **windows})
