"""Synchrony of the whole grid: the Kuramoto order parameter R and time to sync.

R = |Σ_j exp(iθ_j)| / N with θ_j = 2π φ_j / P. Each shard sends its partial sum
Z_s = Σ exp(iθ_j) over its own agents and its count N_s; the whole grid's
R = |Σ Z_s| / Σ N_s. Exact, because the sum is linear.

Time to sync T_R is the first time from which R >= :data:`SYNC_THRESHOLD` held at
every observation for a full period (docs/design.md, §4). The rule lives here once:
:class:`SyncTracker` applies it online (the coordinator, the model explorer) and
:func:`time_to_sync` to a finished series (the log readers); both call
:func:`held_long_enough`, so they agree to the last float.

Not here: how R reaches the coordinator (worker frames) or where it is logged
(``shared.runlog``).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

__all__ = ["partial_order", "PartialOrder", "combine_order", "SyncTracker", "SYNC_THRESHOLD", "time_to_sync",
           "held_long_enough"]

SYNC_THRESHOLD = 0.9
_TOLERANCE = 1e-9  # float slack on "a full period": frame times are sums of 1/fps


def partial_order(phases: np.ndarray, period: float) -> tuple[float, float]:
    """(Re, Im) of Σ exp(2πi φ/P) over ``phases`` (seconds)."""
    theta = phases * (2.0 * math.pi / period)
    return float(np.cos(theta).sum()), float(np.sin(theta).sum())


class PartialOrder:
    """One shard's Z_s at any time, from its agents' epochs, at a cost proportional to
    how many epochs changed since the last call.

    An agent's phase at t is (t - epoch) mod P, and the mod drops out of
    exp(2πi φ/P): Z_s(t) = exp(2πi t/P) · Σ_j exp(-2πi epoch_j/P). The sum is kept,
    and on each call only the cells whose epoch changed are recomputed (found by
    comparing with the epochs of the last call: one vectorised pass, no bookkeeping on
    the agents' hot path). Every ``refresh`` calls the sum is recomputed whole, so
    rounding cannot drift. Equal to :func:`partial_order` of the phases to ~1e-9.

    ``epochs`` is read, never written (a live view of the shard's epoch array).
    """

    def __init__(self, epochs: np.ndarray, period: float, *, refresh: int = 30) -> None:
        if refresh < 1:
            raise ValueError(f"refresh(={refresh!r}) must be >= 1")
        self.epochs = epochs
        self.k = 2.0 * math.pi / period
        self.refresh = refresh
        self._calls = 0
        self._seen = epochs.copy()
        self._cos = np.cos(self.k * epochs)
        self._sin = np.sin(self.k * epochs)
        self._a, self._b = float(self._cos.sum()), float(self._sin.sum())

    def at(self, t: float) -> tuple[float, float]:
        """(Re, Im) of Z_s at sim time ``t``."""
        self._calls += 1
        epochs, k = self.epochs, self.k
        if self._calls % self.refresh == 0:
            self._seen[:] = epochs
            np.cos(k * epochs, out=self._cos)
            np.sin(k * epochs, out=self._sin)
            self._a, self._b = float(self._cos.sum()), float(self._sin.sum())
        else:
            changed = np.flatnonzero(epochs != self._seen)
            if len(changed):
                now = epochs[changed]
                self._seen[changed] = now
                cos, sin = np.cos(k * now), np.sin(k * now)
                self._a += float(cos.sum() - self._cos[changed].sum())
                self._b += float(sin.sum() - self._sin[changed].sum())
                self._cos[changed] = cos
                self._sin[changed] = sin
        # Σ exp(-i k ε) = A - iB, turned by exp(i k t)
        c, s = math.cos(k * t), math.sin(k * t)
        a, b = self._a, self._b
        return a * c + b * s, a * s - b * c


def combine_order(parts: Iterable[tuple[float, float, int]]) -> float:
    """R from (Re Z_s, Im Z_s, N_s) of every shard."""
    re = im = 0.0
    n = 0
    for zr, zi, count in parts:
        re += zr
        im += zi
        n += count
    return math.hypot(re, im) / n if n else 0.0


def held_long_enough(since: float, t: float, period: float) -> bool:
    """Has a condition that holds since ``since`` held for a full period at ``t``?"""
    return t - since >= period - _TOLERANCE


class SyncTracker:
    """Finds T_R online, one (t, R) observation at a time, and the largest R seen."""

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
        if r < self.threshold:
            self._since = None
            return
        if self._since is None:
            self._since = t
        if held_long_enough(self._since, t, self.period):
            self.time_to_sync = self._since


def time_to_sync(points: Sequence[tuple[float, float]], period: float,
                 threshold: float = SYNC_THRESHOLD) -> float | None:
    """T_R of a finished series of (t, R) points sorted by t, or None when R never
    held at or above ``threshold`` for a full period."""
    tracker = SyncTracker(period, threshold)
    for t, r in points:
        tracker.observe(t, r)
        if tracker.time_to_sync is not None:
            return tracker.time_to_sync
    return None
