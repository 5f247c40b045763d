"""One shard's simulation, assembled in one place: :func:`build_shard`.

The worker (``worker.runner``), the agent tests and ``scripts/explore_model.py`` all
build a shard here, so they run the same thing: the shard's :class:`ShardAgents`, ONE
Cascade ``Engine`` (with the quota's ResourceManager when there is one), and one
long-lived VM task per agent, each a run of the clock's Cascade ``Scheduler``
(asyncio sees one task per shard) given the shard's ``ShardAgents`` as an argument.
Every step carries ``with_constraints(RESOURCE=1)`` (in lock-step with a quota only the
act does: ``firefly_wait``/``firefly_act``); without a ResourceManager the VM skips
the constraint at no cost.

What it is given, not built here: the layout (``layout_of``), the clock (real time or
lock-step), the metrics, the edge outbox's ``send_edge`` and the quota's slots. Not
here: sockets, the control channel, the frame loop (``worker.runner``).
"""

from __future__ import annotations

from typing import Any, Sequence

from shared import cascade as cs
from shared.checkpoint import Checkpoint
from shared.clock import Clock
from shared.grid import Grid
from shared.model import FireflyParams
from shared.partition import ShardLayout, partition, shard_layout
from shared.quota import RESOURCE

from .agents import SendEdge, ShardAgents, SignalTrace, firefly_agent, firefly_wait
from .metrics import ShardMetrics

__all__ = ["Shard", "build_shard", "layout_of"]


def layout_of(grid: Grid, workers: int, shard: int) -> ShardLayout:
    """The layout of shard ``shard`` when ``grid`` is split over ``workers``."""
    return shard_layout(grid, partition(grid, workers), shard)


class Shard:
    """A built shard: agents, Engine and (once :meth:`start`-ed) the agent tasks.

    The tasks are created by :meth:`start`, not at build time, so a worker can bind
    its sockets and wait for its links first. It is not a process or a loop: it runs
    on whatever event loop is running."""

    def __init__(self, layout: ShardLayout, agents: ShardAgents, engine: cs.Engine,
                 clock: Clock, slots: cs.ResourceManager | None, *,
                 slot_per_act: bool = False) -> None:
        self.layout = layout
        self.agents = agents
        self.engine = engine
        self.clock = clock
        self.slots = slots
        self.slot_per_act = slot_per_act and slots is not None
        self.runs: list[cs.Run] = []

    def start(self) -> list[cs.Run]:
        """Create one VM task per agent (a run of the engine's scheduler); each takes
        its first step up to its first wait."""
        if self.runs:
            raise RuntimeError("the shard's agents are already started")
        spawn, agents = self.engine.spawn, self.agents
        # ``agents`` is an argument, carried by every TailCall, rather than injected:
        # a run-scoped resource costs each run a generator and its bookkeeping
        # (~350 bytes per agent; docs/performance.md).
        if self.slot_per_act:  # lock-step with a quota: a slot only while acting
            self.runs = [spawn(firefly_wait(i, 0, agents), use_vm=True) for i in range(agents.n)]
        else:
            self.runs = [spawn(firefly_agent(i, 0, agents).with_constraints(**{RESOURCE: 1}),
                               use_vm=True)
                         for i in range(agents.n)]
        return self.runs

    def all_waiting(self) -> bool:
        """Has every agent reached its first wait: an alarm on the parked clock, or
        the queue for a quota slot?"""
        queued = self.slots.waiting() if self.slots is not None else 0
        return self.clock.parked() + queued >= self.agents.n

    def stop(self) -> int:
        """Ring every alarm, and every later one, with "stop"; returns how many agents
        were waiting. Then await :meth:`finished`."""
        return self.clock.stop_all()

    async def finished(self) -> list[Any]:
        """Wait for every agent: its flash count, or the exception it failed with."""
        await self.engine.scheduler.join()
        return [run.outcome() for run in self.runs]


def build_shard(layout: ShardLayout, params: FireflyParams, cell_phases: Sequence[float],
                clock: Clock, metrics: ShardMetrics, *, yield_every: int,
                send_edge: SendEdge | None = None, trace: SignalTrace | None = None,
                slots: cs.ResourceManager | None = None, delay: float = 0.0,
                record_train: bool = False, resume: Checkpoint | None = None,
                slot_per_act: bool = False) -> Shard:
    """Assemble the shard of ``layout``: agents starting at ``cell_phases`` (indexed by
    global cell id) and their Engine, whose runs are the clock's scheduler's (so
    ``clock`` must be built with a Cascade ``Scheduler``). ``slots``: the quota's
    elastic ResourceManager (``--limit``), else None (no quota, no cost). ``delay``:
    the coupling delay (lock-step clock only); ``record_train``: keep every flash
    (lock-step's flash train); ``resume``: start from this checkpoint part instead of
    ``cell_phases``; ``slot_per_act`` (lock-step with ``slots``): an agent holds a
    slot only while it acts, not while it waits (``firefly_wait``/``firefly_act``)."""
    agents = ShardAgents(layout, params, clock, [float(cell_phases[c]) for c in layout.cells],
                         metrics, send_edge=send_edge, trace=trace, delay=delay,
                         record_train=record_train, resume=resume)
    if clock.scheduler is None:
        raise ValueError("the clock has no Cascade scheduler: build it with "
                         "scheduler=cascade.Scheduler() so the agents can wait on it")
    engine = cs.Engine(resource_manager=slots, yield_every=yield_every,
                       scheduler=clock.scheduler)
    return Shard(layout, agents, engine, clock, slots, slot_per_act=slot_per_act)
