"""coordinator.control: the control channel checks every message before it touches
state, on real ZeroMQ sockets (ipc in a temporary folder)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable

import zmq

from shared import protocol
from shared.quota import Grant

from coordinator.control import ControlChannel, ControlEvent
from coordinator.quota_desk import QuotaDesk


async def _until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


class Peer:
    """A worker's DEALER, connected to the channel."""

    def __init__(self, ctx: zmq.Context, endpoint: str) -> None:
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)

    def send(self, kind: str, *fields) -> None:
        self.sock.send(protocol.encode(kind, *fields))

    async def receive(self, timeout: float = 3.0) -> tuple[str, list]:
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.sock.poll(0):
            assert asyncio.get_running_loop().time() < deadline, "nothing received"
            await asyncio.sleep(0.01)
        return protocol.decode(self.sock.recv())


def _channel(ctx: zmq.Context, tmp_path: Path, *, workers: int = 2,
             quota: QuotaDesk | None = None) -> ControlChannel:
    return ControlChannel(ctx, asyncio.get_running_loop(), f"ipc://{tmp_path}/control.sock",
                          workers=workers, quota=quota, clock=lambda: 100.0)


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
