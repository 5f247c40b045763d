"""Write synthetic, schema-exact run directories for tests (a test fixture writer, not
a simulator).

A test says what each shard did in each reporting interval (``Second``) and gets a
run directory that looks exactly like one ``sim-coordinator`` would write, so the
gathering tools can be checked against numbers the test knows. File names, the
counter list and the schema version come from :mod:`shared.runlog.schema`, and every
record written passes its ``check`` against the matching ``*_FIELDS`` spec
(tests/test_runlog_schema.py checks that). Nothing is random unless the test passes
its own seeded values.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from shared.histogram import Histogram
from shared.runlog.schema import (COORDINATOR_LOG, COUNTERS, RUN_JSON, SCHEMA_VERSION,
                                  SUMMARY_JSON, shard_log)

__all__ = ["Second", "write_run", "shard_line"]


@dataclass(frozen=True)
class Second:
    """What one shard did in one reporting interval."""

    fps: float = 30.0
    flash_lateness_ms: Sequence[float] = (1.0, 2.0)
    frame_lateness_ms: Sequence[float] = (0.5,)
    edge_latency_ms: Sequence[float] = (0.3,)
    counters: Mapping[str, int] = field(default_factory=dict)
    cpu_percent: float = 40.0
    rss_bytes: int = 50_000_000
    loop_busy: float = 0.4


def _hist(values: Sequence[float]) -> dict[str, Any]:
    hist = Histogram()
    hist.record_many(values)
    return hist.to_dict()


def shard_line(shard: int, t: float, second: Second, *, agents: int,
               interval: float = 1.0, limit: int | None = None) -> dict[str, Any]:
    """One ``shard-<K>.jsonl`` line, every field of the schema present."""
    counters = {name: 0 for name in COUNTERS}
    counters.update(second.counters)
    line: dict[str, Any] = {
        "v": SCHEMA_VERSION, "shard": shard, "t": t, "interval_s": interval, "agents": agents,
        "fps": second.fps, "frames": int(round(second.fps * interval)),
        "frame_lateness_ms": _hist(second.frame_lateness_ms),
        "flash_lateness_ms": _hist(second.flash_lateness_ms),
        "edge_latency_ms": _hist(second.edge_latency_ms),
        "counters": counters,
        "process": {"cpu_percent": second.cpu_percent, "rss_bytes": second.rss_bytes,
                    "loop_busy": second.loop_busy, "gc_ms": 0.0, "gc_young": 0},
        "links": {}, "link_gaps": 0, "telemetry_dropped": 0, "frames_skipped": 0,
    }
    if limit is not None:
        line["quota"] = {"held": 10, "in_use": 7, "waiting": 3}
    return line


def write_run(root: Path, shards: Mapping[int, Sequence[Second]], *,
              name: str = "run-20260101-000000-1", seed: int = 1, period: float = 5.0,
              limit: int | None = None, agents_per_shard: int = 100, interval: float = 1.0,
              R_series: Sequence[tuple[float, float]] = (),
              time_to_sync_s: float | None = None, summary: bool = True,
              exit: str = "duration") -> Path:
    """Write ``root/name`` and return its path.

    ``shards[K][i]`` is the line of shard K ending at t = (i + 1) * interval.
    ``R_series`` (t, R) points go to coordinator.jsonl in the interval holding their t;
    ``summary=False`` leaves summary.json out (a crashed run)."""
    run = root / name
    run.mkdir(parents=True)
    n_shards = len(shards)
    side = int(math.isqrt(agents_per_shard))
    agents = agents_per_shard * n_shards
    meta = {
        "schema": SCHEMA_VERSION, "run_dir": str(run), "started_at": "2026-01-01T00:00:00Z",
        "seed": seed, "workers": n_shards, "agents": agents,
        "config": {"grid": [side * n_shards, side], "period": period, "nudge": 0.2,
                   "refractory": 0.2 * period, "duration": interval * _longest(shards),
                   "fps": 30.0, "report_interval": interval, "limit": limit},
        "shards": [{"shard": k, "x0": k * side, "y0": 0, "width": side, "height": side,
                    "cells": agents_per_shard,
                    "neighbours": [j for j in shards if j != k]} for k in shards],
        "versions": {"simulator": "0.1.0", "python": "3.11.7", "pyzmq": "26.0.0",
                     "libzmq": "4.3.5", "msgpack": "1.0.8"},
        "host": {"hostname": "test", "platform": "linux", "cpus": 2,
                 "memory_bytes": 8 * 2**30},
    }
    _dump(run / RUN_JSON, meta)
    for k, seconds in shards.items():
        lines = [shard_line(k, (i + 1) * interval, s, agents=agents_per_shard,
                            interval=interval, limit=limit) for i, s in enumerate(seconds)]
        _dump_lines(run / shard_log(k), lines)
    _dump_lines(run / COORDINATOR_LOG,
                _coordinator_lines(shards, R_series, interval, limit))
    if summary:
        _dump(run / SUMMARY_JSON, _summary(shards, agents, interval, time_to_sync_s, exit))
    return run


def _longest(shards: Mapping[int, Sequence[Second]]) -> int:
    return max((len(s) for s in shards.values()), default=0)


def _coordinator_lines(shards: Mapping[int, Sequence[Second]],
                       R_series: Sequence[tuple[float, float]], interval: float,
                       limit: int | None) -> list[dict[str, Any]]:
    out = []
    for i in range(_longest(shards)):
        t = (i + 1) * interval
        points = [[pt, r] for pt, r in R_series if t - interval < pt <= t]
        present = [s[i] for s in shards.values() if i < len(s)]
        line: dict[str, Any] = {
            "v": SCHEMA_VERSION, "t": t, "R": points[-1][1] if points else 0.0,
            "flashes_per_s": sum(s.counters.get("flashes", 0) for s in present) / interval,
            "min_fps": min(s.fps for s in present),
            "worst_p99_flash_lateness_ms": 0.0, "workers_alive": len(present),
            "R_series": points,
        }
        if limit is not None:
            line["quota"] = {"limit": limit, "in_use": 0, "held": limit}
        out.append(line)
    return out


def _summary(shards: Mapping[int, Sequence[Second]], agents: int, interval: float,
             time_to_sync_s: float | None, exit: str) -> dict[str, Any]:
    everything = [s for seconds in shards.values() for s in seconds]
    totals = {name: sum(s.counters.get(name, 0) for s in everything) for name in COUNTERS}
    duration = interval * _longest(shards)
    return {
        "schema": SCHEMA_VERSION, "exit": exit, "duration_s": duration, "agents": agents,
        "workers": len(shards), "R_final": 0.5, "R_max": 0.95,
        "time_to_sync_s": time_to_sync_s, "flashes": totals["flashes"],
        "flashes_per_s": totals["flashes"] / duration if duration else 0.0,
        "flash_lateness_ms": _hist([v for s in everything for v in s.flash_lateness_ms]),
        "frame_lateness_ms": _hist([v for s in everything for v in s.frame_lateness_ms]),
        "edge_latency_ms": _hist([v for s in everything for v in s.edge_latency_ms]),
        "min_fps": min((s.fps for s in everything), default=0.0),
        "counters": totals, "frames_incomplete": 0, "workers_lost": {},
        "malformed_rejected_coordinator": 0, "error": None,
    }


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1) + "\n")


def _dump_lines(path: Path, lines: Sequence[Mapping[str, Any]]) -> None:
    with path.open("w") as out:
        for line in lines:
            out.write(json.dumps(line) + "\n")
