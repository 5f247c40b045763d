"""sim-coordinator's option validation: clear one-line errors, exit 2, nothing started."""

from __future__ import annotations

import subprocess
import sys

import pytest

from simrun import ROOT


def _run(*args: str, tmp_path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coordinator", "--headless", "--log-dir",
                           str(tmp_path / "runs"), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("args, message", [
    (("--workers", "10", "--grid", "3"), "more workers than the 9 cells"),
    (("--workers", "0",), "--workers 0: must be at least 1"),
    (("--period", "0",), "period(=0.0) must be a finite number > 0"),
    (("--period", "-2",), "period(=-2.0)"),
    (("--nudge", "5", "--period", "2"), "nudge(=5.0) must be > 0 and <= period"),
    (("--refractory", "3", "--period", "2"), "refractory(=3.0) must be >= 0 and < period"),
    (("--grid", "10y3",), "grid '10y3' must be WxH or N"),
    (("--grid", "0x5",), "--grid"),
    (("--duration", "-1",), "--duration -1.0: must be >= 0"),
    (("--fps", "0",), "--fps 0.0"),
    (("--init", "sorted",), "--init 'sorted'"),
    (("--kick", "400", "--grid", "10"), "--kick 400: not a cell"),
    (("--kick", "a,b",), "give cell ids separated by commas"),
    (("--limit", "0",), "--limit 0: must be at least 1"),
])
def test_bad_options_fail_with_a_clear_message(args, message, tmp_path):
    result = _run(*args, tmp_path=tmp_path)
    assert result.returncode == 2, result
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_help_explains_the_options(tmp_path):
    result = subprocess.run([sys.executable, "-m", "coordinator", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--workers", "--grid", "--period", "--nudge", "--refractory", "--duration",
                   "--seed", "--fps", "--headless", "--log-dir", "--limit"):
        assert option in result.stdout


def test_unwritable_log_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = subprocess.run([sys.executable, "-m", "coordinator", "--headless", "--log-dir",
                             str(blocker / "runs"), "--duration", "1"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "--log-dir" in result.stderr and "cannot create it" in result.stderr
