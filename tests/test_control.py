"""coordinator.control: the control channel checks every message before it touches
state, on real ZeroMQ sockets (ipc in a temporary folder; tcp with CurveZMQ), and a
hello counts only from the sender the run assigned to that shard."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Callable

import pytest
import zmq

from shared import protocol
from shared.quota import Grant

from coordinator.control import ControlChannel, ControlEvent
from coordinator.quota_desk import QuotaDesk
from coordinator.security import RunSecurity
from shared.curve import Keypair, SocketSetup, client


async def _until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


class Peer:
    """A worker's DEALER, connected to the channel."""

    def __init__(self, ctx: zmq.Context, endpoint: str, secure: SocketSetup | None = None) -> None:
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if secure is not None:
            secure(self.sock)
        self.sock.connect(endpoint)

    def send(self, kind: str, *fields) -> None:
        self.sock.send(protocol.encode(kind, *fields))

    async def receive(self, timeout: float = 3.0) -> tuple[str, list]:
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.sock.poll(0):
            assert asyncio.get_running_loop().time() < deadline, "nothing received"
            await asyncio.sleep(0.01)
        return protocol.decode(self.sock.recv())


def _channel(ctx: zmq.Context, tmp_path: Path, *, workers: int = 2, quota: QuotaDesk | None = None,
             security: RunSecurity | None = None) -> ControlChannel:
    return ControlChannel(ctx, asyncio.get_running_loop(), f"ipc://{tmp_path}/control.sock",
                          workers=workers, quota=quota, clock=lambda: 100.0, security=security)


async def test_a_hello_with_the_token_registers_and_is_queued(tmp_path):
    ctx = zmq.Context()
    with _channel(ctx, tmp_path) as channel:
        peer = Peer(ctx, channel.address)
        peer.send("hello", 1, 1234, channel.token)
        await _until(lambda: not channel.events.empty())
        assert channel.events.get_nowait() == ControlEvent(1, "hello", [1, 1234, channel.token])
        assert list(channel.identities) == [1] and channel.malformed == 0
        channel.send(1, "start", 5.0)
        assert await peer.receive() == ("start", [5.0])
        peer.sock.close()
    ctx.term()


async def test_foreign_tokens_strangers_and_impostors_are_counted_and_dropped(tmp_path):
    ctx = zmq.Context()
    with _channel(ctx, tmp_path) as channel:
        stranger = Peer(ctx, channel.address)
        stranger.send("hello", 0, 1, "not-the-token")       # foreign token
        stranger.send("hello", 7, 1, channel.token)         # not a shard of this run
        stranger.send("bound", 0, "ipc://x")                # never said hello
        await _until(lambda: channel.malformed == 3)
        worker = Peer(ctx, channel.address)
        worker.send("hello", 0, 1, channel.token)
        await _until(lambda: channel.events.qsize() == 1)
        worker.send("bound", 1, "ipc://x")                  # shard 0 speaking for shard 1
        stranger.send("hello", 0, 2, channel.token)         # a second hello for shard 0
        worker.sock.send_multipart([b"a", b"b"])            # two frames
        worker.sock.send(b"\xc1 not msgpack")
        await _until(lambda: channel.malformed == 7)
        assert channel.identities == {0: channel.identities[0]}
        assert channel.events.qsize() == 1 and channel.byes == set()
        for sock in (stranger.sock, worker.sock):
            sock.close()
    ctx.term()


async def test_a_bye_is_remembered_and_queued(tmp_path):
    ctx = zmq.Context()
    with _channel(ctx, tmp_path) as channel:
        peer = Peer(ctx, channel.address)
        peer.send("hello", 0, 1, channel.token)
        peer.send("bye", 0, "done")
        await _until(lambda: channel.events.qsize() == 2)
        assert channel.byes == {0}
        peer.sock.close()
    ctx.term()


async def test_lease_messages_go_to_the_desk_and_its_grants_straight_back(tmp_path):
    ctx = zmq.Context()
    desk = QuotaDesk(4, 2, lease_s=3.0)
    with _channel(ctx, tmp_path, quota=desk) as channel:
        peer = Peer(ctx, channel.address)
        peer.send("hello", 0, 1, channel.token)
        peer.send("quota_request", 0, 1, 0, 0, 0, 0, 3)  # seq 1, wants 3 slots
        kind, fields = await peer.receive()
        grant = Grant.from_wire(fields)
        assert kind == "quota_grant" and grant.shard == 0 and grant.granted == 3
        assert channel.events.qsize() == 1  # only the hello: lease messages are not queued
        peer.sock.close()
    ctx.term()


