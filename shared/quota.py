"""The global quota: leases of slots from the coordinator's pool to the workers.

``sim-coordinator --limit L`` caps how many agent steps run at once across ALL shards.
Think of a tool library with L drills. The coordinator (:class:`QuotaBroker`) is the
desk: it keeps the stock in one :class:`ResourceManager` and lends drills to the
workshops (workers) under a *lease* that lapses unless renewed. A workshop
(:class:`LeaseClient`) lends its drills on to its own people (agents) through a local,
*elastic* ResourceManager whose size is what the lease lets it use; it asks the desk
for more when people queue, renews the lease regularly, and brings back drills nobody
holds when the desk says it holds more than its fair share. Nobody phones the desk per
use: a step takes a slot from the local manager, with no message at all.

::

       coordinator: QuotaBroker                         worker k: LeaseClient
       pool = ResourceManager({"cpu_slot": L})          local = ResourceManager(..., elastic=True)
       per shard: lease_id, G, R, expiry                lease_id, g, r, expiry
       held_k = G - R   (taken from the pool)           held = g - r
                                                        capacity = min(held, target)

            <---- quota_request(seq, lease_id, g, r, in_use, waiting) ----   every renew_s,
       R = max(R, r): release into the pool                                   on demand change
       expiry = max(expiry, now + lease_s)
       water-fill targets; take d from the pool, G += d
            ---- quota_grant(seq, lease_id, G, target, echo=seq, lease_s) ---->
                                                        g = max(g, G); target (newest seq)
                                                        expiry = sent_at[echo] + lease_s - guard_s
            <---- quota_return(lease_id, r) ----------------------------------   r += idle slots
       R = max(R, r): release; grant to the neediest                            above target

The counters are *cumulative* per lease (G = slots ever granted, R = slots ever
returned), so a message that is lost, duplicated or reordered can delay but never
inflate: the receiver keeps the maximum it has seen, which is at most what the sender
has sent. Hence, per shard and epoch, ``g - r <= G - R``: the worker never holds more
than the broker counts for it, and the broker's count is taken from a pool of L.

A lease id (epoch) changes when the broker *reclaims* a shard's slots (its lease
expired, or its worker died); messages of an older epoch are ignored. The worker's own
expiry is computed from the SEND time of the request a grant echoes, less a guard, so it
lapses before the broker's (which counts from RECEIVE time): by the time the broker
takes the slots back the worker has stopped using them. docs/quota.md has the proof.

It is not a network layer: nothing here sends, sleeps or reads a clock. Every method
takes ``now`` (the host's monotonic clock, shared by all processes) and returns the
messages to send, as frozen dataclasses whose :meth:`wire` fields match
``shared.protocol.SCHEMAS``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from .cascade import ResourceManager
from .protocol import ProtocolError

__all__ = ["RESOURCE", "Grant", "LeaseClient", "LeaseStatistics", "QuotaBroker",
           "QuotaStatistics", "Request", "Return", "fair_shares"]

RESOURCE = "cpu_slot"
_NEVER = -math.inf


# -- messages ---------------------------------------------------------------------------------
class _Message:
    """Shared wire helpers: ``wire()`` for ``protocol.encode``, ``from_wire`` after
    ``protocol.decode`` (which has checked the types; this checks the ranges)."""

    __slots__ = ()
    KIND: ClassVar[str]

    def wire(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))  # type: ignore[arg-type]

    @classmethod
    def from_wire(cls, values: Sequence[Any]) -> Any:
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        if len(values) != len(names):
            raise ProtocolError(f"{cls.KIND} has {len(values)} fields, expected {len(names)}")
        for name, value in zip(names, values, strict=True):
            _check_field(cls.KIND, name, value)
        return cls(*values)


def _check_field(kind: str, name: str, value: Any) -> None:
    if name == "expires_in":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value) and value > 0
        if not ok:
            raise ProtocolError(f"{kind} field expires_in (={value!r}) must be a finite number > 0")
    elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"{kind} field {name} (={value!r}) must be an int >= 0")


@dataclass(frozen=True, slots=True)
class Request(_Message):
    """worker -> coordinator: renew my lease; this is my demand and my ledger.

    ``seq`` counts the worker's requests (from 1); ``lease_id`` is the epoch the worker
    is in (0 before its first grant); ``granted``/``returned`` are its cumulative
    counters in that epoch; demand is ``in_use + waiting``.
    """

    KIND: ClassVar[str] = "quota_request"
    shard: int
    seq: int
    lease_id: int
    granted: int
    returned: int
    in_use: int
    waiting: int


@dataclass(frozen=True, slots=True)
class Grant(_Message):
    """coordinator -> worker: your lease (also the renewal answer, even with nothing new).

    ``seq`` counts the broker's grants to this shard (from 1, never reset); ``granted``
    is cumulative in epoch ``lease_id``; ``target`` is the fair share to shrink or grow
    to; ``echo`` is the seq of the request whose receipt renewed the lease, valid
    ``expires_in`` seconds from then.
    """

    KIND: ClassVar[str] = "quota_grant"
    shard: int
    seq: int
    lease_id: int
    granted: int
    target: int
    echo: int
    expires_in: float


@dataclass(frozen=True, slots=True)
class Return(_Message):
    """worker -> coordinator: my cumulative ``returned`` in epoch ``lease_id`` (no reply)."""

    KIND: ClassVar[str] = "quota_return"
    shard: int
    lease_id: int
    returned: int


# -- fair shares ------------------------------------------------------------------------------
def fair_shares(limit: int, demand: Mapping[int, int],
                held: Mapping[int, int] | None = None) -> dict[int, int]:
    """Max-min fair integer split of ``limit`` by ``demand`` (water-filling).

    Each shard gets ``min(demand, level)``; the shares sum to ``min(limit, Σ demand)``;
    a shard that gets less than it wants gets at least every other share minus one. The
    odd slots of a rounding go to the shards holding most now (``held``), then to the
    higher shard id, so the split does not churn slots between equals.
    """
    held = held or {}
    order = sorted(demand, key=lambda s: (demand[s], held.get(s, 0), s))
    shares: dict[int, int] = {}
    left = limit
    for i, shard in enumerate(order):
        give = min(demand[shard], left // (len(order) - i))
        shares[shard] = give
        left -= give
    return shares


def _targets(limit: int, demand: Mapping[int, int], held: Mapping[int, int],
             members: Iterable[int]) -> dict[int, int]:
    """Fair shares of the live shards' ``demand``, plus what nobody demands split evenly
    over all ``members`` (live or not) as headroom, so a burst on an idle shard needs no
    round trip; the headroom of a shard not heard from stays in the pool."""
    shares = fair_shares(limit, demand, held)
    spare = limit - sum(shares.values())
    headroom = fair_shares(spare, {s: spare for s in members}, held)
    return {s: shares[s] + headroom[s] for s in demand}


# -- the coordinator's side -------------------------------------------------------------------
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


# -- the worker's side ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LeaseStatistics:
    """A snapshot of a worker's lease and its counters."""

    shard: int
    lease_id: int
    held: int
    target: int
    allowed: int
    expires_at: float
    requests: int = 0
    returns: int = 0
    lapses: int = 0
    stale_grants: int = 0
    duplicate_grants: int = 0


