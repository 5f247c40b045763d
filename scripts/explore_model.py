#!/usr/bin/env python3
"""Explore the firefly model's parameters quickly, on a deterministic lock-step clock.

Runs the simulator's own shard (worker.shard.build_shard: ShardAgents + firefly_agent on
one Cascade Engine, VM path) in one process with shared.lockstep_clock.LockstepClock, so
simulated time costs only CPU, not wall time. For each parameter set and seed it
prints the time to sync T_R (R >= 0.9 held for a period), the final and maximum R,
and flashes per agent per period (1.0 when the grid flashes once a period; above 1,
waves re-excite agents faster than their period).

This is how the simulator's defaults were chosen (docs/defaults.md). It is not the
simulator: no processes, no sockets, no real-time lateness.

    python scripts/explore_model.py --grid 32 --period 2 --nudge 0.1,0.2 --refractory 0.5
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys

from shared import cascade as cs
from shared.lockstep_clock import LockstepClock
from shared.grid import Grid, parse_grid
from shared.model import FireflyParams, initial_phases
from shared.synchrony import SyncTracker, partial_order
from worker.metrics import ShardMetrics
from worker.shard import build_shard, layout_of


async def simulate(grid: Grid, params: FireflyParams, seconds: float, sample: float = 0.05) -> dict:
    clock = LockstepClock(grid.cells, scheduler=cs.Scheduler())
    metrics = ShardMetrics()
    shard = build_shard(layout_of(grid, 1, 0), params, initial_phases(grid.cells, params), clock,
                        metrics, yield_every=16)
    agents = shard.agents
    shard.start()
    tracker = SyncTracker(params.period)
    rs: list[float] = []
    t = 0.0
    while t < seconds:
        t += sample
        await clock.advance(t)
        zr, zi = partial_order(agents.phases(t), params.period)
        r = abs(complex(zr, zi)) / agents.n
        tracker.observe(t, r)
        rs.append(r)
    shard.stop()
    await shard.finished()
    last_period = rs[-int(params.period / sample):]
    return {
        "T_R": tracker.time_to_sync,
        "R_final": rs[-1],
        "R_min_last_period": min(last_period),
        "R_max": tracker.r_max,
        "flashes_per_agent_period": metrics.counters.flashes / agents.n / (seconds / params.period),
    }


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", default="32", help="WxH or N (default 32)")
    parser.add_argument("--period", default="2", help="comma-separated periods (s)")
    parser.add_argument("--nudge", default="0.1", help="comma-separated nudges ε (s)")
    parser.add_argument("--refractory", default="", help="comma-separated r (s); empty: 0.2*period")
    parser.add_argument("--seconds", type=float, default=60.0, help="simulated seconds per run")
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds")
    args = parser.parse_args()
    grid = parse_grid(args.grid)
    refractories: list[float | None] = floats(args.refractory) if args.refractory else [None]
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"grid {grid.width}x{grid.height}, {args.seconds:g} simulated s, seeds {seeds}")
    print(f"{'period':>6} {'nudge':>6} {'refr':>5}  {'T_R per seed':<24} {'med T_R':>7} "
          f"{'R_fin':>5} {'Rmin_lastP':>10} {'fl/agent/P':>10}")
    for period, nudge, refr in itertools.product(floats(args.period), floats(args.nudge), refractories):
        results = [asyncio.run(simulate(grid, FireflyParams(period, nudge, refr, 0.1, seed), args.seconds))
                   for seed in seeds]
        trs = [r["T_R"] for r in results]
        shown = " ".join("-" if x is None else f"{x:.1f}" for x in trs)
        synced = [x for x in trs if x is not None]
        median = f"{statistics.median(synced):.1f}" if len(synced) == len(trs) else f"{len(synced)}/{len(trs)}"
        print(f"{period:6g} {nudge:6g} {FireflyParams(period, nudge, refr).refractory_s:5g}  {shown:<24} {median:>7} "
              f"{statistics.median(r['R_final'] for r in results):5.2f} "
              f"{statistics.median(r['R_min_last_period'] for r in results):10.2f} "
              f"{statistics.median(r['flashes_per_agent_period'] for r in results):10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
