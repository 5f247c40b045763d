"""Edge links: boundary flashes between neighbour shards over ZeroMQ.

Each worker binds one PULL *inbox* and connects one PUSH socket to each neighbour
shard's inbox. A boundary flash is queued once per neighbour shard (not once per
remote cell) and the queues are flushed once per event-loop turn as one message per
link: ``flashes [shard, seq, cells: int32[], times: float64[]]``. Sends never block:
when a peer's queue is full the batch is dropped and counted. The receiver fans each
remote flash out to its local cells with the layout's ``incoming`` table.

Per link, ``seq`` numbers the batches; a gap on receipt is counted (``link_gaps``), so
a lost batch shows in the logs even though ZeroMQ PUSH/PULL on one host loses none.
"""

from __future__ import annotations

import asyncio
import logging
from array import array
from typing import Callable

import zmq

from shared import protocol
from shared.partition import ShardLayout
from shared.zmqio import SocketReader, make_socket, send_nowait

from .metrics import ShardMetrics

__all__ = ["EdgeLinks"]

log = logging.getLogger(__name__)

EDGE_HWM = 1_000  # batches queued per link before sends are dropped


class EdgeLinks:
    """The shard's inbox and its PUSH sockets to the neighbour shards."""

    def __init__(self, ctx: zmq.Context, loop: asyncio.AbstractEventLoop, layout: ShardLayout,
                 token: str, metrics: ShardMetrics) -> None:
        self.ctx = ctx
        self.loop = loop
        self.layout = layout
        self.shard = layout.shard.index
        self.token = token
        self.metrics = metrics
        self.counters = metrics.counters
        self.inbox: zmq.Socket | None = None
        self.reader: SocketReader | None = None
        self.peers: dict[int, zmq.Socket] = {}
        self.hellos: set[int] = set()
        self.all_hellos = loop.create_future()
        self._pending_cells: dict[int, array] = {s: array("i") for s in layout.neighbour_shards}
        self._pending_times: dict[int, array] = {s: array("d") for s in layout.neighbour_shards}
        self._flush_scheduled = False
        self._send_seq: dict[int, int] = {s: 0 for s in layout.neighbour_shards}
        self._recv_seq: dict[int, int] = {s: 0 for s in layout.neighbour_shards}
        for s in layout.neighbour_shards:
            metrics.links_sent[s] = metrics.links_received[s] = metrics.links_dropped[s] = 0
        self.on_signal: Callable[[int, float], None] | None = None  # agents.signal
        self.now: Callable[[], float] | None = None  # clock.now
        self.trace: Callable[[float, int, int, str], None] | None = None
        if not layout.neighbour_shards:
            self.all_hellos.set_result(None)

    # -- set-up ----------------------------------------------------------------------
    def bind(self, endpoint: str) -> str:
        self.inbox = make_socket(self.ctx, zmq.PULL, rcvhwm=EDGE_HWM * 8, bind=endpoint)
        self.reader = SocketReader(self.loop, self.inbox, self._on_message)
        return self.inbox.getsockopt_string(zmq.LAST_ENDPOINT)

    def connect(self, endpoints: dict[int, str]) -> None:
        """Connect to every neighbour shard's inbox and say hello on each link."""
        for s in self.layout.neighbour_shards:
            if s not in endpoints:
                raise ValueError(f"no inbox endpoint for neighbour shard {s}")
            sock = make_socket(self.ctx, zmq.PUSH, sndhwm=EDGE_HWM, connect=endpoints[s])
            self.peers[s] = sock
            # The hello may wait in the queue until the connection is up: that is fine,
            # PUSH queues it (the HWM is far above one message).
            sock.send(protocol.encode("edge_hello", self.shard, self.token))

    # -- sending ---------------------------------------------------------------------
    def queue_flash(self, cell: int, t: float, shards: tuple[int, ...]) -> None:
        """Hot path: remember a boundary flash for each neighbour shard it touches."""
        for s in shards:
            self._pending_cells[s].append(cell)
            self._pending_times[s].append(t)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Send one batch per link with pending flashes (once per loop turn)."""
        self._flush_scheduled = False
        counters = self.counters
        metrics = self.metrics
        for s, cells in self._pending_cells.items():
            n = len(cells)
            if not n:
                continue
            times = self._pending_times[s]
            seq = self._send_seq[s] + 1
            message = protocol.encode("flashes", self.shard, seq, cells.tobytes(), times.tobytes())
            if send_nowait(self.peers[s], message):
                self._send_seq[s] = seq
                counters.edge_flashes_sent += n
                metrics.links_sent[s] += n
            else:
                counters.edge_flashes_dropped += n
                metrics.links_dropped[s] += n
            self._pending_cells[s] = array("i")
            self._pending_times[s] = array("d")

    # -- receiving -------------------------------------------------------------------
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
        now = self.now()  # type: ignore[misc]
        signal = self.on_signal
        latency = self.metrics.edge_latency
        trace = self.trace
        counters = self.counters
        unknown = 0
        for cell, t in zip(cells, times):
            targets = table.get(cell)
            if targets is None:
                unknown += 1
                continue
            latency.record((now - t) * 1000.0)
            for j in targets:
                if trace is not None:
                    trace(now, cell, self.layout.cells[j], "edge")
                signal(j, now)  # type: ignore[misc]
        received = len(cells) - unknown
        counters.edge_flashes_received += received
        self.metrics.links_received[shard] += received
        if unknown:
            counters.malformed_rejected += unknown
            log.warning("shard %d: %d flashes from shard %d name cells not on our edge",
                        self.shard, unknown, shard)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        for sock in self.peers.values():
            sock.close(0)
        if self.inbox is not None:
            self.inbox.close(0)
