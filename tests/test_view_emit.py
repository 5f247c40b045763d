"""coordinator.view.emit: a cursor move only where a run of changed cells breaks or a
row starts, an SGR only where the colours change, then the glyph."""

from __future__ import annotations

import numpy as np

from coordinator.view._ansi import RESET, move
from coordinator.view.emit import Emitter
from coordinator.view.geometry import Geometry

GLYPHS = [("\x1b[0m", " "), ("\x1b[0;41m", " "), ("\x1b[0;38;5;1;48;5;2m", "\u2580")]


def test_moves_and_colours_only_where_they_change() -> None:
    emitter = Emitter(Geometry(4, 4, 4, 4), GLYPHS)  # 4 columns, 2 character rows
    text = emitter.text([1, 2, 3, 4, 6], [1, 1, 2, 2, 2])
    assert text == (move(0, 1) + "\x1b[0;41m" + "  " + "\x1b[0;38;5;1;48;5;2m" + "\u2580"
                    + move(1, 0) + "\u2580" + move(1, 2) + "\u2580" + RESET)


def test_numpy_input_and_nothing_to_write() -> None:
    emitter = Emitter(Geometry(4, 4, 4, 4), GLYPHS)
    assert emitter.text(np.array([], dtype=np.int64), np.array([], dtype=np.int64)) == ""
    assert emitter.text(np.array([5]), np.array([0])) == move(1, 1) + "\x1b[0m " + RESET
