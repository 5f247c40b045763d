"""shared/runlog's reading and rows (read_run, its window, run_rows) on synthetic run
directories written by tests/runfixtures.py: shard and run rows are sums and medians
over lines, the run's p99 is that of the merged histogram, since/until keep the lines
in their window, and damaged lines are skipped with a warning when read in process."""

from __future__ import annotations

import json
import math
import random
import statistics

import pytest

from gatherkit import rows_by_shard
from runfixtures import Second, write_run
from shared.histogram import Histogram
from shared.runlog.reading import read_run
from shared.synchrony import time_to_sync


# ---------------------------------------------------------------------------- numbers


def test_shard_and_run_rows_are_sums_and_medians_over_lines(run_dir, shards):
    rows = rows_by_shard(run_dir)
    assert list(rows) == [0, 1, 2, "all"]
    for name in ("flashes", "edge_flashes_sent", "edge_flashes_received",
                 "edge_flashes_dropped", "signals_ignored_refractory", "malformed_rejected"):
        for k, seconds in shards.items():
            assert rows[k][name] == sum(s.counters[name] for s in seconds), (name, k)
        assert rows["all"][name] == sum(s.counters[name] for v in shards.values() for s in v)
    for k, seconds in shards.items():
        assert rows[k]["fps_median"] == pytest.approx(statistics.median(s.fps for s in seconds))
        assert rows[k]["fps_min"] == pytest.approx(min(s.fps for s in seconds))
        assert rows[k]["cpu_percent_median"] == pytest.approx(
            statistics.median(s.cpu_percent for s in seconds))
        assert rows[k]["rss_peak_bytes"] == max(s.rss_bytes for s in seconds)
        assert rows[k]["agents"] == 100
        assert rows[k]["flash_lateness_max_ms"] == pytest.approx(
            max(v for s in seconds for v in s.flash_lateness_ms))
    every = [s for v in shards.values() for s in v]
    assert rows["all"]["fps_min"] == pytest.approx(min(s.fps for s in every))
    assert rows["all"]["fps_median"] == pytest.approx(statistics.median(s.fps for s in every))
    assert rows["all"]["agents"] == 300
    assert rows["all"]["cpu_percent_median"] == pytest.approx(
        sum(rows[k]["cpu_percent_median"] for k in shards))
    assert rows["all"]["flashes_per_s"] == pytest.approx(rows["all"]["flashes"] / 6.0)


def test_run_p99_is_the_p99_of_the_merged_histogram_not_an_average(tmp_path):
    # shard 0: 1000 fast flashes; shard 1: 10 slow ones. Averaging the two p99s gives
    # ~50 ms; the run's true p99 (rank 1000 of 1010) is one of the fast flashes.
    rng = random.Random(7)
    fast = [rng.uniform(0.8, 1.2) for _ in range(1000)]
    slow = [rng.uniform(90.0, 110.0) for _ in range(10)]
    shards = {0: [Second(flash_lateness_ms=fast[:500]), Second(flash_lateness_ms=fast[500:])],
              1: [Second(flash_lateness_ms=slow[:5]), Second(flash_lateness_ms=slow[5:])]}
    rows = rows_by_shard(write_run(tmp_path, shards))
    independent = Histogram()
    independent.record_many(fast + slow)
    assert rows["all"]["flash_lateness_p99_ms"] == pytest.approx(independent.percentile(0.99))
    # and within one bucket (~3 %) above the exact nearest-rank p99 of the raw values
    exact = sorted(fast + slow)[math.ceil(0.99 * 1010) - 1]
    assert exact <= rows["all"]["flash_lateness_p99_ms"] <= exact * 1.04
    averaged = (rows[0]["flash_lateness_p99_ms"] + rows[1]["flash_lateness_p99_ms"]) / 2
    assert averaged > 40.0 and rows["all"]["flash_lateness_p99_ms"] < 1.3
    # the log's "max" is rounded to 1 µs (Histogram.to_dict)
    assert rows["all"]["flash_lateness_max_ms"] == pytest.approx(max(slow), abs=1e-3)


def test_since_until_keep_lines_with_since_lt_t_le_until(run_dir, shards):
    rows = rows_by_shard(run_dir, since=2.0, until=5.0)  # lines t = 3, 4, 5 (i = 2..4)
    kept = range(2, 5)
    for k, seconds in shards.items():
        assert rows[k]["lines"] == 3
        assert rows[k]["flashes"] == sum(seconds[i].counters["flashes"] for i in kept)
        assert rows[k]["fps_min"] == pytest.approx(min(seconds[i].fps for i in kept))
    assert rows["all"]["seconds"] == pytest.approx(3.0)
    before = rows_by_shard(run_dir, until=2.0)
    after = rows_by_shard(run_dir, since=2.0)
    assert before["all"]["flashes"] + after["all"]["flashes"] == rows_by_shard(run_dir)["all"]["flashes"]
    with pytest.raises(ValueError):
        read_run(run_dir).window(since=5.0, until=5.0)


def test_bad_histogram_and_missing_fields_in_process(tmp_path):
    run_dir = write_run(tmp_path, {0: [Second()] * 4}, R_series=[], summary=False)
    path = run_dir / "shard-0.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines[0]["flash_lateness_ms"]["count"] += 1  # count != sum of buckets
    for line in lines[2:]:
        del line["frames"], line["agents"]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    coordinator = run_dir / "coordinator.jsonl"  # no R_series: fall back to each line's R
    coordinator.write_text("".join(json.dumps({"v": 1, "t": t, "R": r}) + "\n"
                                   for t, r in [(1, 0.5), (2, 0.95), (3, 0.96), (4, 0.97)]))
    run = read_run(run_dir)
    assert [x.t for x in run.shard_lines[0]] == [2.0, 3.0, 4.0]
    assert f"{path}: line 1 invalid (flash_lateness_ms: histogram count(=3) != sum of " \
           f"buckets(=2)), skipped" in run.warnings
    assert f"{path}: fields 'agents', 'frames' missing (lines 3-4)" in run.warnings
    assert run.time_to_sync_source == "R" and run.time_to_sync_s is None  # period 5 s
    assert time_to_sync(run.r_points(), period=2.0) == 2
