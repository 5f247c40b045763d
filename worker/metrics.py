"""A shard's counters, histograms and process figures for one reporting interval.

Counters are plain int attributes (``counters.flashes += 1`` on the hot path costs
what an attribute store costs). :meth:`ShardMetrics.take_interval` returns the deltas
and histograms since the previous call and starts new ones, so each shard log line
covers exactly its own interval and lines add up.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, fields
from typing import Any

import psutil

from shared.histogram import Histogram

__all__ = ["Counters", "ShardMetrics", "LoopBusyMeter", "COUNTER_NAMES"]


@dataclass(slots=True)
class Counters:
    flashes: int = 0
    local_signals: int = 0
    edge_flashes_sent: int = 0
    edge_flashes_received: int = 0
    edge_flashes_dropped: int = 0
    signals_ignored_refractory: int = 0
    quota_waits: int = 0
    malformed_rejected: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


COUNTER_NAMES = tuple(f.name for f in fields(Counters))


class LoopBusyMeter:
    """Fraction of wall time the event loop spends outside its selector's select():
    i.e. running callbacks. Wraps the selector of a default (selector) event loop;
    reports None on loops it cannot instrument (e.g. uvloop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.idle = 0.0
        selector = getattr(loop, "_selector", None)
        self.supported = selector is not None
        if not self.supported:
            return
        original = selector.select
        clock = time.perf_counter

        def select(timeout: float | None = None) -> Any:
            start = clock()
            try:
                return original(timeout)
            finally:
                self.idle += clock() - start

        selector.select = select  # type: ignore[method-assign]


class ShardMetrics:
    """Everything a shard log line reports, with interval bookkeeping."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.counters = Counters()
        self.flash_lateness = Histogram()
        self.frame_lateness = Histogram()
        self.edge_latency = Histogram()
        self.links_sent: dict[int, int] = {}
        self.links_received: dict[int, int] = {}
        self.links_dropped: dict[int, int] = {}
        self.link_gaps = 0
        self.frames = 0
        self.totals = Counters()
        self._previous = Counters()
        self._process = psutil.Process(os.getpid())
        self._cpu = self._cpu_seconds()
        self._wall = time.monotonic()
        self._busy = LoopBusyMeter(loop)
        self._idle = 0.0
        self.peak_rss = 0

    def begin(self, t0: float) -> None:
        """Start the first interval at monotonic time ``t0`` (the start barrier), so
        set-up time is not counted against the first line's fps and CPU."""
        self._wall = t0
        self._cpu = self._cpu_seconds()
        self._idle = self._busy.idle
        self.frame_lateness = Histogram()
        self.flash_lateness = Histogram()
        self.edge_latency = Histogram()
        self.frames = 0

    def _cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return times.user + times.system

    def take_interval(self) -> dict[str, Any]:
        """Deltas, histograms and process figures since the last call."""
        now_counters = self.counters.as_dict()
        previous = self._previous.as_dict()
        deltas = {k: now_counters[k] - previous[k] for k in now_counters}
        self._previous = Counters(**now_counters)
        wall = time.monotonic()
        cpu = self._cpu_seconds()
        elapsed = max(wall - self._wall, 1e-9)
        rss = self._process.memory_info().rss
        self.peak_rss = max(self.peak_rss, rss)
        process: dict[str, Any] = {
            "cpu_percent": round(100.0 * (cpu - self._cpu) / elapsed, 1),
            "rss_bytes": rss,
            "loop_busy": None,
        }
        if self._busy.supported:
            idle = self._busy.idle - self._idle
            process["loop_busy"] = round(min(1.0, max(0.0, 1.0 - idle / elapsed)), 3)
            self._idle = self._busy.idle
        self._wall, self._cpu = wall, cpu
        out = {
            "frames": self.frames,
            "interval_s": elapsed,
            "frame_lateness_ms": self.frame_lateness.to_dict(),
            "flash_lateness_ms": self.flash_lateness.to_dict(),
            "edge_latency_ms": self.edge_latency.to_dict(),
            "counters": deltas,
            "process": process,
        }
        self.frames = 0
        self.flash_lateness = Histogram()
        self.frame_lateness = Histogram()
        self.edge_latency = Histogram()
        return out
