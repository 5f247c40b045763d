"""The live view's picture: how bright each screen pixel is, and what changed.

Picture a night field of W×H fireflies seen through a window of `cols` × `rows`
character cells. Each character cell is split by a half block ('▀') into a top and a
bottom pixel, so the window holds `cols` × 2·`rows` roughly square pixels. When the
field has more fireflies than the window has pixels, one pixel covers a small
rectangle of them and shows the BRIGHTEST one. The scale is the same on both axes
(the torus keeps its shape) and the picture sits in the window's top-left corner.
A field smaller than the window is drawn one firefly per pixel, never enlarged.

A firefly is at full brightness when it flashes and fades linearly to dark over
`fade` seconds of simulation time, quantised to `levels` steps. Brightness only falls
with age, so the brightest firefly of a pixel is the one that flashed last: each
pixel keeps just the latest flash time among its fireflies, updated as flashes
arrive, and levels are computed at render time only for pixels that flashed since
the previous frame or whose level is due to drop (a timing wheel, see
`Canvas._update_levels`).

Every character cell has a *glyph key*: ``top_code * codes + bottom_code`` where a
code is 0 (dark), 1..levels (brightness) or ``levels + 1`` (a dark pixel on a shard
border). `Canvas.changes` returns the cells whose key differs from what the screen
shows, which is what makes the view write only changed cells.

What it is not: a renderer. Nothing here knows escape codes or colours; `live.py`
turns keys into glyphs (see `palette.py`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["NEVER", "Canvas", "Geometry", "brightness", "fit"]

NEVER = float("-inf")
"""Flash time of a cell that has not flashed yet."""

NO_DUE = -(2**62)
"""Wheel key of a dark pixel: no change is due until it flashes again."""

WHEEL_SLOTS_PER_STEP = 16
"""Timing-wheel buckets per brightness step (a pixel waiting in the current bucket is
re-evaluated each frame until its moment comes, so finer buckets mean fewer retries)."""

Rect = tuple[int, int, int, int]


def brightness(age: float, fade: float, levels: int) -> int:
    """Brightness level (0 = dark .. `levels` = just flashed) `age` seconds after a flash."""
    if age <= 0:
        return levels
    if age >= fade:
        return 0
    return levels - int(age * (levels / fade))


@dataclass(frozen=True)
class Geometry:
    """Where the grid lands on screen: `pix_w` × `pix_h` pixels from the top-left."""

    grid_w: int
    grid_h: int
    pix_w: int
    pix_h: int

    @property
    def char_rows(self) -> int:
        """Character rows used: two pixel rows per character row."""
        return (self.pix_h + 1) // 2

    @property
    def chars(self) -> int:
        """Character cells used (each may hold a top and a bottom pixel)."""
        return self.pix_w * self.char_rows

    def pixel_of(self, x: int, y: int) -> tuple[int, int]:
        """The pixel (px, py) that shows grid cell (x, y)."""
        return x * self.pix_w // self.grid_w, y * self.pix_h // self.grid_h


def fit(grid_w: int, grid_h: int, cols: int, rows: int) -> Geometry:
    """Geometry of a `grid_w`×`grid_h` grid in `cols`×`rows` characters, same scale on both axes."""
    if min(grid_w, grid_h, cols, rows) < 1:
        raise ValueError(f"grid (={grid_w}x{grid_h}) and area (={cols}x{rows}) must be >= 1x1")
    scale = max(Fraction(1), Fraction(grid_w, cols), Fraction(grid_h, 2 * rows))
    pix_w = min(cols, math.ceil(grid_w / scale))
    pix_h = min(2 * rows, math.ceil(grid_h / scale))
    return Geometry(grid_w, grid_h, pix_w, pix_h)


class Canvas:
    """Last-flash times per cell and per pixel, pixel levels, and the shown frame."""

    def __init__(
        self,
        grid_w: int,
        grid_h: int,
        fade: float,
        *,
        cols: int,
        rows: int,
        levels: int = 6,
        borders: Sequence[Rect] = (),
    ) -> None:
        if not fade > 0:
            raise ValueError(f"fade (={fade}) must be > 0 seconds")
        if levels < 1:
            raise ValueError(f"levels (={levels}) must be >= 1")
        self.fade = float(fade)
        self.levels = levels
        self.codes = levels + 2
        self._n = grid_w * grid_h
        self._cell_last = [NEVER] * self._n
        self._border_cells = _border_cells(grid_w, grid_h, borders)
        self.geometry = fit(grid_w, grid_h, cols, rows)
        self.resize(cols, rows)

    # -- input ------------------------------------------------------------------

    def flash(self, cell_ids: Iterable[int], t: float) -> None:
        """Record that `cell_ids` flashed at simulation time `t` (the hot path)."""
        if not math.isfinite(t):
            raise ValueError(f"flash time (={t}) must be a finite number")
        last, pixel_last = self._cell_last, self._pixel_last
        cell_pixel, fresh, n = self._cell_pixel, self._fresh, self._n
        for c in cell_ids:
            if not 0 <= c < n:
                raise ValueError(f"cell id (={c}) outside the grid of {n} cells")
            if t > last[c]:
                last[c] = t
            p = cell_pixel[c]
            if t > pixel_last[p]:
                pixel_last[p] = t
            fresh.add(p)

    # -- geometry ---------------------------------------------------------------

    def resize(self, cols: int, rows: int) -> None:
        """Fit the grid into `cols`×`rows` characters; the screen is assumed blank after."""
        geo = fit(self.geometry.grid_w, self.geometry.grid_h, cols, rows)
        self.geometry = geo
        self._cell_pixel = _cell_pixel_map(geo)
        npix = geo.pix_w * geo.pix_h
        # index npix is a sentinel pixel: the missing bottom half of an odd last row
        self._pixel_last = _pixel_last(self._cell_last, self._cell_pixel, npix + 1)
        self._level = [0] * (npix + 1)
        self._border_code = [0] * (npix + 1)
        for c in self._border_cells:
            self._border_code[self._cell_pixel[c]] = self.levels + 1
        self._fresh = {p for p in range(npix) if self._pixel_last[p] != NEVER}
        self._due = [NO_DUE] * npix
        self._wheel: defaultdict[int, list[int]] = defaultdict(list)
        self._pixel_char = [(p // geo.pix_w >> 1) * geo.pix_w + p % geo.pix_w for p in range(npix)]
        self._char_top, self._char_bottom = _char_pixels(geo)
        self.invalidate()

    def invalidate(self) -> None:
        """Forget what the screen shows: assume it blank and recheck every cell."""
        self._shown = [0] * self.geometry.chars
        self._dirty = set(range(self.geometry.chars))

    # -- output -----------------------------------------------------------------

    def changes(self, now: float) -> list[tuple[int, int]]:
        """(char cell index, glyph key) for each cell whose key changed, in screen order."""
        self._update_levels(now)
        level, border = self._level, self._border_code
        top, bottom, shown, codes = self._char_top, self._char_bottom, self._shown, self.codes
        out = []
        for c in sorted(self._dirty):
            pt, pb = top[c], bottom[c]
            key = (level[pt] or border[pt]) * codes + (level[pb] or border[pb])
            if key != shown[c]:
                shown[c] = key
                out.append((c, key))
        self._dirty = set()
        return out

    def _update_levels(self, now: float) -> None:
        """Recompute the levels of pixels flashed since the last frame or due to fade.

        A pixel at level `lv` keeps it until its age reaches the next step boundary,
        so it waits in the timing-wheel bucket holding that moment (a bucket spans
        1/16 of a step) and is not looked at before. Every frame evaluates the pixels
        flashed since the previous frame and those in the buckets up to and including
        the current one; a pixel whose moment is still ahead goes back into the
        current bucket. A frame so costs O(pixels that may have changed), not O(lit
        pixels), and a level is exactly `brightness(now - last flash)`, never late.
        `_due[p]` names a pixel's one live bucket; entries left behind when a new
        flash moved it are skipped.
        """
        grain = self.fade / self.levels / WHEEL_SLOTS_PER_STEP
        current = int(now // grain)
        todo = list(self._fresh)
        self._fresh = set()
        due, wheel, no_due = self._due, self._wheel, NO_DUE
        for b in [k for k in wheel if k <= current]:
            for p in wheel.pop(b):
                if due[p] == b:
                    due[p] = no_due  # unscheduled until evaluated
                    todo.append(p)
        self._evaluate(todo, now, grain)

    def _evaluate(self, pixels: list[int], now: float, grain: float) -> None:
        """Set the level of each pixel, mark changed cells, schedule the next change."""
        level, pixel_last, pixel_char = self._level, self._pixel_last, self._pixel_char
        due, wheel, dirty = self._due, self._wheel, self._dirty
        fade, top = self.fade, self.levels
        step, scale, no_due = fade / top, top / fade, NO_DUE
        early = step * 1e-9  # wake a hair early: float rounding must never make it late
        for p in pixels:
            last = pixel_last[p]
            age = now - last
            if age >= fade:
                lv = 0
                due[p] = no_due
            else:
                lv = top if age <= 0 else top - int(age * scale)  # = brightness()
                key = int((last + (top - lv + 1) * step - early) // grain)
                if due[p] != key:
                    due[p] = key
                    wheel[key].append(p)
            if lv != level[p]:
                level[p] = lv
                dirty.add(pixel_char[p])

    def key(self, col: int, row: int) -> int:
        """The glyph key the screen shows at character (col, row) after `changes`."""
        return self._shown[row * self.geometry.pix_w + col]


def _cell_pixel_map(geo: Geometry) -> list[int]:
    """Flat list: global cell id (y*W + x) -> pixel index (py*pix_w + px)."""
    xs = [x * geo.pix_w // geo.grid_w for x in range(geo.grid_w)]
    out: list[int] = []
    for y in range(geo.grid_h):
        base = (y * geo.pix_h // geo.grid_h) * geo.pix_w
        out.extend([base + px for px in xs])
    return out


def _pixel_last(cell_last: list[float], cell_pixel: list[int], npix: int) -> list[float]:
    """Latest flash time per pixel, from the per-cell times (used on resize)."""
    out = [NEVER] * npix
    for c, t in enumerate(cell_last):
        if t > out[cell_pixel[c]]:
            out[cell_pixel[c]] = t
    return out


def _char_pixels(geo: Geometry) -> tuple[list[int], list[int]]:
    """Top and bottom pixel of each character cell (the sentinel where there is none)."""
    npix = geo.pix_w * geo.pix_h
    top, bottom = [], []
    for c in range(geo.chars):
        row, col = divmod(c, geo.pix_w)
        top.append(2 * row * geo.pix_w + col)
        b = (2 * row + 1) * geo.pix_w + col
        bottom.append(b if b < npix else npix)
    return top, bottom


def _border_cells(grid_w: int, grid_h: int, rects: Sequence[Rect]) -> list[int]:
    """Cells on the first column or first row of each shard rectangle (x0, y0, w, h)."""
    cells: set[int] = set()
    for x0, y0, w, h in rects:
        if w < 1 or h < 1 or x0 < 0 or y0 < 0 or x0 + w > grid_w or y0 + h > grid_h:
            raise ValueError(f"shard rectangle (={(x0, y0, w, h)}) outside grid {grid_w}x{grid_h}")
        cells.update(y * grid_w + x0 for y in range(y0, y0 + h))
        cells.update(y0 * grid_w + x for x in range(x0, x0 + w))
    return sorted(cells)
