"""Helpers for tests that run the real simulator: processes, sockets, run directories.

:class:`SimRun` starts ``python -m coordinator`` as a subprocess, collects its output
lines on a thread, records the pids of every worker it spawned, and, whatever happens
in the test, kills and reaps the coordinator and every recorded worker on cleanup,
and removes the run's ipc socket folder if a killed coordinator left it behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent


class SimRun:
    def __init__(self, args: list[str], log_dir: Path, *, env: dict[str, str] | None = None) -> None:
        self.args = [sys.executable, "-m", "coordinator", "--headless", "--log-dir", str(log_dir), *args]
        self.lines: list[str] = []
        self.worker_pids: set[int] = set()
        self.socket_dirs: set[Path] = set()  # the run's ipc folder, read from a worker's argv
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, prefix: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if line.startswith(prefix):
                    return line
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            self.record_workers()
            time.sleep(0.05)
        raise AssertionError(f"no line starting {prefix!r} within {timeout} s; output:\n{self.output}")

    def record_workers(self) -> set[int]:
        """Remember the pids of the coordinator's worker children (call while running).
        Only ``python -m worker`` children count: the coordinator runs other short-lived
        children too (``platform.platform()`` runs ``uname``)."""
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return self.worker_pids
        for child in children:
            if child.pid in self.worker_pids:
                continue
            try:
                is_worker = child.cmdline()[1:3] == ["-m", "worker"]
            except psutil.Error:
                continue
            if is_worker:
                self.worker_pids.add(child.pid)
                self._record_socket_dir(child)
        return self.worker_pids

    def _record_socket_dir(self, worker: psutil.Process) -> None:
        try:
            cmd = worker.cmdline()
        except psutil.Error:
            return
        if "--control" in cmd[:-1]:
            control = cmd[cmd.index("--control") + 1]
            if control.startswith("ipc://"):
                folder = Path(control.removeprefix("ipc://")).parent
                if folder.parent == Path(tempfile.gettempdir()) and folder.name.startswith("cascade-"):
                    self.socket_dirs.add(folder)

    def wait_workers(self, n: int, timeout: float = 60.0) -> set[int]:
        deadline = time.monotonic() + timeout
        while len(self.record_workers()) < n:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"saw {len(self.worker_pids)} of {n} workers; output:\n{self.output}")
            time.sleep(0.05)
        return self.worker_pids

    @property
    def run_dir(self) -> Path:
        line = self.wait_for_line("run directory: ")
        return Path(line.split(": ", 1)[1])

    def wait(self, timeout: float = 120.0) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def living_workers(self) -> list[int]:
        alive = []
        for pid in self.worker_pids:
            try:
                p = psutil.Process(pid)
                if p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        return alive

    def cleanup(self) -> None:
        self.record_workers()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pid in self.worker_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for folder in self.socket_dirs:  # a SIGKILLed coordinator cannot remove its own
            shutil.rmtree(folder, ignore_errors=True)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_gone(pids: set[int] | list[int], timeout: float = 15.0) -> list[int]:
    """Pids still alive (not zombies) after waiting up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)
