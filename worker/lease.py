"""The worker's share of the global quota (``--limit``): a lease of slots.

Agents' steps carry ``with_constraints(cpu_slot=1)``; the Engine's ResourceManager
(:class:`QuotaSlots`, elastic, FIFO) hands slots to agents with no message per step.
:class:`WorkerLease` sizes that manager to the lease a ``shared.quota.LeaseClient``
holds: it pumps the client every 0.1 s (ask for more when agents wait, renew, give
back spare), feeds it grants as they arrive, and when the lease lapses preempts the
steps that run beyond it (their alarms ring with ``PREEMPTED``: the agent gives its
slot back and queues again). Without ``--limit`` none of this exists: no quota traffic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import IO, Any, Callable, Mapping

from shared import cascade as cs
from shared.quota import Grant, LeaseClient

from .metrics import Counters

__all__ = ["QuotaSlots", "WorkerLease", "PUMP_S"]

log = logging.getLogger(__name__)

PUMP_S = 0.1


class QuotaSlots(cs.ResourceManager):
    """The shard's slots: an elastic ResourceManager that counts the acquisitions that
    had to wait and, when tracing, records every acquisition and release with the
    host's monotonic clock (shared by all processes, so traces of shards merge)."""

    def __init__(self, counters: Counters, *, trace: bool = False) -> None:
        super().__init__({"cpu_slot": 0}, elastic=True)
        self.counters = counters
        self.trace: list[tuple[float, int]] | None = [] if trace else None

    async def acquire(self, amounts: Mapping[str, int]) -> None:
        try:
            self.acquire_nowait(amounts)
        except cs.ResourceUnavailable:
            self.counters.quota_waits += 1
            await super().acquire(amounts)
        if self.trace is not None:
            self.trace.append((time.monotonic(), 1))

    def release(self, amounts: Mapping[str, int]) -> None:
        if self.trace is not None:
            self.trace.append((time.monotonic(), -1))
        super().release(amounts)

    def flush_trace(self, out: IO[str]) -> None:
        if self.trace:
            out.write("".join(json.dumps(e) + "\n" for e in self.trace))
            out.flush()
            self.trace.clear()


class WorkerLease:
    """Drives a LeaseClient from the worker's event loop."""

    def __init__(self, shard: int, slots: QuotaSlots, send: Callable[[str, tuple[Any, ...]], None],
                 preempt: Callable[[int], int], *, lease_s: float = 3.0) -> None:
        self.slots = slots
        self.client = LeaseClient(shard, slots, lease_s=lease_s)
        self.send = send
        self.preempt = preempt
        self.messages_sent = 0
        self.grants_received = 0
        self.preempted = 0
        self._task: asyncio.Task[None] | None = None

    def pump(self) -> None:
        """Expire, then ask/renew/return as the client decides."""
        now = time.monotonic()
        client = self.client
        if client.expire_if_due(now) or client.overdrawn:
            self.preempted += self.preempt(client.overdrawn)
            log.warning("quota lease lapsed: preempted steps, %d slots left", client.held)
        for message in client.want(self.slots.in_use("cpu_slot"), self.slots.waiting(), now):
            self.send(message.KIND, message.wire())
            self.messages_sent += 1

    def on_grant(self, fields: list[Any]) -> None:
        self.client.on_grant(Grant.from_wire(fields), time.monotonic())
        self.grants_received += 1
        self.pump()

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            self.pump()
            await asyncio.sleep(PUMP_S)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def line(self) -> dict[str, Any]:
        """The shard log line's ``quota`` field."""
        return {"held": self.client.held, "in_use": self.slots.in_use("cpu_slot"),
                "waiting": self.slots.waiting(), "target": self.client.target,
                "messages_sent": self.messages_sent, "grants_received": self.grants_received,
                "preempted": self.preempted}
