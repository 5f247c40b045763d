"""Joining a run from another host: ``sim-worker --join HOST:PORT --key-file FILE``.

:func:`join` makes this worker's own CurveZMQ keypair (its secret never leaves the
process), connects to the coordinator's join socket as a curve client holding the
run's client key (from the key file), measures its clock's offset from the
coordinator's with a few ``clock_ping``\\ s (``shared.clock_sync``), and asks for a shard
with ``join``. The answer, :class:`Joined`, is what a spawned worker gets on its stdin
and command line (token, keys, endpoints, shard), plus the offset.

A refusal raises :class:`JoinRefused` with the coordinator's reason; a handshake the
coordinator refuses (not the run's key) or no answer at all raises it too, naming
the likely cause. Blocking, before the worker's event loop starts. Not here: the
coordinator's side (``coordinator.joins``) or running the shard (``runner``).
"""

from __future__ import annotations

import logging
import socket
import sys
import time
from dataclasses import dataclass

import zmq
from zmq.utils.monitor import recv_monitor_message

from shared import protocol
from shared.address import tcp_endpoint
from shared.clock_sync import Offset, OffsetEstimator
from shared.credentials import Credentials
from shared.curve import Keypair, client
from shared.keyfiles import WorkerKeys
from shared.zmqio import make_socket

__all__ = ["JoinRequest", "Joined", "JoinRefused", "join", "route_source"]

log = logging.getLogger(__name__)

PINGS = 8  # clock exchanges before the join; the one with the smallest round trip counts
HANDSHAKE_TRIES = 3  # failed handshakes (not a refused key) before giving up


class JoinRefused(RuntimeError):
    """The coordinator said no, or could not be reached; the message says why."""


@dataclass(frozen=True)
class JoinRequest:
    """What ``sim-worker --join`` asks for: ``shard`` -1 takes any free shard."""

    host: str
    port: int
    keys: WorkerKeys
    shard: int = -1
    advertise: str | None = None  # None: the address our route to the coordinator uses
    timeout: float = 30.0


@dataclass(frozen=True)
class Joined:
    """The answer: our shard, the run's credentials and endpoints, our clock offset."""

    shard: int
    credentials: Credentials
    control: str
    telemetry: str
    offset: Offset
    advertise: str


def route_source(host: str, port: int) -> str:
    """The local address this host uses to reach ``host`` (no packet is sent)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((host, port))
        return str(probe.getsockname()[0])


def join(request: JoinRequest) -> Joined:
    """Take a shard of the run at ``request.host:port``; raises :class:`JoinRefused`."""
    keypair = Keypair.generate()  # ours alone: the secret never leaves this process
    advertise = request.advertise or route_source(request.host, request.port)
    address = tcp_endpoint(request.host, request.port)
    ctx = zmq.Context()
    sock = make_socket(ctx, zmq.DEALER, secure=client(request.keys.client, request.keys.server_public))
    monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH
                                      | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                                      | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    try:
        sock.connect(address)
        deadline = time.monotonic() + request.timeout
        estimator = OffsetEstimator()
        for _ in range(PINGS):
            sent = time.monotonic()
            sock.send(protocol.encode("clock_ping", -1, sent))
            kind, fields = _answer(sock, monitor, deadline, address)
            if kind != "clock_pong" or fields[0] != sent:
                raise JoinRefused(f"{address} answered {kind} to a clock ping")
            estimator.add(sent, float(fields[1]), time.monotonic())
        offset = estimator.best()
        assert offset is not None
        sock.send(protocol.encode("join", protocol.simulator_version(), request.shard, keypair.public,
                                  advertise, socket.gethostname()[:255], sys.byteorder))
        kind, fields = _answer(sock, monitor, deadline, address)
        if kind == "join_refused":
            raise JoinRefused(f"the coordinator at {address} refused the join: {fields[0]}")
        if kind != "join_ok":
            raise JoinRefused(f"{address} answered {kind} to a join")
        shard, token, control, telemetry = fields
        credentials = Credentials(token, keypair.public, keypair.secret,
                                  request.keys.server_public)
        log.info("joined %s as shard %d; clock offset %+.3f ms ± %.3f ms", address, shard,
                 offset.offset * 1e3, offset.uncertainty * 1e3)
        return Joined(shard, credentials, control, telemetry, offset, advertise)
    finally:
        sock.disable_monitor()
        monitor.close(0)
        sock.close(0)
        ctx.term()


def _answer(sock: zmq.Socket, monitor: zmq.Socket, deadline: float,
            address: str) -> tuple[str, list]:
    """The next message from the join socket; handshake failures and silence raise."""
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(monitor, zmq.POLLIN)
    failures = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise JoinRefused(f"no answer from {address}: is sim-coordinator listening there "
                              f"(--listen), and reachable from this host?")
        ready = dict(poller.poll(left * 1000))
        if monitor in ready:
            event = recv_monitor_message(monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                raise JoinRefused(f"{address} refused our key: this --key-file is not the "
                                  f"run's worker.key_secret")
            failures += 1  # a server that cannot read our hello just drops us; we retry
            if failures >= HANDSHAKE_TRIES:
                raise JoinRefused(f"the CurveZMQ handshake with {address} failed {failures} "
                                  f"times: the coordinator there does not hold the key this "
                                  f"--key-file names (is it this run's worker.key_secret?)")
        if sock in ready:
            try:
                return protocol.decode(sock.recv())
            except protocol.ProtocolError as exc:
                raise JoinRefused(f"{address} sent a message we cannot read ({exc}): is it "
                                  f"the same version of sim-coordinator?") from None

