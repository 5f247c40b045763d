"""Tests of shared.grid: the torus, its Moore neighbourhood and grid parsing."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.grid import Grid, parse_grid

sizes = st.integers(min_value=1, max_value=12)


# ------------------------------------------------------------------ construction


@pytest.mark.parametrize("width, height, bad", [(0, 3, "width(=0)"), (3, 0, "height(=0)"),
                                                (-2, 3, "width(=-2)"), (3, 2.5, "height(=2.5)")])
def test_grid_rejects_bad_sizes_naming_the_value(width, height, bad):
    with pytest.raises(ValueError, match=bad.replace("(", r"\(").replace(")", r"\)")):
        Grid(width, height)


def test_grid_is_frozen_and_counts_cells():
    grid = Grid(7, 3)
    assert grid.cells == 21
    with pytest.raises(AttributeError):
        grid.width = 8  # type: ignore[misc]


def test_cell_id_is_row_major_and_wraps():
    grid = Grid(5, 4)
    assert grid.cell_id(0, 0) == 0
    assert grid.cell_id(4, 0) == 4
    assert grid.cell_id(0, 1) == 5
    assert grid.cell_id(4, 3) == 19
    assert grid.cell_id(5, 0) == 0
    assert grid.cell_id(-1, -1) == 19
    assert grid.cell_id(-6, 9) == grid.cell_id(4, 1)


@given(sizes, sizes, st.data())
def test_coords_inverts_cell_id(width, height, data):
    grid = Grid(width, height)
    cell = data.draw(st.integers(0, grid.cells - 1))
    x, y = grid.coords(cell)
    assert 0 <= x < width and 0 <= y < height
    assert grid.cell_id(x, y) == cell


@pytest.mark.parametrize("cell", [-1, 12])
def test_coords_rejects_cells_outside_the_grid(cell):
    with pytest.raises(ValueError, match=rf"cell\(={cell}\).*0 to 11"):
        Grid(4, 3).coords(cell)


# ------------------------------------------------------------ moore neighbourhood

#  Hand-written expectations. Cell ids, row-major:
#   1x1: 0    1x2: 0    2x2: 0 1    2x3: 0 1    3x3: 0 1 2    4x4:  0  1  2  3
#             1         2 3         2 3         3 4 5           4  5  6  7
#                                   4 5         6 7 8           8  9 10 11
#                                                              12 13 14 15
HAND_WRITTEN = {
    (1, 1): {0: ()},
    (1, 2): {0: (1,), 1: (0,)},
    (2, 1): {0: (1,), 1: (0,)},
    (2, 2): {0: (1, 2, 3), 1: (0, 2, 3), 2: (0, 1, 3), 3: (0, 1, 2)},
    (2, 3): {0: (1, 2, 3, 4, 5), 1: (0, 2, 3, 4, 5), 2: (0, 1, 3, 4, 5),
             3: (0, 1, 2, 4, 5), 4: (0, 1, 2, 3, 5), 5: (0, 1, 2, 3, 4)},
    (3, 3): {c: tuple(d for d in range(9) if d != c) for c in range(9)},
    (1, 4): {0: (1, 3), 1: (0, 2), 2: (1, 3), 3: (0, 2)},
    (4, 4): {0: (1, 3, 4, 5, 7, 12, 13, 15), 5: (0, 1, 2, 4, 6, 8, 9, 10),
             15: (0, 2, 3, 8, 10, 11, 12, 14)},
}


@pytest.mark.parametrize("size", sorted(HAND_WRITTEN))
def test_moore_neighbours_match_hand_written(size):
    grid = Grid(*size)
    for cell, expected in HAND_WRITTEN[size].items():
        assert grid.moore_neighbours(cell) == expected, (size, cell)


def brute_neighbours(grid: Grid, cell: int) -> tuple[int, ...]:
    """Independent reference: all 8 offsets via modular arithmetic, deduplicated."""
    x, y = cell % grid.width, cell // grid.width
    found = {((y + dy) % grid.height) * grid.width + (x + dx) % grid.width
             for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
    return tuple(sorted(found - {cell}))


@settings(deadline=None)
@given(sizes, sizes)
def test_neighbour_table_matches_brute_force(width, height):
    grid = Grid(width, height)
    table = grid.neighbour_table()
    assert len(table) == grid.cells
    for cell, neighbours in enumerate(table):
        assert neighbours == brute_neighbours(grid, cell)
        assert neighbours == grid.moore_neighbours(cell)


@settings(deadline=None)
@given(sizes, sizes)
def test_moore_relation_is_symmetric_and_sized(width, height):
    grid = Grid(width, height)
    expected_count = (min(width, 3) * min(height, 3)) - 1
    for cell in range(grid.cells):
        neighbours = grid.moore_neighbours(cell)
        assert cell not in neighbours
        assert list(neighbours) == sorted(set(neighbours))
        assert len(neighbours) == expected_count
        for other in neighbours:
            assert cell in grid.moore_neighbours(other)


def test_neighbour_table_is_fast_for_400x400():
    grid = Grid(400, 400)
    start = time.perf_counter()
    table = grid.neighbour_table()
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"neighbour_table took {elapsed:.2f} s"
    for cell in (0, 399, 400, 80_200, 159_999):
        assert table[cell] == brute_neighbours(grid, cell)


# -------------------------------------------------------------------- parse_grid


@pytest.mark.parametrize("text, expected", [
    ("100x80", Grid(100, 80)),
    ("100X80", Grid(100, 80)),
    (" 3 x 5 ", Grid(3, 5)),
    ("100", Grid(100, 100)),
    ("1", Grid(1, 1)),
    ("1x400", Grid(1, 400)),
])
def test_parse_grid_accepts_wxh_and_n(text, expected):
    assert parse_grid(text) == expected


@pytest.mark.parametrize("text", ["10y3", "", "x", "10x", "x10", "10x3x2", "-5", "2.5",
                                  "10 3", "abc", "10x-3", "١٠"])
def test_parse_grid_rejects_malformed_text(text):
    with pytest.raises(ValueError, match=r"must be WxH or N, like 100x80 or 100"):
        parse_grid(text)


def test_parse_grid_error_quotes_the_input():
    with pytest.raises(ValueError, match=r"^grid '10y3' must be WxH or N"):
        parse_grid("10y3")


@pytest.mark.parametrize("text", ["0", "0x5", "5x0"])
def test_parse_grid_rejects_zero_sizes(text):
    with pytest.raises(ValueError, match=rf"grid '{text}' must have width and height >= 1"):
        parse_grid(text)
