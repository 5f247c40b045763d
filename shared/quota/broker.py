"""The coordinator's side of the quota: :class:`QuotaBroker` owns the global pool
(one ``ResourceManager`` of ``limit`` slots) and every shard's lease book.

Not here: sockets or timers (the coordinator feeds it messages and ``now``), the
worker's side (``client``), the split rule (``fair``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

from ..cascade import ResourceManager
from ..protocol import ProtocolError
from .fair import targets as _targets
from .messages import RESOURCE, Grant, Request, Return

__all__ = ["QuotaBroker", "QuotaStatistics"]

_NEVER = -math.inf


@dataclass(slots=True)
class _ShardLease:
    """The broker's book for one shard (mutable, private)."""

    lease_id: int = 1
    granted: int = 0          # G: slots sent in this epoch (taken from the pool first)
    returned: int = 0         # R: the highest cumulative return received in this epoch
    expires: float = _NEVER   # broker's expiry: receive time of a request + lease_s
    echo: int = 0             # seq of the request that last renewed this epoch's lease
    last_seq: int = 0         # highest request seq ever seen (any epoch)
    in_use: int = 0
    waiting: int = 0
    target: int = 0
    grant_seq: int = 0
    sent: tuple[int, int, int] | None = None  # (lease_id, granted, target) last sent
    lost: bool = False

    @property
    def held(self) -> int:
        return self.granted - self.returned

    @property
    def demand(self) -> int:
        return self.in_use + self.waiting

    def live(self, now: float) -> bool:
        return not self.lost and now < self.expires


@dataclass(frozen=True, slots=True)
class QuotaStatistics:
    """A snapshot of the broker: the pool, each shard's book, and event counters.

    ``lent`` is the pool's in-use count (= Σ ``held``); ``in_use``/``waiting`` are what
    each shard last reported (its demand is their sum). ``grants`` counts grant
    messages, ``slots_granted`` slots; ``returns`` counts return messages that freed
    slots, ``slots_returned`` slots freed by returns or requests;
    ``reclaimed`` slots taken back by expiry or worker death; ``duplicates`` messages
    that changed nothing (repeated or overtaken); ``stale`` messages of an old epoch or
    a lost worker.
    """

    limit: int
    lent: int
    held: dict[int, int]
    in_use: dict[int, int]
    waiting: dict[int, int]
    demand: dict[int, int]
    target: dict[int, int]
    lease_id: dict[int, int]
    grants: int = 0
    slots_granted: int = 0
    returns: int = 0
    slots_returned: int = 0
    reclaimed: int = 0
    expiries: int = 0
    workers_lost: int = 0
    duplicates: int = 0
    stale: int = 0


@dataclass(slots=True)
class _Counters:
    grants: int = 0
    slots_granted: int = 0
    returns: int = 0
    slots_returned: int = 0
    reclaimed: int = 0
    expiries: int = 0
    workers_lost: int = 0
    duplicates: int = 0
    stale: int = 0


