"""The benchmark scripts (scripts/bench_scaling.py, scripts/bench_scale.py) against a
stand-in simulator that copies run directories written by tests/runfixtures.py."""

from __future__ import annotations

import subprocess
import sys

from gatherkit import SCRIPTS
from runfixtures import Second, write_run


# ------------------------------------------------------------------------ benchmark


def test_bench_scaling_dry_run_prints_the_commands(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "bench_scaling.py"), "--dry-run", "--workers", "1,4",
         "--agents", "2500,1000", "--duration", "3", "--log-dir", str(tmp_path / "b"),
         "--extra", "--fps 60 --limit '100'"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    tail = f"--duration 3 --period 5 --seed 1 --log-dir {tmp_path / 'b'} --fps 60 --limit 100"
    assert result.stdout.splitlines() == [
        f"sim-coordinator --headless --workers 1 --grid 50 {tail}",
        f"sim-coordinator --headless --workers 4 --grid 50 {tail}",
        f"sim-coordinator --headless --workers 1 --grid 32 {tail}",
        f"sim-coordinator --headless --workers 4 --grid 32 {tail}",
    ]
    assert result.stderr == "note: 1000 agents -> grid 32x32 (1024 agents)\n"
    assert not (tmp_path / "b").exists()
    bad = subprocess.run([sys.executable, str(SCRIPTS / "bench_scaling.py"), "--dry-run",
                          "--workers", "1,zero"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--workers" in bad.stderr


def test_bench_scaling_runs_a_fake_simulator_and_compares(tmp_path):
    # a stand-in for sim-coordinator that copies a fixture run and prints its path
    templates = tmp_path / "templates"
    for w in (1, 2):
        write_run(templates, {k: [Second()] * 2 for k in range(w)}, name=f"run-{w}",
                  time_to_sync_s=1.5)
    fake = tmp_path / "fake_sim.py"
    fake.write_text(
        "import shutil, sys\n"
        "from pathlib import Path\n"
        "args = sys.argv[1:]\n"
        "w = int(args[args.index('--workers') + 1])\n"
        "root = Path(args[args.index('--log-dir') + 1])\n"
        f"run = shutil.copytree(Path({str(templates)!r}) / f'run-{{w}}', root / f'run-{{w}}')\n"
        "print('starting'); print(f'run directory: {run}')\n")
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "bench_scaling.py"), "--workers", "1,2", "--agents",
         "100", "--log-dir", str(tmp_path / "runs"), "--sim", f"{sys.executable} {fake}"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["run", "exit", "workers"]
    assert [x.split()[:3] for x in lines[1:]] == [["run-1", "duration", "1"],
                                                  ["run-2", "duration", "2"]]
    assert [x.split()[-1] for x in lines[1:]] == ["1.50", "1.50"]


def test_bench_scale_measures_a_fake_simulator_run(tmp_path):
    templates = tmp_path / "templates"
    seconds = [Second(fps=30.0 - i, flash_lateness_ms=[1.0 + i]) for i in range(4)]
    write_run(templates, {0: seconds, 1: seconds}, name="run-2")
    fake = tmp_path / "fake_sim.py"
    fake.write_text(
        "import shutil, sys\n"
        "from pathlib import Path\n"
        "root = Path(sys.argv[sys.argv.index('--log-dir') + 1])\n"
        f"run = shutil.copytree(Path({str(templates)!r}) / 'run-2', root / 'run-2')\n"
        "print(f'run directory: {run}')\n")
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "bench_scale.py"), "--agents", "200", "--workers", "2",
         "--duration", "4", "--log-dir", str(tmp_path / "runs"), "--sim",
         f"{sys.executable} {fake}", "--min-fps", "20"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["agents", "workers", "min_fps", "p99_flash_ms", "p99_edge_ms",
                              "flashes_per_s", "cpu_pct", "rss_mib", "rss_kib_per_agent",
                              "p99_trend", "ok"]
    figures = dict(zip(header.split(), row.split()))
    # the first line of each shard is start-up: min FPS over lines 2-4
    assert figures["agents"] == "200" and figures["workers"] == "2"
    assert figures["min_fps"] == "27.0" and figures["ok"] == "yes"
    assert float(figures["p99_trend"]) > 1  # lateness grew over the run
