"""coordinator.view.geometry: downsampling, enlarging (integer, then fractional), the
screen map and its shard borders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coordinator.view.geometry import BORDER, FILL, NONE, PLAIN, first_cells, fit, screen_map


def blocks(sizes: list[int]) -> list[int]:
    """Run lengths of equal values: how many screen pixels each logical pixel got."""
    out: list[int] = []
    for i, v in enumerate(sizes):
        if i and v == sizes[i - 1]:
            out[-1] += 1
        else:
            out.append(1)
    return out


def test_small_grid_is_enlarged_by_an_integer_when_that_fills_enough() -> None:
    geo = fit(10, 10, 80, 22)  # 80x44 screen pixels: x4 gives 40 of 44 rows (91 %)
    assert (geo.pix_w, geo.pix_h, geo.screen_w, geo.screen_h) == (10, 10, 40, 40)
    assert geo.char_rows == 20


def test_thirty_by_thirty_fills_a_120x45_terminal() -> None:
    geo = fit(30, 30, 120, 43)  # the status bar takes 2 of 45 rows: 120x86 screen pixels
    # x2 would fill 60/120 and 60/86 (< 80 %): enlarged by 86/30 instead
    assert (geo.screen_w, geo.screen_h) == (86, 86)
    xs = [geo.logical_of_screen(sx, 0)[0] for sx in range(geo.screen_w)]
    assert set(blocks(xs)) == {2, 3} and len(blocks(xs)) == 30


def test_factor_one_is_never_mixed_with_two() -> None:
    geo = fit(64, 64, 120, 43)  # x1 fills 53 % and 74 %, but 1- and 2-pixel cells would mix
    assert (geo.screen_w, geo.screen_h) == (64, 64)


def test_large_grid_is_downsampled_keeping_its_aspect() -> None:
    geo = fit(60, 60, 20, 8)  # 16 pixel rows limit both axes
    assert (geo.pix_w, geo.pix_h, geo.screen_w, geo.screen_h) == (16, 16, 16, 16)
    geo = fit(300, 100, 80, 22)  # 80 columns limit; 100 / 3.75 -> 27 pixel rows
    assert (geo.pix_w, geo.pix_h, geo.char_rows) == (80, 27, 14)


@given(st.integers(1, 300), st.integers(1, 300), st.integers(1, 250), st.integers(1, 80))
def test_fit_stays_inside_the_area_and_covers_every_pixel(w: int, h: int, cols: int, rows: int) -> None:
    geo = fit(w, h, cols, rows)
    assert geo.screen_w <= cols and geo.screen_h <= 2 * rows and geo.char_rows <= rows
    assert {geo.pixel_of(x, 0)[0] for x in range(w)} == set(range(geo.pix_w))
    assert {geo.pixel_of(0, y)[1] for y in range(h)} == set(range(geo.pix_h))
    xs = [geo.logical_of_screen(sx, 0)[0] for sx in range(geo.screen_w)]
    ys = [geo.logical_of_screen(0, sy)[1] for sy in range(geo.screen_h)]
    assert sorted(set(xs)) == list(range(geo.pix_w)) and sorted(set(ys)) == list(range(geo.pix_h))
    if w > cols or h > 2 * rows:  # downsampled: one screen pixel per logical pixel
        assert (geo.screen_w, geo.screen_h) == (geo.pix_w, geo.pix_h)
        return
    sizes = set(blocks(xs)) | set(blocks(ys))
    s = min(cols // w, 2 * rows // h)
    if sizes == {s}:  # an integer factor: square cells
        assert (geo.screen_w, geo.screen_h) == (s * w, s * h)
        assert s == 1 or s * w >= FILL * cols or s * h >= FILL * 2 * rows
    else:  # fractional: s or s+1 pixels, and it reaches one side of the area
        assert s >= 2 and sizes <= {s, s + 1}
        assert geo.screen_w == cols or geo.screen_h == 2 * rows


def test_fit_rejects_empty_area() -> None:
    with pytest.raises(ValueError, match="must be >= 1x1"):
        fit(10, 10, 0, 5)


@given(st.integers(1, 500), st.integers(1, 500))
def test_first_cells_are_the_first_of_each_pixel(cells: int, pixels: int) -> None:
    pixels = min(pixels, cells)
    geo = fit(cells, 1, pixels, 1) if pixels < cells else fit(cells, 1, cells, 1)
    firsts = first_cells(cells, geo.pix_w)
    assert [geo.pixel_of(x, 0)[0] for x in firsts] == list(range(geo.pix_w))
    assert all(x == 0 or geo.pixel_of(x - 1, 0)[0] != geo.pixel_of(x, 0)[0] for x in firsts)


def test_screen_map_downsampled_borders_are_whole_pixels() -> None:
    geo = fit(20, 20, 20, 10)  # 1:1
    m = screen_map(geo, [(0, 0, 10, 20), (10, 0, 10, 20)])
    under = {(c % 20, 2 * (c // 20)): u for c, u in enumerate(m.top_under)}
    assert under[(10, 4)] == BORDER and under[(0, 4)] == BORDER  # first columns
    assert under[(5, 0)] == BORDER and under[(5, 4)] == PLAIN  # first row, inside


def test_screen_map_enlarged_borders_are_thin_lines() -> None:
    geo = fit(4, 4, 12, 6)  # x3: 12x12 screen pixels
    m = screen_map(geo, [(0, 0, 2, 4), (2, 0, 2, 4)])
    grid = {}
    for c in range(geo.chars):
        row, col = divmod(c, geo.screen_w)
        grid[(col, 2 * row)], grid[(col, 2 * row + 1)] = m.top_under[c], m.bottom_under[c]
    # shard 1 starts at cell x=2: only screen column 6 (its block's first) is border
    assert [grid[(sx, 7)] for sx in range(5, 9)] == [PLAIN, BORDER, PLAIN, PLAIN]
    assert [grid[(4, sy)] for sy in range(0, 4)] == [BORDER, PLAIN, PLAIN, PLAIN]  # first row
    assert m.top[6 + 12 * 3] == m.top[8 + 12 * 3]  # one logical pixel over 3 columns


def test_screen_map_marks_the_missing_half_of_an_odd_last_row() -> None:
    geo = fit(5, 5, 5, 3)  # 5 pixel rows in 3 character rows
    m = screen_map(geo)
    assert m.bottom[-1] == geo.logical_pixels and m.bottom_under[-1] == NONE
    assert set(m.pixel_chars[0]) == {0}


def test_shard_outside_grid_is_an_error() -> None:
    with pytest.raises(ValueError, match="outside grid"):
        screen_map(fit(10, 10, 10, 5), [(5, 0, 6, 10)])
