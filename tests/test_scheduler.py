"""shared.cascade.Scheduler: many runs stepped in one asyncio task; Wakeups, asyncio
awaitables and bare yields; outcomes, failures, closing; the shard's agents on it."""

from __future__ import annotations

import asyncio

import pytest

from shared import cascade as cs


async def test_runs_park_on_wakeups_and_resume_in_the_order_they_rang():
    scheduler = cs.Scheduler()
    wakeups = [scheduler.wakeup() for _ in range(5)]
    order: list[int] = []

    async def waiter(i: int) -> int:
        value = await wakeups[i]
        order.append(i)
        return value * 10

    runs = [scheduler.spawn(waiter(i)) for i in range(5)]
    scheduler.run_ready()  # every run takes its first step and parks
    assert scheduler.alive == 5 and scheduler.ready == 0
    for i in (3, 1, 4, 0, 2):
        wakeups[i].set_result(i)
    assert scheduler.ready == 5
    assert scheduler.run_ready() == 5
    assert order == [3, 1, 4, 0, 2]
    await scheduler.join()
    assert [run.result() for run in runs] == [0, 10, 20, 30, 40]
    assert len(asyncio.all_tasks()) <= 2  # this test's task and the scheduler's one


async def test_a_wakeup_that_rang_before_it_was_awaited_does_not_park():
    scheduler = cs.Scheduler()
    wakeup = scheduler.wakeup()
    wakeup.set_result("early")

    async def run() -> str:
        return await wakeup

    handle = scheduler.spawn(run())
    scheduler.run_ready()
    assert handle.done() and handle.result() == "early"
    with pytest.raises(asyncio.InvalidStateError):
        wakeup.set_result("twice")


async def test_asyncio_awaitables_and_bare_yields_work_inside_runs():
    scheduler = cs.Scheduler()
    lock = asyncio.Event()

    async def run() -> list[str]:
        seen = []
        await asyncio.sleep(0)  # a bare yield
        seen.append("yielded")
        await asyncio.sleep(0.01)  # an asyncio future
        seen.append("slept")
        await lock.wait()
        seen.append("event")
        return seen

    handle = scheduler.spawn(run())
    await asyncio.sleep(0.05)
    assert scheduler.outside == 1  # parked on the Event's future
    lock.set()
    await scheduler.join()
    assert handle.result() == ["yielded", "slept", "event"]
    assert scheduler.outside == 0


async def test_a_failing_run_keeps_its_exception_and_others_go_on():
    scheduler = cs.Scheduler()

    async def bad() -> None:
        await asyncio.sleep(0)
        raise ValueError("Boom")

    async def good() -> int:
        await asyncio.sleep(0)
        return 7

    runs = [scheduler.spawn(bad()), scheduler.spawn(good())]
    await scheduler.join()
    assert isinstance(runs[0].outcome(), ValueError)
    with pytest.raises(ValueError, match="Boom"):
        runs[0].result()
    assert runs[1].result() == 7


async def test_a_bad_yield_fails_that_run_with_a_clear_error():
    scheduler = cs.Scheduler()

    class Odd:
        def __await__(self):
            yield "not a future"

    async def run() -> None:
        await Odd()

    handle = scheduler.spawn(run())
    await scheduler.join()
    assert isinstance(handle.outcome(), RuntimeError)
    assert "yielded 'not a future'" in str(handle.outcome())


async def test_close_ends_parked_runs_and_their_finally_blocks_run():
    scheduler = cs.Scheduler()
    cleaned: list[int] = []

    async def run(i: int) -> None:
        try:
            await scheduler.wakeup()
        finally:
            cleaned.append(i)

    runs = [scheduler.spawn(run(i)) for i in range(3)]
    scheduler.run_ready()
    scheduler.close()
    assert sorted(cleaned) == [0, 1, 2]
    assert all(isinstance(r.outcome(), asyncio.CancelledError) for r in runs)
    with pytest.raises(RuntimeError, match="closed"):
        scheduler.spawn(run(9))
    await asyncio.sleep(0)


async def test_an_engine_spawns_vm_runs_on_its_scheduler():
    engine = cs.Engine(yield_every=1)
    wakeups: list[cs.Wakeup] = []

    @cs.task
    async def countdown(n: int) -> object:
        if n == 0:
            return "done"
        wakeup = engine.scheduler.wakeup()
        wakeups.append(wakeup)
        wakeup.set_result(None)
        await wakeup
        return cs.TailCall(n=n - 1)

    runs = [engine.spawn(countdown(50)) for _ in range(100)]
    await engine.scheduler.join()
    assert [r.result() for r in runs] == ["done"] * 100
    assert len(wakeups) == 5000
    assert len(asyncio.all_tasks()) <= 2  # 100 long-lived runs, one asyncio task


async def test_a_run_that_never_parks_does_not_starve_the_event_loop():
    scheduler = cs.Scheduler(slice_s=0.002)
    spins = 0

    async def spinner() -> None:
        nonlocal spins
        while True:
            spins += 1
            await asyncio.sleep(0)  # a bare yield: always ready again

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    scheduler.spawn(spinner())
    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.3)
    task.cancel()
    scheduler.close()
    assert spins > 1000 and ticks >= 5  # both ran: the scheduler gave the loop turns
    with pytest.raises(ValueError, match="slice_s"):
        cs.Scheduler(slice_s=0)
