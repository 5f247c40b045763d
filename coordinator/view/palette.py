"""Colours and glyphs of the live view: glyph key -> (SGR sequence, character).

A firefly glows yellow: brightness levels map to xterm 256-colour indices from dim
olive (58) to pale yellow-white (230) at the moment of the flash. Dark pixels show
the terminal's own background, so the view reads on dark and light themes; dark
pixels on a shard border are dark grey (237).

A character cell holds two pixels with the upper half block '▀': its foreground is
the top pixel, its background the bottom pixel. When only the bottom pixel is lit
the lower half block '▄' is used instead, so a dark top keeps the default
background.

What it is not: a theme system. One palette, chosen to read well; `glyph_table`
takes other colour indices if a caller wants them.
"""

from __future__ import annotations

from collections.abc import Sequence

from coordinator.view._ansi import CSI, RESET

__all__ = ["BORDER_COLOUR", "LEVEL_COLOURS", "Glyph", "glyph_table"]

LEVEL_COLOURS: tuple[int, ...] = (58, 100, 142, 184, 226, 230)
"""256-colour index per brightness level 1..6 (dimmest first)."""

BORDER_COLOUR = 237
"""256-colour index of a dark pixel on a shard border."""

Glyph = tuple[str, str]
"""(SGR sequence that sets the colours, the character to print)."""

UPPER_HALF = "\u2580"
LOWER_HALF = "\u2584"


def glyph_table(
    level_colours: Sequence[int] = LEVEL_COLOURS, border_colour: int = BORDER_COLOUR
) -> list[Glyph]:
    """Glyph of every key ``top * codes + bottom`` (codes = len(level_colours) + 2)."""
    colours: list[int | None] = [None, *level_colours, border_colour]
    return [_glyph(top, bottom) for top in colours for bottom in colours]


def _glyph(top: int | None, bottom: int | None) -> Glyph:
    if top is None and bottom is None:
        return RESET, " "
    if bottom is None:
        return f"{CSI}0;38;5;{top}m", UPPER_HALF
    if top is None:
        return f"{CSI}0;38;5;{bottom}m", LOWER_HALF
    return f"{CSI}0;38;5;{top};48;5;{bottom}m", UPPER_HALF
