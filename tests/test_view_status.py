"""Tests of coordinator.view.status: the status bar text."""

from __future__ import annotations

import math
import re

from hypothesis import given
from hypothesis import strategies as st

from coordinator.view._ansi import REVERSE_OFF, REVERSE_ON
from coordinator.view.status import StatusInfo, format_elapsed, r_bar, status_lines

ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def visible(line: str) -> str:
    return ESCAPE.sub("", line)


def info(**changes: object) -> StatusInfo:
    base = dict(
        elapsed_s=65.4, R=0.83, flashes_per_s=1834.2,
        shard_fps={0: 30.0, 1: 29.8, 2: 30.0}, shard_p99_ms={0: 2.1, 1: 3.4, 2: 1.9},
        workers_alive=7, workers_total=8, quota_in_use=812, quota_limit=1000,
    )
    base.update(changes)
    return StatusInfo(**base)  # type: ignore[arg-type]


def test_shows_every_number_it_was_given() -> None:
    top, shards = (visible(x) for x in status_lines(info(), 200))
    assert "R 0.83 [########  ]" in top
    assert "t 1m05s" in top
    assert "flashes/s 1834" in top
    assert "workers 7/8" in top
    assert "slots 812/1000" in top
    assert shards == "s0 30.0/2.1ms s1 29.8/3.4ms s2 30.0/1.9ms"


def test_worst_shard_and_missing_workers_are_highlighted() -> None:
    top, shards = status_lines(info(), 200)
    assert f"{REVERSE_ON}s1 29.8/3.4ms{REVERSE_OFF}" in shards
    assert shards.count(REVERSE_ON) == 1
    assert f"{REVERSE_ON}workers 7/8{REVERSE_OFF}" in top
    top, _ = status_lines(info(workers_alive=8), 200)
    assert REVERSE_ON not in top


def test_lockstep_shows_simulated_time_and_rtf() -> None:
    top = visible(status_lines(info(sim_s=125.0, rtf=3.456), 200)[0])
    assert "t 1m05s  sim 2m05s rtf 3.46" in top
    assert "sim" not in visible(status_lines(info(), 200)[0])
    assert "sim 2m05s rtf -" in visible(status_lines(info(sim_s=125.0), 200)[0])


def test_no_slots_without_a_limit() -> None:
    top, _ = status_lines(info(quota_in_use=None, quota_limit=None), 200)
    assert "slots" not in top
    top, _ = status_lines(info(quota_in_use=None), 200)
    assert "slots ?/1000" in visible(top)


def test_narrow_screen_truncates_with_more_and_keeps_worst_shard() -> None:
    fps = {s: 30.0 for s in range(8)}
    p99 = {s: 1.0 + s / 10 for s in range(8)}
    p99[5] = 9.9
    top, shards = (visible(x) for x in status_lines(info(shard_fps=fps, shard_p99_ms=p99), 40))
    assert len(top) <= 40 and top.startswith("R 0.83 [########  ]")
    assert "slots" not in top  # dropped from the end
    assert len(shards) <= 40
    assert shards.startswith("s5 30.0/9.9ms s0 30.0/1.0ms")
    assert re.search(r"\+(\d) more$", shards)
    shown = len(re.findall(r"s\d ", shards))
    assert shards.endswith(f"+{8 - shown} more")


def test_missing_numbers_are_dashes() -> None:
    top, shards = (visible(x) for x in status_lines(
        info(R=math.nan, shard_fps={0: 30.0}, shard_p99_ms={}), 200))
    assert "R -- [          ]" in top
    assert shards == "s0 30.0/-"
    _, shards = status_lines(info(shard_fps={}, shard_p99_ms={}), 200)
    assert "no telemetry" in shards


@given(st.integers(1, 160), st.integers(0, 40), st.floats(0, 1e6), st.floats(-1, 2))
def test_lines_never_exceed_width(width: int, shards: int, elapsed: float, r: float) -> None:
    lines = status_lines(info(elapsed_s=elapsed, R=r,
                              shard_fps={s: 29.9 for s in range(shards)},
                              shard_p99_ms={s: float(s) for s in range(shards)}), width)
    assert all(len(visible(x)) <= width for x in lines)
    assert all(x.count(REVERSE_ON) == x.count(REVERSE_OFF) for x in lines)


def test_format_elapsed_and_r_bar() -> None:
    assert format_elapsed(12.34) == "12.3s"
    assert format_elapsed(125) == "2m05s"
    assert format_elapsed(3723) == "1h02m03s"
    assert r_bar(0.0) == "R 0.00 [          ]"
    assert r_bar(1.0) == "R 1.00 [##########]"


def test_stalled_workers_are_named_and_highlighted() -> None:
    top, _ = status_lines(info(stalled=(1, 3)), 200)
    assert f"{REVERSE_ON}stalled 2 [1,3]{REVERSE_OFF}" in top
    assert visible(top).index("workers 7/8") < visible(top).index("stalled 2 [1,3]")
    top, _ = status_lines(info(), 200)
    assert "stalled" not in top


KEYS = "q quit \u00b7 p phase \u00b7 s shards"


def test_keys_end_the_shard_line_right_aligned() -> None:
    _, shards = (visible(x) for x in status_lines(info(), 100, keys=KEYS))
    assert len(shards) == 100
    assert shards.startswith("s0 30.0/2.1ms s1 29.8/3.4ms s2 30.0/1.9ms ")
    assert shards.endswith("  " + KEYS)


def test_keys_leave_the_shards_room_or_give_way() -> None:
    many = info(shard_fps={s: 30.0 for s in range(40)}, shard_p99_ms={s: 1.0 for s in range(40)})
    _, shards = (visible(x) for x in status_lines(many, 80, keys=KEYS))
    assert shards.endswith(KEYS) and "more" in shards and len(shards) <= 80
    _, narrow = (visible(x) for x in status_lines(many, 35, keys=KEYS))
    assert KEYS not in narrow and narrow.rstrip().endswith("more")


@given(st.integers(1, 200))
def test_lines_with_keys_never_exceed_the_width(width: int) -> None:
    for line in status_lines(info(), width, keys=KEYS):
        assert len(visible(line)) <= width
