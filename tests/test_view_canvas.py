"""Tests of coordinator.view.canvas: brightness, fit, downsampling, the frame diff."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.view.canvas import NEVER, Canvas, brightness

LEVELS = 6
CODES = LEVELS + 3
DIM = LEVELS + 1
BORDER = LEVELS + 2


def codes_at(canvas: Canvas, col: int, row: int) -> tuple[int, int]:
    """(top code, bottom code) the canvas says the screen shows at (col, row)."""
    return divmod(canvas.key(col, row), CODES)


def pixel_code(canvas: Canvas, sx: int, sy: int) -> int:
    """The code of screen pixel (sx, sy)."""
    top, bottom = codes_at(canvas, sx, sy // 2)
    return bottom if sy % 2 else top


def logical_codes(canvas: Canvas) -> dict[tuple[int, int], set[int]]:
    """Every code each logical pixel shows, over all the screen pixels drawing it."""
    geo = canvas.geometry
    out: dict[tuple[int, int], set[int]] = {}
    for sy in range(geo.screen_h):
        for sx in range(geo.screen_w):
            out.setdefault(geo.logical_of_screen(sx, sy), set()).add(pixel_code(canvas, sx, sy))
    return out


def lit(canvas: Canvas) -> list[tuple[int, int]]:
    """Screen pixels showing a brightness level (not dim, border or nothing)."""
    geo = canvas.geometry
    return [(x, y) for y in range(geo.screen_h) for x in range(geo.screen_w)
            if 1 <= pixel_code(canvas, x, y) <= LEVELS]


# -- brightness -------------------------------------------------------------------------


def test_brightness_full_at_flash_dark_after_fade() -> None:
    assert brightness(0.0, 1.0, LEVELS) == LEVELS
    assert brightness(-0.5, 1.0, LEVELS) == LEVELS  # flash stamped slightly ahead of now
    assert brightness(0.999, 1.0, LEVELS) == 1
    assert brightness(1.0, 1.0, LEVELS) == 0
    assert brightness(7.0, 1.0, LEVELS) == 0
    assert 1 < brightness(0.5, 1.0, LEVELS) < LEVELS


@given(st.floats(-10, 10), st.floats(0, 10), st.floats(0.01, 5))
def test_brightness_never_rises_with_age(a: float, extra: float, fade: float) -> None:
    assert brightness(a, fade, LEVELS) >= brightness(a + extra, fade, LEVELS)
    assert 0 <= brightness(a, fade, LEVELS) <= LEVELS


# -- canvas ----------------------------------------------------------------------------------


def test_first_frame_draws_every_cell_dim() -> None:
    c = Canvas(20, 20, fade=1.25, cols=40, rows=12)  # 1:1 (x2 would not fit 24 rows)
    first = c.changes(0.0)
    assert [cell for cell, _ in first] == list(range(20 * 10))
    assert {key for _, key in first} == {DIM * CODES + DIM}
    assert c.changes(0.5) == []


def test_flash_lights_pixel_and_fades_back_to_dim() -> None:
    c = Canvas(20, 20, fade=1.25, cols=40, rows=12)
    c.changes(9.0)
    c.flash([7 * 20 + 5], 10.0)  # cell (5, 7): 1:1 pixels, char row 3, bottom half
    assert c.changes(10.0) == [(3 * 20 + 5, DIM * CODES + LEVELS)]
    c.changes(10.5)
    mid = pixel_code(c, 5, 7)
    assert 0 < mid < LEVELS
    assert c.changes(10.5) == []  # nothing new at the same time
    c.changes(11.25)  # exactly one fade later
    assert pixel_code(c, 5, 7) == DIM


def test_downsampled_pixel_shows_the_newest_flash() -> None:
    c = Canvas(60, 60, fade=1.0, cols=20, rows=8)
    assert c.geometry.pixel_of(30, 45) == c.geometry.pixel_of(31, 46) == (8, 12)
    c.flash([45 * 60 + 30], 0.5)  # newer flash delivered first
    c.flash([46 * 60 + 31], 0.0)  # older flash of a neighbour in the same pixel
    c.changes(0.6)
    assert pixel_code(c, 8, 12) == brightness(0.1, 1.0, LEVELS)
    assert lit(c) == [(8, 12)]


def test_bad_cell_id_is_an_error() -> None:
    c = Canvas(4, 4, fade=1.0, cols=10, rows=5)
    with pytest.raises(ValueError, match="cell id \\(=16\\)"):
        c.flash([16], 0.0)
    with pytest.raises(ValueError, match="cell id \\(=-1\\)"):
        c.flash([-1], 0.0)
    with pytest.raises(ValueError, match="flash time \\(=nan\\)"):
        c.flash([1], float("nan"))


def test_resize_keeps_flashes_and_redraws_everything() -> None:
    c = Canvas(60, 60, fade=1.0, cols=60, rows=30)
    c.flash([45 * 60 + 30], 0.0)
    c.changes(0.1)
    c.resize(20, 8)
    redrawn = c.changes(0.1)
    assert [cell for cell, _ in redrawn] == list(range(16 * 8))  # every cell written again
    assert [cell for cell, key in redrawn if key != DIM * CODES + DIM] == [6 * 16 + 8]
    assert lit(c) == [(8, 12)]


def test_an_enlarged_cell_lights_its_whole_block() -> None:
    c = Canvas(10, 10, fade=1.0, cols=80, rows=22)  # x4: 40x40 screen pixels
    c.changes(0.0)
    c.flash([3 * 10 + 2], 0.0)  # cell (2, 3)
    changed = c.changes(0.0)
    assert len(changed) == 4 * 2  # 4 columns x 2 character rows
    assert lit(c) == [(x, y) for y in range(12, 16) for x in range(8, 12)]


def test_shard_borders_are_grey_until_lit_and_switch_off() -> None:
    c = Canvas(20, 20, fade=1.0, cols=20, rows=10, borders=[(0, 0, 10, 20), (10, 0, 10, 20)])
    c.changes(0.0)
    assert pixel_code(c, 10, 5) == BORDER  # first column of shard 1
    assert pixel_code(c, 3, 0) == BORDER  # first row of shard 0
    assert pixel_code(c, 3, 5) == DIM
    c.flash([5 * 20 + 10], 0.0)
    c.changes(0.0)
    assert pixel_code(c, 10, 5) == LEVELS
    c.changes(2.0)
    assert pixel_code(c, 10, 5) == BORDER
    c.set_borders(False)
    c.changes(2.0)
    assert pixel_code(c, 10, 5) == pixel_code(c, 3, 0) == DIM


def test_shard_outside_grid_is_an_error() -> None:
    with pytest.raises(ValueError, match="outside grid"):
        Canvas(10, 10, fade=1.0, cols=10, rows=5, borders=[(5, 0, 6, 10)])


flash_events = st.lists(
    st.tuples(st.integers(0, 24 * 18 - 1), st.floats(0, 30)), max_size=30
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(flash_events, st.floats(0, 2)), min_size=1, max_size=12),
    st.sampled_from([(24, 18, 7, 3), (24, 18, 30, 10), (24, 18, 5, 9), (24, 18, 80, 30)]),
    st.floats(0.05, 3),
)
def test_levels_equal_brightness_of_newest_flash_per_pixel(
    frames: list[tuple[list[tuple[int, float]], float]],
    shape: tuple[int, int, int, int],
    fade: float,
) -> None:
    """The timing wheel never shows a stale level: every pixel, every frame."""
    w, h, cols, rows = shape
    c = Canvas(w, h, fade=fade, cols=cols, rows=rows)
    geo = c.geometry
    newest: dict[tuple[int, int], float] = {}
    now = 0.0
    for events, advance in frames:
        for cell, t in events:
            c.flash([cell], t)
            px = geo.pixel_of(cell % w, cell // w)
            newest[px] = max(newest.get(px, NEVER), t)
        now += advance
        c.changes(now)
        shown = logical_codes(c)
        for py in range(geo.pix_h):
            for px in range(geo.pix_w):
                expected = brightness(now - newest.get((px, py), NEVER), fade, LEVELS) or DIM
                assert shown[(px, py)] == {expected}, (px, py, now)
