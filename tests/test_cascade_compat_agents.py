"""Programs written for the original Cascade run unchanged: its firefly agent, written
as the original's user writes it (``TailCall(kwargs={...every argument...})``, a
``Connector`` it publishes flashes to, fire-and-forget), with only the imports pointed
at ``shared.cascade``. 2,500 of them on a 50x50 torus share one Engine on the VM path:
they flash at the rate the model predicts, with or without a ResourceManager that
admits 50 at a time (and then never more than 50 run), and the agent also runs on the
graph path. The agents are cancelled after a fixed wall time; nothing is left running.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections import Counter
from dataclasses import dataclass

from shared import cascade as cs
from shared.cascade import (Connector, Engine, LocalExecutor, MessageBus, NativeSolver,
                            ResourceManager, TailCall)

PERIOD, REFRACTORY, NUDGE, JITTER = 1.0, 0.2, 0.02, 0.1
RNG = random.Random(20240611)  # the original calls random.uniform; seeded here


class InFlight:
    """Test instrumentation: how many agent steps are inside the agent's body at once."""

    now = max = steps = 0

    def reset(self) -> None:
        self.now = self.max = self.steps = 0

    def counted(self, fn):
        @functools.wraps(fn)  # the Task sees the agent's own signature (__wrapped__)
        async def step(*args, **kwargs):
            self.now += 1
            self.steps += 1
            self.max = max(self.max, self.now)
            try:
                return await fn(*args, **kwargs)
            finally:
                self.now -= 1
        return step


IN_FLIGHT = InFlight()


