"""Lock-step with a coupling delay is exact and independent of the partition.

A plain event-driven reference, written here (a heap of events, no Cascade, no
clock), computes every flash and signal of the model in (time, cell) order. The
simulator's own agents (Cascade VM tasks on a LockstepClock), split into 1, 2, 3 or 4
shards that exchange their boundary flashes once per window of one delay D (the
window protocol a distributed lock-step run uses, here in one process), end with
bit-identical phases and flash counts. Cascades cross the shard borders (counted).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from shared import streams
from shared import cascade as cs
from shared.lockstep_clock import LockstepClock
from shared.grid import Grid
from shared.model import FireflyParams
from worker.metrics import ShardMetrics
from worker.shard import build_shard, layout_of

from lockstepkit import reference


async def lockstep(grid: Grid, params: FireflyParams, phases: np.ndarray, delay: float,
                   duration: float, n_shards: int) -> tuple[list[float], list[int], int]:
    """The simulator's agents in ``n_shards`` shards, windows of length ``delay``.
    Returns epochs and flash counts by cell, and how many signals crossed a border."""
    layouts = [layout_of(grid, n_shards, k) for k in range(n_shards)]
    clocks = [LockstepClock(len(layout.cells), lookahead=delay, scheduler=cs.Scheduler())
              for layout in layouts]
    outgoing: list[list[tuple[int, float, tuple[int, ...]]]] = [[] for _ in layouts]
    shards = []
    for k, layout in enumerate(layouts):
        assert list(layout.cells) == sorted(layout.cells)  # local order is cell order
        shard = build_shard(layout, params, phases, clocks[k], ShardMetrics(), yield_every=1,
                            send_edge=lambda cell, t, to, out=outgoing[k]: out.append((cell, t, to)),
                            delay=delay)
        shard.start()
        shards.append(shard)
    crossed = 0
    for w in range(math.ceil(duration / delay)):
        end = min((w + 1) * delay, duration)
        for clock in clocks:
            await clock.advance(end)
        for k, sent in enumerate(outgoing):  # the window's boundary flashes, then a barrier
            for cell, t, to in sent:
                for s in to:
                    agents = shards[s].agents
                    local = layouts[s].incoming[k][cell]
                    clocks[s].deliver_at(t + delay, local, cell, agents.signal)
                    crossed += len(local)
            sent.clear()
    epoch, count = [0.0] * grid.cells, [0] * grid.cells
    for layout, shard in zip(layouts, shards):
        for i, cell in enumerate(layout.cells):
            epoch[cell], count[cell] = shard.agents.epoch[i], shard.agents.flash_count[i]
        shard.stop()
        await shard.finished()
    return epoch, count, crossed


def model(seed: int, jitter: float) -> FireflyParams:
    return FireflyParams(period=1.0, nudge=0.3, refractory=0.2, reset_jitter=jitter, seed=seed)


@pytest.mark.parametrize("jitter, ties", [(0.0, False), (0.1, False), (0.0, True)])
async def test_every_partition_computes_what_the_reference_computes(jitter: float,
                                                                    ties: bool) -> None:
    grid, params, delay, duration = Grid(12, 10), model(3, jitter), 0.05, 6.0
    phases = np.random.default_rng(3).uniform(0.0, params.period, grid.cells)
    if ties:  # five groups in phase: flashes and signals at exactly equal times
        phases = np.floor(phases * 5) / 5
    expected = reference(grid, params, phases, delay, duration)[:2]
    assert sum(expected[1]) > 4 * grid.cells  # every cell flashed several times
    for n_shards in (1, 2, 3, 4):
        epoch, count, crossed = await lockstep(grid, params, phases, delay, duration, n_shards)
        assert (epoch, count) == expected, f"{n_shards} shards"
        assert (crossed > 500) == (n_shards > 1)  # cascades cross the borders often


@given(width=st.integers(1, 9), height=st.integers(1, 7), n_shards=st.integers(1, 4),
       delay=st.sampled_from([0.01, 0.05, 0.1, 0.3]), seed=st.integers(0, 2**32),
       jitter=st.sampled_from([0.0, 0.05]))
@settings(max_examples=25, deadline=None)
def test_any_grid_partition_delay_and_seed(width: int, height: int, n_shards: int,
                                           delay: float, seed: int, jitter: float) -> None:
    import asyncio

    grid = Grid(width, height)
    n_shards = min(n_shards, grid.cells)
    params = model(seed, jitter)
    phases = streams.units(streams.stream_keys(seed, streams.PHASE, np.arange(grid.cells)), 0)
    expected = reference(grid, params, phases, delay, 3.0)[:2]
    epoch, count, _ = asyncio.run(lockstep(grid, params, phases, delay, 3.0, n_shards))
    assert (epoch, count) == expected
