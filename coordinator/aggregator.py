"""The aggregator: the shards' frames and reports, combined into the run's figures.

* Frames (``--fps`` per shard): the shards' partial sums Z_s for the same frame number
  combine into the global order parameter R(t) (:mod:`shared.synchrony`); a frame
  counts once every live shard that is not stalled sent it (:meth:`set_stalled`:
  a silent shard's stale figures never hold R back nor feed it); each R remembers how
  many shards it combines (``shards_in_R``). Flashed cells go to the flash listener given
  at construction (the live view), if any.
* Reports (one per shard per interval): the latest line per shard feeds the interval
  line and the status line (stalled shards' lines left out); histograms and counters accumulate into the run's totals
  for summary.json. Which lines feed min FPS is :func:`shared.runlog.schema.rate_counts`.
* Phases (the live view's phase samples, only while it shows): handed to the phases
  listener given at construction (the live view); with none, a shard's samples are
  expected to be empty (:meth:`Aggregator.phase_samples` is None: the telemetry
  stream rejects them).

Not here: sockets and message validation (``telemetry``: it hands over decoded,
checked messages), writing files (``records``), the quota (``quota_desk``).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, Protocol

from shared.histogram import Histogram
from shared.runlog.schema import HISTOGRAMS, SCHEMA_VERSION, rate_counts
from shared.synchrony import SyncTracker, combine_order

__all__ = ["Aggregator", "FlashListener", "PhaseListener", "status_line"]

log = logging.getLogger(__name__)

FlashListener = Callable[[bytes, float], None]  # (int32 cell ids, sim time)
HeardListener = Callable[[int], None]  # a frame or report of this shard was just read


class PhaseListener(Protocol):
    """Who takes the workers' phase samples (``coordinator.view.LiveView``)."""

    def phase_samples(self, shard: int) -> int:
        """How many samples (bytes) a ``phases`` message of ``shard`` holds."""

    def on_phases(self, shard: int, t: float, data: bytes) -> None:
        """``shard``'s samples at sim time ``t``, one byte each, already checked."""


