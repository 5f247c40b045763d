"""The coordinator's interval lines: one ``coordinator.jsonl`` line per report interval
(docs/logs.md), and the status line printed with each: :class:`IntervalLines`.

A line is the aggregator's figures for the interval, plus what only the coordinator
knows: the messages its sockets rejected, the quota, and in lock-step the slowest
shard's simulated time and the real-time factor since the line before. The last line
of a run (``final``) is written after the workers stopped; its frame rate and lateness
span the shut-down, so it gives neither, and nothing is printed for it (the summary
line follows). Not here: the figures themselves (``aggregator``), the file
(``records``).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .aggregator import Aggregator, status_line
from .config import RunConfig
from .quota_desk import QuotaDesk
from .records import RunRecords

__all__ = ["IntervalLines"]


class IntervalLines:
    """The lines of one run generation; ``out`` prints a status line. After a restart,
    ``since`` is the run time of the line before this generation's first, and
    ``sim_since`` the simulated time the generation starts from."""

    def __init__(self, config: RunConfig, out: Callable[[str], None], *, since: float = 0.0,
                 sim_since: float = 0.0) -> None:
        self.config = config
        self._out = out
        self.last: dict[str, Any] = {}  # the newest line
        self.t = since  # its run time
        self._sim_progress = (sim_since, since)  # lock-step: (sim time, wall t) at the last line

    def write(self, t: float, *, aggregator: Aggregator, present: Sequence[int], malformed: int,
              desk: QuotaDesk | None, records: RunRecords, final: bool = False) -> None:
        """The line for the interval ending at run time ``t``; ``present``: the shards
        still in the run."""
        record = aggregator.interval(t, len(present))
        self.t = t
        if final:
            record.update(final=True, min_fps=None, worst_p99_flash_lateness_ms=None)
        if malformed:
            record["malformed_rejected"] = malformed
        if desk is not None:
            record["quota"] = desk.interval_fields(self.config.report_interval)
        if self.config.clock == "lockstep":
            shards = list(present) or list(aggregator.last_t)  # final: all have left
            sim_t = min((aggregator.last_t.get(k, 0.0) for k in shards), default=0.0)
            last_sim, last_wall = self._sim_progress
            record["sim_t"] = round(sim_t, 3)
            record["rtf"] = round((sim_t - last_sim) / max(t - last_wall, 1e-9), 3)
            self._sim_progress = (sim_t, t)
        records.write_interval(record)
        if not final:
            self._out(status_line(record, self.config.workers))
        self.last = record
