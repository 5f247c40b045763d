"""The key files of a run that spans machines: made once with ``sim-coordinator keys
DIR``, read by the coordinator (``--keys DIR``) and by each joining worker
(``sim-worker --join ... --key-file DIR/worker.key_secret``).

:func:`make_keys` writes two CurveZMQ certificates with ``zmq.auth``:

* ``coordinator.key_secret`` (and its public half ``coordinator.key``): the keypair of
  every socket the coordinator binds; stays on the coordinator's host.
* ``worker.key_secret`` (and ``worker.key``): the run's client key. Holding it is what
  lets a worker join; its metadata also carries the coordinator's public key, so this
  one file is all a worker host needs. Copy it only to hosts that run workers.

Secret files are mode 0600 in a 0700 folder, and are refused when others can read them
(as ssh refuses a private key). Nothing here opens a socket; docs/security.md says who
may connect with which key.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .curve import KEY_CHARS, Keypair, require_curve

__all__ = ["COORDINATOR", "WORKER", "KeyFileError", "CoordinatorKeys", "WorkerKeys",
           "make_keys", "load_coordinator_keys", "load_worker_keys"]

COORDINATOR = "coordinator"  # certificate names in the key folder
WORKER = "worker"
_SERVER_FIELD = "coordinator-key"  # the worker certificate's metadata: the coordinator's key


class KeyFileError(ValueError):
    """A key folder or file that is missing, malformed or readable by others."""


@dataclass(frozen=True)
class CoordinatorKeys:
    """What the coordinator reads from ``--keys DIR``: its keypair and the client key
    that joining workers must hold."""

    server: Keypair
    client_public: str


@dataclass(frozen=True)
class WorkerKeys:
    """What a joining worker reads from ``--key-file``: the run's client keypair and
    the coordinator's public key."""

    client: Keypair
    server_public: str


def make_keys(folder: str | os.PathLike[str]) -> list[Path]:
    """Write a new pair of certificates into ``folder`` (made 0700 if absent); returns
    the files written. Refuses a folder that already holds keys."""
    import zmq.auth

    require_curve()
    path = Path(folder)
    taken = [p for p in (path / f"{COORDINATOR}.key_secret", path / f"{WORKER}.key_secret")
             if p.exists()]
    if taken:
        raise KeyFileError(f"{taken[0]} exists: pick a new folder, or delete the old keys "
                           "first (workers holding them could no longer join)")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    server_public, server_secret = zmq.auth.create_certificates(path, COORDINATOR)
    with open(server_public, encoding="utf-8") as f:
        server_key = _field(f.read(), "public-key", Path(server_public))
    client_files = zmq.auth.create_certificates(path, WORKER, metadata={_SERVER_FIELD: server_key})
    written = [Path(server_public), Path(server_secret), *map(Path, client_files)]
    for p in written:
        os.chmod(p, 0o600 if p.name.endswith("_secret") else 0o644)
    return written


def load_coordinator_keys(folder: str | os.PathLike[str]) -> CoordinatorKeys:
    """The coordinator's keypair and the client's public key from ``folder``."""
    path = Path(folder)
    if not path.is_dir():
        raise KeyFileError(f"--keys {folder}: no such folder; make one with "
                           f"`sim-coordinator keys {folder}`")
    secret = path / f"{COORDINATOR}.key_secret"
    text = _read_secret(secret)
    server = Keypair(_field(text, "public-key", secret), _field(text, "secret-key", secret))
    public_file = path / f"{WORKER}.key"
    try:
        client_text = public_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyFileError(f"{public_file}: {exc.strerror}; the folder must come from "
                           f"`sim-coordinator keys DIR`") from None
    return CoordinatorKeys(server, _field(client_text, "public-key", public_file))


def load_worker_keys(file: str | os.PathLike[str]) -> WorkerKeys:
    """The run's client keypair and the coordinator's key from ``file``
    (``worker.key_secret``)."""
    path = Path(file)
    text = _read_secret(path)
    client = Keypair(_field(text, "public-key", path), _field(text, "secret-key", path))
    return WorkerKeys(client, _field(text, _SERVER_FIELD, path))


def _read_secret(path: Path) -> str:
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc.strerror or exc}; make the keys with "
                           "`sim-coordinator keys DIR`") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path} is readable by others (mode {stat.S_IMODE(info.st_mode):o}): "
                           f"run `chmod 600 {path}`")
    return text


def _field(text: str, name: str, path: Path) -> str:
    """The value of ``name = value`` in a zmq.auth certificate (quotes optional)."""
    for line in text.splitlines():
        key, sep, value = line.strip().partition(" = ")
        if sep and key == name:
            value = value.strip().strip('"')
            if len(value) != KEY_CHARS:
                raise KeyFileError(f"{path}: {name} is not a {KEY_CHARS}-character z85 key")
            return value
    raise KeyFileError(f"{path} has no {name}: it is not a key file of `sim-coordinator keys DIR`")
