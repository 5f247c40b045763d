"""A bound socket whose every message is checked before it touches state:
:class:`Receiver`, the common part of the control channel and the telemetry stream.

It binds the socket, reads it on the event loop (``shared.zmqio.SocketReader``) and
hands each message to the subclass's ``_route``, which validates and dispatches it.
Whatever ``_route`` raises is counted in :attr:`Receiver.malformed` and logged in
summary (``shared.rejects``: one warning per second at most, never a line each),
never passed to the event loop: a :class:`~shared.protocol.ProtocolError` or a
``KeyError``/``TypeError``/``ValueError`` is the peer's fault (malformed or bad
content); anything else is our bug, logged with its traceback and counted too.

Given ``senders`` (``coordinator.security.RunSecurity.sender``), the reader also
records who sent each message as the transport vouches for it (``shared.senders``),
and :meth:`Receiver._check_sender` rejects a message that speaks for a shard whose
authenticated sender it did not come from. ``secure`` makes the socket a CurveZMQ
server (``--transport tcp``); its refused handshakes are then counted
(:attr:`Receiver.handshakes_refused`, ``shared.handshakes``).

Not here: what a message means (``control``, ``telemetry``).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
from typing import Any, Callable, Self

import zmq

from shared import protocol
from shared.curve import SocketSetup
from shared.handshakes import HandshakeWatch
from shared.rejects import RejectLog
from shared.senders import identify_for
from shared.zmqio import SocketReader, make_socket

__all__ = ["Receiver"]

log = logging.getLogger(__name__)


class Receiver:
    """A socket of type ``kind`` bound at ``endpoint``; ``name`` labels it in logs.
    A context manager: :meth:`close` stops reading and closes the socket."""

    def __init__(self, ctx: zmq.Context[Any], loop: asyncio.AbstractEventLoop, endpoint: str,
                 kind: int, *, name: str, rcvhwm: int = 10_000, router_mandatory: bool = False,
                 max_message: int = protocol.MAX_MESSAGE_BYTES, secure: SocketSetup | None = None,
                 senders: Callable[[int], str | None] | None = None) -> None:
        self.name = name
        self.malformed = 0
        self._senders = senders
        self._sock = make_socket(ctx, kind, rcvhwm=rcvhwm, bind=endpoint, max_message=max_message,
                                 secure=secure)
        self._handshakes: HandshakeWatch | None = None
        try:
            if secure is not None:  # CurveZMQ: refused handshakes are counted
                self._handshakes = HandshakeWatch(loop, self._sock, name=name)
            if router_mandatory:
                self._sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
            self.address: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
            self._reader = SocketReader(loop, self._sock, self._on_message, identify=None
                                        if senders is None else identify_for(self.address))
        except BaseException:
            self._sock.close(0)
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def handshakes_refused(self) -> int:
        """CurveZMQ handshakes refused on this socket (0 without CurveZMQ)."""
        return 0 if self._handshakes is None else self._handshakes.refused

    def drain(self) -> None:
        """Read what is queued now."""
        self._reader.drain()

    def _route(self, frames: list[bytes]) -> None:
        """Check and dispatch one message; raise to reject it."""
        raise NotImplementedError

    def _check_sender(self, shard: int) -> None:
        """Raise unless the message being handled came from ``shard``'s authenticated
        sender (no check when the receiver was made without ``senders``)."""
        if self._senders is None:
            return
        expected, got = self._senders(shard), self._reader.sender
        if expected is None or not hmac.compare_digest(got, expected):
            raise protocol.ProtocolError(f"a message for shard {shard} from {got or 'an unauthenticated peer'}, "
                                         f"not from that shard's worker")

    @functools.cached_property
    def _rejects(self) -> RejectLog:
        """Summarised warnings: one line per second at most, however many are dropped."""
        return RejectLog(log, f"malformed {self.name} messages")

    def _on_message(self, frames: list[bytes]) -> None:
        try:
            self._route(frames)
        except Exception as exc:  # the peer's fault or our bug: counted, never raised
            self.malformed += 1
            self._rejects.failed(exc)

    def close(self) -> None:
        self._rejects.flush()
        if self._handshakes is not None:
            self._handshakes.close()
        self._reader.close()
        self._sock.close(0)
