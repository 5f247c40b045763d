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
        sgrs = sorted({sgr for sgr, _ in glyphs})
        chars = sorted({char for _, char in glyphs})
        sgr_id = {sgr: i for i, sgr in enumerate(sgrs)}
        char_id = {char: i for i, char in enumerate(chars)}
        self._sgr_base = len(moves)
        self._char_base = self._sgr_base + len(sgrs)
        self._pieces = [*moves, *sgrs, *chars]
        self._key_sgr = np.array([sgr_id[sgr] for sgr, _ in glyphs], dtype=np.int64)
        self._key_char = np.array([char_id[char] for _, char in glyphs], dtype=np.int64)

    def text(self, cells: Sequence[int] | np.ndarray, keys: Sequence[int] | np.ndarray) -> str:
        """The text for cells `cells` (ascending) showing glyph keys `keys`; "" for none."""
        c = np.asarray(cells, dtype=np.int64)
        if not len(c):
            return ""
        k = np.asarray(keys, dtype=np.int64)
        sgr = self._key_sgr[k]
        pieces = np.full((len(c), 3), -1, dtype=np.int64)
        moved = np.ones(len(c), dtype=bool)
        moved[1:] = (c[1:] != c[:-1] + 1) | (c[1:] % self.width == 0)
        pieces[moved, 0] = c[moved]
        recoloured = np.ones(len(c), dtype=bool)
        recoloured[1:] = sgr[1:] != sgr[:-1]
        pieces[recoloured, 1] = sgr[recoloured] + self._sgr_base
        pieces[:, 2] = self._key_char[k] + self._char_base
        flat = pieces.ravel()
        table = self._pieces
        return "".join([table[i] for i in flat[flat >= 0].tolist()]) + RESET
