"""The join socket of ``--listen HOST:PORT``: where workers on other hosts ask to take
a shard (``sim-worker --join HOST:PORT --key-file ...``).

:class:`JoinDesk` is a ROUTER bound at the listen address, a CurveZMQ server in its
own ZAP domain: only holders of the run's client key (``--keys DIR``) complete the
handshake, everyone else is refused there and counted
(``RunSecurity.join_keyring``). On it a worker may

* ``clock_ping [-1, t]``: answered at once with ``clock_pong [t, our clock]``, so the
  worker can measure its clock's offset before it joins (``shared.clock_sync``);
* ``join [version, shard or -1, its public key, advertise host, host name, byte
  order]``: answered ``join_ok [shard, token, control endpoint, telemetry endpoint]``
  or ``join_refused [reason]``.

A join is refused, with the reason on both sides, when the worker's version is not
ours (or its byte order is not this host's), the shard is out of range, spawned here
or taken, every shard is taken, the run has started (:meth:`JoinDesk.close_joins`),
or the key or host is malformed. An accepted worker's own public key is admitted
(``RunSecurity.admit``): with it, it connects to control and telemetry like a spawned
worker and says ``hello``.

Not here: the barrier that waits for the hellos (``barrier``), the worker's side
(``worker.join``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import msgpack
import zmq

from shared import limits, protocol
from shared.address import valid_host
from shared.zmqio import send_nowait

from .receiver import Receiver
from .security import RunSecurity

__all__ = ["JoinDesk", "Joined"]

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Joined:
    """A worker that took ``shard``: its host name, the host its inbox binds on, its key."""

    shard: int
    host: str
    advertise: str
    key: str


class JoinDesk(Receiver):
    """Hands the shards ``remote`` to workers that join, until the run starts.

    ``control`` and ``telemetry`` are the endpoints an accepted worker connects to;
    ``version`` is the package version a worker must have too."""

    def __init__(self, ctx: zmq.Context[Any], loop: asyncio.AbstractEventLoop, endpoint: str, *,
                 security: RunSecurity, remote: range, version: str, control: str,
                 telemetry: str, on_join: Callable[[Joined], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.remote = remote
        self.version = version
        self.joined: dict[int, Joined] = {}
        self.refused = 0  # joins refused (a handshake refused is counted by the key ring)
        self._security = security
        self._endpoints = (control, telemetry)
        self._on_join = on_join
        self._clock = clock
        self._closed_because: str | None = None
        super().__init__(ctx, loop, endpoint, zmq.ROUTER, name="join",
                         max_message=limits.MAX_CONTROL_BYTES, secure=security.join_socket())

    @property
    def waiting_for(self) -> list[int]:
        """Shards no worker has joined for yet."""
        return [k for k in self.remote if k not in self.joined]

    def close_joins(self, reason: str) -> None:
        """Refuse every later join with ``reason`` (the run has started, say)."""
        self._closed_because = reason

    def _reply(self, identity: bytes, kind: str, *fields: Any) -> None:
        if not send_nowait(self._sock, [identity, protocol.encode(kind, *fields)]):
            log.warning("join socket: reply %s dropped (queue full)", kind)
        self._reader.kick()

    def _route(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            raise protocol.ProtocolError(f"{len(frames)} frames")
        identity, payload = frames
        try:
            kind, fields = protocol.decode(payload)
        except protocol.ProtocolError:
            theirs = _version_of(payload)
            if theirs is not None and theirs != protocol.VERSION:
                self._refuse(identity, f"this coordinator speaks protocol {protocol.VERSION} "
                                       f"(cascade-fireflies {self.version}), the worker "
                                       f"{theirs}: install the same version on every host")
            raise
        if kind == "clock_ping":
            self._reply(identity, "clock_pong", fields[1], self._clock())
        elif kind == "join":
            self._join(identity, *fields)
        else:
            raise protocol.ProtocolError(f"{kind} on the join socket")

    def _join(self, identity: bytes, version: str, shard: int, key: str, advertise: str,
              host: str, byteorder: str) -> None:
        why = self._refusal(version, shard, key, advertise, host) or _order_refusal(byteorder)
        if why is not None:
            self._refuse(identity, why)
            return
        if shard < 0:
            shard = self.waiting_for[0]
        self._security.admit(shard, key)
        joined = Joined(shard, host, advertise, key)
        self.joined[shard] = joined
        control, telemetry = self._endpoints
        self._reply(identity, "join_ok", shard, self._security.token, control, telemetry)
        log.info("shard %d joined from %s (inbox on %s)", shard, host, advertise)
        if self._on_join is not None:
            self._on_join(joined)

    def _refusal(self, version: str, shard: int, key: str, advertise: str, host: str) -> str | None:
        if self._closed_because is not None:
            return self._closed_because
        if version != self.version:
            return (f"this coordinator runs cascade-fireflies {self.version}, the worker "
                    f"{version[:40]!r}: install the same version on every host")
        if len(key) != 40 or not all(33 <= ord(c) < 127 for c in key):
            return "the worker's public key is not a 40-character z85 key"
        if not valid_host(advertise):
            return f"--advertise {advertise[:60]!r} is not an IP address or host name"
        if not 0 < len(host) <= 255 or not host.isprintable():
            return "the worker's host name is empty or not printable"
        if shard >= 0:
            if shard >= self.remote.stop:
                return f"shard {shard} is not a shard of this run (0..{self.remote.stop - 1})"
            if shard not in self.remote:
                return f"shard {shard} is spawned by the coordinator itself (--spawn)"
            if shard in self.joined:
                return f"shard {shard} has joined already (from {self.joined[shard].host})"
        elif shard != -1:
            return f"shard {shard}: give a shard index >= 0, or none"
        if not self.waiting_for:
            return f"every shard of this run has joined ({len(self.remote)} joined)"
        return None

    def _refuse(self, identity: bytes, reason: str) -> None:
        self.refused += 1
        log.warning("refused a join: %s", reason)
        self._reply(identity, "join_refused", reason)


def _order_refusal(byteorder: str) -> str | None:
    """Flash batches carry raw arrays in the machine's byte order: every host's must match."""
    if byteorder != sys.byteorder:
        return (f"the worker's host is {byteorder[:10]!r}-endian, this one {sys.byteorder}-endian: "
                f"every host of a run must have the same byte order")
    return None


def _version_of(payload: bytes) -> int | None:
    """The protocol version a message claims, if it claims one."""
    try:
        data = msgpack.unpackb(payload, raw=False, max_array_len=16, max_str_len=256,
                               max_bin_len=1024)
    except Exception:
        return None
    if isinstance(data, list) and data and isinstance(data[0], int):
        return data[0]
    return None