async def test_lease_messages_without_a_limit_are_rejected(tmp_path):
    ctx = zmq.Context()
    with _channel(ctx, tmp_path, quota=None) as channel:
        peer = Peer(ctx, channel.address)
        peer.send("hello", 0, 1, channel.token)
        peer.send("quota_request", 0, 1, 0, 0, 0, 0, 3)
        await _until(lambda: channel.malformed == 1)
        assert not peer.sock.poll(100)
        peer.sock.close()
    ctx.term()


async def test_sending_to_an_unknown_or_gone_shard_is_harmless(tmp_path):
    ctx = zmq.Context()
    with _channel(ctx, tmp_path) as channel:
        channel.send(0, "stop", "done")  # never said hello: nothing to send to
        peer = Peer(ctx, channel.address)
        peer.send("hello", 0, 1, channel.token)
        await _until(lambda: 0 in channel.identities)
        peer.sock.close()
        await asyncio.sleep(0.1)
        channel.broadcast("stop", "done")  # EHOSTUNREACH is logged, not raised
    ctx.term()


# -- bound to an authenticated sender ---------------------------------------------------------
async def test_with_curve_only_the_key_of_a_shard_may_say_its_hello():
    security = RunSecurity("tcp", 2)
    ctx = zmq.Context()
    loop = asyncio.get_running_loop()
    with security.guarding(ctx), ControlChannel(ctx, loop, "tcp://127.0.0.1:*", workers=2,
                                                quota=None, security=security) as channel:
        server = security.credentials(0).server

        def peer(keys: Keypair, server_key: str = server) -> Peer:
            return Peer(ctx, channel.address, client(keys, server_key))

        shard1 = peer(security.credentials(1).keys)
        shard1.send("hello", 0, 1, channel.token)            # shard 1's key, speaking as shard 0
        await _until(lambda: channel.malformed == 1)
        stranger = peer(Keypair.generate())                   # a key the run never made
        stranger.send("hello", 0, 1, channel.token)
        await _until(lambda: security.keyring.refused >= 1)  # refused at the handshake
        plain = Peer(ctx, channel.address)                    # no curve at all
        plain.send("hello", 0, 1, channel.token)
        guesser = peer(security.credentials(0).keys, Keypair.generate().public)  # wrong server key
        guesser.send("hello", 0, 1, channel.token)
        worker = peer(security.credentials(0).keys)
        worker.send("hello", 0, 1, channel.token)
        await _until(lambda: 0 in channel.identities)
        await asyncio.sleep(0.2)
        assert list(channel.identities) == [0] and channel.malformed == 1
        channel.send(0, "start", 1.0)
        assert await worker.receive() == ("start", [1.0])
        for p in (shard1, stranger, plain, guesser, worker):
            p.sock.close()
    ctx.term()


async def test_on_ipc_only_the_process_spawned_for_a_shard_may_say_its_hello(tmp_path):
    security = RunSecurity("ipc", 2)
    ctx = zmq.Context()
    with _channel(ctx, tmp_path, security=security) as channel:
        assert channel.token == security.token and channel.public_key(0) == ""
        peer = Peer(ctx, channel.address)
        peer.send("hello", 0, 1, channel.token)               # no worker was spawned for shard 0
        security.worker_started(1, os.getppid())
        peer.send("hello", 1, 1, channel.token)               # shard 1 is another process
        await _until(lambda: channel.malformed == 2)
        security.worker_started(0, os.getpid())
        peer.send("hello", 0, 1, channel.token)
        await _until(lambda: 0 in channel.identities)
        assert channel.malformed == 2
        peer.sock.close()
    ctx.term()


def test_tcp_without_curve_in_libzmq_fails_with_the_fix(monkeypatch):
    monkeypatch.setattr(zmq, "has", lambda capability: capability != "curve")
    with pytest.raises(RuntimeError, match="--transport ipc"):
        RunSecurity("tcp", 1)
    assert RunSecurity("ipc", 1).credentials(0).curve is False
