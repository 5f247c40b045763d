"""The worker's life: register, link, wait at the barrier, run the shard, stop.

    coordinator                      worker K
        <-------- hello [K, pid, token]
        config [ShardConfig] ----->   validate; clock, quota, outbox, agents (built,
                                      not started); bind the edge inbox
        <-------- bound [K, endpoint]
        peers [[s, endpoint, key]...] outbox connects: edge_hello on each link; wait
                                      for every neighbour's hello; start the agent
                                      tasks (each parks on the clock)
        <-------- links_ready [K]
        start [t0] -------->          clock starts; frame loop; shard log
        heartbeat [t] (every 0.5 s)   no heartbeat for heartbeat_timeout: stop
        stop [reason] -------->       agents stop, last log line, bye
        <-------- bye [K, reason]

A config that fails ``ShardConfig.from_wire`` is logged and the worker says ``bye``
and exits 1. The worker also stops on SIGTERM/SIGINT and when its parent is gone.
Every collaborator is built with what it needs (docs/worker.md, "Set-up order").

Security (docs/security.md): the token and, with tcp, the CurveZMQ keys come in
``opts.credentials`` (stdin, or a join's answer); with tcp every socket is curve, and
the edge inbox's ZAP handler (:class:`~shared.curve.KeyRing`) lets in only the
neighbours named in ``peers``. A worker that joined from another host
(``opts.joined``, ``worker.join``) is otherwise the same, but it starts at the
coordinator's t0 on its own clock (``opts.offset``), re-measures that offset during
the run (``offset_watch``) and sends its files to the coordinator (``files``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import zmq

from shared import protocol
from shared import cascade as cs
from shared.clock import Clock, RealTimeClock
from shared.lockstep_clock import LockstepClock
from shared.curve import KeyRing, client, guarding, server
from shared.grid import Grid
from shared.model import INIT_FILE, initial_phases, load_phases
from shared.runlog import schema
from shared.senders import curve_identity
from shared.shard_config import ShardConfig, ShardConfigError
from shared.zmqio import SocketReader, make_socket, send_nowait

from .busy import TimingSelector
from .frames import FrameLoop
from .inbox import EdgeInbox
from .metrics import ShardMetrics
from .outbox import EdgeOutbox
from .quota import ShardQuota
from .collector import Collector
from .shard import Shard, build_shard, layout_of
from .files import RunFiles
from .offset_watch import OffsetWatch
from .options import WorkerOptions
from .phases import phase_sampler
from .lockstep_files import load_resume, restore_clock, save_checkpoint_part, save_state_part
from .shipping import Shipper
from .snapshots import SnapshotLoop, load_snapshot, restore_agents, resume_at, save_snapshot
from .watchdog import watch
from .windows import WindowLoop

__all__ = ["Worker", "StopRequested"]

log = logging.getLogger(__name__)


class StopRequested(Exception):
    """Raised inside set-up when a stop arrives before the run started."""


class Worker:
    """One shard's process. ``busy`` is the TimingSelector of the running loop, when
    it has one (``worker.main`` builds the loop on it)."""

    def __init__(self, opts: WorkerOptions, busy: TimingSelector | None = None) -> None:
        self.opts = opts
        self.loop = asyncio.get_running_loop()
        self.ctx = zmq.Context()
        creds = opts.credentials
        # With tcp: the ZAP handler of the edge inbox, which waits for the neighbours'
        # keys from ``peers``; the coordinator's sockets are curve servers.
        self.keyring = KeyRing(name=f"shard {opts.shard} inbox", ready=not creds.curve)
        self._guard = contextlib.ExitStack()
        to_coordinator = None
        if creds.curve:
            self._guard.enter_context(guarding(self.ctx, self.keyring))
            to_coordinator = client(creds.keys, creds.server)
        self.control = make_socket(self.ctx, zmq.DEALER, connect=opts.control, secure=to_coordinator)
        self.telemetry = make_socket(self.ctx, zmq.PUSH, sndhwm=10_000, connect=opts.telemetry,
                                     secure=to_coordinator)
        self.control_reader = SocketReader(self.loop, self.control, self._on_control)
        self.inbox: asyncio.Queue[tuple[str, list[Any]]] = asyncio.Queue()
        self.stop_event = asyncio.Event()
        self.stop_reason = ""
        self.last_heard = time.monotonic()
        self.parent = os.getppid()
        self.metrics = ShardMetrics(busy)
        self.config: ShardConfig | None = None
        self.clock: Clock | None = None
        self.quota: ShardQuota | None = None
        self.outbox: EdgeOutbox | None = None
        self.edge_inbox: EdgeInbox | None = None
        self.shard: Shard | None = None
        self.files: RunFiles | None = None
        self.offsets = OffsetWatch(opts.offset, lambda t: self._send("clock_ping", opts.shard, t),
                                   self.metrics) if opts.joined else None
        self.collector: Collector | None = None

    # -- control channel -------------------------------------------------------------
    def _send(self, kind: str, *fields: Any) -> None:
        if not send_nowait(self.control, protocol.encode(kind, *fields)):
            log.warning("control queue full: %s not sent", kind)
        self.control_reader.kick()

    def _on_control(self, frames: list[bytes]) -> None:
        try:
            if len(frames) != 1:
                raise protocol.ProtocolError(f"{len(frames)} frames")
            kind, fields = protocol.decode(frames[0])
        except protocol.ProtocolError as exc:
            self.metrics.counters.malformed_rejected += 1
            log.warning("dropped a malformed control message: %s", exc)
            return
        self.last_heard = time.monotonic()
        if kind == "stop":
            self.request_stop(f"coordinator: {fields[0]}")
        elif kind == "heartbeat":
            pass
        elif kind == "peer_update":
            self._relink(*fields)
        elif kind == "clock_pong":
            if self.offsets is None or not self.offsets.measured(float(fields[0]), float(fields[1])):
                self.metrics.counters.malformed_rejected += 1
        elif kind == "quota_grant":
            if self.quota is None or fields[0] != self.opts.shard:
                self.metrics.counters.malformed_rejected += 1
                log.warning("dropped a quota grant for shard %s", fields[0])
                return
            try:
                self.quota.on_grant(fields)
            except protocol.ProtocolError as exc:
                self.metrics.counters.malformed_rejected += 1
                log.warning("dropped a bad quota grant: %s", exc)
        else:
            self.inbox.put_nowait((kind, fields))

    async def _expect(self, kind: str) -> list[Any]:
        """The next control message, which must be ``kind``; stop or timeout raise."""
        getter = asyncio.ensure_future(self.inbox.get())
        try:
            await self._wait_or_stop(getter, f"{kind!r} from the coordinator")
        finally:
            getter.cancel()  # does nothing once it is done
        got, fields = getter.result()
        if got != kind:
            raise RuntimeError(f"expected {kind!r} from the coordinator, got {got!r}")
        return fields

    def _relink(self, shard: int, endpoint: str, key: str, sender: str) -> None:
        """Shard ``shard``'s worker was replaced: link to its new inbox if it is ours."""
        if self.outbox is None or self.edge_inbox is None or shard not in self.outbox.peers:
            return
        try:
            self.outbox.relink(shard, endpoint, key)
        except (ValueError, zmq.ZMQError) as exc:
            self.metrics.counters.malformed_rejected += 1
            log.warning("dropped a peer_update for shard %s: %s", shard, exc)
            return
        self.edge_inbox.forget(shard, sender)

    def request_stop(self, reason: str) -> None:
        if not self.stop_event.is_set():
            self.stop_reason = reason
            log.info("stopping: %s", reason)
            self.stop_event.set()

    # -- the run ---------------------------------------------------------------------
    async def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self.request_stop, signal.Signals(sig).name)
        watchdog = asyncio.ensure_future(watch(
            self.stop_event, self.request_stop, parent=self.parent,
            last_heard=lambda: self.last_heard, drain=self.control_reader.drain,
            timeout=lambda: None if self.config is None else self.config.heartbeat_timeout))
        code = 0
        try:
            await self._set_up()
            await self._run_shard()
        except StopRequested:
            log.info("stopped during set-up: %s", self.stop_reason)
        except ShardConfigError as exc:
            log.error("worker %d: the coordinator's config is invalid: %s", self.opts.shard, exc)
            self.stop_reason = f"invalid config: {exc}"
            code = 1
        except Exception as exc:  # e.g. a full disk under the shard log
            log.exception("worker %d failed", self.opts.shard)
            failure = f"failed: {type(exc).__name__}: {exc}"
            self.stop_reason = f"{self.stop_reason}; then {failure}" if self.stop_reason else failure
            code = 1  # the bye carries the reason to the coordinator's summary
        finally:
            watchdog.cancel()
            await self._shut_down()
        return code

    async def _set_up(self) -> None:
        k = self.opts.shard
        self._send("hello", k, os.getpid(), self.opts.token)
        (wire,) = await self._expect("config")
        config = ShardConfig.from_wire(wire)
        if config.shard != k:
            raise ShardConfigError(f"shard(={config.shard}) is not this worker's shard {k}")
        self.config = config
        self.files = files = RunFiles(k, config.run_dir, Shipper(k, self._send)
                                      if self.opts.joined else None)
        grid = Grid(*config.grid)
        layout = layout_of(grid, config.workers, k)
        clock: Clock  # parked until start
        # --resume: a lock-step checkpoint, copied here by the coordinator
        resume = load_resume(config.run_dir, layout) if config.resume else None
        snapshot = load_snapshot(config.run_dir, k, len(layout.cells)) if config.restore else None
        self.metrics.resumed_from = next((r.t for r in (resume, snapshot) if r is not None), None)
        if config.lockstep:
            clock = LockstepClock(len(layout.cells), resume.t if resume else 0.0, parked=True,
                                  lookahead=config.delay, scheduler=cs.Scheduler())
        else:
            clock = RealTimeClock(self.loop, len(layout.cells), scheduler=cs.Scheduler())
        self.clock = clock
        if config.quota:
            trace = files.log(schema.quota_trace(k)) if config.trace_quota else None
            # Lock-step agents hold a slot only while they act (ended promptly): a
            # lapsed lease has no waiting step to preempt there (docs/lockstep.md).
            self.quota = ShardQuota(k, send=lambda m: self._send(m.KIND, *m.wire()),
                                    lease_s=config.lease_s, trace=trace,
                                    preempt=(lambda n: 0) if config.lockstep else clock.preempt)
            self.quota.start()  # the first request goes out before any agent starts
        creds = self.opts.credentials
        self.outbox = EdgeOutbox(self.ctx, self.loop, layout, self.opts.token, self.metrics,
                                 keys=creds.keys if creds.curve else None,
                                 windowed=config.lockstep)
        given = None
        if config.init == INIT_FILE:  # checked by the coordinator, and again here
            given = load_phases(Path(config.run_dir) / schema.INIT_NPY, config.grid,
                                config.params.period)
        phases = initial_phases(grid.cells, config.params, config.init, config.kicks, given)
        self.collector = collector = Collector(len(layout.cells))
        collector.building()  # no automatic collection while the agents are made
        self.shard = shard = build_shard(
            layout, config.params, phases, clock, self.metrics, yield_every=config.yield_every,
            send_edge=self.outbox.queue_flash,
            trace=files.signal_trace(schema.signal_trace(k)) if config.trace_signals else None,
            slots=self.quota.slots if self.quota is not None else None,
            delay=config.delay, record_train=config.lockstep, resume=resume,
            slot_per_act=config.lockstep)
        if snapshot is not None:  # a replacement: the lost worker's agents, as saved
            restore_agents(shard.agents, snapshot)
        self.edge_inbox = EdgeInbox(self.ctx, self.loop, layout, self.opts.token, self.metrics,
                                    endpoint=config.inbox, signal=shard.agents.signal,
                                    now=clock.now, trace=shard.agents.trace,
                                    secure=server(creds.keys) if creds.curve else None,
                                    delay=config.delay,
                                    deliver_at=clock.deliver_at if config.lockstep else None)
        self._send("bound", k, self.edge_inbox.endpoint)
        (peer_list,) = await self._expect("peers")
        endpoints, keys = protocol.parse_peers(peer_list, layout.neighbour_shards,
                                               curve=creds.curve)
        if creds.curve:  # only the neighbours' keys get in, each as its own shard
            self.edge_inbox.expect({s: curve_identity(keys[s]) for s in layout.neighbour_shards})
            self.keyring.allow(keys[s] for s in layout.neighbour_shards)
        self.outbox.connect(endpoints, keys)
        await self._wait_or_stop(self.edge_inbox.all_hellos, "edge hellos")
        # Let every agent take its first step (up to its first wait on the parked
        # clock) before reporting ready: the barrier then only has to start the clock,
        # and no agent is late because its neighbours were busy being created.
        shard.start()
        while not shard.all_waiting():
            await asyncio.sleep(0.01)
            if self.stop_event.is_set():
                raise StopRequested(self.stop_reason)
        if resume is not None:  # the saved alarms and signals in transit
            assert isinstance(clock, LockstepClock)
            restore_clock(clock, layout, resume, shard.agents)
        # Long-lived set-up objects never need collecting: freeze them and keep the
        # automatic collector off; the frame loop tends the young generation
        # (worker.collector, docs/worker.md).
        collector.settle()
        self._send("links_ready", k)
        (start,) = await self._expect("start")
        t0 = self.opts.offset.to_worker(float(start))  # the coordinator's t0 on our clock
        clock.start(t0)
        self.metrics.begin(t0 if snapshot is None else time.monotonic())  # a replacement: now
        if snapshot is not None:
            resume_at(snapshot, shard.agents, clock)
        if config.lockstep:  # the lock-step clock ignores t0: start at it all the same
            await asyncio.sleep(max(0.0, t0 - self.loop.time()))

    def _checkpoint(self, window: int, t: float) -> None:
        assert self.config is not None and self.shard is not None and self.files is not None
        assert isinstance(self.clock, LockstepClock)
        save_checkpoint_part(self.files.folder, self.opts.shard, window, t, self.clock,
                             self.shard.agents)
        self.files.written(schema.checkpoint_part(self.opts.shard, window))

    async def _wait_or_stop(self, fut: asyncio.Future[Any], what: str) -> None:
        stopper = asyncio.ensure_future(self.stop_event.wait())
        try:
            done, _ = await asyncio.wait({fut, stopper}, timeout=self.opts.setup_timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if self.stop_event.is_set():
            raise StopRequested(self.stop_reason)
        if fut not in done:
            raise TimeoutError(f"{what} did not arrive within {self.opts.setup_timeout} s")

    async def _run_shard(self) -> None:
        config, shard, clock, collector = self.config, self.shard, self.clock, self.collector
        assert None not in (config, shard, clock, collector), "_set_up has run"
        assert config is not None and shard is not None and clock is not None
        assert collector is not None
        assert self.files is not None
        frames = FrameLoop(clock, shard.agents, self.metrics, self.telemetry,
                           self.files.log(schema.shard_log(self.opts.shard)), fps=config.fps,
                           report_interval=config.report_interval, collector=collector,
                           quota=self.quota, phases=phase_sampler(config, shard.agents),
                           start=clock.now() if config.restore else 0.0)
        pings = None if self.offsets is None else asyncio.ensure_future(
            self.offsets.run(self.stop_event))
        snapshots = None if not config.snapshot_every else asyncio.ensure_future(SnapshotLoop(
            clock, config.snapshot_every, lambda t: save_snapshot(
                self.files.folder, self.opts.shard, t, shard.agents)).run(self.stop_event))
        try:
            if config.lockstep:
                assert isinstance(clock, LockstepClock) and self.outbox and self.edge_inbox
                await WindowLoop(clock, frames, self.outbox, self.edge_inbox, delay=config.delay,
                                 duration=config.duration,
                                 checkpoint_every=config.checkpoint_every,
                                 checkpoint=self._checkpoint).run(self.stop_event)
            else:
                await frames.run(self.stop_event)
        finally:
            for task in (pings, snapshots):
                if task is not None:
                    task.cancel()
            collector.release()
            stopped = shard.stop()
            results = await shard.finished()
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:
                log.error("%d agents failed; first: %r", len(failed), failed[0],
                          exc_info=failed[0])  # its traceback and the note naming the task
            log.info("stopped %d waiting agents", stopped)
            counts = [r for r in results if isinstance(r, int)]
            if self.edge_inbox is not None:
                self.edge_inbox.count_refused()
            if config.lockstep:
                save_state_part(self.files.folder, self.opts.shard, clock.now(), shard.agents)
                self.files.written(schema.state_part(self.opts.shard))
            frames.report(clock.now(), final=True, more={
                "stop_reason": self.stop_reason or "error",  # every path out writes it
                "agents_failed": len(failed),
                "agents_without_flash": sum(1 for c in counts if c == 0),
                "agent_flashes_min": min(counts, default=0)})

    async def _shut_down(self) -> None:
        if self.quota is not None:
            self.quota.stop()
        if self.outbox is not None:
            self.outbox.flush()
        if self.files is not None:  # before the bye: a joined worker's files go first
            try:
                self.files.close()
            except OSError as exc:  # a full disk: the bye still says why we stop
                log.error("closing the shard's files: %s", exc)
        try:
            self._send("bye", self.opts.shard, self.stop_reason or "done")
        except Exception:
            pass
        await asyncio.sleep(0.05)  # let the bye leave before LINGER 0 drops it
        self.control_reader.close()
        if self.edge_inbox is not None:
            self.edge_inbox.close()
        if self.outbox is not None:
            self.outbox.close()
        self.control.close(0)
        self.telemetry.close(0)
        self._guard.close()  # the ZAP handler's sockets
        self.ctx.term()
