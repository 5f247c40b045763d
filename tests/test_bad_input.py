"""Bad input to sim-coordinator (issue 10, item 6): every option is bounded before
anything is allocated or spawned (one line naming the option and its range, exit 2),
and a full or unwritable log directory is one line naming the path and the OS error,
exit 1, never a traceback; a run whose disk fills up still writes summary.json."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import psutil
import pytest
from typer.testing import CliRunner

from shared.runlog.schema import SUMMARY_FIELDS, SUMMARY_JSON, check

from coordinator import capacity, cli
from coordinator.records import SUMMARY_RESERVE, RunRecords, create_run_dir

from simrun import ROOT, SimRun, wait_gone


def _invoke(*args: str, tmp_path: Path) -> Any:
    return CliRunner().invoke(cli.app, ["--headless", "--log-dir", str(tmp_path / "runs"), *args])


@pytest.mark.parametrize("args, message", [
    # each of these once ended in a traceback (OverflowError, MemoryError, ValueError)
    (("--seed", str(10 ** 30)), "--seed 1000000000000000000000000000000: must be within [0, 2**63)"),
    (("--seed", "-1"), "--seed -1: must be within [0, 2**63)"),
    (("--limit", str(2 ** 64)), "--limit 18446744073709551616: must be within [1, 2**63)"),
    (("--grid", "100000x100000"), "--grid 100000x100000: 10,000,000,000 cells; at most 16,777,216"),
    (("--log-level", "NOPE"), "--log-level 'NOPE': must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    # once refused naming reset_jitter, which no option sets
    (("--period", "0.1"), "--period 0.1: must be > 0.1 s (the reset jitter"),
    (("--workers", "1000", "--grid", "100"), "--workers 1000: at most 256"),
    (("--jitter", "-0.5"), "--jitter -0.5: must be >= 0 seconds (and < --period)"),
    (("--jitter", "nan"), "--jitter nan: must be >= 0 seconds"),
    (("--jitter", "5", "--period", "5"), "--period 5.0: must be > 5.0 s (the reset jitter --jitter"),
])
def test_out_of_range_options_are_one_line_and_exit_2(args, message, tmp_path):
    result = _invoke(*args, tmp_path=tmp_path)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"error: {message}" or message in result.output.strip()
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert "reset_jitter" not in result.output
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_a_grid_larger_than_the_memory_available_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(capacity, "memory_available", lambda: 10 * capacity.BYTES_PER_WORKER)
    result = _invoke("--grid", "2000", "--workers", "2", tmp_path=tmp_path)
    assert result.exit_code == 2, result.output
    assert "--grid 2000x2000: 4,000,000 agents need about" in result.output
    assert "the memory available now holds at most" in result.output
    assert not (tmp_path / "runs").exists()


def test_more_workers_than_the_process_limit_allows_are_refused(monkeypatch, tmp_path):
    # What a low `ulimit -u` leaves: the run once failed 14 s later with BlockingIOError.
    monkeypatch.setattr(capacity, "tasks_left", lambda: capacity.SPARE_TASKS + 10 * capacity.TASKS_PER_WORKER)
    result = _invoke("--workers", "11", "--grid", "100", tmp_path=tmp_path)
    assert result.exit_code == 2, result.output
    assert "--workers 11: the process limit (ulimit -u) leaves room for at most 10 workers" in result.output
    assert not (tmp_path / "runs").exists()


def test_tasks_left_counts_this_users_threads_against_the_limit(monkeypatch):
    monkeypatch.setattr(capacity.resource, "getrlimit", lambda which: (100_000, 100_000))
    left = capacity.tasks_left()
    assert left is not None and 0 < left <= 100_000 - psutil.Process().num_threads()
    monkeypatch.setattr(capacity.resource, "getrlimit",
                        lambda which: (capacity.resource.RLIM_INFINITY,) * 2)
    assert capacity.tasks_left() is None


@pytest.fixture
def small_fs() -> Iterator[Path]:
    """A 1 MiB tmpfs (mounting needs root; skipped where it is not permitted)."""
    folder = Path(tempfile.mkdtemp(prefix="cascade-tmpfs-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()


def _fill(folder: Path, name: str = "filler") -> None:
    """Fill the filesystem holding ``folder`` to the last byte."""
    with open(folder / name, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


def test_a_full_log_dir_is_one_line_and_exit_1(small_fs):
    (small_fs / "runs").mkdir()
    _fill(small_fs)
    result = subprocess.run([sys.executable, "-m", "coordinator", "--headless", "--log-dir",
                             str(small_fs / "runs"), "--workers", "1", "--grid", "4", "--duration", "1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, lines
    assert lines[0].startswith(f"error: --log-dir '{small_fs / 'runs'}': ")
    assert lines[0].endswith("No space left on device")
    assert list((small_fs / "runs").iterdir()) == []  # no half-made run directory


def test_an_unwritable_log_dir_is_one_line_and_exit_1(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        result = _invoke("--workers", "1", "--grid", "4", "--duration", "1",
                         tmp_path=folder)  # --log-dir folder/runs: cannot even be created
        assert result.exit_code == 1, result.output
        assert result.output.strip() == (f"error: --log-dir '{folder / 'runs'}': cannot create it: "
                                         f"Read-only file system")
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_the_summary_has_room_reserved_from_the_start(small_fs):
    run_dir = create_run_dir(str(small_fs / "runs"), seed=3)
    assert (run_dir / SUMMARY_RESERVE).stat().st_size >= 64 * 1024
    _fill(small_fs)
    with RunRecords(run_dir) as records:
        with pytest.raises(OSError, match="coordinator.jsonl: cannot write it: No space left on device"):
            records.write_interval({"t": 1.0, "pad": "x" * 8192})
        records.write_summary({"schema": 1, "exit": "error", "pad": "y" * 20_000})
    assert json.loads((run_dir / SUMMARY_JSON).read_text())["exit"] == "error"
    assert not (run_dir / SUMMARY_RESERVE).exists() and not list(run_dir.glob("*.tmp"))


@pytest.mark.e2e
def test_a_disk_that_fills_mid_run_still_gets_a_summary(small_fs, tmp_path):
    run = SimRun(["--workers", "2", "--grid", "8", "--period", "1", "--duration", "30"], small_fs / "runs")
    try:
        run.wait_for_line("t=", timeout=60)
        pids = run.record_workers()
        sockets = set(run.socket_dirs)
        _fill(small_fs)
        code = run.wait(90)
        assert code in (1, 3), run.output  # error (our disk) or workers lost (theirs)
        assert "Traceback" not in run.output, run.output
        assert run.lines[-1].startswith("summary: ") and run.lines[-1].endswith(("exit=error", "exit=workers_lost"))
        summary = json.loads((run.run_dir / SUMMARY_JSON).read_text())
        assert check(summary, SUMMARY_FIELDS) == []
        if summary["exit"] == "workers_lost":
            assert summary["workers_lost"], summary
        for loss in summary["workers_lost"].values():  # a worker says why it left
            assert "No space left on device" in loss["reason"], summary["workers_lost"]
        assert not wait_gone(pids) and not any(folder.exists() for folder in sockets)
    finally:
        run.cleanup()
