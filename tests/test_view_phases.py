"""The phase view through a pyte terminal: cells coloured by phase on the cyclic
palette, advancing with time, reset by flashes, dim while unknown or stale, seams and
shard borders, resizes, and both colour depths."""

from __future__ import annotations

import io

import pytest

from coordinator.view import LiveView
from coordinator.view.palette import PALETTES
from coordinator.view.phase_canvas import PHASE_STEPS

from viewkit import STATUS, Size, Term

PERIOD = 1.2
P256 = PALETTES[256]
HUES = P256.hues  # 12: one hue per 0.1 s of phase
HALVES = [(0, 0, 4, 8), (4, 0, 4, 8)]  # an 8x8 grid in two shards, side by side


def byte(phase: float) -> int:
    return int(phase * PHASE_STEPS / PERIOD)


def hue(phase: float, hues: tuple[int, ...] = HUES) -> int:
    return hues[int((phase % PERIOD) * len(hues) / PERIOD)]


def make(cols: int = 40, rows: int = 10, colours: int = 256, **kw: object):
    size = Size(cols, rows)
    view = LiveView(8, 8, PERIOD, shards=HALVES, size_fn=size, out=io.StringIO(),
                    colours=colours, phase=True, **kw)
    return view, Term(cols, rows, colours), size


def uniform(view: LiveView, shard: int, t: float, phase: float) -> None:
    """Every sample of `shard` at phase `phase` at time `t`."""
    view.on_phases(shard, t, bytes([byte(phase)]) * view.phase_samples(shard))


def test_cells_show_their_phase_and_advance_with_time() -> None:
    view, term, _ = make()  # 8x8 grid in 40x16 pixels: x2
    assert view.phase_lattice == (8, 8) and view.phase_samples(0) == 32
    phases = [0.01 + 0.1 * (i % 12) + 0.02 for i in range(32)]  # mid-step, distinct
    view.on_phases(0, 5.0, bytes(byte(p) for p in phases))
    uniform(view, 1, 5.0, 0.65)
    term.feed(view.render(5.0, STATUS))
    for i, p in enumerate(phases):
        x, y = i % 4, i // 4  # shard 0's samples, row by row
        assert {term.pixel(2 * x + dx, 2 * y + dy) for dx in (0, 1) for dy in (0, 1)} == {hue(p)}
    assert term.pixel(9, 0) == hue(0.65)
    term.feed(view.render(5.3, STATUS))  # three steps of the wheel later
    assert term.pixel(0, 0) == hue(phases[0] + 0.3) == HUES[3]
    assert term.pixel(9, 0) == hue(0.95)


def test_unknown_and_stale_cells_are_dim() -> None:
    view, term, _ = make()
    uniform(view, 0, 1.0, 0.55)
    term.feed(view.render(1.0, STATUS))
    assert term.pixel(0, 0) == hue(0.55) and term.pixel(9, 0) == P256.unlit  # shard 1: no data
    uniform(view, 1, 1.5, 0.25)
    term.feed(view.render(1.5, STATUS))
    assert term.pixel(9, 0) == hue(0.25)
    uniform(view, 0, 2.6, 0.35)  # shard 1 silent since 1.5: 1.1 s behind the newest
    term.feed(view.render(2.6, STATUS))
    assert term.pixel(0, 0) == hue(0.35) and term.pixel(9, 0) == P256.unlit


def test_a_flash_resets_the_phase_and_a_newer_sample_wins() -> None:
    view, term, _ = make()
    uniform(view, 0, 1.0, 0.5)
    uniform(view, 1, 1.0, 0.5)
    view.on_flashes([2 * 8 + 1], 1.05)  # cell (1, 2): phase 0 at 1.05
    term.feed(view.render(1.05, STATUS))
    assert term.pixel(2, 4) == HUES[0] and term.pixel(0, 0) == hue(0.55)
    view.on_flashes([2 * 8 + 1], 0.9)  # older than the sample: ignored
    uniform(view, 0, 1.1, 0.95)  # a sample after the flash: it wins
    term.feed(view.render(1.1, STATUS))
    assert term.pixel(2, 4) == hue(0.95)


