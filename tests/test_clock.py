"""The clocks agents wait through: ordering, never early, moves, parking, stopping."""

from __future__ import annotations

import asyncio
import inspect
import random

import pytest

from shared.clock import PREEMPTED, Clock, RealTimeClock
from shared.lockstep_clock import LockstepClock


async def test_alarms_ring_in_due_order_and_never_early():
    loop = asyncio.get_running_loop()
    clock = RealTimeClock(loop, 50, t0=loop.time())
    dues = [random.Random(1).uniform(0.01, 0.15) for _ in range(50)]
    rung: list[tuple[float, float, int]] = []

    async def wait(key: int) -> None:
        due = await clock.alarm(key, dues[key])
        rung.append((clock.now(), due, key))

    await asyncio.gather(*(wait(k) for k in range(50)))
    assert [key for _, _, key in rung] == sorted(range(50), key=dues.__getitem__)
    for now, due, key in rung:
        assert due == dues[key]
        assert now >= due  # never before it was due


async def test_move_earlier_later_and_ring_now():
    loop = asyncio.get_running_loop()
    clock = RealTimeClock(loop, 3, t0=loop.time())
    a, b, c = clock.alarm(0, 10.0), clock.alarm(1, 0.05), clock.alarm(2, 10.0)
    clock.move(0, 0.02, clock.now())       # earlier
    clock.move(1, 0.08, clock.now())       # later
    clock.move(2, -1.0, clock.now())       # already due: rings now with the signal's time
    assert c.done() and c.result() <= clock.now()
    assert not clock.pending(2)
    assert await a == 0.02
    assert not b.done()
    assert await b == 0.08


async def test_parked_until_start():
    loop = asyncio.get_running_loop()
    clock = RealTimeClock(loop, 2)
    f = clock.alarm(0, 0.0)
    clock.alarm(1, 0.01)
    assert clock.parked() == 2
    await asyncio.sleep(0.03)
    assert not f.done()  # nothing rings before the barrier
    clock.start(loop.time())
    assert await f == 0.0
    assert clock.parked() == 0


async def test_stop_all_rings_pending_and_future_alarms_with_none():
    loop = asyncio.get_running_loop()
    clock = RealTimeClock(loop, 2, t0=loop.time())
    f = clock.alarm(0, 100.0)
    assert clock.stop_all() == 1
    assert await f is None
    assert await clock.alarm(1, 100.0) is None


async def test_many_moves_stay_correct_through_compaction():
    loop = asyncio.get_running_loop()
    n = 200
    clock = RealTimeClock(loop, n, t0=loop.time())
    futures = [clock.alarm(k, 5.0) for k in range(n)]
    rng = random.Random(2)
    final, moved_at = {}, {}
    for _ in range(20):  # 4,000 moves: far more tuples than live alarms
        for k in range(n):
            final[k] = rng.uniform(0.02, 0.2)
            moved_at[k] = clock.now()
            clock.move(k, final[k], moved_at[k])
    assert clock._queue.held <= 4 * n + 1024 + n
    results = await asyncio.gather(*futures)
    # Each alarm rings at its last due; one whose due had passed by its last move (a
    # slow machine) rang at once, with the time of that move.
    assert results == [final[k] if final[k] > moved_at[k] else moved_at[k] for k in range(n)]


async def test_lockstep_clock_is_deterministic_and_ordered():
    clock = LockstepClock(3)
    order = []

    async def wait(key, due):
        order.append((await clock.alarm(key, due), key))

    tasks = [asyncio.ensure_future(wait(k, d)) for k, d in enumerate([3.0, 1.0, 2.0])]
    await clock.advance(2.5)
    assert order == [(1.0, 1), (2.0, 2)]
    clock.move(0, 2.6, clock.now())
    await clock.advance(10.0)
    assert order[-1] == (2.6, 0)
    await asyncio.gather(*tasks)


def test_both_clocks_implement_the_whole_clock_protocol():
    methods = [n for n, v in vars(Clock).items() if callable(v) and not n.startswith("_")]
    assert sorted(methods) == ["alarm", "move", "now", "parked", "pending", "preempt",
                               "start", "stop_all"]
    for cls in (RealTimeClock, LockstepClock):
        for name in methods:
            ours, theirs = inspect.signature(getattr(cls, name)), inspect.signature(getattr(Clock, name))
            assert list(ours.parameters) == list(theirs.parameters), (cls.__name__, name)


@pytest.mark.parametrize("kind", ["realtime", "lockstep"])
async def test_preempt_rings_the_lowest_pending_keys_with_preempted(kind):
    loop = asyncio.get_running_loop()
    clock: Clock = RealTimeClock(loop, 4, t0=loop.time()) if kind == "realtime" else LockstepClock(4)
    futures = [clock.alarm(k, 100.0) for k in (0, 2, 3)]
    assert clock.preempt(2) == 2
    assert [f.result() for f in futures[:2]] == [PREEMPTED, PREEMPTED]
    assert not futures[2].done() and clock.pending(3) and not clock.pending(0)
    assert clock.preempt(5) == 1 and futures[2].result() is PREEMPTED
    assert clock.preempt(1) == 0
    assert clock.stop_all() == 0


async def test_lockstep_clock_parks_until_start():
    clock = LockstepClock(2, parked=True)
    f = clock.alarm(0, 1.0)
    clock.alarm(1, 2.0)
    assert clock.parked() == 2
    with pytest.raises(RuntimeError, match="parked"):
        await clock.advance(5.0)
    clock.start(0.0)
    assert clock.parked() == 0
    with pytest.raises(RuntimeError, match="already started"):
        clock.start(0.0)
    await clock.advance(1.5)
    assert f.result() == 1.0 and clock.pending(1)
    assert clock.stop_all() == 1
    assert await clock.alarm(0, 3.0) is None
