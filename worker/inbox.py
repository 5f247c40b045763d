"""The edge inbox: the shard's one bound PULL socket, where neighbours' flashes arrive.

Each neighbour shard first says ``edge_hello [shard, token]`` (the start barrier waits
for all of them: :attr:`EdgeInbox.all_hellos`), then sends ``flashes`` batches. Each
remote flash is fanned out to the local cells it touches with the layout's
``incoming`` table and delivered as ``signal(j, now)``. A gap in a link's batch
numbers is counted (``link_gaps``), so a lost batch shows in the logs even though
ZeroMQ PUSH/PULL on one host loses none. Every message is checked whole before it
touches any state (docs/protocol.md, "Limits"; bounds in :mod:`shared.limits`): the
socket's MAXMSGSIZE fits the largest batch a neighbour can send, a batch holds at most
that many flashes, each cell one of the sender's cells facing us, each time finite.
Anything else is counted (``malformed_rejected``), logged in summary (one warning per
second at most, :mod:`shared.rejects`) and dropped; no exception leaves the handler.

Every message is bound to the connection it came on (``shared.senders``): with tcp
the inbox is a CurveZMQ server (``secure``) and a message's sender is the client's
proven key, which must be the key ``peers`` gave for the shard it names
(:meth:`EdgeInbox.expect`); with ipc, only our uid can reach the 0700 socket folder,
and the sender is the connecting process's pid: the ``edge_hello`` carrying the run's
token binds a shard to that pid, and ``flashes`` naming the shard from any other
process are rejected.

It is built after the agents: its constructor takes the agents' ``signal``, the
clock's ``now`` and the optional signal ``trace``, and binds the socket. Not here:
sending (``outbox``).
"""

from __future__ import annotations

import asyncio
import logging
import hmac
from typing import Any, Callable, Mapping

import zmq

from shared import limits, protocol
from shared.curve import SocketSetup
from shared.handshakes import HandshakeWatch
from shared.histogram import Histogram
from shared.partition import ShardLayout
from shared.senders import identify_for
from shared.rejects import RejectLog
from shared.zmqio import SocketReader, make_socket

from .metrics import ShardMetrics
from .outbox import EDGE_HWM

__all__ = ["EdgeInbox"]

log = logging.getLogger(__name__)

#: Messages handled per turn of the event loop at most (~2 ms of hostile input), so the
#: frame loop's timer runs on time however much is queued.
INBOX_DRAIN = 200


