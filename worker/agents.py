"""The shard's fireflies: their state, the signal rule, and the agent task.

Each agent is one long-lived Cascade VM task (:func:`firefly_agent`) that loops by
``TailCall``: wait on the clock for the moment its phase reaches P, flash, repeat.
Its state lives in :class:`ShardAgents` as flat arrays indexed by local agent number:
``epoch[i]`` is the simulated time at which agent i's phase was 0, so
``phase(t) = t - epoch[i]`` and the next flash is due at ``epoch[i] + P``. A nudge of
ε moves ``epoch[i]`` back by ε and moves the agent's pending alarm; it does not wake
the agent's coroutine unless the nudge makes it flash.

This is the simulator's hot path: plain attribute and list access, no allocation per
signal beyond the clock's timer. Every collaborator (clock, metrics, the edge outbox's
``send_edge``, the signal ``trace``) is passed to the constructor. Not here: assembling
the shard and its Engine (``worker.shard.build_shard``).
"""

from __future__ import annotations

from array import array
from typing import Any, Callable, Sequence

import numpy as np

from shared import cascade as cs
from shared.clock import PREEMPTED, Clock
from shared import streams
from shared.checkpoint import Checkpoint
from shared.model import FireflyParams
from shared.partition import ShardLayout
from shared.quota import RESOURCE

from .metrics import ShardMetrics

__all__ = ["ShardAgents", "firefly_agent", "firefly_wait", "firefly_act", "SendEdge",
           "SignalTrace"]

#: ``send_edge(cell, t, shards)``: a boundary flash of ``cell`` at ``t`` for ``shards``.
SendEdge = Callable[[int, float, tuple[int, ...]], None]
#: ``trace(t, from_cell, to_cell, via)``: one signal, ``via`` is "local" or "edge".
SignalTrace = Callable[[float, int, int, str], None]


