"""coordinator.launcher: workers are reaped on every path, the last-resort ``atexit``
hook lives only while a run's workers may, and the credentials go to each worker's
stdin, never its command line. Stand-in children (``sleep``) take the workers' place:
nothing here starts the simulator."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from coordinator import launcher
from coordinator.launcher import WorkerProcesses
from shared.credentials import Credentials, CredentialsError
from shared.lifeline import PARENT_PID_ENV

_REAL_POPEN = subprocess.Popen


SECRET = Credentials("the-token", "P" * 40, "S" * 40, "K" * 40)


def _credentials(shard: int) -> Credentials:
    return SECRET


def _sleepers(monkeypatch, stdin_to=None) -> list[int]:
    """Make spawn start `sleep 60` stand-ins; returns the list their pids go to. With
    ``stdin_to`` (a folder), stand-in k copies its stdin line to ``stdin_to/k``."""
    pids: list[int] = []

    def popen(args, **kwargs):
        assert args[1:3] == ["-m", "worker"] and not any("token" in a or "S" * 40 in a for a in args)
        assert kwargs["env"][PARENT_PID_ENV] == str(os.getpid())
        copy = "" if stdin_to is None else (
            f"import sys; open({str(stdin_to / args[args.index('--shard') + 1])!r}, 'w')"
            ".write(sys.stdin.readline()); ")
        proc = _REAL_POPEN([sys.executable, "-c", copy + "import time; time.sleep(60)"], **kwargs)
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
        workers.spawn(2, control="ipc://c", telemetry="ipc://t", credentials=_credentials,
                      run_dir=tmp_path)
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
        workers.spawn(1, control="ipc://c", telemetry="ipc://t", credentials=_credentials,
                      run_dir=tmp_path)
    assert hooks == [first.kill_all, second.kill_all]
    first.kill_all()
    assert hooks == [second.kill_all]  # a reaped run is no longer referenced
    for hook in list(hooks):  # what the interpreter would do at exit
        hook()
    assert _gone(pids) and hooks == []


def test_each_worker_reads_its_credentials_on_stdin(monkeypatch, tmp_path):
    _sleepers(monkeypatch, stdin_to=tmp_path)
    with WorkerProcesses() as workers:
        workers.spawn(2, control="ipc://c", telemetry="ipc://t", credentials=_credentials,
                      run_dir=tmp_path)
        deadline = time.monotonic() + 20
        while not all((tmp_path / str(k)).exists() and (tmp_path / str(k)).read_text()
                      for k in (0, 1)):
            assert time.monotonic() < deadline, "no stand-in read its stdin"
            time.sleep(0.05)
        for k in (0, 1):
            assert Credentials.from_line((tmp_path / str(k)).read_text()) == SECRET
        assert workers.pids() == {k: p.pid for k, p in workers.procs.items()}


def test_a_bad_credentials_line_says_what_is_wrong_and_secrets_are_never_printed():
    with pytest.raises(CredentialsError, match="pipe such a line"):
        Credentials.from_line("")
    with pytest.raises(CredentialsError, match="not JSON"):
        Credentials.from_line("--token abc\n")
    with pytest.raises(CredentialsError, match="exactly the keys"):
        Credentials.from_line('{"token": "t"}\n')
    with pytest.raises(CredentialsError, match="40"):
        Credentials.from_line('{"token": "t", "public": "short", "secret": "", "server": ""}\n')
    assert "S" * 40 not in repr(SECRET) and "the-token" not in repr(SECRET)
    assert Credentials.from_line(Credentials("t").to_line()).curve is False
