"""The edge outbox and inbox on real ZeroMQ sockets (ipc in a temporary folder): the
hello barrier, one batch per link per loop turn fanned out to the right local
agents, and rejection (counted, never a crash) of what a linked neighbour would not
send."""

from __future__ import annotations

import asyncio
from array import array
from pathlib import Path

import zmq

from shared import limits, protocol
from shared.grid import Grid
from worker.inbox import EdgeInbox
from worker.metrics import ShardMetrics
from worker.outbox import EdgeOutbox
from worker.shard import layout_of

TOKEN = "run-token"


async def until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


class Link:
    """Shard 0's outbox linked to shard 1's inbox, on a 6x6 grid split in two."""

    def __init__(self, tmp: Path) -> None:
        loop = asyncio.get_running_loop()
        self.ctx = zmq.Context()
        grid = Grid(6, 6)
        self.sender, self.receiver = layout_of(grid, 2, 0), layout_of(grid, 2, 1)
        self.out_metrics, self.in_metrics = ShardMetrics(), ShardMetrics()
        self.signals: list[tuple[int, float]] = []
        self.traced: list[tuple[float, int, int, str]] = []
        self.outbox = EdgeOutbox(self.ctx, loop, self.sender, TOKEN, self.out_metrics)
        self.inbox = EdgeInbox(self.ctx, loop, self.receiver, TOKEN, self.in_metrics,
                               endpoint=f"ipc://{tmp}/edge-1",
                               signal=lambda j, now: self.signals.append((j, now)),
                               now=lambda: 10.0,
                               trace=lambda *event: self.traced.append(event))

    def close(self) -> None:
        self.outbox.close()
        self.inbox.close()
        self.ctx.term()


async def test_flashes_reach_the_neighbours_local_agents_after_the_hello(tmp_path):
    link = Link(tmp_path)
    try:
        assert list(link.sender.neighbour_shards) == [1]
        assert not link.inbox.all_hellos.done()
        link.outbox.connect({1: link.inbox.endpoint})
        await asyncio.wait_for(link.inbox.all_hellos, 5)
        # two boundary flashes of shard 0, queued in one loop turn: one batch
        edge = [i for i, shards in enumerate(link.sender.outgoing) if 1 in shards][:2]
        cells = [link.sender.cells[i] for i in edge]
        for cell, t in zip(cells, (9.5, 9.75)):
            link.outbox.queue_flash(cell, t, (1,))
        await until(lambda: link.in_metrics.counters.edge_flashes_received == 2)
        table = link.receiver.incoming[0]
        expected = [(j, 10.0) for cell in cells for j in table[cell]]
        assert link.signals == expected and expected
        assert {via for *_, via in link.traced} == {"edge"}
        assert [(a, link.receiver.cells.index(b)) for _, a, b, _ in link.traced] == \
            [(cell, j) for cell in cells for j in table[cell]]
        assert link.out_metrics.counters.edge_flashes_sent == 2
        assert link.out_metrics.links_sent == {1: 2} and link.in_metrics.links_received[0] == 2
        assert link.in_metrics.link_latency[0].count == 2 and link.in_metrics.link_gaps == 0
        line = link.in_metrics.take_interval()  # the links' latencies make up edge_latency
        assert line["edge_latency_ms"]["count"] == 2 and line["link_latency_ms"]["0"]["count"] == 2
        assert link.in_metrics.counters.malformed_rejected == 0
    finally:
        link.close()


