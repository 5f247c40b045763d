"""Read Cascade run directories and turn their per-shard logs into tables.

A run directory (docs/logs.md) is a flight recorder: ``run.json`` says what was flown,
each ``shard-<K>.jsonl`` holds one line per reporting interval from worker K,
``coordinator.jsonl`` the global R(t), and ``summary.json`` the end of the flight.
This module reads such a directory robustly (a crash leaves a truncated last line; a
newer simulator may add fields), cuts a time window, and reduces the lines to rows:
one per shard and one for the whole run. Run percentiles come from histograms merged
over shards and seconds, never from averaged percentiles; run counters are sums.

It is not a live monitor and not a plotting library: ``gather_logs.py`` prints the
rows and ``plot_run.py`` draws them. Nothing here prints; problems in the input are
collected as one-line messages in ``Run.warnings``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from shared.histogram import Histogram

__all__ = [
    "COMPARISON_COLUMNS",
    "CoordLine",
    "NotARunError",
    "Run",
    "RunInfo",
    "RunLogError",
    "SHARD_COLUMNS",
    "ShardLine",
    "SYNC_THRESHOLD",
    "comparison_row",
    "format_table",
    "merged_histogram",
    "read_run",
    "rows_to_csv",
    "run_rows",
    "runs_to_json",
    "time_to_sync",
]

SCHEMA_VERSION = 1
SYNC_THRESHOLD = 0.9  # DESIGN §4: synchronised when R >= 0.9 holds for a full period

COUNTERS = (
    "flashes",
    "local_signals",
    "edge_flashes_sent",
    "edge_flashes_received",
    "edge_flashes_dropped",
    "signals_ignored_refractory",
    "quota_waits",
    "malformed_rejected",
)
HISTOGRAMS = {  # log field -> ShardLine attribute
    "frame_lateness_ms": "frame_lateness",
    "flash_lateness_ms": "flash_lateness",
    "edge_latency_ms": "edge_latency",
}
_PROCESS_FIELDS = ("cpu_percent", "rss_bytes", "loop_busy", "gc_ms", "gc_young")


class RunLogError(Exception):
    """Base of the errors this module raises about its input."""


class NotARunError(RunLogError):
    """The path is not a run directory: missing, not a directory, or no readable
    ``run.json``. Problems inside the logs of a real run are warnings, not this."""


# ---------------------------------------------------------------------------- lines


@dataclass(frozen=True)
class ShardLine:
    """One reporting interval of one shard; ``t`` is the end of the interval."""

    t: float
    interval_s: float
    agents: int | None
    fps: float | None
    frames: int | None
    frame_lateness: Histogram | None
    flash_lateness: Histogram | None
    edge_latency: Histogram | None
    counters: Mapping[str, int]
    cpu_percent: float | None
    rss_bytes: int | None
    loop_busy: float | None


@dataclass(frozen=True)
class CoordLine:
    """One reporting interval of the coordinator."""

    t: float
    R: float | None
    R_series: tuple[tuple[float, float], ...]
    flashes_per_s: float | None


class _BadField(ValueError):
    pass


def _number(value: Any, name: str, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _BadField(f"{name}={_clip(value)} is not a finite number")
    if minimum is not None and value < minimum:
        raise _BadField(f"{name}={value} is below {minimum}")
    return float(value)


def _count(value: Any, name: str) -> int:
    number = _number(value, name, minimum=0)
    if not number.is_integer():
        raise _BadField(f"{name}={value} is not a whole number")
    return int(number)


def _histogram(value: Any, name: str) -> Histogram:
    try:
        return Histogram.from_dict(value)
    except ValueError as exc:
        raise _BadField(f"{name}: {exc}") from None


def _clip(value: Any, width: int = 30) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= width else text[: width - 3] + "..."


class _FileReport:
    """Problems found in one file, reported as one line per kind of problem."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.skipped: dict[str, list[tuple[int, str]]] = {}
        self.fields: dict[tuple[str, str], list[int]] = {}  # (what, field) -> lines
        self.pending: list[tuple[str, str, int]] = []  # notes of the line being read

    def skip(self, lineno: int, kind: str, detail: str = "") -> None:
        self.pending.clear()  # a skipped line is reported once, as skipped
        self.skipped.setdefault(kind, []).append((lineno, detail))

    def note(self, what: str, name: str, lineno: int) -> None:
        self.pending.append((what, name, lineno))

    def keep(self) -> None:
        """The line being read is kept: its notes count."""
        for what, name, lineno in self.pending:
            self.fields.setdefault((what, name), []).append(lineno)
        self.pending.clear()

    def messages(self) -> list[str]:
        out = []
        for kind, items in self.skipped.items():
            numbers = [n for n, _ in items]
            detail = items[0][1]
            if kind == "truncated":
                out.append(f"{self.label}: line {numbers[0]} truncated, skipped")
            elif len(items) == 1:
                out.append(f"{self.label}: line {numbers[0]} {kind} ({detail}), skipped")
            else:
                out.append(
                    f"{self.label}: lines {_ranges(numbers)} {kind} "
                    f"({len(items)} lines; first: {detail}), skipped"
                )
        groups: dict[tuple[str, tuple[int, ...]], list[str]] = {}  # same lines: one message
        for (what, name), numbers in self.fields.items():
            groups.setdefault((what, tuple(numbers)), []).append(name)
        for (what, numbers), names in groups.items():
            where = f"line {numbers[0]}" if len(numbers) == 1 else f"lines {_ranges(numbers)}"
            quoted = ", ".join(f"'{name}'" for name in sorted(names))
            plural = "s" if len(names) > 1 else ""
            if what == "unknown":
                out.append(f"{self.label}: unknown field{plural} {quoted} ignored ({where})")
            elif what == "missing":
                out.append(f"{self.label}: field{plural} {quoted} missing ({where})")
            else:
                out.append(
                    f"{self.label}: schema version {', '.join(names)} is newer than "
                    f"{SCHEMA_VERSION} ({where}); reading the fields this script knows"
                )
        return out


