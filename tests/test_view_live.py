"""Tests of coordinator.view.live: frames rendered through the pyte terminal emulator."""

from __future__ import annotations

import io

import pytest

from coordinator.view import LiveView, StatusInfo, brightness
from coordinator.view._ansi import CLEAR_SCREEN
from coordinator.view.palette import PALETTES

from viewkit import STATUS, Size, Term

P = PALETTES[256]
LEVELS = len(P.levels)
LEVEL_OF = {c: i + 1 for i, c in enumerate(P.levels)}


def make(grid: int, cols: int, rows: int, **kw: object) -> tuple[LiveView, Term, Size]:
    size = Size(cols, rows)
    view = LiveView(grid, grid, 4.0, size_fn=size, out=io.StringIO(), colours=256,
                    **kw)  # fade = 1.0 s
    return view, Term(cols, rows), size


def level(term: Term, x: int, y: int) -> int:
    """Brightness level of screen pixel (x, y): 0 for the dim unlit colour."""
    colour = term.pixel(x, y)
    if colour == P.unlit:
        return 0
    return LEVEL_OF[colour]


def lit(term: Term, width: int, height: int) -> list[tuple[int, int]]:
    return [(x, y) for y in range(height) for x in range(width) if term.pixel(x, y) in LEVEL_OF]


def test_unlit_grid_is_drawn_dim_and_nothing_else() -> None:
    view, term, _ = make(20, 40, 14)  # 1:1: x2 would need 40 of 24 pixel rows
    term.feed(view.render(0.0, STATUS))
    pixels = term.pixels(40, 24)
    assert {c for (x, y), c in pixels.items() if x < 20 and y < 20} == {P.unlit}
    assert {c for (x, y), c in pixels.items() if x >= 20 or y >= 20} == {None}


def test_flash_lights_the_cell_then_fades_to_dim() -> None:
    view, term, _ = make(20, 40, 14)
    view.on_flashes([7 * 20 + 5], 10.0)
    term.feed(view.render(10.0, STATUS))
    assert level(term, 5, 7) == LEVELS
    assert lit(term, 20, 20) == [(5, 7)]
    term.feed(view.render(10.5, STATUS))
    assert level(term, 5, 7) == brightness(0.5, 1.0, LEVELS)
    term.feed(view.render(10.9, STATUS))
    assert 0 < level(term, 5, 7) < brightness(0.5, 1.0, LEVELS)
    term.feed(view.render(11.0, STATUS))
    assert lit(term, 20, 20) == []
    assert term.pixel(5, 7) == P.unlit


def test_downsampling_shows_brightest_agent_of_a_screen_cell() -> None:
    view, term, _ = make(60, 20, 10)  # 8 grid rows -> 16x16 pixels, 3.75 agents each
    view.on_flashes([46 * 60 + 31], 0.0)  # agent (31, 46), same pixel as (30, 45)
    term.feed(view.render(0.5, STATUS))
    assert lit(term, 16, 16) == [(8, 12)]
    old = level(term, 8, 12)
    assert old == brightness(0.5, 1.0, LEVELS)
    view.on_flashes([45 * 60 + 30], 0.5)  # newer flash of agent (30, 45)
    view.on_flashes([46 * 60 + 31], 0.2)  # late-arriving older flash must not win
    term.feed(view.render(0.6, STATUS))
    assert lit(term, 16, 16) == [(8, 12)]
    assert level(term, 8, 12) == brightness(0.1, 1.0, LEVELS) > old
    assert term.screen.buffer[6][8].data == "\u2580"  # char row 6, column 8, top half


def test_second_frame_without_changes_writes_nothing() -> None:
    view, term, _ = make(60, 20, 10)
    view.on_flashes(range(0, 3600, 7), 0.0)
    first = term.feed(view.render(0.0, STATUS))
    assert len(first) > 200
    assert view.render(0.0, STATUS) == ""
    later = term.feed(view.render(0.01, STATUS))  # no level boundary crossed yet
    assert later == ""


def test_only_changed_cells_are_written() -> None:
    view, term, _ = make(20, 40, 14)
    view.on_flashes([0, 7 * 20 + 5], 0.0)
    term.feed(view.render(0.0, STATUS))
    view.on_flashes([19 * 20 + 19], 0.1)  # one new cell; the others keep their level
    diff = term.feed(view.render(0.1, STATUS))
    assert diff.count("\u2580") + diff.count("\u2584") + diff.count(" ") == 1
    assert "\x1b[10;20H" in diff  # char row 9, column 19 (1-based in the escape)
    assert CLEAR_SCREEN not in diff
    assert lit(term, 20, 20) == [(0, 0), (5, 7), (19, 19)]


def test_resize_clears_and_redraws_everything() -> None:
    view, term, size = make(60, 20, 10)
    view.on_flashes([45 * 60 + 30], 0.0)
    term.feed(view.render(0.0, STATUS))
    size.value = (40, 20)  # 18 grid rows = 36 pixel rows limit: 36x36 pixels
    fresh = Term(40, 20)
    text = fresh.feed(view.render(0.0, STATUS))
    assert text.startswith("\x1b[0m" + CLEAR_SCREEN)
    assert view.size == (40, 20)
    assert (view.geometry.pix_w, view.geometry.pix_h) == (36, 36)
    px, py = view.geometry.pixel_of(30, 45)
    assert lit(fresh, 36, 36) == [(px, py)]
    assert fresh.pixel(0, 0) == P.unlit
    assert fresh.line(18).startswith("R 0.83 [########  ]")
    assert view.render(0.0, STATUS) == ""
    view.resize()  # explicit resize (e.g. from a SIGWINCH handler) also redraws all
    assert view.render(0.0, STATUS).startswith("\x1b[0m" + CLEAR_SCREEN)


