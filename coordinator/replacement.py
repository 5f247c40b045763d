"""Real time with ``--on-worker-loss restart``: a new worker takes a lost shard over
while the other shards run on (coordinator/recovery.py).

:class:`Replacement` walks one new worker through the start barrier's steps on its
own, the run going on around it::

    spawn worker K again → hello → config (restore: from snapshot-K.npz) → bound
    → peers (to K) and peer_update [K, inbox, key] (to every other shard: K's
    neighbours re-link, the others ignore it) → links_ready → start [the run's t0]

The replacement's agents take the phases the lost worker saved last (worker/snapshots.py)
and go on from them at the present simulated time: the shard lost the simulated time
between the snapshot and the restart (its *gap*), its agents kept their phases. Its
control events come through :meth:`Departures.route`; a bye, an exit or the set-up
timeout fails the replacement (:class:`ReplacementFailed`) and the loss stands.
Not here: deciding to replace (``session``), the worker's side (``worker.runner``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from shared.runlog.schema import snapshot
from shared.shard_config import ShardConfig

from .control import ControlChannel, ControlEvent
from .departures import Departures
from .launcher import WorkerProcesses
from .liveness import Loss
from .recovery import Recoveries, Recovery
from .security import RunSecurity

__all__ = ["Replacement", "ReplacementFailed", "Replacements", "snapshot_time"]

log = logging.getLogger(__name__)


class ReplacementFailed(RuntimeError):
    """The new worker did not get as far as running its agents."""


class Replacement:
    """Brings a new worker for ``shard`` into the running run."""

    def __init__(self, shard: int, *, spawn: Callable[[int], None], workers: WorkerProcesses,
                 channel: ControlChannel, departures: Departures, config: ShardConfig,
                 inboxes: dict[int, str], t0: float, timeout: float) -> None:
        self.shard = shard
        self._spawn = spawn
        self._workers = workers
        self._channel = channel
        self._departures = departures
        self._config = config
        self._inboxes = inboxes
        self._t0 = t0
        self._timeout = timeout

    async def run(self) -> None:
        """Until the new worker got ``start``; raises :class:`ReplacementFailed`."""
        k, channel = self.shard, self._channel
        events = self._departures.route(k)
        try:
            channel.forget(k)
            self._spawn(k)
            deadline = time.monotonic() + self._timeout
            await self._next(events, "hello", deadline)
            channel.send(k, "config", self._config.to_wire())
            endpoint = str((await self._next(events, "bound", deadline))[1])
            self._inboxes[k] = endpoint
            channel.send(k, "peers", [[s, self._inboxes[s], channel.public_key(s)]
                                      for s in sorted(self._inboxes)])
            for s in self._inboxes:
                if s != k:
                    channel.send(s, "peer_update", k, endpoint, channel.public_key(k),
                                 channel.sender(k))
            await self._next(events, "links_ready", deadline)
            channel.send(k, "start", self._t0)
        finally:
            self._departures.unroute(k)

    def kill(self) -> None:
        """Take down a new worker that did not make it."""
        proc = self._workers.procs.get(self.shard)
        if proc is not None and proc.poll() is None:
            proc.kill()

    async def _next(self, events: asyncio.Queue[ControlEvent], kind: str,
                    deadline: float) -> list[Any]:
        """The replacement's next event, which must be ``kind``."""
        while True:
            proc = self._workers.procs.get(self.shard)
            if proc is not None and proc.poll() is not None:
                raise ReplacementFailed(f"the new worker exited with code {proc.returncode}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise ReplacementFailed(f"no {kind!r} from the new worker within {self._timeout:g} s")
            try:
                event = await asyncio.wait_for(events.get(), min(left, 0.2))
            except asyncio.TimeoutError:
                continue
            if event.kind == "bye":
                raise ReplacementFailed(f"the new worker quit: {event.fields[1]}")
            if event.kind == kind:
                return event.fields


class Replacements:
    """The run's replacements of lost real-time shards: :meth:`check` starts one for
    each new loss that ``recoveries`` allows and whose shard has a snapshot; a done one
    is recorded there and the shard is back (``Departures.recovered``)."""

    def __init__(self, recoveries: Recoveries, departures: Departures, *, run_dir: Path,
                 sim_now: Callable[[], float], out: Callable[[str], None],
                 make: Callable[[int, int], Replacement]) -> None:
        self._recoveries = recoveries
        self._departures = departures
        self._run_dir = run_dir
        self._sim_now = sim_now
        self._out = out
        self._make = make
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._given_up: set[int] = set()  # losses that stand
        self._made = 0  # replacements started so far

    @classmethod
    def of(cls, recoveries: Recoveries, departures: Departures, workers: WorkerProcesses,
           channel: ControlChannel, security: RunSecurity, *, telemetry: str, run_dir: Path,
           inboxes: dict[int, str], t0: float, timeout: float, out: Callable[[str], None],
           loop: str, config_for: Callable[[int, int], ShardConfig]) -> "Replacements":
        """The replacements of a run whose start barrier opened at ``t0``;
        ``config_for(k, n)``: the config of shard k's n-th replacement."""
        def spawn(k: int) -> None:
            workers.spawn([k], control=channel.address, telemetry=telemetry,
                          credentials=security.credentials, run_dir=run_dir, loop=loop)
            security.worker_started(k, workers.procs[k].pid)

        clock = asyncio.get_running_loop().time
        return cls(recoveries, departures, run_dir=run_dir, sim_now=lambda: clock() - t0, out=out,
                   make=lambda k, n: Replacement(k, spawn=spawn, workers=workers, channel=channel,
                                                 departures=departures, config=config_for(k, n),
                                                 inboxes=inboxes, t0=t0, timeout=timeout))

    def check(self, lost: Mapping[int, Loss]) -> None:
        for k, loss in list(lost.items()):
            if k in self._tasks or k in self._given_up:
                continue
            if not self._recoveries.allows({k: loss}):
                self._given_up.add(k)
                continue
            self._tasks[k] = asyncio.ensure_future(self._replace(k, loss))

    async def _replace(self, k: int, loss: Loss) -> None:
        try:
            snapshot_t = snapshot_time(self._run_dir, k)
            if snapshot_t is None:
                self._given_up.add(k)
                self._out(f"worker {k} cannot be replaced: its shard has no snapshot yet")
                return
            self._recoveries.restarting({k: loss})
            noticed = time.monotonic()
            self._out(f"replacing worker {k} from its snapshot at {snapshot_t:.2f} s")
            self._made += 1
            replacement = self._make(k, self._made)
            try:
                await replacement.run()
            except Exception as exc:  # ReplacementFailed, or a socket or spawn error
                replacement.kill()
                if not isinstance(exc, ReplacementFailed):
                    log.exception("replacing worker %d failed", k)
                self._out(f"worker {k} could not be replaced: {exc}")
                return  # still lost: the next check tries again while restarts are left
            recovery_s = time.monotonic() - noticed
            gap = max(0.0, self._sim_now() - snapshot_t)
            self._departures.recovered(k)
            self._recoveries.recovered(Recovery(k, loss.reason, loss.since_s, snapshot_t,
                                                recovery_s, gap_s=gap))
            self._out(f"worker {k} replaced in {recovery_s:.2f} s; shard {k} lost "
                      f"{gap:.2f} simulated s")
        finally:
            self._tasks.pop(k, None)

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()


def snapshot_time(run_dir: Path, shard: int) -> float | None:
    """The simulated time of shard ``shard``'s newest snapshot, None without one."""
    try:
        with np.load(run_dir / snapshot(shard), allow_pickle=False) as data:
            return float(data["t"])
    except (OSError, KeyError, ValueError):
        return None
