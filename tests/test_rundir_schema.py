"""A real run's directory and every JSON line in it match the one schema,
shared/runlog/schema.py (docs/logs.md explains it)."""

from __future__ import annotations

import json
from typing import Any, Mapping

import pytest

from shared.histogram import Histogram
from shared.runlog.schema import (COORDINATOR_FIELDS, COORDINATOR_LOG, COORDINATOR_OPTIONAL,
                                  HISTOGRAMS, RUN_FIELDS, RUN_JSON, SHARD_FIELDS,
                                  SHARD_OPTIONAL, SUMMARY_FIELDS, SUMMARY_JSON, check,
                                  rate_counts, shard_log, worker_log)
from simrun import read_jsonl

pytestmark = pytest.mark.e2e


def check_optional(record: Mapping[str, Any], optional: Mapping[str, Any], where: str) -> list[str]:
    """Problems of the optional fields ``record`` has (absent ones are fine)."""
    return check(record, {k: v for k, v in optional.items() if k in record}, where)


def test_run_directory_matches_the_documented_schema(sim):
    run = sim("--workers", "2", "--grid", "16x12", "--period", "1", "--duration", "3.2", "--seed", "5")
    assert run.wait() == 0, run.output
    d = run.run_dir
    assert d.name.startswith("run-") and d.name.endswith("-5")
    assert sorted(p.name for p in d.iterdir()) == sorted([
        COORDINATOR_LOG, RUN_JSON, shard_log(0), shard_log(1), SUMMARY_JSON, worker_log(0),
        worker_log(1)])
    meta = json.loads((d / RUN_JSON).read_text())
    assert check(meta, RUN_FIELDS) == []
    assert meta["agents"] == 192 and meta["config"]["grid"] == [16, 12]
    assert sum(s["cells"] for s in meta["shards"]) == 192
    for k in range(2):
        lines = read_jsonl(d / shard_log(k))
        assert len(lines) >= 3
        for i, line in enumerate(lines):
            assert check(line, SHARD_FIELDS, f"shard-{k}[{i}]") == []
            assert check_optional(line, SHARD_OPTIONAL, f"shard-{k}[{i}]") == []
            assert line["shard"] == k
            for name in HISTOGRAMS:
                h = Histogram.from_dict(line[name])  # mergeable: the buckets add up
                assert h.count == line[name]["count"]
        assert [rate_counts(l) for l in lines] == [True] * (len(lines) - 1) + [False]
        assert lines[-1]["final"] is True
        assert all(28 <= l["fps"] <= 32 for l in lines if rate_counts(l))
    coordinator = read_jsonl(d / COORDINATOR_LOG)
    assert len(coordinator) >= 2
    for i, line in enumerate(coordinator):
        assert check(line, COORDINATOR_FIELDS, f"coordinator[{i}]") == []
        assert check_optional(line, COORDINATOR_OPTIONAL, f"coordinator[{i}]") == []
        assert all(0.0 <= r <= 1.0 for _, r in line["R_series"])
    summary = json.loads((d / SUMMARY_JSON).read_text())
    assert check(summary, SUMMARY_FIELDS) == []
    assert summary["min_fps"] == min(l["fps"] for k in range(2)
                                     for l in read_jsonl(d / shard_log(k)) if rate_counts(l))
    flashes = sum(l["counters"]["flashes"] for k in range(2) for l in read_jsonl(d / shard_log(k)))
    assert summary["flashes"] == flashes > 0
    merged = Histogram()
    for k in range(2):
        for l in read_jsonl(d / shard_log(k)):
            merged.merge(Histogram.from_dict(l["flash_lateness_ms"]))
    assert summary["flash_lateness_ms"]["count"] == merged.count
    assert summary["flash_lateness_ms"]["p99"] == round(merged.percentile(0.99), 3)
