"""The Kuramoto order parameter R and time-to-sync, composed across shards.

Each shard sends its partial sum Z_s = Σ exp(iθ_j) (θ_j = 2π φ_j / P) and its count
N_s; the whole grid's R = |Σ Z_s| / Σ N_s. Exact, because the sum is linear.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

__all__ = ["partial_order", "combine_order", "SyncTracker", "SYNC_THRESHOLD"]

SYNC_THRESHOLD = 0.9


def partial_order(phases: np.ndarray, period: float) -> tuple[float, float]:
    """(Re, Im) of Σ exp(2πi φ/P) over ``phases`` (seconds)."""
    theta = phases * (2.0 * math.pi / period)
    return float(np.cos(theta).sum()), float(np.sin(theta).sum())


def combine_order(parts: Iterable[tuple[float, float, int]]) -> float:
    """R from (Re Z_s, Im Z_s, N_s) of every shard."""
    re = im = 0.0
    n = 0
    for zr, zi, count in parts:
        re += zr
        im += zi
        n += count
    return math.hypot(re, im) / n if n else 0.0


class SyncTracker:
    """Finds T_R: the first time R >= threshold has held for a full period."""

    def __init__(self, period: float, threshold: float = SYNC_THRESHOLD) -> None:
        self.period = period
        self.threshold = threshold
        self._since: float | None = None
        self.time_to_sync: float | None = None
        self.r_max = 0.0

    def observe(self, t: float, r: float) -> None:
        self.r_max = max(self.r_max, r)
        if self.time_to_sync is not None:
            return
        if r >= self.threshold:
            if self._since is None:
                self._since = t
            elif t - self._since >= self.period:
                self.time_to_sync = self._since
        else:
            self._since = None
