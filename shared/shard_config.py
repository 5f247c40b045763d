"""What the coordinator tells a worker about its shard: :class:`ShardConfig`.

One frozen, typed record, sent once in the ``config`` message (docs/protocol.md) and
validated on receipt like every other message: :meth:`ShardConfig.from_wire` checks
every field's type and range and raises :class:`ShardConfigError` naming the bad
one. It has no defaults on purpose: every run-wide default is defined once, on the
coordinator's ``RunConfig``, and the coordinator fills every field from it.

Not here: the options a user types (``coordinator.config.RunConfig``) or what the
worker builds from this (``worker.shard.build_shard``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Mapping

from .clock import CLOCKS
from .grid import Grid
from .model import INIT_FILE, INIT_MODES, FireflyParams

__all__ = ["ShardConfig", "ShardConfigError"]


class ShardConfigError(ValueError):
    """A ``config`` message whose fields are missing, mistyped or out of range."""


@dataclass(frozen=True)
class ShardConfig:
    """Everything a worker needs to run shard ``shard`` of a run."""

    shard: int
    workers: int
    grid: tuple[int, int]
    params: FireflyParams
    init: str
    kicks: tuple[int, ...]
    run_dir: str
    inbox: str  # endpoint the shard's edge inbox binds
    fps: float
    report_interval: float
    heartbeat_timeout: float
    yield_every: int
    limit: int | None  # the run's global quota (--limit), None: no quota
    lease_s: float  # quota lease time
    trace_signals: bool
    trace_quota: bool
    clock: str  # "realtime" or "lockstep"
    delay: float  # coupling delay, seconds: 0 in real time, > 0 in lock-step
    duration: float  # lock-step: the simulated seconds to run, then wait for stop
    checkpoint_every: float  # lock-step: simulated seconds between checkpoints (0: none)
    resume: bool  # lock-step: start from the run directory's RESUME_NPZ
    # the live view's phase lattice: sample the first cell of each of phase_cols x
    # phase_rows equal blocks of the grid (worker/phases.py); 0 x 0: send no phases
    phase_cols: int = 0
    phase_rows: int = 0
    # real time with --on-worker-loss restart: save the shard's state this often (wall
    # seconds; 0: never), and whether this worker replaces a lost one (worker/snapshots.py)
    snapshot_every: float = 0.0
    restore: bool = False

    def __post_init__(self) -> None:
        _phase_lattice_ok(self.phase_cols, self.phase_rows, self.grid)
        if isinstance(self.snapshot_every, bool) or not isinstance(self.snapshot_every, (int, float)) \
                or not math.isfinite(self.snapshot_every) or self.snapshot_every < 0:
            raise ShardConfigError(f"snapshot_every(={self.snapshot_every!r}) must be a finite "
                                   f"number >= 0")
        if not isinstance(self.restore, bool):
            raise ShardConfigError(f"restore(={self.restore!r}) must be true or false")
        _int_at_least("workers", self.workers, 1)
        _int_at_least("shard", self.shard, 0)
        if self.shard >= self.workers:
            raise ShardConfigError(f"shard(={self.shard}) must be in [0, workers(={self.workers}))")
        if not (isinstance(self.grid, tuple) and len(self.grid) == 2):
            raise ShardConfigError(f"grid(={self.grid!r}) must be (width, height)")
        try:
            grid = Grid(*self.grid)
        except ValueError as exc:
            raise ShardConfigError(f"grid(={self.grid!r}): {exc}") from None
        if not isinstance(self.params, FireflyParams):
            raise ShardConfigError(f"params(={self.params!r}) must be FireflyParams")
        if not isinstance(self.init, str) or self.init not in (*INIT_MODES, INIT_FILE):
            raise ShardConfigError(f"init(={self.init!r}) must be one of "
                                   f"{(*INIT_MODES, INIT_FILE)}")
        if not isinstance(self.kicks, tuple):
            raise ShardConfigError(f"kicks(={self.kicks!r}) must be a tuple of cell ids")
        for cell in self.kicks:
            if isinstance(cell, bool) or not (isinstance(cell, int) and 0 <= cell < grid.cells):
                raise ShardConfigError(f"kicks: {cell!r} is not a cell of the {grid.cells}-cell grid "
                                       f"(an int in [0, {grid.cells}))")
        for name in ("run_dir", "inbox"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ShardConfigError(f"{name}(={getattr(self, name)!r}) must be a non-empty string")
        for name in ("fps", "report_interval", "heartbeat_timeout", "lease_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value <= 0:
                raise ShardConfigError(f"{name}(={value!r}) must be a finite number > 0")
        _int_at_least("yield_every", self.yield_every, 1)
        if self.limit is not None:
            _int_at_least("limit", self.limit, 1)
        for name in ("trace_signals", "trace_quota"):
            if not isinstance(getattr(self, name), bool):
                raise ShardConfigError(f"{name}(={getattr(self, name)!r}) must be true or false")
        if self.clock not in CLOCKS:
            raise ShardConfigError(f"clock(={self.clock!r}) must be one of {CLOCKS}")
        if not isinstance(self.resume, bool):
            raise ShardConfigError(f"resume(={self.resume!r}) must be true or false")
        for name in ("delay", "duration", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0:
                raise ShardConfigError(f"{name}(={value!r}) must be a finite number >= 0")
        if self.lockstep and not (self.delay > 0 and self.duration > 0):
            raise ShardConfigError("clock='lockstep' needs delay > 0 and duration > 0")
        if not self.lockstep and (self.delay or self.checkpoint_every or self.resume):
            raise ShardConfigError("delay, checkpoint_every and resume are for the lock-step "
                                   "clock only")

    @property
    def lockstep(self) -> bool:
        """Does this run advance in lock-step windows of ``delay`` (docs/lockstep.md)?"""
        return self.clock == "lockstep"

    @property
    def quota(self) -> bool:
        """Does this run share a global quota (``--limit``)?"""
        return self.limit is not None

    def to_wire(self) -> dict[str, Any]:
        """The ``config`` message's one field (msgpack-friendly)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["grid"] = list(self.grid)
        out["kicks"] = list(self.kicks)
        out["params"] = self.params.to_dict()
        return out

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> "ShardConfig":
        """Validate and build; any problem is a :class:`ShardConfigError` naming the field."""
        _exact_fields("config", data, {f.name for f in fields(cls)})
        grid = data["grid"]
        if not (isinstance(grid, (list, tuple)) and len(grid) == 2):
            raise ShardConfigError(f"grid(={grid!r}) must be [width, height]")
        kicks = data["kicks"]
        if not isinstance(kicks, (list, tuple)):
            raise ShardConfigError(f"kicks(={kicks!r}) must be a list of cell ids")
        values = {**data, "grid": (grid[0], grid[1]), "kicks": tuple(kicks),
                  "params": _params_from_wire(data["params"])}
        return cls(**values)