def _ranges(numbers: Sequence[int], limit: int = 4) -> str:
    """[1, 2, 3, 7, 9, 10] -> '1-3, 7, 9-10' (at most ``limit`` ranges, then '...')."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    text = [f"{a}" if a == b else f"{a}-{b}" for a, b in spans[:limit]]
    return ", ".join(text) + (", ..." if len(spans) > limit else "")


def _json_lines(path: Path, report: _FileReport) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each parseable line; problems go to ``report``.

    A last line without its newline that does not parse is a truncated write (the
    writer flushes whole lines, so only a crash or a live run leaves one)."""
    data = path.read_bytes()
    complete = data.endswith(b"\n")
    lines = data.split(b"\n")
    if complete:
        lines.pop()
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            if lineno == len(lines) and not complete:
                report.skip(lineno, "truncated")
            else:
                report.skip(lineno, "malformed", _json_error(exc))
            continue
        if not isinstance(obj, dict):
            report.skip(lineno, "malformed", f"a JSON {type(obj).__name__}, not an object")
            continue
        yield lineno, obj


def _json_error(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    return str(exc)[:60]


def _check_version(obj: Mapping[str, Any], lineno: int, report: _FileReport) -> None:
    if "v" not in obj:
        report.note("missing", "v", lineno)
        return
    version = _count(obj["v"], "v")
    if version > SCHEMA_VERSION:
        report.note("version", str(version), lineno)


_SHARD_DIAGNOSTICS = {"links", "link_gaps", "telemetry_dropped", "frames_skipped", "final",
                      "agents_failed", "agents_without_flash", "agent_flashes_min"}
_SHARD_TOP = {"v", "shard", "t", "interval_s", "agents", "fps", "frames", "counters",
              "process", "quota", *HISTOGRAMS, *_SHARD_DIAGNOSTICS}
# quota only with --limit; v checked apart; diagnostics are optional
_SHARD_EXPECTED = _SHARD_TOP - {"v", "quota"} - _SHARD_DIAGNOSTICS


def _shard_line(obj: Mapping[str, Any], shard: int, lineno: int,
                report: _FileReport) -> ShardLine:
    """Validate one shard line; raises _BadField when it must be skipped."""
    _check_version(obj, lineno, report)
    for name in obj.keys() - _SHARD_TOP:
        report.note("unknown", name, lineno)
    for name in sorted(_SHARD_EXPECTED - obj.keys() - {"t"}):
        report.note("missing", name, lineno)
    if "t" not in obj:
        raise _BadField("no 't'")
    if "shard" in obj and _count(obj["shard"], "shard") != shard:
        raise _BadField(f"shard={obj['shard']} in the file of shard {shard}")
    get = obj.get
    hists = {attr: _histogram(obj[key], key) if key in obj else None
             for key, attr in HISTOGRAMS.items()}
    process = get("process", {})
    if not isinstance(process, dict):
        raise _BadField(f"process={_clip(process)} is not an object")
    for name in process.keys() - set(_PROCESS_FIELDS):
        report.note("unknown", f"process.{name}", lineno)
    return ShardLine(
        t=_number(obj["t"], "t"),
        interval_s=_number(get("interval_s", 1.0), "interval_s", minimum=1e-9),
        agents=_count(obj["agents"], "agents") if "agents" in obj else None,
        # The final line covers the moments up to the stop: too short for a rate.
        fps=_number(obj["fps"], "fps", minimum=0) if "fps" in obj and not get("final") else None,
        frames=_count(obj["frames"], "frames") if "frames" in obj else None,
        counters=_counters(get("counters", {}), lineno, report),
        cpu_percent=(_number(process["cpu_percent"], "process.cpu_percent", minimum=0)
                     if "cpu_percent" in process else None),
        rss_bytes=(_count(process["rss_bytes"], "process.rss_bytes")
                   if "rss_bytes" in process else None),
        loop_busy=(_number(process["loop_busy"], "process.loop_busy", minimum=0)
                   if "loop_busy" in process else None),
        **hists,
    )


def _counters(value: Any, lineno: int, report: _FileReport) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _BadField(f"counters={_clip(value)} is not an object")
    out = {}
    for name, n in value.items():
        if name not in COUNTERS:
            report.note("unknown", f"counters.{name}", lineno)
            continue
        out[name] = _count(n, f"counters.{name}")
    return out


_COORD_TOP = {"v", "t", "R", "R_series", "flashes_per_s", "min_fps",
              "worst_p99_flash_lateness_ms", "workers_alive", "quota"}


def _coord_line(obj: Mapping[str, Any], lineno: int, report: _FileReport) -> CoordLine:
    _check_version(obj, lineno, report)
    for name in obj.keys() - _COORD_TOP:
        report.note("unknown", name, lineno)
    if "t" not in obj:
        raise _BadField("no 't'")
    series = obj.get("R_series", [])
    if not isinstance(series, list):
        raise _BadField(f"R_series={_clip(series)} is not a list")
    points = []
    for point in series:
        if not (isinstance(point, list) and len(point) == 2):
            raise _BadField(f"R_series point {_clip(point)} is not [t, R]")
        points.append((_number(point[0], "R_series t"), _number(point[1], "R_series R")))
    return CoordLine(
        t=_number(obj["t"], "t"),
        R=_number(obj["R"], "R") if "R" in obj else None,
        R_series=tuple(points),
        flashes_per_s=(_number(obj["flashes_per_s"], "flashes_per_s")
                       if "flashes_per_s" in obj else None),
    )


def _read_lines(path: Path, label: str, parse: Callable[[dict, int, _FileReport], Any],
                warnings: list[str]) -> list[Any]:
    report = _FileReport(label)
    out = []
    try:
        for lineno, obj in _json_lines(path, report):
            try:
                out.append(parse(obj, lineno, report))
                report.keep()
            except _BadField as exc:
                report.skip(lineno, "invalid", str(exc))
    except OSError as exc:
        warnings.append(f"{label}: unreadable ({exc.strerror}), skipped")
        return []
    if not out and not report.skipped:
        warnings.append(f"{label}: empty")
    warnings.extend(report.messages())
    return out


# ------------------------------------------------------------------------------ run


@dataclass(frozen=True)
class RunInfo:
    """What ``run.json`` says about a run (None where it does not say)."""

    name: str
    workers: int | None
    agents: int | None
    grid: tuple[int, int] | None
    period: float | None
    limit: int | None
    seed: int | None
    fps_target: float | None
    shards: Mapping[int, int | None]  # shard -> cells
    exit: str | None = None  # from summary.json

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "workers": self.workers, "agents": self.agents,
            "grid": list(self.grid) if self.grid else None, "period_s": self.period,
            "limit": self.limit, "seed": self.seed, "fps_target": self.fps_target,
            "shards": sorted(self.shards), "exit": self.exit,
        }

    def heading(self) -> str:
        grid = f"{self.grid[0]}x{self.grid[1]}" if self.grid else "-"
        parts = [f"workers={_show(self.workers)}", f"agents={_show(self.agents)}",
                 f"grid={grid}",
                 f"period={_show(self.period)}{'' if self.period is None else 's'}",
                 f"limit={'none' if self.limit is None else self.limit}",
                 f"seed={_show(self.seed)}", f"exit={_show(self.exit)}"]
        return f"{self.name}  " + " ".join(parts)


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Run:
    """A read run: its info, its lines (possibly cut to a window) and the problems met.

    ``time_to_sync_s`` always describes the whole run, whatever the window."""

    path: Path
    info: RunInfo
    shard_lines: Mapping[int, Sequence[ShardLine]]
    coordinator: Sequence[CoordLine]
    time_to_sync_s: float | None
    time_to_sync_source: str | None  # "summary", "R_series", "R" or None (no data)
    warnings: Sequence[str] = field(default_factory=tuple)
    since: float | None = None
    until: float | None = None

    @property
    def name(self) -> str:
        return self.info.name

    def window(self, since: float | None = None, until: float | None = None) -> "Run":
        """The run cut to lines with ``since < t <= until`` (``t`` ends an interval, so
        ``--until 10`` and ``--since 10`` split a run without overlap)."""
        if since is not None and until is not None and since >= until:
            raise ValueError(f"since(={since}) must be < until(={until})")

        def keep(t: float) -> bool:
            return (since is None or t > since) and (until is None or t <= until)

        coordinator = []
        for line in self.coordinator:  # R_series points are cut on their own t
            points = tuple(p for p in line.R_series if keep(p[0]))
            if points or keep(line.t):
                coordinator.append(replace(line, R_series=points))
        return replace(
            self,
            shard_lines={k: [x for x in v if keep(x.t)] for k, v in self.shard_lines.items()},
            coordinator=coordinator,
            since=since,
            until=until,
        )

    def r_points(self) -> list[tuple[float, float]]:
        """R(t) from the coordinator's R_series, falling back to its per-line R."""
        return _r_points(self.coordinator)[0]


