"""coordinator.telemetry: the telemetry stream checks frames and reports before the
aggregator sees them, on real ZeroMQ sockets (ipc in a temporary folder). Each
hostile message below once crashed the coordinator, spoiled its summary, or became a
shard's latest line (issue 10); now each is counted and dropped."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from array import array
from typing import Any, Callable

import msgpack
import zmq

from shared import limits, protocol
from shared.runlog.schema import SUMMARY_FIELDS, check

from coordinator.aggregator import Aggregator
from coordinator.config import RunConfig
from coordinator.records import summary_record
from coordinator.telemetry import TelemetryStream

CELLS = (4, 4)  # two shards of four cells


async def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for ``condition`` with a generous deadline (never a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


class _Rig:
    """A stream with two shards whose barrier opened 100 s ago, and a PUSH to it."""

    def __init__(self, ctx: zmq.Context, stream: TelemetryStream) -> None:
        self.stream = stream
        self.push = ctx.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 0)
        self.push.connect(stream.address)
        self.sent = 0

    def send(self, payload: bytes | list[bytes]) -> None:
        if isinstance(payload, list):
            self.push.send_multipart(payload)
        else:
            self.push.send(payload)
        self.sent += 1

    async def settle(self, good: Callable[[], bool] = lambda: True) -> None:
        """Wait until every message sent so far was either used or counted."""
        await _until(lambda: good() and self.stream.malformed >= self.sent)


async def _with_stream(tmp_path, body, *, agg: Aggregator | None = None,
                       cells: tuple[int, ...] = CELLS) -> Aggregator:
    ctx = zmq.Context()
    agg = agg or Aggregator(len(CELLS), period=1.0, fps=30.0)
    try:
        with TelemetryStream(ctx, asyncio.get_running_loop(), f"ipc://{tmp_path}/telemetry.sock",
                             aggregator=agg, shard_cells=cells) as stream:
            stream.start(time.monotonic() - 100.0)
            rig = _Rig(ctx, stream)
            try:
                await body(rig, agg)
            finally:
                rig.push.close()
    finally:
        ctx.term()
    return agg


def _frame(shard: int = 0, frame: int = 1, t: Any = 0.5, zre: Any = 1.0, zim: Any = 0.0,
           n: int = 4, flashed: bytes = b"") -> bytes:
    return protocol.encode("frame", shard, frame, t, zre, zim, n, flashed)


async def test_good_messages_reach_the_aggregator_and_bad_ones_are_counted(tmp_path, shard_line):
    flashes = []

    async def body(rig: _Rig, agg: Aggregator) -> None:
        rig.send(_frame(0, 1, 0.5, 1.0, 0.0, 4, array("i", [1, 2]).tobytes()))
        rig.send(protocol.encode("report", 1, shard_line(1, flashes=3, agents=4)))
        await _until(lambda: 1 in agg.latest)
        assert flashes == [0.5] and rig.stream.malformed == 0
        rig.sent = 0
        bad = [
            _frame(2),                                    # not a shard of this run
            _frame(0, 2, flashed=b"\x00" * 6),            # half a cell id
            _frame(0, 3, zre=float("nan")),               # not a number
            _frame(0, 4, n=-4),                           # a negative count
            _frame(0, 5, n=5),                            # not the shard's size
            _frame(0, 6, zre=3.0, zim=3.0),               # |Z| > N
            _frame(0, 7, flashed=array("i", [9]).tobytes()),   # a cell outside the grid
            _frame(0, 8, flashed=b"\x00" * 20),           # more cells than the shard has
            _frame(0, 10 ** 9),                           # a frame number from the future
            _frame(0, 9, t=1e12),                         # a time from the future
            protocol.encode("report", 0, {"counters": "nope"}),              # not a shard line
            protocol.encode("report", 0, {"counters": {}}),                  # never said hello
            protocol.encode("report", 0, {**shard_line(0, agents=4), "fps": "fast"}),  # mistyped
            protocol.encode("report", 0, shard_line(1, agents=4)),          # names another shard
            protocol.encode("hello", 0, 1, "token"),                         # not telemetry
            msgpack.packb([1, "frame", "zero"]),                             # wrong arity
            b"\xc1",                                                         # not msgpack
            [b"a", b"b"],                                                    # two frames
        ]
        for payload in bad:
            rig.send(payload)
        await rig.settle()
        assert rig.stream.malformed == len(bad)
        assert set(agg.latest) == {1} and flashes == [0.5]

    await _with_stream(tmp_path, body, agg=Aggregator(
        2, period=1.0, fps=30.0, on_flashes=lambda cells, t: flashes.append(t)))


async def test_frames_before_the_barrier_opens_are_refused(tmp_path):
    ctx = zmq.Context()
    agg = Aggregator(2, period=1.0, fps=30.0)
    with TelemetryStream(ctx, asyncio.get_running_loop(), f"ipc://{tmp_path}/t.sock",
                         aggregator=agg, shard_cells=CELLS) as stream:
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(stream.address)
        push.send(_frame(0, 1))
        await _until(lambda: stream.malformed == 1)
        stream.start(time.monotonic())
        push.send(_frame(0, 1, 0.01))
        push.send(_frame(1, 1, 0.01))
        await _until(lambda: agg.last_frame_t > 0)
        assert stream.malformed == 1
        push.close()
    ctx.term()


class _Phases:
    """A phases listener expecting 3 samples from shard 0 and 2 from shard 1."""

    def __init__(self) -> None:
        self.got: list[tuple[int, float, bytes]] = []

    def phase_samples(self, shard: int) -> int:
        return (3, 2)[shard]

    def on_phases(self, shard: int, t: float, data: bytes) -> None:
        self.got.append((shard, t, data))


async def test_phases_are_checked_for_length_time_and_a_listener(tmp_path):
    listener = _Phases()

    async def body(rig: _Rig, agg: Aggregator) -> None:
        rig.send(protocol.encode("phases", 0, 1, 0.5, b"\x00\x80\xff"))
        rig.send(protocol.encode("phases", 1, 1, 0.5, b"\x10\x20"))
        await _until(lambda: len(listener.got) == 2)
        assert rig.stream.malformed == 0
        rig.sent = 0
        bad = [
            protocol.encode("phases", 0, 2, 0.6, b"\x00\x80"),          # a sample short
            protocol.encode("phases", 1, 2, 0.6, b"\x00" * 3),           # a sample too many
            protocol.encode("phases", 1, 2, 0.6, b""),                   # none
            protocol.encode("phases", 0, 2, float("nan"), b"\x00" * 3),  # not a time
            protocol.encode("phases", 0, 2, 1e12, b"\x00" * 3),          # from the future
            protocol.encode("phases", 0, 10 ** 9, 0.6, b"\x00" * 3),     # a frame number from the future
            protocol.encode("phases", 2, 2, 0.6, b"\x00" * 3),           # not a shard of this run
            msgpack.packb([1, "phases", 0, 2, 0.6, "abc"]),             # text, not bytes
        ]
        for payload in bad:
            rig.send(payload)
        await rig.settle()
        assert rig.stream.malformed == len(bad) and len(listener.got) == 2

    await _with_stream(tmp_path, body, agg=Aggregator(2, period=1.0, fps=30.0, phases=listener))


async def test_phases_nobody_asked_for_are_refused(tmp_path):
    async def body(rig: _Rig, agg: Aggregator) -> None:
        rig.send(protocol.encode("phases", 0, 1, 0.5, b"\x00\x80\xff"))
        await rig.settle()
        assert rig.stream.malformed == 1

    await _with_stream(tmp_path, body)


def _hostile_reports(line: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
    good = line(0, agents=4)
    hist = good["flash_lateness_ms"]
    return [
        {**good, "counters": {**good["counters"], "flashes": 2 * 10 ** 18}},   # absurd count
        {**good, "counters": {**good["counters"], "flashes": -5}},             # negative
        {**good, "counters": {**good["counters"], "bogus": 1}},                # not a counter
        {**good, "flash_lateness_ms": {**hist, "buckets": [[10 ** 8, 1]]}},    # bucket 10^8
        {**good, "flash_lateness_ms": {**hist, "buckets": [[3, 2 ** 60]], "count": 2 ** 60}},
        {**good, "flash_lateness_ms": {**hist, "sum": float("inf")}},
        {**good, "fps": float("nan")},
        {**good, "fps": -1.0},
        {**good, "t": 1e300},
        {**good, "link_gaps": -1},
        {**good, "process": {**good["process"], "loop_busy": 7.0}},
        {**good, "v": 2},
    ]


async def test_hostile_reports_never_become_latest_nor_reach_the_summary(tmp_path, shard_line):
    hostile = _hostile_reports(shard_line)

    async def body(rig: _Rig, agg: Aggregator) -> None:
        for line in hostile:
            rig.send(protocol.encode("report", 0, line))
        await rig.settle()
        rig.send(protocol.encode("report", 0, shard_line(0, flashes=7, agents=4)))
        await _until(lambda: 0 in agg.latest)
        assert rig.stream.malformed == len(hostile)

    agg = await _with_stream(tmp_path, body)
    assert agg.latest[0]["counters"]["flashes"] == 7
    summary = summary_record(reason="duration", duration_s=1.0, config=RunConfig(workers=2, grid=(4, 2)),
                             figures=agg.summary(), workers_lost={}, malformed=len(hostile), error=None)
    text = json.dumps(summary, allow_nan=False)  # writable, and strict JSON
    assert check(json.loads(text), SUMMARY_FIELDS) == [] and summary["flashes"] == 7


async def test_a_report_over_its_bound_is_counted(tmp_path, shard_line):
    async def body(rig: _Rig, agg: Aggregator) -> None:
        # The socket takes a large shard's frames (400 KB), a report has its own bound.
        assert rig.stream.max_message == limits.frame_bytes(100_000) > limits.MAX_REPORT_BYTES
        line = {**shard_line(0, agents=100_000), "links": {str(i): "x" * 100 for i in range(3000)}}
        rig.send(protocol.encode("report", 0, line))
        await rig.settle()
        assert agg.latest == {}

    await _with_stream(tmp_path, body, cells=(100_000, 4))


async def test_oversized_messages_are_refused(tmp_path, shard_line):
    async def body(rig: _Rig, agg: Aggregator) -> None:
        stream = rig.stream
        assert stream.max_message == limits.telemetry_bytes(4) == limits.MAX_REPORT_BYTES
        # A message over the socket's MAXMSGSIZE: ZeroMQ drops it (and the sender's
        # connection) before we read a byte; the stream keeps serving other senders.
        rig.push.send(_frame(flashed=b"\x00" * (8 * 1024 * 1024)))
        ok = rig.push.context.socket(zmq.PUSH)
        ok.setsockopt(zmq.LINGER, 0)
        ok.connect(stream.address)
        ok.send(protocol.encode("report", 1, shard_line(1, agents=4)))
        await _until(lambda: 1 in agg.latest)
        ok.close()
        assert stream.malformed == 0 and agg.last_frame_t == 0.0

    await _with_stream(tmp_path, body)


async def test_garbage_is_summarised_not_logged_a_line_each(tmp_path, caplog):
    async def body(rig: _Rig, agg: Aggregator) -> None:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="coordinator.receiver"):
            for i in range(3000):
                rig.send(b"\xc1" if i % 2 else _frame(0, 10 ** 9))
            await rig.settle()
            rig.stream.close()  # flushes the last window's line
        seconds = time.monotonic() - started
        lines = [r.getMessage() for r in caplog.records if r.name == "coordinator.receiver"]
        assert 1 <= len(lines) <= seconds + 2, lines  # one per second at most
        assert lines[0].startswith("dropped 1 malformed telemetry messages in the last")
        assert sum(int(l.split()[1].replace(",", "")) for l in lines) == 3000

    await _with_stream(tmp_path, body)
