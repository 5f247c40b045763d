"""coordinator.telemetry: the telemetry stream checks frames and reports before the
aggregator sees them, on real ZeroMQ sockets (ipc in a temporary folder)."""

from __future__ import annotations

import asyncio
from array import array

import msgpack
import zmq

from shared import protocol

from coordinator.aggregator import Aggregator
from coordinator.telemetry import TelemetryStream


async def _until(condition, timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_good_messages_reach_the_aggregator_and_bad_ones_are_counted(tmp_path, shard_line):
    ctx = zmq.Context()
    flashes = []
    agg = Aggregator(2, period=1.0, fps=30.0, on_flashes=lambda cells, t: flashes.append(t))
    with TelemetryStream(ctx, asyncio.get_running_loop(), f"ipc://{tmp_path}/telemetry.sock",
                         workers=2, aggregator=agg) as stream:
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(stream.address)
        cells = array("i", [1, 2]).tobytes()
        push.send(protocol.encode("frame", 0, 1, 0.5, 1.0, 0.0, 4, cells))
        push.send(protocol.encode("report", 1, shard_line(1, flashes=3)))
        await _until(lambda: 1 in agg.latest)
        assert flashes == [0.5] and stream.malformed == 0
        bad = [
            protocol.encode("frame", 2, 1, 0.5, 1.0, 0.0, 4, b""),            # not a shard of this run
            protocol.encode("frame", 0, 2, 0.5, 1.0, 0.0, 4, b"\x00" * 6),   # half a cell id
            protocol.encode("frame", 0, 3, 0.5, float("nan"), 0.0, 4, b""),  # not a number
            protocol.encode("frame", 0, 4, 0.5, 1.0, 0.0, -4, b""),          # a negative count
            protocol.encode("report", 0, {"counters": "nope"}),              # not a shard line
            protocol.encode("report", 0, {**shard_line(0), "fps": "fast"}),  # a mistyped field
            protocol.encode("hello", 0, 1, "token"),                         # not telemetry
            msgpack.packb([1, "frame", "zero"]),                             # wrong arity
            b"\xc1",                                                         # not msgpack
        ]
        for payload in bad:
            push.send(payload)
        push.send_multipart([b"a", b"b"])                                    # two frames
        await _until(lambda: stream.malformed == len(bad) + 1)
        assert set(agg.latest) == {1} and flashes == [0.5]
        push.close()
    ctx.term()
