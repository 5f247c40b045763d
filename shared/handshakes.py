"""Handshakes refused on a bound CurveZMQ socket, counted: :class:`HandshakeWatch`.

A ZAP refusal (an unknown client key) is only one way a handshake fails: a client
that knows the wrong server key, speaks no CurveZMQ (ZeroMQ's NULL mechanism), or
sends bytes that are not ZMTP at all never gets as far as ZAP. libzmq reports most
such failures on the socket's monitor (``EVENT_HANDSHAKE_FAILED_*``), which the watch
reads on the event loop and logs in summary (one warning a second at most); a peer
that sends no ZMTP greeting is only disconnected. So :attr:`HandshakeWatch.refused`
counts connections accepted that never completed a handshake (a handshake still under
way counts too: it has not got in). Nothing from a refused peer ever reaches the
socket's owner.

Not here: deciding which keys get in (``shared.curve.KeyRing``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

import zmq
from zmq.utils.monitor import parse_monitor_message

from .rejects import RejectLog
from .zmqio import SocketReader

__all__ = ["HandshakeWatch", "FAILED"]

log = logging.getLogger(__name__)

FAILED = {zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "no detail",
          zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "protocol error (no CurveZMQ, a wrong server "
                                               "key, or not ZMTP)",
          zmq.EVENT_HANDSHAKE_FAILED_AUTH: "key refused"}


class HandshakeWatch:
    """Counts the connections to ``sock`` (bound) that were refused at the handshake;
    ``on_refused`` is called for each failure libzmq reports. ``name`` labels the
    socket in logs."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: zmq.Socket, *, name: str,
                 on_refused: Callable[[], None] | None = None) -> None:
        self.accepted = 0
        self.succeeded = 0
        self.failed = 0  # failures libzmq reported
        self._sock = sock
        self._on_refused = on_refused
        self._rejects = RejectLog(log, f"handshakes on the {name} socket", verb="refused")
        mask = zmq.EVENT_ACCEPTED | zmq.EVENT_HANDSHAKE_SUCCEEDED
        for event in FAILED:
            mask |= event
        self._monitor = sock.get_monitor_socket(mask)
        self._reader = SocketReader(loop, self._monitor, self._on_event)
        self._reader.kick()  # the FD is edge-triggered: events may already wait

    def _on_event(self, frames: list[bytes]) -> None:
        try:
            event = parse_monitor_message(frames)
        except Exception as exc:  # never raised into the loop
            log.warning("unreadable socket monitor event: %s", exc)
            return
        if event["event"] == zmq.EVENT_ACCEPTED:
            self.accepted += 1
            return
        if event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self.succeeded += 1
            return
        why = FAILED.get(event["event"])
        if why is None:
            return
        self.failed += 1
        self._rejects.reject(f"{why} (on {event['endpoint']!r})")
        if self._on_refused is not None:
            self._on_refused()

    @property
    def refused(self) -> int:
        """Connections that did not get in: accepted, never through the handshake."""
        return max(self.failed, self.accepted - self.succeeded)

    def close(self) -> None:
        self._reader.drain()  # the last events count too
        self._rejects.flush()
        self._reader.close()
        try:
            self._sock.disable_monitor()
        except zmq.ZMQError:
            pass
        self._monitor.close(0)
