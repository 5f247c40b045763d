"""The edge inbox: the shard's one bound PULL socket, where neighbours' flashes arrive.

Each neighbour shard first says ``edge_hello [shard, token]`` (the start barrier waits
for all of them: :attr:`EdgeInbox.all_hellos`), then sends ``flashes`` batches. Each
remote flash is fanned out to the local cells it touches with the layout's
``incoming`` table and delivered as ``signal(j, now)``. A gap in a link's batch
numbers is counted (``link_gaps``), so a lost batch shows in the logs even though
ZeroMQ PUSH/PULL on one host loses none. Anything malformed is counted and dropped.

It is built after the agents: its constructor takes the agents' ``signal``, the
clock's ``now`` and the optional signal ``trace``, and binds the socket. Not here:
sending (``outbox``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

import zmq

from shared import protocol
from shared.partition import ShardLayout
from shared.zmqio import SocketReader, make_socket

from .metrics import ShardMetrics
from .outbox import EDGE_HWM

__all__ = ["EdgeInbox"]

log = logging.getLogger(__name__)


class EdgeInbox:
    """The bound PULL socket: hello bookkeeping and flash batches → ``signal``."""

    def __init__(self, ctx: zmq.Context, loop: asyncio.AbstractEventLoop, layout: ShardLayout,
                 token: str, metrics: ShardMetrics, *, endpoint: str,
                 signal: Callable[[int, float], None], now: Callable[[], float],
                 trace: Callable[[float, int, int, str], None] | None = None) -> None:
        self.layout = layout
        self.shard = layout.shard.index
        self.token = token
        self.metrics = metrics
        self.counters = metrics.counters
        self.signal = signal
        self.now = now
        self.trace = trace
        self.hellos: set[int] = set()
        self.all_hellos: asyncio.Future[None] = loop.create_future()
        self._recv_seq: dict[int, int] = {s: 0 for s in layout.neighbour_shards}
        for s in layout.neighbour_shards:
            metrics.links_received[s] = 0
        if not layout.neighbour_shards:
            self.all_hellos.set_result(None)
        self.socket = make_socket(ctx, zmq.PULL, rcvhwm=EDGE_HWM * 8, bind=endpoint)
        self.endpoint: str = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.reader = SocketReader(loop, self.socket, self._on_message)

    def _on_message(self, frames: list[bytes]) -> None:
        try:
            if len(frames) != 1:
                raise protocol.ProtocolError(f"{len(frames)} frames")
            kind, fields = protocol.decode(frames[0])
            if kind == "flashes":
                self._on_flashes(*fields)
            elif kind == "edge_hello":
                self._on_hello(*fields)
            else:
                raise protocol.ProtocolError(f"{kind!r} is not an edge message")
        except protocol.ProtocolError as exc:
            self.counters.malformed_rejected += 1
            log.warning("shard %d: dropped a malformed edge message: %s", self.shard, exc)

    def _on_hello(self, shard: int, token: str) -> None:
        if token != self.token or shard not in self._recv_seq:
            raise protocol.ProtocolError(f"hello from unexpected shard {shard} or run")
        self.hellos.add(shard)
        if len(self.hellos) == len(self._recv_seq) and not self.all_hellos.done():
            self.all_hellos.set_result(None)

    def _on_flashes(self, shard: int, seq: int, cell_bytes: bytes, time_bytes: bytes) -> None:
        """The hot path of the receiving side: one call per batch, a loop per flash."""
        table = self.layout.incoming.get(shard)
        if table is None or shard not in self.hellos:
            raise protocol.ProtocolError(f"flashes from shard {shard}, not a linked neighbour")
        cells = protocol.unpack_cells(cell_bytes)
        times = protocol.unpack_times(time_bytes)
        if len(cells) != len(times):
            raise protocol.ProtocolError(f"{len(cells)} cells but {len(times)} times")
        expected = self._recv_seq[shard] + 1
        if seq != expected:
            self.metrics.link_gaps += 1
            log.warning("shard %d: link from %d jumped from batch %d to %d",
                        self.shard, shard, expected - 1, seq)
        self._recv_seq[shard] = seq
        now = self.now()
        signal = self.signal
        latency = self.metrics.edge_latency
        trace = self.trace
        local_cells = self.layout.cells
        unknown = 0
        for cell, t in zip(cells, times):
            targets = table.get(cell)
            if targets is None:
                unknown += 1
                continue
            latency.record((now - t) * 1000.0)
            for j in targets:
                if trace is not None:
                    trace(now, cell, local_cells[j], "edge")
                signal(j, now)
        received = len(cells) - unknown
        self.counters.edge_flashes_received += received
        self.metrics.links_received[shard] += received
        if unknown:
            self.counters.malformed_rejected += unknown
            log.warning("shard %d: %d flashes from shard %d name cells not on our edge",
                        self.shard, unknown, shard)

    def close(self) -> None:
        self.reader.close()
        self.socket.close(0)
