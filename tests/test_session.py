"""coordinator.session without worker processes: a run that cannot get going still
ends cleanly, with the right exit code, lines and summary, and whatever was built is
taken down (sockets closed, ipc folder removed, signal handlers restored)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

from shared.runlog.schema import SUMMARY_FIELDS, SUMMARY_JSON, check

from coordinator import sockets as sockets_mod
from coordinator.config import RunConfig
from coordinator.control import ControlChannel
from coordinator.endpoints import Endpoints
from coordinator.launcher import WorkerProcesses
from coordinator.session import Session


class RecordedEndpoints(Endpoints):
    made: list["RecordedEndpoints"] = []

    def __init__(self, transport: str, **kwargs) -> None:
        super().__init__(transport, **kwargs)
        RecordedEndpoints.made.append(self)


class RecordedChannel(ControlChannel):
    made: list["RecordedChannel"] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.closed = False
        RecordedChannel.made.append(self)

    def close(self) -> None:
        super().close()
        self.closed = True


def _no_workers(monkeypatch) -> None:
    monkeypatch.setattr(WorkerProcesses, "spawn", lambda self, *a, **k: None)
    monkeypatch.setattr(sockets_mod, "Endpoints", RecordedEndpoints)
    monkeypatch.setattr(sockets_mod, "ControlChannel", RecordedChannel)
    RecordedEndpoints.made.clear()
    RecordedChannel.made.clear()


def _config(tmp_path: Path) -> RunConfig:
    return RunConfig(workers=2, grid=(4, 4), duration=1.0, log_dir=str(tmp_path / "runs"))


def _summary(tmp_path: Path) -> dict:
    (run_dir,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run_dir / SUMMARY_JSON).read_text())
    assert check(summary, SUMMARY_FIELDS) == []
    return summary


def _taken_down() -> bool:
    (endpoints,) = RecordedEndpoints.made
    return not os.path.exists(endpoints.folder) and all(c.closed for c in RecordedChannel.made)


async def test_workers_that_never_say_hello_time_out_the_set_up(monkeypatch, tmp_path):
    _no_workers(monkeypatch)
    before = signal.getsignal(signal.SIGTERM)
    lines: list[str] = []
    code = await Session(_config(tmp_path), out=lines.append, setup_timeout=0.3).run()
    assert code == 1
    assert lines[0].startswith("run directory: ")
    assert lines[1].startswith("error: shards [0, 1] sent no 'hello' within 0 s; see ")
    assert lines[2].startswith("summary: ") and lines[2].endswith("exit=error")
    summary = _summary(tmp_path)
    assert summary["exit"] == "error" and summary["error"].startswith("shards [0, 1]")
    assert _taken_down()
    assert signal.getsignal(signal.SIGTERM) == before  # the run's handler is gone


async def test_an_interrupt_during_set_up_ends_with_130(monkeypatch, tmp_path):
    _no_workers(monkeypatch)
    lines: list[str] = []
    session = Session(_config(tmp_path), out=lines.append, setup_timeout=30.0)
    asyncio.get_running_loop().call_later(0.3, session.request_stop, "interrupted")
    assert await session.run() == 130
    assert "interrupted: stopping workers" in lines
    assert any(l.startswith("error: stopped (interrupted) while waiting for 'hello'") for l in lines)
    assert _summary(tmp_path)["exit"] == "interrupted"
    assert _taken_down()


async def test_a_part_that_fails_to_build_takes_down_those_built_before(monkeypatch, tmp_path):
    _no_workers(monkeypatch)

    def broken(*args, **kwargs):
        raise OSError("address in use")

    monkeypatch.setattr(sockets_mod, "TelemetryStream", broken)
    lines: list[str] = []
    code = await Session(_config(tmp_path), out=lines.append).run()
    assert code == 1
    assert "error: address in use" in lines  # an OSError names what failed itself
    summary = _summary(tmp_path)
    assert summary["error"] == "address in use" and summary["malformed_rejected_coordinator"] == 0
    assert _taken_down()  # the control channel built before it is closed, the folder gone
