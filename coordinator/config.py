"""RunConfig: every option of a run, its default, validated in one place.

Every run-wide default is defined here once: the CLI reads its option defaults from
these fields, and :meth:`RunConfig.shard_config` fills each worker's
:class:`~shared.shard_config.ShardConfig` from them. Errors name the bad value and
how to fix it; the CLI turns them into one-line messages. Defaults are documented in
docs/defaults.md (chosen by measurement).

Not here: parsing command lines (``cli``) or running anything (``session``).
"""

from __future__ import annotations

import math
import os
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from shared.checkpoint import Checkpoint, CheckpointError
from shared import loops
from shared.clock import CLOCKS
from shared.loops import DEFAULT_LOOP
from shared.grid import Grid
from shared.model import INIT_FILE, INIT_MODES, FireflyParams, load_phases
from shared.runlog.schema import CHECKPOINT_NPZ, RUN_JSON
from shared.shard_config import ShardConfig

from shared.keyfiles import KeyFileError, load_coordinator_keys

from . import capacity
from .listening import SPAWN_LOCAL, host_problems, spawned_workers
from .recovery import ABORT, ON_LOSS, RESTART

__all__ = ["RunConfig", "ConfigError", "DEFAULT_GRID", "default_workers"]

DEFAULT_GRID = (64, 64)
MAX_SEED = 2 ** 63   # seeds are within [0, MAX_SEED): they travel as msgpack int64
MAX_LIMIT = 2 ** 63  # --limit likewise


class ConfigError(ValueError):
    """An option value the simulator cannot run with; the message says which and why."""


