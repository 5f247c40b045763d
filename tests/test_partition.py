"""Tests of shared.partition: the cut into shards and every shard's edge tables.

The references here are deliberately naive: ownership is looked up through
``Shard.cell_ids`` and neighbours through ``Grid.moore_neighbours``, so the layout's
fast paths (interior offsets, owner table, mirrored ``incoming``) are checked against
a brute force over all cells.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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

# ----------------------------------------------------------------- references


def owners(grid: Grid, shards: list[Shard]) -> dict[int, int]:
    """cell -> shard index, asserting that no cell is claimed twice."""
    owner: dict[int, int] = {}
    for shard in shards:
        for cell in shard.cell_ids(grid):
            assert cell not in owner, f"cell {cell} in shards {owner[cell]} and {shard.index}"
            owner[cell] = shard.index
    return owner


def brute_pairs(grid: Grid, shards: list[Shard]) -> set[tuple[int, int]]:
    owner = owners(grid, shards)
    return {(a, b) for a in range(grid.cells) for b in grid.moore_neighbours(a)
            if owner[a] != owner[b]}


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


@st.composite
def grid_and_k(draw, max_side: int = 40, max_k: int | None = None):
    width = draw(st.integers(1, max_side))
    height = draw(st.integers(1, max_side))
    top = width * height if max_k is None else min(width * height, max_k)
    k = draw(st.one_of(st.sampled_from(sorted({1, min(2, top), min(3, top), top})),
                       st.integers(1, top)))
    return Grid(width, height), k


thin_grids = st.builds(lambda w, h, swap: Grid(h, w) if swap else Grid(w, h),
                       st.integers(1, 2), st.integers(1, 40), st.booleans())


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
