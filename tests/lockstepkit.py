"""A plain event-driven reference of the firefly model with a coupling delay, for the
lock-step tests: a heap of events, no Cascade, no clock, no processes
(docs/lockstep.md, "The event order")."""

from __future__ import annotations

import heapq
from typing import Any, NamedTuple

import numpy as np

from shared import streams
from shared.grid import Grid
from shared.model import FireflyParams


class Reference(NamedTuple):
    """Each cell's epoch (phase = t - epoch) and flash count, in cell order; and the
    cascades across shard borders (when owners were given)."""

    epoch: list[float]
    count: list[int]
    crossings: int


def reference(grid: Grid, params: FireflyParams, phases: np.ndarray, delay: float,
              duration: float, owner: list[int] | None = None) -> Reference:
    """Every event in (time, cell, kind) order: a cell's signals (by source) before
    its flash. With ``owner`` (cell -> shard) it also counts the signals from another
    shard that made a cell flash at once (cascades across a border)."""
    crossings = 0
    period, nudge, refractory, jitter = (params.period, params.nudge, params.refractory_s,
                                         params.reset_jitter)
    n = grid.cells
    keys = streams.stream_keys(params.seed, streams.JITTER, np.arange(n)).tolist()
    table = grid.neighbour_table()
    epoch = [-float(p) for p in phases]
    count = [0] * n
    version = [0] * n
    events: list[tuple[Any, ...]] = []

    def alarm(c: int, due: float) -> None:
        version[c] += 1
        heapq.heappush(events, (due, c, 1, version[c]))

    for c in range(n):
        alarm(c, epoch[c] + period)
    while events and events[0][0] <= duration:
        t, c, kind, tag = heapq.heappop(events)
        if kind == 0:  # a signal from cell ``tag``
            if t - epoch[c] < refractory:
                continue
            due = epoch[c] - nudge + period
            if due <= t:
                epoch[c] = t - period
                alarm(c, t)
                if owner is not None and owner[tag] != owner[c]:
                    crossings += 1
            else:
                epoch[c] = due - period
                alarm(c, due)
        elif tag == version[c]:  # c flashes
            k, count[c] = count[c], count[c] + 1
            epoch[c] = t - streams.unit(keys[c], k) * jitter
            alarm(c, epoch[c] + period)
            for nb in table[c]:
                heapq.heappush(events, (t + delay, nb, 0, c))
    return Reference(epoch, count, crossings)
