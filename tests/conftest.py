"""Fixtures shared by the test files: a factory for real simulator runs that are
always cleaned up, even when the test fails, one for schema-valid shard log lines, and
a synthetic run directory (``run_dir``, written from ``shards``) for the log tools."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from shared.histogram import Histogram
from shared.runlog.schema import HISTOGRAMS, SCHEMA_VERSION, Counters

from gatherkit import second
from runfixtures import Second, write_run
from simrun import SimRun


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Callable[..., SimRun]]:
    runs: list[SimRun] = []

    def start(*args: str, **kwargs) -> SimRun:
        run = SimRun(list(args), tmp_path / "runs", **kwargs)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.cleanup()


def make_shard_line(shard: int = 0, *, t: float = 1.0, fps: float = 30.0, flashes: int = 0,
                    p99_ms: float = 1.0, interval_s: float = 1.0, final: bool = False,
                    **extra: Any) -> dict[str, Any]:
    """A shard log line as a worker reports it (shared.runlog.schema.SHARD_FIELDS)."""
    hist = Histogram()
    hist.record(p99_ms)
    line: dict[str, Any] = {
        "v": SCHEMA_VERSION, "shard": shard, "t": t, "interval_s": interval_s, "agents": 10,
        "fps": fps, "frames": int(fps * interval_s), **{name: hist.to_dict() for name in HISTOGRAMS},
        "counters": Counters(flashes=flashes).as_dict(),
        "process": {"cpu_percent": 10.0, "rss_bytes": 1, "loop_busy": 0.1, "gc_ms": 0.0, "gc_young": 0},
        "links": {}, "link_gaps": 0, "telemetry_dropped": 0, "frames_skipped": 0, **extra,
    }
    if final:
        line["final"] = True
    return line


@pytest.fixture
def shard_line() -> Callable[..., dict[str, Any]]:
    return make_shard_line


@pytest.fixture
def shards() -> dict[int, list[Second]]:
    return {k: [second(i, k) for i in range(6)] for k in range(3)}


@pytest.fixture
def run_dir(tmp_path: Path, shards: dict[int, list[Second]]) -> Path:
    return write_run(tmp_path, shards, R_series=[(0.5 * i, min(1.0, 0.1 * i)) for i in range(13)],
                     time_to_sync_s=4.5)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests in a fresh event loop (no plugin needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        asyncio.run(pyfuncitem.obj(**{n: pyfuncitem.funcargs[n] for n in names}))
        return True
    return None