class QuotaBroker:
    """The coordinator's side: owns the global pool and every shard's lease.

    Feed it decoded messages (``Request.from_wire(fields)``; check that ``shard`` is the
    sender's) and ``tick(now)`` every ~0.1 s; send the :class:`Grant` messages it returns
    to ``grant.shard``. A message that breaks the ledger (returns more than was granted,
    names an epoch that was never issued, an unknown shard) raises :class:`ProtocolError`
    and changes nothing; stale and repeated messages are counted and ignored.
    """

    def __init__(self, limit: int, shards: Iterable[int], *, lease_s: float = 3.0,
                 resource: str = RESOURCE) -> None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"limit(={limit!r}) must be an int >= 1")
        if not (isinstance(lease_s, (int, float)) and math.isfinite(lease_s) and lease_s > 0):
            raise ValueError(f"lease_s(={lease_s!r}) must be a finite number > 0")
        shard_list = list(shards)
        for shard in shard_list:
            if not isinstance(shard, int) or isinstance(shard, bool) or shard < 0:
                raise ValueError(f"shard(={shard!r}) must be an int >= 0")
        if not shard_list or len(set(shard_list)) != len(shard_list):
            raise ValueError(f"shards(={shard_list!r}) must be distinct and not empty")
        self.limit = limit
        self.lease_s = float(lease_s)
        self._resource = resource
        self._pool = ResourceManager({resource: limit})
        self._leases = {shard: _ShardLease() for shard in sorted(shard_list)}
        self._count = _Counters()

    # -- events ---------------------------------------------------------------------------
    def on_request(self, msg: Request, now: float) -> list[Grant]:
        """A worker renews its lease and reports its demand; the answer includes a grant
        to it (the renewal; none for a repeated or overtaken request), plus grants to
        others if the split moved."""
        lease = self._lease_of(msg.shard)
        if lease.lost:
            self._count.stale += 1
            return []
        current = self._check_epoch(lease, msg.lease_id, msg.granted, msg.returned)
        freed = self._take_back(lease, msg.returned) if current else 0
        if msg.seq <= lease.last_seq:  # repeated or overtaken by a newer request
            self._count.duplicates += 1
            return self._rebalance(now) if freed else []
        if not current and msg.lease_id:
            self._count.stale += 1  # a worker that has not joined the new epoch yet
        lease.last_seq = lease.echo = msg.seq
        lease.in_use, lease.waiting = msg.in_use, msg.waiting
        lease.expires = max(lease.expires, now + self.lease_s)
        return self._rebalance(now, reply_to=msg.shard)

    def on_return(self, msg: Return, now: float) -> list[Grant]:
        """A worker gave slots back; they go to the neediest shards."""
        lease = self._lease_of(msg.shard)
        if lease.lost or msg.lease_id < lease.lease_id:
            self._count.stale += 1
            return []
        self._check_epoch(lease, msg.lease_id, lease.granted, msg.returned)
        if not self._take_back(lease, msg.returned):
            self._count.duplicates += 1
            return []
        self._count.returns += 1
        return self._rebalance(now)

    def tick(self, now: float) -> list[Grant]:
        """Reclaim expired leases and hand out what is free."""
        return self._rebalance(now)

    def worker_lost(self, shard: int, now: float) -> list[Grant]:
        """The worker of ``shard`` is gone for good: its slots go back to the pool now
        and to the other shards; anything it sent later is ignored."""
        lease = self._leases.get(shard)
        if lease is None:
            raise ValueError(f"shard(={shard!r}) is not one of {sorted(self._leases)}")
        if lease.lost:
            return []
        self._reclaim(lease)
        lease.lost = True
        self._count.workers_lost += 1
        return self._rebalance(now)

    def worker_back(self, shard: int) -> None:
        """A new worker took over ``shard`` after :meth:`worker_lost`: it holds nothing
        and numbers its requests from 1 again; its first request joins the epoch the
        loss began (its lease id 0 is older, and it holds nothing)."""
        lease = self._lease_of(shard)
        lease.lost = False
        lease.last_seq = lease.echo = 0

    # -- queries --------------------------------------------------------------------------
    def held(self, shard: int) -> int:
        """Slots the broker counts as lent to ``shard`` (granted minus returned)."""
        return self._leases[shard].held

    def total_held(self) -> int:
        return sum(lease.held for lease in self._leases.values())

    def lease_id(self, shard: int) -> int:
        return self._leases[shard].lease_id

    def target(self, shard: int) -> int:
        return self._leases[shard].target

    @property
    def resources(self) -> ResourceManager:
        """The global pool (read it; do not acquire from it)."""
        return self._pool

    def statistics(self) -> QuotaStatistics:
        leases = self._leases.items()
        return QuotaStatistics(
            limit=self.limit, lent=self._pool.in_use(self._resource),
            held={s: lease.held for s, lease in leases},
            in_use={s: lease.in_use for s, lease in leases},
            waiting={s: lease.waiting for s, lease in leases},
            demand={s: lease.demand for s, lease in leases},
            target={s: lease.target for s, lease in leases},
            lease_id={s: lease.lease_id for s, lease in leases},
            **{f.name: getattr(self._count, f.name) for f in fields(_Counters)})

    # -- the ledger -----------------------------------------------------------------------
    def _lease_of(self, shard: int) -> _ShardLease:
        lease = self._leases.get(shard)
        if lease is None:
            raise ProtocolError(f"quota message from shard {shard}, not one of {sorted(self._leases)}")
        return lease

    @staticmethod
    def _check_epoch(lease: _ShardLease, lease_id: int, granted: int, returned: int) -> bool:
        """True when the message is of the current epoch; raises on impossible counts."""
        if lease_id > lease.lease_id:
            raise ProtocolError(f"lease_id {lease_id} was never issued (current {lease.lease_id})")
        if lease_id < lease.lease_id:
            return False
        if not returned <= granted <= lease.granted:
            raise ProtocolError(f"returned {returned} / granted {granted} do not fit the "
                                f"{lease.granted} granted in lease {lease_id}")
        return True

    def _take_back(self, lease: _ShardLease, returned: int) -> int:
        freed = returned - lease.returned
        if freed <= 0:
            return 0
        lease.returned = returned
        self._pool.release({self._resource: freed})
        self._count.slots_returned += freed
        return freed

    def _reclaim(self, lease: _ShardLease) -> None:
        """Take every slot of the shard back and open a new epoch."""
        if lease.held:
            self._pool.release({self._resource: lease.held})
            self._count.reclaimed += lease.held
        lease.lease_id += 1
        lease.granted = lease.returned = lease.in_use = lease.waiting = lease.target = 0
        lease.expires, lease.echo, lease.sent = _NEVER, 0, None

    def _expire(self, now: float) -> None:
        for lease in self._leases.values():
            if not lease.lost and lease.held and now >= lease.expires:
                self._reclaim(lease)
                self._count.expiries += 1

    def _rebalance(self, now: float, reply_to: int | None = None) -> list[Grant]:
        self._expire(now)
        live = {s: lease for s, lease in self._leases.items() if lease.live(now)}
        members = [s for s, lease in self._leases.items() if not lease.lost]
        targets = _targets(self.limit, {s: lease.demand for s, lease in live.items()},
                           {s: lease.held for s, lease in live.items()}, members)
        for shard, lease in self._leases.items():
            lease.target = targets.get(shard, 0)
        self._fill(live)
        return [self._grant(s, lease) for s, lease in live.items()
                if s == reply_to or lease.sent != (lease.lease_id, lease.granted, lease.target)]

    def _fill(self, live: Mapping[int, _ShardLease]) -> None:
        """Hand out free slots: unmet demand first (most unmet first), then headroom."""
        def unmet(lease: _ShardLease) -> int:
            return min(lease.target, lease.demand) - lease.held

        def room(lease: _ShardLease) -> int:
            return lease.target - lease.held

        for want in (unmet, room):
            for lease in sorted(live.values(), key=want, reverse=True):
                free = self.limit - self._pool.in_use(self._resource)
                amount = min(free, want(lease))
                if amount <= 0:
                    break
                self._pool.acquire_nowait({self._resource: amount})  # counted before sent
                lease.granted += amount
                self._count.slots_granted += amount

    def _grant(self, shard: int, lease: _ShardLease) -> Grant:
        lease.grant_seq += 1
        lease.sent = (lease.lease_id, lease.granted, lease.target)
        self._count.grants += 1
        return Grant(shard, lease.grant_seq, lease.lease_id, lease.granted, lease.target,
                     lease.echo, self.lease_s)
