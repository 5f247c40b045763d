"""The run directory's schema, written once: file names, field names, the counter
list, the schema version and the rules readers apply (docs/logs.md explains them).

Writers (the worker's frame loop and metrics, the coordinator's aggregator and run
records) and readers (``shared.runlog.reading``, the gather and plot tools, the
tests) all import these names; nothing else spells out a field list.

* :class:`Counters` is the shard's counter set: the worker counts into it on its hot
  path (plain slotted int attributes) and its field names are the log's
  ``counters`` keys (:data:`COUNTERS`).
* ``*_FIELDS`` map each documented field to the types it may hold; :func:`check`
  validates a record against one of them (the tests run it on real runs).
* :func:`rate_counts` is the one rule for which lines feed frame-rate statistics.

Not here: reading files (``reading``), reducing lines to rows (``rows``),
formatting tables (``tables``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

__all__ = [
    "SCHEMA_VERSION", "RUN_JSON", "SUMMARY_JSON", "COORDINATOR_LOG", "COORDINATOR_TEXT_LOG",
    "shard_log", "snapshot", "SHARD_LOG_GLOB", "shard_of", "worker_log", "quota_trace", "signal_trace",
    "STATE_NPZ", "state_part", "INIT_NPY", "CHECKPOINT_NPZ", "RESUME_NPZ", "checkpoint_part",
    "CHECKPOINT_PART_GLOB", "STATE_PART_GLOB", "part_window", "LOCKSTEP_HISTOGRAMS",
    "Counters", "COUNTERS",
    "HISTOGRAMS", "HISTOGRAM_FIELDS", "PROCESS_FIELDS", "SHARD_DIAGNOSTICS", "SHARD_FIELDS",
    "SHARD_OPTIONAL", "COORDINATOR_FIELDS", "COORDINATOR_OPTIONAL", "RUN_FIELDS",
    "SUMMARY_FIELDS", "SUMMARY_OPTIONAL", "LOST_FIELDS", "rate_counts", "check",
]

SCHEMA_VERSION = 1

# ------------------------------------------------------------------------- file names
RUN_JSON = "run.json"
SUMMARY_JSON = "summary.json"
#: The initial phases a run started from when given with ``--init FILE`` (float64, one
#: per cell in cell order), copied here by the coordinator and read by every worker.
INIT_NPY = "init.npy"
#: Lock-step: the final state of every cell in cell order ("phase" = t_end - epoch,
#: "flash_count", "t"), merged by the coordinator from the workers' parts.
STATE_NPZ = "state.npz"
#: Lock-step: the newest complete checkpoint (``shared.checkpoint``), merged by the
#: coordinator from the workers' parts; ``--resume RUN_DIR`` starts from it.
CHECKPOINT_NPZ = "checkpoint.npz"
#: In a resumed run's directory: the checkpoint it started from (copied).
RESUME_NPZ = "resume.npz"
COORDINATOR_LOG = "coordinator.jsonl"
COORDINATOR_TEXT_LOG = "coordinator.log"  # logging while the live view owns the terminal


def state_part(shard: int) -> str:
    """Lock-step: worker ``shard``'s part of the final state (``STATE_NPZ``'s source)."""
    return f"state-{shard}.npz"


def checkpoint_part(shard: int, window: int) -> str:
    """Lock-step: worker ``shard``'s part of the checkpoint at the end of ``window``."""
    return f"checkpoint-{shard}-{window}.npz"


#: Every checkpoint part and state part, whatever the shard and window.
CHECKPOINT_PART_GLOB = "checkpoint-*-*.npz"
STATE_PART_GLOB = "state-*.npz"


def part_window(name: str) -> int | None:
    """The window of a checkpoint part's file name, or None if it is not one."""
    stem, dot, ext = name.rpartition(".")
    head, _, window = stem.rpartition("-")
    if ext != "npz" or not head.startswith("checkpoint-") or not window.isdigit():
        return None
    return int(window)


def snapshot(shard: int) -> str:
    """Real time with --on-worker-loss restart: worker ``shard``'s newest saved state."""
    return f"snapshot-{shard}.npz"


