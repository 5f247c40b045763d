"""coordinator.records: the coordinator's files in a run directory match the run-log
schema (shared.runlog.schema), and the summary line reads as it always has."""

from __future__ import annotations

import json

import pytest

from shared.grid import Grid
from shared.partition import partition, shard_layouts
from shared.runlog.schema import (COORDINATOR_FIELDS, COORDINATOR_LOG, RUN_FIELDS, RUN_JSON,
                                  SUMMARY_FIELDS, SUMMARY_JSON, check)

from coordinator.aggregator import Aggregator
from coordinator.config import RunConfig
from coordinator.records import RunRecords, create_run_dir, run_record, summary_line, summary_record


def test_run_directories_are_new_every_time(tmp_path):
    # One fixed moment for both, so the test never straddles a second boundary.
    moment = 1_796_000_000.0
    first = create_run_dir(str(tmp_path / "runs"), seed=4, now=moment)
    second = create_run_dir(str(tmp_path / "runs"), seed=4, now=moment)
    assert first != second and first.name == "run-20261130-005320-4"
    assert second.name == "run-20261130-005320-4-1"


def test_an_uncreatable_log_dir_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError, match="--log-dir .*: cannot create it"):
        create_run_dir(str(tmp_path / "file" / "runs"), seed=1)


def test_the_records_are_schema_valid(tmp_path, shard_line):
    config = RunConfig(workers=2, grid=(6, 4), limit=3)
    grid = Grid(*config.grid)
    shards = partition(grid, config.workers)
    agg = Aggregator(2, config.period, config.fps)
    for k in range(2):
        agg.on_frame(k, 1, 0.5, 1.0, 0.0, 12, b"")
        agg.on_report(k, shard_line(k, flashes=3))
    with RunRecords(tmp_path) as records:
        records.write_run(run_record(config, tmp_path, shards, shard_layouts(grid, shards)))
        records.write_interval(agg.interval(1.0, workers_alive=2))
        summary = summary_record(reason="workers_lost", duration_s=1.23456, config=config,
                                 figures=agg.summary(), workers_lost={1: -9}, malformed=2,
                                 error=None)
        records.write_summary(summary)
    run = json.loads((tmp_path / RUN_JSON).read_text())
    assert check(run, RUN_FIELDS) == []
    assert [s["cells"] for s in run["shards"]] == [s.cells for s in shards]
    assert run["config"]["limit"] == 3 and "headless" not in run["config"]
    lines = [json.loads(l) for l in (tmp_path / COORDINATOR_LOG).read_text().splitlines()]
    assert len(lines) == 1 and check(lines[0], COORDINATOR_FIELDS) == []
    written = json.loads((tmp_path / SUMMARY_JSON).read_text())
    assert check(written, SUMMARY_FIELDS) == []
    assert written["workers_lost"] == {"1": -9} and written["duration_s"] == 1.235
    assert written["flashes"] == 6 and written["malformed_rejected_coordinator"] == 2
    assert not list(tmp_path.glob("*.tmp"))  # written atomically


def test_the_summary_line(shard_line):
    agg = Aggregator(1, 1.0, 30.0)
    agg.on_report(0, shard_line(0, flashes=4, fps=29.5, p99_ms=2.0))
    summary = summary_record(reason="duration", duration_s=2.0, config=RunConfig(workers=1, grid=(3, 3)),
                             figures=agg.summary(), workers_lost={}, malformed=0, error=None)
    line = summary_line(summary)
    assert line.startswith("summary: R_final=0.0 R_max=0.0 time_to_sync=None flashes=4 p99_flash=")
    assert line.endswith("ms min_fps=29.5 exit=duration")
