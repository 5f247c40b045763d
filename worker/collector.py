"""The worker's garbage-collection policy: :class:`Collector`.

A shard allocates its long-lived objects (agents' state, their runs, the blueprint)
once, during set-up, and then allocates and frees short-lived ones (coroutines,
wakeups, TailCalls) with almost no reference cycles. CPython's automatic collector
would walk every long-lived object again and again for nothing: measured at 40,000
agents in one process it was a quarter of the run's CPU (docs/performance.md).

So: no automatic collection while the shard is built (:meth:`Collector.building`);
once built, one full collection and ``gc.freeze()`` of what survives
(:meth:`Collector.settle`); then automatic collection stays off and the frame loop
collects the young generation only when it has grown past ``young_limit``
(:meth:`Collector.tend`); :meth:`Collector.release` turns automatic collection back on
at shut-down. Not here: what is allocated, or when frames run.
"""

from __future__ import annotations

import gc
import time

__all__ = ["Collector"]


class Collector:
    """The GC policy of one worker (or one in-process shard, as the benchmarks run
    it). ``agents``: how many agents the shard holds (the young limit grows with it)."""

    def __init__(self, agents: int) -> None:
        self.young_limit = 200_000 + 8 * agents
        self.collect_ms = 0.0  # spent in :meth:`tend` since the last :meth:`take_ms`

    def building(self) -> None:
        """Set-up begins: no automatic collection."""
        gc.disable()

    def settle(self) -> None:
        """Set-up is over: collect once, freeze the survivors, stay disabled."""
        gc.collect()
        gc.freeze()
        gc.disable()

    def tend(self) -> None:
        """Collect the young generation if it has grown past the limit."""
        if gc.get_count()[0] > self.young_limit:
            start = time.perf_counter()
            gc.collect(0)
            self.collect_ms += (time.perf_counter() - start) * 1000.0

    def take_ms(self) -> float:
        """Milliseconds spent collecting since the last call."""
        ms, self.collect_ms = self.collect_ms, 0.0
        return ms

    def release(self) -> None:
        """Shut-down: automatic collection on again."""
        gc.enable()
