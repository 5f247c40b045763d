"""Who sent a message, as the transport vouches for it.

A bound socket cannot trust a shard index written inside a message: anyone who can
connect can write any number. What it can trust is what ZeroMQ learned when the
connection was made:

* tcp (CurveZMQ with a ZAP handler): the client's public key, proven in the handshake
  and handed back by ZAP as the message's ``User-Id``: ``curve:<z85 key>``.
* ipc: the kernel's credentials of the connecting process (``SO_PEERCRED``), which
  libzmq appends to the ``Peer-Address`` property (``...:uid:gid:pid``):
  ``ipc:<uid>:<pid>``.

:func:`curve_sender` and :func:`ipc_sender` read that from a received frame
(``recv_multipart(copy=False)``); :func:`curve_identity` and :func:`ipc_identity` say
what a given shard's messages must show. An empty string means "nothing vouched for"
and never equals an expected identity.

Not here: the keys (``shared.curve``) or which shard has which identity
(``coordinator.security``, the worker's ``peers``).
"""

from __future__ import annotations

import os
import re
from typing import Callable

import zmq

__all__ = ["Identify", "curve_identity", "curve_sender", "identify_for", "ipc_identity",
           "ipc_sender"]

Identify = Callable[[zmq.Frame], str]
_IPC_PEER = re.compile(r".*:(\d+):(\d+):(\d+)")  # libzmq: <address>:<uid>:<gid>:<pid>


def curve_identity(public_key: str) -> str:
    return f"curve:{public_key}"


def ipc_identity(pid: int, uid: int | None = None) -> str:
    return f"ipc:{os.getuid() if uid is None else uid}:{pid}"


def curve_sender(frame: zmq.Frame) -> str:
    """The authenticated client key of a frame that came through a curve server."""
    try:
        user = frame.get("User-Id")
    except zmq.ZMQError:  # no ZAP reply set one: not authenticated
        return ""
    return curve_identity(user) if isinstance(user, str) and user else ""


def ipc_sender(frame: zmq.Frame) -> str:
    """The uid and pid of the process that connected, for a frame from an ipc socket."""
    try:
        address = frame.get("Peer-Address")
    except zmq.ZMQError:
        return ""
    match = _IPC_PEER.fullmatch(address) if isinstance(address, str) else None
    return ipc_identity(int(match[3]), int(match[1])) if match else ""


def identify_for(endpoint: str) -> Identify:
    """The sender reader for a socket bound at ``endpoint``."""
    if endpoint.startswith("ipc://"):
        return ipc_sender
    if endpoint.startswith("tcp://"):
        return curve_sender
    raise ValueError(f"endpoint {endpoint!r}: only ipc:// and tcp:// sockets can name their senders")
