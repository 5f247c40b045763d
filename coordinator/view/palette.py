"""Colours and glyphs of the live view: glyph key -> (SGR sequence, character).

Two palettes, one per colour depth the terminal announces (:func:`colour_depth`):
256 colours (xterm indices) and the 16 standard ones.

* Flash view: a firefly glows yellow, from dim olive to pale yellow-white at the
  moment of the flash (256: 58, 100, 142, 184, 226, 230; 16: yellow, bright yellow,
  bright white); an unlit firefly is dark grey (256: 236; 16: bright black), never
  the terminal's background, so the grid's extent always shows; an unlit firefly on
  a shard border is mid grey (256: 244; 16: white).
* Phase view: a cyclic hue wheel, phase 0 (just flashed) red, then orange, yellow,
  green, cyan, blue, violet, magenta and back to red as the phase reaches the period
  (256: twelve hues from the colour cube; 16: the six bright hues). No phase known
  yet is the dim grey, shard borders the same grey as in the flash view.

A character cell holds two pixels: '▀' with the top pixel as foreground and the
bottom one as background; a space on the background colour when both are the same;
'▄' (or '▀') on the terminal's own background when one half has no pixel (below an
odd last row).

What it is not: a theme system. Two fixed palettes, chosen to read well on dark and
light backgrounds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coordinator.view._ansi import CSI, RESET

__all__ = ["DEPTHS", "Glyph", "Palette", "PALETTES", "colour_depth", "glyph_table"]

DEPTHS = (16, 256)


@dataclass(frozen=True)
class Palette:
    """The colour indices of one depth (0..15 for 16 colours, 0..255 for 256)."""

    depth: int
    levels: tuple[int, ...]  # flash brightness 1..6, dimmest first
    unlit: int  # an unlit firefly; also a cell whose phase is not known yet
    border: int  # an unlit firefly (or any phase) on a shard border
    hues: tuple[int, ...]  # phase 0 .. P, in equal steps


PALETTES: dict[int, Palette] = {
    256: Palette(256, levels=(58, 100, 142, 184, 226, 230), unlit=236, border=244,
                 hues=(196, 208, 226, 118, 46, 48, 51, 39, 21, 93, 201, 198)),
    16: Palette(16, levels=(3, 3, 11, 11, 15, 15), unlit=8, border=7,
                hues=(9, 11, 10, 14, 12, 13)),
}

Glyph = tuple[str, str]
"""(SGR sequence that sets the colours, the character to print)."""

UPPER_HALF = "\u2580"
LOWER_HALF = "\u2584"


def colour_depth(env: Mapping[str, str] | None = None) -> int:
    """256 when the terminal says it has 256 colours or more (COLORTERM set, as
    truecolor terminals do, or '256color' in TERM), else 16."""
    env = os.environ if env is None else env
    if env.get("COLORTERM", "").strip():
        return 256
    return 256 if "256col" in env.get("TERM", "") else 16


def glyph_table(colours: Sequence[int | None], depth: int) -> list[Glyph]:
    """Glyph of every key ``top * len(colours) + bottom``; colour None is no pixel."""
    if depth not in DEPTHS:
        raise ValueError(f"depth (={depth}) must be one of {DEPTHS}")
    return [_glyph(top, bottom, depth) for top in colours for bottom in colours]


def _glyph(top: int | None, bottom: int | None, depth: int) -> Glyph:
    if top is None and bottom is None:
        return RESET, " "
    if bottom is None:
        return f"{CSI}0;{_fg(top, depth)}m", UPPER_HALF
    if top is None:
        return f"{CSI}0;{_fg(bottom, depth)}m", LOWER_HALF
    if top == bottom:
        return f"{CSI}0;{_bg(top, depth)}m", " "
    return f"{CSI}0;{_fg(top, depth)};{_bg(bottom, depth)}m", UPPER_HALF


def _fg(colour: int | None, depth: int) -> str:
    assert colour is not None
    if depth == 256:
        return f"38;5;{colour}"
    return str(30 + colour if colour < 8 else 90 + colour - 8)


def _bg(colour: int | None, depth: int) -> str:
    assert colour is not None
    if depth == 256:
        return f"48;5;{colour}"
    return str(40 + colour if colour < 8 else 100 + colour - 8)
