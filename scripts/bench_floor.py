#!/usr/bin/env python3
"""The simulator's cost per flash beside a pure-Python floor, on the same model.

    python scripts/bench_floor.py --grid 316 --period 5 --nudge 0.5 --refractory 1 \\
        --durations 4,20 --repeats 3

Two implementations of one model (docs/design.md §4: W×H torus, Moore neighbours,
period P, nudge ε, refractory r, reset jitter J from the counter-based streams, zero
coupling delay, initial phases of ``shared.model.initial_phases``), each run in a
fresh process per measurement, interleaved:

* ``floor``: a plain event-driven loop. A heap of ``(due, cell, version)``; a nudge
  updates the neighbour's epoch in place and pushes its new due; one generator resume
  per flash stands for the agent's task. No Cascade, no asyncio.
* ``sim``: the simulator's real agent path in one process: ``worker.shard.build_shard``
  (ShardAgents, ``firefly_agent`` as one long-lived Cascade VM task per agent on one
  Engine) on ``shared.lockstep_clock.LockstepClock``.

Both process events in the same (time, cell) order, so their flash counts agree
exactly; the script checks that and prints flashes per agent per period for both.
The marginal cost per flash is (wall of the longest run - wall of the shortest) /
(difference in flashes), so start-up cancels out; start-up (building the agents
until every one waits) is reported per agent, and so is the RSS the agents add.
Medians over ``--repeats``. Exit status: 0 ok, 1 the two disagree, 2 bad options.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import heapq
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Generator

import numpy as np
import psutil

from shared import streams
from shared.grid import Grid, parse_grid
from shared.model import FireflyParams, initial_phases

ROOT = Path(__file__).resolve().parent.parent

IMPLEMENTATIONS = ("floor", "sim")


def rss() -> int:
    return psutil.Process().memory_info().rss


# -- the floor ------------------------------------------------------------------------
def run_floor(grid: Grid, params: FireflyParams, duration: float) -> dict[str, Any]:
    """The plain event loop; returns flash count, start-up and run seconds, RSS added."""
    n = grid.cells
    phases = initial_phases(n, params).tolist()
    before = rss()
    t0 = time.perf_counter()
    period, nudge, refractory, jitter = (params.period, params.nudge, params.refractory_s,
                                         params.reset_jitter)
    neighbours = grid.neighbour_table()
    keys = streams.stream_keys(params.seed, streams.JITTER, np.arange(n)).tolist()
    epoch = [-p for p in phases]
    count = [0] * n
    version = [0] * n
    heap = [(epoch[c] + period, c, 0) for c in range(n)]
    heapq.heapify(heap)
    push, pop = heapq.heappush, heapq.heappop
    unit = streams.unit

    def agent(c: int) -> Generator[None, float, None]:
        """One firefly: each resume is one flash at the time sent in."""
        near = neighbours[c]
        key = keys[c]
        while True:
            t = yield
            k = count[c]
            count[c] = k + 1
            epoch[c] = t - unit(key, k) * jitter
            push(heap, (epoch[c] + period, c, version[c]))
            for j in near:
                if t - epoch[j] < refractory:
                    continue
                due = epoch[j] - nudge + period
                v = version[j] + 1
                version[j] = v
                if due <= t:
                    epoch[j] = t - period
                    push(heap, (t, j, v))
                else:
                    epoch[j] = due - period
                    push(heap, (due, j, v))

    agents = [agent(c) for c in range(n)]
    for a in agents:
        next(a)
    started = time.perf_counter()
    added = rss() - before
    sends = [a.send for a in agents]
    while heap:
        due, c, v = heap[0]
        if due > duration:
            break
        pop(heap)
        if v == version[c]:
            sends[c](due)
    end = time.perf_counter()
    return {"flashes": sum(count), "counts": count, "startup_s": started - t0,
            "run_s": end - started, "rss_added": added}


# -- the simulator --------------------------------------------------------------------
async def _simulate(grid: Grid, params: FireflyParams, duration: float) -> dict[str, Any]:
    from shared import cascade as cs
    from shared.lockstep_clock import LockstepClock
    from worker.collector import Collector
    from worker.metrics import ShardMetrics
    from worker.shard import build_shard, layout_of

    phases = initial_phases(grid.cells, params)
    before = rss()
    t0 = time.perf_counter()
    collector = Collector(grid.cells)  # the worker's GC policy
    collector.building()
    clock = LockstepClock(grid.cells, scheduler=cs.Scheduler())
    metrics = ShardMetrics()
    shard = build_shard(layout_of(grid, 1, 0), params, phases, clock, metrics, yield_every=16)
    shard.start()
    await clock.advance(0.0)
    collector.settle()
    started = time.perf_counter()
    added = rss() - before
    t = 0.0
    while t < duration:  # a report's worth of simulated time per step, as a worker tends
        t = min(duration, t + 1.0)
        await clock.advance(t)
        collector.tend()
    end = time.perf_counter()
    collector.release()
    counts = shard.agents.flash_count.tolist()
    shard.stop()
    await shard.finished()
    return {"flashes": metrics.counters.flashes, "counts": counts, "startup_s": started - t0,
            "run_s": end - started, "rss_added": added}


def run_sim(grid: Grid, params: FireflyParams, duration: float) -> dict[str, Any]:
    return asyncio.run(_simulate(grid, params, duration))


RUNNERS: dict[str, Callable[[Grid, FireflyParams, float], dict[str, Any]]] = {
    "floor": run_floor, "sim": run_sim}


# -- the driver -----------------------------------------------------------------------
def measure(impl: str, args: argparse.Namespace, duration: float) -> dict[str, Any]:
    """One measurement in a fresh interpreter (no heap or GC state carried over)."""
    cmd = [sys.executable, __file__, "--one", impl, "--grid", args.grid, "--period",
           str(args.period), "--nudge", str(args.nudge), "--refractory", str(args.refractory),
           "--jitter", str(args.jitter), "--seed", str(args.seed), "--durations", str(duration)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout)


def positive_floats(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers like 4,20") from None
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: every duration must be > 0")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", default="316", help="WxH or N (default 316: 99,856 agents)")
    parser.add_argument("--period", type=float, default=5.0)
    parser.add_argument("--nudge", type=float, default=0.5)
    parser.add_argument("--refractory", type=float, default=1.0)
    parser.add_argument("--jitter", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--durations", type=positive_floats, default=[4.0, 20.0],
                        help="simulated seconds, comma-separated: shortest and longest give "
                             "the marginal cost (default 4,20)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--one", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        grid = parse_grid(args.grid)
        params = FireflyParams(args.period, args.nudge, args.refractory, args.jitter, args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    if args.one:
        gc.collect()
        print(json.dumps(RUNNERS[args.one](grid, params, args.durations[0])))
        return 0
    if len(args.durations) != 2 or args.durations[0] >= args.durations[1]:
        parser.error(f"--durations {args.durations}: give two, shortest first, e.g. 4,20")
    if args.repeats < 1:
        parser.error(f"--repeats {args.repeats}: must be >= 1")
    short, long = args.durations
    print(f"grid {grid.width}x{grid.height} ({grid.cells:,} agents), P={params.period:g} s, "
          f"ε={params.nudge:g} s, r={params.refractory_s:g} s, J={params.reset_jitter:g} s, "
          f"zero delay, seed {params.seed}; durations {short:g} and {long:g} s, "
          f"{args.repeats} rounds")
    marginal: dict[str, list[float]] = {i: [] for i in IMPLEMENTATIONS}
    startup: dict[str, list[float]] = {i: [] for i in IMPLEMENTATIONS}
    memory: dict[str, list[float]] = {i: [] for i in IMPLEMENTATIONS}
    flashes: dict[str, int] = {}
    counts: dict[str, list[int]] = {}
    for r in range(args.repeats):
        order = IMPLEMENTATIONS if r % 2 == 0 else IMPLEMENTATIONS[::-1]
        for impl in order:
            a, b = measure(impl, args, short), measure(impl, args, long)
            us = (b["run_s"] - a["run_s"]) / (b["flashes"] - a["flashes"]) * 1e6
            marginal[impl].append(us)
            startup[impl].append((a["startup_s"] + b["startup_s"]) / 2 / grid.cells * 1e6)
            memory[impl].append(max(a["rss_added"], b["rss_added"]) / grid.cells)
            flashes[impl], counts[impl] = b["flashes"], b["counts"]
            print(f"round {r + 1} {impl:5}: {us:6.2f} µs/flash marginal, start-up "
                  f"{startup[impl][-1]:6.1f} µs/agent, {b['flashes']:,} flashes in "
                  f"{b['run_s']:.2f} s ({long:g} s simulated)", flush=True)
    per_period = {i: flashes[i] / grid.cells / (long / params.period) for i in IMPLEMENTATIONS}
    med = {i: statistics.median(marginal[i]) for i in IMPLEMENTATIONS}
    print()
    for impl in IMPLEMENTATIONS:
        print(f"{impl:5}: median {med[impl]:6.2f} µs/flash marginal, start-up "
              f"{statistics.median(startup[impl]):6.1f} µs/agent, RSS "
              f"{statistics.median(memory[impl]) / 1024:5.2f} KiB/agent, "
              f"{per_period[impl]:.4f} flashes per agent per period")
    print(f"sim / floor per flash (marginal): {med['sim'] / med['floor']:.2f}")
    if counts["sim"] != counts["floor"]:
        differ = sum(x != y for x, y in zip(counts["sim"], counts["floor"]))
        print(f"DISAGREE: {differ} cells flashed a different number of times")
        return 1
    print("flash counts agree cell by cell")
    return 0


if __name__ == "__main__":
    sys.exit(main())