def default_workers() -> int:
    """The number of cores this process may run on (the default ``--workers``)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


#: The coupling delay of a lock-step run when --delay is not given: 10 ms, a tenth of
#: the default reset jitter; 100 windows per simulated second (docs/lockstep.md).
LOCKSTEP_DELAY = 0.01

#: Lock-step checkpoints with --on-worker-loss restart when no --checkpoint-every is
#: given: every 5 simulated seconds. Measured at 100k agents on 2 workers: every 2 s
#: cost 10 % of the run's speed, every 5 s nothing above the noise (docs/lockstep.md).
RESTART_CHECKPOINT_S = 5.0

#: Real time with --on-worker-loss restart: each shard saves its state this often, so a
#: replacement loses at most this much of the shard's simulated time (docs/worker.md).
RESTART_SNAPSHOT_S = 1.0


@dataclass(frozen=True)
class RunConfig:
    """One run's options; ``workers`` defaults to :func:`default_workers` (resolved
    when a RunConfig is built, not at import)."""

    workers: int = field(default_factory=default_workers)
    grid: tuple[int, int] = DEFAULT_GRID
    period: float = 2.0
    nudge: float = 0.2
    refractory: float | None = None
    reset_jitter: float = 0.1
    duration: float = 30.0
    seed: int = 1
    fps: float = 30.0
    report_interval: float = 1.0
    log_dir: str = "runs"
    init: str = "random"
    kicks: tuple[int, ...] = ()
    trace_signals: bool = False
    trace_quota: bool = False
    transport: str = "ipc"
    listen: str | None = None  # HOST:PORT: workers may join from other hosts (listening)
    spawn: str = SPAWN_LOCAL  # local, none, or how many workers start here
    keys: str | None = None  # with --listen: the folder of `sim-coordinator keys DIR`
    join_timeout: float = 120.0  # seconds to wait for every worker to join
    on_worker_loss: str = ABORT  # abort, or restart (lock-step: roll back to a checkpoint)
    max_restarts: int = 3  # per shard, with restart; past it the run aborts
    limit: int | None = None
    yield_every: int = 16
    heartbeat_timeout: float = 10.0  # > a coordinator stalled 5-8 s (docs/protocol.md, "Liveness")
    show_shards: bool = False
    view_fps: float = 20.0
    clock: str = "realtime"
    delay: float | None = None  # None: 0 in real time, LOCKSTEP_DELAY in lock-step
    checkpoint_every: float = 0.0  # lock-step: simulated seconds between checkpoints
    resume: str | None = None  # lock-step: the run directory whose checkpoint we continue
    loop: str = DEFAULT_LOOP  # the workers' event loop (shared.loops)
    # set by the session when it shows the live view (not an option, not in run.json):
    # the lattice the workers sample phases on for its phase view; 0 x 0: none
    phase_cols: int = 0
    phase_rows: int = 0

    def __post_init__(self) -> None:
        w, h = self.grid
        try:
            grid = Grid(w, h)
        except ValueError as exc:
            raise ConfigError(f"--grid: {exc}") from None
        if grid.cells > capacity.MAX_AGENTS:
            raise ConfigError(f"--grid {w}x{h}: {grid.cells:,} cells; at most "
                              f"{capacity.MAX_AGENTS:,} (e.g. 4096x4096)")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(f"--workers {self.workers}: must be at least 1")
        if self.workers > grid.cells:
            raise ConfigError(f"--workers {self.workers}: more workers than the {grid.cells} cells "
                              f"of a {w}x{h} grid; use at most {grid.cells} or a larger --grid")
        if self.workers > capacity.MAX_WORKERS:
            raise ConfigError(f"--workers {self.workers}: at most {capacity.MAX_WORKERS}")
        if not isinstance(self.seed, int) or not 0 <= self.seed < MAX_SEED:
            raise ConfigError(f"--seed {self.seed}: must be within [0, 2**63)")
        if self.limit is not None and (not isinstance(self.limit, int) or not 1 <= self.limit < MAX_LIMIT):
            raise ConfigError(f"--limit {self.limit}: must be within [1, 2**63) "
                              f"(leave it out for no quota)")
        if not (isinstance(self.reset_jitter, (int, float)) and math.isfinite(self.reset_jitter)
                and self.reset_jitter >= 0):
            raise ConfigError(f"--jitter {self.reset_jitter}: must be >= 0 seconds (and < --period)")
        if not (isinstance(self.period, (int, float)) and self.period > self.reset_jitter):
            raise ConfigError(f"--period {self.period}: must be > {self.reset_jitter} s "
                              f"(the reset jitter --jitter: a flash resets the phase into "
                              f"[0, {self.reset_jitter}))")
        try:
            self.params()
        except ValueError as exc:
            raise ConfigError(f"model: {exc} (see --period/--nudge/--refractory)") from None
        if not (math.isfinite(self.duration) and self.duration >= 0):
            raise ConfigError(f"--duration {self.duration}: must be >= 0 seconds (0 = until Ctrl-C)")
        if not (math.isfinite(self.fps) and 0 < self.fps <= 1000):
            raise ConfigError(f"--fps {self.fps}: must be > 0 and <= 1000")
        if not (math.isfinite(self.report_interval) and 0.05 <= self.report_interval <= 3600):
            raise ConfigError(f"report interval {self.report_interval}: must be within [0.05, 3600] s")
        if (why := loops.missing(self.loop)) is not None:
            raise ConfigError(why)
        if self.clock not in CLOCKS:
            raise ConfigError(f"--clock {self.clock!r}: must be one of {', '.join(CLOCKS)}")
        delay = self.coupling_delay
        if not (isinstance(delay, (int, float)) and math.isfinite(delay) and delay >= 0):
            raise ConfigError(f"--delay {delay}: must be a number of seconds >= 0")
        if self.clock == "realtime" and delay:
            raise ConfigError(f"--delay {delay}: needs --clock lockstep (in real time a signal "
                              f"arrives when it arrives)")
        if self.clock == "lockstep":
            if not 0.0 < delay <= self.period:
                raise ConfigError(f"--delay {delay}: with --clock lockstep it must be > 0 and at "
                                  f"most the period {self.period} s (it is the window length)")
            if self.duration <= 0:
                raise ConfigError("--clock lockstep needs a --duration > 0 (simulated seconds)")
        if not (isinstance(self.checkpoint_every, (int, float))
                and math.isfinite(self.checkpoint_every) and self.checkpoint_every >= 0):
            raise ConfigError(f"--checkpoint-every {self.checkpoint_every}: must be >= 0 "
                              f"simulated seconds (0: none)")
        if (self.checkpoint_every or self.resume) and self.clock != "lockstep":
            raise ConfigError("--checkpoint-every and --resume need --clock lockstep")
        if self.resume is not None:
            self.resume_checkpoint()  # a bad or mismatched checkpoint: one line, now
        if self.init not in INIT_MODES and self.resume is None:
            try:
                self.given_phases()
            except ValueError as exc:
                raise ConfigError(f"--init {exc}") from None
        for cell in self.kicks:
            if not 0 <= cell < grid.cells:
                raise ConfigError(f"--kick {cell}: not a cell of the {grid.cells}-cell grid (0..{grid.cells - 1})")
        if self.transport not in ("ipc", "tcp"):
            raise ConfigError(f"--transport {self.transport!r}: must be ipc or tcp")
        if not isinstance(self.yield_every, int) or self.yield_every < 1:
            raise ConfigError(f"yield_every {self.yield_every}: must be at least 1")
        if not (math.isfinite(self.view_fps) and 0 < self.view_fps <= 120):
            raise ConfigError(f"--view-fps {self.view_fps}: must be > 0 and <= 120")
        local_files = [flag for flag, given in (  # files a worker reads from the run directory
            ("--init FILE", self.init not in INIT_MODES), ("--resume", self.resume is not None))
            if given]
        problems = host_problems(listen=self.listen, spawn=self.spawn, keys=self.keys,
                                 transport=self.transport, workers=self.workers,
                                 join_timeout=self.join_timeout, local_files=local_files)
        if problems:
            raise ConfigError(problems[0])
        if self.on_worker_loss not in ON_LOSS:
            raise ConfigError(f"--on-worker-loss {self.on_worker_loss!r}: must be "
                              f"{' or '.join(ON_LOSS)}")
        if not isinstance(self.max_restarts, int) or self.max_restarts < 0:
            raise ConfigError(f"--max-restarts {self.max_restarts}: must be an int >= 0")
        if self.on_worker_loss == RESTART and self.spawned < self.workers:
            raise ConfigError("--on-worker-loss restart needs every worker on this host "
                              "(--spawn local): a joined worker is not started again")
        if self.keys is not None:
            try:
                load_coordinator_keys(self.keys)
            except KeyFileError as exc:
                raise ConfigError(f"--keys: {exc}") from None

    def check_machine(self) -> None:
        """Can this machine run it now? Memory for the agents and workers, and the
        process limit for the workers (``capacity``); raises ConfigError if not. Called
        by the CLI before anything is allocated or spawned (not in ``__post_init__``:
        a RunConfig is also a plain value, built in tests and tools)."""
        w, h = self.grid
        fit = capacity.agents_that_fit(self.workers)
        if self.agents > fit:
            raise ConfigError(
                f"--grid {w}x{h}: {self.agents:,} agents need about "
                f"{(self.agents * capacity.BYTES_PER_AGENT + self.workers * capacity.BYTES_PER_WORKER) / 2**30:.1f} GiB; "
                f"the memory available now holds at most {fit:,} agents with --workers {self.workers}")
        left = capacity.tasks_left()
        if left is not None and self.workers * capacity.TASKS_PER_WORKER > left - capacity.SPARE_TASKS:
            most = max(0, (left - capacity.SPARE_TASKS) // capacity.TASKS_PER_WORKER)
            raise ConfigError(f"--workers {self.workers}: the process limit (ulimit -u) leaves room "
                              f"for at most {most} workers now")

    @property
    def coupling_delay(self) -> float:
        """``--delay``, or its default for the clock (docs/lockstep.md)."""
        if self.delay is not None:
            return self.delay
        return LOCKSTEP_DELAY if self.clock == "lockstep" else 0.0

    @property
    def checkpoint_interval(self) -> float:
        """Simulated seconds between lock-step checkpoints: ``--checkpoint-every``, or
        with ``--on-worker-loss restart`` and none given, :data:`RESTART_CHECKPOINT_S`."""
        if self.checkpoint_every or self.on_worker_loss != RESTART or self.clock != "lockstep":
            return float(self.checkpoint_every)
        return RESTART_CHECKPOINT_S

    @property
    def snapshot_interval(self) -> float:
        """Wall seconds between a real-time shard's snapshots: with --on-worker-loss
        restart :data:`RESTART_SNAPSHOT_S`, else 0 (none)."""
        return RESTART_SNAPSHOT_S if self.on_worker_loss == RESTART and self.clock != "lockstep" else 0.0

    @property
    def spawned(self) -> int:
        """Workers started here: shards 0..spawned-1 (the rest join, with --listen)."""
        return spawned_workers(self.spawn, self.workers)

    @property
    def agents(self) -> int:
        return self.grid[0] * self.grid[1]

    @classmethod
    def resumed(cls, run_dir: str, **changes: Any) -> "RunConfig":
        """The options of the lock-step run in ``run_dir`` (its run.json), continued
        from its checkpoint with ``changes`` (workers, duration, where to log...)."""
        path = Path(run_dir) / RUN_JSON
        try:
            recorded = json.loads(path.read_text())["config"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"--resume {run_dir}: cannot read its {RUN_JSON} ({exc})") from None
        names = {f.name for f in fields(cls)}
        options = {k: v for k, v in recorded.items() if k in names}
        for name in ("listen", "spawn", "keys", "join_timeout"):  # every worker runs here
            options.pop(name, None)
        options.update(grid=tuple(options.get("grid", DEFAULT_GRID)),
                       kicks=tuple(options.get("kicks", ())), resume=str(run_dir), **changes)
        try:
            return cls(**options)
        except TypeError as exc:
            raise ConfigError(f"--resume {run_dir}: its {RUN_JSON} is not a run's ({exc})") from None

    def model_key(self) -> dict[str, Any]:
        """What a checkpoint is valid for: grid, model, seed and delay."""
        params = self.params()
        return {"grid": list(self.grid), "period": params.period, "nudge": params.nudge,
                "refractory": params.refractory_s, "reset_jitter": params.reset_jitter,
                "seed": params.seed, "delay": self.coupling_delay}

    def resume_checkpoint(self) -> Checkpoint:
        """The checkpoint of ``--resume RUN_DIR``, checked against this run."""
        assert self.resume is not None
        path = Path(self.resume) / CHECKPOINT_NPZ
        if not path.exists():
            raise ConfigError(f"--resume {self.resume}: no {CHECKPOINT_NPZ} there (was the run "
                              f"started with --checkpoint-every?)")
        try:
            checkpoint = Checkpoint.load(path)
        except CheckpointError as exc:
            raise ConfigError(f"--resume: {exc}") from None
        if dict(checkpoint.meta) != self.model_key():
            raise ConfigError(f"--resume: {path} is for {dict(checkpoint.meta)}, not this run's "
                              f"{self.model_key()}")
        if len(checkpoint.cells) != self.agents:
            raise ConfigError(f"--resume: {path} holds {len(checkpoint.cells)} cells, the grid "
                              f"{self.agents}")
        if not checkpoint.t < self.duration:
            raise ConfigError(f"--duration {self.duration}: the checkpoint is at "
                              f"{checkpoint.t} s already; give a longer --duration")
        return checkpoint

    def given_phases(self) -> np.ndarray | None:
        """The phases of ``--init FILE`` (checked), or None for random and zero."""
        if self.init in INIT_MODES or self.resume is not None:
            return None
        return load_phases(self.init, self.grid, self.period)

    def params(self) -> FireflyParams:
        return FireflyParams(self.period, self.nudge, self.refractory, self.reset_jitter, self.seed)

    def shard_config(self, shard: int, *, run_dir: str, inbox: str, lease_s: float,
                     restore: bool = False) -> ShardConfig:
        """What worker ``shard`` is told in the ``config`` message: every field from
        this run's options, plus where it runs (``run_dir``), the endpoint its edge
        inbox binds (``inbox``), the quota lease time (``lease_s``), and whether it
        replaces a lost worker from its snapshot (``restore``, real time)."""
        return ShardConfig(
            shard=shard, workers=self.workers, grid=(self.grid[0], self.grid[1]), params=self.params(),
            init=_shard_init(self.init, self.resume), kicks=tuple(self.kicks),
            run_dir=run_dir, inbox=inbox, fps=self.fps,
            report_interval=self.report_interval, heartbeat_timeout=self.heartbeat_timeout,
            yield_every=self.yield_every, limit=self.limit, lease_s=lease_s,
            trace_signals=self.trace_signals, trace_quota=self.trace_quota, clock=self.clock,
            delay=float(self.coupling_delay), duration=float(self.duration),
            checkpoint_every=self.checkpoint_interval, resume=self.resume is not None,
            phase_cols=self.phase_cols, phase_rows=self.phase_rows,
            snapshot_every=self.snapshot_interval, restore=restore)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["grid"] = list(self.grid)
        out["kicks"] = list(self.kicks)
        out["refractory"] = self.params().refractory_s
        out["delay"] = self.coupling_delay
        del out["phase_cols"], out["phase_rows"]  # the terminal's, not the run's
        return out


def _shard_init(init: str, resume: str | None) -> str:
    """``ShardConfig.init``: a file's phases travel as INIT_FILE (the run directory's
    copy); a resumed run starts from its checkpoint, so its phases are never used."""
    if resume is not None:
        return "zero"
    return init if init in INIT_MODES else INIT_FILE
