"""Cutting the torus into k rectangular shards, and each shard's edge tables.

Picture the grid as a field divided among k farmers. ``partition`` draws the fences:
horizontal bands of rows, each band cut into blocks of columns (or the same with rows
and columns swapped), choosing the layout with the shortest total fence, so that few
fireflies sit next to a neighbour's field. When k factors into a grid that fits, the
bands all hold the same number of blocks and the result is a regular r×c grid of
blocks; for awkward k (a prime, k wider than the grid) bands hold different numbers of
blocks, so every k from 1 to W·H works. See ``docs/partition.md`` for the choices.

``shard_layout`` turns one block into what a worker needs at run time: its cells in
local order, local neighbour lists, and the tables that route a flash across a fence
(``outgoing`` on the sender, ``incoming`` on the receiver).

Balance guarantee (tested): each band's height and each block's width are within one
cell of their exact real-valued shares, so every shard's cell count differs from the
ideal W·H/k by less than one of its rows plus one of its columns plus one cell
(``abs(cells - W*H/k) < width + height + 1``); widths inside a band differ by at most 1.

This module computes geometry only; it opens no sockets and knows nothing of agents.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from collections.abc import Iterable, Sequence

from shared.grid import Grid

__all__ = [
    "Shard",
    "ShardLayout",
    "cross_shard_pairs",
    "owner_table",
    "partition",
    "shard_layout",
    "shard_layouts",
]


# --------------------------------------------------------------------------- shards


@dataclass(frozen=True)
class Shard:
    """A rectangle of the grid: columns ``x0 .. x0+width-1``, rows ``y0 .. y0+height-1``.

    Shards produced by ``partition`` never wrap around the torus edge; coordinates are
    plain grid coordinates (``0 <= x < grid.width``), not taken modulo anything.
    """

    index: int
    x0: int
    y0: int
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("index", "x0", "y0"):
            if getattr(self, name) < 0:
                raise ValueError(f"shard {name}(={getattr(self, name)}) must be >= 0")
        for name in ("width", "height"):
            if getattr(self, name) < 1:
                raise ValueError(f"shard {name}(={getattr(self, name)}) must be >= 1")

    @property
    def cells(self) -> int:
        """Number of cells in the block."""
        return self.width * self.height

    def contains(self, x: int, y: int) -> bool:
        """Whether grid coordinates ``(x, y)`` lie inside the block."""
        return self.x0 <= x < self.x0 + self.width and self.y0 <= y < self.y0 + self.height

    def cell_ids(self, grid: Grid) -> tuple[int, ...]:
        """Global cell ids of the block, row-major inside the block."""
        if self.x0 + self.width > grid.width or self.y0 + self.height > grid.height:
            raise ValueError(
                f"shard {self} does not fit the {grid.width}x{grid.height} grid; "
                "build shards with partition(grid, k)"
            )
        starts = range(self.y0 * grid.width + self.x0,
                       (self.y0 + self.height) * grid.width, grid.width)
        return tuple(chain.from_iterable(range(s, s + self.width) for s in starts))


# ------------------------------------------------------------------- partitioning


@dataclass(frozen=True)
class _Plan:
    """A candidate layout: bands along y (or along x when ``transposed``)."""

    transposed: bool
    band_blocks: tuple[int, ...]  # blocks in each band
    band_sizes: tuple[int, ...]   # rows (columns when transposed) in each band
    across: int                   # grid length across the bands (W, or H transposed)

    @property
    def regular(self) -> bool:
        """Every band holds the same number of blocks: an r×c grid of blocks."""
        return len(set(self.band_blocks)) == 1

    @property
    def cut(self) -> int:
        """Total fence length on the torus: cell edges separating two shards."""
        bands = len(self.band_blocks)
        fences = bands * self.across if bands > 1 else 0
        for blocks, size in zip(self.band_blocks, self.band_sizes):
            fences += blocks * size if blocks > 1 else 0
        return fences

    @property
    def elongation(self) -> float:
        """Long side over short side of the least square block (1.0 is square)."""
        return max(max(size, self.across / blocks) / min(size, self.across / blocks)
                   for blocks, size in zip(self.band_blocks, self.band_sizes))

    @property
    def largest(self) -> int:
        """Cell count of the largest block."""
        return max(size * -(-self.across // blocks)
                   for blocks, size in zip(self.band_blocks, self.band_sizes))


def partition(grid: Grid, k: int) -> list[Shard]:
    """Split ``grid`` into ``k`` rectangular shards covering every cell exactly once.

    Among all band layouts (bands of rows split into columns, and the transpose) the
    one with the shortest cut wins; ties go to the smaller largest block, then to
    the more nearly square blocks, then to a regular r×c grid. Shards are indexed
    row-major by their top-left corner.
    """
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= grid.cells:
        raise ValueError(
            f"k(={k!r}) shards cannot split a {grid.width}x{grid.height} grid of "
            f"{grid.cells} cells; choose k from 1 to {grid.cells}"
        )
    best = min(_candidates(grid, k),
               key=lambda p: (p.cut, p.largest, p.elongation, not p.regular,
                              p.transposed, len(p.band_blocks)))
    return _build(best, grid)


def _candidates(grid: Grid, k: int) -> Iterable[_Plan]:
    """Every band layout of ``k`` blocks that fits, both orientations.

    A regular layout appears once (row bands); its transpose is the same blocks.
    """
    for transposed in (False, True):
        across, along = (grid.height, grid.width) if transposed else (grid.width, grid.height)
        for bands in range(-(-k // across), min(along, k) + 1):
            blocks = tuple(_spread(k, bands))
            if transposed and len(set(blocks)) == 1:
                continue
            sizes = tuple(_proportional(along, blocks))
            yield _Plan(transposed, blocks, sizes, across)


def _spread(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` integers differing by at most 1, larger ones
    spread evenly (Bresenham); all equal when ``parts`` divides ``total``."""
    return [total * (i + 1) // parts - total * i // parts for i in range(parts)]


def _even(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` integers differing by at most 1, larger first."""
    base, extra = divmod(total, parts)
    return [base + 1 if i < extra else base for i in range(parts)]


def _proportional(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split into ``len(weights)`` parts >= 1 proportional to ``weights``.

    Largest-remainder rounding, lifting any part that would be 0 to 1 and taking
    the excess from the parts that are furthest above their exact share. Equal
    weights give the same split as ``_even``. Needs ``total >= len(weights)``.
    """
    scale = sum(weights)
    parts = [max(1, total * w // scale) for w in weights]
    # remainder[i] = (exact share - part) * scale, kept in integers
    remainder = [total * w - p * scale for w, p in zip(weights, parts)]
    order = sorted(range(len(parts)), key=lambda i: (-remainder[i], i))
    short = total - sum(parts)
    for i in order[:max(short, 0)]:
        parts[i] += 1
    while short < 0:
        donors = sorted((i for i in range(len(parts)) if parts[i] > 1),
                        key=lambda i: (remainder[i], -i))
        for i in donors[:-short]:
            parts[i] -= 1
            remainder[i] += scale
            short += 1
    return parts


def _build(plan: _Plan, grid: Grid) -> list[Shard]:
    """The shards of a plan, indexed row-major by top-left corner."""
    rects: list[tuple[int, int, int, int]] = []  # (y0, x0, height, width)
    start = 0
    for blocks, size in zip(plan.band_blocks, plan.band_sizes):
        offset = 0
        for length in _even(plan.across, blocks):
            if plan.transposed:
                rects.append((offset, start, length, size))
            else:
                rects.append((start, offset, size, length))
            offset += length
        start += size
    rects.sort()
    return [Shard(i, x0, y0, w, h) for i, (y0, x0, h, w) in enumerate(rects)]


# ------------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class ShardLayout:
    """What one worker needs to run its shard: local numbering and edge routing.

    Local agent ``i`` lives on global cell ``cells[i]``. A flash of agent ``i`` nudges
    the local agents ``local_neighbours[i]`` and is sent once to each shard in
    ``outgoing[i]``. A flash arriving from shard ``j`` about remote cell ``c`` nudges
    the local agents ``incoming[j][c]``. Neighbours across the torus wrap that fall in
    this same shard (k=1, full-width bands) are local neighbours, never messages.
    """

    shard: Shard
    cells: tuple[int, ...]
    local_index: dict[int, int]
    local_neighbours: tuple[tuple[int, ...], ...]
    outgoing: tuple[tuple[int, ...], ...]
    incoming: dict[int, dict[int, tuple[int, ...]]]
    neighbour_shards: tuple[int, ...]

    @property
    def boundary_cells(self) -> int:
        """Number of local agents with at least one neighbour in another shard."""
        return sum(1 for shards in self.outgoing if shards)


def owner_table(grid: Grid, shards: Sequence[Shard]) -> list[int]:
    """Shard index owning each cell, indexed by cell id.

    Raises ValueError when the shards overlap, leave a cell uncovered, or are not
    indexed ``0 .. len(shards) - 1`` in order (the output of ``partition`` is).
    """
    owner = [-1] * grid.cells
    for position, shard in enumerate(shards):
        if shard.index != position:
            raise ValueError(f"shards[{position}].index(={shard.index}) must be {position}")
        width, fill = shard.width, [shard.index] * shard.width
        for row_start in shard.cell_ids(grid)[::width]:
            if owner[row_start:row_start + width] != [-1] * width:
                raise ValueError(f"shard {shard} overlaps another shard")
            owner[row_start:row_start + width] = fill
    if -1 in owner:
        cell = owner.index(-1)
        raise ValueError(f"cell {cell} {grid.coords(cell)} belongs to no shard")
    return owner


def shard_layout(grid: Grid, shards: Sequence[Shard], index: int) -> ShardLayout:
    """The layout of ``shards[index]`` (``shards`` as returned by ``partition``)."""
    if not 0 <= index < len(shards):
        raise ValueError(f"index(={index}) must be in 0 .. {len(shards) - 1}")
    return _layout(grid, shards[index], owner_table(grid, shards))


def shard_layouts(grid: Grid, shards: Sequence[Shard]) -> list[ShardLayout]:
    """The layouts of all shards, sharing one owner table (for the coordinator and tests)."""
    owner = owner_table(grid, shards)
    return [_layout(grid, shard, owner) for shard in shards]


def cross_shard_pairs(grid: Grid, shards: Sequence[Shard]) -> set[tuple[int, int]]:
    """Ordered pairs ``(a, b)``: ``b`` is a Moore neighbour of ``a`` in another shard."""
    owner = owner_table(grid, shards)
    return {(a, b)
            for a in range(grid.cells)
            for b in grid.moore_neighbours(a)
            if owner[a] != owner[b]}


def _layout(grid: Grid, shard: Shard, owner: Sequence[int]) -> ShardLayout:
    """Build one layout. Interior cells take a fast path: all 8 neighbours are local
    at fixed offsets. Only rim cells look up owners, and flashes cross only at the
    rim, so ``incoming`` is the mirror image of the rim's remote neighbours (the
    Moore relation is symmetric)."""
    cells = shard.cell_ids(grid)
    # The neighbour tuples hold these int objects (one per local index) rather than
    # eight new ones each: ~220 bytes less per agent.
    index = list(range(len(cells)))
    local_index = dict(zip(cells, index))
    w, h = shard.width, shard.height
    local: list[tuple[int, ...]] = [()] * len(cells)
    outgoing: list[tuple[int, ...]] = [()] * len(cells)
    incoming: dict[int, dict[int, list[int]]] = {}
    for i in range(len(cells)):
        lx, ly = i % w, i // w
        if 0 < lx < w - 1 and 0 < ly < h - 1:
            local[i] = (index[i - w - 1], index[i - w], index[i - w + 1], index[i - 1],
                        index[i + 1], index[i + w - 1], index[i + w], index[i + w + 1])
        else:
            local[i], outgoing[i] = _rim_cell(grid, shard.index, cells[i], i,
                                              owner, local_index, incoming)
    frozen_incoming = {j: {c: tuple(sorted(ls)) for c, ls in sorted(remote.items())}
                       for j, remote in sorted(incoming.items())}
    return ShardLayout(shard, cells, local_index, tuple(local), tuple(outgoing),
                       frozen_incoming, tuple(frozen_incoming))


def _rim_cell(
    grid: Grid, me: int, cell: int, i: int, owner: Sequence[int],
    local_index: dict[int, int], incoming: dict[int, dict[int, list[int]]],
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Local neighbours and outgoing shards of a rim cell; records it in ``incoming``."""
    local: list[int] = []
    remote_shards: set[int] = set()
    for neighbour in grid.moore_neighbours(cell):
        shard = owner[neighbour]
        if shard == me:
            local.append(local_index[neighbour])
        else:
            remote_shards.add(shard)
            incoming.setdefault(shard, {}).setdefault(neighbour, []).append(i)
    return tuple(sorted(local)), tuple(sorted(remote_shards))
