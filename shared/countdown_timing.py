"""Timing countdown runs for the tail-call benchmarks (scripts/bench_tco*.py).

A *runner* takes a step count and returns an awaitable that counts down that many
steps and ends with ``"done"``. :func:`measure` runs each runner in a fresh event loop
after ``gc.collect()``, once to warm up, then ``repeats`` times with the runners
interleaved within each repeat (so load from other processes hits them all alike),
and reports the median. It is not a statistics package and prints nothing.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from typing import Any, Awaitable, Callable, Mapping

__all__ = ["Runner", "measure", "time_once"]

Runner = Callable[[int], Awaitable[Any]]


def time_once(runner: Runner, steps: int) -> float:
    """Seconds for one run of ``steps`` steps, in a fresh event loop; a result other
    than ``"done"`` is a RuntimeError (the benchmark measured something else)."""

    async def timed() -> float:
        start = time.perf_counter()
        result = await runner(steps)
        elapsed = time.perf_counter() - start
        if result != "done":
            raise RuntimeError(f"countdown returned {result!r}")
        return elapsed

    gc.collect()
    return asyncio.run(timed())


def measure(runners: Mapping[str, tuple[Runner, int]], repeats: int) -> dict[str, tuple[int, float]]:
    """name -> (steps, median seconds), for runners given as name -> (runner, steps)."""
    for runner, steps in runners.values():  # warm up: compile blueprints, fill caches
        time_once(runner, min(1000, steps))
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, (runner, steps) in runners.items():
            times[name].append(time_once(runner, steps))
    return {name: (runners[name][1], statistics.median(ts)) for name, ts in times.items()}
