"""Reduce a read :class:`~shared.runlog.reading.Run` to rows of figures: one per shard,
one for the whole run (shard ``"all"``), and one comparison row per run.

Run percentiles come from histograms merged over shards and intervals, never from
averaged percentiles; run counters are sums over the counter list of
:mod:`shared.runlog.schema`. A row is a plain dict (key -> number, or None for "no
data"), so it goes unchanged into a table, a CSV file or JSON.

Not here: reading files (``reading``), formatting (``tables``).
"""

from __future__ import annotations

import statistics
from typing import Any, Sequence

from shared.histogram import Histogram
from shared.runlog.lines import ShardLine
from shared.runlog.reading import Run
from shared.runlog.schema import COUNTERS

__all__ = ["merged_histogram", "run_rows", "comparison_row"]


def merged_histogram(lines: Sequence[ShardLine], attr: str) -> Histogram:
    """A fresh histogram holding the counts of ``attr`` (a ShardLine histogram
    attribute, e.g. "flash_lateness") over all ``lines``."""
    total = Histogram()
    for line in lines:
        hist = getattr(line, attr)
        if hist is not None:
            total.merge(hist)
    return total


def _pct(hist: Histogram, q: float) -> float | None:
    return round(hist.percentile(q), 6) if hist.count else None


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 6) if values else None


def _metrics(lines: Sequence[ShardLine]) -> dict[str, Any]:
    """The figures of a group of lines (one shard's, or all shards' pooled)."""
    fps = [x.fps for x in lines if x.fps is not None]
    flash = merged_histogram(lines, "flash_lateness")
    out: dict[str, Any] = {
        "lines": len(lines),
        "seconds": (round(max(x.t for x in lines) - min(x.t - x.interval_s for x in lines), 6)
                    if lines else 0.0),
        "fps_median": _median(fps),
        "fps_min": min(fps) if fps else None,
        "frame_lateness_p99_ms": _pct(merged_histogram(lines, "frame_lateness"), 0.99),
        "flash_lateness_p50_ms": _pct(flash, 0.50),
        "flash_lateness_p99_ms": _pct(flash, 0.99),
        "flash_lateness_max_ms": round(flash.max, 6) if flash.count else None,
        "edge_latency_p99_ms": _pct(merged_histogram(lines, "edge_latency"), 0.99),
    }
    for name in COUNTERS:
        out[name] = sum(x.counters.get(name, 0) for x in lines)
    out["flashes_per_s"] = round(out["flashes"] / out["seconds"], 3) if out["seconds"] else None
    return out


def _process(lines: Sequence[ShardLine]) -> dict[str, Any]:
    rss = [x.rss_bytes for x in lines if x.rss_bytes is not None]
    return {
        "cpu_percent_median": _median([x.cpu_percent for x in lines if x.cpu_percent is not None]),
        "loop_busy_median": _median([x.loop_busy for x in lines if x.loop_busy is not None]),
        "rss_peak_bytes": max(rss) if rss else None,
    }


def _total(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present), 6) if present else None


def run_rows(run: Run) -> list[dict[str, Any]]:
    """One row per shard listed in run.json, then the run row (shard "all").

    The run row pools every line: FPS median/min over all shard-intervals,
    percentiles from the merged histograms, counters summed. Its CPU % and peak RSS
    are the sums of the shards' (CPU of all workers, 100 = one core; an upper bound
    of their joint memory)."""
    rows = []
    for shard, lines in run.shard_lines.items():
        agents = run.info.shards.get(shard)
        if agents is None:
            agents = next((x.agents for x in reversed(lines) if x.agents is not None), None)
        rows.append({"run": run.name, "shard": shard, "agents": agents,
                     **_metrics(lines), **_process(lines)})
    pooled = [x for lines in run.shard_lines.values() for x in lines]
    total = {"run": run.name, "shard": "all",
             "agents": run.info.agents if run.info.agents is not None
             else _total([r["agents"] for r in rows]),
             **_metrics(pooled)}
    total["cpu_percent_median"] = _total([r["cpu_percent_median"] for r in rows])
    total["loop_busy_median"] = _median([x.loop_busy for x in pooled if x.loop_busy is not None])
    total["rss_peak_bytes"] = _total([r["rss_peak_bytes"] for r in rows])
    if total["rss_peak_bytes"] is not None:
        total["rss_peak_bytes"] = int(total["rss_peak_bytes"])
    rows.append(total)
    return rows


def comparison_row(run: Run) -> dict[str, Any]:
    """One line of the comparison between runs."""
    total = run_rows(run)[-1]
    info = run.info
    return {
        "run": run.name, "exit": info.exit, "workers": info.workers, "agents": info.agents,
        "period_s": info.period, "limit": info.limit, "fps_min": total["fps_min"],
        "flash_lateness_p99_ms": total["flash_lateness_p99_ms"],
        "flashes_per_s": total["flashes_per_s"],
        "time_to_sync_s": run.time_to_sync_s, "time_to_sync_source": run.time_to_sync_source,
    }