class EdgeInbox:
    """The bound PULL socket: hello bookkeeping and flash batches → ``signal``."""

    def __init__(self, ctx: zmq.Context, loop: asyncio.AbstractEventLoop, layout: ShardLayout,
                 token: str, metrics: ShardMetrics, *, endpoint: str,
                 signal: Callable[[int, float], None], now: Callable[[], float],
                 trace: Callable[[float, int, int, str], None] | None = None,
                 secure: SocketSetup | None = None, delay: float = 0.0,
                 deliver_at: Callable[[float, tuple[int, ...], int,
                                       Callable[[int, float], None]], None]
                 | None = None) -> None:
        self.layout = layout
        self.shard = layout.shard.index
        self.token = token
        self.metrics = metrics
        self.counters = metrics.counters
        self.signal = signal
        self.now = now
        self.trace = trace
        # Lock-step (``deliver_at``): a remote flash at t becomes a signal delivered at
        # t + delay in the clock's event order, and batch number w is window w of that
        # link, all of them in order (a missing one breaks the run, not just a count).
        self.delay = delay
        self.deliver_at = deliver_at
        self.broken: str | None = None
        self._window_waiter: tuple[int, asyncio.Future[None]] | None = None
        self._held: dict[int, list[tuple[Any, Any, list[Any]]]] = {}  # window -> batches
        self._rejects = RejectLog(log, f"malformed edge messages at shard {self.shard}")
        self._gaps = RejectLog(log, f"gaps in batch numbers at shard {self.shard}", verb="saw")
        #: the largest batch a neighbour may send: its cells facing us, a few times over
        self.max_flashes = limits.edge_flashes(max(map(len, layout.incoming.values()), default=0))
        self.max_message = limits.edge_batch_bytes(max(map(len, layout.incoming.values()), default=0))
        self.hellos: set[int] = set()
        self.senders: dict[int, str] = {}  # shard -> its authenticated sender (shared.senders)
        self._early_hellos: dict[int, set[str]] = {}  # second hellos' senders, by shard
        self._expected: dict[int, str] = {}
        self.all_hellos: asyncio.Future[None] = loop.create_future()
        self._recv_seq: dict[int, int] = {s: 0 for s in layout.neighbour_shards}
        for s in layout.neighbour_shards:
            metrics.links_received[s] = 0
            metrics.link_latency[s] = Histogram()
        if not layout.neighbour_shards:
            self.all_hellos.set_result(None)
        self.socket = make_socket(ctx, zmq.PULL, rcvhwm=EDGE_HWM * 8, bind=endpoint,
                                  max_message=self.max_message, secure=secure)
        self.endpoint: str = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.handshakes = None if secure is None else HandshakeWatch(
            loop, self.socket, name=f"shard {self.shard} inbox", on_refused=self._handshake_refused)
        identify = identify_for(self.endpoint) if self.endpoint.startswith(("ipc:", "tcp:")) else None
        # small drains: a flood of garbage must not hold the loop past a frame's due time
        self.reader = SocketReader(loop, self.socket, self._on_message, identify=identify,
                                   batch=INBOX_DRAIN)

    def expect(self, senders: Mapping[int, str]) -> None:
        """Each neighbour shard's authenticated sender (tcp: ``curve:<its key>``), known
        before its hello; without this, a shard's token-bearing hello binds its sender."""
        self._expected.update(senders)

    def _on_message(self, frames: list[bytes]) -> None:
        try:
            if len(frames) != 1:
                raise protocol.ProtocolError(f"{len(frames)} frames")
            if len(frames[0]) > self.max_message:  # ZeroMQ's MAXMSGSIZE drops these first
                raise protocol.ProtocolError(f"{len(frames[0]):,} bytes, over the "
                                             f"{self.max_message:,} allowed")
            kind, fields = protocol.decode(frames[0])
            if kind == "flashes":
                self._on_flashes(*fields)
            elif kind == "edge_hello":
                self._on_hello(*fields)
            else:
                raise protocol.ProtocolError(f"{kind!r} is not an edge message")
        except Exception as exc:  # the peer's fault or our bug: counted, never raised
            self.counters.malformed_rejected += 1
            self._rejects.failed(exc)

    def _on_hello(self, shard: int, token: str) -> None:
        if not hmac.compare_digest(token.encode(), self.token.encode()) or shard not in self._recv_seq:
            raise protocol.ProtocolError(f"hello from unexpected shard {shard} or run")
        sender = self.reader.sender
        bound = self._expected.get(shard, self.senders.get(shard, sender))
        if shard in self.hellos and (shard not in self._expected
                                     or hmac.compare_digest(sender, bound)):
            # A second hello: refused, but kept. If the coordinator then says that shard's
            # worker was replaced (peer_update), it was the replacement's, a moment ahead:
            # forget() binds it (coordinator/replacement.py). Otherwise it never counts.
            self._early_hellos.setdefault(shard, set()).add(sender)
            raise protocol.ProtocolError(f"a second hello for shard {shard} (from "
                                         f"{sender or 'an unauthenticated peer'}), kept until "
                                         f"that shard's worker is replaced")
        if not hmac.compare_digest(sender, bound):
            raise protocol.ProtocolError(f"hello for shard {shard} from {sender or 'an unauthenticated peer'}, "
                                         f"not from that shard's worker")
        self._bind(shard, sender)

    def _bind(self, shard: int, sender: str) -> None:
        self.senders[shard] = sender
        self.hellos.add(shard)
        if len(self.hellos) == len(self._recv_seq) and not self.all_hellos.done():
            self.all_hellos.set_result(None)

    def _on_flashes(self, shard: int, seq: int, cell_bytes: bytes, time_bytes: bytes) -> None:
        """The hot path of the receiving side: one call per batch, a loop per flash."""
        table = self.layout.incoming.get(shard)
        if table is None or shard not in self.hellos:
            raise protocol.ProtocolError(f"flashes from shard {shard}, not a linked neighbour")
        if self.reader.sender != self.senders[shard]:
            raise protocol.ProtocolError(f"flashes naming shard {shard} from another connection "
                                         f"({self.reader.sender or 'unauthenticated'})")
        cells = protocol.unpack_cells(cell_bytes)
        times = protocol.unpack_times(time_bytes)
        if len(cells) != len(times):
            raise protocol.ProtocolError(f"{len(cells)} cells but {len(times)} times")
        if len(cells) > self.max_flashes:
            raise protocol.ProtocolError(f"{len(cells)} flashes from shard {shard}, over the "
                                         f"{self.max_flashes} a batch may hold")
        if not 0 < seq < limits.MAX_COUNT:
            raise protocol.ProtocolError(f"batch number {seq} from shard {shard}")
        bound = limits.MAX_SIM_TIME_S
        if not all(-bound <= t <= bound for t in times):  # NaN fails too
            raise protocol.ProtocolError(f"flash times from shard {shard} are not finite sim times")
        targets = [table.get(cell) for cell in cells]
        if None in targets:
            raise protocol.ProtocolError(f"flashes from shard {shard} name cells not on our edge")
        expected = self._recv_seq[shard] + 1
        if self.deliver_at is not None:
            self._deliver_window(shard, seq, expected, cells, times, targets)
            return
        # Checked: from here on the batch is used.
        if seq != expected:
            self.metrics.link_gaps += 1
            self._gaps.reject(f"link from {shard} jumped from batch {expected - 1} to {seq}")
        self._recv_seq[shard] = seq
        now = self.now()
        signal = self.signal
        latency = self.metrics.link_latency[shard]
        trace = self.trace
        local_cells = self.layout.cells
        for cell, t, local in zip(cells, times, targets):
            latency.record((now - t) * 1000.0)
            for j in local:  # type: ignore[union-attr]  # no None: checked above
                if trace is not None:
                    trace(now, cell, local_cells[j], "edge")
                signal(j, now)
        received = len(cells)
        self.counters.edge_flashes_received += received
        self.metrics.links_received[shard] += received

    def _deliver_window(self, shard: int, seq: int, expected: int, cells: Any, times: Any,
                        targets: list[Any]) -> None:
        """Lock-step: hold window ``seq`` of ``shard`` until :meth:`window` delivers it
        (a neighbour may be one window ahead: its batch must not reach the clock
        while our own window of the same number still runs)."""
        if seq != expected:
            self._break(f"window {seq} from shard {shard}, expected window {expected}")
            raise protocol.ProtocolError(self.broken)
        delay, now = self.delay, self.now()
        if any(t + delay < now for t in times):
            self._break(f"window {seq} from shard {shard} holds flashes that would land "
                        f"before now ({now})")
            raise protocol.ProtocolError(self.broken)
        # Checked: from here on the batch is used.
        self._recv_seq[shard] = seq
        self._held.setdefault(seq, []).append((cells, times, targets))
        received = len(cells)
        self.counters.edge_flashes_received += received
        self.metrics.links_received[shard] += received
        self._wake_window()

    def _break(self, why: str) -> None:
        self.broken = self.broken or why
        self._wake_window()

    def _wake_window(self) -> None:
        waiter = self._window_waiter
        if waiter is None or waiter[1].done():
            return
        if self.broken is not None:
            waiter[1].set_exception(RuntimeError(f"lock-step broken: {self.broken}"))
        elif min(self._recv_seq.values(), default=waiter[0]) >= waiter[0]:
            waiter[1].set_result(None)

    async def window(self, seq: int) -> None:
        """Return once every neighbour's window ``seq`` has arrived, its flashes handed
        to the clock as signals at t + delay (the lock-step barrier, neighbours only);
        a broken link raises RuntimeError."""
        self._window_waiter = (seq, asyncio.get_running_loop().create_future())
        self._wake_window()
        await self._window_waiter[1]
        deliver, signal, trace, delay = self.deliver_at, self.signal, self.trace, self.delay
        local_cells = self.layout.cells
        for cells, times, targets in self._held.pop(seq, ()):
            for cell, t, local in zip(cells, times, targets):
                if trace is not None:
                    for j in local:
                        trace(t, cell, local_cells[j], "edge")
                deliver(t + delay, local, cell, signal)  # type: ignore[misc]

    def forget(self, shard: int, sender: str = "") -> None:
        """Neighbour ``shard`` has a new worker whose messages show ``sender`` (as the
        coordinator vouches; "" when it does not know): only a hello from it binds, and
        its batches are numbered from 1 again."""
        if shard not in self._recv_seq:
            raise ValueError(f"shard {shard} is not a neighbour of shard {self.shard}")
        self.senders.pop(shard, None)
        self.hellos.discard(shard)
        self._recv_seq[shard] = 0
        if sender:
            self._expected[shard] = sender
        early = self._early_hellos.pop(shard, set())
        expected = self._expected.get(shard)
        if expected is not None and expected in early:  # its hello came before our word
            self._bind(shard, expected)
        elif expected is None and len(early) == 1:
            self._bind(shard, early.pop())

    def _handshake_refused(self) -> None:
        self.counters.handshakes_refused += 1

    def count_refused(self) -> None:
        """Before the last log line: every connection refused at the handshake, also
        those that sent no ZMTP at all (libzmq only disconnects those)."""
        if self.handshakes is not None:
            self.counters.handshakes_refused = max(self.counters.handshakes_refused,
                                                   self.handshakes.refused)

    def close(self) -> None:
        self._rejects.flush()
        self._gaps.flush()
        if self.handshakes is not None:
            self.handshakes.close()
        self.reader.close()
        self.socket.close(0)
