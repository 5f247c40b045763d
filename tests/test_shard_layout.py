"""Tests of shared.partition's shard layouts: every shard's edge tables (local
neighbours, outgoing, incoming, boundary cells), across the torus wrap and at corners,
and how fast they are built.

The references here are deliberately naive: ownership is looked up through
``Shard.cell_ids`` (tests/partitionkit.py) and neighbours through
``Grid.moore_neighbours``, so the layout's fast paths (interior offsets, owner table,
mirrored ``incoming``) are checked against a brute force over all cells.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partitionkit import grid_and_k, owners, thin_grids
from shared.grid import Grid
from shared.partition import (
    Shard,
    ShardLayout,
    cross_shard_pairs,
    owner_table,
    partition,
    shard_layout,
    shard_layouts,
)


def brute_pairs(grid: Grid, shards: list[Shard]) -> set[tuple[int, int]]:
    owner = owners(grid, shards)
    return {(a, b) for a in range(grid.cells) for b in grid.moore_neighbours(a)
            if owner[a] != owner[b]}


# --------------------------------------------------------------------- layouts


def check_layouts(grid: Grid, shards: list[Shard]) -> list[ShardLayout]:
    """Every invariant of every layout, against the brute-force references."""
    owner = owners(grid, shards)
    layouts = [shard_layout(grid, shards, s.index) for s in shards]
    assert layouts == shard_layouts(grid, shards)
    from_incoming: set[tuple[int, int]] = set()
    from_outgoing: set[tuple[int, int]] = set()
    for layout in layouts:
        me = layout.shard.index
        assert layout.shard == shards[me]
        assert layout.cells == shards[me].cell_ids(grid)
        assert layout.local_index == {c: i for i, c in enumerate(layout.cells)}
        assert len(layout.local_neighbours) == len(layout.outgoing) == len(layout.cells)
        remote_of = {i: set() for i in range(len(layout.cells))}
        for j, remote in layout.incoming.items():
            assert j != me and remote
            for cell, locals_ in remote.items():
                assert owner[cell] == j
                assert list(locals_) == sorted(set(locals_))
                for i in locals_:
                    remote_of[i].add(cell)
                    from_incoming.add((layout.cells[i], cell))
        for i, cell in enumerate(layout.cells):
            mine = layout.local_neighbours[i]
            assert list(mine) == sorted(set(mine)) and i not in mine
            neighbours = set(grid.moore_neighbours(cell))
            assert {layout.cells[j] for j in mine} | remote_of[i] == neighbours
            assert {layout.cells[j] for j in mine} == {b for b in neighbours if owner[b] == me}
            expected_out = sorted({owner[b] for b in neighbours} - {me})
            assert list(layout.outgoing[i]) == expected_out
            from_outgoing |= {(cell, b) for b in neighbours if owner[b] in layout.outgoing[i]}
        assert me not in layout.neighbour_shards
        assert list(layout.neighbour_shards) == sorted(layout.incoming)
        assert set(layout.neighbour_shards) == set().union(*map(set, layout.outgoing))
        assert layout.boundary_cells == sum(1 for i in remote_of if remote_of[i])
    expected = brute_pairs(grid, shards)
    assert from_incoming == expected
    assert from_outgoing == expected
    assert cross_shard_pairs(grid, shards) == expected
    return layouts


@settings(max_examples=60, deadline=None)
@given(grid_and_k(max_side=24, max_k=30))
def test_layouts_describe_exactly_the_cross_shard_pairs(case):
    grid, k = case
    check_layouts(grid, partition(grid, k))


@settings(max_examples=30, deadline=None)
@given(thin_grids, st.data())
def test_layouts_of_thin_grids(grid, data):
    k = data.draw(st.integers(1, grid.cells))
    check_layouts(grid, partition(grid, k))


def test_layouts_exhaustively_on_small_grids():
    for width in range(1, 6):
        for height in range(1, 6):
            grid = Grid(width, height)
            for k in range(1, grid.cells + 1):
                check_layouts(grid, partition(grid, k))


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 2), (4, 4)])
def test_layouts_with_one_cell_per_shard(size):
    grid = Grid(*size)
    check_layouts(grid, partition(grid, grid.cells))


def test_sender_and_receiver_tables_mirror_each_other():
    grid = Grid(13, 11)
    layouts = check_layouts(grid, partition(grid, 5))
    for sender in layouts:
        for i, targets in enumerate(sender.outgoing):
            for j in targets:
                receiver = layouts[j].incoming[sender.shard.index]
                assert sender.cells[i] in receiver


# ------------------------------------------------------------ wrap and corners


def test_single_shard_keeps_every_pair_local():
    grid = Grid(5, 4)
    (layout,) = check_layouts(grid, partition(grid, 1))
    assert layout.neighbour_shards == () and layout.incoming == {}
    assert layout.boundary_cells == 0
    assert all(out == () for out in layout.outgoing)
    assert layout.local_neighbours[0] == grid.moore_neighbours(0) == (1, 4, 5, 6, 9, 15, 16, 19)


def test_two_full_width_bands_wrap_locally_across_x():
    grid = Grid(3, 20)
    shards = partition(grid, 2)
    assert [(s.x0, s.y0, s.width, s.height) for s in shards] == [(0, 0, 3, 10), (0, 10, 3, 10)]
    top, bottom = check_layouts(grid, shards)
    # cell (0, 5): left neighbours (2, 4..6) are across the x wrap but in the same band
    i = top.local_index[grid.cell_id(0, 5)]
    wrapped = {grid.cell_id(2, y) for y in (4, 5, 6)}
    assert {top.cells[j] for j in top.local_neighbours[i]} >= wrapped
    assert top.outgoing[i] == ()
    # the top row of the top band meets the bottom band across the y wrap
    corner = top.local_index[grid.cell_id(0, 0)]
    assert top.outgoing[corner] == (1,)
    assert top.neighbour_shards == (1,) and bottom.neighbour_shards == (0,)
    assert set(top.incoming[1]) == {grid.cell_id(x, y) for x in range(3) for y in (10, 19)}


def test_one_wide_grid_in_two_shards():
    grid = Grid(1, 10)
    top, bottom = check_layouts(grid, partition(grid, 2))
    assert top.cells == (0, 1, 2, 3, 4) and bottom.cells == (5, 6, 7, 8, 9)
    assert top.local_neighbours[0] == (1,) and top.outgoing[0] == (1,)
    assert top.incoming[1] == {5: (4,), 9: (0,)}
    assert top.boundary_cells == 2


def test_hand_made_full_width_bands():
    grid = Grid(6, 4)
    shards = [Shard(0, 0, 0, 6, 2), Shard(1, 0, 2, 6, 2)]
    top, _ = check_layouts(grid, shards)
    assert top.local_neighbours[0] == (1, 5, 6, 7, 11)
    assert top.outgoing[0] == (1,)
    assert top.incoming[1][grid.cell_id(5, 3)] == (0, 4, 5)


def test_corner_of_a_two_by_two_split_touches_three_shards():
    grid = Grid(10, 10)
    shards = partition(grid, 4)
    assert [(s.x0, s.y0, s.width, s.height) for s in shards] == \
        [(0, 0, 5, 5), (5, 0, 5, 5), (0, 5, 5, 5), (5, 5, 5, 5)]
    layouts = check_layouts(grid, shards)
    first = layouts[0]
    owner = owner_table(grid, shards)
    for x, y in [(4, 4), (0, 0), (4, 0), (0, 4)]:  # all four corners of shard 0
        cell = grid.cell_id(x, y)
        assert first.outgoing[first.local_index[cell]] == (1, 2, 3)
        assert {owner[b] for b in grid.moore_neighbours(cell)} == {0, 1, 2, 3}
    inner = grid.cell_id(4, 4)
    assert sorted(owner[b] for b in grid.moore_neighbours(inner)) == [0, 0, 0, 1, 1, 2, 2, 3]
    assert first.neighbour_shards == (1, 2, 3)
    assert first.boundary_cells == 16
    assert first.outgoing[first.local_index[grid.cell_id(2, 2)]] == ()


def test_shard_layout_rejects_bad_index():
    grid = Grid(4, 4)
    shards = partition(grid, 2)
    for index in (-1, 2):
        with pytest.raises(ValueError, match=rf"index\(={index}\) must be in 0 .. 1"):
            shard_layout(grid, shards, index)


# --------------------------------------------------------------------- timings


@pytest.mark.parametrize("size, k", [((400, 400), 8), ((316, 316), 2)])
def test_layouts_are_fast(size, k):
    grid = Grid(*size)
    shards = partition(grid, k)
    start = time.perf_counter()
    layouts = [shard_layout(grid, shards, i) for i in range(k)]
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"{k} layouts of {size} took {elapsed:.2f} s"
    assert sum(len(layout.cells) for layout in layouts) == grid.cells
