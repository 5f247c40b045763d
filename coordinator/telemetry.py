"""Telemetry: frames and reports from the shards, combined into the run's view.

* Frames (``--fps`` per shard): the shards' partial sums Z_s for the same frame number
  combine into the global order parameter R(t) (shared/order.py); a frame counts once
  every live shard sent it. Flashed cells go to an optional listener (the live view).
* Reports (one per shard per interval): the latest line per shard feeds the status
  line; histograms and counters accumulate into the run's totals for summary.json.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from shared.histogram import Histogram
from shared.synchrony import SyncTracker, combine_order

__all__ = ["Telemetry"]

log = logging.getLogger(__name__)

_HISTOGRAMS = ("flash_lateness_ms", "frame_lateness_ms", "edge_latency_ms")


class Telemetry:
    """Aggregates one run's telemetry; knows nothing about sockets."""

    def __init__(self, shards: int, period: float, fps: float) -> None:
        self.shards = shards
        self.live: set[int] = set(range(shards))
        self.sync = SyncTracker(period)
        self.fps = fps
        self.frames: dict[int, dict[int, tuple[float, float, int]]] = {}
        self.r = 0.0
        self.r_series: list[list[float]] = []  # [t, R] since the last interval line
        self.frame_times: dict[int, float] = {}
        self.frames_incomplete = 0
        self.latest: dict[int, dict[str, Any]] = {}
        self.interval_lines: dict[int, dict[str, Any]] = {}
        self.totals: dict[str, int] = {}
        self.histograms = {name: Histogram() for name in _HISTOGRAMS}
        self.min_fps: float | None = None
        self.on_flashes: Callable[[bytes, float], None] | None = None
        self.last_frame_t = 0.0

    def shard_lost(self, shard: int) -> None:
        self.live.discard(shard)

    def on_frame(self, shard: int, frame: int, t: float, zre: float, zim: float, n: int,
                 flashed: bytes) -> None:
        if self.on_flashes is not None and flashed:
            self.on_flashes(flashed, t)
        parts = self.frames.setdefault(frame, {})
        parts[shard] = (zre, zim, n)
        self.frame_times[frame] = max(self.frame_times.get(frame, 0.0), t)
        if self.live <= parts.keys():
            self.r = combine_order(parts.values())
            t_frame = self.frame_times.pop(frame)
            del self.frames[frame]
            self.sync.observe(t_frame, self.r)
            self.r_series.append([round(t_frame, 3), round(self.r, 4)])
            self.last_frame_t = t_frame
            self._forget_before(frame)

    def _forget_before(self, frame: int) -> None:
        """Frames older than a complete one will not complete (a shard skipped them)."""
        stale = [f for f in self.frames if f < frame]
        for f in stale:
            del self.frames[f]
            self.frame_times.pop(f, None)
        self.frames_incomplete += len(stale)

    def on_report(self, shard: int, line: dict[str, Any]) -> None:
        self.latest[shard] = line
        self.interval_lines[shard] = line
        for name, value in line.get("counters", {}).items():
            if isinstance(value, int):
                self.totals[name] = self.totals.get(name, 0) + value
        for name in _HISTOGRAMS:
            try:
                self.histograms[name].merge(Histogram.from_dict(line[name]))
            except (KeyError, ValueError) as exc:
                log.warning("shard %d report has a bad %s: %s", shard, name, exc)
        fps = line.get("fps")
        # The final line covers the moments up to the stop (agents stopping, no
        # frames): not a frame rate.
        if isinstance(fps, (int, float)) and not line.get("final") and line.get("interval_s", 0) >= 0.5:
            self.min_fps = fps if self.min_fps is None else min(self.min_fps, fps)

    def interval(self, t: float, workers_alive: int) -> dict[str, Any]:
        """The coordinator.jsonl line for the interval ending now; starts a new one."""
        lines = [self.latest[s] for s in sorted(self.latest) if s in self.live]
        flashes = sum(l["counters"].get("flashes", 0) for l in self.interval_lines.values())
        span = max((l.get("interval_s", 1.0) for l in self.interval_lines.values()), default=1.0)
        record: dict[str, Any] = {
            "v": 1,
            "t": round(t, 3),
            "R": round(self.r, 4),
            "flashes_per_s": round(flashes / span, 1) if span else 0.0,
            "min_fps": min((l["fps"] for l in lines), default=None),
            "worst_p99_flash_lateness_ms": max(
                (l["flash_lateness_ms"]["p99"] for l in lines), default=None),
            "workers_alive": workers_alive,
            "R_series": self.r_series,
        }
        self.r_series = []
        self.interval_lines = {}
        return record

    @staticmethod
    def status_line(record: dict[str, Any], workers_total: int) -> str:
        fps = record["min_fps"]
        p99 = record["worst_p99_flash_lateness_ms"]
        parts = [
            f"t={record['t']:7.1f}s",
            f"R={record['R']:.3f}",
            f"flashes/s={record['flashes_per_s']:9.1f}",
            f"min_fps={fps:5.1f}" if fps is not None else "min_fps=  -  ",
            f"p99_flash={p99:7.2f}ms" if p99 is not None else "p99_flash=   -   ",
            f"workers={record['workers_alive']}/{workers_total}",
        ]
        quota = record.get("quota")
        if quota:
            parts.append(f"slots={quota['in_use']}/{quota['limit']}")
        return "  ".join(parts)

    def summary(self) -> dict[str, Any]:
        return {
            "R_final": round(self.r, 4),
            "R_max": round(self.sync.r_max, 4),
            "time_to_sync_s": None if self.sync.time_to_sync is None else round(self.sync.time_to_sync, 3),
            "flashes": self.totals.get("flashes", 0),
            "counters": dict(self.totals),
            "min_fps": self.min_fps,
            "frames_incomplete": self.frames_incomplete,
            **{name: hist.to_dict() for name, hist in self.histograms.items()},
        }
