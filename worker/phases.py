"""Phase samples for the coordinator's live view (its phase view).

When the coordinator shows the live view it asks each worker (``ShardConfig``
``phase_cols`` × ``phase_rows``, both 0 otherwise) for the phases of a *lattice* of
cells: the first cell of each of cols × rows equal blocks of the grid, i.e. one
agent per pixel of the view, never more. :class:`PhaseSampler` picks this shard's
lattice points once (row by row, as the coordinator expects them) and, every
:data:`PHASE_INTERVAL_S` of simulated time, reads their phases off the agents'
epoch array: one byte each, ``floor(256 · φ / P)``. The frame loop sends them as a
``phases`` message right after the frame of that moment (docs/protocol.md).

Cost: one gather and a few vectorised operations over at most the shard's share of
the view's pixels (docs/view.md, "Phase data path", has the measurements). Not
here: sending (``frames``), the lattice's other half (``coordinator.view.phase_canvas``).
"""

from __future__ import annotations

import numpy as np

from shared.shard_config import ShardConfig

from .agents import ShardAgents

__all__ = ["PHASE_INTERVAL_S", "PHASE_STEPS", "PhaseSampler", "first_cells", "phase_sampler"]

PHASE_INTERVAL_S = 0.1
"""Simulated seconds between two samples of a shard (10 a second in real time)."""

PHASE_STEPS = 256
"""A phase travels as floor(PHASE_STEPS · φ / P), one byte."""


def first_cells(cells: int, pixels: int) -> list[int]:
    """The first cell of each of `pixels` equal blocks of `cells`: the smallest x with
    ``x * pixels // cells == p`` (the view's own rule, coordinator/view/geometry.py)."""
    return [(p * cells + pixels - 1) // pixels for p in range(pixels)]


class PhaseSampler:
    """The phases of the local agents `picks` (indices into `epochs`), sampled every
    `interval` seconds of simulated time from `start` on."""

    def __init__(self, epochs: np.ndarray, period: float, picks: np.ndarray, *,
                 interval: float = PHASE_INTERVAL_S, start: float = 0.0) -> None:
        self.epochs = epochs
        self.period = float(period)
        self.picks = picks
        self.interval = interval
        self._next = start
        self._scale = PHASE_STEPS / self.period

    def __len__(self) -> int:
        return len(self.picks)

    def due(self, now: float) -> bool:
        """Is a sample due at `now`? A True books it (the next is one interval on, or
        one interval after `now` when the loop fell behind)."""
        if now < self._next:
            return False
        self._next += self.interval
        if self._next <= now:
            self._next = now + self.interval
        return True

    def sample(self, now: float) -> bytes:
        """The picked agents' phases at `now`, one byte each, in lattice order."""
        x = self.epochs[self.picks]  # a copy: the gather
        np.subtract(now, x, out=x)
        x *= self._scale
        np.mod(x, PHASE_STEPS, out=x)
        np.minimum(x, PHASE_STEPS - 1, out=x)  # mod may round up to PHASE_STEPS itself
        return x.astype(np.uint8).tobytes()


def phase_sampler(config: ShardConfig, agents: ShardAgents) -> PhaseSampler | None:
    """The sampler a worker with ``config`` runs for its ``agents``; None when the
    coordinator asked for no phases (no live view) or no lattice cell is this shard's
    (the coordinator then expects none: ``phase_samples`` is 0)."""
    cols, rows = config.phase_cols, config.phase_rows
    if not (cols and rows):
        return None
    width, height = config.grid
    shard = agents.layout.shard
    local = agents.layout.local_index
    xs = [x for x in first_cells(width, cols) if shard.x0 <= x < shard.x0 + shard.width]
    ys = [y for y in first_cells(height, rows) if shard.y0 <= y < shard.y0 + shard.height]
    picks = np.array([local[y * width + x] for y in ys for x in xs], dtype=np.int64)
    if not len(picks):  # no lattice point in this shard: nothing to send
        return None
    return PhaseSampler(agents.epoch_view, agents.period, picks)
