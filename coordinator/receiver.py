"""A bound socket whose every message is checked before it touches state:
:class:`Receiver`, the common part of the control channel and the telemetry stream.

It binds the socket, reads it on the event loop (``shared.zmqio.SocketReader``) and
hands each message to the subclass's ``_route``, which validates and dispatches it.
Whatever ``_route`` raises is counted in :attr:`Receiver.malformed` and logged,
never passed to the event loop: a :class:`~shared.protocol.ProtocolError` or a
``KeyError``/``TypeError``/``ValueError`` is the peer's fault (malformed or bad
content); anything else is our bug, logged with its traceback and counted too.

Not here: what a message means (``control``, ``telemetry``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Self

import zmq

from shared import protocol
from shared.zmqio import SocketReader, make_socket

__all__ = ["Receiver"]

log = logging.getLogger(__name__)


class Receiver:
    """A socket of type ``kind`` bound at ``endpoint``; ``name`` labels it in logs.
    A context manager: :meth:`close` stops reading and closes the socket."""

    def __init__(self, ctx: zmq.Context[Any], loop: asyncio.AbstractEventLoop, endpoint: str,
                 kind: int, *, name: str, rcvhwm: int = 10_000, router_mandatory: bool = False) -> None:
        self.name = name
        self.malformed = 0
        self._sock = make_socket(ctx, kind, rcvhwm=rcvhwm, bind=endpoint)
        try:
            if router_mandatory:
                self._sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
            self.address: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
            self._reader = SocketReader(loop, self._sock, self._on_message)
        except BaseException:
            self._sock.close(0)
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def drain(self) -> None:
        """Read what is queued now."""
        self._reader.drain()

    def _route(self, frames: list[bytes]) -> None:
        """Check and dispatch one message; raise to reject it."""
        raise NotImplementedError

    def _on_message(self, frames: list[bytes]) -> None:
        try:
            self._route(frames)
        except protocol.ProtocolError as exc:
            self.malformed += 1
            log.warning("dropped a malformed %s message: %s", self.name, exc)
        except (KeyError, TypeError, ValueError) as exc:
            self.malformed += 1
            log.warning("dropped a %s message with bad content: %r", self.name, exc)
        except Exception:  # a bug, not the peer's: count, keep the loop alive
            self.malformed += 1
            log.exception("dropped a %s message that could not be handled", self.name)

    def close(self) -> None:
        self._reader.close()
        self._sock.close(0)
