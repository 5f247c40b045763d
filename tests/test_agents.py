"""The firefly model (docs/design.md, §4) as the worker runs it, on a deterministic lock-step
clock: agents are real Cascade VM tasks on one Engine, built by worker.shard.build_shard
like the worker's; and quota preemption (an alarm rung with PREEMPTED) on that clock."""

from __future__ import annotations

import pytest

from shared import cascade as cs
from shared.lockstep_clock import LockstepClock
from shared.grid import Grid
from shared.model import FireflyParams
from shared.quota import RESOURCE
from worker.metrics import ShardMetrics
from worker.shard import build_shard, layout_of

P = 10.0


class World:
    """One shard holding a whole small grid, with chosen initial phases."""

    def __init__(self, phases: list[float], params: FireflyParams, grid: Grid, *,
                 slots: cs.ResourceManager | None = None) -> None:
        self.grid = grid
        self.clock = LockstepClock(grid.cells, scheduler=cs.Scheduler())
        self.metrics = ShardMetrics()
        self.signals: list[tuple[float, int, int]] = []
        self.shard = build_shard(layout_of(grid, 1, 0), params, phases, self.clock, self.metrics,
                                 yield_every=16, slots=slots,
                                 trace=lambda t, a, b, via: self.signals.append((t, a, b)))
        self.agents = self.shard.agents
        self.tasks = self.shard.start()

    async def stop(self) -> list[int]:
        self.shard.stop()
        return await self.shard.finished()


def params(**kw) -> FireflyParams:
    base = dict(period=P, nudge=1.0, refractory=2.0, reset_jitter=0.0, seed=3)
    base.update(kw)
    return FireflyParams(**base)


async def test_a_flash_nudges_each_neighbour_by_epsilon():
    grid = Grid(3, 3)
    phases = [5.0] * 9
    phases[4] = 9.0  # the centre flashes first, at t = 1
    w = World(phases, params(), grid)
    await w.clock.advance(1.5)
    assert w.metrics.counters.flashes == 1
    assert sorted(b for _, a, b in w.signals) == sorted(grid.moore_neighbours(4))
    for j in grid.moore_neighbours(4):
        # phase 5 + 1.5 s + nudge 1 = 7.5 at t = 1.5: due at t = 1.5 + 2.5 = 4
        assert w.agents.due(j) == pytest.approx(4.0)
    await w.stop()


async def test_flashes_during_refractory_are_discarded_and_counted():
    grid = Grid(3, 1)
    # agent 0 flashes at t=1; agent 1 (phase 0.5 -> 1.5 at t=1) is refractory (r=2)
    w = World([9.0, 0.5, 5.0], params(), grid)
    await w.clock.advance(1.01)
    assert w.metrics.counters.flashes == 1
    assert w.metrics.counters.signals_ignored_refractory == 1
    assert w.agents.due(1) == pytest.approx(9.5)   # untouched
    assert w.agents.due(2) == pytest.approx(4.0)   # nudged: 5 + 1 + 1 = 7 at t=1 -> due at 4
    await w.stop()


async def test_a_nudge_past_the_threshold_flashes_now_never_before_the_signal():
    grid = Grid(3, 1)
    w = World([9.0, 9.5, 3.0], params(refractory=0.0), grid)
    await w.clock.advance(0.4)  # nothing yet: agent 1 is due at 0.5
    assert w.metrics.counters.flashes == 0
    await w.clock.advance(0.6)
    # agent 1 flashed at 0.5 and nudged agent 0 (9.5 + 1 >= 10): it flashes at 0.5, not later
    flash_times = sorted(t for t, a, _ in w.signals)
    assert w.metrics.counters.flashes == 2
    assert flash_times[0] == pytest.approx(0.5)
    assert all(t >= 0.5 for t in flash_times)
    assert w.metrics.flash_lateness.max == 0.0  # lock-step: exactly on time
    await w.stop()


async def test_phase_after_a_flash_is_drawn_from_the_reset_jitter():
    grid = Grid(1, 1)
    w = World([9.0], params(reset_jitter=0.5), grid)
    await w.clock.advance(1.0)
    assert w.metrics.counters.flashes == 1
    phase = w.agents.phases(1.0)[0]
    assert 0.0 <= phase <= 0.5
    counts = await w.stop()
    assert counts == [1]  # the agent's own flash count, returned when stopped


async def test_agents_flash_once_per_period_when_uncoupled():
    grid = Grid(4, 4)
    phases = [i * 0.5 for i in range(16)]
    w = World(phases, params(nudge=0.001, refractory=9.9), grid)
    await w.clock.advance(10 * P - 0.01)
    counts = await w.stop()
    # agent i first flashes at P - phase_i, then every P: agent 0 (phase 0) first at
    # t = 10, so 9 flashes before t = 100; the others 10.
    assert counts == [9] + [10] * 15
    assert w.metrics.counters.signals_ignored_refractory == w.metrics.counters.local_signals


async def test_lock_step_runs_are_deterministic():
    async def run() -> tuple[int, int, float]:
        grid = Grid(8, 8)
        p = FireflyParams(period=2.0, nudge=0.2, refractory=0.4, seed=11)
        from shared.model import initial_phases
        w = World([float(x) for x in initial_phases(64, p)], p, grid)
        await w.clock.advance(20.0)
        await w.stop()
        return (w.metrics.counters.flashes, w.metrics.counters.signals_ignored_refractory,
                round(sum(w.agents.epoch), 9))

    assert await run() == await run()


async def test_a_preempted_agent_gives_its_slot_back_and_queues_again():
    grid = Grid(3, 1)
    slots = cs.ResourceManager({RESOURCE: 2}, elastic=True)
    # uncoupled (refractory covers the whole period): each agent flashes on its own
    w = World([1.0, 2.0, 3.0], params(nudge=0.001, refractory=9.9), grid, slots=slots)
    await w.clock.advance(0.0)
    # agents 0 and 1 hold the two slots while they wait on their alarms; 2 queues
    assert [w.clock.pending(i) for i in range(3)] == [True, True, False]
    assert slots.in_use(RESOURCE) == 2 and slots.waiting() == 1
    assert w.clock.preempt(1) == 1  # the lease lapsed under one running step
    await w.clock.advance(0.0)
    # agent 0 ended its step without flashing, gave its slot to agent 2, queued again
    assert [w.clock.pending(i) for i in range(3)] == [False, True, True]
    assert slots.in_use(RESOURCE) == 2 and slots.waiting() == 1
    assert w.metrics.counters.flashes == 0
    assert w.agents.due(0) == pytest.approx(9.0)  # its phase is untouched
    assert slots.statistics().waited == 2  # agent 2 at first, agent 0 after preemption
    # From now on slots pass on in FIFO order at each flash: agent 2 (due 7) flashes
    # and agent 0 takes its slot, agent 1 (due 8) flashes and agent 2 takes it, ...
    await w.clock.advance(7.5)
    assert w.metrics.counters.flashes == 1
    assert [w.clock.pending(i) for i in range(3)] == [True, True, False]
    await w.clock.advance(8.5)
    assert w.metrics.counters.flashes == 2
    assert [w.clock.pending(i) for i in range(3)] == [True, False, True]
    await w.clock.advance(9.5)
    assert w.metrics.counters.flashes == 3  # agent 0 at 9: preemption cost it no time
    assert w.metrics.flash_lateness.max == 0.0
    counts = await w.stop()
    assert counts == [1, 1, 1]
    assert slots.in_use(RESOURCE) == 0
