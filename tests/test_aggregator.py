"""coordinator.aggregator: frames combine into R, reports into the interval line and
the run's totals; the flash listener is given at construction."""

from __future__ import annotations

import math
from array import array

import pytest

from shared.runlog.schema import COORDINATOR_FIELDS, check

from coordinator.aggregator import Aggregator, status_line


def _frame(agg: Aggregator, shard: int, frame: int, t: float, phase_turns: float, n: int = 10,
           flashed: bytes = b"") -> None:
    angle = 2 * math.pi * phase_turns
    agg.on_frame(shard, frame, t, n * math.cos(angle), n * math.sin(angle), n, flashed)


def test_a_frame_counts_once_every_live_shard_sent_it():
    agg = Aggregator(2, period=1.0, fps=30.0)
    _frame(agg, 0, 1, 0.1, 0.0)
    assert agg.r == 0.0  # shard 1 has not sent frame 1 yet
    _frame(agg, 1, 1, 0.1, 0.5)  # opposite phases: R = 0
    assert agg.r == pytest.approx(0.0, abs=1e-9)
    _frame(agg, 0, 2, 0.2, 0.25)
    _frame(agg, 1, 2, 0.2, 0.25)  # in phase: R = 1
    assert agg.r == pytest.approx(1.0)
    assert agg.last_frame_t == 0.2


def test_a_lost_shard_no_longer_holds_frames_back():
    agg = Aggregator(2, period=1.0, fps=30.0)
    agg.shard_lost(1)
    _frame(agg, 0, 1, 0.1, 0.0)
    assert agg.r == pytest.approx(1.0)


def test_skipped_frames_are_counted_incomplete():
    agg = Aggregator(2, period=1.0, fps=30.0)
    _frame(agg, 0, 1, 0.1, 0.0)
    _frame(agg, 0, 2, 0.2, 0.0)
    _frame(agg, 1, 2, 0.2, 0.0)
    assert agg.frames_incomplete == 1


def test_the_flash_listener_gets_each_frames_flashed_cells():
    got = []
    agg = Aggregator(1, period=1.0, fps=30.0, on_flashes=lambda cells, t: got.append((cells, t)))
    cells = array("i", [3, 4]).tobytes()
    _frame(agg, 0, 1, 0.5, 0.0, flashed=cells)
    _frame(agg, 0, 2, 0.6, 0.0)  # nothing flashed: no call
    assert got == [(cells, 0.5)]


def test_min_fps_follows_the_schema_rule_every_line_but_the_final_one(shard_line):
    agg = Aggregator(2, period=1.0, fps=30.0)
    agg.on_report(0, shard_line(0, fps=29.0))
    agg.on_report(1, shard_line(1, fps=12.0, interval_s=0.2))  # short, but not final: counts
    agg.on_report(0, shard_line(0, fps=0.5, interval_s=0.01, final=True))  # final: does not
    assert agg.summary()["min_fps"] == 12.0


def test_the_interval_line_is_schema_valid_and_starts_a_new_interval(shard_line):
    agg = Aggregator(2, period=1.0, fps=30.0)
    _frame(agg, 0, 1, 0.1, 0.0)
    _frame(agg, 1, 1, 0.1, 0.0)
    agg.on_report(0, shard_line(0, fps=30.0, flashes=5, p99_ms=2.0))
    agg.on_report(1, shard_line(1, fps=28.0, flashes=7, p99_ms=9.0))
    record = agg.interval(1.05, workers_alive=2)
    assert check(record, COORDINATOR_FIELDS) == []
    assert record["flashes_per_s"] == 12.0 and record["min_fps"] == 28.0
    assert record["worst_p99_flash_lateness_ms"] == pytest.approx(9.0, rel=0.1)
    assert record["R_series"] == [[0.1, 1.0]]
    assert agg.interval(2.05, workers_alive=2)["R_series"] == []
    line = status_line(record, 2)
    assert line.startswith("t=    1.1s  R=1.000  flashes/s=     12.0  min_fps= 28.0")
    assert line.endswith("workers=2/2")


def test_a_report_with_a_bad_histogram_changes_nothing(shard_line):
    agg = Aggregator(1, period=1.0, fps=30.0)
    bad = shard_line(0, flashes=5)
    bad["flash_lateness_ms"] = {**bad["flash_lateness_ms"], "count": 99}  # buckets do not add up
    with pytest.raises(ValueError):
        agg.on_report(0, bad)
    assert agg.latest == {} and agg.summary()["flashes"] == 0


def test_the_summary_totals_counters_and_merges_histograms(shard_line):
    agg = Aggregator(2, period=1.0, fps=30.0)
    for k in range(2):
        agg.on_report(k, shard_line(k, flashes=10))
        agg.on_report(k, shard_line(k, flashes=5, final=True))
    summary = agg.summary()
    assert summary["flashes"] == 30 and summary["counters"]["flashes"] == 30
    assert summary["flash_lateness_ms"]["count"] == 4
    assert summary["flashes_per_s"] == 0.0  # no frame completed: no run time to divide by


def test_a_stalled_shard_neither_holds_r_back_nor_feeds_min_fps(shard_line):
    agg = Aggregator(3, period=1.0, fps=30.0)
    for k in range(3):
        agg.on_report(k, shard_line(k, fps=29.0 + k))
    agg.set_stalled({0})
    _frame(agg, 1, 1, 0.1, 0.0)
    _frame(agg, 2, 1, 0.1, 0.0)
    assert agg.r == pytest.approx(1.0) and agg.shards_in_r == 2
    record = agg.interval(1.05, workers_alive=3)
    assert check(record, COORDINATOR_FIELDS) == []
    assert record["stalled"] == [0] and record["shards_in_R"] == 2
    assert record["min_fps"] == 30.0  # shard 0's stale 29.0 is left out
    assert set(agg.live_latest()) == {1, 2}
    line = status_line(record, 3)
    assert "R=1.000 (2/3 shards)" in line and line.endswith("stalled=1 [0]")
    agg.set_stalled(set())
    record = agg.interval(2.05, workers_alive=3)
    assert record["stalled"] == [] and record["min_fps"] == 29.0
    assert "stalled" not in status_line(record, 3)


def test_every_frame_and_report_is_heard_with_its_shard(shard_line):
    heard: list[int] = []
    agg = Aggregator(2, period=1.0, fps=30.0, on_heard=heard.append)
    _frame(agg, 1, 1, 0.25, 0.0)
    agg.on_report(0, shard_line(0))
    assert heard == [1, 0] and agg.last_t == {1: 0.25}


class _Phases:
    """A phases listener: shard k's messages hold k + 2 samples."""

    def __init__(self) -> None:
        self.got: list[tuple[int, float, bytes]] = []

    def phase_samples(self, shard: int) -> int:
        return shard + 2

    def on_phases(self, shard: int, t: float, data: bytes) -> None:
        self.got.append((shard, t, data))


def test_phases_go_to_the_listener_and_count_as_hearing_the_shard():
    heard: list[int] = []
    listener = _Phases()
    agg = Aggregator(2, period=1.0, fps=30.0, on_heard=heard.append, phases=listener)
    assert (agg.phase_samples(0), agg.phase_samples(1)) == (2, 3)
    agg.on_phases(1, 4, 0.125, b"\x01\x02\x03")
    assert listener.got == [(1, 0.125, b"\x01\x02\x03")] and heard == [1]
    assert agg.r == 0.0 and agg.last_frame_t == 0.0  # phases are not frames


def test_without_a_listener_no_phases_are_expected():
    agg = Aggregator(2, period=1.0, fps=30.0)
    assert agg.phase_samples(0) is None
