"""Naive references and hypothesis strategies shared by tests/test_partition.py and
tests/test_shard_layout.py: ownership looked up through ``Shard.cell_ids``, and random
grids with a shard count."""

from __future__ import annotations

from hypothesis import strategies as st

from shared.grid import Grid
from shared.partition import Shard


def owners(grid: Grid, shards: list[Shard]) -> dict[int, int]:
    """cell -> shard index, asserting that no cell is claimed twice."""
    owner: dict[int, int] = {}
    for shard in shards:
        for cell in shard.cell_ids(grid):
            assert cell not in owner, f"cell {cell} in shards {owner[cell]} and {shard.index}"
            owner[cell] = shard.index
    return owner


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
