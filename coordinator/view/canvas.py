"""The flash picture: how bright each pixel is, and which character cells changed.

Picture a night field of W×H fireflies seen through a window of character cells
(`geometry.py` says how the field is scaled into it: downsampled when larger, each
logical pixel then covering a small rectangle of fireflies; enlarged when smaller).
When a pixel covers several fireflies it shows the BRIGHTEST one.

A firefly is at full brightness when it flashes and fades linearly to its dim unlit
colour over `fade` seconds of simulation time, quantised to `levels` steps. Unlit
fireflies are drawn dim, never black, so the grid's extent is always visible.
Brightness only falls with age, so the brightest firefly of a pixel is the one that
flashed last: each pixel keeps just the latest flash time among its fireflies,
updated as flashes arrive, and levels are computed at render time only for pixels
that flashed since the previous frame or whose level is due to drop (a timing wheel,
see `Canvas._update_levels`).

Every character cell has a *glyph key*: ``top_code * codes + bottom_code`` where a
code is 0 (no pixel: below an odd last row), 1..levels (brightness), ``levels + 1``
(unlit: dim) or ``levels + 2`` (an unlit pixel on a shard border). `Canvas.changes`
returns the cells whose key differs from what the screen shows, which is what makes
the view write only changed cells.

What it is not: a renderer. Nothing here knows escape codes or colours; `live.py`
turns keys into glyphs (see `palette.py`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from coordinator.view.geometry import (BORDER, NONE, PLAIN, Geometry, Rect, ScreenMap, check_rects,
                                       fit, screen_map)

__all__ = ["NEVER", "Canvas", "Geometry", "brightness", "fit"]

NEVER = float("-inf")
"""Flash time of a cell that has not flashed yet."""

NO_DUE = -(2**62)
"""Wheel key of an unlit pixel: no change is due until it flashes again."""

WHEEL_SLOTS_PER_STEP = 16
"""Timing-wheel buckets per brightness step (a pixel waiting in the current bucket is
re-evaluated each frame until its moment comes, so finer buckets mean fewer retries)."""


def brightness(age: float, fade: float, levels: int) -> int:
    """Brightness level (0 = unlit .. `levels` = just flashed) `age` seconds after a flash."""
    if age <= 0:
        return levels
    if age >= fade:
        return 0
    return levels - int(age * (levels / fade))


class Canvas:
    """Last-flash times per cell and per pixel, pixel levels, and the shown frame.

    `borders` are the shard rectangles; they are drawn while `show_borders` is true
    (:meth:`set_borders` switches them)."""

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
        show_borders: bool = True,
    ) -> None:
        if not fade > 0:
            raise ValueError(f"fade (={fade}) must be > 0 seconds")
        if levels < 1:
            raise ValueError(f"levels (={levels}) must be >= 1")
        check_rects(borders, grid_w, grid_h)
        self.fade = float(fade)
        self.levels = levels
        self.codes = levels + 3
        self.dim_code = levels + 1
        self.border_code = levels + 2
        self._n = grid_w * grid_h
        self._cell_last = [NEVER] * self._n
        self._borders = list(borders)
        self.show_borders = show_borders
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
        """Fit the grid into `cols`×`rows` characters; the screen is assumed unknown after."""
        geo = fit(self.geometry.grid_w, self.geometry.grid_h, cols, rows)
        self.geometry = geo
        self._cell_pixel = _cell_pixel_map(geo)
        npix = geo.logical_pixels
        # index npix is a sentinel pixel: the missing bottom half of an odd last row
        self._pixel_last = _pixel_last(self._cell_last, self._cell_pixel, npix + 1)
        self._level = [0] * (npix + 1)
        self._fresh = {p for p in range(npix) if self._pixel_last[p] != NEVER}
        self._due = [NO_DUE] * npix
        self._wheel: defaultdict[int, list[int]] = defaultdict(list)
        self._map_screen()

    def set_borders(self, show: bool) -> None:
        """Draw the shard borders or not; every cell is checked again next frame."""
        self.show_borders = show
        self._map_screen()

    def _map_screen(self) -> None:
        screen = screen_map(self.geometry, self._borders if self.show_borders else ())
        self.screen: ScreenMap = screen
        codes = {NONE: 0, PLAIN: self.dim_code, BORDER: self.border_code}
        self._char_top, self._char_bottom = screen.top, screen.bottom
        self._under_top = [codes[u] for u in screen.top_under]
        self._under_bottom = [codes[u] for u in screen.bottom_under]
        geo = self.geometry
        enlarged = (geo.screen_w, geo.screen_h) != (geo.pix_w, geo.pix_h)
        self._pixel_chars = screen.pixel_chars if enlarged else None  # None: one char each
        self._pixel_char = [chars[0] if chars else 0 for chars in screen.pixel_chars]
        self.invalidate()

    def invalidate(self) -> None:
        """Forget what the screen shows: every cell is written next frame."""
        self._shown = [-1] * self.geometry.chars
        self._dirty = set(range(self.geometry.chars))

    # -- output -----------------------------------------------------------------

    def changes(self, now: float) -> list[tuple[int, int]]:
        """(char cell index, glyph key) for each cell whose key changed, in screen order."""
        self._update_levels(now)
        level = self._level
        top, bottom, shown, codes = self._char_top, self._char_bottom, self._shown, self.codes
        under_top, under_bottom = self._under_top, self._under_bottom
        out = []
        for c in sorted(self._dirty):
            key = (level[top[c]] or under_top[c]) * codes + (level[bottom[c]] or under_bottom[c])
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
        level, pixel_last = self._level, self._pixel_last
        pixel_char, pixel_chars = self._pixel_char, self._pixel_chars
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
                if pixel_chars is None:
                    dirty.add(pixel_char[p])
                else:
                    dirty.update(pixel_chars[p])

    def key(self, col: int, row: int) -> int:
        """The glyph key the screen shows at character (col, row) after `changes`."""
        return self._shown[row * self.geometry.screen_w + col]


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
