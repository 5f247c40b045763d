"""Lock-step checkpoints: the complete state of a run at the end of a window.

At a window's end E every event up to E has run, so what happens next depends only
on what a :class:`Checkpoint` holds (docs/lockstep.md, "Checkpoints"):

* per cell (``cells``): its ``epoch`` (phase = t - epoch), ``flash_count`` (also the
  counter of its jitter stream) and the ``due`` time of its pending alarm (kept as is:
  a nudged alarm's due is not always epoch + P to the last bit);
* the signals in transit: a flash of ``transit_source`` reaching ``transit_target``
  at ``transit_when`` > E;
* the flash train so far (``train_cells``, ``train_times``), so that a resumed run
  ends with the flash-train hash of an uninterrupted one;
* ``meta``: what the state is valid for (grid, model, seed, delay).

Each worker saves a part (its cells, the signals to them); the coordinator merges
the parts into one checkpoint for the whole grid, which a resumed run of any worker
count splits again (:meth:`Checkpoint.part`). A bad file is a :class:`CheckpointError`
of one line. Not here: when checkpoints are taken (``worker.windows``), the files'
names (``shared.runlog.schema``).
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

__all__ = ["Checkpoint", "CheckpointError"]

_ARRAYS = {"cells": np.int64, "epoch": np.float64, "flash_count": np.int64, "due": np.float64,
           "transit_when": np.float64, "transit_target": np.int64, "transit_source": np.int64,
           "train_cells": np.int64, "train_times": np.float64}


class CheckpointError(ValueError):
    """A checkpoint file that is unreadable, incomplete or inconsistent."""


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """The state at simulated time ``t`` of ``cells`` (all of them, or a part)."""

    t: float
    cells: np.ndarray
    epoch: np.ndarray
    flash_count: np.ndarray
    due: np.ndarray
    transit_when: np.ndarray
    transit_target: np.ndarray
    transit_source: np.ndarray
    train_cells: np.ndarray
    train_times: np.ndarray
    meta: Mapping[str, Any] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        """Write whole, then rename: a reader never sees half a checkpoint."""
        partial = path.with_name(path.name + ".partial")
        with open(partial, "wb") as f:
            np.savez(f, t=np.float64(self.t), meta=np.array(json.dumps(dict(self.meta))),
                     **{name: np.asarray(getattr(self, name), dtype=kind)
                        for name, kind in _ARRAYS.items()})
        os.replace(partial, path)

    @classmethod
    def load(cls, path: Path) -> "Checkpoint":
        """Read and check ``path``; any problem is a CheckpointError naming it."""
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = ({"t", "meta"} | _ARRAYS.keys()) - set(data.files)
                if missing:
                    raise CheckpointError(f"{path}: not a checkpoint (no {sorted(missing)[0]!r})")
                arrays = {name: np.asarray(data[name]) for name in _ARRAYS}
                t, meta = float(data["t"]), json.loads(str(data["meta"]))
        except CheckpointError:
            raise
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            raise CheckpointError(f"{path}: cannot read it as a checkpoint ({exc})") from None
        for name, kind in _ARRAYS.items():
            if arrays[name].ndim != 1 or not np.can_cast(arrays[name].dtype, kind, "same_kind"):
                raise CheckpointError(f"{path}: {name} is not a 1-d array of {np.dtype(kind)}")
        n, m = len(arrays["cells"]), len(arrays["transit_when"])
        if any(len(arrays[k]) != n for k in ("epoch", "flash_count", "due")) \
                or any(len(arrays[k]) != m for k in ("transit_target", "transit_source")) \
                or len(arrays["train_cells"]) != len(arrays["train_times"]):
            raise CheckpointError(f"{path}: its arrays disagree in length (a damaged file)")
        finite = [arrays[k] for k in ("epoch", "due", "transit_when", "train_times")]
        if not math.isfinite(t) or not all(np.isfinite(a).all() for a in finite) \
                or (arrays["flash_count"] < 0).any() or not isinstance(meta, dict):
            raise CheckpointError(f"{path}: holds values no run can have (a damaged file)")
        return cls(t, meta=meta, **arrays)

    @classmethod
    def merge(cls, parts: Iterable["Checkpoint"], cells: int,
              meta: Mapping[str, Any]) -> "Checkpoint":
        """One checkpoint of all ``cells`` from the workers' parts (same ``t``)."""
        parts = list(parts)
        times = sorted({p.t for p in parts})
        if len(times) != 1:
            raise CheckpointError(f"checkpoint parts of different times {times}")
        order = np.concatenate([p.cells for p in parts])
        if sorted(order.tolist()) != list(range(cells)):
            raise CheckpointError("checkpoint parts do not cover every cell exactly once")

        def scatter(name: str, kind: Any) -> np.ndarray:
            out = np.empty(cells, dtype=kind)
            out[order] = np.concatenate([getattr(p, name) for p in parts])
            return out

        joined = {name: np.concatenate([getattr(p, name) for p in parts])
                  for name in ("transit_when", "transit_target", "transit_source",
                               "train_cells", "train_times")}
        return cls(times[0], np.arange(cells, dtype=np.int64), scatter("epoch", np.float64),
                   scatter("flash_count", np.int64), scatter("due", np.float64), meta=dict(meta),
                   **joined)

    def part(self, cells: Iterable[int]) -> "Checkpoint":
        """The state of ``cells`` (in that order) and the signals in transit to them;
        no flash train (the coordinator keeps the one before the resume)."""
        cells = np.asarray(list(cells), dtype=np.int64)
        index = np.full(len(self.cells), -1, dtype=np.int64)
        index[self.cells] = np.arange(len(self.cells))
        at = index[cells]
        mine = np.isin(self.transit_target, cells)
        empty = np.empty(0)
        return Checkpoint(self.t, cells, self.epoch[at], self.flash_count[at], self.due[at],
                          self.transit_when[mine], self.transit_target[mine],
                          self.transit_source[mine], empty.astype(np.int64), empty,
                          meta=self.meta)