def _r_points(lines: Sequence[CoordLine]) -> tuple[list[tuple[float, float]], str | None]:
    points: list[tuple[float, float]] = []
    series_used = False
    for line in lines:
        if line.R_series:
            points.extend(line.R_series)
            series_used = True
        elif line.R is not None:
            points.append((line.t, line.R))
    points.sort()
    if not points:
        return points, None
    return points, "R_series" if series_used else "R"


def time_to_sync(points: Sequence[tuple[float, float]], period: float,
                 threshold: float = SYNC_THRESHOLD) -> float | None:
    """The first t from which R >= threshold held at every point for a full period,
    or None when it never did. ``points`` are (t, R) sorted by t."""
    start = None
    for t, r in points:
        if r < threshold:
            start = None
            continue
        if start is None:
            start = t
        if t - start >= period - 1e-9:
            return start
    return None


def read_run(path: str | Path) -> Run:
    """Read a whole run directory. Raises NotARunError when ``path`` is not one;
    every other problem becomes a one-line message in ``Run.warnings``."""
    path = Path(path)
    meta = _read_meta(path)
    warnings: list[str] = []
    info = _run_info(path, meta, warnings)
    summary = _read_summary(path, warnings)
    if summary is not None and isinstance(summary.get("exit"), str):
        info = replace(info, exit=summary["exit"])
    shard_lines = {}
    for shard in info.shards:
        name = f"shard-{shard}.jsonl"
        file = path / name
        if not file.is_file():
            warnings.append(f"{path / name}: missing (run.json lists shard {shard})")
            shard_lines[shard] = []
            continue
        shard_lines[shard] = _read_lines(
            file, str(path / name),
            lambda obj, n, report, shard=shard: _shard_line(obj, shard, n, report), warnings)
    for file in sorted(path.glob("shard-*.jsonl")):
        if _shard_number(file) not in info.shards:
            warnings.append(f"{file}: shard not listed in run.json, ignored")
    coordinator: list[CoordLine] = []
    if (path / "coordinator.jsonl").is_file():
        coordinator = _read_lines(path / "coordinator.jsonl", str(path / "coordinator.jsonl"),
                                  _coord_line, warnings)
    else:
        warnings.append(f"{path / 'coordinator.jsonl'}: missing")
    t_sync, source = _sync_of(info, summary, coordinator)
    return Run(path, info, shard_lines, coordinator, t_sync, source, tuple(warnings))


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.is_dir():
        raise NotARunError(f"{path}: not a directory" if path.exists()
                           else f"{path}: no such directory")
    meta_file = path / "run.json"
    if not meta_file.is_file():
        runs = sorted(p.name for p in path.iterdir() if (p / "run.json").is_file())
        hint = (f"; it holds {len(runs)} run directories (e.g. {path / runs[-1]}): "
                f"pass those" if runs else "")
        raise NotARunError(f"{path}: not a run directory (no run.json){hint}")
    try:
        meta = json.loads(meta_file.read_bytes())
    except ValueError as exc:
        raise NotARunError(f"{meta_file}: unreadable ({_json_error(exc)})") from None
    if not isinstance(meta, dict):
        raise NotARunError(f"{meta_file}: not a JSON object")
    return meta


