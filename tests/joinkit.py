"""Helpers for tests of runs that workers join (``--listen``, ``sim-worker --join``):
keys, a free port, joining worker processes that are always reaped, and the checks
every such run must pass (links whole, the clock offset within its bound).

:class:`Joiners` starts ``python -m worker --join ...`` processes, optionally through a
launcher prefix (``ip netns exec NS``), each in its own process group with its output
in a file, and kills every group on :meth:`Joiners.close` whatever happened.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

from shared.keyfiles import make_keys

from simrun import read_jsonl

ROOT = Path(__file__).resolve().parent.parent


def keys_in(folder: Path) -> Path:
    """A fresh key folder (``sim-coordinator keys``); returns it."""
    make_keys(folder)
    return folder


def foreign_client_key(keys: Path, folder: Path) -> Path:
    """A key file naming the run's coordinator key but a client key of its own: it
    gets past the server's proof, then ZAP refuses it."""
    import zmq.auth

    from shared.keyfiles import load_coordinator_keys

    server = load_coordinator_keys(keys).server.public
    folder.mkdir(mode=0o700)
    _, secret = zmq.auth.create_certificates(folder, "worker", metadata={"coordinator-key": server})
    os.chmod(secret, 0o600)
    return Path(secret)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def worker_argv(address: str, key_file: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "worker", "--join", address, "--key-file", str(key_file), *extra]


class Joiners:
    """Joining workers of one test; a context manager that kills them all on exit."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> "Joiners":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, address: str, key_file: Path, *extra: str,
              prefix: Sequence[str] = ()) -> subprocess.Popen[bytes]:
        out = open(self.folder / f"joiner-{len(self.procs)}.log", "wb")
        try:
            proc = subprocess.Popen([*prefix, *worker_argv(address, key_file, *extra)], cwd=ROOT,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True)
        finally:
            out.close()
        self.procs.append(proc)
        return proc

    def output(self, i: int) -> str:
        return (self.folder / f"joiner-{i}.log").read_text(errors="replace")

    def wait_all(self, timeout: float = 60.0) -> list[int]:
        return [p.wait(timeout) for p in self.procs]

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait(10)


def final_lines(run_dir: Path, workers: int) -> dict[int, dict[str, Any]]:
    return {k: read_jsonl(run_dir / f"shard-{k}.jsonl")[-1] for k in range(workers)}


def links_whole(run_dir: Path, workers: int) -> int:
    """Assert every boundary flash sent was received, link by link; returns how many."""
    final = final_lines(run_dir, workers)
    total = 0
    for a, line in final.items():
        assert line.get("final") is True, (a, line)
        assert line["link_gaps"] == 0, (a, line["link_gaps"])
        for b, link in line["links"].items():
            back = final[int(b)]["links"][str(a)]
            assert link["dropped"] == 0, (a, b, link)
            assert link["sent"] == back["received"], (a, b, link, back)
            total += link["sent"]
    return total


def clock_figures(run_dir: Path, shard: int) -> list[dict[str, float]]:
    """The ``clock`` figures of every line of a joined shard's log."""
    return [line["clock"] for line in read_jsonl(run_dir / f"shard-{shard}.jsonl")]
