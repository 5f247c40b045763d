"""One simulation run, from launch to the last reaped worker: the lifecycle.

:class:`Session` builds the run in order, each part whole or not at all, and takes
it down in reverse on every path out (an :class:`~contextlib.AsyncExitStack`):

    run directory, run.json → endpoints → ZeroMQ context → control channel →
    telemetry stream → workers → start barrier (t0) → live view (on a terminal)
    → the run loop

The run loop sends heartbeats every 0.5 s, ticks the quota desk, writes a
coordinator.jsonl line and a status line per interval, and watches each worker's
liveness (``liveness``: silent workers are stalled, then lost) and exits, until the
duration ends, a signal or ``q`` arrives, or every worker is gone. Any worker that
leaves before the end, for whatever reason, is lost (exit 3). Then the workers are
stopped (stop → final line → bye → exit, with a deadline that scales with the shard's
size; SIGTERM; SIGKILL) and reaped, the sockets closed, and summary.json written;
:meth:`Session.run` returns the exit code. A set-up that is interrupted or fails
ends at once: its workers are not waited for, and not lost.

Not here: who left and why, and the shutdown's deadlines (``departures``), silence
(``liveness``), checking messages (``control``, ``telemetry``), the figures
(``aggregator``, ``quota_desk``), the files (``records``), the terminal
(``console``, ``view``), the barrier's steps (``barrier``), processes (``launcher``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator, Sequence


from shared.grid import Grid
from shared.checkpoint import Checkpoint
from shared.partition import Shard, partition
from shared.runlog.schema import COORDINATOR_TEXT_LOG

from .aggregator import Aggregator
from .barrier import Barrier
from .config import RunConfig
from .console import Console
from .control import HEARTBEAT_S, ControlChannel
from .departures import Departures
from .interval_lines import IntervalLines
from .launcher import WorkerProcesses
from .liveness import Liveness, Loss
from .lockstep_files import LockstepFiles
from .quota_desk import LEASE_S, TICK_S, QuotaDesk
from .receiver import Receiver
from .records import RunRecords, create_run_dir, summary_line, summary_record
from .recovery import Recoveries, Recovery, across
from .replacement import Replacements
from .sockets import RunSockets, open_sockets
from .stop import (EXIT_CODES, RESTART, SetupError, StopRequest, every_worker_left, exit_reason,
                   stop_grace)
from .telemetry import TelemetryStream
from .view.driver import ViewDriver, flash_feed, phase_lattice_config, status_info
from .view.live import LiveView

__all__ = ["Session", "SetupError"]

log = logging.getLogger(__name__)

#: The last, partial interval gets a coordinator.jsonl line when it is longer than this.
FINAL_LINE_MIN_S = 0.05
_STALLED_SELF_S = 1.0  # a run-loop turn this late: the coordinator itself was stalled
_SIGNALS = ((signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated"))


@dataclass(frozen=True)
class _Wiring:
    """The parts of a run that exist once its sockets are open and workers spawned."""

    run_dir: Path
    records: RunRecords
    aggregator: Aggregator
    desk: QuotaDesk | None
    channel: ControlChannel
    telemetry: TelemetryStream
    workers: WorkerProcesses
    departures: Departures


class Session:
    """Runs one simulation; ``await session.run()`` returns the process exit code."""

    def __init__(self, config: RunConfig, *, out: Callable[[str], None] = print,
                 setup_timeout: float = 60.0, live_view: bool = False) -> None:
        self.config = config
        self.console = Console(out)
        self.setup_timeout = setup_timeout
        self.live_view = live_view
        self.stop = StopRequest()
        self.lost: dict[int, Loss] = {}  # shard -> why it is lost, from when
        self._sockets: RunSockets | None = None  # once open: their refusals go in the summary
        self.error: str | None = None
        self.liveness = Liveness(config.workers)
        self._own_stall = 0.0  # the longest gap between two turns of the run loop, seconds
        self.lines = IntervalLines(config, partial(self.console.out, status=True))
        self._t0: float | None = None  # the first start barrier's time: run time 0
        # --resume: the checkpoint this run continues (checked by the config already)
        self._resumed: Checkpoint | None = (config.resume_checkpoint()
                                            if config.resume is not None else None)
        self._lockstep: LockstepFiles | None = None  # a lock-step run's, once its folder exists
        self.recoveries = Recoveries(config.on_worker_loss, config.max_restarts)
        self._restarting: tuple[dict[int, Loss], float, float] | None = None  # lost, when, from
        self._loss_noticed = 0.0  # lock-step: when the run loop saw the loss

    def request_stop(self, reason: str) -> None:
        if self.stop.request(reason) and reason in ("interrupted", "terminated"):
            self.console.out(f"{reason}: stopping workers")

    # -- lifecycle -----------------------------------------------------------------------
    async def run(self) -> int:
        cfg = self.config
        run_dir = create_run_dir(cfg.log_dir, cfg.seed)
        self.console.out(f"run directory: {run_dir}")
        started = time.monotonic()
        grid = Grid(*cfg.grid)
        shards = partition(grid, cfg.workers)
        view = self._live_view(shards) if self.live_view else None
        cfg = self.config  # with the view's phase lattice: every generation's workers get it
        if cfg.clock == "lockstep":
            self._lockstep = LockstepFiles(run_dir, cfg, self._resumed)
        aggregator = self._aggregator(view)
        receivers: list[Receiver] = []  # their rejects go in the summary
        earlier: list[dict[str, Any]] = []  # the summaries of generations rolled back
        with RunRecords(run_dir) as records:
            try:
                first = True
                while True:
                    desk = None if cfg.limit is None else QuotaDesk(cfg.limit, cfg.workers, lease_s=LEASE_S)
                    async with contextlib.AsyncExitStack() as stack:  # unwinds after the handlers go
                        with self._signals_handled():
                            try:
                                if first:
                                    records.write_start(cfg, shards, self._resumed)
                                    first = False
                                await self._launch_and_run(stack, records, aggregator, desk, view, receivers)
                            except (SetupError, OSError) as exc:  # OSError: e.g. a full disk; the
                                self._failed(str(exc))                # message names the file
                            except Exception as exc:
                                log.exception("coordinator failed")
                                self._failed(f"{type(exc).__name__}: {exc}")
                    if not self._roll_back():
                        break
                    earlier.append(aggregator.summary())
                    aggregator = self._aggregator(view)  # a generation's figures start afresh
                    cfg = self.config
            finally:
                reason = exit_reason(self.stop.reason, bool(self.lost))
                duration_s = time.monotonic() - started
                figures = {**across(earlier, aggregator.summary()),
                           "longest_silence_s": self.liveness.measurements(),
                           **(self._sockets.refusals() if self._sockets else {}),
                           **self.recoveries.summary()}
                if self._lockstep is not None:
                    self._lockstep.merge()  # the last checkpoint the workers saved
                    if reason == "duration":
                        figures.update(self._final_state(duration_s))
                    self._lockstep.clean()
                summary = summary_record(
                    reason=reason, duration_s=duration_s, config=cfg, figures=figures,
                    workers_lost={s: loss.to_dict() for s, loss in sorted(self.lost.items())},
                    malformed=sum(r.malformed for r in receivers), error=self.error)
                records.write_summary(summary)
                self.console.out(summary_line(summary))
        return EXIT_CODES[reason]

    def _aggregator(self, view: LiveView | None) -> Aggregator:
        cfg = self.config
        return Aggregator(cfg.workers, cfg.period, cfg.fps, on_heard=self.liveness.heard,
                          on_flashes=None if view is None else flash_feed(view), phases=view)

    def _roll_back(self) -> bool:
        """After a generation ended for a restart (lock-step, coordinator.recovery): go
        back to the newest merged checkpoint, or to the start, and say so; False when
        the run is over instead."""
        if self.stop.reason != RESTART or self.error is not None or self._lockstep is None:
            return False
        lost = dict(self.lost)
        self.recoveries.restarting(lost)
        t = self._lockstep.roll_back()
        self.config, self._resumed = self._lockstep.config, self._lockstep.resumed
        self.console.out(f"restarting: shards {sorted(lost)} lost; every shard goes back to "
                         f"the checkpoint at {t:g} s")
        self._restarting = (lost, self._loss_noticed, t)
        self.lost.clear()
        self.stop = StopRequest()
        self.liveness = Liveness(self.config.workers)
        self.lines = IntervalLines(self.config, partial(self.console.out, status=True),
                                   since=self.lines.t, sim_since=t)
        return True

    async def _launch_and_run(self, stack: contextlib.AsyncExitStack, records: RunRecords,
                              aggregator: Aggregator, desk: QuotaDesk | None, view: LiveView | None,
                              receivers: list[Receiver]) -> None:
        """Build the rest in order, each part's clean-up on ``stack``; then run."""
        cfg = self.config
        sockets = self._sockets = open_sockets(
            stack, cfg, run_dir=records.run_dir, aggregator=aggregator, desk=desk,
            on_join=lambda j: self.console.out(f"shard {j.shard} joined from {j.host}"))
        receivers.extend(sockets.receivers)
        channel, telemetry, remote = sockets.channel, sockets.telemetry, sockets.remote
        workers = stack.enter_context(WorkerProcesses())  # reaps them on every path out

        departures = Departures(self.lost, liveness=self.liveness, console=self.console,
                                run_dir=records.run_dir, aggregator=aggregator, workers=workers,
                                channel=channel, desk=desk, stop=self.stop, drain=sockets.drain,
                                remote=remote)
        w = _Wiring(records.run_dir, records, aggregator, desk, channel, telemetry, workers, departures)
        stack.push_async_callback(self._stop_workers, w)
        workers.spawn(cfg.spawned, control=channel.address, credentials=sockets.security.credentials,
                      telemetry=telemetry.address, run_dir=w.run_dir, loop=cfg.loop)
        for shard, pid in workers.pids().items():
            sockets.security.worker_started(shard, pid)
        if remote:
            self.console.out(f"waiting {cfg.join_timeout:g} s for {len(remote)} workers to join: "
                             f"sim-worker --join {cfg.listen} --key-file {cfg.keys}/worker.key_secret")
        barrier = Barrier(channel, self.stop, setup_timeout=self.setup_timeout, run_dir=w.run_dir,
                          check_exits=lambda: departures.check_exits(during_setup=True),
                          on_bye=departures.left_during_setup,
                          hello_timeout=cfg.join_timeout if remote else None)
        try:
            t0 = await barrier.open(cfg.workers, lambda k: cfg.shard_config(
                k, run_dir=str(w.run_dir), inbox=sockets.inbox(k), lease_s=LEASE_S))
        finally:
            if sockets.joins is not None:
                sockets.joins.close_joins("the run has started (or stopped): every shard is taken")
        telemetry.start(t0)  # frames are due from t0 on
        if self._restarting is not None:  # a new generation: its agents run from t0 on
            lost, noticed, resumed_from = self._restarting
            for k, loss in sorted(lost.items()):
                self.recoveries.recovered(Recovery(k, loss.reason, loss.since_s, resumed_from,
                                                   t0 - noticed))
            self._restarting = None
        if view is not None:
            await stack.enter_async_context(self._showing(view, w, t0))
        replacements = None if not cfg.snapshot_interval else Replacements.of(  # restart, real time
            self.recoveries, departures, workers, channel, sockets.security, t0=t0,
            telemetry=telemetry.address, run_dir=w.run_dir, inboxes=barrier.inboxes,
            timeout=self.setup_timeout, out=self.console.out, loop=cfg.loop,
            config_for=lambda k, n: cfg.shard_config(k, run_dir=str(w.run_dir), restore=True,
                                                     inbox=sockets.replacement_inbox(k, n),
                                                     lease_s=LEASE_S))
        if replacements is not None:
            stack.callback(replacements.close)
        await self._run_loop(w, t0, replacements)

    @contextlib.contextmanager
    def _signals_handled(self) -> Iterator[None]:
        """SIGINT and SIGTERM ask the run to stop, for the ``with`` block."""
        loop = asyncio.get_running_loop()
        for sig, reason in _SIGNALS:
            loop.add_signal_handler(sig, self.request_stop, reason)
        try:
            yield
        finally:
            for sig, _ in _SIGNALS:
                loop.remove_signal_handler(sig)

    def _failed(self, error: str) -> None:
        self.error = error
        self.request_stop("error")
        self.console.out(f"error: {error}")

    # -- the live view -------------------------------------------------------------------
    def _live_view(self, shards: Sequence[Shard]) -> LiveView:
        """The view, and the workers told to sample phases for it (``phase_cols/rows``)."""
        cfg = self.config
        view = LiveView(cfg.grid[0], cfg.grid[1], cfg.period, out=sys.stdout,
                        shards=[(s.x0, s.y0, s.width, s.height) for s in shards],
                        show_shards=cfg.show_shards, fps=cfg.view_fps)
        self.config = phase_lattice_config(cfg, view)
        return view

    @contextlib.asynccontextmanager
    async def _showing(self, view: LiveView, w: _Wiring, t0: float) -> AsyncIterator[None]:
        """The view owns the terminal for the ``async with`` block."""
        loop = asyncio.get_running_loop()
        driver = ViewDriver(view, status=lambda t: status_info(
            t, r=w.aggregator.r, latest=w.aggregator.live_latest(), record=self.lines.last,
            workers_alive=len(w.departures.present()), workers_total=self.config.workers,
            stalled=self.liveness.stalled),
            request_stop=self.request_stop, t0=t0, out=sys.stdout)
        with self.console.taken_over(w.run_dir / COORDINATOR_TEXT_LOG):
            task = asyncio.ensure_future(driver.run(self.stop.event))
            try:
                yield
            finally:
                self.stop.event.set()
                try:
                    await task
                except Exception:
                    log.exception("live view failed")
                self.console.out(driver.cost_line(loop.time() - t0))  # held: printed after the view

    # -- the run -------------------------------------------------------------------------
    async def _run_loop(self, w: _Wiring, t0: float, replacements: Replacements | None) -> None:
        cfg = self.config
        self._t0 = t0 if self._t0 is None else self._t0  # a restart's lines go on from there
        loop = asyncio.get_running_loop()
        lockstep = cfg.clock == "lockstep"  # --duration is simulated: the shards say when
        end = t0 + cfg.duration if cfg.duration > 0 and not lockstep else float("inf")
        next_beat = loop.time()
        next_line = t0 + cfg.report_interval + 0.05  # just after the shards' lines
        next_tick = loop.time() if w.desk is not None else float("inf")
        w.departures.started = True
        self.liveness.start()
        last_turn = loop.time()
        while not self.stop.is_set():
            now = loop.time()
            self._note_own_stall(now - last_turn)
            last_turn = now
            if self._lockstep is not None and cfg.checkpoint_interval:
                self._lockstep.merge()
            if lockstep and self.lost:  # its neighbours cannot pass the next barrier
                self._loss_noticed = time.monotonic()
                self.request_stop(RESTART if self.recoveries.allows(self.lost) else "workers_lost")
                break
            if now >= end or (lockstep and self._lockstep_done(w)):
                self.request_stop("duration")
                break
            if w.desk is not None and now >= next_tick:
                w.channel.send_grants(w.desk.tick(now))
                next_tick = now + TICK_S
            if now >= next_beat:
                w.channel.broadcast("heartbeat", now)
                next_beat = now + HEARTBEAT_S
            if now >= next_line:
                self._interval_line(w, now - self._t0)
                next_line += cfg.report_interval
            w.departures.drain_events(read=True)  # all that is queued, before judging silence
            w.departures.check_exits(during_setup=False)
            w.departures.check_liveness()
            if replacements is not None:
                replacements.check(self.lost)
            if not w.departures.present():
                self._every_worker_left(w.departures.byes)
                break
            wake = min(next_beat, next_line, end, next_tick) - loop.time()
            if wake > 0:
                try:
                    await asyncio.wait_for(self.stop.event.wait(), timeout=min(wake, 0.25))
                except asyncio.TimeoutError:
                    pass

    def _lockstep_done(self, w: _Wiring) -> bool:
        """Has every shard still alive reached the simulated duration?"""
        alive = w.departures.present()
        last = w.aggregator.last_t
        return bool(alive) and all(last.get(k, 0.0) >= self.config.duration - 1e-9 for k in alive)

    def _interval_line(self, w: _Wiring, t: float, final: bool = False) -> None:
        self.lines.write(t, aggregator=w.aggregator, present=w.departures.present(),
                         malformed=w.channel.malformed + w.telemetry.malformed, desk=w.desk,
                         records=w.records, final=final)

    def _final_state(self, duration_s: float) -> dict[str, Any]:
        """Lock-step: merge the workers' final states (state.npz) and hash them."""
        assert self._lockstep is not None
        try:
            return self._lockstep.final(duration_s, replayed=bool(self.recoveries.done))
        except (OSError, ValueError) as exc:
            self.error = f"final state: {exc}"
            log.error("%s", self.error)
            return {}

    # -- liveness ------------------------------------------------------------------------
    def _note_own_stall(self, gap: float) -> None:
        if gap > _STALLED_SELF_S:
            log.warning("the coordinator's run loop was stalled for %.1f s", gap)
            self._own_stall = max(self._own_stall, gap)
            self.liveness.excuse(gap)  # its workers were not heard because it did not listen

    def _every_worker_left(self, byes: dict[int, str]) -> None:
        """No worker is left: say why in one line (the coordinator's own stall, when
        every worker stopped hearing it)."""
        self.error = every_worker_left(byes, workers=self.config.workers, own_stall=self._own_stall,
                                       heartbeat_timeout=self.config.heartbeat_timeout,
                                       heartbeat_s=HEARTBEAT_S)
        self.console.out(f"error: {self.error}")
        self.request_stop("workers_lost")

    async def _stop_workers(self, w: _Wiring) -> None:
        grace = stop_grace(-(-self.config.agents // self.config.workers))  # the largest shard
        await w.departures.stop_all(self.stop.reason or "done", grace)
        if self._t0 is not None and self.stop.reason != RESTART:  # the run's last interval
            t = asyncio.get_running_loop().time() - self._t0
            if t - self.lines.t > FINAL_LINE_MIN_S:
                self._interval_line(w, t, final=True)

