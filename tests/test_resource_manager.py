"""ResourceManager of shared.cascade: capacity is never exceeded, the queue is strictly
FIFO, errors name the resource, cancellation leaks nothing; and constraints on the
graph path and the VM are honoured per call."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from cascadekit import settle, spin, state
from shared import cascade as cs


# -- capacity under load ---------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_capacity_is_never_exceeded_under_concurrent_load(seed: int) -> None:
    rng = random.Random(seed)
    capacity = {"cpu": 5, "mem": 8}
    rm = cs.ResourceManager(capacity)
    held = {"cpu": 0, "mem": 0}  # our own ledger, independent of the manager's
    peak = {"cpu": 0, "mem": 0}
    done = 0

    async def worker(amounts: dict[str, int], before: int, inside: int) -> None:
        nonlocal done
        await spin(before)
        await rm.acquire(amounts)
        for name, amount in amounts.items():
            held[name] += amount
            peak[name] = max(peak[name], held[name])
            # in_use also counts waiters granted but not yet resumed.
            assert held[name] <= rm.in_use(name) <= capacity[name]
        await spin(inside)
        for name, amount in amounts.items():
            held[name] -= amount
        rm.release(amounts)
        done += 1

    jobs = [({"cpu": rng.randint(0, 5), "mem": rng.randint(1, 8)}, rng.randint(0, 20), rng.randint(0, 20))
            for _ in range(300)]

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(*(worker(*job) for job in jobs)), timeout=60)

    asyncio.run(main())
    assert done == len(jobs)
    assert state(rm) == (capacity, {"cpu": 0, "mem": 0}, 0)
    assert peak == capacity or (peak["cpu"] >= 4 and peak["mem"] >= 7)  # it was really loaded


# -- fairness ---------------------------------------------------------------------------------
def test_large_request_is_not_starved_by_a_stream_of_small_ones() -> None:
    async def main() -> list[str]:
        rm = cs.ResourceManager({"slot": 4})
        order: list[str] = []
        for _ in range(3):
            rm.acquire_nowait({"slot": 1})  # one slot stays free

        async def take(label: str, amount: int) -> None:
            await rm.acquire({"slot": amount})
            order.append(label)

        big = asyncio.create_task(take("big", 4))
        await settle()
        smalls = []
        for i in range(12):  # each would fit in the free slot, were it not for FIFO
            smalls.append(asyncio.create_task(take(f"small{i}", 1)))
            await settle()
        assert order == [] and rm.waiting() == 13 and rm.in_use("slot") == 3
        with pytest.raises(cs.ResourceUnavailable):
            rm.acquire_nowait({"slot": 1})  # would jump the queue

        rm.release({"slot": 3})
        await settle()
        assert order == ["big"] and rm.in_use("slot") == 4
        rm.release({"slot": 4})
        await settle()
        assert order == ["big", "small0", "small1", "small2", "small3"]
        for _ in range(2):
            rm.release({"slot": 4})
            await settle()
        await asyncio.gather(big, *smalls)
        rm.release({"slot": 4})
        assert rm.statistics().in_use == {"slot": 0}
        return order

    order = asyncio.run(main())
    assert order == ["big"] + [f"small{i}" for i in range(12)]


def test_waiters_behind_a_blocked_head_wait_even_for_another_resource() -> None:
    async def main() -> None:
        rm = cs.ResourceManager({"a": 1, "b": 1})
        rm.acquire_nowait({"a": 1})
        head = asyncio.create_task(rm.acquire({"a": 1}))
        await settle()
        behind = asyncio.create_task(rm.acquire({"b": 1}))  # fits, but strict FIFO
        await settle()
        assert not behind.done() and rm.in_use("b") == 0
        rm.release({"a": 1})
        await asyncio.gather(head, behind)
        assert rm.statistics().in_use == {"a": 1, "b": 1}

    asyncio.run(main())


# -- errors -------------------------------------------------------------------------------------
def test_acquire_nowait_raises_when_it_cannot_take_now() -> None:
    rm = cs.ResourceManager({"gpu": 2})
    rm.acquire_nowait({"gpu": 2})
    with pytest.raises(cs.ResourceUnavailable, match="gpu"):
        rm.acquire_nowait({"gpu": 1})
    rm.release({"gpu": 1})
    rm.acquire_nowait({"gpu": 1})
    assert rm.in_use("gpu") == 2
    assert issubclass(cs.ResourceUnavailable, cs.CascadeError)


@pytest.mark.parametrize("method", ["acquire", "acquire_nowait"])
def test_requests_that_can_never_fit_or_bad_amounts_are_value_errors(method: str) -> None:
    rm = cs.ResourceManager({"cpu_slot": 2, "gpu": 1})

    def call(amounts: dict[str, Any]) -> None:
        if method == "acquire":
            asyncio.run(asyncio.wait_for(rm.acquire(amounts), timeout=5))
        else:
            rm.acquire_nowait(amounts)

    with pytest.raises(ValueError, match="'cpu_slot'.*capacity 2"):
        call({"cpu_slot": 3})
    with pytest.raises(ValueError, match="'gpu'.*-1"):
        call({"gpu": -1})
    for bad in (True, float("nan"), float("inf"), "1"):
        with pytest.raises(ValueError, match="'gpu'"):
            call({"gpu": bad})
    assert rm.statistics().in_use == {"cpu_slot": 0, "gpu": 0}


def test_over_release_is_a_value_error_and_changes_nothing() -> None:
    rm = cs.ResourceManager({"a": 2, "b": 2})
    rm.acquire_nowait({"a": 1, "b": 1})
    with pytest.raises(ValueError, match="'b'"):
        rm.release({"a": 1, "b": 2})
    with pytest.raises(ValueError, match="'a'"):
        rm.release({"a": 1.5})
    with pytest.raises(ValueError, match="'a'"):
        rm.release({"a": -1})
    assert rm.statistics().in_use == {"a": 1, "b": 1}


def test_bad_capacity_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'cpu'"):
        cs.ResourceManager({"cpu": -1})
    with pytest.raises(ValueError, match="'cpu'"):
        cs.ResourceManager({"cpu": True})


# -- cancellation ---------------------------------------------------------------------------------
def test_cancelled_waiter_leaks_no_capacity_and_unblocks_the_queue() -> None:
    async def main() -> None:
        rm = cs.ResourceManager({"slot": 4})
        rm.acquire_nowait({"slot": 3})
        big = asyncio.create_task(rm.acquire({"slot": 4}))  # blocks the queue
        await settle()
        small = asyncio.create_task(rm.acquire({"slot": 1}))
        await settle()
        assert not small.done() and rm.waiting() == 2

        big.cancel()
        with pytest.raises(asyncio.CancelledError):
            await big
        await settle()
        assert small.done() and rm.in_use("slot") == 4 and rm.waiting() == 0
        rm.release({"slot": 4})
        rm.acquire_nowait({"slot": 4})  # all capacity is back
        assert state(rm) == ({"slot": 4}, {"slot": 4}, 0)

    asyncio.run(main())


def test_many_waiters_cancelled_at_once_raise_cancelled_error_and_leak_nothing() -> None:
    async def main() -> None:
        rm = cs.ResourceManager({"slot": 2})
        rm.acquire_nowait({"slot": 2})
        waiters = [asyncio.create_task(rm.acquire({"slot": 1 + i % 2})) for i in range(10)]
        await settle()
        for w in waiters[:6]:
            w.cancel()
        results = await asyncio.gather(*waiters[:6], return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results), results
        assert rm.waiting() == 4
        rm.release({"slot": 2})
        await settle()
        rest = waiters[6:]  # want 1, 2, 1, 2: the first fits, the second blocks the rest
        assert [w.done() for w in rest] == [True, False, False, False]
        for w in rest[1:]:
            w.cancel()
        await asyncio.gather(*rest, return_exceptions=True)
        assert state(rm) == ({"slot": 2}, {"slot": 1}, 0)

    asyncio.run(main())


def test_waiter_cancelled_just_after_being_granted_gives_it_back() -> None:
    async def main() -> None:
        rm = cs.ResourceManager({"slot": 1})
        rm.acquire_nowait({"slot": 1})
        waiter = asyncio.create_task(rm.acquire({"slot": 1}))
        await settle()
        rm.release({"slot": 1})      # grants it to the waiter...
        assert rm.in_use("slot") == 1
        waiter.cancel()              # ...which is cancelled before it resumes
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert rm.in_use("slot") == 0 and rm.waiting() == 0
        rm.acquire_nowait({"slot": 1})

    asyncio.run(main())


def test_statistics_is_a_frozen_snapshot() -> None:
    async def main() -> None:
        rm = cs.ResourceManager({"cpu": 2, "gpu": 1})
        rm.acquire_nowait({"cpu": 2})
        waiters = [asyncio.create_task(rm.acquire({"cpu": 1})) for _ in range(3)]
        await settle()
        stats = rm.statistics()
        assert stats == cs.ResourceStatistics({"cpu": 2, "gpu": 1}, {"cpu": 2, "gpu": 0}, 3, 3)
        assert (rm.capacity("cpu"), rm.in_use("cpu"), rm.waiting()) == (2, 2, 3)
        with pytest.raises(AttributeError):
            stats.waiters = 0  # type: ignore[misc]
        stats.in_use["cpu"] = 99
        assert rm.in_use("cpu") == 2
        rm.set_capacity("cpu", 5)  # more room wakes the queue
        await asyncio.gather(*waiters)
        assert state(rm) == ({"cpu": 5, "gpu": 1}, {"cpu": 5, "gpu": 0}, 0)

    asyncio.run(main())


# -- constraints on the engine ---------------------------------------------------------------------
@pytest.mark.parametrize("path", ["graph", "vm", "vm-nested"])
def test_constraints_cap_concurrent_calls_at_capacity(path: str) -> None:
    limit = 3
    inside = 0
    most = 0

    @cs.task
    async def work(i: int, steps: int) -> Any:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        assert inside <= limit
        await spin(3)
        inside -= 1
        return i if steps == 0 else cs.TailCall(steps=steps - 1)

    @cs.task
    def outer(x: int, pad: int) -> int:
        return x

    def target(i: int) -> cs.LazyResult:
        call = work(i, 0 if path == "vm-nested" else 2).with_constraints(cpu_slot=1)
        return outer(call, 0) if path == "vm-nested" else call

    rm = cs.ResourceManager({"cpu_slot": limit})
    engine = cs.Engine(resource_manager=rm)

    async def main() -> list[Any]:
        return await asyncio.gather(*(engine.run(target(i), use_vm=path != "graph") for i in range(40)))

    assert asyncio.run(main()) == list(range(40))
    assert most == limit
    assert state(rm) == ({"cpu_slot": limit}, {"cpu_slot": 0}, 0)


@pytest.mark.parametrize("use_vm", [False, True])
def test_constraint_above_capacity_fails_instead_of_hanging(use_vm: bool) -> None:
    @cs.task
    def work() -> int:
        return 1

    engine = cs.Engine(resource_manager=cs.ResourceManager({"cpu_slot": 2}))

    async def main() -> Any:
        return await asyncio.wait_for(engine.run(work().with_constraints(cpu_slot=3), use_vm=use_vm), 5)

    with pytest.raises(Exception) as info:
        asyncio.run(main())
    error = info.value if isinstance(info.value, ValueError) else info.value.__cause__
    assert isinstance(error, ValueError) and "'cpu_slot'" in str(error)


def test_constraints_are_ignored_without_a_manager_and_validated_when_written() -> None:
    @cs.task
    def work() -> int:
        return 1

    assert asyncio.run(cs.Engine().run(work().with_constraints(cpu_slot=99), use_vm=True)) == 1
    with pytest.raises(ValueError, match="cpu_slot"):
        work().with_constraints(cpu_slot=-1)
