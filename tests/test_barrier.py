"""coordinator.barrier against stand-in workers on real ZeroMQ sockets: every step in
order, the config message is a valid ShardConfig, and a quitting worker fails it."""

from __future__ import annotations

import asyncio
import time

import pytest
import zmq

from shared import protocol
from shared.shard_config import ShardConfig

from coordinator.barrier import Barrier
from coordinator.config import RunConfig
from coordinator.control import ControlChannel
from coordinator.stop import SetupError, StopRequest


async def _next(sock: zmq.Socket, *skip: str) -> tuple[str, list]:
    """The next message that is not one of ``skip`` (heartbeats, mostly)."""
    while True:
        while not sock.poll(0):
            await asyncio.sleep(0.005)
        kind, fields = protocol.decode(sock.recv())
        if kind not in skip:
            return kind, fields


async def _worker(ctx: zmq.Context, endpoint: str, token: str, shard: int, *,
                  quit_after_config: bool = False) -> list[str]:
    """A worker's side of the barrier; returns the kinds it was sent."""
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    seen = []
    try:
        sock.send(protocol.encode("hello", shard, 1000 + shard, token))
        kind, (wire,) = await _next(sock, "heartbeat")
        config = ShardConfig.from_wire(wire)
        assert kind == "config" and config.shard == shard
        seen.append(kind)
        if quit_after_config:
            sock.send(protocol.encode("bye", shard, "cannot bind"))
            return seen
        sock.send(protocol.encode("bound", shard, f"ipc://inbox-{shard}"))
        kind, (peers,) = await _next(sock, "heartbeat")
        assert kind == "peers" and peers == [[0, "ipc://inbox-0", ""], [1, "ipc://inbox-1", ""]]  # no keys on ipc
        seen.append(kind)
        sock.send(protocol.encode("links_ready", shard))
        kind, (t0,) = await _next(sock, "heartbeat")
        seen.append(kind)
        return seen
    finally:
        sock.close()


def _configs(config: RunConfig) -> list[ShardConfig]:
    return [config.shard_config(k, run_dir="/tmp/run", inbox=f"ipc://edge-{k}", lease_s=3.0)
            for k in range(config.workers)]


async def test_two_workers_go_through_every_step_and_get_a_common_t0(tmp_path):
    ctx = zmq.Context()
    config = RunConfig(workers=2, grid=(4, 4), limit=3, kicks=(5,))
    with ControlChannel(ctx, asyncio.get_running_loop(), f"ipc://{tmp_path}/c.sock",
                        workers=2, quota=None) as channel:
        barrier = Barrier(channel, StopRequest(), setup_timeout=10.0, check_exits=lambda: None,
                          run_dir=tmp_path)
        workers = [asyncio.ensure_future(_worker(ctx, channel.address, channel.token, k)) for k in (0, 1)]
        t0 = await barrier.open(config.workers, _configs(config).__getitem__)
        assert await asyncio.gather(*workers) == [["config", "peers", "start"]] * 2
        assert t0 > time.monotonic() - 1.0
    ctx.term()


async def test_a_worker_that_quits_during_set_up_fails_the_barrier(tmp_path):
    ctx = zmq.Context()
    config = RunConfig(workers=2, grid=(4, 4))
    with ControlChannel(ctx, asyncio.get_running_loop(), f"ipc://{tmp_path}/c.sock",
                        workers=2, quota=None) as channel:
        barrier = Barrier(channel, StopRequest(), setup_timeout=10.0, check_exits=lambda: None,
                          run_dir=tmp_path)
        workers = [asyncio.ensure_future(_worker(ctx, channel.address, channel.token, k,
                                                 quit_after_config=(k == 1))) for k in (0, 1)]
        with pytest.raises(SetupError, match="shard 1 quit during set-up: cannot bind"):
            await barrier.open(config.workers, _configs(config).__getitem__)
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    ctx.term()


def test_the_shard_config_is_filled_from_the_run_config():
    config = RunConfig(workers=3, grid=(6, 5), fps=25.0, limit=7, trace_quota=True)
    shard = config.shard_config(2, run_dir="/r", inbox="ipc://i", lease_s=3.0)
    assert ShardConfig.from_wire(shard.to_wire()).to_wire() == shard.to_wire()
    assert (shard.shard, shard.workers, shard.grid, shard.fps, shard.limit, shard.lease_s) == \
        (2, 3, (6, 5), 25.0, 7, 3.0)
    assert shard.params == config.params() and shard.trace_quota is True
    assert shard.yield_every == config.yield_every and shard.heartbeat_timeout == config.heartbeat_timeout
