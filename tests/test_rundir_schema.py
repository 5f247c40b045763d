"""A real run's directory and every JSON line in it match docs/logs.md."""

from __future__ import annotations

import json

from shared.histogram import Histogram

from schema import COORDINATOR_LINE, RUN_JSON, SHARD_LINE, SUMMARY, check
from simrun import read_jsonl


def test_run_directory_matches_the_documented_schema(sim):
    run = sim("--workers", "2", "--grid", "16x12", "--period", "1", "--duration", "3.2", "--seed", "5")
    assert run.wait() == 0, run.output
    d = run.run_dir
    assert d.name.startswith("run-") and d.name.endswith("-5")
    assert sorted(p.name for p in d.iterdir()) == [
        "coordinator.jsonl", "run.json", "shard-0.jsonl", "shard-1.jsonl", "summary.json",
        "worker-0.log", "worker-1.log"]
    meta = json.loads((d / "run.json").read_text())
    assert check(meta, RUN_JSON) == []
    assert meta["agents"] == 192 and meta["config"]["grid"] == [16, 12]
    assert sum(s["cells"] for s in meta["shards"]) == 192
    for k in range(2):
        lines = read_jsonl(d / f"shard-{k}.jsonl")
        assert len(lines) >= 3
        for i, line in enumerate(lines):
            assert check(line, SHARD_LINE, f"shard-{k}[{i}]") == []
            assert line["shard"] == k
            for name in ("frame_lateness_ms", "flash_lateness_ms", "edge_latency_ms"):
                h = Histogram.from_dict(line[name])  # mergeable: the buckets add up
                assert h.count == line[name]["count"]
        assert [l.get("final", False) for l in lines] == [False] * (len(lines) - 1) + [True]
        assert all(28 <= l["fps"] <= 32 for l in lines[:-1])
    coordinator = read_jsonl(d / "coordinator.jsonl")
    assert len(coordinator) >= 2
    for i, line in enumerate(coordinator):
        assert check(line, COORDINATOR_LINE, f"coordinator[{i}]") == []
        assert all(0.0 <= r <= 1.0 for _, r in line["R_series"])
    summary = json.loads((d / "summary.json").read_text())
    assert check(summary, SUMMARY) == []
    assert summary["min_fps"] == min(l["fps"] for k in range(2)
                                     for l in read_jsonl(d / f"shard-{k}.jsonl") if not l.get("final"))
    flashes = sum(l["counters"]["flashes"] for k in range(2) for l in read_jsonl(d / f"shard-{k}.jsonl"))
    assert summary["flashes"] == flashes > 0
    merged = Histogram()
    for k in range(2):
        for l in read_jsonl(d / f"shard-{k}.jsonl"):
            merged.merge(Histogram.from_dict(l["flash_lateness_ms"]))
    assert summary["flash_lateness_ms"]["count"] == merged.count
    assert summary["flash_lateness_ms"]["p99"] == round(merged.percentile(0.99), 3)
