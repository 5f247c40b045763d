"""Worker processes: spawn, watch, stop, reap.

Workers are fresh interpreters (``python -m worker``), never forks of a process that
holds a ZeroMQ context. Each runs in its own session, so a terminal's Ctrl-C reaches
only the coordinator, which then stops them in order. Every path out of the
coordinator reaps every child: a normal stop (bye, then exit), then SIGTERM, then
SIGKILL, and an ``atexit`` fallback for paths that skip ``finally`` blocks.
"""

from __future__ import annotations

import atexit
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["WorkerProcesses"]

log = logging.getLogger(__name__)


class WorkerProcesses:
    """The run's worker processes, by shard index."""

    def __init__(self) -> None:
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.reported_exits: set[int] = set()
        atexit.register(self.kill_all)

    def spawn(self, shards: int, *, control: str, telemetry: str, token: str,
              run_dir: Path, log_level: str = "INFO") -> None:
        for shard in range(shards):
            log_path = run_dir / f"worker-{shard}.log"
            with open(log_path, "ab") as err:
                self.procs[shard] = subprocess.Popen(
                    [sys.executable, "-m", "worker", "--control", control, "--telemetry", telemetry,
                     "--shard", str(shard), "--token", token, "--log-level", log_level],
                    stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                    start_new_session=True, close_fds=True)

    @property
    def pids(self) -> dict[int, int]:
        return {shard: p.pid for shard, p in self.procs.items()}

    def alive(self) -> list[int]:
        return [s for s, p in self.procs.items() if p.poll() is None]

    def new_exits(self) -> list[tuple[int, int]]:
        """(shard, exit code) of workers that ended since the last call."""
        out = []
        for shard, proc in self.procs.items():
            code = proc.poll()
            if code is not None and shard not in self.reported_exits:
                self.reported_exits.add(shard)
                out.append((shard, code))
        return out

    def wait_all(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for every worker to exit by itself."""
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            left = deadline - time.monotonic()
            try:
                proc.wait(max(left, 0.0))
            except subprocess.TimeoutExpired:
                return False
        return True

    def kill_all(self, grace: float = 2.0) -> None:
        """SIGTERM the living, wait ``grace`` s, SIGKILL the rest, reap all."""
        living = [p for p in self.procs.values() if p.poll() is None]
        for proc in living:
            _signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in living:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d ignored SIGTERM; killing it", proc.pid)
                _signal(proc, signal.SIGKILL)
                proc.wait()

    def exit_codes(self) -> dict[int, int | None]:
        return {s: p.poll() for s, p in self.procs.items()}


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        proc.send_signal(sig)
    except ProcessLookupError:
        pass
