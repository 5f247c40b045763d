"""The options of a run that spans hosts, checked: ``--listen HOST:PORT``, ``--spawn``,
``--keys DIR``, ``--join-timeout``.

``--spawn local`` (the default) starts every worker here; ``none`` starts none and
waits for all of them to join; a number K starts shards 0..K-1 here and waits for the
rest. Anything but ``local`` needs ``--listen``, and ``--listen`` needs the keys
(``sim-coordinator keys DIR``): no worker joins without the run's client key.

Options that make workers read files from the run directory (``--init FILE``,
``--resume``) need every worker spawned here: a joined worker's host has no run
directory (the files a worker writes reach it over the wire: ``worker.shipping``). Not here: the run's other options
(``config``) or binding anything (``session``, ``joins``).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from shared.address import split_address, tcp_endpoint

__all__ = ["SPAWN_LOCAL", "SPAWN_NONE", "Listen", "parse_listen", "spawned_workers",
           "host_problems"]

SPAWN_LOCAL = "local"
SPAWN_NONE = "none"
_WILDCARDS = ("0.0.0.0", "::", "*", "")


@dataclass(frozen=True)
class Listen:
    """Where the join socket binds; every other socket of the run binds on ``host`` too."""

    host: str
    port: int

    @property
    def endpoint(self) -> str:
        return tcp_endpoint(self.host, self.port)

    def __str__(self) -> str:
        return self.endpoint.removeprefix("tcp://")


def parse_listen(text: str) -> Listen:
    """``HOST:PORT`` (``[v6]:PORT``); ValueError names what is wrong and the fix."""
    try:
        host, port = split_address(text)
    except ValueError as exc:
        raise ValueError(f"--listen {text!r}: {exc}") from None
    if host in _WILDCARDS:
        raise ValueError(f"--listen {text!r}: give the address workers reach this host at, "
                         f"not a wildcard (every socket of the run binds there)")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"--listen {text!r}: HOST must be an IP address of this host "
                         f"(like 10.0.0.5)") from None
    return Listen(host, port)


def spawned_workers(spawn: str, workers: int) -> int:
    """How many workers ``--spawn`` starts here (shards 0..n-1); ValueError if invalid."""
    if spawn == SPAWN_LOCAL:
        return workers
    if spawn == SPAWN_NONE:
        return 0
    if spawn.isdigit() and int(spawn) <= workers:
        return int(spawn)
    raise ValueError(f"--spawn {spawn!r}: must be local, none, or a number of workers to start "
                     f"here, 0..{workers} (the rest join)")


def host_problems(*, listen: str | None, spawn: str, keys: str | None, transport: str,
                  workers: int, join_timeout: float, local_files: list[str]) -> list[str]:
    """What is wrong with these options, one message each (empty: nothing).
    ``local_files`` names the options given that need every worker on this host."""
    try:
        spawned = spawned_workers(spawn, workers)
    except ValueError as exc:
        return [str(exc)]
    if listen is None:
        out = []
        if spawned < workers:
            out.append(f"--spawn {spawn}: workers can join only with --listen HOST:PORT")
        if keys is not None:
            out.append("--keys goes with --listen HOST:PORT")
        return out
    out = []
    try:
        parse_listen(listen)
    except ValueError as exc:
        out.append(str(exc))
    if keys is None:
        out.append("--listen needs --keys DIR: make the keys once with `sim-coordinator keys "
                   "DIR`, and copy DIR/worker.key_secret to the hosts that run workers")
    if transport != "tcp":
        out.append(f"--listen runs every socket over tcp: leave out --transport {transport}")
    if not (math.isfinite(join_timeout) and join_timeout > 0):
        out.append(f"--join-timeout {join_timeout}: must be > 0 seconds")
    if spawned < workers and local_files:
        out.append(f"{local_files[0]} needs every worker on this host (--spawn local): a "
                   f"joined worker reads no file from this host's run directory")
    return out
