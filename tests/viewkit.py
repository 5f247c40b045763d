"""A pyte terminal that reads the live view's picture back as palette colours, for the
view's tests (tests/test_view_*.py)."""

from __future__ import annotations

import pyte
from pyte.graphics import BG_AIXTERM, BG_ANSI, FG_AIXTERM, FG_ANSI, FG_BG_256

from coordinator.view import StatusInfo
from coordinator.view.palette import PALETTES

UPPER, LOWER = "\u2580", "\u2584"
STATUS = StatusInfo(3.0, 0.83, 1834.0, {0: 30.0, 1: 29.8}, {0: 2.1, 1: 3.4}, 8, 8, 812, 1000)


class Size:
    """A size_fn whose answer the test changes."""

    def __init__(self, cols: int, rows: int) -> None:
        self.value = (cols, rows)

    def __call__(self) -> tuple[int, int]:
        return self.value


def _names(depth: int) -> dict[tuple[str, bool], int]:
    """pyte's name of each palette colour (as foreground, as background) -> index."""
    p = PALETTES[depth]
    indices = {*p.levels, p.unlit, p.border, *p.hues}
    out: dict[tuple[str, bool], int] = {}
    for i in indices:
        if depth == 256:
            out[(FG_BG_256[i], False)] = out[(FG_BG_256[i], True)] = i
        else:
            fg = FG_ANSI[30 + i] if i < 8 else FG_AIXTERM[90 + i - 8]
            bg = BG_ANSI[40 + i] if i < 8 else BG_AIXTERM[100 + i - 8]
            out[(fg, False)], out[(bg, True)] = i, i
    return out


class Term:
    """A pyte screen fed with everything a view renders; pixels read as colour indices."""

    def __init__(self, cols: int, rows: int, depth: int = 256) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.Stream(self.screen)
        self._names = _names(depth)

    def feed(self, text: str) -> str:
        self.stream.feed(text)
        return text

    def pixel(self, sx: int, sy: int) -> int | None:
        """Palette colour index of screen pixel (sx, sy); None: the terminal's own."""
        char = self.screen.buffer[sy // 2][sx]
        if char.data == UPPER:
            colour, bg = (char.fg, False) if sy % 2 == 0 else (char.bg, True)
        elif char.data == LOWER:
            colour, bg = (char.fg, False) if sy % 2 == 1 else ("default", True)
        else:
            assert char.data == " ", repr(char.data)
            colour, bg = char.bg, True
        if colour == "default":
            return None
        return self._names[(colour, bg)]

    def pixels(self, width: int, height: int) -> dict[tuple[int, int], int | None]:
        return {(x, y): self.pixel(x, y) for y in range(height) for x in range(width)}

    def line(self, row: int) -> str:
        return self.screen.display[row]