def shard_log(shard: int) -> str:
    return f"shard-{shard}.jsonl"


SHARD_LOG_GLOB = "shard-*.jsonl"  # every shard_log(k) matches it


def shard_of(file_name: str) -> int | None:
    """K of a ``shard_log(K)`` file name, or None when the name is not one."""
    prefix, suffix = SHARD_LOG_GLOB.split("*")
    if not (file_name.startswith(prefix) and file_name.endswith(suffix)):
        return None
    number = file_name[len(prefix):len(file_name) - len(suffix)]
    return int(number) if number.isdigit() else None


def worker_log(shard: int) -> str:
    return f"worker-{shard}.log"


def quota_trace(shard: int) -> str:
    return f"quota-{shard}.jsonl"


def signal_trace(shard: int) -> str:
    return f"signals-{shard}.jsonl"


# --------------------------------------------------------------------------- counters
@dataclass(slots=True)
class Counters:
    """A shard's running totals; a log line carries the deltas over its interval."""

    flashes: int = 0
    local_signals: int = 0
    edge_flashes_sent: int = 0
    edge_flashes_received: int = 0
    edge_flashes_dropped: int = 0
    signals_ignored_refractory: int = 0
    quota_waits: int = 0
    malformed_rejected: int = 0
    handshakes_refused: int = 0  # CurveZMQ handshakes refused on the edge inbox

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTERS}


COUNTERS: tuple[str, ...] = tuple(f.name for f in fields(Counters))

# ------------------------------------------------------------------------ field types
_NUM = (int, float)
_OPT_NUM = (int, float, type(None))

HISTOGRAMS: tuple[str, ...] = ("frame_lateness_ms", "flash_lateness_ms", "edge_latency_ms")
HISTOGRAM_FIELDS: dict[str, Any] = {"p50": _NUM, "p99": _NUM, "max": _NUM, "count": int,
                                    "sum": _NUM, "buckets": list}
PROCESS_FIELDS: dict[str, Any] = {"cpu_percent": _NUM, "rss_bytes": int, "loop_busy": _OPT_NUM,
                                  "gc_ms": _NUM, "gc_young": int}

SHARD_FIELDS: dict[str, Any] = {
    "v": int, "shard": int, "t": _NUM, "interval_s": _NUM, "agents": int, "fps": _NUM,
    "frames": int, **{name: HISTOGRAM_FIELDS for name in HISTOGRAMS},
    "counters": {name: int for name in COUNTERS}, "process": PROCESS_FIELDS,
    "links": dict, "link_gaps": int, "telemetry_dropped": int, "frames_skipped": int,
}
SHARD_DIAGNOSTICS: tuple[str, ...] = ("links", "link_gaps", "telemetry_dropped", "frames_skipped")
#: Lock-step shard lines' optional histograms (SHARD_OPTIONAL), checked when present.
LOCKSTEP_HISTOGRAMS = ("window_ms", "barrier_wait_ms")

SHARD_OPTIONAL: dict[str, Any] = {  # present on some lines only
    "quota": dict,  # with --limit
    "final": bool,  # the last line: the partial interval up to the stop
    "agents_failed": int, "agents_without_flash": int, "agent_flashes_min": int,  # final only
    "stop_reason": str,  # final only: why the worker stopped (docs/protocol.md, "Liveness")
    "rtf": _NUM,  # lock-step: simulated seconds per wall second over the interval
    # lock-step: histograms (ms, wall) of each window's run and of its barrier wait
    **{name: dict for name in LOCKSTEP_HISTOGRAMS},
    # per neighbour shard: {"p50", "p99", "max", "count"} of edge latency over the interval
    "link_latency_ms": dict,
    # a joined worker: its clock's offset from the coordinator's (shared/clock_sync.py):
    # {"offset_ms", "uncertainty_ms"} as used for the start, "drift_ms" of the newest estimate
    "clock": dict,
    # lock-step: the first line of a run resumed from a checkpoint (--resume, or a
    # restart after a lost worker, which appends to the same log): the checkpoint's time
    "resumed_from_s": _NUM,
}

