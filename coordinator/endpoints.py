"""Where the run's sockets listen: one private folder of ipc endpoints, or loopback tcp.

:class:`Endpoints` names the endpoint for each socket of the run (``control``,
``telemetry``, ``edge-K``): ``ipc://<dir>/<name>.sock`` in a fresh folder that
``tempfile.mkdtemp`` creates with mode 0700 in one step (no moment when it is open to
others: only our uid, and root, can connect to a socket in it), or
``tcp://127.0.0.1:*`` (a random port; read the bound one from the socket) with
``--transport tcp``, where CurveZMQ does the guarding (``coordinator.security``).
Nothing listens on other interfaces, unless ``--listen HOST:PORT`` names one: then
every tcp socket binds on that HOST (CurveZMQ still guards each).

The folder holds a ``pid`` file (the coordinator's pid and start time). It is removed
on every exit the coordinator survives (:meth:`Endpoints.close`, and an ``atexit``
hook until then); a SIGKILLed coordinator cannot, so each new run first removes
:func:`stale_folders`: ``cascade-*`` folders of our uid whose coordinator is dead.

Not here: the sockets themselves (``control``, ``telemetry``; the workers bind their
edge inboxes).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

from shared.address import tcp_endpoint

__all__ = ["Endpoints", "TRANSPORTS", "PID_FILE", "PREFIX", "remove_stale_folders", "stale_folders"]

log = logging.getLogger(__name__)

TRANSPORTS = ("ipc", "tcp")
PREFIX = "cascade-"
PID_FILE = "pid"
LOOPBACK = "127.0.0.1"


class Endpoints:
    """The run's endpoint names; a context manager that removes the ipc folder.
    ``temp_dir`` is where the folder goes (default: the system's temporary folder)."""

    def __init__(self, transport: str, *, temp_dir: str | None = None,
                 host: str = LOOPBACK) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport {transport!r}: must be one of {', '.join(TRANSPORTS)}")
        self.transport = transport
        self.host = host
        remove_stale_folders(temp_dir)
        self.folder = tempfile.mkdtemp(prefix=PREFIX, dir=temp_dir)  # mode 0700, atomically
        atexit.register(self.close)  # unregistered by close
        try:
            _write_pid_file(Path(self.folder))
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "Endpoints":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __call__(self, name: str) -> str:
        """The endpoint to bind socket ``name`` on."""
        if self.transport == "tcp":
            return tcp_endpoint(self.host, "*")
        return f"ipc://{self.folder}/{name}.sock"

    def edge_inbox(self, shard: int) -> str:
        return self(f"edge-{shard}")

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        atexit.unregister(self.close)


def stale_folders(temp_dir: str | None = None) -> list[Path]:
    """``cascade-*`` folders in ``temp_dir`` owned by our uid whose ``pid`` file names a
    coordinator that is no longer running. Folders of other users, links, and folders
    without a readable pid file (one being made right now, say) are never stale."""
    base = Path(temp_dir or tempfile.gettempdir())
    out = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return []
    for folder in entries:
        if not folder.name.startswith(PREFIX):
            continue
        try:
            info = folder.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        owner = _read_pid_file(folder)
        if owner is not None and not _running(*owner):
            out.append(folder)
    return out


def remove_stale_folders(temp_dir: str | None = None) -> list[Path]:
    """Remove :func:`stale_folders`; returns what was removed."""
    removed = []
    for folder in stale_folders(temp_dir):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            log.info("removed %s, the socket folder of a coordinator that is gone", folder)
            removed.append(folder)
    return removed


def _write_pid_file(folder: Path) -> None:
    pid = os.getpid()
    fd = os.open(folder / PID_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{pid} {_start_time(pid) or ''}\n")


def _read_pid_file(folder: Path) -> tuple[int, str] | None:
    """(pid, start time or "") from ``folder``'s pid file; None when unreadable."""
    try:
        fd = os.open(folder / PID_FILE, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd) as f:
            parts = f.read(100).split()
        pid = int(parts[0])
    except (OSError, ValueError, IndexError):
        return None
    return (pid, parts[1] if len(parts) > 1 else "") if pid > 0 else None


def _running(pid: int, start: str) -> bool:
    """Is ``pid`` alive and (when ``start`` is known) the same process that wrote it?"""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's: not ours to judge
        return True
    now = _start_time(pid)
    return not (start and now and now != start)  # a reused pid is another process


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None
