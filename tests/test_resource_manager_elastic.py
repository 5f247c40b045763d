"""ResourceManager of shared.cascade as a worker's share of the global quota: elastic
capacity (requests above capacity wait until it grows, shrinking holds waiters back,
constraints on the engine wait for the lease), and composition without subclassing
(statistics count the acquisitions that had to queue, an observer sees every
acquisition and release in order)."""

from __future__ import annotations

import asyncio

import pytest

from cascadekit import settle, state
from shared import cascade as cs


# -- elastic capacity (a worker's share of the global quota) --------------------------------------
def test_elastic_request_above_capacity_waits_until_capacity_grows() -> None:
    async def main() -> None:
        rm = cs.ResourceManager({"cpu_slot": 0}, elastic=True)
        assert rm.elastic and not cs.ResourceManager({"cpu_slot": 1}).elastic
        first = asyncio.create_task(rm.acquire({"cpu_slot": 1}))
        second = asyncio.create_task(rm.acquire({"cpu_slot": 2}))
        await settle()
        assert not first.done() and not second.done() and rm.waiting() == 2
        rm.set_capacity("cpu_slot", 1)  # room for the head only, in arrival order
        await settle()
        assert first.done() and not second.done()
        rm.set_capacity("cpu_slot", 3)
        await asyncio.wait_for(second, timeout=5)
        assert state(rm) == ({"cpu_slot": 3}, {"cpu_slot": 3}, 0)

    asyncio.run(main())


def test_elastic_acquire_nowait_above_capacity_is_unavailable_not_an_error() -> None:
    rm = cs.ResourceManager({"cpu_slot": 0}, elastic=True)
    with pytest.raises(cs.ResourceUnavailable, match="cpu_slot"):
        rm.acquire_nowait({"cpu_slot": 1})
    rm.set_capacity("cpu_slot", 1)
    rm.acquire_nowait({"cpu_slot": 1})
    rm.set_capacity("cpu_slot", 0)  # shrinking under a running call: it keeps its slot
    assert (rm.capacity("cpu_slot"), rm.in_use("cpu_slot")) == (0, 1)
    with pytest.raises(cs.ResourceUnavailable):
        rm.acquire_nowait({"cpu_slot": 1})
    rm.release({"cpu_slot": 1})
    rm.acquire_nowait({"tpu": 1})  # a name it does not define is unlimited, counted nowhere
    assert rm.statistics().in_use == {"cpu_slot": 0}
    with pytest.raises(ValueError, match="-1"):  # bad amounts still are errors
        rm.acquire_nowait({"cpu_slot": -1})


def test_elastic_shrink_holds_back_waiters_until_in_use_drops_below_the_new_capacity() -> None:
    async def main() -> None:
        rm = cs.ResourceManager({"cpu_slot": 3}, elastic=True)
        rm.acquire_nowait({"cpu_slot": 3})
        waiter = asyncio.create_task(rm.acquire({"cpu_slot": 1}))
        rm.set_capacity("cpu_slot", 1)
        rm.release({"cpu_slot": 1})
        rm.release({"cpu_slot": 1})
        await settle()
        assert not waiter.done() and rm.in_use("cpu_slot") == 1
        rm.release({"cpu_slot": 1})
        await asyncio.wait_for(waiter, timeout=5)
        assert rm.in_use("cpu_slot") == 1

    asyncio.run(main())


def test_elastic_waiter_cancelled_while_capacity_is_zero_leaks_nothing() -> None:
    async def main() -> None:
        rm = cs.ResourceManager({"cpu_slot": 0}, elastic=True)
        big = asyncio.create_task(rm.acquire({"cpu_slot": 5}))
        small = asyncio.create_task(rm.acquire({"cpu_slot": 1}))
        await settle()
        big.cancel()
        with pytest.raises(asyncio.CancelledError):
            await big
        rm.set_capacity("cpu_slot", 1)
        await asyncio.wait_for(small, timeout=5)
        assert state(rm) == ({"cpu_slot": 1}, {"cpu_slot": 1}, 0)

    asyncio.run(main())


