"""The robust line readers: one JSON-lines log file (``shard-<K>.jsonl`` or
``coordinator.jsonl``) in, validated lines and one-line problem messages out.

A crash leaves a truncated last line and a newer simulator may add fields, so a bad
line is skipped and reported, never fatal; problems of the same kind in one file make
one message. Which fields exist, the counter list, the histogram names and the rule
for which lines feed frame-rate statistics come from :mod:`shared.runlog.schema`.

Not here: the run directory as a whole (``reading``), reducing lines to rows
(``rows``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar

from shared.histogram import Histogram
from shared.runlog.schema import (COORDINATOR_FIELDS, COORDINATOR_OPTIONAL, COUNTERS,
                                  HISTOGRAMS, PROCESS_FIELDS, SCHEMA_VERSION,
                                  SHARD_DIAGNOSTICS, SHARD_FIELDS, SHARD_OPTIONAL, rate_counts)

__all__ = ["ShardLine", "CoordLine", "HISTOGRAM_ATTRS", "BadField", "number", "count",
           "json_error", "clip", "read_shard_log", "read_coordinator_log"]

HISTOGRAM_ATTRS: dict[str, str] = {name: name.removesuffix("_ms") for name in HISTOGRAMS}
"""Log field -> :class:`ShardLine` attribute ("flash_lateness_ms" -> "flash_lateness")."""

_SHARD_KNOWN = frozenset(SHARD_FIELDS) | frozenset(SHARD_OPTIONAL)
# "v" is checked on its own; diagnostics and optional fields may be absent
_SHARD_EXPECTED = frozenset(SHARD_FIELDS) - {"v"} - frozenset(SHARD_DIAGNOSTICS)
_COORD_KNOWN = frozenset(COORDINATOR_FIELDS) | frozenset(COORDINATOR_OPTIONAL)


@dataclass(frozen=True)
class ShardLine:
    """One reporting interval of one shard; ``t`` is the end of the interval.

    ``fps`` is None on the final line (:func:`shared.runlog.schema.rate_counts`): its
    counters and histograms count, its rate does not. Other Nones: field absent."""

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


class BadField(ValueError):
    """A known field holds a value of the wrong type or range: the line is skipped."""


def number(value: Any, name: str, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadField(f"{name}={clip(value)} is not a finite number")
    if minimum is not None and value < minimum:
        raise BadField(f"{name}={value} is below {minimum}")
    return float(value)


def count(value: Any, name: str) -> int:
    n = number(value, name, minimum=0)
    if not n.is_integer():
        raise BadField(f"{name}={value} is not a whole number")
    return int(n)


def clip(value: Any, width: int = 30) -> str:
    """``value`` as JSON, cut to ``width`` characters for a one-line message."""
    text = json.dumps(value, default=repr)
    return text if len(text) <= width else text[: width - 3] + "..."


def json_error(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    return str(exc)[:60]


def _histogram(value: Any, name: str) -> Histogram:
    try:
        return Histogram.from_dict(value)
    except ValueError as exc:
        raise BadField(f"{name}: {exc}") from None


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
                out.append(f"{self.label}: lines {_ranges(numbers)} {kind} "
                           f"({len(items)} lines; first: {detail}), skipped")
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
                out.append(f"{self.label}: schema version {', '.join(names)} is newer than "
                           f"{SCHEMA_VERSION} ({where}); reading the fields this script knows")
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
                report.skip(lineno, "malformed", json_error(exc))
            continue
        if not isinstance(obj, dict):
            report.skip(lineno, "malformed", f"a JSON {type(obj).__name__}, not an object")
            continue
        yield lineno, obj


def _check_version(obj: Mapping[str, Any], lineno: int, report: _FileReport) -> None:
    if "v" not in obj:
        report.note("missing", "v", lineno)
        return
    version = count(obj["v"], "v")
    if version > SCHEMA_VERSION:
        report.note("version", str(version), lineno)


def _shard_line(obj: Mapping[str, Any], shard: int, lineno: int,
                report: _FileReport) -> ShardLine:
    """Validate one shard line; raises BadField when it must be skipped."""
    _check_version(obj, lineno, report)
    for name in obj.keys() - _SHARD_KNOWN:
        report.note("unknown", name, lineno)
    for name in sorted(_SHARD_EXPECTED - obj.keys() - {"t"}):
        report.note("missing", name, lineno)
    if "t" not in obj:
        raise BadField("no 't'")
    if "shard" in obj and count(obj["shard"], "shard") != shard:
        raise BadField(f"shard={obj['shard']} in the file of shard {shard}")
    get = obj.get
    hists = {attr: _histogram(obj[key], key) if key in obj else None
             for key, attr in HISTOGRAM_ATTRS.items()}
    process = get("process", {})
    if not isinstance(process, dict):
        raise BadField(f"process={clip(process)} is not an object")
    for name in process.keys() - PROCESS_FIELDS.keys():
        report.note("unknown", f"process.{name}", lineno)
    return ShardLine(
        t=number(obj["t"], "t"),
        interval_s=number(get("interval_s", 1.0), "interval_s", minimum=1e-9),
        agents=count(obj["agents"], "agents") if "agents" in obj else None,
        fps=number(obj["fps"], "fps", minimum=0) if "fps" in obj and rate_counts(obj) else None,
        frames=count(obj["frames"], "frames") if "frames" in obj else None,
        counters=_counters(get("counters", {}), lineno, report),
        cpu_percent=(number(process["cpu_percent"], "process.cpu_percent", minimum=0)
                     if "cpu_percent" in process else None),
        rss_bytes=(count(process["rss_bytes"], "process.rss_bytes")
                   if "rss_bytes" in process else None),
        loop_busy=(number(process["loop_busy"], "process.loop_busy", minimum=0)
                   if process.get("loop_busy") is not None else None),
        **hists,
    )


def _counters(value: Any, lineno: int, report: _FileReport) -> dict[str, int]:
    if not isinstance(value, dict):
        raise BadField(f"counters={clip(value)} is not an object")
    out = {}
    for name, n in value.items():
        if name not in COUNTERS:
            report.note("unknown", f"counters.{name}", lineno)
            continue
        out[name] = count(n, f"counters.{name}")
    return out


def _coord_line(obj: Mapping[str, Any], lineno: int, report: _FileReport) -> CoordLine:
    _check_version(obj, lineno, report)
    for name in obj.keys() - _COORD_KNOWN:
        report.note("unknown", name, lineno)
    if "t" not in obj:
        raise BadField("no 't'")
    series = obj.get("R_series", [])
    if not isinstance(series, list):
        raise BadField(f"R_series={clip(series)} is not a list")
    points = []
    for point in series:
        if not (isinstance(point, list) and len(point) == 2):
            raise BadField(f"R_series point {clip(point)} is not [t, R]")
        points.append((number(point[0], "R_series t"), number(point[1], "R_series R")))
    return CoordLine(
        t=number(obj["t"], "t"),
        R=number(obj["R"], "R") if "R" in obj else None,
        R_series=tuple(points),
        flashes_per_s=(number(obj["flashes_per_s"], "flashes_per_s")
                       if "flashes_per_s" in obj else None),
    )


_Line = TypeVar("_Line")


def _read_lines(path: Path, label: str,
                parse: Callable[[dict[str, Any], int, _FileReport], _Line],
                warnings: list[str]) -> list[_Line]:
    report = _FileReport(label)
    out = []
    try:
        for lineno, obj in _json_lines(path, report):
            try:
                out.append(parse(obj, lineno, report))
                report.keep()
            except BadField as exc:
                report.skip(lineno, "invalid", str(exc))
    except OSError as exc:
        warnings.append(f"{label}: unreadable ({exc.strerror}), skipped")
        return []
    if not out and not report.skipped:
        warnings.append(f"{label}: empty")
    warnings.extend(report.messages())
    return out


def read_shard_log(path: Path, shard: int, warnings: list[str]) -> list[ShardLine]:
    """The valid lines of shard ``shard``'s log; one message per problem kind is
    appended to ``warnings`` (labelled with ``path``)."""
    return _read_lines(path, str(path),
                       lambda obj, n, report: _shard_line(obj, shard, n, report), warnings)


def read_coordinator_log(path: Path, warnings: list[str]) -> list[CoordLine]:
    """The valid lines of ``coordinator.jsonl``; problems appended to ``warnings``."""
    return _read_lines(path, str(path), _coord_line, warnings)
