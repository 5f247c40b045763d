"""Worker processes: spawn, watch, reap.

Workers are fresh interpreters (``python -m worker``), never forks of a process that
holds a ZeroMQ context. Their command line holds nothing secret (any local user can
read it in ``/proc/PID/cmdline``): each worker's
:class:`~shared.credentials.Credentials` (the run's token, with tcp its CurveZMQ keys)
are written to its stdin pipe, which is then closed. The environment names the
coordinator's pid (``CASCADE_PARENT_PID``): a worker whose parent is already gone when
it starts exits at once (``shared.lifeline``).

Each worker runs in its own session, so a terminal's Ctrl-C reaches only the
coordinator, which then stops them in order (the session's stop sequence:
stop → bye → exit, then :meth:`WorkerProcesses.kill_all`: SIGTERM, then SIGKILL).

Last resort: while an instance has workers that may run, its :meth:`kill_all` is
registered with ``atexit`` (for paths that skip ``finally`` blocks); reaping
unregisters it, so no finished run stays referenced for the life of the process. A SIGKILLed coordinator runs no hook at all;
its workers exit on their own when the parent dies (the worker's parent-death
signal).

Not here: what the workers are told (``barrier``) or when they are stopped
(``session``).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

from shared.credentials import Credentials
from shared.lifeline import PARENT_PID_ENV
from shared.loops import DEFAULT_LOOP
from shared.runlog.schema import worker_log

__all__ = ["WorkerProcesses"]

log = logging.getLogger(__name__)

class WorkerProcesses:
    """The run's worker processes, by shard index. A context manager: leaving it
    reaps every worker (:meth:`kill_all`)."""

    def __init__(self) -> None:
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self._reported_exits: set[int] = set()

    def __enter__(self) -> "WorkerProcesses":
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill_all()

    def spawn(self, shards: int | Iterable[int], *, control: str, telemetry: str,
              credentials: Callable[[int], Credentials], run_dir: Path,
              log_level: str = "INFO", loop: str = DEFAULT_LOOP) -> None:
        """Start workers 0..shards-1 (or those of the shards given: a replacement's),
        handing ``credentials(shard)`` to each on its stdin; each writes stdout and
        stderr to its worker log (appended to)."""
        atexit.register(self.kill_all)  # unregistered once reaped
        env = {**os.environ, PARENT_PID_ENV: str(os.getpid())}
        for shard in range(shards) if isinstance(shards, int) else shards:
            self._reported_exits.discard(shard)  # a replacement's exit is news again
            with open(run_dir / worker_log(shard), "ab") as err:
                proc = self.procs[shard] = subprocess.Popen(
                    [sys.executable, "-m", "worker", "--control", control, "--telemetry", telemetry,
                     "--shard", str(shard), "--log-level", log_level, "--loop", loop],
                    stdin=subprocess.PIPE, stdout=err, stderr=err, env=env,
                    start_new_session=True, close_fds=True)
            _hand_over(proc, credentials(shard))

    def pids(self) -> dict[int, int]:
        """Each shard's worker pid."""
        return {shard: proc.pid for shard, proc in self.procs.items()}

    def alive(self) -> list[int]:
        """Shards whose worker is still running."""
        return [s for s, p in self.procs.items() if p.poll() is None]

    def new_exits(self) -> list[tuple[int, int]]:
        """(shard, exit code) of workers that ended since the last call."""
        out = []
        for shard, proc in self.procs.items():
            code = proc.poll()
            if code is not None and shard not in self._reported_exits:
                self._reported_exits.add(shard)
                out.append((shard, code))
        return out

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
        atexit.unregister(self.kill_all)


def _hand_over(proc: subprocess.Popen[bytes], credentials: Credentials) -> None:
    """Write the credentials line to the worker's stdin pipe (one line: far below the
    pipe's buffer, so this never blocks) and close it. A worker already dead is noticed
    by the caller's exit checks."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(credentials.to_line().encode("ascii"))
        proc.stdin.close()
    except BrokenPipeError:
        log.warning("worker pid %d exited before it was handed its credentials", proc.pid)


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        proc.send_signal(sig)
    except ProcessLookupError:
        pass
