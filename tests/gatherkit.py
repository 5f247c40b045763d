"""Helpers shared by the log-tool tests (tests/test_runlog_reading.py,
tests/test_gather_cli.py, tests/test_bench_scripts.py): where the scripts and console
scripts are, running sim-gather's script, a telling shard-second, rows by shard, and a
command's warnings. The ``shards`` and ``run_dir`` fixtures built from them are in
tests/conftest.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from runfixtures import Second
from shared.runlog.reading import read_run
from shared.runlog.rows import run_rows

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
GATHER = SCRIPTS / "gather_logs.py"
BIN = Path(sys.executable).parent  # the venv's bin: console scripts live next to python


def gather(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GATHER), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def second(i: int, k: int) -> Second:
    """A shard-second whose every number differs, so sums and medians are telling."""
    return Second(
        fps=30.0 - 0.5 * k - (3.0 if i == 2 else 0.0) - 0.1 * i,
        flash_lateness_ms=[0.5 + 0.25 * j + k + i for j in range(4 + k)],
        frame_lateness_ms=[0.1 * (i + 1), 0.2 * (k + 1)],
        edge_latency_ms=[0.05 * (1 + i + k)],
        counters={"flashes": 10 * k + i, "local_signals": 80 + i,
                  "edge_flashes_sent": 5 + k, "edge_flashes_received": 4 + i,
                  "edge_flashes_dropped": i % 2, "signals_ignored_refractory": 7 * i + k,
                  "quota_waits": 0, "malformed_rejected": (i + k) % 3},
        cpu_percent=40.0 + 3 * i + k, rss_bytes=50_000_000 + 1_000 * i + 10 * k,
    )


def rows_by_shard(path: Path, **window: float) -> dict[object, dict]:
    run = read_run(path).window(**window)
    return {row["shard"]: row for row in run_rows(run)}


def warnings_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    return result.stderr.splitlines()
