"""ZeroMQ plumbing shared by the coordinator and the workers.

* :func:`make_socket`: every socket gets LINGER 0 and bounded high-water marks; bound
  sockets also get MAXMSGSIZE so a hostile peer cannot make us allocate gigabytes.
* :class:`SocketReader`: drains a plain (non-asyncio) ZeroMQ socket from an event-loop
  reader callback with NOBLOCK receives. ZeroMQ's FD is edge-triggered, so the reader
  empties the socket each time it fires, and re-arms itself with ``call_soon`` when it
  stops early to let other callbacks run. This is several times faster than awaiting
  ``recv()`` per message on ``zmq.asyncio`` sockets. Given ``identify``
  (``shared.senders``), it also reads who sent each message, as the transport vouches
  for it (the CurveZMQ key, or the ipc peer's pid), into :attr:`SocketReader.sender`.
* ``secure`` (``shared.curve.server``/``client``): CurveZMQ options set before bind or
  connect.

Contexts are created by the process that uses them (never at import time).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

import zmq

from .curve import SocketSetup
from .protocol import MAX_MESSAGE_BYTES
from .senders import Identify

__all__ = ["make_socket", "SocketReader", "send_nowait"]

log = logging.getLogger(__name__)


def make_socket(ctx: zmq.Context, kind: int, *, sndhwm: int = 10_000, rcvhwm: int = 10_000,
                bind: str | None = None, connect: str | None = None,
                max_message: int = MAX_MESSAGE_BYTES, secure: SocketSetup | None = None) -> zmq.Socket:
    """A socket with LINGER 0 and bounded queues, optionally bound or connected.

    ``bind`` may end in ``:*`` (tcp) for a random port; read the real endpoint back
    from ``sock.last_endpoint``. A bound socket refuses messages over ``max_message``
    bytes (ZeroMQ drops the sender's connection; per-socket bounds: ``shared.limits``).
    ``secure`` sets the socket's CurveZMQ role first.
    """
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, sndhwm)
    sock.setsockopt(zmq.RCVHWM, rcvhwm)
    if secure is not None:
        secure(sock)
    if bind is not None:
        sock.setsockopt(zmq.MAXMSGSIZE, max_message)
        sock.bind(bind)
    if connect is not None:
        sock.connect(connect)
    return sock


def send_nowait(sock: zmq.Socket, data: bytes | list[bytes]) -> bool:
    """Send without blocking; False when the peer's queue is full (the caller counts
    the drop)."""
    try:
        if isinstance(data, list):
            sock.send_multipart(data, zmq.NOBLOCK)
        else:
            sock.send(data, zmq.NOBLOCK)
        return True
    except zmq.Again:
        return False


class SocketReader:
    """Calls ``on_message(frames)`` for every message arriving on ``sock``.

    With ``identify``, messages are received without copying (``copy=False``: frames
    carry their properties) and :attr:`sender` is the sender of the message being
    handled, as ``identify`` reads it from the last frame (empty when nothing vouched
    for it). Without it, :attr:`sender` stays empty."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: zmq.Socket,
                 on_message: Callable[[list[bytes]], None], *, batch: int = 2_000,
                 identify: Identify | None = None) -> None:
        self.loop = loop
        self.sock = sock
        self.on_message = on_message
        self.batch = batch
        self.identify = identify
        self.sender = ""
        self._fd = sock.getsockopt(zmq.FD)
        self._rearmed = False
        self.closed = False
        loop.add_reader(self._fd, self.drain)

    def drain(self) -> None:
        """Receive what is queued (up to ``batch`` messages, then yield to the loop)."""
        self._rearmed = False
        sock = self.sock
        if self.closed:
            return
        for _ in range(self.batch):
            if not sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                return
            try:
                if self.identify is None:
                    frames = sock.recv_multipart(zmq.NOBLOCK, copy=True)
                else:
                    parts = sock.recv_multipart(zmq.NOBLOCK, copy=False)
                    self.sender = self.identify(parts[-1])
                    frames = [part.bytes for part in parts]
            except zmq.Again:
                return
            except zmq.ZMQError as exc:
                if self.closed:
                    return
                log.warning("recv on %s failed: %s", sock, exc)
                return
            self.on_message(frames)
        self.kick()

    def kick(self) -> None:
        """Schedule a drain soon; call after sending on a two-way socket (an
        edge-triggered FD may have swallowed the readiness)."""
        if not self._rearmed and not self.closed:
            self._rearmed = True
            self.loop.call_soon(self.drain)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.loop.remove_reader(self._fd)
            except Exception:  # loop already closed
                pass
