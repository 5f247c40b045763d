"""A joined worker's clock offset from the coordinator's, watched during the run.

The offset measured at join (``worker.join``) sets when the run starts on this host's
clock (``start``'s t0 is the coordinator's). Clocks of two hosts drift apart slowly, so
:class:`OffsetWatch` pings the coordinator every :data:`CLOCK_PING_S` over the control
channel and puts the figures in every shard log line (``clock``: the start's offset
and uncertainty, and ``drift_ms``, how far the newest estimate moved since). A latency
measured across two hosts is known to within the sum of both ends' uncertainty and
drift (docs/protocol.md, "Clocks"). Spawned workers share the coordinator's clock and
use none of this.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from shared.clock_sync import Offset, OffsetEstimator

from .metrics import ShardMetrics

__all__ = ["CLOCK_PING_S", "OffsetWatch"]

CLOCK_PING_S = 5.0  # a joined worker's clock offset is re-measured this often


class OffsetWatch:
    """Pings with ``ping(t)``; figures from the start's ``offset`` into ``metrics.clock``."""

    def __init__(self, offset: Offset, ping: Callable[[float], None], metrics: ShardMetrics) -> None:
        self.offset = offset
        self._ping = ping
        self._metrics = metrics
        self._estimates = OffsetEstimator()
        self._publish()

    def measured(self, sent: float, coordinator: float) -> bool:
        """A ``clock_pong`` to our ping sent at ``sent``; False if it cannot be one."""
        if not self._estimates.add(sent, coordinator, time.monotonic()):
            return False
        self._publish()
        return True

    def _publish(self) -> None:
        best = self._estimates.best()
        drift = 0.0 if best is None else (best.offset - self.offset.offset) * 1000.0
        self._metrics.clock = {**self.offset.to_dict(), "drift_ms": round(drift, 4)}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._ping(time.monotonic())
            await asyncio.sleep(CLOCK_PING_S)
