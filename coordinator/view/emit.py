"""Changed character cells -> the escape-sequence text that draws them.

:class:`Emitter` turns (character cell index, glyph key) pairs, in screen order, into
text: a cursor move only where the run of changed cells breaks (or a row starts),
an SGR only where the colours differ from the previous cell written, then the glyph.
The decisions are made with numpy over the whole frame and the pieces joined once,
so a frame costs a few array operations plus one string join, whichever view draws
it (a phase view may change most of the picture every frame).

What it is not: a diff. Which cells changed is the canvases' business; this module
only spells them.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

from coordinator.view._ansi import RESET, move
from coordinator.view.geometry import Geometry
from coordinator.view.palette import Glyph

__all__ = ["Emitter"]


class Emitter:
    """Spells changed cells of a picture laid out by `geometry`, in `glyphs`
    (indexed by glyph key), for a picture whose top-left corner is the screen's."""

    def __init__(self, geometry: Geometry, glyphs: Sequence[Glyph]) -> None:
        self.width = geometry.screen_w
        moves = [move(row, col) for row in range(geometry.char_rows) for col in range(self.width)]
        sgrs = {sgr: i for i, sgr in enumerate(sorted({sgr for sgr, _ in glyphs}))}
        # pieces: every cursor move, then each glyph with its SGR, then each glyph alone
        self._with_sgr = len(moves)
        self._alone = self._with_sgr + len(glyphs)
        self._pieces = [*moves, *(sgr + char for sgr, char in glyphs), *(char for _, char in glyphs)]
        self._key_sgr = np.array([sgrs[sgr] for sgr, _ in glyphs], dtype=np.int64)

    def text(self, cells: Sequence[int] | np.ndarray, keys: Sequence[int] | np.ndarray) -> str:
        """The text for cells `cells` (ascending) showing glyph keys `keys`; "" for none."""
        c = np.asarray(cells, dtype=np.int64)
        n = len(c)
        if not n:
            return ""
        k = np.asarray(keys, dtype=np.int64)
        moved = np.ones(n, dtype=bool)
        moved[1:] = (c[1:] != c[:-1] + 1) | (c[1:] % self.width == 0)
        sgr = self._key_sgr[k]
        recoloured = np.ones(n, dtype=bool)
        recoloured[1:] = sgr[1:] != sgr[:-1]
        pieces = np.empty((n, 2), dtype=np.int64)
        pieces[:, 0] = np.where(moved, c, -1)
        pieces[:, 1] = k + np.where(recoloured, self._with_sgr, self._alone)
        ids = pieces.ravel()
        ids = ids[ids >= 0].tolist()  # at least the first cell's move and glyph: two
        return "".join(operator.itemgetter(*ids)(self._pieces)) + RESET