def _params_from_wire(params: Any) -> FireflyParams:
    names = {f.name for f in fields(FireflyParams)}
    _exact_fields("params", params, names)
    for name in sorted(names):
        value = params[name]
        number = int if name == "seed" else (int, float)
        if isinstance(value, bool) or not isinstance(value, number):
            kind = "an int" if name == "seed" else "a number"
            raise ShardConfigError(f"params.{name}(={value!r}) must be {kind}")
    try:
        return FireflyParams.from_dict(dict(params))
    except ValueError as exc:
        raise ShardConfigError(f"params: {exc}") from None


def _exact_fields(what: str, data: Any, names: set[str]) -> None:
    """``data`` must be a map holding exactly the fields ``names``."""
    if not isinstance(data, Mapping):
        raise ShardConfigError(f"{what} is {type(data).__name__}, not a map")
    missing = sorted(names - data.keys())
    if missing:
        raise ShardConfigError(f"{what} lacks {', '.join(missing)}")
    unknown = sorted(set(data) - names, key=str)
    if unknown:
        raise ShardConfigError(f"{what} has unknown fields {', '.join(map(str, unknown))}")


def _phase_lattice_ok(cols: Any, rows: Any, grid: Any) -> None:
    """phase_cols x phase_rows: both 0, or a lattice of at least 1x1 within the grid
    (checked first: a bad grid is then reported by the grid's own check)."""
    _int_at_least("phase_cols", cols, 0)
    _int_at_least("phase_rows", rows, 0)
    width, height = grid if isinstance(grid, tuple) and len(grid) == 2 else (0, 0)
    inside = isinstance(width, int) and isinstance(height, int) and cols <= width and rows <= height
    if (cols == 0) != (rows == 0) or (cols and not inside):
        raise ShardConfigError(f"phase_cols x phase_rows (={cols}x{rows}) must be 0x0 or "
                               f"within the grid {grid!r}")


def _int_at_least(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ShardConfigError(f"{name}(={value!r}) must be an int >= {low}")