@dataclass(slots=True)
class _ClientCounters:
    requests: int = 0
    returns: int = 0
    lapses: int = 0
    stale_grants: int = 0
    duplicate_grants: int = 0


class LeaseClient:
    """A worker's side: holds the shard's lease and sizes the local manager to it.

    ``local`` must be elastic (agents wait while the lease is small); its ``resource``
    capacity is kept at ``allowed = min(held, target)``. Call :meth:`want` every
    0.1-0.25 s and whenever agents start waiting, :meth:`on_grant` for each grant
    received (then :meth:`want`), and :meth:`expire_if_due` at :attr:`expires_at` (a
    timer). When :attr:`overdrawn` > 0 (the lease lapsed under running steps) the caller
    must end that many in-flight steps at once: the guard ``guard_s`` is their time.
    """

    def __init__(self, shard: int, local: ResourceManager, *, lease_s: float = 3.0,
                 guard_s: float | None = None, renew_s: float | None = None,
                 min_interval_s: float = 0.1, resource: str = RESOURCE) -> None:
        if not local.elastic:
            raise ValueError("local ResourceManager must be elastic (elastic=True): agents "
                             "must wait while the lease is smaller than their request")
        guard_s = lease_s / 6 if guard_s is None else guard_s
        renew_s = lease_s / 3 if renew_s is None else renew_s
        _check_timing(lease_s, guard_s, renew_s, min_interval_s)
        self.shard = shard
        self.local = local
        self.lease_s, self.guard_s, self.renew_s = lease_s, guard_s, renew_s
        self.min_interval_s = min_interval_s
        self._resource = resource
        self._lease_id = 0
        self._granted = self._returned = self._reported_returned = 0
        self._target = self._grant_seq = self._seq = 0
        self._expires_at = _NEVER
        self._sent_at: dict[int, float] = {}  # request seq -> send time (last lease_s)
        self._last_request_at = _NEVER
        self._reported_demand = -1
        self._count = _ClientCounters()
        local.set_capacity(resource, 0)

    # -- what the caller reads ------------------------------------------------------------
    @property
    def lease_id(self) -> int:
        return self._lease_id

    @property
    def held(self) -> int:
        """Slots this worker holds of the global pool (0 once its lease lapsed)."""
        return self._granted - self._returned

    @property
    def target(self) -> int:
        return self._target

    @property
    def allowed(self) -> int:
        """Slots agents may use now: the local capacity, ``min(held, target)``."""
        return min(self.held, self._target)

    @property
    def expires_at(self) -> float:
        """When this worker's view of its lease lapses (-inf: it has none)."""
        return self._expires_at

    @property
    def overdrawn(self) -> int:
        """Local steps running beyond the lease: end this many now."""
        return max(0, self.local.in_use(self._resource) - self.held)

    def lease_valid(self, now: float) -> bool:
        return now < self._expires_at

    def statistics(self) -> LeaseStatistics:
        return LeaseStatistics(self.shard, self._lease_id, self.held, self._target, self.allowed,
                               self._expires_at,
                               **{f.name: getattr(self._count, f.name) for f in fields(_ClientCounters)})

    # -- events ---------------------------------------------------------------------------
    def expire_if_due(self, now: float) -> bool:
        """When the lease has lapsed, give up every slot (capacity 0) and return True
        (the caller preempts :attr:`overdrawn` steps). False when there was nothing to drop."""
        if now < self._expires_at or not self.held:
            return False
        self._returned = self._granted
        self._count.lapses += 1
        self._sync_local()
        return True

    def on_grant(self, msg: Grant, now: float) -> None:
        """Apply a grant: a newer epoch is joined (once nothing is held in the old one),
        an older one ignored; counters take the maximum, target the newest."""
        if msg.shard != self.shard:
            raise ProtocolError(f"grant for shard {msg.shard} reached shard {self.shard}")
        self.expire_if_due(now)
        if msg.lease_id < self._lease_id or (msg.lease_id > self._lease_id and self.held):
            self._count.stale_grants += 1
            return
        if msg.lease_id > self._lease_id:
            self._join(msg.lease_id)
        self._apply(msg, now)
        self._sync_local()

    def want(self, in_use: int, waiting: int, now: float) -> list[Request | Return]:
        """Decide what to tell the broker: a request (renewal, demand changed, lease
        needed), else a return of idle slots above target, else nothing."""
        for name, value in (("in_use", in_use), ("waiting", waiting)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}(={value!r}) must be an int >= 0")
        self.expire_if_due(now)
        busy = max(in_use, self.local.in_use(self._resource))
        self._give_back_idle(busy)
        self._forget_old_requests(now)
        if self._request_due(busy + waiting, waiting, now):
            return [self._request(busy, waiting, now)]
        if self._returned > self._reported_returned:
            self._reported_returned = self._returned
            self._count.returns += 1
            return [Return(self.shard, self._lease_id, self._returned)]
        return []

    # -- the ledger -----------------------------------------------------------------------
    def _join(self, lease_id: int) -> None:
        self._lease_id = lease_id
        self._granted = self._returned = self._reported_returned = self._target = 0
        self._expires_at = _NEVER

    def _apply(self, msg: Grant, now: float) -> None:
        if msg.seq > self._grant_seq:
            self._grant_seq, self._target = msg.seq, msg.target
        else:
            self._count.duplicate_grants += 1
        self._granted = max(self._granted, msg.granted)
        sent = self._sent_at.get(msg.echo)
        if sent is not None:
            self._expires_at = max(self._expires_at, sent + msg.expires_in - self.guard_s)
        if now >= self._expires_at:
            self._returned = self._granted  # too late to use: give it straight back

    def _give_back_idle(self, busy: int) -> None:
        """Return held slots above both the target and what is in use (the local
        capacity is already at most the target, so no agent can take them)."""
        spare = self.held - max(self.allowed, busy)
        if spare > 0:
            self._returned += spare
            self._sync_local()

    def _sync_local(self) -> None:
        self.local.set_capacity(self._resource, self.allowed)

    def _request_due(self, demand: int, waiting: int, now: float) -> bool:
        since = now - self._last_request_at
        if since >= self.renew_s:
            return True
        if since < self.min_interval_s:
            return False
        starved = waiting > 0 and (self.held < self._target or not self.lease_valid(now))
        return demand != self._reported_demand or starved

    def _request(self, busy: int, waiting: int, now: float) -> Request:
        self._seq += 1
        self._sent_at[self._seq] = now
        self._last_request_at = now
        self._reported_demand = busy + waiting
        self._reported_returned = self._returned
        self._count.requests += 1
        return Request(self.shard, self._seq, self._lease_id, self._granted, self._returned,
                       busy, waiting)

    def _forget_old_requests(self, now: float) -> None:
        """A request older than a lease cannot renew anything: drop its send time."""
        sent_at = self._sent_at
        while sent_at:
            seq = next(iter(sent_at))
            if sent_at[seq] + self.lease_s > now:
                return
            del sent_at[seq]


def _check_timing(lease_s: float, guard_s: float, renew_s: float, min_interval_s: float) -> None:
    if not (isinstance(lease_s, (int, float)) and math.isfinite(lease_s) and lease_s > 0):
        raise ValueError(f"lease_s(={lease_s!r}) must be a finite number > 0")
    if not 0 <= guard_s < lease_s:
        raise ValueError(f"guard_s(={guard_s!r}) must be >= 0 and < lease_s(={lease_s!r})")
    if not 0 < renew_s < lease_s - guard_s:
        raise ValueError(f"renew_s(={renew_s!r}) must be > 0 and < lease_s - guard_s "
                         f"(={lease_s - guard_s!r}), or the lease lapses between renewals")
    if not 0 <= min_interval_s <= renew_s:
        raise ValueError(f"min_interval_s(={min_interval_s!r}) must be in [0, renew_s(={renew_s!r})]")
