"""Where the grid lands on the screen: scaling, and which pixel each character shows.

The picture is made of *screen pixels*: each character cell holds two of them, one
above the other, drawn with a half block ('▀'), so a screen pixel is about square.
The grid is first reduced to *logical pixels* and those are then drawn as blocks of
screen pixels:

* a grid larger than the area (`cols` × 2·`rows` screen pixels) is downsampled by
  the same factor on both axes (the torus keeps its shape): one logical pixel covers
  the cells ``x * pix_w // W == px`` (same for y) and is one screen pixel;
* a grid that fits is one logical pixel per cell, enlarged by the largest integer
  factor that fits, so cells stay square; when that fills less than
  :data:`FILL` of both the width and the height and the factor is at least 2, it is
  enlarged by the largest fractional factor that fits instead (the same on both
  axes: cells are then s or s+1 screen pixels, s >= 2). Factor 1 is never mixed
  with 2 (cells of one and two pixels side by side would look like seams).

The picture sits in the top-left corner. :class:`ScreenMap` says, for each character
cell, which logical pixel its top and bottom halves show and whether a half is on a
shard border (the first column and first row of each shard rectangle: a whole
logical pixel when downsampled, a line one screen pixel thick along the block's
left or top side when enlarged).

What it is not: state. Nothing here knows flashes, phases or colours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["BORDER", "FILL", "NONE", "PLAIN", "Geometry", "Rect", "ScreenMap", "check_rects",
           "fit", "first_cells", "screen_map"]

Rect = tuple[int, int, int, int]
"""A shard rectangle (x0, y0, width, height) in grid cells."""

FILL = Fraction(4, 5)
"""An integer enlargement must fill this share of the width or the height, else the
fractional one is used (when the integer factor is at least 2)."""

NONE, PLAIN, BORDER = 0, 1, 2
"""What a character half shows under its value: nothing (no pixel there: the bottom
half of an odd last row), the grid, or a shard border."""


@dataclass(frozen=True)
class Geometry:
    """A `grid_w`×`grid_h` grid as `pix_w`×`pix_h` logical pixels drawn on
    `screen_w`×`screen_h` screen pixels from the top-left corner."""

    grid_w: int
    grid_h: int
    pix_w: int
    pix_h: int
    screen_w: int = 0  # 0: the same as pix_w (no enlargement)
    screen_h: int = 0

    def __post_init__(self) -> None:
        if not self.screen_w:
            object.__setattr__(self, "screen_w", self.pix_w)
        if not self.screen_h:
            object.__setattr__(self, "screen_h", self.pix_h)

    @property
    def char_rows(self) -> int:
        """Character rows used: two screen pixel rows per character row."""
        return (self.screen_h + 1) // 2

    @property
    def chars(self) -> int:
        """Character cells used (each may hold a top and a bottom screen pixel)."""
        return self.screen_w * self.char_rows

    @property
    def logical_pixels(self) -> int:
        return self.pix_w * self.pix_h

    def pixel_of(self, x: int, y: int) -> tuple[int, int]:
        """The logical pixel (px, py) that shows grid cell (x, y)."""
        return x * self.pix_w // self.grid_w, y * self.pix_h // self.grid_h

    def logical_of_screen(self, sx: int, sy: int) -> tuple[int, int]:
        """The logical pixel drawn at screen pixel (sx, sy)."""
        return sx * self.pix_w // self.screen_w, sy * self.pix_h // self.screen_h


def fit(grid_w: int, grid_h: int, cols: int, rows: int) -> Geometry:
    """Geometry of a `grid_w`×`grid_h` grid in `cols`×`rows` characters (see the module)."""
    if min(grid_w, grid_h, cols, rows) < 1:
        raise ValueError(f"grid (={grid_w}x{grid_h}) and area (={cols}x{rows}) must be >= 1x1")
    area_w, area_h = cols, 2 * rows
    if grid_w > area_w or grid_h > area_h:
        scale = max(Fraction(grid_w, area_w), Fraction(grid_h, area_h))
        pix_w = min(area_w, math.ceil(grid_w / scale))
        pix_h = min(area_h, math.ceil(grid_h / scale))
        return Geometry(grid_w, grid_h, pix_w, pix_h)
    s = min(area_w // grid_w, area_h // grid_h)
    fills = s * grid_w >= FILL * area_w or s * grid_h >= FILL * area_h
    if fills or s < 2:
        return Geometry(grid_w, grid_h, grid_w, grid_h, s * grid_w, s * grid_h)
    f = min(Fraction(area_w, grid_w), Fraction(area_h, grid_h))
    return Geometry(grid_w, grid_h, grid_w, grid_h, math.floor(grid_w * f), math.floor(grid_h * f))


def first_cells(cells: int, pixels: int) -> list[int]:
    """The first cell of each of `pixels` equal blocks of `cells` (cells >= pixels):
    the smallest x with ``x * pixels // cells == p``, for each p."""
    return [(p * cells + pixels - 1) // pixels for p in range(pixels)]


@dataclass(frozen=True)
class ScreenMap:
    """Per character cell: the logical pixel of its top and bottom half (the bottom
    of an odd last row is the sentinel ``geometry.logical_pixels``) and what shows
    under each half (:data:`PLAIN`, :data:`BORDER`, :data:`NONE`); per logical
    pixel, the character cells that show it."""

    geometry: Geometry
    top: list[int]
    bottom: list[int]
    top_under: list[int]
    bottom_under: list[int]
    pixel_chars: list[list[int]]


def screen_map(geo: Geometry, borders: Sequence[Rect] = ()) -> ScreenMap:
    """The map of `geo`, with `borders` (shard rectangles) drawn."""
    npix = geo.logical_pixels
    left, top_edge = _border_pixels(geo, borders)
    xs = [geo.logical_of_screen(sx, 0)[0] for sx in range(geo.screen_w)]
    ys = [geo.logical_of_screen(0, sy)[1] for sy in range(geo.screen_h)]
    first_x = [sx == 0 or xs[sx - 1] != xs[sx] for sx in range(geo.screen_w)]
    first_y = [sy == 0 or ys[sy - 1] != ys[sy] for sy in range(geo.screen_h)]
    top: list[int] = []
    bottom: list[int] = []
    top_under: list[int] = []
    bottom_under: list[int] = []
    pixel_chars: list[list[int]] = [[] for _ in range(npix + 1)]
    for row in range(geo.char_rows):
        for sx in range(geo.screen_w):
            c = len(top)
            for sy, pixels, under in ((2 * row, top, top_under), (2 * row + 1, bottom, bottom_under)):
                if sy >= geo.screen_h:
                    pixels.append(npix)
                    under.append(NONE)
                    continue
                p = ys[sy] * geo.pix_w + xs[sx]
                pixels.append(p)
                edge = (left[p] and first_x[sx]) or (top_edge[p] and first_y[sy])
                under.append(BORDER if edge else PLAIN)
                if not pixel_chars[p] or pixel_chars[p][-1] != c:
                    pixel_chars[p].append(c)
    return ScreenMap(geo, top, bottom, top_under, bottom_under, pixel_chars)


def check_rects(rects: Sequence[Rect], grid_w: int, grid_h: int) -> None:
    """Raise ValueError unless every rectangle lies inside the grid."""
    for x0, y0, rw, rh in rects:
        if rw < 1 or rh < 1 or x0 < 0 or y0 < 0 or x0 + rw > grid_w or y0 + rh > grid_h:
            raise ValueError(f"shard rectangle (={(x0, y0, rw, rh)}) outside grid {grid_w}x{grid_h}")


def _border_pixels(geo: Geometry, rects: Sequence[Rect]) -> tuple[list[bool], list[bool]]:
    """Logical pixels holding a shard's first-column cell, and a first-row cell."""
    check_rects(rects, geo.grid_w, geo.grid_h)
    npix = geo.logical_pixels
    left, top = [False] * npix, [False] * npix
    for x0, y0, rw, rh in rects:
        for y in range(y0, y0 + rh):
            px, py = geo.pixel_of(x0, y)
            left[py * geo.pix_w + px] = True
        for x in range(x0, x0 + rw):
            px, py = geo.pixel_of(x, y0)
            top[py * geo.pix_w + px] = True
    return left, top
