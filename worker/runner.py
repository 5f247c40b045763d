"""The worker's life: register, link, wait at the barrier, run the shard, stop.

    coordinator                      worker K
        <-------- hello [K, pid, token]
        config [...] -------->        build layout, bind inbox
        <-------- bound [K, endpoint]
        peers [[s, endpoint]...] -->  connect to neighbours, edge_hello on each link
        <-------- links_ready [K]     (once every neighbour's hello has arrived)
        start [t0] -------->          agents start; frame loop; shard log
        heartbeat [t] (every 0.5 s)   no heartbeat for heartbeat_timeout: stop
        stop [reason] -------->       agents stop, last log line, bye
        <-------- bye [K, reason]

The worker also stops on SIGTERM/SIGINT and when its parent process is gone.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
import time
from dataclasses import dataclass
from typing import IO, Any

import zmq

from shared import cascade as cs
from shared import protocol
from shared.clock import RealTimeClock
from shared.grid import Grid
from shared.model import FireflyParams, initial_phases
from shared.partition import partition, shard_layout
from shared.zmqio import SocketReader, make_socket, send_nowait

from .agents import ShardAgents, firefly_agent
from .edges import EdgeLinks
from .frames import FrameLoop
from .lease import QuotaSlots, WorkerLease
from .metrics import ShardMetrics

__all__ = ["WorkerOptions", "Worker", "StopRequested"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    control: str
    telemetry: str
    shard: int
    token: str
    setup_timeout: float = 60.0


class StopRequested(Exception):
    """Raised inside set-up when a stop arrives before the run started."""


class Worker:
    """One shard's process."""

    def __init__(self, opts: WorkerOptions) -> None:
        self.opts = opts
        self.loop = asyncio.get_running_loop()
        self.ctx = zmq.Context()
        self.control = make_socket(self.ctx, zmq.DEALER, connect=opts.control)
        self.telemetry = make_socket(self.ctx, zmq.PUSH, sndhwm=10_000, connect=opts.telemetry)
        self.control_reader = SocketReader(self.loop, self.control, self._on_control)
        self.inbox: asyncio.Queue[tuple[str, list[Any]]] = asyncio.Queue()
        self.stop_event = asyncio.Event()
        self.stop_reason = ""
        self.last_heard = time.monotonic()
        self.parent = os.getppid()
        self.metrics = ShardMetrics(self.loop)
        self.edges: EdgeLinks | None = None
        self.agents: ShardAgents | None = None
        self.clock: RealTimeClock | None = None
        self.engine: cs.Engine | None = None
        self.config: dict[str, Any] = {}
        self.tasks: list[asyncio.Task[Any]] = []
        self._files: list[IO[str]] = []
        self.slots: QuotaSlots | None = None
        self.lease: WorkerLease | None = None
        self.quota_trace: IO[str] | None = None

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
        elif kind == "quota_grant":
            if self.lease is None or fields[0] != self.opts.shard:
                self.metrics.counters.malformed_rejected += 1
                log.warning("dropped a quota grant for shard %s", fields[0])
                return
            try:
                self.lease.on_grant(fields)
            except protocol.ProtocolError as exc:
                self.metrics.counters.malformed_rejected += 1
                log.warning("dropped a bad quota grant: %s", exc)
        else:
            self.inbox.put_nowait((kind, fields))

    async def _expect(self, kind: str) -> list[Any]:
        """The next control message, which must be ``kind``; stop or timeout raise."""
        getter = asyncio.ensure_future(self.inbox.get())
        stopper = asyncio.ensure_future(self.stop_event.wait())
        try:
            done, _ = await asyncio.wait({getter, stopper}, timeout=self.opts.setup_timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not getter.done():
                getter.cancel()
        if getter in done:
            got, fields = getter.result()
            if got != kind:
                raise RuntimeError(f"expected {kind!r} from the coordinator, got {got!r}")
            return fields
        if self.stop_event.is_set():
            raise StopRequested(self.stop_reason)
        raise TimeoutError(f"no {kind!r} from the coordinator within {self.opts.setup_timeout} s")

    def request_stop(self, reason: str) -> None:
        if not self.stop_event.is_set():
            self.stop_reason = reason
            log.info("stopping: %s", reason)
            self.stop_event.set()

    # -- the run ---------------------------------------------------------------------
    async def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self.request_stop, signal.Signals(sig).name)
        watchdog = asyncio.ensure_future(self._watchdog())
        code = 0
        try:
            await self._set_up()
            await self._run_shard()
        except StopRequested:
            log.info("stopped during set-up: %s", self.stop_reason)
        except Exception:
            log.exception("worker %d failed", self.opts.shard)
            code = 1
        finally:
            watchdog.cancel()
            await self._shut_down()
        return code

    async def _set_up(self) -> None:
        shard = self.opts.shard
        self._send("hello", shard, os.getpid(), self.opts.token)
        (config,) = await self._expect("config")
        self.config = config
        grid = Grid(*config["grid"])
        shards = partition(grid, config["workers"])
        layout = shard_layout(grid, shards, shard)
        params = FireflyParams.from_dict(config["params"])
        self.heartbeat_timeout = float(config.get("heartbeat_timeout", 5.0))
        if config.get("limit"):
            self._set_up_quota(config)
        self.edges = EdgeLinks(self.ctx, self.loop, layout, self.opts.token, self.metrics)
        endpoint = self.edges.bind(config["inbox"])
        self._send("bound", shard, endpoint)
        (peer_list,) = await self._expect("peers")
        self.edges.connect({int(s): str(e) for s, e in peer_list})
        await self._wait_or_stop(self.edges.all_hellos, "edge hellos")
        # Build everything and let every agent take its first step (up to its first
        # wait on the parked clock) before reporting ready: the barrier then only has
        # to start the clock, and no agent is late because its neighbours were busy
        # being created.
        phases = initial_phases(grid.cells, params, config.get("init", "random"),
                                config.get("kicks", ()))
        local_phases = [float(phases[c]) for c in layout.cells]
        self.clock = RealTimeClock(self.loop, len(layout.cells))
        self.agents = ShardAgents(layout, params, self.clock, local_phases, self.metrics,
                                  send_edge=self.edges.queue_flash,
                                  trace=self._open_trace() if config.get("trace_signals") else None)
        self.edges.on_signal = self.agents.signal
        self.edges.now = self.clock.now
        self.edges.trace = self.agents.trace
        self.engine = self._make_engine()
        self._start_agents()
        while self.clock.parked() + (self.slots.waiting() if self.slots else 0) < self.agents.n:
            await asyncio.sleep(0.01)
            if self.stop_event.is_set():
                raise StopRequested(self.stop_reason)
        # Long-lived set-up objects never need collecting: freeze them and keep the
        # automatic collector off; the frame loop collects the young generation only
        # when it grows (docs/worker.md).
        gc.collect()
        gc.freeze()
        gc.disable()
        self._send("links_ready", shard)
        (t0,) = await self._expect("start")
        self.clock.start(float(t0))
        self.metrics.begin(float(t0))

    def _make_engine(self) -> cs.Engine:
        agents, clock = self.agents, self.clock

        @cs.resource(name="shard", scope="run")
        def shard_resource() -> Any:
            yield agents

        @cs.resource(name="clock", scope="run")
        def clock_resource() -> Any:
            yield clock

        engine = cs.Engine(resource_manager=self.slots,
                           yield_every=int(self.config.get("yield_every", 16)))
        engine.register(shard_resource)
        engine.register(clock_resource)
        return engine

    def _set_up_quota(self, config: dict[str, Any]) -> None:
        """--limit: agents take slots from a local elastic manager sized by a lease."""
        self.slots = QuotaSlots(self.metrics.counters, trace=bool(config.get("trace_quota")))
        if config.get("trace_quota"):
            self.quota_trace = open(os.path.join(config["run_dir"], f"quota-{self.opts.shard}.jsonl"), "a")
            self._files.append(self.quota_trace)

        def preempt(n: int) -> int:
            return self.clock.preempt(n) if self.clock is not None else 0

        self.lease = WorkerLease(self.opts.shard, self.slots, lambda kind, fields: self._send(kind, *fields),
                                 preempt, lease_s=float(config.get("lease_s", 3.0)))
        self.lease.start()  # the first request goes out before any agent starts

    def _quota_line(self) -> dict[str, Any]:
        if self.lease is None:
            return {}
        if self.quota_trace is not None:
            self.slots.flush_trace(self.quota_trace)  # type: ignore[union-attr]
        return {"quota": self.lease.line()}

    def _open_trace(self) -> Any:
        f = open(os.path.join(self.config["run_dir"], f"signals-{self.opts.shard}.jsonl"), "a")
        self._files.append(f)

        def trace(t: float, source: int, target: int, via: str) -> None:
            f.write(json.dumps({"t": round(t, 6), "from": source, "to": target, "via": via}) + "\n")

        return trace

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

    def _start_agents(self) -> None:
        agents, engine = self.agents, self.engine
        assert agents is not None and engine is not None
        run = engine.run
        create = self.loop.create_task
        # Every step carries its quota constraint; without --limit the Engine has no
        # ResourceManager and the VM skips it at no cost.
        self.tasks = [create(run(firefly_agent(i).with_constraints(cpu_slot=1), use_vm=True))
                      for i in range(agents.n)]

    async def _run_shard(self) -> None:
        agents = self.agents
        assert agents is not None
        log_file = open(os.path.join(self.config["run_dir"], f"shard-{self.opts.shard}.jsonl"), "a")
        self._files.append(log_file)
        frames = FrameLoop(self.clock, agents, self.metrics, self.telemetry, log_file,
                           fps=float(self.config["fps"]),
                           report_interval=float(self.config.get("report_interval", 1.0)),
                           extra=self._quota_line if self.lease is not None else None)
        try:
            await frames.run(self.stop_event)
        finally:
            gc.enable()
            stopped = self.clock.stop_all()  # type: ignore[union-attr]
            results = await asyncio.gather(*self.tasks, return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:
                log.error("%d agents failed; first: %r", len(failed), failed[0])
            log.info("stopped %d waiting agents", stopped)
            counts = [r for r in results if isinstance(r, int)]
            frames.report(self.clock.now(), final=True, more={  # type: ignore[union-attr]
                "agents_failed": len(failed),
                "agents_without_flash": sum(1 for c in counts if c == 0),
                "agent_flashes_min": min(counts, default=0)})

    async def _watchdog(self) -> None:
        """Stop when the coordinator is gone: parent changed or heartbeats stopped."""
        while not self.stop_event.is_set():
            await asyncio.sleep(0.25)
            if os.getppid() != self.parent:
                self.request_stop("parent process gone")
                continue
            if self.config and time.monotonic() - self.last_heard > self.heartbeat_timeout:
                # The loop may have been busy (building a large shard) while heartbeats
                # queued up: read them before concluding the coordinator is silent.
                self.control_reader.drain()
                if time.monotonic() - self.last_heard > self.heartbeat_timeout:
                    self.request_stop(f"no word from the coordinator for {self.heartbeat_timeout} s")

    async def _shut_down(self) -> None:
        if self.lease is not None:
            self.lease.stop()
        if self.edges is not None:
            self.edges.flush()
        try:
            self._send("bye", self.opts.shard, self.stop_reason or "done")
        except Exception:
            pass
        await asyncio.sleep(0.05)  # let the bye leave before LINGER 0 drops it
        self.control_reader.close()
        if self.edges is not None:
            self.edges.close()
        for f in self._files:
            f.close()
        self.control.close(0)
        self.telemetry.close(0)
        self.ctx.term()