def test_status_bar_on_the_last_lines() -> None:
    view, term, _ = make(20, 80, 14)
    term.feed(view.render(0.0, STATUS))
    assert term.line(12).startswith("R 0.83 [########  ]  t 3.0s  flashes/s 1834  workers 8/8")
    assert "slots 812/1000" in term.line(12)
    assert term.line(13).startswith("s0 30.0/2.1ms s1 29.8/3.4ms")
    assert term.screen.buffer[13][14].reverse  # worst shard s1 in reverse video
    changed = StatusInfo(4.0, 0.91, 1834.0, {0: 30.0, 1: 29.8}, {0: 2.1, 1: 3.4}, 8, 8, 812, 1000)
    diff = term.feed(view.render(0.0, changed))
    assert "s0 30.0" not in diff  # the unchanged shard line is not rewritten
    assert term.line(12).startswith("R 0.91 [######### ]  t 4.0s")


def test_narrow_screen_truncates_status() -> None:
    shards = {s: 30.0 for s in range(10)}
    info = StatusInfo(1.0, 0.5, 10.0, shards, {s: 1.0 for s in shards}, 10, 10, None, None)
    view, term, _ = make(20, 30, 10)
    term.feed(view.render(0.0, info))
    assert term.line(9).rstrip().endswith("more")
    assert len(term.line(8).rstrip()) <= 30


def test_shard_borders_drawn_when_asked_and_switched_with_s() -> None:
    rects = [(0, 0, 10, 20), (10, 0, 10, 20)]
    view, term, _ = make(20, 40, 14, shards=rects, show_shards=True)
    term.feed(view.render(0.0, STATUS))
    assert term.pixel(10, 9) == P.border
    assert term.pixel(4, 9) == P.unlit
    view.toggle_shards()
    assert not view.show_shards
    term.feed(view.render(0.0, STATUS))
    assert term.pixel(10, 9) == P.unlit
    plain, term2, _ = make(20, 40, 14, shards=rects)
    term2.feed(plain.render(0.0, STATUS))
    assert {term2.pixel(x, y) for x in range(20) for y in range(20)} == {P.unlit}


def test_small_grid_fills_the_terminal_with_square_cells() -> None:
    view, term, _ = make(10, 80, 24)  # 80x44 screen pixels: x4 -> 40x40 (91 % of the height)
    view.on_flashes([3 * 10 + 2], 0.0)
    term.feed(view.render(0.0, STATUS))
    assert lit(term, 80, 44) == [(x, y) for y in range(12, 16) for x in range(8, 12)]
    assert all(term.pixel(x, y) == P.unlit for x in range(40) for y in range(40)
               if not (8 <= x < 12 and 12 <= y < 16))
    assert term.pixel(40, 0) is None and term.pixel(0, 40) is None


def test_status_bar_lists_the_keys() -> None:
    view, term, _ = make(20, 80, 14)
    term.feed(view.render(0.0, STATUS))
    assert term.line(13).rstrip().endswith("q quit \u00b7 p phase \u00b7 s shards")
    view.toggle_phase()
    term.feed(view.render(0.0, STATUS))
    assert term.line(13).rstrip().endswith("q quit \u00b7 p flashes \u00b7 s shards")


def test_is_due_keeps_the_frame_rate() -> None:
    view, _, _ = make(20, 40, 14, fps=20)
    assert view.is_due(100.0)
    assert not view.is_due(100.01)
    assert view.is_due(100.05)
    assert view.is_due(100.5)  # after a stall: one frame, not a burst of ten
    assert not view.is_due(100.51)
    assert view.is_due(100.55)


def test_draw_writes_text_or_bytes_and_construction_writes_nothing() -> None:
    text_out, byte_out = io.StringIO(), io.BytesIO()
    views = [LiveView(10, 10, 4.0, out=o, size_fn=lambda: (30, 10)) for o in (text_out, byte_out)]
    assert text_out.getvalue() == "" and byte_out.getvalue() == b""
    for v in views:
        v.on_flashes([3], 0.0)
        v.draw(0.0, STATUS)
    assert byte_out.getvalue().decode("utf-8") == text_out.getvalue()
    assert "\u2580" in text_out.getvalue()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="period"):
        LiveView(10, 10, 0.0, size_fn=lambda: (30, 10))
    with pytest.raises(ValueError, match="fps"):
        LiveView(10, 10, 1.0, fps=0, size_fn=lambda: (30, 10))
    with pytest.raises(ValueError, match="colours"):
        LiveView(10, 10, 1.0, colours=8, size_fn=lambda: (30, 10))


def test_ascii_text_stream_gets_utf8_bytes_through_its_buffer() -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii")
    view = LiveView(10, 10, 4.0, out=out, size_fn=lambda: (30, 10))
    view.on_flashes([3], 0.0)
    view.draw(0.0, STATUS)
    assert "\u2580".encode() in raw.getvalue()
