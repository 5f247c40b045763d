"""The shard's frame loop: telemetry at ``--fps`` and one log line per interval.

Frame f is due at sim time f / fps. Each frame measures how late it started
(``frame_lateness_ms``), computes the shard's partial order parameter Z_s over all its
agents (numpy over the agents' epoch array, zero-copy), and ships
``frame [shard, f, t, Re Z_s, Im Z_s, N_s, flashed cells]`` to the coordinator. A frame
that is more than one period late is skipped, not queued: ``fps`` then shows it.
When the coordinator shows the live view, a frame is followed, every
``PHASE_INTERVAL_S``, by ``phases [shard, f, t, one byte per sampled agent]``
(``phases``: which agents, and the encoding).
Every ``report_interval`` seconds the loop appends a JSON line to the shard log
(``shared.runlog.schema.shard_log(K)``, docs/logs.md) and sends the same line to the
coordinator. Not here: the metrics themselves (``metrics``), the quota (``quota``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import math
from array import array
from typing import IO, Any

import zmq

from shared import protocol
from shared.clock import Clock
from shared.runlog.schema import SCHEMA_VERSION
from shared.synchrony import PartialOrder
from shared.zmqio import send_nowait

from .agents import ShardAgents
from .collector import Collector
from .metrics import ShardMetrics
from .phases import PhaseSampler
from .quota import ShardQuota

__all__ = ["FrameLoop"]

log = logging.getLogger(__name__)


class FrameLoop:
    """Runs until ``stop`` is set; the caller then writes the final partial interval
    with ``report(now, final=True)`` once the agents have stopped."""

    def __init__(self, clock: Clock, agents: ShardAgents, metrics: ShardMetrics,
                 telemetry: zmq.Socket, log_file: IO[str], *, fps: float,
                 report_interval: float, collector: Collector,
                 quota: ShardQuota | None = None, phases: PhaseSampler | None = None,
                 start: float = 0.0) -> None:
        self.clock = clock
        self.agents = agents
        self.metrics = metrics
        self.telemetry = telemetry
        self.log_file = log_file
        self.fps = fps
        self.report_interval = report_interval
        self.quota = quota
        self.shard = agents.layout.shard.index
        self.telemetry_dropped = 0
        self.frames_skipped = 0
        self.collector = collector
        self.phases = phases  # the live view's phase samples; None: not asked for
        self.start = start  # sim time of the first frame's due (a replacement starts late)
        # Z_s each frame, recomputing only the agents whose epoch changed
        self.order = PartialOrder(agents.epoch_view, agents.period)

    async def run(self, stop: asyncio.Event) -> None:
        clock, fps = self.clock, self.fps
        frame = math.floor(self.start * fps) + 1
        next_report = self.start + self.report_interval
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                due = frame / fps
                delay = due - clock.now()
                if delay > 0:
                    await asyncio.wait([stopper], timeout=delay)
                    if stop.is_set():
                        break
                now = clock.now()
                self.metrics.frame_lateness.record((now - due) * 1000.0)
                self.send_frame(frame, now)
                self.metrics.frames += 1
                frame += 1
                behind = math.floor(now * fps) + 1
                if behind > frame:  # more than a frame late: skip, don't queue up
                    self.frames_skipped += behind - frame
                    frame = behind
                if now >= next_report:
                    self.report(now)
                    next_report += self.report_interval
                    if next_report <= now:
                        next_report = now + self.report_interval
        finally:
            stopper.cancel()

    def send_frame(self, frame: int, now: float) -> None:
        """Ship frame ``frame`` at sim time ``now``: Z_s and the cells flashed since."""
        zre, zim = self.order.at(now)
        flashed = protocol.pack_cells(array("i", self.agents.take_flashed()))
        message = protocol.encode("frame", self.shard, frame, now, zre, zim, self.agents.n, flashed)
        if not send_nowait(self.telemetry, message):
            self.telemetry_dropped += 1
        if self.phases is not None and self.phases.due(now):
            message = protocol.encode("phases", self.shard, frame, now, self.phases.sample(now))
            if not send_nowait(self.telemetry, message):
                self.telemetry_dropped += 1

    def report(self, now: float, *, final: bool = False,
               more: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write (and send) one shard log line covering the interval since the last."""
        self.collector.tend()  # the young generation, only if it piled up (docs/worker.md)
        quota = self.quota.report(self.metrics.counters) if self.quota is not None else None
        interval = self.metrics.take_interval()
        line: dict[str, Any] = {
            "v": SCHEMA_VERSION,
            "shard": self.shard,
            "t": round(now, 3),
            "interval_s": round(interval.pop("interval_s"), 3),
            "agents": self.agents.n,
        }
        line["fps"] = round(interval["frames"] / line["interval_s"], 2) if line["interval_s"] else 0.0
        line.update(interval)
        line["links"] = {
            str(s): {"sent": self.metrics.links_sent[s], "received": self.metrics.links_received[s],
                     "dropped": self.metrics.links_dropped[s]}
            for s in self.metrics.links_sent
        }
        line["link_gaps"] = self.metrics.link_gaps
        line["telemetry_dropped"] = self.telemetry_dropped
        line["frames_skipped"] = self.frames_skipped
        line["process"]["gc_ms"] = round(self.collector.take_ms(), 3)
        line["process"]["gc_young"] = gc.get_count()[0]
        if final:
            line["final"] = True  # the partial interval up to the stop
        if more:
            line.update(more)
        if quota is not None:
            line["quota"] = quota
        self.log_file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self.log_file.flush()
        if not send_nowait(self.telemetry, protocol.encode("report", self.shard, line)):
            self.telemetry_dropped += 1
        return line
