"""Departures: which workers left the run, why, and from when their figures stop.

The rule (../shared/DESIGN.md §9): a worker that leaves before the end of the run, for
any reason — it exited or was killed, it said ``bye`` early (SIGTERM, its own
heartbeat timeout, a failed set-up), it was silent past the liveness deadline — is
*lost*: :class:`Departures` records a :class:`~coordinator.liveness.Loss` for it (its
reason, exit code and ``since_s``), takes its figures out of R and min FPS and gives
its quota slots back; the run then exits 3. After the stop, an exit 0 that said bye
is a clean departure; once a set-up that did not finish is taken down, no exit is a
loss (the run never began).

:meth:`Departures.stop_all` is the shutdown: stop → final line → bye → exit, each
worker given :func:`~coordinator.stop.stop_grace` for its shard's size (a busy worker
may have been silent for seconds: it is not cut short), one stopped by SIGSTOP a short
grace (``STALLED_STOP_GRACE_S``); whoever is left is lost and killed.

Not here: detecting silence (``liveness``), the figures (``aggregator``), spawning
and reaping (``launcher``), when the run stops (``session``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path
from typing import Callable, Collection

import psutil

from shared.runlog.schema import worker_log

from .aggregator import Aggregator
from .console import Console
from .control import ControlChannel, ControlEvent
from .launcher import WorkerProcesses
from .liveness import LOST_S, Liveness, Loss, process_stopped
from .quota_desk import QuotaDesk
from .stop import (SETUP_STOP_GRACE_S, STALLED_STOP_GRACE_S, SetupError, StopRequest, exit_text,
                   unstopped_reason)

__all__ = ["Departures"]

log = logging.getLogger(__name__)

_CPU_WORKING_S = 0.01  # CPU seconds a silent worker must have used since the last look


class Departures:
    """The run's departures, recorded into ``lost`` (shard → Loss, owned by the
    session so the summary has it on every path)."""

    def __init__(self, lost: dict[int, Loss], *, liveness: Liveness, console: Console, run_dir: Path,
                 aggregator: Aggregator, workers: WorkerProcesses, channel: ControlChannel,
                 desk: QuotaDesk | None, stop: StopRequest, drain: Callable[[], None],
                 remote: Collection[int] = ()) -> None:
        self.lost = lost
        self.byes: dict[int, str] = {}  # shard -> the reason its bye gave
        self.started = False  # the barrier opened: figures flow
        self.stopping = False  # the stop was sent: exits from here on may be clean
        self._liveness = liveness
        self._console = console
        self._run_dir = run_dir
        self._aggregator = aggregator
        self._workers = workers
        self._channel = channel
        self._desk = desk
        self._stop = stop
        self._drain = drain  # reads what is queued now on the telemetry and control sockets
        self._setup_stopped: dict[int, float] = {}  # shard -> since when SIGSTOPped in set-up
        self._cpu_seen: dict[int, float] = {}  # shard -> its process's CPU seconds, last looked
        self._remote = remote  # shards that join from other hosts: no process of ours
        self._given_up: set[int] = set()  # joined shards that never said bye at the stop
        self._routes: dict[int, asyncio.Queue[ControlEvent]] = {}  # replacements' set-up

    def route(self, shard: int) -> asyncio.Queue[ControlEvent]:
        """From now on, ``shard``'s control events go to the queue returned (a replacement
        being set up, coordinator/replacement.py), not to the run's bookkeeping."""
        self.byes.pop(shard, None)
        self._routes[shard] = queue = asyncio.Queue()
        return queue

    def unroute(self, shard: int) -> None:
        self._routes.pop(shard, None)

    def recovered(self, shard: int) -> Loss | None:
        """``shard``'s replacement runs: it is no longer lost; returns the loss."""
        self._liveness.track(shard)
        self._aggregator.shard_back(shard)
        if self._desk is not None:
            self._desk.worker_back(shard)
        return self.lost.pop(shard, None)

    def present(self) -> list[int]:
        """Shards still in the run: spawned workers whose process runs, and joined ones
        that neither said bye nor were lost (we only hear of them, we cannot see them)."""
        gone = self.byes.keys() | self.lost.keys() | self._given_up
        return sorted([*self._workers.alive(), *(k for k in self._remote if k not in gone)])

    # -- what arrives --------------------------------------------------------------------
    def drain_events(self, *, read: bool = False) -> None:
        """Handle the control events queued now: each is a word from its shard.
        ``read``: first read what the sockets hold (telemetry too)."""
        if read:
            self._drain()
        while not self._channel.events.empty():
            event = self._channel.events.get_nowait()
            route = self._routes.get(event.shard)
            if route is not None:
                route.put_nowait(event)
                continue
            self._liveness.heard(event.shard)
            if event.kind == "bye":
                why = str(event.fields[1])
                log.info("shard %d said bye: %s", event.shard, why)
                self.byes[event.shard] = why
                loss = self.lost.get(event.shard)
                if loss is not None and loss.reason == "exited with code 0":  # its bye came late
                    loss.reason = f"bye: {why}"
                elif not self.stopping:  # it leaves before the run's end
                    self.lose(event.shard, f"bye: {why}")

    def left_during_setup(self, shard: int, why: str) -> None:
        """A worker said bye at the barrier: it is lost (unless the run was stopping)."""
        self.byes[shard] = why
        if not self._stop.is_set():
            self.lose(shard, f"bye during set-up: {why}")
            self._stop.request("workers_lost")

    def check_exits(self, *, during_setup: bool) -> None:
        """Record workers that exited; during set-up a loss fails the set-up."""
        for shard, code in self._workers.new_exits():
            if shard in self.lost:
                self.lost[shard].code = code
                continue
            if self.stopping and (not self.started or (shard in self.byes and code == 0)):
                continue
            why = f"bye: {self.byes[shard]}" if shard in self.byes else exit_text(code)
            self.lose(shard, why, code)
            if during_setup:
                self._stop.request("workers_lost")
                raise SetupError(f"worker {shard} {exit_text(code)} during set-up")
        if during_setup:
            self._check_setup_stops()

    def _check_setup_stops(self) -> None:
        """A worker stopped (SIGSTOP) during set-up for the lost deadline is lost: set-up
        sends nothing to measure silence by, a busy build is silent too."""
        now = time.monotonic()
        for shard in self._workers.alive():
            if not process_stopped(self._workers.procs[shard].pid):
                self._setup_stopped.pop(shard, None)
            elif now - self._setup_stopped.setdefault(shard, now) > LOST_S:
                self.lose(shard, f"stopped (SIGSTOP) during set-up for {LOST_S:.0f} s")
                self.kill(shard)
                self._stop.request("workers_lost")
                raise SetupError(f"worker {shard} was stopped (SIGSTOP) during set-up")

    def check_liveness(self) -> None:
        """Stalled workers are shown and left out of the figures; lost ones killed."""
        changes = self._liveness.check(working=self._working)
        for shard, silent in changes.stalled.items():
            self._console.out(f"worker {shard} stalled: no word for {silent:.1f} s")
        for shard, silent in changes.resumed.items():
            self._console.out(f"worker {shard} resumed after {silent:.1f} s of silence")
        for shard, silent in changes.lost.items():
            self.lose(shard, f"stalled: no word for {silent:.1f} s")
            self.kill(shard)
        if changes:
            self._aggregator.set_stalled(set(self._liveness.stalled))

    def _working(self, shard: int) -> bool:
        """Has worker ``shard``'s process used the CPU since we last looked (the first
        look counts as yes)? A stopped, hung or dead one has not."""
        try:
            times = psutil.Process(self._workers.procs[shard].pid).cpu_times()
        except (KeyError, psutil.Error):
            return False
        used = times.user + times.system
        before = self._cpu_seen.get(shard)
        self._cpu_seen[shard] = used
        return before is None or used - before > _CPU_WORKING_S

    # -- a loss --------------------------------------------------------------------------
    def lose(self, shard: int, why: str, code: int | None = None) -> None:
        """Record ``shard`` as lost (once): its figures stop feeding the run's, its
        quota slots go back to the pool."""
        if shard in self.lost:
            return
        since = round(self._aggregator.last_t.get(shard, 0.0), 3) if self.started else None
        self.lost[shard] = Loss(why, since, code)
        self._liveness.forget(shard)
        where = ("its host's sim-worker output" if shard in self._remote
                 else self._run_dir / worker_log(shard))
        self._console.out(f"worker {shard} lost: {why}; see {where}")
        self._aggregator.shard_lost(shard)
        self._aggregator.set_stalled(set(self._liveness.stalled))
        if self._desk is not None:
            self._channel.send_grants(self._desk.worker_lost(shard, time.monotonic()))

    def kill(self, shard: int, sig: int = signal.SIGKILL) -> None:
        try:
            self._workers.procs[shard].send_signal(sig)
        except (KeyError, ProcessLookupError):
            pass

    # -- the shutdown --------------------------------------------------------------------
    async def stop_all(self, reason: str, grace: float) -> None:
        """Stop every worker and wait for its final line, bye and exit (see the module
        docstring); ``grace`` is a running worker's deadline."""
        self.stopping = True
        self._liveness.stop_measuring()
        self._channel.broadcast("stop", reason)
        started = time.monotonic()
        for shard in self._workers.alive():
            if shard not in self._channel.identities or not self.started:  # cannot act on "stop" now
                self.kill(shard, signal.SIGTERM)
        stalled = set(self._liveness.stalled)  # busy workers may be: they get the full grace
        deadline = started + (grace if self.started else SETUP_STOP_GRACE_S)
        sigstopped: dict[int, float] = {}
        while self.present():
            await asyncio.sleep(0.05)
            self.drain_events(read=True)
            self.check_exits(during_setup=False)
            now = time.monotonic()
            for shard in self.present():
                if shard in self._remote:  # no process here: its bye, or the deadline
                    if now >= deadline:
                        if self.started:
                            self.lose(shard, unstopped_reason(
                                silent=self._liveness.silent_for(shard), sigstopped=False,
                                stalled_at_stop=shard in stalled, grace=grace))
                        self._given_up.add(shard)
                    continue
                if process_stopped(self._workers.procs[shard].pid):
                    sigstopped.setdefault(shard, now)
                else:
                    sigstopped.pop(shard, None)
                frozen = now - sigstopped.get(shard, now) > STALLED_STOP_GRACE_S
                if now >= deadline or frozen:
                    if self.started:
                        self.lose(shard, unstopped_reason(
                            silent=self._liveness.silent_for(shard), sigstopped=frozen,
                            stalled_at_stop=shard in stalled, grace=grace))
                    self.kill(shard)
        await asyncio.sleep(0.05)  # last words (reports, byes) may still be on their way
        self.drain_events(read=True)
        self._workers.kill_all(grace=0.5)
        self.check_exits(during_setup=False)