@pytest.mark.parametrize("use_vm", [False, True])
def test_elastic_constraint_waits_for_capacity_on_the_engine(use_vm: bool) -> None:
    @cs.task
    def work(i: int) -> int:
        return i

    rm = cs.ResourceManager({"cpu_slot": 0}, elastic=True)
    engine = cs.Engine(resource_manager=rm)

    async def main() -> list[int]:
        runs = [asyncio.create_task(engine.run(work(i).with_constraints(cpu_slot=1), use_vm=use_vm))
                for i in range(5)]
        await settle()
        assert not any(r.done() for r in runs) and rm.waiting() == 5
        rm.set_capacity("cpu_slot", 2)  # the lease arrives
        return await asyncio.wait_for(asyncio.gather(*runs), timeout=5)

    assert asyncio.run(main()) == list(range(5))
    assert rm.in_use("cpu_slot") == 0


# -- composition: counting waits and observing, without subclassing -------------------------------
def test_statistics_count_the_acquisitions_that_had_to_queue() -> None:
    async def main() -> None:
        rm = cs.ResourceManager({"slot": 1})
        await rm.acquire({"slot": 1})             # free: no wait
        queued = [asyncio.create_task(rm.acquire({"slot": 1})) for _ in range(2)]
        await settle()
        assert rm.statistics().waited == 2
        with pytest.raises(cs.ResourceUnavailable):
            rm.acquire_nowait({"slot": 1})       # refused, not queued: not a wait
        queued[1].cancel()                        # a cancelled wait still waited
        rm.release({"slot": 1})
        await asyncio.gather(queued[0], return_exceptions=True)
        await asyncio.gather(queued[1], return_exceptions=True)
        assert rm.statistics() == cs.ResourceStatistics({"slot": 1}, {"slot": 1}, 0, 2)

    asyncio.run(main())


def test_the_observer_sees_every_acquisition_and_release_in_order() -> None:
    async def main() -> None:
        events: list[tuple[str, dict[str, int]]] = []
        rm = cs.ResourceManager({"slot": 1}, observer=lambda e, a: events.append((e, dict(a))))
        rm.acquire_nowait({"slot": 1})
        waiter = asyncio.create_task(rm.acquire({"slot": 1}))
        await settle()
        assert events == [("acquire", {"slot": 1})]  # a waiter is seen once it has the slot
        rm.release({"slot": 1})
        await waiter
        with pytest.raises(ValueError):
            rm.release({"slot": 2})              # a bad release is neither applied nor seen
        rm.release({"slot": 1})
        assert [e for e, _ in events] == ["acquire", "release", "acquire", "release"]
        # a waiter granted just as it is cancelled gives the slot back unseen: the
        # observer's ledger stays balanced
        rm.acquire_nowait({"slot": 1})
        late = asyncio.create_task(rm.acquire({"slot": 1}))
        await settle()
        rm.release({"slot": 1})
        late.cancel()
        await asyncio.gather(late, return_exceptions=True)
        balance = sum(a["slot"] if e == "acquire" else -a["slot"] for e, a in events)
        assert balance == rm.in_use("slot") == 0

    asyncio.run(main())


def test_the_vm_takes_and_returns_slots_through_an_observed_manager() -> None:
    @cs.task
    async def work(i: int) -> int:
        await asyncio.sleep(0)
        return i

    seen: list[str] = []
    rm = cs.ResourceManager({"slot": 2}, observer=lambda e, a: seen.append(e))
    engine = cs.Engine(resource_manager=rm)

    async def main() -> list[int]:
        return await asyncio.gather(*(engine.run(work(i).with_constraints(slot=1), use_vm=True)
                                      for i in range(5)))

    assert asyncio.run(main()) == list(range(5))
    assert seen.count("acquire") == seen.count("release") == 5
    assert rm.statistics().waited == 3 and rm.in_use("slot") == 0
