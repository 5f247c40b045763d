"""sim-coordinator's options: clear one-line errors, exit 2, nothing started; defaults
come from RunConfig. In-process (typer's CliRunner) except the one e2e check that
``python -m coordinator`` really is the CLI."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from coordinator import cli
from coordinator.config import RunConfig, default_workers

from simrun import ROOT


def _invoke(*args: str, tmp_path: Path) -> Any:
    return CliRunner().invoke(cli.app, ["--headless", "--log-dir", str(tmp_path / "runs"), *args])


@pytest.mark.parametrize("args, message", [
    (("--workers", "10", "--grid", "3"), "more workers than the 9 cells"),
    (("--workers", "0",), "--workers 0: must be at least 1"),
    (("--period", "0",), "--period 0.0: must be > 0.1 s (the reset jitter"),
    (("--period", "-2",), "--period -2.0: must be > 0.1 s"),
    (("--period", "inf",), "period(=inf) must be a finite number > 0"),
    (("--nudge", "5", "--period", "2"), "nudge(=5.0) must be > 0 and <= period"),
    (("--refractory", "3", "--period", "2"), "refractory(=3.0) must be >= 0 and < period"),
    (("--grid", "10y3",), "grid '10y3' must be WxH or N"),
    (("--grid", "0x5",), "--grid"),
    (("--duration", "-1",), "--duration -1.0: must be >= 0"),
    (("--fps", "0",), "--fps 0.0"),
    (("--init", "sorted",), "--init sorted: give a .npy or .csv file (or random or zero)"),
    (("--kick", "400", "--grid", "10"), "--kick 400: not a cell"),
    (("--kick", "a,b",), "give cell ids separated by commas"),
    (("--limit", "0",), "--limit 0: must be within [1, 2**63)"),
    (("--clock", "sundial"), "--clock 'sundial': must be one of realtime, lockstep"),
    (("--loop", "sundial"), "--loop 'sundial': must be one of asyncio, uvloop"),
    (("--delay", "0.1"), "--delay 0.1: needs --clock lockstep"),
    (("--clock", "lockstep", "--delay", "0"), "--delay 0.0: with --clock lockstep it must be > 0"),
    (("--clock", "lockstep", "--delay", "-1"), "--delay -1.0: must be a number of seconds >= 0"),
    (("--clock", "lockstep", "--duration", "0"), "--clock lockstep needs a --duration > 0"),
])
def test_bad_options_fail_with_a_clear_message(args, message, tmp_path):
    result = _invoke(*args, tmp_path=tmp_path)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_help_explains_the_options():
    result = CliRunner().invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    for option in ("--workers", "--grid", "--period", "--nudge", "--refractory", "--duration",
                   "--seed", "--fps", "--headless", "--log-dir", "--limit", "--jitter", "--init"):
        assert option in result.output
    assert "default: the number of" in result.output  # not a number fixed at import time
    assert "[default: 64x64]" in result.output and "[default: 2.0]" in result.output


def test_the_cli_defaults_are_run_configs(monkeypatch, tmp_path):
    seen: list[tuple[RunConfig, bool]] = []

    class FakeSession:
        def __init__(self, config: RunConfig, *, out: Any, live_view: bool) -> None:
            seen.append((config, live_view))

        async def run(self) -> int:
            return 0

    monkeypatch.setattr(cli, "Session", FakeSession)
    result = CliRunner().invoke(cli.app, [])
    assert result.exit_code == 0, result.output
    (config, live_view), = seen
    assert config == RunConfig()
    assert config.workers == default_workers()
    assert live_view is False  # CliRunner's stdout is not a terminal
    assert "headless" not in {f.name for f in dataclasses.fields(RunConfig)}


def test_the_workers_default_is_resolved_at_run_time(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert RunConfig().workers == 3  # a factory called per RunConfig, not a value frozen at import


def test_unwritable_log_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(cli.app, ["--headless", "--log-dir", str(blocker / "runs"),
                                          "--duration", "1"])
    assert result.exit_code == 1
    assert "--log-dir" in result.output and "cannot create it" in result.output


@pytest.mark.e2e
def test_python_m_coordinator_is_the_cli(tmp_path):
    result = subprocess.run([sys.executable, "-m", "coordinator", "--headless", "--log-dir",
                             str(tmp_path / "runs"), "--workers", "0"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "error: --workers 0: must be at least 1" in result.stderr
    assert not (tmp_path / "runs").exists()