class ShardAgents:
    """State and rules of every agent of one shard (docs/design.md, §4)."""

    def __init__(self, layout: ShardLayout, params: FireflyParams, clock: Clock,
                 initial_phase: Sequence[float], metrics: ShardMetrics, *,
                 send_edge: SendEdge | None = None, trace: SignalTrace | None = None,
                 delay: float = 0.0, record_train: bool = False,
                 resume: Checkpoint | None = None) -> None:
        n = len(layout.cells)
        if len(initial_phase) != n:
            raise ValueError(f"{len(initial_phase)} initial phases for {n} agents")
        self.layout = layout
        self.n = n
        self.period = params.period
        self.nudge = params.nudge
        self.refractory = params.refractory_s
        self.jitter = params.reset_jitter
        # The coupling delay: a flash at t reaches the neighbours at t + delay (0: at
        # once). A delay needs a clock that delivers timed signals (LockstepClock).
        if delay < 0 or (delay > 0 and not hasattr(clock, "deliver_at")):
            raise ValueError(f"delay(={delay!r}) must be >= 0, and > 0 only on the "
                             f"lock-step clock")
        self.delay = delay
        self.clock = clock
        self.metrics = metrics
        self.counters = metrics.counters
        self.cells = layout.cells
        self.local_neighbours = layout.local_neighbours
        self.outgoing = layout.outgoing
        self.send_edge = send_edge
        self.trace = trace
        # phase(t) = t - epoch, agents start at t = 0 with their initial phase.
        self.epoch = array("d", (-float(p) for p in initial_phase))
        self.epoch_view = np.frombuffer(self.epoch, dtype=np.float64)
        # The reset jitter after a cell's k-th flash is the k-th number of its own
        # counter-based stream: the same whichever shard holds the cell.
        self.jitter_keys = array("Q", streams.stream_keys(params.seed, streams.JITTER,
                                                          np.asarray(layout.cells)).tobytes())
        self.flash_count = array("q", bytes(8 * n))
        self.flashed: list[int] = []  # local indices flashed since the last frame
        # ``record_train`` (lock-step): every flash as (global cell, sim time), in order.
        self.train: tuple[array, array] | None = (array("q"), array("d")) if record_train else None
        # ``resume`` (a lock-step checkpoint's part for our cells, in local order): the
        # epochs and flash counts as they were (the alarms are the clock's to restore).
        if resume is not None:
            if resume.cells.tolist() != list(layout.cells):
                raise ValueError("the checkpoint part is not for this shard's cells")
            self.epoch[:] = array("d", resume.epoch.tolist())
            self.flash_count[:] = array("q", resume.flash_count.tolist())

    def due(self, i: int) -> float:
        return self.epoch[i] + self.period

    def wait_flash(self, i: int) -> Any:
        """Awaitable resolving with the sim time the flash was due (None: stop)."""
        return self.clock.alarm(i, self.epoch[i] + self.period)

    def flash(self, i: int, t_due: float) -> None:
        """Agent i flashes: record lateness, reset its phase, signal its neighbours."""
        # lock-step (a delay): the flash happens at its due time, whenever it runs
        now = t_due if self.delay else self.clock.now()
        self.metrics.flash_lateness.record((now - t_due) * 1000.0)
        # The phase after a flash is U(0, jitter), counted from the due moment so the
        # model's time stays exact whatever the processing lateness.
        k = self.flash_count[i]
        self.flash_count[i] = k + 1
        if self.train is not None:
            self.train[0].append(self.cells[i])
            self.train[1].append(t_due)
        self.epoch[i] = t_due - streams.unit(self.jitter_keys[i], k) * self.jitter
        counters = self.counters
        counters.flashes += 1
        self.flashed.append(i)
        neighbours = self.local_neighbours[i]
        counters.local_signals += len(neighbours)
        signal = self.signal
        trace = self.trace
        if self.delay:
            self.signal_later(i, neighbours, now)
            neighbours = ()
        for j in neighbours:
            if trace is not None:
                trace(now, self.cells[i], self.cells[j], "local")
            signal(j, now)
        shards = self.outgoing[i]
        if shards and self.send_edge is not None:
            self.send_edge(self.cells[i], now, shards)

    def signal_later(self, i: int, targets: tuple[int, ...], t: float) -> None:
        """Agent i flashed at ``t``: the local agents ``targets`` get the signal at
        ``t + delay``, in the clock's event order (one event for all of them)."""
        source = self.cells[i]
        trace = self.trace
        if trace is not None:
            for j in targets:
                trace(t, source, self.cells[j], "local")
        self.clock.deliver_at(t + self.delay, targets, source, self.signal)  # type: ignore[attr-defined]

    def signal(self, j: int, now: float) -> None:
        """A flash reaches agent j at sim time ``now``."""
        epoch = self.epoch
        if now - epoch[j] < self.refractory:
            self.counters.signals_ignored_refractory += 1
            return
        due = epoch[j] - self.nudge + self.period
        if due <= now:
            epoch[j] = now - self.period  # its phase reaches P exactly now
        else:
            epoch[j] = due - self.period
        # The phase moves whatever the agent is doing; its alarm only if it is waiting
        # (an agent queued for a quota slot finds its new due when it next waits; one
        # about to flash resets its phase anyway).
        if self.clock.pending(j):
            self.clock.move(j, due, now)

    def phases(self, now: float) -> np.ndarray:
        """Every agent's phase at ``now`` in [0, P) (for the order parameter)."""
        return np.mod(now - self.epoch_view, self.period)

    def take_flashed(self) -> list[int]:
        """Global cell ids flashed since the last call, each once (so a frame holds at
        most the shard's cells: ``shared.limits.frame_bytes``)."""
        flashed, self.flashed = self.flashed, []
        cells = self.cells
        return [cells[i] for i in dict.fromkeys(flashed)]


@cs.task(name="firefly_agent")
async def firefly_agent(agent: int, flashes: int, agents: ShardAgents) -> Any:
    """One firefly (local index ``agent``): wait for its flash, flash, tail-call.
    Returns its flash count when the shard stops it. ``agents`` is the shard's
    :class:`ShardAgents` (``Shard.start`` gives it; every TailCall carries it on)."""
    t_due = await agents.wait_flash(agent)
    if t_due is None:
        return flashes
    if t_due is PREEMPTED:  # the quota lease lapsed: end the step, queue again
        return cs.TailCall()
    agents.flash(agent, t_due)
    return cs.TailCall(flashes=flashes + 1)


# -- lock-step with a quota: the slot is held only while the agent acts ----------------
# (docs/lockstep.md, "The quota in lock-step"). The same agent, one VM task, switching
# between two blueprints by TailCall: it waits without a slot and acts with one, so
# the quota slows the run in wall time and changes nothing in simulated time.

@cs.task(name="firefly_wait")
async def firefly_wait(agent: int, flashes: int, agents: ShardAgents) -> Any:
    """Wait for the flash (no slot held); then act, holding one quota slot."""
    t_due = await agents.wait_flash(agent)
    if t_due is None:
        return flashes
    return cs.TailCall(target=firefly_act(agent, flashes, agents, t_due)
                       .with_constraints(**{RESOURCE: 1}))


@cs.task(name="firefly_act")
def firefly_act(agent: int, flashes: int, agents: ShardAgents, t_due: float) -> Any:
    """Flash at ``t_due`` (while holding a quota slot); then wait again, without it."""
    agents.flash(agent, t_due)
    return cs.TailCall(target=firefly_wait, flashes=flashes + 1)
