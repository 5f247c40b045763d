"""The control channel: the coordinator's ROUTER socket and who may speak on it.

:class:`ControlChannel` binds the control socket, holds the run's secret token, and
checks every message before it touches state: it must decode
(:func:`shared.protocol.decode`), a ``hello`` must carry the token and a shard index
of this run, come from that shard's authenticated sender (with a
:class:`~coordinator.security.RunSecurity`: its CurveZMQ key on tcp, the pid we
spawned for it on ipc), and a shard registers once, from one peer; every other
message must come from a registered peer and speak only for that peer's own shard.
Lease messages go to the quota desk at once and its grants go straight back; a
``clock_ping`` is answered at once with ``clock_pong``; a joined worker's files go to
``uploads`` (``coordinator.uploads``); everything else is queued in
:attr:`ControlChannel.events` for the barrier and the run loop. Rejected
messages are counted (:attr:`ControlChannel.malformed`) and dropped; no exception
leaves a handler.

Not here: what the messages mean for the run (``barrier``, ``session``) or the
quota's rules (``quota_desk``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import zmq

from shared import limits, protocol
from shared.quota import Grant
from shared.zmqio import send_nowait

from .quota_desk import QUOTA_KINDS, QuotaDesk
from .receiver import Receiver
from .security import RunSecurity
from .uploads import UPLOAD_KINDS, RunUploads

__all__ = ["ControlChannel", "ControlEvent", "HEARTBEAT_S"]

log = logging.getLogger(__name__)

HEARTBEAT_S = 0.5  # the coordinator's heartbeat period (workers stop after heartbeat_timeout of silence)


@dataclass(frozen=True)
class ControlEvent:
    """A checked message from worker ``shard``: ``kind`` and its decoded fields."""

    shard: int
    kind: str
    fields: list[Any]


class ControlChannel(Receiver):
    """The bound control socket of one run with ``workers`` shards.

    ``quota`` is the run's quota desk (None without ``--limit``: lease messages are
    then rejected). ``security`` gives the token, the socket's CurveZMQ role and each
    shard's sender; without it (tests) the channel makes a token and checks no sender.
    A context manager; :meth:`close` stops reading and closes the socket."""

    def __init__(self, ctx: zmq.Context[Any], loop: asyncio.AbstractEventLoop, endpoint: str, *,
                 workers: int, quota: QuotaDesk | None,
                 clock: Callable[[], float] = time.monotonic,
                 security: RunSecurity | None = None, uploads: RunUploads | None = None) -> None:
        # the run's secret; every hello must carry it
        self.token = security.token if security is not None else secrets.token_hex(16)
        self._security = security
        self.workers = workers
        self.identities: dict[int, bytes] = {}
        self.events: asyncio.Queue[ControlEvent] = asyncio.Queue()
        self.byes: set[int] = set()
        self._quota = quota
        self._uploads = uploads
        self._clock = clock
        # last: from here on messages may arrive, and find the channel ready
        super().__init__(ctx, loop, endpoint, zmq.ROUTER, name="control", router_mandatory=True,
                         max_message=limits.MAX_CONTROL_BYTES,
                         secure=None if security is None else security.server_socket(),
                         senders=None if security is None else security.sender)

    def forget(self, shard: int) -> None:
        """``shard``'s worker is gone for good: a new one may say hello for it."""
        self.identities.pop(shard, None)
        self.byes.discard(shard)

    def sender(self, shard: int) -> str:
        """The authenticated sender ``shard``'s messages must show ("" when unknown)."""
        return "" if self._security is None else self._security.sender(shard) or ""

    def public_key(self, shard: int) -> str:
        """Worker ``shard``'s CurveZMQ public key, for ``peers`` ("" on ipc)."""
        return "" if self._security is None else self._security.public_key(shard)

    # -- sending -------------------------------------------------------------------------
    def send(self, shard: int, kind: str, *fields: Any) -> None:
        """Send to ``shard`` if it said hello; a full queue or a gone peer is logged."""
        identity = self.identities.get(shard)
        if identity is None:
            return
        try:
            if not send_nowait(self._sock, [identity, protocol.encode(kind, *fields)]):
                log.warning("control queue to shard %d full: %s dropped", shard, kind)
        except zmq.ZMQError as exc:  # EHOSTUNREACH: that worker is gone
            log.info("cannot reach shard %d (%s): %s not sent", shard, exc, kind)
        self._reader.kick()

    def broadcast(self, kind: str, *fields: Any) -> None:
        for shard in list(self.identities):
            self.send(shard, kind, *fields)

    def send_grants(self, grants: Iterable[Grant]) -> None:
        for grant in grants:
            self.send(grant.shard, grant.KIND, *grant.wire())

    # -- receiving -----------------------------------------------------------------------
    def _route(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            raise protocol.ProtocolError(f"{len(frames)} frames")
        identity, payload = frames
        kind, fields = protocol.decode(payload)
        if kind == "hello":
            shard = self._register(identity, fields)
        else:
            shard = self._shard_of(identity)
            if fields and isinstance(fields[0], int) and fields[0] != shard:
                raise protocol.ProtocolError(f"shard {shard} speaks for shard {fields[0]}")
            if kind in QUOTA_KINDS:
                if self._quota is None:
                    raise protocol.ProtocolError(f"{kind} but this run has no --limit")
                self.send_grants(self._quota.on_message(kind, fields, self._clock()))
                return
            if kind == "clock_ping":  # answered at once: the round trip bounds the error
                self.send(shard, "clock_pong", fields[1], self._clock())
                return
            if kind in UPLOAD_KINDS:
                if self._uploads is None:
                    raise protocol.ProtocolError(f"{kind} but no worker of this run joins")
                self._uploads.on_message(kind, fields)
                return
            if kind == "bye":
                self.byes.add(shard)
        self.events.put_nowait(ControlEvent(shard, kind, fields))

    def _register(self, identity: bytes, fields: list[Any]) -> int:
        shard: int = fields[0]
        token: str = fields[2]
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            raise protocol.ProtocolError(f"hello from shard {shard} with a foreign token")
        if not 0 <= shard < self.workers:
            raise protocol.ProtocolError(f"hello from shard {shard}, not one of 0..{self.workers - 1}")
        self._check_sender(shard)
        if self.identities.get(shard, identity) != identity:
            raise protocol.ProtocolError(f"second hello for shard {shard}")
        self.identities[shard] = identity
        return shard

    def _shard_of(self, identity: bytes) -> int:
        for shard, known in self.identities.items():
            if known == identity:
                return shard
        raise protocol.ProtocolError("message from an unregistered peer")