def _read_summary(path: Path, warnings: list[str]) -> dict[str, Any] | None:
    file = path / "summary.json"
    if not file.is_file():
        warnings.append(f"{file}: missing (run crashed or still running); "
                        f"time to sync computed from coordinator.jsonl")
        return None
    try:
        summary = json.loads(file.read_bytes())
    except ValueError as exc:
        warnings.append(f"{file}: unreadable ({_json_error(exc)}), ignored")
        return None
    if not isinstance(summary, dict):
        warnings.append(f"{file}: not a JSON object, ignored")
        return None
    return summary


def _run_info(path: Path, meta: Mapping[str, Any], warnings: list[str]) -> RunInfo:
    label = str(path / "run.json")
    if meta.get("schema", SCHEMA_VERSION) != SCHEMA_VERSION:
        warnings.append(f"{label}: schema {_clip(meta.get('schema'))} is not "
                        f"{SCHEMA_VERSION}; reading the fields this script knows")
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    missing: list[str] = []

    def pick(source: Mapping[str, Any], key: str, convert: Callable[[Any], Any],
             where: str = "") -> Any:
        if key not in source:
            missing.append(where + key)
            return None
        if source[key] is None:
            return None
        try:
            return convert(source[key])
        except (_BadField, TypeError, ValueError):
            missing.append(where + key)
            return None

    grid = pick(config, "grid", lambda g: (int(g[0]), int(g[1])), "config.")
    info = RunInfo(
        name=path.resolve().name,
        workers=pick(meta, "workers", lambda v: _count(v, "workers")),
        agents=pick(meta, "agents", lambda v: _count(v, "agents")),
        grid=grid,
        period=pick(config, "period", lambda v: _number(v, "period", minimum=1e-9), "config."),
        limit=pick(config, "limit", lambda v: _count(v, "limit"), "config."),
        seed=pick(meta, "seed", lambda v: _count(v, "seed")),
        fps_target=pick(config, "fps", lambda v: _number(v, "fps"), "config."),
        shards=_shard_list(path, meta, warnings),
    )
    if missing:
        fields = ", ".join(f"'{m}'" for m in missing)
        warnings.append(f"{label}: field(s) {fields} missing or invalid")
    return info