class Aggregator:
    """Aggregates one run's frames and reports; knows nothing about sockets."""

    def __init__(self, shards: int, period: float, fps: float, *,
                 on_flashes: FlashListener | None = None,
                 on_heard: HeardListener | None = None,
                 phases: PhaseListener | None = None) -> None:
        self.shards = shards
        self.fps = fps
        self.live: set[int] = set(range(shards))
        self.stalled: set[int] = set()
        self.shards_in_r = 0  # how many shards' Z the current R combines
        self.last_t: dict[int, float] = {}  # shard -> sim time of its newest frame
        self.r = 0.0
        self.last_frame_t = 0.0
        self.frames_incomplete = 0
        self.latest: dict[int, dict[str, Any]] = {}  # shard -> its newest report line
        self.min_fps: float | None = None
        self._on_flashes = on_flashes
        self._on_heard = on_heard
        self._phases = phases
        self._sync = SyncTracker(period)
        self._frames: dict[int, dict[int, tuple[float, float, int]]] = {}
        self._frame_times: dict[int, float] = {}
        self._r_series: list[list[float]] = []  # [t, R] since the last interval line
        self._interval_lines: dict[int, dict[str, Any]] = {}
        self._totals: dict[str, int] = {}
        self._histograms = {name: Histogram() for name in HISTOGRAMS}

    def shard_lost(self, shard: int) -> None:
        """Stop waiting for ``shard``: its figures no longer feed R or the status."""
        self.live.discard(shard)

    def shard_back(self, shard: int) -> None:
        """A replacement took ``shard`` over: its figures feed R and the status again."""
        self.live.add(shard)

    def set_stalled(self, shards: set[int]) -> None:
        """The shards now silent past the stall threshold (``liveness``): until they
        speak again their figures feed neither R nor min FPS."""
        self.stalled = set(shards)

    def live_latest(self) -> dict[int, dict[str, Any]]:
        """The newest report line of each live shard that is not stalled."""
        return {k: v for k, v in self.latest.items() if k in self.live and k not in self.stalled}

    def on_frame(self, shard: int, frame: int, t: float, zre: float, zim: float, n: int,
                 flashed: bytes) -> None:
        if self._on_heard is not None:
            self._on_heard(shard)
        self.last_t[shard] = max(self.last_t.get(shard, 0.0), t)
        if self._on_flashes is not None and flashed:
            self._on_flashes(flashed, t)
        parts = self._frames.setdefault(frame, {})
        parts[shard] = (zre, zim, n)
        self._frame_times[frame] = max(self._frame_times.get(frame, 0.0), t)
        if self.live - self.stalled <= parts.keys():
            self.r = combine_order(parts.values())
            self.shards_in_r = len(parts)
            t_frame = self._frame_times.pop(frame)
            del self._frames[frame]
            self._sync.observe(t_frame, self.r)
            self._r_series.append([round(t_frame, 3), round(self.r, 4)])
            self.last_frame_t = t_frame
            self._forget_before(frame)

    def phase_samples(self, shard: int) -> int | None:
        """The length a ``phases`` message of ``shard`` must have; None when nobody
        asked for phases (no live view)."""
        return None if self._phases is None else self._phases.phase_samples(shard)

    def on_phases(self, shard: int, frame: int, t: float, data: bytes) -> None:
        """One ``phases`` message (checked by the telemetry stream: its length is
        :meth:`phase_samples`); it also says the shard is alive."""
        if self._on_heard is not None:
            self._on_heard(shard)
        if self._phases is not None:
            self._phases.on_phases(shard, t, data)

    def _forget_before(self, frame: int) -> None:
        """Frames older than a complete one will not complete (a shard skipped them)."""
        stale = [f for f in self._frames if f < frame]
        for f in stale:
            del self._frames[f]
            self._frame_times.pop(f, None)
        self.frames_incomplete += len(stale)

    def on_report(self, shard: int, line: Mapping[str, Any]) -> None:
        """Take one shard log line (already checked against the schema). Its
        histograms are parsed first, so a bad one (ValueError) changes nothing."""
        histograms = {name: Histogram.from_dict(line[name]) for name in HISTOGRAMS}
        if self._on_heard is not None:
            self._on_heard(shard)
        self.latest[shard] = dict(line)
        self._interval_lines[shard] = self.latest[shard]
        for name, value in line["counters"].items():
            if isinstance(value, int):
                self._totals[name] = self._totals.get(name, 0) + value
        for name, hist in histograms.items():
            self._histograms[name].merge(hist)
        fps = line["fps"]
        if rate_counts(line):
            self.min_fps = fps if self.min_fps is None else min(self.min_fps, fps)

    def interval(self, t: float, workers_alive: int) -> dict[str, Any]:
        """The coordinator.jsonl line for the interval ending now; starts a new one."""
        lines = list(self.live_latest().values())
        flashes = sum(l["counters"].get("flashes", 0) for l in self._interval_lines.values())
        span = max((l.get("interval_s", 1.0) for l in self._interval_lines.values()), default=1.0)
        record: dict[str, Any] = {
            "v": SCHEMA_VERSION,
            "t": round(t, 3),
            "R": round(self.r, 4),
            "flashes_per_s": round(flashes / span, 1) if span else 0.0,
            "min_fps": min((l["fps"] for l in lines), default=None),
            "worst_p99_flash_lateness_ms": max(
                (l["flash_lateness_ms"]["p99"] for l in lines), default=None),
            "workers_alive": workers_alive,
            "R_series": self._r_series,
            "shards_in_R": self.shards_in_r,
            "stalled": sorted(self.stalled & self.live),
        }
        self._r_series = []
        self._interval_lines = {}
        return record

    def summary(self) -> dict[str, Any]:
        """The run's figures for summary.json."""
        flashes = self._totals.get("flashes", 0)
        run_s = self.last_frame_t
        return {
            "R_final": round(self.r, 4),
            "R_max": round(self._sync.r_max, 4),
            "time_to_sync_s": None if self._sync.time_to_sync is None else round(self._sync.time_to_sync, 3),
            "flashes": flashes,
            "counters": dict(self._totals),
            "min_fps": self.min_fps,
            "frames_incomplete": self.frames_incomplete,
            **{name: hist.to_dict() for name, hist in self._histograms.items()},
            "flashes_per_s": round(flashes / run_s, 1) if run_s > 0 else 0.0,
        }


def status_line(record: Mapping[str, Any], workers_total: int) -> str:
    """The printed form of one coordinator.jsonl line."""
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
    if "sim_t" in record:  # lock-step: simulated time and real-time factor
        parts.insert(1, f"sim={record['sim_t']:7.1f}s rtf={record['rtf']:5.2f}")
    in_r = record.get("shards_in_R")
    if in_r is not None and 0 < in_r < workers_total:
        parts[1] += f" ({in_r}/{workers_total} shards)"
    stalled = record.get("stalled")
    if stalled:
        parts.append(f"stalled={len(stalled)} [{', '.join(map(str, stalled))}]")
    quota = record.get("quota")
    if quota:
        parts.append(f"slots={quota['in_use']}/{quota['limit']}")
    return "  ".join(parts)