def test_a_seam_at_a_shard_border_shows_and_borders_switch_on() -> None:
    view, term, _ = make()
    uniform(view, 0, 1.0, 0.15)
    uniform(view, 1, 1.0, 0.75)
    term.feed(view.render(1.0, STATUS))
    row = [term.pixel(x, 6) for x in range(16)]
    assert row == [hue(0.15)] * 8 + [hue(0.75)] * 8  # the seam between x=7 and x=8
    view.toggle_shards()
    term.feed(view.render(1.0, STATUS))
    row = [term.pixel(x, 6) for x in range(16)]
    # thin border lines: the first screen column of each shard's first cells
    assert row == [P256.border] + [hue(0.15)] * 7 + [P256.border] + [hue(0.75)] * 7
    assert [term.pixel(4, y) for y in range(3)] == [P256.border, hue(0.15), hue(0.15)]


def test_switching_views_redraws_the_whole_picture() -> None:
    view, term, _ = make()
    uniform(view, 0, 1.0, 0.15)
    uniform(view, 1, 1.0, 0.15)
    term.feed(view.render(1.0, STATUS))
    view.toggle_phase()
    text = term.feed(view.render(1.0, STATUS))
    assert not view.phase_view
    assert {term.pixel(x, y) for x in range(16) for y in range(16)} == {P256.unlit}
    view.on_flashes([0], 1.0)
    term.feed(view.render(1.0, STATUS))
    assert term.pixel(0, 0) == P256.levels[-1]
    view.toggle_phase()
    term.feed(view.render(1.0, STATUS))
    assert term.pixel(5, 5) == hue(0.15)
    assert len(text) > 16 * 8  # every character cell written


def test_downsampled_pixels_show_their_first_cell_and_survive_a_resize() -> None:
    size = Size(8, 6)  # 8x8 pixels for a 32x32 grid: one sample per 4x4 block
    view = LiveView(32, 32, PERIOD, shards=[(0, 0, 32, 32)], size_fn=size, out=io.StringIO(),
                    colours=256, phase=True)
    assert view.phase_lattice == (8, 8) and view.phase_samples(0) == 64
    view.on_phases(0, 1.0, bytes(byte(0.1 * (i % 12) + 0.05) for i in range(64)))
    term = Term(8, 6)
    term.feed(view.render(1.0, STATUS))
    assert [term.pixel(x, 0) for x in range(8)] == [HUES[i] for i in range(8)]
    size.value = (40, 22)  # now 32x32 pixels, still 8x8 samples: 4x4 pixels share one
    big = Term(40, 22)
    big.feed(view.render(1.0, STATUS))
    assert [big.pixel(x, 0) for x in range(0, 32, 4)] == [HUES[i] for i in range(8)]
    assert {big.pixel(x, y) for x in range(4) for y in range(4)} == {HUES[0]}


def test_wrong_sample_count_is_an_error() -> None:
    view, _, _ = make()
    with pytest.raises(ValueError, match="31 phases from shard 0, its lattice has 32"):
        view.on_phases(0, 1.0, b"\x00" * 31)
    with pytest.raises(ValueError, match="phase time"):
        view.on_phases(0, float("inf"), b"\x00" * 32)


def test_sixteen_colour_terminals_get_the_six_bright_hues() -> None:
    p16 = PALETTES[16]
    view, term, _ = make(colours=16)
    text = term.feed(view.render(0.0, STATUS))
    assert "38;5;" not in text and "48;5;" not in text
    assert term.pixel(0, 0) == p16.unlit
    uniform(view, 0, 1.0, 0.25)
    uniform(view, 1, 1.0, 1.1)
    text = term.feed(view.render(1.0, STATUS))
    assert "38;5;" not in text and "48;5;" not in text
    assert term.pixel(0, 0) == hue(0.25, p16.hues) == 11  # bright yellow
    assert term.pixel(9, 0) == hue(1.1, p16.hues) == 13  # bright magenta
    view.toggle_phase()
    view.on_flashes([0], 1.0)
    term.feed(view.render(1.0, STATUS))
    assert term.pixel(0, 0) == p16.levels[-1] and term.pixel(3, 3) == p16.unlit


def test_samples_sent_during_the_flash_view_show_as_soon_as_p_is_pressed() -> None:
    view, term, _ = make()
    view.toggle_phase()  # the flash view: samples are only held, newest per shard
    uniform(view, 0, 1.0, 0.15)
    uniform(view, 0, 1.1, 0.35)
    uniform(view, 1, 1.0, 0.75)
    with pytest.raises(ValueError, match="its lattice has 32"):
        view.on_phases(1, 1.1, b"\x00")
    view.toggle_phase()
    term.feed(view.render(1.1, STATUS))
    assert term.pixel(0, 0) == hue(0.35) and term.pixel(9, 0) == hue(0.85)