COORDINATOR_FIELDS: dict[str, Any] = {
    "v": int, "t": _NUM, "R": _NUM, "flashes_per_s": _NUM, "min_fps": _OPT_NUM,
    "worst_p99_flash_lateness_ms": _OPT_NUM, "workers_alive": int, "R_series": list,
}
COORDINATOR_OPTIONAL: dict[str, Any] = {
    "sim_t": _NUM, "rtf": _NUM,  # lock-step: the slowest shard's simulated time; its RTF
    "quota": dict, "malformed_rejected": int,
    "shards_in_R": int,  # how many shards' figures the line's R combines
    "stalled": list,  # shards silent past the stall threshold (their figures left out)
    "final": bool,  # the run's last, partial interval, written after the workers stopped
}

RUN_FIELDS: dict[str, Any] = {
    "schema": int, "run_dir": str, "started_at": str, "seed": int, "workers": int, "agents": int,
    "config": {"grid": list, "period": _NUM, "nudge": _NUM, "refractory": _NUM, "duration": _NUM,
               "fps": _NUM, "report_interval": _NUM, "limit": (int, type(None))},
    "shards": list,
    "versions": {"simulator": str, "python": str, "pyzmq": str, "libzmq": str, "msgpack": str},
    "host": {"hostname": str, "platform": str, "cpus": int, "memory_bytes": int},
}

SUMMARY_FIELDS: dict[str, Any] = {
    "schema": int, "exit": str, "duration_s": _NUM, "agents": int, "workers": int,
    "R_final": _NUM, "R_max": _NUM, "time_to_sync_s": _OPT_NUM, "flashes": int,
    "flashes_per_s": _NUM, **{name: HISTOGRAM_FIELDS for name in HISTOGRAMS},
    "min_fps": _OPT_NUM, "counters": dict, "frames_incomplete": int, "workers_lost": dict,
    "malformed_rejected_coordinator": int, "error": (str, type(None)),
}
#: each ``workers_lost`` entry: {"code": exit code or null, "reason", "since_s": from when
#: its figures stop, sim time, or null when lost before the run began}
LOST_FIELDS: dict[str, Any] = {"code": (int, type(None)), "reason": str, "since_s": _OPT_NUM}
SUMMARY_OPTIONAL: dict[str, Any] = {
    "longest_silence_s": dict,  # per shard, seconds
    # lock-step (docs/lockstep.md): SHA-256 of every cell's final phase bits and flash
    # count in cell order, of the flash train (cell, time) in time order; sim seconds
    "state_hash": str, "flash_train_hash": str, "sim_time": _NUM, "rtf": _NUM,
    # tcp runs: CurveZMQ handshakes refused (unknown keys); with --listen: joins refused
    "handshakes_refused": int, "joins_refused": int,
    # --on-worker-loss restart: each lost shard and how the run recovered
    # ({"shard", "reason", "lost_at_s", "resumed_from_s", "recovery_s"})
    "recoveries": list,
}


# ------------------------------------------------------------------------------ rules
def rate_counts(line: Mapping[str, Any]) -> bool:
    """Does this shard line's ``fps`` feed frame-rate statistics (min FPS, medians)?

    Every line does but the final one, which covers the moments up to the stop
    (agents stopping, no frames): its counters and histograms count, its rate does not."""
    return not line.get("final")


def check(record: Any, spec: Mapping[str, Any], where: str = "") -> list[str]:
    """Problems found in ``record`` against a ``*_FIELDS`` spec (empty: it matches).
    Extra fields are allowed (a newer writer may add some); bools are not numbers."""
    if not isinstance(record, dict):
        return [f"{where or 'record'} is {type(record).__name__}, not an object"]
    problems = []
    for key, expected in spec.items():
        path = f"{where}.{key}" if where else key
        if key not in record:
            problems.append(f"{path} missing")
        elif isinstance(expected, dict):
            problems += check(record[key], expected, path)
        elif not isinstance(record[key], expected) or (
                isinstance(record[key], bool) and expected is not bool):
            problems.append(f"{path} is {type(record[key]).__name__}")
    return problems
