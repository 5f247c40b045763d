"""coordinator.view.palette: the colour depth from TERM/COLORTERM, and glyphs that
use only what the depth allows, read back through pyte."""

from __future__ import annotations

import io
import re

import pytest

from coordinator.view import LiveView
from coordinator.view.palette import PALETTES, colour_depth, glyph_table

from viewkit import STATUS, Term

SGR = re.compile(r"\x1b\[([0-9;]*)m")


@pytest.mark.parametrize("env, depth", [
    ({"TERM": "xterm-256color"}, 256),
    ({"TERM": "screen-256color"}, 256),
    ({"TERM": "tmux-256color"}, 256),
    ({"TERM": "xterm", "COLORTERM": "truecolor"}, 256),
    ({"TERM": "xterm"}, 16),
    ({"TERM": "screen"}, 16),
    ({"TERM": "linux"}, 16),
    ({"TERM": "vt100", "COLORTERM": ""}, 16),
    ({}, 16),
])
def test_depth_from_the_environment(env: dict[str, str], depth: int) -> None:
    assert colour_depth(env) == depth


def sgr_numbers(text: str) -> set[int]:
    return {int(n) for m in SGR.findall(text) for n in m.split(";") if n}


def test_sixteen_colour_glyphs_use_only_the_sixteen_codes() -> None:
    p = PALETTES[16]
    for colours in ([None, *p.levels, p.unlit, p.border], [None, *p.hues, p.unlit, p.border]):
        codes = sgr_numbers("".join(sgr for sgr, _ in glyph_table(colours, 16)))
        assert codes <= {0, *range(30, 38), *range(40, 48), *range(90, 98), *range(100, 108)}


def test_the_view_follows_term(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("COLORTERM", raising=False)
    plain = LiveView(10, 10, 1.0, size_fn=lambda: (30, 10), out=io.StringIO())
    monkeypatch.setenv("TERM", "xterm-256color")
    rich = LiveView(10, 10, 1.0, size_fn=lambda: (30, 10), out=io.StringIO())
    assert (plain.colours, rich.colours) == (16, 256)
    for view, depth in ((plain, 16), (rich, 256)):
        view.on_flashes([0], 0.0)
        term = Term(30, 10, depth)
        text = term.feed(view.render(0.0, STATUS))
        assert ("38;5;" in text) == (depth == 256)
        assert term.pixel(0, 0) == PALETTES[depth].levels[-1]
        assert term.pixel(5, 5) == PALETTES[depth].unlit


def test_unlit_is_distinct_from_every_level_and_the_border() -> None:
    for p in PALETTES.values():
        assert p.unlit not in p.levels and p.unlit != p.border and p.border not in p.levels
        assert p.unlit not in p.hues and p.border not in p.hues
        assert len(set(p.hues)) == len(p.hues)
