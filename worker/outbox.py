"""The edge outbox: boundary flashes to the neighbour shards, one PUSH socket each.

A boundary flash is queued once per neighbour shard it touches (not once per remote
cell) by :meth:`EdgeOutbox.queue_flash`, the agents' ``send_edge``; the queues are
flushed once per event-loop turn as one message per link:
``flashes [shard, seq, cells: int32[], times: float64[]]`` (docs/protocol.md). Sends
never block: when a peer's queue is full the batch is dropped and counted. ``seq``
numbers the batches per link so the receiver can count gaps.

It is built before the agents (they are handed ``queue_flash``) and connected once
the coordinator has sent the neighbours' inbox endpoints (``peers``); connecting says
``edge_hello`` on every link. With ``keys`` (``--transport tcp``) each link is a
CurveZMQ client: it proves our key and talks only to the neighbour whose public key
``peers`` named. Not here: receiving (``inbox``).
"""

from __future__ import annotations

import asyncio
from array import array
from typing import Mapping

import zmq

from shared import protocol
from shared.curve import Keypair, client
from shared.partition import ShardLayout
from shared.zmqio import make_socket, send_nowait

from .metrics import ShardMetrics

__all__ = ["EdgeOutbox", "EDGE_HWM"]

EDGE_HWM = 1_000  # batches queued per link before sends are dropped


class EdgeOutbox:
    """The shard's PUSH sockets to its neighbour shards' inboxes, and the per-link
    batches of boundary flashes waiting for the next flush."""

    def __init__(self, ctx: zmq.Context, loop: asyncio.AbstractEventLoop, layout: ShardLayout,
                 token: str, metrics: ShardMetrics, *, keys: Keypair | None = None,
                 windowed: bool = False) -> None:
        self.ctx = ctx
        self.keys = keys
        self.loop = loop
        self.links = tuple(layout.neighbour_shards)
        self.shard = layout.shard.index
        self.token = token
        self.metrics = metrics
        self.counters = metrics.counters
        self.peers: dict[int, zmq.Socket] = {}
        self._pending_cells: dict[int, array] = {s: array("i") for s in self.links}
        self._pending_times: dict[int, array] = {s: array("d") for s in self.links}
        # Lock-step (``windowed``): no flush per loop turn; one batch per link per window,
        # empty or not, sent by flush(window=True): its batch number is the window's.
        self.windowed = windowed
        self._flush_scheduled = windowed
        self._send_seq: dict[int, int] = {s: 0 for s in self.links}
        for s in self.links:
            metrics.links_sent[s] = metrics.links_dropped[s] = 0

    def connect(self, endpoints: Mapping[int, str], public_keys: Mapping[int, str] | None = None) -> None:
        """Connect to every neighbour shard's inbox and say hello on each link; with
        curve ``keys``, ``public_keys`` must name each neighbour's key."""
        for s in self.links:
            if s not in endpoints:
                raise ValueError(f"no inbox endpoint for neighbour shard {s} in peers "
                                 f"{sorted(endpoints)}")
            if self.keys is not None and not (public_keys or {}).get(s):
                raise ValueError(f"no CurveZMQ key for neighbour shard {s} in peers")
        for s in self.links:
            secure = None if self.keys is None else client(self.keys, (public_keys or {})[s])
            sock = make_socket(self.ctx, zmq.PUSH, sndhwm=EDGE_HWM, connect=endpoints[s],
                               secure=secure)
            self.peers[s] = sock
            # The hello may wait in the queue until the connection is up: that is fine,
            # PUSH queues it (the HWM is far above one message).
            sock.send(protocol.encode("edge_hello", self.shard, self.token))

    def relink(self, shard: int, endpoint: str, public_key: str) -> None:
        """Neighbour ``shard`` has a new worker (a replacement, coordinator/recovery.py):
        a new link to its inbox, a hello, batch numbers from 1 again."""
        if shard not in self.peers:
            raise ValueError(f"shard {shard} is not a neighbour of shard {self.shard}")
        if self.keys is not None and not public_key:
            raise ValueError(f"no CurveZMQ key for neighbour shard {shard}")
        self.peers.pop(shard).close(0)
        secure = None if self.keys is None else client(self.keys, public_key)
        sock = make_socket(self.ctx, zmq.PUSH, sndhwm=EDGE_HWM, connect=endpoint, secure=secure)
        self.peers[shard] = sock
        self._send_seq[shard] = 0
        sock.send(protocol.encode("edge_hello", self.shard, self.token))

    # -- the hot path ------------------------------------------------------------------
    def queue_flash(self, cell: int, t: float, shards: tuple[int, ...]) -> None:
        """Remember a boundary flash for each neighbour shard it touches."""
        for s in shards:
            self._pending_cells[s].append(cell)
            self._pending_times[s].append(t)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self, *, window: bool = False) -> None:
        """Send one batch per link with pending flashes (once per loop turn); with
        ``window``, one batch on every link even if empty (the end of a lock-step
        window: the batch is also the barrier), and a full queue is an error."""
        self._flush_scheduled = self.windowed
        counters = self.counters
        metrics = self.metrics
        for s, cells in self._pending_cells.items():
            n = len(cells)
            if not n and not window:
                continue
            times = self._pending_times[s]
            seq = self._send_seq[s] + 1
            message = protocol.encode("flashes", self.shard, seq, protocol.pack_cells(cells),
                                      protocol.pack_times(times))
            if send_nowait(self.peers[s], message):
                self._send_seq[s] = seq
                counters.edge_flashes_sent += n
                metrics.links_sent[s] += n
            else:
                counters.edge_flashes_dropped += n
                metrics.links_dropped[s] += n
                if window:  # lock-step cannot lose a window: the run would not be exact
                    raise RuntimeError(f"the link to shard {s} is full ({EDGE_HWM} batches "
                                       f"queued): window {seq} cannot be sent")
            self._pending_cells[s] = array("i")
            self._pending_times[s] = array("d")

    def close(self) -> None:
        for sock in self.peers.values():
            sock.close(0)
        self.peers.clear()
