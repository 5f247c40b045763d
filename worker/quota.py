"""This shard's part of the global quota (``--limit``): :class:`ShardQuota`.

Glossary (docs/quota.md): the *quota* is the run's global cap L; a *slot* is one unit
of it (resource ``shared.quota.RESOURCE``); a *lease* is this worker's time-limited
holding of slots, kept by a ``shared.quota.LeaseClient``.

Agents' steps carry ``with_constraints(RESOURCE=1)``; the Engine's ResourceManager
(:attr:`ShardQuota.slots`, elastic, FIFO) hands slots to agents with no message per
step. :class:`ShardQuota` composes that manager with the LeaseClient that sizes it:
it pumps the client every 0.1 s (ask for more when agents wait, renew, give back
spare), feeds it grants as they arrive, and when the lease lapses preempts the steps
that run beyond it (their alarms ring with ``PREEMPTED``: the agent gives its slot back
and queues again). Waits are counted by the manager itself (``statistics().waited``);
with ``--trace-quota`` an observer records every acquisition and release with the
host's monotonic clock (shared by all processes, so traces of shards merge).

Without ``--limit`` none of this exists: no ResourceManager, no quota traffic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import IO, Any, Callable, Mapping

from shared import cascade as cs
from shared.quota import RESOURCE, Grant, LeaseClient, Request, Return
from shared.runlog.schema import Counters

__all__ = ["ShardQuota", "PUMP_S"]

log = logging.getLogger(__name__)

PUMP_S = 0.1


class ShardQuota:
    """The shard's slots (a local elastic ResourceManager) and the lease that sizes
    them. ``send`` ships a quota message to the coordinator; ``preempt(n)`` ends up
    to ``n`` running steps (the clock's ``preempt``); ``trace``, when given, is the
    open ``quota-K.jsonl`` file."""

    def __init__(self, shard: int, *, send: Callable[[Request | Return], None],
                 preempt: Callable[[int], int], lease_s: float,
                 trace: IO[str] | None = None) -> None:
        self._trace_file = trace
        self._events: list[tuple[float, int]] = []
        self.slots = cs.ResourceManager({RESOURCE: 0}, elastic=True,
                                        observer=self._observe if trace is not None else None)
        self.client = LeaseClient(shard, self.slots, lease_s=lease_s)
        self.shard = shard
        self.send = send
        self.preempt = preempt
        self.messages_sent = 0
        self.grants_received = 0
        self.preempted = 0
        self._task: asyncio.Task[None] | None = None

    def _observe(self, event: str, amounts: Mapping[str, int]) -> None:
        amount = amounts.get(RESOURCE, 0)
        self._events.append((time.monotonic(), amount if event == "acquire" else -amount))

    # -- the lease ---------------------------------------------------------------------
    def pump(self) -> None:
        """Expire, then ask/renew/return as the client decides."""
        now = time.monotonic()
        client = self.client
        if client.expire_if_due(now) or client.overdrawn:
            self.preempted += self.preempt(client.overdrawn)
            log.warning("quota lease lapsed: preempted steps, %d slots left", client.held)
        for message in client.want(self.slots.in_use(RESOURCE), self.slots.waiting(), now):
            self.send(message)
            self.messages_sent += 1

    def on_grant(self, fields: list[Any]) -> None:
        """A ``quota_grant`` for this shard (``ProtocolError`` when out of range)."""
        self.client.on_grant(Grant.from_wire(fields), time.monotonic())
        self.grants_received += 1
        self.pump()

    def start(self) -> None:
        """Pump from now on: the first request goes out at once."""
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            self.pump()
            await asyncio.sleep(PUMP_S)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    # -- reporting ---------------------------------------------------------------------
    def report(self, counters: Counters) -> dict[str, Any]:
        """Before a shard log line: bring ``counters.quota_waits`` up to date, write
        the trace so far, and return the line's ``quota`` field."""
        counters.quota_waits = self.slots.statistics().waited
        if self._trace_file is not None and self._events:
            self._trace_file.write("".join(json.dumps(e) + "\n" for e in self._events))
            self._trace_file.flush()
            self._events.clear()
        return {"held": self.client.held, "in_use": self.slots.in_use(RESOURCE),
                "waiting": self.slots.waiting(), "target": self.client.target,
                "messages_sent": self.messages_sent, "grants_received": self.grants_received,
                "preempted": self.preempted}