def _shard_list(path: Path, meta: Mapping[str, Any], warnings: list[str]) -> dict[int, int | None]:
    try:
        shards = {_count(s["shard"], "shard"): (_count(s["cells"], "cells") if "cells" in s
                                                else None)
                  for s in meta["shards"]}
        if shards:
            return dict(sorted(shards.items()))
    except (KeyError, TypeError, ValueError):
        pass
    found = {n: None for n in sorted(filter(lambda n: n is not None,
                                            map(_shard_number, path.glob("shard-*.jsonl"))))}
    warnings.append(f"{path / 'run.json'}: no valid 'shards' list; using the "
                    f"{len(found)} shard-<K>.jsonl files found")
    return found


def _shard_number(file: Path) -> int | None:
    number = file.name[len("shard-"):-len(".jsonl")]
    return int(number) if number.isdigit() else None


def _sync_of(info: RunInfo, summary: Mapping[str, Any] | None,
             coordinator: Sequence[CoordLine]) -> tuple[float | None, str | None]:
    if summary is not None and "time_to_sync_s" in summary:
        value = summary["time_to_sync_s"]
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            return value, "summary"
    points, source = _r_points(coordinator)
    if source is None or info.period is None:
        return None, None
    return time_to_sync(points, info.period), source


# ----------------------------------------------------------------------------- rows


def merged_histogram(lines: Sequence[ShardLine], attr: str) -> Histogram:
    """A fresh histogram holding the counts of ``attr`` over all ``lines``."""
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


# ------------------------------------------------------------------------ formatting


def _fixed(digits: int) -> Callable[[Any], str]:
    return lambda v: f"{v:.{digits}f}"


def _ms(v: float) -> str:
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.0f}"


def _mib(v: float) -> str:
    return f"{v / 2**20:.1f}"


def _sync(v: Any) -> str:
    return f"{v:.2f}"


Column = tuple[str, str, Callable[[Any], str]]

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
    ("period_s", "period_s", _show),
    ("limit", "limit", str),
    ("fps_min", "fps_min", _fixed(1)),
    ("flash_lateness_p99_ms", "flash_p99_ms", _ms),
    ("flashes_per_s", "flashes/s", _fixed(1)),
    ("time_to_sync_s", "T_R0.9_s", _sync),
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


# -------------------------------------------------------------------- machine output

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
                           for key, attr in HISTOGRAMS.items()},
            "warnings": list(run.warnings),
        })
    return {"schema": SCHEMA_VERSION, "runs": out}
