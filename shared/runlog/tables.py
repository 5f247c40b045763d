"""Rows as text: the column sets of the gather tables, an aligned text or Markdown
table, a run's heading, and the machine outputs (CSV of every row, JSON of
everything the tables show plus merged histograms and warnings).

Everything returns a string or a dict; nothing prints and nothing writes files (the
command-line tools in ``coordinator.logtools`` do). Not here: computing the figures
(``rows``) or reading runs (``reading``).
"""

from __future__ import annotations

import csv
import io
from typing import Any, Callable, Mapping, Sequence

from shared.runlog.lines import HISTOGRAM_ATTRS
from shared.runlog.reading import Run, RunInfo
from shared.runlog.rows import comparison_row, merged_histogram, run_rows
from shared.runlog.schema import SCHEMA_VERSION
from shared.synchrony import SYNC_THRESHOLD

__all__ = ["Column", "SHARD_COLUMNS", "SHARD_LEGEND", "COMPARISON_COLUMNS", "CSV_CONTEXT",
           "show", "heading", "format_table", "rows_to_csv", "runs_to_json"]

Column = tuple[str, str, Callable[[Any], str]]
"""(row key, title, formatter of a present value)."""


def show(value: Any) -> str:
    """A value for a heading: "-" for None, whole floats without ".0"."""
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def heading(info: RunInfo) -> str:
    """``<run name>  workers=.. agents=.. grid=WxH period=..s limit=.. seed=.. exit=..``"""
    grid = f"{info.grid[0]}x{info.grid[1]}" if info.grid else "-"
    parts = [f"workers={show(info.workers)}", f"agents={show(info.agents)}",
             f"grid={grid}",
             f"period={show(info.period)}{'' if info.period is None else 's'}",
             f"limit={'none' if info.limit is None else info.limit}",
             f"seed={show(info.seed)}", f"exit={show(info.exit)}"]
    for r in info.recoveries:  # a lost shard taken over again: where, and what it cost
        gap = "replayed" if r.gap_s is None else f"gap {r.gap_s:.2f}s"
        parts.append(f"recovered=shard {r.shard} from {r.resumed_from_s:.2f}s ({gap})")
    return f"{info.name}  " + " ".join(parts)


def _fixed(digits: int) -> Callable[[Any], str]:
    return lambda v: f"{v:.{digits}f}"


def _ms(v: float) -> str:
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.0f}"


def _mib(v: float) -> str:
    return f"{v / 2**20:.1f}"


SHARD_COLUMNS: list[Column] = [
    ("shard", "shard", str),
    ("agents", "agents", str),
    ("fps_median", "fps_med", _fixed(1)),
    ("fps_min", "fps_min", _fixed(1)),
    ("frame_lateness_p99_ms", "frame_p99", _ms),
    ("flash_lateness_p50_ms", "flash_p50", _ms),
    ("flash_lateness_p99_ms", "flash_p99", _ms),
    ("flash_lateness_max_ms", "flash_max", _ms),
    ("edge_latency_p99_ms", "edge_p99", _ms),
    ("flashes", "flashes", str),
    ("edge_flashes_sent", "edge_sent", str),
    ("edge_flashes_received", "edge_recv", str),
    ("edge_flashes_dropped", "edge_drop", str),
    ("signals_ignored_refractory", "refr_ignored", str),
    ("malformed_rejected", "malformed", str),
    ("cpu_percent_median", "cpu%_med", _fixed(0)),
    ("rss_peak_bytes", "rss_MiB", _mib),
]
SHARD_LEGEND = ("latencies in ms; cpu%_med: median over intervals, 100 = one core; "
                "rss_MiB: peak; row 'all': percentiles of the merged histograms, "
                "counters summed, cpu% and rss summed over shards")

COMPARISON_COLUMNS: list[Column] = [
    ("run", "run", str),
    ("exit", "exit", str),
    ("workers", "workers", str),
    ("agents", "agents", str),
    ("period_s", "period_s", show),
    ("limit", "limit", str),
    ("fps_min", "fps_min", _fixed(1)),
    ("flash_lateness_p99_ms", "flash_p99_ms", _ms),
    ("flashes_per_s", "flashes/s", _fixed(1)),
    ("time_to_sync_s", f"T_R{SYNC_THRESHOLD:g}_s", _fixed(2)),
]


def _cell(row: Mapping[str, Any], key: str, fmt: Callable[[Any], str]) -> str:
    value = row.get(key)
    if key == "limit" and value is None:
        return "none"
    if key == "time_to_sync_s" and value is None:
        return "never" if row.get("time_to_sync_source") else "-"
    return "-" if value is None else fmt(value)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column],
                 style: str = "text") -> str:
    """Rows as an aligned text table or a Markdown table (numbers right-aligned)."""
    head = [title for _, title, _ in columns]
    body = [[_cell(row, key, fmt) for key, _, fmt in columns] for row in rows]
    left = [key == "run" for key, _, _ in columns]
    if style == "markdown":
        rule = ["---" if is_left else "---:" for is_left in left]
        return "\n".join("| " + " | ".join(cells) + " |" for cells in [head, rule, *body])
    if style != "text":
        raise ValueError(f"style(={style!r}) must be 'text' or 'markdown'")
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = []
    for cells in [head, *body]:
        lines.append("  ".join(c.ljust(w) if is_left else c.rjust(w)
                               for c, w, is_left in zip(cells, widths, left)).rstrip())
    return "\n".join(lines)


CSV_CONTEXT = ("run", "path", "shard", "workers", "period_s", "limit", "seed", "since", "until")


def _csv_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    out = []
    for run in runs:
        context = {"run": run.name, "path": str(run.path), "workers": run.info.workers,
                   "period_s": run.info.period, "limit": run.info.limit,
                   "seed": run.info.seed, "since": run.since, "until": run.until}
        for row in run_rows(run):
            out.append({**context, **row,
                        "time_to_sync_s": run.time_to_sync_s if row["shard"] == "all" else None})
    return out


def rows_to_csv(runs: Sequence[Run]) -> str:
    """Every shard row and run row of every run, one CSV table (empty cell = no data)."""
    rows = _csv_rows(runs)
    names = list(CSV_CONTEXT) + [k for k in rows[0] if k not in CSV_CONTEXT] if rows else []
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def runs_to_json(runs: Sequence[Run]) -> dict[str, Any]:
    """Everything the tables show, plus the run's merged histograms and warnings."""
    out = []
    for run in runs:
        pooled = [x for lines in run.shard_lines.values() for x in lines]
        out.append({
            "run": run.name, "path": str(run.path), "info": run.info.as_dict(),
            "window": {"since": run.since, "until": run.until},
            "rows": run_rows(run), "comparison": comparison_row(run),
            "histograms": {key: merged_histogram(pooled, attr).to_dict()
                           for key, attr in HISTOGRAM_ATTRS.items()},
            "warnings": list(run.warnings),
        })
    return {"schema": SCHEMA_VERSION, "runs": out}
