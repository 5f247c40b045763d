"""sim-gather (run as scripts/gather_logs.py) on a real short simulation: the table's
numbers equal what the raw shard lines say."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from shared.histogram import Histogram
from shared.runlog.schema import shard_log
from simrun import ROOT, read_jsonl

pytestmark = pytest.mark.e2e


def test_gathered_table_matches_the_raw_shard_lines(sim, tmp_path):
    run = sim("--workers", "3", "--grid", "30", "--period", "1", "--duration", "4")
    assert run.wait() == 0, run.output
    out_json = tmp_path / "gathered.json"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gather_logs.py"), str(run.run_dir),
                             "--json", str(out_json)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # a real run has nothing unknown or broken in it
    gathered = json.loads(out_json.read_text())
    rows = gathered["runs"][0]["rows"]
    by_shard = {row["shard"]: row for row in rows}
    lines = {k: read_jsonl(run.run_dir / shard_log(k)) for k in range(3)}
    for k in range(3):
        assert by_shard[k]["flashes"] == sum(l["counters"]["flashes"] for l in lines[k])
        assert by_shard[k]["edge_flashes_sent"] == sum(l["counters"]["edge_flashes_sent"] for l in lines[k])
    total = sum(l["counters"]["flashes"] for k in range(3) for l in lines[k])
    assert by_shard["all"]["flashes"] == total > 0
    merged = Histogram()
    for k in range(3):
        for l in lines[k]:
            merged.merge(Histogram.from_dict(l["flash_lateness_ms"]))
    assert abs(by_shard["all"]["flash_lateness_p99_ms"] - merged.percentile(0.99)) < 1e-6
    assert str(total) in result.stdout  # and the text table shows it
