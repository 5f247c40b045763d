"""coordinator.launcher: workers are reaped on every path, and the last-resort
``atexit`` hook lives only while a run's workers may. Stand-in children
(``sleep``) take the workers' place: nothing here starts the simulator."""

from __future__ import annotations

import subprocess
import sys

import psutil

from coordinator import launcher
from coordinator.launcher import WorkerProcesses

_REAL_POPEN = subprocess.Popen


def _sleepers(monkeypatch) -> list[int]:
    """Make spawn start `sleep 60` stand-ins; returns the list their pids go to."""
    pids: list[int] = []

    def popen(args, **kwargs):
        assert args[1:3] == ["-m", "worker"] and "--token" in args
        proc = _REAL_POPEN([sys.executable, "-c", "import time; time.sleep(60)"], **kwargs)
        pids.append(proc.pid)
        return proc

    monkeypatch.setattr(launcher.subprocess, "Popen", popen)
    return pids


def _gone(pids: list[int]) -> bool:
    return not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                   for p in pids)


def test_leaving_the_context_reaps_every_worker(monkeypatch, tmp_path):
    pids = _sleepers(monkeypatch)
    with WorkerProcesses() as workers:
        workers.spawn(2, control="ipc://c", telemetry="ipc://t", token="x", run_dir=tmp_path)
        assert sorted(workers.alive()) == [0, 1]
        assert (tmp_path / "worker-0.log").exists() and (tmp_path / "worker-1.log").exists()
    assert workers.alive() == [] and _gone(pids)
    assert sorted(shard for shard, _ in workers.new_exits()) == [0, 1]
    assert workers.new_exits() == []  # each exit is reported once


def test_the_atexit_hook_lives_exactly_as_long_as_the_workers(monkeypatch, tmp_path):
    pids = _sleepers(monkeypatch)
    hooks: list = []
    monkeypatch.setattr(launcher.atexit, "register", hooks.append)
    monkeypatch.setattr(launcher.atexit, "unregister", hooks.remove)
    first, second = WorkerProcesses(), WorkerProcesses()
    for workers in (first, second):
        workers.spawn(1, control="ipc://c", telemetry="ipc://t", token="x", run_dir=tmp_path)
    assert hooks == [first.kill_all, second.kill_all]
    first.kill_all()
    assert hooks == [second.kill_all]  # a reaped run is no longer referenced
    for hook in list(hooks):  # what the interpreter would do at exit
        hook()
    assert _gone(pids) and hooks == []