async def test_what_a_neighbour_would_not_send_is_counted_and_dropped(tmp_path):
    link = Link(tmp_path)
    rogue = link.ctx.socket(zmq.PUSH)
    rogue.setsockopt(zmq.LINGER, 0)
    rogue.connect(link.inbox.endpoint)
    try:
        cells = protocol.pack_cells(array("i", [link.sender.cells[0]]))
        times = protocol.pack_times(array("d", [1.0]))
        for message in (b"garbage",
                        protocol.encode("flashes", 0, 1, cells, times),   # before its hello
                        protocol.encode("edge_hello", 0, "wrong token"),
                        protocol.encode("edge_hello", 5, TOKEN),          # not a neighbour
                        protocol.encode("stop", "not an edge message")):
            rogue.send(message)
        await until(lambda: link.in_metrics.counters.malformed_rejected == 5)
        assert not link.inbox.all_hellos.done() and link.signals == []
        rogue.send(protocol.encode("edge_hello", 0, TOKEN))
        await asyncio.wait_for(link.inbox.all_hellos, 5)
        # mismatched arrays: the batch is dropped whole
        rogue.send(protocol.encode("flashes", 0, 1, cells, protocol.pack_times(array("d", [1.0, 2.0]))))
        await until(lambda: link.in_metrics.counters.malformed_rejected == 6)
        # checked whole before use: a cell not on our edge, a time that is not a
        # number, more flashes than a batch can hold, a batch number out of range
        not_ours = protocol.pack_cells(array("i", [link.sender.cells[0], link.receiver.cells[0]]))
        too_many = link.inbox.max_flashes + 1
        for message in (
                protocol.encode("flashes", 0, 3, not_ours, protocol.pack_times(array("d", [1.0, 1.0]))),
                protocol.encode("flashes", 0, 3, cells, protocol.pack_times(array("d", [float("nan")]))),
                protocol.encode("flashes", 0, 3, protocol.pack_cells(array("i", [link.sender.cells[0]] * too_many)),
                                protocol.pack_times(array("d", [1.0] * too_many))),
                protocol.encode("flashes", 0, 2 ** 60, cells, times)):
            rogue.send(message)
        await until(lambda: link.in_metrics.counters.malformed_rejected == 10)
        assert link.in_metrics.link_gaps == 0 and link.signals == []
        # a gap in the batch numbers is counted, and the batch used
        rogue.send(protocol.encode("flashes", 0, 3, cells, times))
        await until(lambda: link.signals != [])
        assert link.in_metrics.link_gaps == 1 and link.in_metrics.counters.malformed_rejected == 10
    finally:
        rogue.close(0)
        link.close()


async def test_a_full_peer_queue_is_a_counted_drop_not_a_block(tmp_path):
    loop = asyncio.get_running_loop()
    ctx = zmq.Context()
    layout = layout_of(Grid(6, 6), 2, 0)
    metrics = ShardMetrics()
    outbox = EdgeOutbox(ctx, loop, layout, TOKEN, metrics)
    try:
        outbox.connect({1: f"ipc://{tmp_path}/nobody-home"})  # never bound: queue fills
        cell = layout.cells[next(i for i, s in enumerate(layout.outgoing) if 1 in s)]
        for _ in range(3000):
            outbox.queue_flash(cell, 1.0, (1,))
            outbox.flush()
        assert metrics.counters.edge_flashes_dropped > 0
        assert metrics.counters.edge_flashes_sent + metrics.counters.edge_flashes_dropped == 3000
    finally:
        outbox.close()
        ctx.term()


async def test_an_oversized_batch_never_reaches_the_handler(tmp_path):
    # 20 batches of 46 MB once froze a shard for 9 s (RSS ~1 GB): the inbox's
    # MAXMSGSIZE is now what its neighbours can send, and ZeroMQ drops the rest.
    link = Link(tmp_path)
    facing = max(len(t) for t in link.receiver.incoming.values())
    assert link.inbox.max_message == limits.edge_batch_bytes(facing) < 1024 * 1024
    rogue = link.ctx.socket(zmq.PUSH)
    rogue.setsockopt(zmq.LINGER, 0)
    rogue.connect(link.inbox.endpoint)
    try:
        link.outbox.connect({1: link.inbox.endpoint})
        await asyncio.wait_for(link.inbox.all_hellos, 5)
        for _ in range(3):
            rogue.send(b"\x00" * (8 * 1024 * 1024))
        cell = link.sender.cells[next(i for i, s in enumerate(link.sender.outgoing) if 1 in s)]
        link.outbox.queue_flash(cell, 9.0, (1,))
        await until(lambda: link.signals != [])  # the real link still works
        assert link.in_metrics.counters.malformed_rejected == 0  # never read, never counted
    finally:
        rogue.close(0)
        link.close()
