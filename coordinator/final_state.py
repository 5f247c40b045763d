"""Lock-step's final state: the workers' parts merged into ``state.npz`` and hashed.

Each worker writes its part when it stops (``shared.runlog.schema.state_part``): its
cells, their epochs and flash counts, its flash train and the simulated time. Merged
in cell order, they give every cell's final phase (``t - epoch``) and flash count,
and two SHA-256 hashes that are the same for the same model, seed, delay and
duration on any number of workers (docs/lockstep.md):

* ``state_hash``: every cell's phase (float64 bits, little-endian) in cell order,
  then every cell's flash count (int64);
* ``flash_train_hash``: every flash as (cell int64, time float64 bits), sorted by
  time, then cell.

Not here: computing the state (the workers), the summary itself (``records``).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from shared.checkpoint import Checkpoint
from shared.runlog.schema import (CHECKPOINT_NPZ, CHECKPOINT_PART_GLOB, STATE_NPZ,
                                  STATE_PART_GLOB, checkpoint_part, part_window, state_part)

__all__ = ["merge_checkpoint", "merge_state", "remove_parts"]

_STATE_KEYS = {"cells", "epoch", "flash_count", "train_cells", "train_times", "t"}


def merge_state(run_dir: Path, workers: int, cells: int,
                before: Checkpoint | None = None) -> dict[str, Any]:
    """Merge the parts into STATE_NPZ (then remove them) and return the summary's
    ``state_hash``, ``flash_train_hash`` and ``sim_time``, and ``train_flashes``, the
    flashes in the whole train (not a summary field). ``before``: the checkpoint a
    resumed run started from (its flash train comes first). A missing part or parts
    that stopped at different times raise ValueError naming it."""
    parts = []
    for k in range(workers):
        path = run_dir / state_part(k)
        if not path.exists():
            raise ValueError(f"{path.name} is missing: worker {k} did not finish")
        try:
            with np.load(path, allow_pickle=False) as data:
                parts.append({name: data[name] for name in data.files})
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path.name} cannot be read ({exc})") from None
        if not _STATE_KEYS <= set(parts[-1]):
            raise ValueError(f"{path.name} is not a state part")
    times = sorted({float(p["t"]) for p in parts})
    if len(times) != 1:
        raise ValueError(f"the workers stopped at different simulated times {times}")
    t = times[0]
    epoch = np.full(cells, np.nan)
    count = np.full(cells, -1, dtype=np.int64)
    for p in parts:
        epoch[p["cells"]] = p["epoch"]
        count[p["cells"]] = p["flash_count"]
    if (count < 0).any():
        raise ValueError(f"cells {np.flatnonzero(count < 0)[:5].tolist()}... are in no part")
    phase = t - epoch
    earlier = [] if before is None else [before]
    train_cells = np.concatenate([p.train_cells for p in earlier]
                                 + [p["train_cells"] for p in parts]).astype("<i8")
    train_times = np.concatenate([p.train_times for p in earlier]
                                 + [p["train_times"] for p in parts]).astype("<f8")
    order = np.lexsort((train_cells, train_times))  # by time, then cell
    state_hash = hashlib.sha256(phase.astype("<f8").tobytes() + count.astype("<i8").tobytes())
    train = np.empty(len(order), dtype=[("cell", "<i8"), ("time", "<f8")])
    train["cell"], train["time"] = train_cells[order], train_times[order]
    target = run_dir / STATE_NPZ
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as f:
        np.savez(f, phase=phase, flash_count=count, t=np.float64(t))
    os.replace(partial, target)
    for k in range(workers):
        (run_dir / state_part(k)).unlink()
    return {"state_hash": state_hash.hexdigest(),
            "flash_train_hash": hashlib.sha256(train.tobytes()).hexdigest(),
            "sim_time": t, "train_flashes": len(train)}


def merge_checkpoint(run_dir: Path, workers: int, cells: int, meta: dict[str, Any],
                     before: Checkpoint | None = None) -> float | None:
    """If every worker has saved its part of a newer checkpoint, merge the newest such
    into CHECKPOINT_NPZ (with ``before``'s flash train first, for a resumed run) and
    remove the parts up to it. Returns the checkpoint's time, or None."""
    windows: dict[int, int] = {}
    for path in run_dir.glob(CHECKPOINT_PART_GLOB):
        window = part_window(path.name)
        if window is not None:
            windows[window] = windows.get(window, 0) + 1
    complete = [w for w, n in windows.items() if n == workers]
    if not complete:
        return None
    window = max(complete)
    parts = [Checkpoint.load(run_dir / checkpoint_part(k, window)) for k in range(workers)]
    merged = Checkpoint.merge(parts, cells, meta)
    if before is not None:  # the whole flash train, from t = 0
        merged = replace(merged, train_cells=np.concatenate([before.train_cells, merged.train_cells]),
                         train_times=np.concatenate([before.train_times, merged.train_times]))
    merged.save(run_dir / CHECKPOINT_NPZ)
    for w in [w for w in windows if w <= window]:
        for k in range(workers):
            (run_dir / checkpoint_part(k, w)).unlink(missing_ok=True)
    return merged.t


def remove_parts(run_dir: Path) -> None:
    """Remove the workers' parts left over when a run ends (those of an incomplete
    checkpoint, or the states of a run stopped before its duration): what counts is
    in CHECKPOINT_NPZ and STATE_NPZ."""
    for pattern in (CHECKPOINT_PART_GLOB, STATE_PART_GLOB, "*.npz.partial"):
        for path in run_dir.glob(pattern):
            path.unlink(missing_ok=True)
