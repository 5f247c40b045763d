"""A real-time shard's state, saved now and then so that a replacement can take the
shard over if its worker is lost (``--on-worker-loss restart``, coordinator/recovery.py).

:func:`save_snapshot` writes ``snapshot-K.npz`` into the run directory (whole, then
renamed): the simulated time, every agent's epoch and flash count.
:class:`SnapshotLoop` does so every ``every`` seconds. A replacement
(``ShardConfig.restore``) builds its agents from the snapshot
(:func:`load_snapshot`) and, once its clock has started, :func:`resume_at` shifts every
epoch by the time that passed since the snapshot, so each agent goes on from the phase
it had then: the shard loses that stretch of simulated time (the *gap*), its agents
keep their phases. Not here: lock-step checkpoints (exact, ``lockstep_files``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from shared.clock import Clock
from shared.runlog.schema import snapshot

from .agents import ShardAgents

__all__ = ["Snapshot", "SnapshotLoop", "load_snapshot", "restore_agents", "resume_at",
           "save_snapshot"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """Shard state at simulated time ``t``, in the shard's cell order."""

    t: float
    epoch: np.ndarray
    flash_count: np.ndarray


def save_snapshot(folder: str, shard: int, t: float, agents: ShardAgents) -> str:
    """Write ``snapshot-K.npz`` into ``folder``; returns its name."""
    name = snapshot(shard)
    path = Path(folder) / name
    partial = path.with_name(name + ".partial")
    with open(partial, "wb") as f:
        np.savez(f, t=np.float64(t), epoch=np.frombuffer(agents.epoch, dtype=np.float64),
                 flash_count=np.frombuffer(agents.flash_count, dtype=np.int64))
    os.replace(partial, path)
    return name


def load_snapshot(run_dir: str, shard: int, cells: int) -> Snapshot:
    """Shard ``shard``'s newest snapshot; ValueError names what is wrong with it."""
    path = Path(run_dir) / snapshot(shard)
    try:
        with np.load(path, allow_pickle=False) as data:
            snap = Snapshot(float(data["t"]), data["epoch"].astype(np.float64),
                            data["flash_count"].astype(np.int64))
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path.name}: cannot be read ({exc})") from None
    if len(snap.epoch) != cells or len(snap.flash_count) != cells or not np.isfinite(snap.t):
        raise ValueError(f"{path.name} is not a snapshot of this shard's {cells} cells")
    return snap


def restore_agents(agents: ShardAgents, snapshot: Snapshot) -> None:
    """Give the agents (built, not started) the epochs and flash counts of ``snapshot``."""
    agents.epoch_view[:] = snapshot.epoch
    np.frombuffer(agents.flash_count, dtype=np.int64)[:] = snapshot.flash_count


def resume_at(snapshot: Snapshot, agents: ShardAgents, clock: Clock) -> float:
    """After the clock started: every agent's epoch moves on by the time since the
    snapshot, its alarm with it. Returns that gap (simulated seconds)."""
    now = clock.now()
    gap = max(0.0, now - snapshot.t)
    period = agents.period
    epoch = agents.epoch
    for i in range(agents.n):
        epoch[i] += gap
        if clock.pending(i):
            clock.move(i, epoch[i] + period, now)
    return gap


class SnapshotLoop:
    """Saves the shard's state every ``every`` seconds with ``save(t)``."""

    def __init__(self, clock: Clock, every: float, save: Callable[[float], None]) -> None:
        self.clock = clock
        self.every = every
        self.save = save

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.every)
            except asyncio.TimeoutError:
                try:
                    self.save(self.clock.now())
                except OSError as exc:  # a full disk: the previous snapshot stays
                    log.warning("snapshot not saved: %s", exc)
