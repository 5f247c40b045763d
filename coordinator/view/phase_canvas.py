"""The phase picture: every shown agent coloured by its phase, and what changed.

The workers sample phases on a *lattice*: the first cell of each of `cols` × `rows`
equal blocks of the grid (`geometry.first_cells`), where cols × rows are the view's
logical pixels when the run started, so a worker never sends more samples than the
view has pixels. Shard k sends its own lattice points, row by row, one byte each:
``floor(256 · φ / P)`` (every byte is a phase; a message is checked by its length).

An agent's phase grows at one second per second, so a sample at time t says when the
agent's phase was 0: its *epoch* ``t − φ``, and the phase at any later moment is
``(now − epoch) mod P`` until a neighbour's flash nudges it or the agent flashes.
Between samples (a few a second) the flashes of the telemetry frames keep the picture
current: a sampled agent that flashed at t has phase 0 at t. Whichever is newer, a
sample or a flash, sets the epoch. A sample that nothing refreshed for `stale_s`
seconds behind the newest (a stalled or lost worker) shows as unknown (dim).

Each logical pixel shows one lattice point: its own (the lattice *is* the pixels as
long as the terminal keeps its size), or after a resize the one whose block holds the
pixel's first cell (a lattice point stands for the cells up to the next one). Hues: phase 0 .. P in `hues` equal steps. Glyph keys are
``top * codes + bottom`` with codes 0 (no pixel), 1..hues, ``hues + 1`` (unknown:
dim), ``hues + 2`` (a shard border, see `geometry.py`). Everything per frame is a
few numpy operations over the picture's character cells.

What it is not: a receiver. The samples it is given are checked for length here
(ValueError), and for everything else by the telemetry stream before.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np

from coordinator.view.geometry import BORDER, Rect, ScreenMap, first_cells

__all__ = ["PHASE_STEPS", "STALE_S", "PhaseCanvas"]

PHASE_STEPS = 256
"""A sample's byte is floor(PHASE_STEPS · φ / P) (worker/phases.py writes it)."""

STALE_S = 1.0
"""A sample older than this behind the newest one shows as unknown."""