class Channel:
    """The original example's channel: an unbounded queue with async send/recv."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue = asyncio.Queue()

    async def send(self, msg) -> None:
        await self._queue.put(msg)

    async def recv(self):
        return await self._queue.get()


class CountingConnector:
    """A Connector (connect/disconnect/publish/subscribe) that counts flashes by agent."""

    def __init__(self) -> None:
        self.connected = False
        self.flashes: Counter = Counter()

    async def connect(self) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False

    async def publish(self, topic: str, payload, qos: int = 0, retain: bool = False) -> None:
        assert self.connected and topic == "firefly/flash"
        self.flashes[payload["agent_id"]] += 1

    async def subscribe(self, topic: str, callback) -> None:
        return None


# -- the original's agent (only the counting decorator is ours) --------------------------
@cs.task
@IN_FLIGHT.counted
async def firefly_agent(agent_id: int, initial_phase: float, period: float, nudge: float,
                        neighbors: list, my_channel, connector: Connector,
                        refractory_period: float = 2.0):
    if initial_phase < refractory_period:
        await asyncio.sleep(refractory_period - initial_phase)
        return TailCall(kwargs={"agent_id": agent_id, "initial_phase": refractory_period,
                                "period": period, "nudge": nudge, "neighbors": neighbors,
                                "my_channel": my_channel, "connector": connector,
                                "refractory_period": refractory_period})
    wait_timeout = max(0.001, period - initial_phase)
    start_time = time.monotonic()
    try:
        await asyncio.wait_for(my_channel.recv(), timeout=wait_timeout)
        elapsed = time.monotonic() - start_time
        next_phase = initial_phase + elapsed + nudge
        return TailCall(kwargs={"agent_id": agent_id, "initial_phase": next_phase,
                                "period": period, "nudge": nudge, "neighbors": neighbors,
                                "my_channel": my_channel, "connector": connector,
                                "refractory_period": refractory_period})
    except asyncio.TimeoutError:
        flash_payload = {"agent_id": agent_id, "phase": period}
        if connector:
            asyncio.create_task(connector.publish("firefly/flash", flash_payload))
        for neighbor in neighbors:
            await neighbor.send(flash_payload)
        jitter = RNG.uniform(0.0, JITTER)
        return TailCall(kwargs={"agent_id": agent_id, "initial_phase": jitter,
                                "period": period, "nudge": nudge, "neighbors": neighbors,
                                "my_channel": my_channel, "connector": connector,
                                "refractory_period": refractory_period})


@dataclass
class Outcome:
    flashes: Counter
    ended_early: list   # agent runs that were done before cancellation (must be none)
    max_in_flight: int
    steps: int
    slots_in_use: int | None
    leftovers: int      # tasks still alive after cleanup (must be 0)


async def stop(tasks: list) -> None:
    """Cancel until every agent is done: Python 3.11's ``wait_for`` swallows a cancel
    that arrives together with the message it waited for, so one cancel may not do."""
    pending = set(tasks)
    for _ in range(200):
        for t in pending:
            t.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.05)
        if not pending:
            return
    raise AssertionError(f"{len(pending)} agents still run after 200 cancels")


async def swarm(side: int, seconds: float, *, use_vm: bool, slots: int | None = None) -> Outcome:
    """``side`` x ``side`` agents on a torus, 4 neighbours each, run for ``seconds`` on one
    shared Engine, then cancelled and awaited."""
    IN_FLIGHT.reset()
    rm = ResourceManager(capacity={"cpu_slot": slots}) if slots else None
    engine = Engine(solver=NativeSolver(), executor=LocalExecutor(), bus=MessageBus(),
                    resource_manager=rm)
    connector = CountingConnector()
    assert isinstance(connector, Connector)  # the original's protocol, runtime-checkable
    await connector.connect()
    phases = random.Random(side)
    channels = [Channel() for _ in range(side * side)]
    tasks = []
    for agent_id in range(side * side):
        row, col = divmod(agent_id, side)
        neighbors = [channels[((row + dr) % side) * side + (col + dc) % side]
                     for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))]
        agent = firefly_agent(agent_id=agent_id, initial_phase=phases.uniform(0.0, PERIOD),
                              period=PERIOD, nudge=NUDGE, neighbors=neighbors,
                              my_channel=channels[agent_id], connector=connector,
                              refractory_period=REFRACTORY)
        if slots:
            agent = agent.with_constraints(cpu_slot=1)
        tasks.append(asyncio.create_task(engine.run(agent, use_vm=use_vm)))
    await asyncio.sleep(seconds)
    ended = [t for t in tasks if t.done()]  # a done task's repr shows its exception
    slots_in_use = rm.in_use("cpu_slot") if rm else None
    await stop(tasks)
    others = asyncio.all_tasks() - {asyncio.current_task()}  # fire-and-forget publishes
    await asyncio.gather(*others, return_exceptions=True)
    leftovers = len(asyncio.all_tasks() - {asyncio.current_task()})
    await connector.disconnect()
    return Outcome(connector.flashes, ended, IN_FLIGHT.max, IN_FLIGHT.steps, slots_in_use,
                   leftovers)


def test_2500_original_agents_flash_at_the_model_rate_on_one_shared_engine_vm() -> None:
    side, seconds = 50, 3.0
    n = side * side
    out = asyncio.run(swarm(side, seconds, use_vm=True))
    assert out.ended_early == [] and out.leftovers == 0
    # With no constraint every agent is inside its (awaiting) body at once.
    assert out.max_in_flight == n
    # Model: an agent first flashes at period - phase0 (<= period), then once per cycle of
    # period - jitter (mean JITTER/2) - its nudges (~1 per neighbour flash, <= 4*NUDGE),
    # i.e. 0.87..0.95 period: about T/period = 3 flashes each. The band [0.5, 1.5]
    # x N*T/period leaves room for event-loop lag (low side) and nudging (high side);
    # an agent that never leaves its refractory state, or flashes every step, or keeps a
    # stale phase (flashing every period - phase0) falls outside it.
    total, expected = sum(out.flashes.values()), n * seconds / PERIOD
    assert 0.5 * expected <= total <= 1.5 * expected, (total, expected)
    assert len(out.flashes) == n and min(out.flashes.values()) >= 1
    print(f"\nvm, {n} agents, {seconds} s: {total} flashes (model ~{expected:.0f}), "
          f"{out.steps} steps, max in flight {out.max_in_flight}")


def test_2500_original_agents_under_a_50_slot_resource_manager_never_exceed_50() -> None:
    side, seconds, slots = 50, 3.0, 50
    n = side * side
    out = asyncio.run(swarm(side, seconds, use_vm=True, slots=slots))
    assert out.ended_early == [] and out.leftovers == 0
    # The slot is held for a whole step (including its wait for a neighbour), so exactly
    # `slots` of the 2,500 agents are inside their body at a time: never more, and the
    # first 50 to arrive fill every slot (the unconstrained run above reaches 2,500).
    assert out.max_in_flight == slots and out.slots_in_use == slots
    # No step waits longer than period - refractory (a sensitive wait) or refractory (a
    # refractory sleep), so each slot completes a step at least every 0.8 s: >= 50 * T /
    # 0.8 steps, halved for loop lag. Unconstrained agents take ~6 steps per period
    # each; here the slots allow far fewer than one per agent-period.
    min_steps = 0.5 * slots * seconds / max(PERIOD - REFRACTORY, REFRACTORY)
    assert min_steps <= out.steps < n * seconds / PERIOD, (out.steps, min_steps)
    # Flashes still happen, but a first flash costs a slot for the whole sensitive wait
    # (period - phase0, ~0.4 s on average): 2,500 of them need ~1,000 slot-seconds and
    # T * slots = 150 are available, so only some of the agents get to flash.
    total = sum(out.flashes.values())
    assert 0 < total <= out.steps and len(out.flashes) < n, (total, len(out.flashes))
    print(f"\nvm + {slots} slots, {n} agents, {seconds} s: {total} flashes by "
          f"{len(out.flashes)} agents, {out.steps} steps, max in flight {out.max_in_flight}")


def test_the_original_agent_also_runs_on_the_graph_path() -> None:
    side, seconds = 4, 1.5
    n = side * side
    out = asyncio.run(swarm(side, seconds, use_vm=False))
    assert out.ended_early == [] and out.leftovers == 0
    # First flash by period - phase0 <= 1 s, then ~0.9 s cycles: each agent flashes once
    # or twice; the same [0.5, 1.5] x N*T/period band as on the VM.
    total, expected = sum(out.flashes.values()), n * seconds / PERIOD
    assert len(out.flashes) == n and 0.5 * expected <= total <= 1.5 * expected, out.flashes
    print(f"\ngraph, {n} agents, {seconds} s: {total} flashes (model ~{expected:.0f})")
