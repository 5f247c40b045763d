"""Fixtures shared by the test files: a factory for real simulator runs that are
always cleaned up, even when the test fails."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Callable, Iterator

import pytest

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


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests in a fresh event loop (no plugin needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        asyncio.run(pyfuncitem.obj(**{n: pyfuncitem.funcargs[n] for n in names}))
        return True
    return None
