"""A lock-step run's state in its run directory, on the coordinator's side
(docs/lockstep.md): :class:`LockstepFiles`.

* :meth:`~LockstepFiles.merge`: the newest checkpoint every worker has saved its part
  of, merged into ``checkpoint.npz`` as the run goes (with ``--checkpoint-every``);
* :meth:`~LockstepFiles.roll_back`: after a loss with ``--on-worker-loss restart``
  (``coordinator.recovery``), the run goes back to that checkpoint (copied to
  ``resume.npz``, which the next generation's workers read), or to its start;
* :meth:`~LockstepFiles.final`: the workers' final parts merged into ``state.npz`` and
  hashed.

``config`` and ``resumed`` are the run's options and the checkpoint it continues from:
both change at a roll-back. Not here: merging and hashing themselves
(``final_state``), or what the workers write (``worker.lockstep_files``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from shared.checkpoint import Checkpoint
from shared.runlog.schema import CHECKPOINT_NPZ, RESUME_NPZ

from .config import RunConfig
from .final_state import merge_checkpoint, merge_state, remove_parts

__all__ = ["LockstepFiles"]

log = logging.getLogger(__name__)


class LockstepFiles:
    """The state files of the lock-step run in ``run_dir``."""

    def __init__(self, run_dir: Path, config: RunConfig, resumed: Checkpoint | None) -> None:
        self.run_dir = run_dir
        self.config = config
        self.resumed = resumed
        self._first = (config, resumed)

    def merge(self) -> None:
        """Merge the newest checkpoint all workers have saved, if any."""
        cfg = self.config
        try:
            t = merge_checkpoint(self.run_dir, cfg.workers, cfg.agents, cfg.model_key(), self.resumed)
        except (OSError, ValueError) as exc:
            log.error("checkpoint: %s", exc)
            return
        if t is not None:
            log.info("checkpoint at %.3f simulated s merged into %s", t, self.run_dir)

    def roll_back(self) -> float:
        """Go back to the newest checkpoint (or the start): returns its simulated time.
        The parts of the generation rolled back are removed; the next writes its own."""
        self.merge()
        remove_parts(self.run_dir)
        if (self.run_dir / CHECKPOINT_NPZ).exists():
            self.config = replace(self._first[0], resume=str(self.run_dir))
            self.resumed = self.config.resume_checkpoint()
            self.resumed.save(self.run_dir / RESUME_NPZ)
        else:
            self.config, self.resumed = self._first
        return self.resumed.t if self.resumed is not None else 0.0

    def final(self, duration_s: float, *, replayed: bool) -> dict[str, Any]:
        """The summary's hashes, simulated time and RTF from the workers' final parts;
        after a roll-back (``replayed``) also its ``flashes``, from the flash train (the
        generations' own counts overlap). OSError or ValueError name what is wrong."""
        cfg = self.config
        state = merge_state(self.run_dir, cfg.workers, cfg.agents, self.resumed)
        flashes = state.pop("train_flashes")
        if replayed:
            before = self._first[1]  # --resume: that run's flashes are not this one's
            state["flashes"] = flashes - (0 if before is None else len(before.train_cells))
        return {**state, "rtf": round(state["sim_time"] / max(duration_s, 1e-9), 3)}

    def clean(self) -> None:
        """Remove the parts left when the run ends."""
        remove_parts(self.run_dir)
