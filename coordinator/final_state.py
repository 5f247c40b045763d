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
from pathlib import Path
from typing import Any

import numpy as np

from shared.runlog.schema import STATE_NPZ, state_part

__all__ = ["merge_state"]


def merge_state(run_dir: Path, workers: int, cells: int) -> dict[str, Any]:
    """Merge the parts into STATE_NPZ (then remove them) and return the summary's
    ``state_hash``, ``flash_train_hash`` and ``sim_time``. A missing part or parts
    that stopped at different times raise ValueError naming it."""
    parts = []
    for k in range(workers):
        path = run_dir / state_part(k)
        if not path.exists():
            raise ValueError(f"{path.name} is missing: worker {k} did not finish")
        with np.load(path, allow_pickle=False) as data:
            parts.append({name: data[name] for name in data.files})
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
    train_cells = np.concatenate([p["train_cells"] for p in parts]).astype("<i8")
    train_times = np.concatenate([p["train_times"] for p in parts]).astype("<f8")
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
            "sim_time": t}
