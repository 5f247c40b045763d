"""Read a whole run directory (docs/logs.md) back: what ``run.json`` says
(:class:`RunInfo`), every shard's and the coordinator's lines, and the time to sync,
as one :class:`Run` that can be cut to a time window.

Reading is robust: only a path that is not a run directory raises
(:class:`NotARunError`); every problem inside the logs becomes a one-line message in
``Run.warnings``. File names and the schema version come from
:mod:`shared.runlog.schema`, the time-to-sync rule from :mod:`shared.synchrony`.

Not here: parsing single lines (``lines``), rows and percentiles (``rows``), tables
(``tables``). Nothing here prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from shared.runlog.lines import (CoordLine, ShardLine, BadField, clip, count, json_error, number,
                                 read_coordinator_log, read_shard_log)
from shared.runlog.schema import (COORDINATOR_LOG, RUN_JSON, SCHEMA_VERSION, SHARD_LOG_GLOB,
                                  SUMMARY_JSON, shard_log, shard_of)
from shared.synchrony import time_to_sync

__all__ = ["RunLogError", "NotARunError", "RunInfo", "Run", "read_run", "ShardLine",
           "CoordLine"]


class RunLogError(Exception):
    """Base of the errors this package raises about its input."""


class NotARunError(RunLogError):
    """The path is not a run directory: missing, not a directory, or no readable
    ``run.json``. Problems inside the logs of a real run are warnings, not this."""


@dataclass(frozen=True)
class Recovered:
    """A shard lost and taken over again (summary.json's ``recoveries``): in lock-step
    the run went back to ``resumed_from_s``; in real time the shard lost the simulated
    seconds ``resumed_from_s`` .. ``resumed_from_s + gap_s``."""

    shard: int
    resumed_from_s: float
    gap_s: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"shard": self.shard, "resumed_from_s": self.resumed_from_s, "gap_s": self.gap_s}


def _recoveries(value: Any, path: Path, warnings: list[str]) -> tuple[Recovered, ...]:
    out = []
    for entry in value if isinstance(value, list) else [value]:
        try:
            gap = entry.get("gap_s")
            out.append(Recovered(int(entry["shard"]), float(entry["resumed_from_s"]),
                                 None if gap is None else float(gap)))
        except (AttributeError, KeyError, TypeError, ValueError):
            warnings.append(f"{path / SUMMARY_JSON}: a recoveries entry is not one: {entry!r:.80}")
    return tuple(out)


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
    # from summary.json: each lost shard the run recovered (--on-worker-loss restart)
    recoveries: tuple[Recovered, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "workers": self.workers, "agents": self.agents,
            "grid": list(self.grid) if self.grid else None, "period_s": self.period,
            "limit": self.limit, "seed": self.seed, "fps_target": self.fps_target,
            "shards": sorted(self.shards), "exit": self.exit,
            "recoveries": [r.as_dict() for r in self.recoveries],
        }


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
    if summary is not None and "recoveries" in summary:
        info = replace(info, recoveries=_recoveries(summary["recoveries"], path, warnings))
    shard_lines: dict[int, list[ShardLine]] = {}
    for shard in info.shards:
        file = path / shard_log(shard)
        if not file.is_file():
            warnings.append(f"{file}: missing (run.json lists shard {shard})")
            shard_lines[shard] = []
            continue
        shard_lines[shard] = read_shard_log(file, shard, warnings)
    for file in sorted(path.glob(SHARD_LOG_GLOB)):
        if shard_of(file.name) not in info.shards:
            warnings.append(f"{file}: shard not listed in run.json, ignored")
    coordinator: list[CoordLine] = []
    if (path / COORDINATOR_LOG).is_file():
        coordinator = read_coordinator_log(path / COORDINATOR_LOG, warnings)
    else:
        warnings.append(f"{path / COORDINATOR_LOG}: missing")
    t_sync, source = _sync_of(info, summary, coordinator)
    return Run(path, info, shard_lines, coordinator, t_sync, source, tuple(warnings))


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.is_dir():
        raise NotARunError(f"{path}: not a directory" if path.exists()
                           else f"{path}: no such directory")
    meta_file = path / RUN_JSON
    if not meta_file.is_file():
        runs = sorted(p.name for p in path.iterdir() if (p / RUN_JSON).is_file())
        hint = (f"; it holds {len(runs)} run directories (e.g. {path / runs[-1]}): "
                f"pass those" if runs else "")
        raise NotARunError(f"{path}: not a run directory (no {RUN_JSON}){hint}")
    try:
        meta = json.loads(meta_file.read_bytes())
    except ValueError as exc:
        raise NotARunError(f"{meta_file}: unreadable ({json_error(exc)})") from None
    if not isinstance(meta, dict):
        raise NotARunError(f"{meta_file}: not a JSON object")
    return meta


def _read_summary(path: Path, warnings: list[str]) -> dict[str, Any] | None:
    file = path / SUMMARY_JSON
    if not file.is_file():
        warnings.append(f"{file}: missing (run crashed or still running); "
                        f"time to sync computed from {COORDINATOR_LOG}")
        return None
    try:
        summary = json.loads(file.read_bytes())
    except ValueError as exc:
        warnings.append(f"{file}: unreadable ({json_error(exc)}), ignored")
        return None
    if not isinstance(summary, dict):
        warnings.append(f"{file}: not a JSON object, ignored")
        return None
    return summary


def _run_info(path: Path, meta: Mapping[str, Any], warnings: list[str]) -> RunInfo:
    label = str(path / RUN_JSON)
    if meta.get("schema", SCHEMA_VERSION) != SCHEMA_VERSION:
        warnings.append(f"{label}: schema {clip(meta.get('schema'))} is not "
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
        except (BadField, TypeError, ValueError):
            missing.append(where + key)
            return None

    info = RunInfo(
        name=path.resolve().name,
        workers=pick(meta, "workers", lambda v: count(v, "workers")),
        agents=pick(meta, "agents", lambda v: count(v, "agents")),
        grid=pick(config, "grid", lambda g: (int(g[0]), int(g[1])), "config."),
        period=pick(config, "period", lambda v: number(v, "period", minimum=1e-9), "config."),
        limit=pick(config, "limit", lambda v: count(v, "limit"), "config."),
        seed=pick(meta, "seed", lambda v: count(v, "seed")),
        fps_target=pick(config, "fps", lambda v: number(v, "fps"), "config."),
        shards=_shard_list(path, meta, warnings),
    )
    if missing:
        fields = ", ".join(f"'{m}'" for m in missing)
        warnings.append(f"{label}: field(s) {fields} missing or invalid")
    return info


def _shard_list(path: Path, meta: Mapping[str, Any], warnings: list[str]) -> dict[int, int | None]:
    try:
        shards = {count(s["shard"], "shard"): (count(s["cells"], "cells") if "cells" in s
                                               else None)
                  for s in meta["shards"]}
        if shards:
            return dict(sorted(shards.items()))
    except (KeyError, TypeError, ValueError):
        pass
    numbers = (shard_of(file.name) for file in path.glob(SHARD_LOG_GLOB))
    found: dict[int, int | None] = {n: None for n in sorted(n for n in numbers if n is not None)}
    warnings.append(f"{path / RUN_JSON}: no valid 'shards' list; using the "
                    f"{len(found)} {SHARD_LOG_GLOB.replace('*', '<K>')} files found")
    return found


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
