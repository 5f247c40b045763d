"""How far a worker's monotonic clock is from the coordinator's: an NTP-style estimate
with a hard bound on its error. No I/O here; the worker sends the pings (at join, and
every few seconds during the run) and feeds the replies in.

One exchange: the worker notes ``t0`` (its clock) and sends a ping; the coordinator
answers at once with its own time ``tc``; the worker notes ``t3`` on receipt. Since
``tc`` was read between ``t0`` and ``t3`` (in real time), the offset
``coordinator - worker`` lies within ``tc - (t0 + t3) / 2 ± (t3 - t0) / 2`` whatever
the two one-way delays are (assuming the clocks run at the same rate over the
exchange). :class:`OffsetEstimator` keeps the sample with the smallest round trip
among the recent ones: the tightest bound.

Workers the coordinator spawned share its host's clock (``CLOCK_MONOTONIC`` is
system-wide): their offset is exactly 0 (:data:`SAME_HOST`) and they never ping.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

__all__ = ["Offset", "OffsetEstimator", "SAME_HOST"]


@dataclass(frozen=True)
class Offset:
    """``coordinator clock - worker clock`` in seconds, within ± ``uncertainty``."""

    offset: float
    uncertainty: float

    def to_coordinator(self, t: float) -> float:
        """A worker-clock time on the coordinator's clock."""
        return t + self.offset

    def to_worker(self, t: float) -> float:
        """A coordinator-clock time (``start``'s t0, say) on the worker's clock."""
        return t - self.offset

    def to_dict(self) -> dict[str, float]:
        return {"offset_ms": round(self.offset * 1000.0, 4),
                "uncertainty_ms": round(self.uncertainty * 1000.0, 4)}


SAME_HOST = Offset(0.0, 0.0)


class OffsetEstimator:
    """The best of the last ``keep`` exchanges (smallest round trip)."""

    def __init__(self, keep: int = 16) -> None:
        if keep < 1:
            raise ValueError(f"keep={keep}: must be >= 1")
        self._samples: deque[tuple[float, float]] = deque(maxlen=keep)  # (rtt, offset)

    def add(self, sent: float, coordinator: float, received: float) -> bool:
        """One exchange: worker times ``sent`` and ``received``, coordinator time
        ``coordinator``. False (and ignored) when it cannot be a real exchange."""
        rtt = received - sent
        if not (math.isfinite(rtt) and math.isfinite(coordinator)) or rtt < 0:
            return False
        self._samples.append((rtt, coordinator - (sent + received) / 2.0))
        return True

    @property
    def samples(self) -> int:
        return len(self._samples)

    def best(self) -> Offset | None:
        """The estimate of the smallest round trip kept; None before any exchange."""
        if not self._samples:
            return None
        rtt, offset = min(self._samples)
        return Offset(offset, rtt / 2.0)
