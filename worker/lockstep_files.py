"""What a lock-step worker reads and writes in the run directory (docs/lockstep.md):
the checkpoint it resumes from, its parts of later checkpoints, and its final state.

Each write is whole, then renamed, so the coordinator never reads half a file. Not
here: when these happen (``worker.windows``, ``worker.runner``) or merging the parts
(``coordinator.final_state``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from shared.checkpoint import Checkpoint
from shared.lockstep_clock import LockstepClock
from shared.partition import ShardLayout
from shared.runlog import schema

from .agents import ShardAgents

__all__ = ["load_resume", "restore_clock", "save_checkpoint_part", "save_state_part"]


def load_resume(run_dir: str, layout: ShardLayout) -> Checkpoint:
    """Our cells' part of the checkpoint a resumed run starts from (RESUME_NPZ)."""
    return Checkpoint.load(Path(run_dir) / schema.RESUME_NPZ).part(layout.cells)


def restore_clock(clock: LockstepClock, layout: ShardLayout, part: Checkpoint,
                  agents: ShardAgents) -> None:
    """Once every agent waits on its first alarm: re-time each alarm to its saved due
    (a nudged alarm's due is not always epoch + P to the last bit), and put the signals
    that were in transit back on the clock, one event per flash as the run that saved
    them had it."""
    for i, due in enumerate(part.due.tolist()):
        clock.move(i, due, part.t)
    local = layout.local_index
    flashes: dict[tuple[float, int], list[int]] = {}
    for when, target, source in zip(part.transit_when.tolist(), part.transit_target.tolist(),
                                    part.transit_source.tolist()):
        flashes.setdefault((when, source), []).append(local[target])
    for (when, source), keys in flashes.items():
        clock.deliver_at(when, tuple(sorted(keys)), source, agents.signal)


def save_checkpoint_part(run_dir: str, shard: int, window: int, t: float,
                         clock: LockstepClock, agents: ShardAgents) -> None:
    """Our part of the checkpoint at the end of ``window`` (time ``t``): every agent
    waits on an alarm then (docs/lockstep.md, "Checkpoints")."""
    assert agents.train is not None
    dues = clock.pending_alarms()
    cells = agents.cells
    pending = clock.pending_signals()
    part = Checkpoint(
        t, np.asarray(cells, dtype=np.int64), np.array(agents.epoch, dtype=np.float64),
        np.array(agents.flash_count, dtype=np.int64),
        np.array([dues[i] for i in range(agents.n)], dtype=np.float64),
        np.array([when for when, _, _ in pending], dtype=np.float64),
        np.array([cells[key] for _, key, _ in pending], dtype=np.int64),
        np.array([source for _, _, source in pending], dtype=np.int64),
        np.array(agents.train[0], dtype=np.int64), np.array(agents.train[1], dtype=np.float64))
    part.save(Path(run_dir) / schema.checkpoint_part(shard, window))


def save_state_part(run_dir: str, shard: int, t: float, agents: ShardAgents) -> None:
    """Our final state and flash train at ``t`` (``schema.state_part``)."""
    assert agents.train is not None
    path = Path(run_dir) / schema.state_part(shard)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as f:
        np.savez(f, cells=np.asarray(agents.cells, dtype=np.int64),
                 epoch=np.frombuffer(agents.epoch, dtype=np.float64),
                 flash_count=np.frombuffer(agents.flash_count, dtype=np.int64),
                 train_cells=np.frombuffer(agents.train[0], dtype=np.int64),
                 train_times=np.frombuffer(agents.train[1], dtype=np.float64),
                 t=np.float64(t))
    os.replace(partial, path)
