"""The run directory: a new folder per run with run.json, logs and summary.json
(schema in docs/logs.md)."""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import msgpack
import psutil
import zmq

__all__ = ["create_run_dir", "write_json", "versions", "host_info", "JsonLines"]


def create_run_dir(log_dir: str, seed: int) -> Path:
    """Make ``log_dir/run-<UTC time>-<seed>[-n]``, never reusing an existing one."""
    base = Path(log_dir)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"--log-dir {log_dir!r}: cannot create it: {exc.strerror}") from None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for n in range(1000):
        path = base / (f"run-{stamp}-{seed}" + (f"-{n}" if n else ""))
        try:
            path.mkdir()
            return path.resolve()
        except FileExistsError:
            continue
    raise OSError(f"could not find a free run directory name in {base}")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def versions() -> dict[str, str]:
    def version_of(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "unknown"

    return {
        "simulator": version_of("cascade-fireflies"),
        "python": platform.python_version(),
        "pyzmq": zmq.pyzmq_version(),
        "libzmq": zmq.zmq_version(),
        "msgpack": ".".join(map(str, msgpack.version)),
        "numpy": version_of("numpy"),
    }


def host_info() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "executable": sys.executable,
    }


class JsonLines:
    """An append-only JSON-lines file, flushed after every line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "a")

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
