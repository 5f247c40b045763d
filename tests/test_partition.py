"""Tests of shared.partition: the cut into shards (``partition``, ``Shard``,
``owner_table``); the edge tables of each shard are tested in tests/test_shard_layout.py.

The references here are deliberately naive: ownership is looked up through
``Shard.cell_ids`` (tests/partitionkit.py), and the cut is measured cell edge by cell
edge and compared with regular layouts built independently of partition.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partitionkit import grid_and_k, owners, thin_grids
from shared.grid import Grid
from shared.partition import Shard, owner_table, partition

# ----------------------------------------------------------------- references


def fence_length(grid: Grid, shards: list[Shard]) -> int:
    """Cell edges (right and down, on the torus) that separate two shards."""
    owner = owners(grid, shards)
    return sum(owner[c] != owner[grid.cell_id(x + 1, y)] for c, (x, y) in _cells(grid)) + \
        sum(owner[c] != owner[grid.cell_id(x, y + 1)] for c, (x, y) in _cells(grid))


def _cells(grid: Grid):
    return ((c, grid.coords(c)) for c in range(grid.cells))


def even(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (i < extra) for i in range(parts)]


def regular_grid(grid: Grid, rows: int, cols: int) -> list[Shard]:
    """The r×c regular layout with even splits, built independently of partition."""
    shards, y0 = [], 0
    for h in even(grid.height, rows):
        x0 = 0
        for w in even(grid.width, cols):
            shards.append(Shard(len(shards), x0, y0, w, h))
            x0 += w
        y0 += h
    return shards


# ------------------------------------------------------------------- partition


def check_partition(grid: Grid, k: int, shards: list[Shard]) -> None:
    assert len(shards) == k
    assert [s.index for s in shards] == list(range(k))
    for s in shards:  # rectangles inside the grid, no wrap
        assert s.x0 + s.width <= grid.width and s.y0 + s.height <= grid.height
        assert s.cells == s.width * s.height == len(s.cell_ids(grid))
    owner = owners(grid, shards)
    assert sorted(owner) == list(range(grid.cells))
    for cell, index in owner.items():
        assert shards[index].contains(*grid.coords(cell))
    # shards are indexed row-major by top-left corner
    assert [(s.y0, s.x0) for s in shards] == sorted((s.y0, s.x0) for s in shards)


def check_balance(grid: Grid, k: int, shards: list[Shard]) -> None:
    """The documented bound: |cells - W*H/k| < width + height + 1 for every shard."""
    ideal = grid.cells / k
    for s in shards:
        assert abs(s.cells - ideal) < s.width + s.height + 1, (s, ideal)
    rows: dict[tuple[int, int], list[int]] = {}
    cols: dict[tuple[int, int], list[int]] = {}
    for s in shards:  # blocks of one band (same rows, or same columns) differ by <= 1
        if s.height < grid.height:
            rows.setdefault((s.y0, s.height), []).append(s.width)
        if s.width < grid.width:
            cols.setdefault((s.x0, s.width), []).append(s.height)
    for band, lengths in (*rows.items(), *cols.items()):
        assert max(lengths) - min(lengths) <= 1, (band, lengths)


@settings(deadline=None)
@given(grid_and_k())
def test_partition_covers_every_cell_once_with_balanced_rectangles(case):
    grid, k = case
    shards = partition(grid, k)
    check_partition(grid, k, shards)
    check_balance(grid, k, shards)


def test_partition_exhaustively_on_small_grids():
    for width in range(1, 9):
        for height in range(1, 9):
            grid = Grid(width, height)
            for k in range(1, grid.cells + 1):
                shards = partition(grid, k)
                check_partition(grid, k, shards)
                check_balance(grid, k, shards)


@settings(deadline=None)
@given(thin_grids, st.data())
def test_partition_of_thin_grids(grid, data):
    k = data.draw(st.integers(1, grid.cells))
    shards = partition(grid, k)
    check_partition(grid, k, shards)
    check_balance(grid, k, shards)


@pytest.mark.parametrize("width, height, k", [
    (w, h, k)
    for w, h in [(1, 1), (1, 7), (7, 1), (2, 9), (9, 2), (3, 3), (10, 10), (37, 23)]
    for k in (1, 2, 3) if k <= w * h])
def test_partition_small_k(width, height, k):
    grid = Grid(width, height)
    shards = partition(grid, k)
    check_partition(grid, k, shards)
    check_balance(grid, k, shards)


@settings(deadline=None)
@given(grid_and_k(max_side=30, max_k=64))
def test_cut_is_no_longer_than_any_regular_factorisation(case):
    grid, k = case
    chosen = fence_length(grid, partition(grid, k))
    for rows in range(1, k + 1):
        cols, rest = divmod(k, rows)
        if rest == 0 and rows <= grid.height and cols <= grid.width:
            assert chosen <= fence_length(grid, regular_grid(grid, rows, cols)), (rows, cols)


@pytest.mark.parametrize("size, k, block", [
    ((10, 10), 4, (5, 5)),
    ((400, 400), 4, (200, 200)),
    ((8, 8), 4, (4, 4)),
    ((400, 400), 16, (100, 100)),
    ((100, 100), 2, (50, 100)),
    ((300, 100), 3, (100, 100)),
    ((12, 12), 9, (4, 4)),
    ((316, 316), 2, (158, 316)),
])
def test_partition_prefers_equal_near_square_blocks(size, k, block):
    shards = partition(Grid(*size), k)
    assert {(s.width, s.height) for s in shards} == {block}


def test_awkward_k_uses_bands_not_strips():
    """7 strips of a 10x10 torus cut 70 edges; two or three bands of blocks cut less."""
    grid = Grid(10, 10)
    shards = partition(grid, 7)
    assert len({s.height for s in shards}) > 1 or len({s.width for s in shards}) > 1
    assert fence_length(grid, shards) < 70
    assert all(s.width > 1 and s.height > 1 for s in shards)


def test_every_cell_its_own_shard():
    grid = Grid(5, 4)
    shards = partition(grid, 20)
    assert {(s.width, s.height) for s in shards} == {(1, 1)}
    assert [grid.cell_id(s.x0, s.y0) for s in shards] == list(range(20))


@pytest.mark.parametrize("k", [0, -1, 13, 100])
def test_partition_rejects_k_out_of_range(k):
    with pytest.raises(ValueError, match=rf"k\(={k}\).*4x3 grid of 12 cells.*1 to 12"):
        partition(Grid(4, 3), k)


def test_shard_validation_and_helpers():
    shard = Shard(2, 3, 1, 4, 2)
    assert shard.cells == 8
    assert shard.contains(3, 1) and shard.contains(6, 2)
    assert not shard.contains(7, 1) and not shard.contains(3, 3) and not shard.contains(2, 1)
    assert shard.cell_ids(Grid(8, 4)) == (11, 12, 13, 14, 19, 20, 21, 22)
    with pytest.raises(ValueError, match="does not fit the 6x4 grid"):
        shard.cell_ids(Grid(6, 4))
    with pytest.raises(ValueError, match=r"width\(=0\)"):
        Shard(0, 0, 0, 0, 1)
    with pytest.raises(ValueError, match=r"x0\(=-1\)"):
        Shard(0, -1, 0, 1, 1)


def test_owner_table_rejects_overlaps_gaps_and_bad_indices():
    grid = Grid(4, 2)
    with pytest.raises(ValueError, match="overlaps"):
        owner_table(grid, [Shard(0, 0, 0, 4, 2), Shard(1, 0, 1, 4, 1)])
    with pytest.raises(ValueError, match=r"cell 4 \(0, 1\) belongs to no shard"):
        owner_table(grid, [Shard(0, 0, 0, 4, 1)])
    with pytest.raises(ValueError, match=r"shards\[0\].index\(=1\) must be 0"):
        owner_table(grid, [Shard(1, 0, 0, 4, 2)])
    assert owner_table(grid, [Shard(0, 0, 0, 1, 2), Shard(1, 1, 0, 3, 2)]) == \
        [0, 1, 1, 1, 0, 1, 1, 1]