class PhaseCanvas:
    """Sampled phases of a `grid_w`×`grid_h` grid on the lattice `lattice` (cols,
    rows); `shards` are the shard rectangles, in shard order (whose samples each
    message carries)."""

    def __init__(self, grid_w: int, grid_h: int, period: float, *, lattice: tuple[int, int],
                 shards: Sequence[Rect], hues: int, stale_s: float = STALE_S) -> None:
        cols, rows = lattice
        if not (1 <= cols <= grid_w and 1 <= rows <= grid_h):
            raise ValueError(f"lattice (={lattice}) must be within 1x1 .. {grid_w}x{grid_h}")
        if hues < 2:
            raise ValueError(f"hues (={hues}) must be >= 2")
        self.grid_w, self.grid_h, self.period = grid_w, grid_h, float(period)
        self.lattice = (cols, rows)
        self.hues = hues
        self.codes = hues + 3
        self.stale_s = stale_s
        self._xs, self._ys = first_cells(grid_w, cols), first_cells(grid_h, rows)
        self._col_sample = _sample_of(self._xs, grid_w)
        self._row_sample = _sample_of(self._ys, grid_h)
        self._shard_samples = [self._samples_in(rect) for rect in shards]
        n = cols * rows
        self._epoch = np.zeros(n)
        self._stamp = np.full(n, -math.inf)
        self._newest = -math.inf

    def samples(self, shard: int) -> int:
        """How many phases a message of shard `shard` carries."""
        return len(self._shard_samples[shard])

    # -- input ------------------------------------------------------------------

    def check(self, shard: int, t: float, data: bytes) -> None:
        """Raise ValueError unless `data` could be shard `shard`'s samples at `t`."""
        expected = len(self._shard_samples[shard])
        if len(data) != expected:
            raise ValueError(f"{len(data)} phases from shard {shard}, its lattice has {expected}")
        if not math.isfinite(t):
            raise ValueError(f"phase time (={t}) must be a finite number")

    def on_phases(self, shard: int, t: float, data: bytes) -> None:
        """Shard `shard`'s samples at simulation time `t` (ValueError: see `check`)."""
        self.check(shard, t, data)
        idx = self._shard_samples[shard]
        phase = (np.frombuffer(data, dtype=np.uint8) + 0.5) * (self.period / PHASE_STEPS)
        newer = self._stamp[idx] <= t
        chosen = idx[newer]
        self._epoch[chosen] = t - phase[newer]
        self._stamp[chosen] = t
        self._newest = max(self._newest, t)

    def on_flashes(self, cells: np.ndarray, t: float) -> None:
        """Cells (global ids, checked by the flash canvas) flashed at `t`: phase 0 then."""
        x, y = cells % self.grid_w, cells // self.grid_w
        ix, iy = self._col_sample[x], self._row_sample[y]
        on = (ix >= 0) & (iy >= 0)
        s = iy[on] * self.lattice[0] + ix[on]
        s = s[self._stamp[s] < t]
        self._epoch[s] = t
        self._stamp[s] = t

    # -- output -----------------------------------------------------------------

    def set_screen(self, screen: ScreenMap) -> None:
        """Lay out for `screen` (a new size or borders); every cell is written next frame."""
        geo = screen.geometry
        cols = self.lattice[0]
        ix = np.array([bisect.bisect_right(self._xs, x) - 1 for x in first_cells(geo.grid_w, geo.pix_w)])
        iy = np.array([bisect.bisect_right(self._ys, y) - 1 for y in first_cells(geo.grid_h, geo.pix_h)])
        self._pixel_sample = np.append((iy[:, None] * cols + ix[None, :]).ravel(), 0)
        self._top = np.array(screen.top)
        self._bottom = np.array(screen.bottom)
        self._top_border = np.array(screen.top_under) == BORDER
        self._bottom_border = np.array(screen.bottom_under) == BORDER
        self._shown = np.full(geo.chars, -1)
        self._screen_w = geo.screen_w

    def invalidate(self) -> None:
        """Forget what the screen shows: every cell is written next frame."""
        self._shown[:] = -1

    def changes(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """(char cell indices, glyph keys) of the cells whose key changed, in screen order."""
        s = self._pixel_sample
        hue = 1 + (np.mod(now - self._epoch[s], self.period) * (self.hues / self.period)).astype(np.int64)
        np.minimum(hue, self.hues, out=hue)
        stamp = self._stamp[s]
        hue[~np.isfinite(stamp) | (stamp < self._newest - self.stale_s)] = self.hues + 1
        hue[-1] = 0  # the sentinel: no pixel
        border = self.hues + 2
        top = hue[self._top]
        top[self._top_border] = border
        bottom = hue[self._bottom]
        bottom[self._bottom_border] = border
        key = top * self.codes + bottom
        changed = np.flatnonzero(key != self._shown)
        self._shown[changed] = key[changed]
        return changed, key[changed]

    def key(self, col: int, row: int) -> int:
        """The glyph key the screen shows at character (col, row) after `changes`."""
        return int(self._shown[row * self._screen_w + col])

    # -- helpers ----------------------------------------------------------------

    def _samples_in(self, rect: Rect) -> np.ndarray:
        """Global sample indices of the lattice points inside `rect`, row by row."""
        x0, y0, w, h = rect
        ixs = [i for i, x in enumerate(self._xs) if x0 <= x < x0 + w]
        iys = [i for i, y in enumerate(self._ys) if y0 <= y < y0 + h]
        return (np.array(iys, dtype=np.int64)[:, None] * self.lattice[0]
                + np.array(ixs, dtype=np.int64)[None, :]).ravel()


def _sample_of(firsts: list[int], cells: int) -> np.ndarray:
    """Per cell along one axis: the index of its lattice line, or -1 if it has none."""
    out = np.full(cells, -1, dtype=np.int64)
    out[firsts] = np.arange(len(firsts))
    return out
