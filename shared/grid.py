"""The firefly world: a W×H grid of cells wrapped into a torus, and its Moore neighbourhood.

Picture a sheet of graph paper whose left edge is glued to its right edge and top edge
to its bottom edge: every cell has the same eight neighbours (the Moore neighbourhood),
and nobody sits on an edge. Cells are numbered row-major, ``cell = y * width + x``.

On grids narrower than 3 in a dimension the eight offsets alias onto each other (on a
2-wide grid, "left" and "right" are the same cell; on a 1-wide grid they are the cell
itself). A cell is never its own neighbour and each neighbour is listed once, so a
1×1 grid has no neighbours, a 2×2 grid has 3 and a 1×N grid (N >= 3) has 2.

This module is geometry only: it knows nothing of shards (see ``shared.partition``),
of agents or of time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Grid", "parse_grid"]

_OFFSETS = tuple((dx, dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dx or dy)
_GRID_RE = re.compile(r"\s*([0-9]+)\s*(?:[xX×]\s*([0-9]+)\s*)?")


@dataclass(frozen=True)
class Grid:
    """A ``width`` × ``height`` torus of cells numbered row-major from 0."""

    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"grid {name}(={value!r}) must be an integer >= 1")

    @property
    def cells(self) -> int:
        """Number of cells, ``width * height``."""
        return self.width * self.height

    def cell_id(self, x: int, y: int) -> int:
        """Id of the cell at column ``x``, row ``y``; both wrap around the torus."""
        return (y % self.height) * self.width + (x % self.width)

    def coords(self, cell: int) -> tuple[int, int]:
        """``(x, y)`` of a cell id in ``0 .. cells - 1``."""
        if not 0 <= cell < self.cells:
            raise ValueError(
                f"cell(={cell}) is outside the {self.width}x{self.height} grid; "
                f"ids run from 0 to {self.cells - 1}"
            )
        y, x = divmod(cell, self.width)
        return x, y

    def moore_neighbours(self, cell: int) -> tuple[int, ...]:
        """The distinct Moore neighbours of ``cell`` on the torus, ascending, never itself."""
        x, y = self.coords(cell)
        found = {self.cell_id(x + dx, y + dy) for dx, dy in _OFFSETS}
        found.discard(cell)
        return tuple(sorted(found))

    def neighbour_table(self) -> list[tuple[int, ...]]:
        """``moore_neighbours(cell)`` for every cell, indexed by cell id."""
        if self.width < 3 or self.height < 3:
            return [self.moore_neighbours(cell) for cell in range(self.cells)]
        return _wide_neighbour_table(self.width, self.height)


def _sorted_triple(centre: int, size: int) -> tuple[tuple[int, int, int], int]:
    """The coordinates ``centre - 1, centre, centre + 1`` (mod size) ascending, and
    the position of ``centre`` in that triple. Needs ``size >= 3``."""
    triple = sorted(((centre - 1) % size, centre, (centre + 1) % size))
    return (triple[0], triple[1], triple[2]), triple.index(centre)


def _wide_neighbour_table(width: int, height: int) -> list[tuple[int, ...]]:
    """Neighbour table for grids at least 3×3, where the 8 neighbours are distinct.

    Rows and columns are sorted separately; because a row offset is a multiple of
    ``width`` and a column is below ``width``, "row-major over sorted rows and sorted
    columns" is already ascending order, so no per-cell sort is needed.
    """
    columns = [_sorted_triple(x, width) for x in range(width)]
    table: list[tuple[int, ...]] = []
    append = table.append
    for y in range(height):
        (a, b, c), row_pos = _sorted_triple(y, height)
        r0, r1, r2 = a * width, b * width, c * width
        for (c0, c1, c2), col_pos in columns:
            nine = (r0 + c0, r0 + c1, r0 + c2, r1 + c0, r1 + c1, r1 + c2,
                    r2 + c0, r2 + c1, r2 + c2)
            skip = row_pos * 3 + col_pos
            append(nine[:skip] + nine[skip + 1:])
    return table


def parse_grid(text: str) -> Grid:
    """Parse ``"WxH"`` (``"100x80"``) or ``"N"`` (``"100"``, an N×N grid)."""
    match = _GRID_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"grid {text!r} must be WxH or N, like 100x80 or 100")
    width = int(match.group(1))
    height = int(match.group(2)) if match.group(2) is not None else width
    if width < 1 or height < 1:
        raise ValueError(f"grid {text!r} must have width and height >= 1, like 100x80")
    return Grid(width, height)
