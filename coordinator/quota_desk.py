"""The quota desk: the coordinator's side of the global quota (``--limit``).

:class:`QuotaDesk` wraps the :class:`~shared.quota.QuotaBroker` (the ledger, the fair
shares, the leases; docs/quota.md) with what the coordinator needs around it: lease
messages in (:meth:`on_message`, answered at once), the periodic :meth:`tick`
(expiries), :meth:`worker_lost` (a dead worker's slots go back to the pool and on to
the others), and the ``quota`` field of each coordinator.jsonl line
(:meth:`interval_fields`, including the message rate since the last line). Every
method returns the grants to send; the desk never sends anything itself.

Not here: sockets (``control``: it routes the lease messages here and sends the
grants) or the lease protocol's rules (``shared.quota``).
"""

from __future__ import annotations

from typing import Any, Sequence

from shared import protocol
from shared.quota import Grant, QuotaBroker, Request, Return

__all__ = ["QuotaDesk", "QUOTA_KINDS", "TICK_S", "LEASE_S"]

QUOTA_KINDS = ("quota_request", "quota_return")  # what workers send the desk
TICK_S = 0.1  # how often the run loop calls tick()
LEASE_S = 3.0  # lease time: a lease not renewed within it lapses (docs/quota.md)


class QuotaDesk:
    """Lends ``limit`` slots to shards ``0..shards-1`` under leases of ``lease_s``."""

    def __init__(self, limit: int, shards: int, *, lease_s: float) -> None:
        self.limit = limit
        self.lease_s = lease_s
        self._broker = QuotaBroker(limit, range(shards), lease_s=lease_s)
        self._messages = 0  # in and out, since the last interval line

    def on_message(self, kind: str, fields: Sequence[Any], now: float) -> list[Grant]:
        """A decoded lease message from a worker (its sender already checked);
        raises :class:`~shared.protocol.ProtocolError` for one that does not fit."""
        if kind == "quota_request":
            grants = self._broker.on_request(Request.from_wire(fields), now)
        elif kind == "quota_return":
            grants = self._broker.on_return(Return.from_wire(fields), now)
        else:
            raise protocol.ProtocolError(f"{kind!r} is not a quota message ({', '.join(QUOTA_KINDS)})")
        self._messages += 1
        return self._out(grants)

    def tick(self, now: float) -> list[Grant]:
        """Expire overdue leases; grants to whoever gets their slots."""
        return self._out(self._broker.tick(now))

    def worker_lost(self, shard: int, now: float) -> list[Grant]:
        """``shard``'s worker died: its slots come back and go to the others."""
        return self._out(self._broker.worker_lost(shard, now))

    def worker_back(self, shard: int) -> None:
        """A replacement took over ``shard``: its requests count again."""
        self._broker.worker_back(shard)

    def interval_fields(self, span_s: float) -> dict[str, Any]:
        """The ``quota`` field of the interval line ending now (``span_s`` long);
        starts counting messages afresh."""
        stats = self._broker.statistics()
        fields = {
            "limit": stats.limit, "held": stats.lent,
            "in_use": sum(stats.in_use.values()), "waiting": sum(stats.waiting.values()),
            "held_by_shard": {str(k): v for k, v in stats.held.items()},
            "messages_per_s": round(self._messages / span_s, 1),
            "expiries": stats.expiries, "workers_lost": stats.workers_lost,
        }
        self._messages = 0
        return fields

    def _out(self, grants: list[Grant]) -> list[Grant]:
        self._messages += len(grants)
        return grants
