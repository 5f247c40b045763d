"""shared/runlog/schema.py is the one definition of the run directory, and
shared/synchrony.py the one time-to-sync rule: the counter set, the final-line rule,
the record checker, the fixture writer and the reader all agree with it."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runfixtures import Second, shard_line, write_run
from shared.runlog.lines import HISTOGRAM_ATTRS, ShardLine
from shared.runlog.reading import read_run
from shared.runlog.rows import run_rows
from shared.runlog.schema import (COORDINATOR_FIELDS, COORDINATOR_LOG, COORDINATOR_OPTIONAL,
                                  COUNTERS, HISTOGRAMS, PROCESS_FIELDS, RUN_FIELDS, RUN_JSON,
                                  SHARD_DIAGNOSTICS, SHARD_FIELDS, SHARD_OPTIONAL,
                                  SUMMARY_FIELDS, SUMMARY_JSON, Counters, check, rate_counts,
                                  shard_log, shard_of)
from shared.synchrony import SYNC_THRESHOLD, SyncTracker, time_to_sync

DOCS = Path(__file__).resolve().parents[1] / "docs" / "logs.md"


# --------------------------------------------------------------------------- counters


def test_counters_are_the_fields_of_the_counters_dataclass_in_order():
    assert COUNTERS == tuple(f.name for f in fields(Counters))
    assert len(set(COUNTERS)) == len(COUNTERS) > 0
    assert tuple(SHARD_FIELDS["counters"]) == COUNTERS  # the log's counters object


def test_counters_as_dict_reports_every_counter_and_rejects_a_misspelt_one():
    counters = Counters()
    for i, name in enumerate(COUNTERS):
        setattr(counters, name, getattr(counters, name) + i + 1)
    assert counters.as_dict() == {name: i + 1 for i, name in enumerate(COUNTERS)}
    with pytest.raises(AttributeError):
        counters.flashs = 1  # type: ignore[attr-defined]  # slotted: no typo counters


def test_docs_name_every_counter_histogram_and_process_field():
    text = DOCS.read_text()
    for name in (*COUNTERS, *HISTOGRAMS, *PROCESS_FIELDS, *SHARD_DIAGNOSTICS):
        assert f"`{name}`" in text or f'"{name}"' in text or f"`process.{name}`" in text, name
    assert "shared/runlog/schema.py" in text


def test_shard_file_names_round_trip():
    for k in (0, 7, 123):
        assert shard_of(shard_log(k)) == k
    for name in ("shard-.jsonl", "shard-x.jsonl", "quota-1.jsonl", "shard-1.json", RUN_JSON):
        assert shard_of(name) is None


# ---------------------------------------------------------------------- final line


def test_rate_counts_excludes_only_the_final_line():
    assert rate_counts({"fps": 30.0}) is True
    assert rate_counts({"fps": 30.0, "final": False}) is True
    assert rate_counts({"fps": 3.0, "final": True}) is False


def test_the_reader_applies_rate_counts_to_fps_but_counts_the_final_lines_counters(tmp_path):
    seconds = [Second(fps=30.0, counters={"flashes": 10}),
               Second(fps=29.0, counters={"flashes": 20}),
               Second(fps=2.0, counters={"flashes": 5})]  # a short last interval
    run_dir = write_run(tmp_path, {0: seconds})
    path = run_dir / shard_log(0)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines[-1]["final"] = True
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    run = read_run(run_dir)
    assert run.warnings == ()
    assert [x.fps for x in run.shard_lines[0]] == [30.0, 29.0, None]
    total = run_rows(run)[-1]
    assert total["fps_min"] == 29.0 and total["flashes"] == 35


# ---------------------------------------------------------------------------- check


def test_check_accepts_a_matching_record_with_extra_fields():
    record = {"v": 1, "t": 1.5, "R": 0.5, "flashes_per_s": 3, "min_fps": None,
              "worst_p99_flash_lateness_ms": 0.2, "workers_alive": 2, "R_series": [],
              "something_newer": "ok"}
    assert check(record, COORDINATOR_FIELDS) == []


def test_check_names_a_missing_field_with_its_path():
    line = shard_line(0, 1.0, Second(), agents=100)
    del line["counters"]["quota_waits"]
    del line["fps"]
    assert check(line, SHARD_FIELDS, "shard-0[0]") == [
        "shard-0[0].fps missing", "shard-0[0].counters.quota_waits missing"]


def test_check_names_a_mistyped_field():
    line = shard_line(0, 1.0, Second(), agents=100)
    line["agents"] = 100.0  # a count must be an int
    line["flash_lateness_ms"]["buckets"] = {}
    assert check(line, SHARD_FIELDS) == ["agents is float", "flash_lateness_ms.buckets is dict"]
    assert check([], SHARD_FIELDS, "x") == ["x is list, not an object"]
    assert check({"process": 3}, {"process": PROCESS_FIELDS}) == ["process is int, not an object"]


def test_check_refuses_a_bool_as_a_number_but_accepts_it_where_a_bool_is_due():
    line = shard_line(0, 1.0, Second(), agents=100)
    line["fps"] = True  # isinstance(True, int) holds; the schema still refuses it
    line["counters"]["flashes"] = False
    assert check(line, SHARD_FIELDS) == ["fps is bool", "counters.flashes is bool"]
    assert check({"final": True}, {"final": SHARD_OPTIONAL["final"]}) == []
    assert check({"final": 1}, {"final": SHARD_OPTIONAL["final"]}) == ["final is int"]


def test_the_fixture_writer_writes_records_that_match_every_spec(tmp_path):
    run_dir = write_run(tmp_path, {0: [Second()] * 3, 1: [Second()] * 3}, limit=20,
                        R_series=[(0.5, 0.2), (1.5, 0.95)], time_to_sync_s=1.5)
    assert check(json.loads((run_dir / RUN_JSON).read_text()), RUN_FIELDS) == []
    assert check(json.loads((run_dir / SUMMARY_JSON).read_text()), SUMMARY_FIELDS) == []
    for k in (0, 1):
        for line in map(json.loads, (run_dir / shard_log(k)).read_text().splitlines()):
            assert check(line, SHARD_FIELDS) == []
            assert check(line, {"quota": SHARD_OPTIONAL["quota"]}) == []
    for line in map(json.loads, (run_dir / COORDINATOR_LOG).read_text().splitlines()):
        assert check(line, COORDINATOR_FIELDS) == []
        assert check(line, {"quota": COORDINATOR_OPTIONAL["quota"]}) == []


# ---------------------------------------------------------- the reader knows the schema


def test_every_histogram_of_the_schema_is_a_shard_line_attribute():
    attrs = {f.name for f in fields(ShardLine)}
    assert set(HISTOGRAM_ATTRS) == set(HISTOGRAMS)
    assert set(HISTOGRAM_ATTRS.values()) <= attrs


def test_a_line_with_every_documented_field_reads_without_a_warning(tmp_path):
    run_dir = write_run(tmp_path, {0: [Second()] * 2})
    path = run_dir / shard_log(0)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines[-1].update(quota={"held": 1}, final=True, agents_failed=0, agents_without_flash=0,
                     agent_flashes_min=1, stop_reason="coordinator: duration", rtf=2.5,
                     window_ms=lines[-1]["frame_lateness_ms"],
                     barrier_wait_ms=lines[-1]["frame_lateness_ms"],
                     link_latency_ms={"1": {"p50": 1.0, "p99": 2.0, "max": 3.0, "count": 4}},
                     clock={"offset_ms": 0.01, "uncertainty_ms": 0.1, "drift_ms": 0.0},
                     resumed_from_s=2.0)
    assert set(lines[-1]) == set(SHARD_FIELDS) | set(SHARD_OPTIONAL)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    coordinator = run_dir / COORDINATOR_LOG
    last = json.loads(coordinator.read_text().splitlines()[-1])
    last.update(quota={"limit": 1}, malformed_rejected=2, shards_in_R=2, stalled=[1], sim_t=3.5,
                rtf=1.2, final=True)
    assert set(last) == set(COORDINATOR_FIELDS) | set(COORDINATOR_OPTIONAL)
    with coordinator.open("a") as out:
        out.write(json.dumps({**last, "t": last["t"] + 1}) + "\n")
    assert read_run(run_dir).warnings == ()


@pytest.mark.parametrize("name", sorted(set(SHARD_FIELDS) - set(SHARD_DIAGNOSTICS) - {"v", "t"}))
def test_the_reader_reports_each_missing_core_field(tmp_path, name):
    run_dir = write_run(tmp_path, {0: [Second()] * 2})
    path = run_dir / shard_log(0)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    del lines[1][name]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert read_run(run_dir).warnings == (f"{path}: field '{name}' missing (line 2)",)


# ------------------------------------------------------------------------ synchrony


def streak_rule(points: list[tuple[float, float]], period: float) -> float | None:
    """Time to sync written independently: split the series into maximal streaks of
    R >= threshold; the first streak that spans a full period starts T_R."""
    streak: list[float] = []
    for t, r in [*points, (float("inf"), -1.0)]:  # a sentinel ends the last streak
        if r >= SYNC_THRESHOLD:
            streak.append(t)
            continue
        for end in streak:
            if end - streak[0] >= period - 1e-9:
                return streak[0]
        streak = []
    return None


def series() -> st.SearchStrategy[list[tuple[float, float]]]:
    steps = st.lists(st.sampled_from([0.0, 1 / 30, 0.1, 0.25, 0.5, 1.0]), max_size=60)
    levels = st.sampled_from([0.0, 0.5, 0.89, SYNC_THRESHOLD, 0.91, 1.0])

    def build(pairs: list[tuple[float, float]]) -> list[tuple[float, float]]:
        t, out = 0.0, []
        for step, r in pairs:
            t += step  # sums of 1/30: the float edge the tolerance is for
            out.append((t, r))
        return out

    return st.lists(st.tuples(steps.map(sum), levels), max_size=80).map(build)


@settings(max_examples=300, deadline=None)
@given(points=series(), period=st.sampled_from([0.5, 1.0, 1 / 3, 2.0, 5.0]))
def test_time_to_sync_and_the_online_tracker_agree_with_the_streak_rule(points, period):
    expected = streak_rule(points, period)
    assert time_to_sync(points, period) == expected
    tracker = SyncTracker(period)
    for i, (t, r) in enumerate(points):
        tracker.observe(t, r)
        # online: known as soon as the prefix shows it, and never changed later
        assert tracker.time_to_sync == time_to_sync(points[:i + 1], period)
    assert tracker.time_to_sync == expected
    assert tracker.r_max == max((r for _, r in points), default=0.0)


def test_time_to_sync_examples():
    points = [(0.0, 0.95), (1.0, 0.95), (1.5, 0.5),  # dips before a period passes
              (2.0, 0.91), (3.0, 0.92), (4.0, 0.93), (4.5, 0.99), (5.0, 0.9)]
    assert time_to_sync(points, period=3.0) == 2.0
    assert time_to_sync(points, period=3.5) is None
    assert time_to_sync([(0.1, 0.95), (1.1, 0.95)], period=1.0) == 0.1  # float edge
    assert time_to_sync([], period=1.0) is None
