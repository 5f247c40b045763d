"""Parameters of the firefly model (docs/design.md, §4) and the run's initial phases.

The model: phase φ grows at 1 per simulated second; at φ = P the agent flashes,
signals its Moore neighbours and resets φ to a draw from U(0, reset_jitter). While
φ < r (refractory) an incoming flash is discarded; otherwise it advances φ by ε and,
if that reaches P, the agent flashes at once.

This module holds parameters and initial conditions only; the agents live in the
worker.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import streams

__all__ = ["FireflyParams", "initial_phases", "load_phases", "INIT_MODES", "INIT_FILE"]

INIT_MODES = ("random", "zero")
#: ``ShardConfig.init`` for phases given in a file: the coordinator checked the user's
#: file and wrote it into the run directory as ``runlog.schema.INIT_NPY``.
INIT_FILE = "file"


@dataclass(frozen=True, slots=True)
class FireflyParams:
    """Model parameters, in seconds of simulated time."""

    period: float = 5.0
    nudge: float = 0.25
    refractory: float | None = None  # None: 0.2 * period
    reset_jitter: float = 0.1
    seed: int = 1

    def __post_init__(self) -> None:
        _positive("period", self.period)
        if not (math.isfinite(self.nudge) and 0.0 < self.nudge <= self.period):
            raise ValueError(f"nudge(={self.nudge}) must be > 0 and <= period(={self.period})")
        if self.refractory is not None and not (
            math.isfinite(self.refractory) and 0.0 <= self.refractory < self.period
        ):
            raise ValueError(
                f"refractory(={self.refractory}) must be >= 0 and < period(={self.period})")
        if not (math.isfinite(self.reset_jitter) and 0.0 <= self.reset_jitter < self.period):
            raise ValueError(f"reset_jitter(={self.reset_jitter}) must be >= 0 and < period")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed(={self.seed!r}) must be an int >= 0")

    @property
    def refractory_s(self) -> float:
        return 0.2 * self.period if self.refractory is None else self.refractory

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["refractory"] = self.refractory_s
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FireflyParams":
        return cls(float(data["period"]), float(data["nudge"]), float(data["refractory"]),
                   float(data["reset_jitter"]), int(data["seed"]))


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name}(={value!r}) must be a finite number > 0")


def initial_phases(n_cells: int, params: FireflyParams, init: str = "random",
                   kicks: Sequence[int] = (), given: np.ndarray | None = None) -> np.ndarray:
    """Initial phase of every cell of the grid (global cell id order).

    "random": uniform on [0, P), cell c's from the counter-based stream
    (seed, ``streams.PHASE``, c), so a cell starts with the same phase whatever the
    number of shards. "zero": all 0. :data:`INIT_FILE`: ``given`` (checked by
    :func:`load_phases`). ``kicks`` start at φ = P: they flash as soon as the run starts.
    """
    if init == "random":
        keys = streams.stream_keys(params.seed, streams.PHASE, np.arange(n_cells))
        phases = streams.units(keys, 0) * params.period
    elif init == "zero":
        phases = np.zeros(n_cells)
    elif init == INIT_FILE and given is not None and given.shape == (n_cells,):
        phases = np.array(given, dtype=np.float64)
    elif init == INIT_FILE:
        raise ValueError(f"init={INIT_FILE!r} needs the {n_cells} given phases")
    else:
        raise ValueError(f"init(={init!r}) must be one of {INIT_MODES} or {INIT_FILE!r}")
    for cell in kicks:
        if not 0 <= cell < n_cells:
            raise ValueError(f"kick cell {cell} is outside the grid's {n_cells} cells")
        phases[cell] = params.period
    return phases


def load_phases(path: str | Path, grid: tuple[int, int], period: float) -> np.ndarray:
    """Initial phases from a ``.npy`` or ``.csv`` file: one per cell in cell order
    (y*W + x), as a flat array of W*H values or an H x W table; each a finite number in
    [0, period). Returns them flat, as float64. Any problem is a ValueError of one line
    naming the file and the fix."""
    width, height = grid
    n = width * height
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            data = np.load(path, allow_pickle=False)
        elif suffix == ".csv":
            data = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=1)
        else:
            raise ValueError(f"{path}: give a .npy or .csv file (or random or zero)")
        data = np.asarray(data, dtype=np.float64)
    except ValueError as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(message if message.startswith(str(path)) else
                         f"{path}: not a table of numbers ({message})") from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if data.shape not in ((n,), (height, width)):
        raise ValueError(f"{path}: shape {data.shape}, but the {width}x{height} grid needs "
                         f"{n} phases (one per cell in cell order y*W+x, or an HxW table)")
    flat = data.reshape(n)
    bad = np.flatnonzero(~(np.isfinite(flat) & (flat >= 0.0) & (flat < period)))
    if bad.size:
        cell = int(bad[0])
        raise ValueError(f"{path}: cell {cell} has phase {float(flat[cell])!r}; every phase "
                         f"must be a finite number in [0, {period}) (the period)")
    return flat
