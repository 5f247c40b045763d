"""One simulation run, from launch to the last reaped worker.

:class:`Session` binds the control (ROUTER) and telemetry (PULL) sockets, spawns the
workers, walks them through the start barrier (hello → config → bound → peers →
links_ready → start), then runs: heartbeats every 0.5 s, telemetry aggregation, a
status line and a coordinator.jsonl line per interval, until the duration ends, a
signal arrives or every worker is gone. It then stops the workers (stop → bye →
exit; SIGTERM; SIGKILL), reaps them, and writes summary.json. docs/protocol.md has
the message list.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import zmq

from shared import protocol
from shared.grid import Grid
from shared.partition import partition, shard_layouts
from shared.quota import QuotaBroker, Request, Return
from shared.zmqio import SocketReader, make_socket, send_nowait

from .config import RunConfig
from .launcher import WorkerProcesses
from .rundir import JsonLines, create_run_dir, host_info, versions, write_json
from .telemetry import Telemetry

__all__ = ["Session", "SetupError"]

log = logging.getLogger(__name__)

HEARTBEAT_S = 0.5
QUOTA_TICK_S = 0.1
LEASE_S = 3.0
EXIT_CODES = {"duration": 0, "quit": 0, "interrupted": 130, "terminated": 143, "error": 1,
              "workers_lost": 3}


class SetupError(RuntimeError):
    """The workers could not be brought to the start barrier."""


class Session:
    """Runs one simulation; ``await session.run()`` returns the process exit code."""

    def __init__(self, config: RunConfig, *, out: Callable[[str], None] = print,
                 setup_timeout: float = 60.0, live_view: bool = False) -> None:
        self.config = config
        self._out = out
        self.live_view = live_view
        self.view: Any = None
        self._held_lines: list[str] = []
        self.shard_rects: list[dict[str, Any]] = []
        self.setup_timeout = setup_timeout
        self.token = secrets.token_hex(8)
        self.workers = WorkerProcesses()
        self.stop_reason: str | None = None
        self.stop_event: asyncio.Event | None = None
        self.identities: dict[int, bytes] = {}
        self.events: asyncio.Queue[tuple[int, str, list[Any]]] = asyncio.Queue()
        self.malformed = 0
        self.byes: set[int] = set()
        self.lost: dict[int, int] = {}
        self.run_dir: Path | None = None
        self.telemetry: Telemetry | None = None
        self.t0: float | None = None
        self.error: str | None = None
        self.on_interval: Callable[[dict[str, Any]], None] | None = None
        self.broker: QuotaBroker | None = None
        self.quota_messages = 0  # in and out, since the last interval line

    # -- public ----------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        cfg = self.config
        self.run_dir = create_run_dir(cfg.log_dir, cfg.seed)
        self.out(f"run directory: {self.run_dir}")
        self.telemetry = Telemetry(cfg.workers, cfg.period, cfg.fps)
        if cfg.limit is not None:
            self.broker = QuotaBroker(cfg.limit, range(cfg.workers), lease_s=LEASE_S)
        for sig, reason in ((signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated")):
            loop.add_signal_handler(sig, self.request_stop, reason)
        started = time.monotonic()
        try:
            self._write_run_json()
            self._open_sockets(loop)
            self.workers.spawn(cfg.workers, control=_last(self.control), token=self.token,
                               telemetry=_last(self.telemetry_sock), run_dir=self.run_dir)
            await self._barrier()
            await self._run()
        except SetupError as exc:
            self.error = str(exc)
            self.request_stop("error")
            self.out(f"error: {exc}")
        except Exception as exc:
            log.exception("coordinator failed")
            self.error = f"{type(exc).__name__}: {exc}"
            self.request_stop("error")
            self.out(f"error: {self.error}")
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await self._stop_view()
            await self._stop_workers()
            self._close()
            reason = self.stop_reason or "duration"
            if reason == "duration" and self.lost:
                reason = "workers_lost"
            self._write_summary(reason, time.monotonic() - started)
        return EXIT_CODES.get(reason, 1)

    def _write_run_json(self) -> None:
        cfg = self.config
        grid = Grid(*cfg.grid)
        shards = partition(grid, cfg.workers)
        layouts = shard_layouts(grid, shards)
        self.shard_rects = [{"shard": s.index, "x0": s.x0, "y0": s.y0, "width": s.width,
                             "height": s.height} for s in shards]
        write_json(self.run_dir / "run.json", {  # type: ignore[operator]
            "schema": 1, "run_dir": str(self.run_dir),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seed": cfg.seed, "workers": cfg.workers, "agents": cfg.agents,
            "config": cfg.to_dict(),
            "shards": [{**rect, "cells": s.cells, "neighbours": list(l.neighbour_shards)}
                       for rect, s, l in zip(self.shard_rects, shards, layouts)],
            "versions": versions(), "host": host_info(),
        })

    def _open_sockets(self, loop: asyncio.AbstractEventLoop) -> None:
        self.coordinator_log = JsonLines(self.run_dir / "coordinator.jsonl")  # type: ignore[operator]
        self.sock_dir = tempfile.mkdtemp(prefix="cascade-")
        self.ctx = zmq.Context()
        self.control = make_socket(self.ctx, zmq.ROUTER, bind=self._endpoint("control"))
        self.control.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.telemetry_sock = make_socket(self.ctx, zmq.PULL, rcvhwm=100_000,
                                          bind=self._endpoint("telemetry"))
        self.control_reader = SocketReader(loop, self.control, self._on_control)
        self.telemetry_reader = SocketReader(loop, self.telemetry_sock, self._on_telemetry)

    def out(self, line: str, *, status: bool = False) -> None:
        """Print a line; while the live view owns the terminal, status lines are
        dropped (they are in coordinator.jsonl) and other lines wait for the end."""
        if self.view is None:
            self._out(line)
        elif not status:
            self._held_lines.append(line)

    def _start_view(self) -> None:
        from .liveview import ViewDriver  # only runs with a terminal

        log_path = self.run_dir / "coordinator.log"  # type: ignore[operator]
        root = logging.getLogger()
        self._view_log = logging.FileHandler(log_path)
        self._view_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self._saved_handlers = root.handlers[:]
        root.handlers = [self._view_log]
        self.view = ViewDriver(self)
        self.telemetry.on_flashes = self.view.on_flashes  # type: ignore[union-attr]
        self.on_interval = self.view.on_interval
        self._view_task = asyncio.ensure_future(self.view.run(self.stop_event))  # type: ignore[arg-type]

    async def _stop_view(self) -> None:
        if self.view is None:
            return
        self.stop_event.set()  # type: ignore[union-attr]
        try:
            await self._view_task
        except Exception:
            log.exception("live view failed")
        finally:
            logging.getLogger().handlers = self._saved_handlers
            self._view_log.close()
            elapsed = asyncio.get_running_loop().time() - (self.t0 or 0.0)
            self._held_lines.append(self.view.cost_line(elapsed))
            self.view = None
            for line in self._held_lines:
                self._out(line)
            self._held_lines.clear()

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            if reason in ("interrupted", "terminated"):
                self.out(f"{reason}: stopping workers")
        if self.stop_event is not None:
            self.stop_event.set()

    # -- sockets ---------------------------------------------------------------------
    def _endpoint(self, name: str) -> str:
        if self.config.transport == "tcp":
            return "tcp://127.0.0.1:*"
        return f"ipc://{self.sock_dir}/{name}.sock"

    def _send(self, shard: int, kind: str, *fields: Any) -> None:
        identity = self.identities.get(shard)
        if identity is None or getattr(self, "control", None) is None:
            return
        try:
            if not send_nowait(self.control, [identity, protocol.encode(kind, *fields)]):
                log.warning("control queue to shard %d full: %s dropped", shard, kind)
        except zmq.ZMQError as exc:  # EHOSTUNREACH: that worker is gone
            log.info("cannot reach shard %d (%s): %s not sent", shard, exc, kind)
        self.control_reader.kick()

    def _broadcast(self, kind: str, *fields: Any) -> None:
        for shard in list(self.identities):
            self._send(shard, kind, *fields)

    def _on_control(self, frames: list[bytes]) -> None:
        try:
            if len(frames) != 2:
                raise protocol.ProtocolError(f"{len(frames)} frames")
            identity, payload = frames
            kind, fields = protocol.decode(payload)
            if kind == "hello":
                shard, _pid, token = fields
                if token != self.token or not 0 <= shard < self.config.workers:
                    raise protocol.ProtocolError(f"hello from shard {shard} with a foreign token")
                if self.identities.get(shard, identity) != identity:
                    raise protocol.ProtocolError(f"second hello for shard {shard}")
                self.identities[shard] = identity
            else:
                shard = self._shard_of(identity)
                if fields and isinstance(fields[0], int) and fields[0] != shard:
                    raise protocol.ProtocolError(f"shard {shard} speaks for shard {fields[0]}")
                if kind in ("quota_request", "quota_return"):
                    self._on_quota(kind, fields)
                    return
        except protocol.ProtocolError as exc:
            self.malformed += 1
            log.warning("dropped a malformed control message: %s", exc)
            return
        if kind == "bye":
            self.byes.add(shard)
        self.events.put_nowait((shard, kind, fields))

    def _on_quota(self, kind: str, fields: list[Any]) -> None:
        """A lease message, answered at once (grants must not wait for the run loop)."""
        if self.broker is None:
            raise protocol.ProtocolError(f"{kind} but this run has no --limit")
        now = time.monotonic()
        if kind == "quota_request":
            grants = self.broker.on_request(Request.from_wire(fields), now)
        else:
            grants = self.broker.on_return(Return.from_wire(fields), now)
        self.quota_messages += 1
        self._send_grants(grants)

    def _send_grants(self, grants: list[Any]) -> None:
        for grant in grants:
            self._send(grant.shard, grant.KIND, *grant.wire())
            self.quota_messages += 1

    def _shard_of(self, identity: bytes) -> int:
        for shard, known in self.identities.items():
            if known == identity:
                return shard
        raise protocol.ProtocolError("message from an unregistered peer")

    def _on_telemetry(self, frames: list[bytes]) -> None:
        telemetry = self.telemetry
        try:
            if len(frames) != 1:
                raise protocol.ProtocolError(f"{len(frames)} frames")
            kind, fields = protocol.decode(frames[0])
            if kind == "frame":
                if not 0 <= fields[0] < self.config.workers:
                    raise protocol.ProtocolError(f"frame from unknown shard {fields[0]}")
                telemetry.on_frame(*fields)  # type: ignore[union-attr]
            elif kind == "report":
                if not 0 <= fields[0] < self.config.workers:
                    raise protocol.ProtocolError(f"report from unknown shard {fields[0]}")
                telemetry.on_report(*fields)  # type: ignore[union-attr]
            else:
                raise protocol.ProtocolError(f"{kind!r} is not telemetry")
        except protocol.ProtocolError as exc:
            self.malformed += 1
            log.warning("dropped a malformed telemetry message: %s", exc)
        except (KeyError, TypeError, ValueError) as exc:
            self.malformed += 1
            log.warning("dropped a telemetry message with bad content: %r", exc)

    # -- the barrier -----------------------------------------------------------------
    async def _collect(self, kind: str, shards: set[int]) -> dict[int, list[Any]]:
        """Wait until every shard in ``shards`` sent ``kind``; fails on a dead worker,
        a stop, or the set-up timeout."""
        got: dict[int, list[Any]] = {}
        deadline = time.monotonic() + self.setup_timeout
        next_beat = 0.0
        while got.keys() < shards:
            if time.monotonic() >= next_beat:  # workers building big shards must hear us
                self._broadcast("heartbeat", time.monotonic())
                next_beat = time.monotonic() + HEARTBEAT_S
            self._check_exits(during_setup=True)
            if self.stop_event.is_set():  # type: ignore[union-attr]
                raise SetupError(f"stopped ({self.stop_reason}) while waiting for {kind!r}")
            left = deadline - time.monotonic()
            if left <= 0:
                missing = sorted(shards - got.keys())
                raise SetupError(f"shards {missing} sent no {kind!r} within {self.setup_timeout:.0f} s; "
                                 f"see {self.run_dir}/worker-N.log")
            try:
                shard, got_kind, fields = await asyncio.wait_for(self.events.get(), min(left, 0.2))
            except asyncio.TimeoutError:
                continue
            if got_kind == kind:
                got[shard] = fields
            elif got_kind == "bye":
                raise SetupError(f"shard {shard} quit during set-up: {fields[1]}")
        return got

    async def _barrier(self) -> None:
        cfg = self.config
        everyone = set(range(cfg.workers))
        await self._collect("hello", everyone)
        for shard in everyone:
            config = {
                "run_dir": str(self.run_dir), "grid": list(cfg.grid), "workers": cfg.workers,
                "shard": shard, "params": cfg.params().to_dict(), "init": cfg.init,
                "kicks": list(cfg.kicks), "fps": cfg.fps, "report_interval": cfg.report_interval,
                "inbox": self._endpoint(f"edge-{shard}"), "trace_signals": cfg.trace_signals,
                "heartbeat_timeout": cfg.heartbeat_timeout, "yield_every": cfg.yield_every,
                "limit": cfg.limit, "trace_quota": cfg.trace_quota, "lease_s": LEASE_S,
            }
            self._send(shard, "config", config)
        bound = await self._collect("bound", everyone)
        peers = [[shard, fields[1]] for shard, fields in sorted(bound.items())]
        self._broadcast("peers", peers)
        await self._collect("links_ready", everyone)
        self.t0 = time.monotonic() + 0.1
        self._broadcast("start", self.t0)
        log.info("barrier released: %d workers linked", cfg.workers)
        if self.live_view:
            self._start_view()

    # -- the run ---------------------------------------------------------------------
    async def _run(self) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        stop = self.stop_event
        assert stop is not None and self.t0 is not None
        end = self.t0 + cfg.duration if cfg.duration > 0 else float("inf")
        next_beat = loop.time()
        next_line = self.t0 + cfg.report_interval + 0.05  # just after the shards' lines
        next_tick = loop.time() if self.broker is not None else float("inf")
        while not stop.is_set():
            now = loop.time()
            if now >= end:
                self.request_stop("duration")
                break
            if now >= next_tick:
                self._send_grants(self.broker.tick(now))  # type: ignore[union-attr]
                next_tick = now + QUOTA_TICK_S
            if now >= next_beat:
                self._broadcast("heartbeat", now)
                next_beat = now + HEARTBEAT_S
            if now >= next_line:
                self._interval_line(now - self.t0)
                next_line += cfg.report_interval
            self._drain_events()
            self._check_exits(during_setup=False)
            if not self.workers.alive():
                self.error = "every worker exited"
                self.request_stop("error")
                break
            wake = min(next_beat, next_line, end, next_tick) - loop.time()
            if wake > 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=min(wake, 0.25))
                except asyncio.TimeoutError:
                    pass

    def _interval_line(self, t: float) -> None:
        assert self.telemetry is not None
        record = self.telemetry.interval(t, len(self.workers.alive()))
        extra = self._interval_extra()
        record.update(extra)
        self.coordinator_log.write(record)
        self.out(self.telemetry.status_line(record, self.config.workers), status=True)
        if self.on_interval is not None:
            self.on_interval(record)

    def _interval_extra(self) -> dict[str, Any]:
        """Fields added to each coordinator.jsonl line beyond the telemetry's."""
        extra: dict[str, Any] = {"malformed_rejected": self.malformed} if self.malformed else {}
        if self.broker is not None:
            stats = self.broker.statistics()
            span = self.config.report_interval
            extra["quota"] = {
                "limit": stats.limit, "held": stats.lent,
                "in_use": sum(stats.in_use.values()), "waiting": sum(stats.waiting.values()),
                "held_by_shard": {str(k): v for k, v in stats.held.items()},
                "messages_per_s": round(self.quota_messages / span, 1),
                "expiries": stats.expiries, "workers_lost": stats.workers_lost,
            }
            self.quota_messages = 0
        return extra

    def _drain_events(self) -> None:
        while not self.events.empty():
            shard, kind, fields = self.events.get_nowait()
            self._on_event(shard, kind, fields)

    def _on_event(self, shard: int, kind: str, fields: list[Any]) -> None:
        if kind == "bye":
            log.info("shard %d said bye: %s", shard, fields[1])

    def _check_exits(self, *, during_setup: bool) -> None:
        for shard, code in self.workers.new_exits():
            if shard in self.byes and code == 0:
                continue
            self.lost[shard] = code
            self.out(f"worker {shard} exited with code {code}; see {self.run_dir}/worker-{shard}.log")
            if self.telemetry is not None:
                self.telemetry.shard_lost(shard)
            self._on_worker_lost(shard)
            if during_setup:
                raise SetupError(f"worker {shard} exited with code {code} during set-up")

    def _on_worker_lost(self, shard: int) -> None:
        """A dead worker's quota slots come back to the pool (and go to the others)."""
        if self.broker is not None:
            self._send_grants(self.broker.worker_lost(shard, time.monotonic()))

    # -- the end ---------------------------------------------------------------------
    async def _stop_workers(self) -> None:
        self._broadcast("stop", self.stop_reason or "done")
        deadline = time.monotonic() + 10.0
        while self.workers.alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            self._drain_events()
        # Reports sent just before the stop are still queued: read them.
        if getattr(self, "telemetry_reader", None) is not None:
            self.telemetry_reader.drain()
        self._drain_events()
        self.workers.kill_all()
        self._check_exits(during_setup=False)

    def _close(self) -> None:
        """Close what was opened, also after a failure half-way through set-up."""
        for reader in (getattr(self, "control_reader", None), getattr(self, "telemetry_reader", None)):
            if reader is not None:
                reader.close()
        for sock in (getattr(self, "control", None), getattr(self, "telemetry_sock", None)):
            if sock is not None:
                sock.close(0)
        if getattr(self, "ctx", None) is not None:
            self.ctx.term()
        if getattr(self, "coordinator_log", None) is not None:
            self.coordinator_log.close()
        if getattr(self, "sock_dir", None):
            shutil.rmtree(self.sock_dir, ignore_errors=True)

    def _write_summary(self, reason: str, elapsed: float) -> None:
        assert self.run_dir is not None and self.telemetry is not None
        summary = {
            "schema": 1,
            "exit": reason,
            "duration_s": round(elapsed, 3),
            "agents": self.config.agents,
            "workers": self.config.workers,
            **self.telemetry.summary(),
            "workers_lost": {str(s): c for s, c in self.lost.items()},
            "malformed_rejected_coordinator": self.malformed,
            "error": self.error,
        }
        run_s = self.telemetry.last_frame_t
        summary["flashes_per_s"] = round(summary["flashes"] / run_s, 1) if run_s > 0 else 0.0
        write_json(self.run_dir / "summary.json", summary)
        self.out(f"summary: R_final={summary['R_final']} R_max={summary['R_max']} "
                 f"time_to_sync={summary['time_to_sync_s']} flashes={summary['flashes']} "
                 f"p99_flash={summary['flash_lateness_ms']['p99']}ms min_fps={summary['min_fps']} "
                 f"exit={reason}")


def _last(sock: zmq.Socket) -> str:
    return sock.getsockopt_string(zmq.LAST_ENDPOINT)
