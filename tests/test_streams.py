"""Counter-based random streams: the numbers a cell draws depend on (seed, stream,
cell, k) only, never on the shard that holds it; scalar and numpy forms agree bit for
bit; the numbers look uniform and independent across cells, streams and seeds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from shared import streams
from shared.lockstep_clock import LockstepClock
from shared.model import FireflyParams, initial_phases
from shared.grid import Grid
from worker.metrics import ShardMetrics
from worker.shard import layout_of
from worker.agents import ShardAgents

U64 = st.integers(0, 2**64 - 1)


@given(seed=st.integers(0, 2**63 - 1), stream=st.integers(0, 2**32), k=st.integers(0, 2**40),
       cells=st.lists(st.integers(0, 2**32), min_size=1, max_size=20))
@settings(max_examples=200, deadline=None)
def test_scalar_and_vector_forms_give_the_same_bits(seed: int, stream: int, k: int,
                                                    cells: list[int]) -> None:
    keys = streams.stream_keys(seed, stream, np.array(cells))
    assert [int(x) for x in keys] == [streams.stream_key(seed, stream, c) for c in cells]
    assert streams.units(keys, k).tolist() == [streams.unit(int(x), k) for x in keys]


def test_numbers_are_uniform_and_uncorrelated() -> None:
    n = 200_000
    a = streams.units(streams.stream_keys(1, streams.PHASE, np.arange(n)), 0)
    counts = np.histogram(a, bins=20, range=(0.0, 1.0))[0]
    assert counts.min() > 0.95 * n / 20 and counts.max() < 1.05 * n / 20
    assert 0.0 <= a.min() and a.max() < 1.0
    others = {
        "next counter": streams.units(streams.stream_keys(1, streams.PHASE, np.arange(n)), 1),
        "next cell": streams.units(streams.stream_keys(1, streams.PHASE, np.arange(1, n + 1)), 0),
        "other stream": streams.units(streams.stream_keys(1, streams.JITTER, np.arange(n)), 0),
        "other seed": streams.units(streams.stream_keys(2, streams.PHASE, np.arange(n)), 0),
    }
    for name, b in others.items():
        assert abs(np.corrcoef(a, b)[0, 1]) < 0.01, name


def test_initial_phases_of_a_cell_do_not_depend_on_the_grid_size() -> None:
    params = FireflyParams(period=5.0, seed=9)
    small, large = initial_phases(64, params), initial_phases(1000, params)
    assert small.tolist() == large[:64].tolist()
    assert 0.0 <= large.min() and large.max() < 5.0
    assert initial_phases(64, FireflyParams(period=5.0, seed=10)).tolist() != small.tolist()


@pytest.mark.parametrize("n_shards", [2, 3])
def test_a_cells_reset_jitter_is_the_same_whichever_shard_holds_it(n_shards: int) -> None:
    grid = Grid(6, 4)
    params = FireflyParams(period=2.0, nudge=0.1, refractory=0.5, reset_jitter=0.3, seed=5)

    def jitters(layout_count: int) -> dict[int, list[float]]:
        out: dict[int, list[float]] = {}
        for index in range(layout_count):
            layout = layout_of(grid, layout_count, index)
            n = len(layout.cells)
            agents = ShardAgents(layout, params, LockstepClock(n), [1.0] * n, ShardMetrics())
            for i, cell in enumerate(layout.cells):
                drawn = []
                for k in range(3):  # the phase right after the k-th flash, due at t = 10k
                    agents.flash(i, 10.0 * k)
                    drawn.append(10.0 * k - agents.epoch[i])
                out[cell] = drawn
        return out

    one, many = jitters(1), jitters(n_shards)
    assert one == many and len(one) == grid.cells
    assert all(0.0 <= j < 0.3 for drawn in one.values() for j in drawn)
    assert len({j for drawn in one.values() for j in drawn}) == 3 * grid.cells
