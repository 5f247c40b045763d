"""A shard's counters, histograms and process figures for one reporting interval.

Counters are ``shared.runlog.schema.Counters`` (plain slotted int attributes:
``counters.flashes += 1`` on the hot path costs what an attribute store costs; the
field names are the log's ``counters`` keys). :meth:`ShardMetrics.take_interval`
returns the deltas and histograms since the previous call and starts new ones, so each
shard log line covers exactly its own interval and lines add up.

Not here: writing the line (``frames``), the loop's busy time (``busy``).
"""

from __future__ import annotations

import os
import time
from typing import Any

import psutil

from shared.histogram import Histogram
from shared.runlog.schema import Counters

from .busy import TimingSelector

__all__ = ["ShardMetrics"]


class ShardMetrics:
    """Everything a shard log line reports, with interval bookkeeping.

    ``busy`` is the TimingSelector of the loop the shard runs on; without one
    (uvloop, tests) ``process.loop_busy`` is ``None``."""

    def __init__(self, busy: TimingSelector | None = None) -> None:
        self.counters = Counters()
        self.flash_lateness = Histogram()
        self.frame_lateness = Histogram()
        self.edge_latency = Histogram()
        self.link_latency: dict[int, Histogram] = {}  # per neighbour; merged into edge_latency
        self.clock: dict[str, float] | None = None  # a joined worker's clock offset figures
        self.resumed_from: float | None = None  # lock-step: the checkpoint's time, first line only
        self.links_sent: dict[int, int] = {}
        self.links_received: dict[int, int] = {}
        self.links_dropped: dict[int, int] = {}
        self.link_gaps = 0
        self.frames = 0
        self._previous = Counters()
        self._process = psutil.Process(os.getpid())
        self._cpu = self._cpu_seconds()
        self._wall = time.monotonic()
        self._busy = busy
        self._idle = busy.idle if busy is not None else 0.0
        self.peak_rss = 0

    def begin(self, t0: float) -> None:
        """Start the first interval at monotonic time ``t0`` (the start barrier), so
        set-up time is not counted against the first line's fps and CPU."""
        self._wall = t0
        self._cpu = self._cpu_seconds()
        if self._busy is not None:
            self._idle = self._busy.idle
        self.frame_lateness = Histogram()
        self.flash_lateness = Histogram()
        self.edge_latency = Histogram()
        self._new_link_latencies()
        self.frames = 0

    def _new_link_latencies(self) -> None:
        for shard in self.link_latency:
            self.link_latency[shard] = Histogram()

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
        if self._busy is not None:
            idle = self._busy.idle - self._idle
            process["loop_busy"] = round(min(1.0, max(0.0, 1.0 - idle / elapsed)), 3)
            self._idle = self._busy.idle
        self._wall, self._cpu = wall, cpu
        for link in self.link_latency.values():
            self.edge_latency.merge(link)
        out = {
            "frames": self.frames,
            "interval_s": elapsed,
            "frame_lateness_ms": self.frame_lateness.to_dict(),
            "flash_lateness_ms": self.flash_lateness.to_dict(),
            "edge_latency_ms": self.edge_latency.to_dict(),
            "counters": deltas,
            "process": process,
        }
        if self.link_latency:
            out["link_latency_ms"] = {str(s): {**h.summary(), "count": h.count}
                                      for s, h in sorted(self.link_latency.items())}
        if self.clock is not None:
            out["clock"] = self.clock
        if self.resumed_from is not None:  # marks where a resumed or restarted run begins
            out["resumed_from_s"], self.resumed_from = self.resumed_from, None
        self.frames = 0
        self.flash_lateness = Histogram()
        self.frame_lateness = Histogram()
        self.edge_latency = Histogram()
        self._new_link_latencies()
        return out
