"""The worker's side of the quota: :class:`LeaseClient` holds a shard's lease and
sizes the shard's local, elastic ``ResourceManager`` to it.

Not here: sockets or timers (``worker.quota`` drives it from the event loop), the
coordinator's side (``broker``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from ..cascade import ResourceManager
from ..protocol import ProtocolError
from .messages import RESOURCE, Grant, Request, Return

__all__ = ["LeaseClient", "LeaseStatistics"]

_NEVER = -math.inf


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
