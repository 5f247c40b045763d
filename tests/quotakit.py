"""The simulated cluster the quota tests drive (shared/quota/, without sockets): one
QuotaBroker and K workers, each a LeaseClient over its own elastic ResourceManager,
and the messages in flight between them, which a test delivers, loses, duplicates or
reorders. ``Net.check_ledger`` states the ledger; ``Net.check_converged`` the settled
split on a reliable network."""

from __future__ import annotations

from shared.cascade import ResourceManager, ResourceUnavailable
from shared.quota import RESOURCE, Grant, LeaseClient, QuotaBroker, Request, Return

LEASE_S = 3.0
GUARD_S = 0.5
SLOT = {RESOURCE: 1}
Message = Request | Grant | Return


# -- a simulated cluster ----------------------------------------------------------------------
class Worker:
    """One worker: its lease client, its local manager, its agents' steps."""

    def __init__(self, shard: int) -> None:
        self.local = ResourceManager({RESOURCE: 0}, elastic=True)
        self.client = LeaseClient(shard, self.local, lease_s=LEASE_S, guard_s=GUARD_S)
        self.in_use = 0      # steps running (each holds one local slot)
        self.waiting = 0     # agents queued for a slot
        self.dead = False

    def start_waiting(self) -> None:
        """The local manager wakes its FIFO queue whenever room appears."""
        while self.waiting:
            try:
                self.local.acquire_nowait(SLOT)
            except ResourceUnavailable:
                return
            self.waiting -= 1
            self.in_use += 1

    def finish(self, n: int) -> None:
        n = min(n, self.in_use)
        if n:
            self.local.release({RESOURCE: n})
            self.in_use -= n
        self.start_waiting()

    def preempt(self, now: float) -> int:
        """After a lapse, the caller ends the steps the lease no longer covers; their
        agents queue for their next step. With a valid lease nothing may be overdrawn."""
        n = self.client.overdrawn
        assert n == 0 or not self.client.lease_valid(now), (n, self.client.statistics())
        if n:
            self.local.release({RESOURCE: n})
            self.in_use -= n
            self.waiting += n
        return n


class Net:
    """One broker, K workers, and the messages in flight between them."""

    def __init__(self, k: int, limit: int) -> None:
        self.now = 0.0
        self.limit = limit
        self.broker = QuotaBroker(limit, range(k), lease_s=LEASE_S)
        self.workers = [Worker(shard) for shard in range(k)]
        self.inflight: list[Message] = []

    def live(self) -> list[Worker]:
        return [w for w in self.workers if not w.dead]

    # -- agents -------------------------------------------------------------------------
    def arrive(self, k: int, n: int) -> None:
        w = self.workers[k]
        if not w.dead:
            w.waiting += n
            w.start_waiting()

    def finish(self, k: int, n: int) -> None:
        w = self.workers[k]
        if not w.dead:
            w.finish(n)

    # -- the protocol -------------------------------------------------------------------
    def want(self, k: int) -> list[Message]:
        w = self.workers[k]
        if w.dead:
            return []
        out = w.client.want(w.in_use, w.waiting, self.now)
        self._settle(w)
        self.inflight.extend(out)
        return out

    def deliver(self, msg: Message) -> None:
        if isinstance(msg, Grant):
            w = self.workers[msg.shard]
            if not w.dead:
                w.client.on_grant(msg, self.now)
                self._settle(w)
            return
        handler = self.broker.on_request if isinstance(msg, Request) else self.broker.on_return
        self.inflight.extend(handler(msg, self.now))

    def tick(self) -> None:
        self.inflight.extend(self.broker.tick(self.now))

    def kill(self, k: int) -> None:
        w = self.workers[k]
        w.dead, w.in_use, w.waiting = True, 0, 0  # gone, and its steps with it
        self.inflight.extend(self.broker.worker_lost(k, self.now))

    def advance(self, dt: float) -> None:
        """Time passes; each live worker's lease timer fires at its own expiry, which is
        never later than the broker's, so it runs before any broker event at ``now``."""
        self.now += dt
        for w in self.live():
            w.client.expire_if_due(self.now)
            self._settle(w)

    def _settle(self, w: Worker) -> None:
        w.preempt(self.now)
        w.start_waiting()

    def flush(self) -> None:
        """Deliver everything in flight, in order, including the answers."""
        while self.inflight:
            self.deliver(self.inflight.pop(0))

    def register(self) -> None:
        """Start-up: every worker sends its first request before any agent starts."""
        for w in self.live():
            self.want(w.client.shard)
        self.flush()

    def cycle(self, k: int) -> None:
        """Each running step of shard ``k`` ends; its agent queues for the next."""
        w = self.workers[k]
        if not w.dead:
            n = w.in_use
            w.finish(n)
            self.arrive(k, n)

    def round(self, dt: float = 0.1) -> None:
        """One period of a reliable network: time, every worker's want(), a broker tick."""
        self.advance(dt)
        for w in self.live():
            self.want(w.client.shard)
            self.flush()
        self.tick()
        self.flush()

    # -- the ledger ---------------------------------------------------------------------
    def check_ledger(self) -> None:
        broker = self.broker
        total_broker = broker.total_held()
        assert broker.resources.in_use(RESOURCE) == total_broker <= self.limit
        in_use = held = 0
        for w in self.workers:
            shard = w.client.shard
            if w.dead:
                assert broker.held(shard) == 0 and w.in_use == 0
                continue
            c = w.client
            assert w.local.in_use(RESOURCE) == w.in_use
            assert w.local.capacity(RESOURCE) == c.allowed <= c.held
            assert 0 <= w.in_use <= c.held <= broker.held(shard), (shard, w.in_use, c.held)
            assert c.lease_id <= broker.lease_id(shard)
            if c.lease_id < broker.lease_id(shard):
                # reclaimed: the worker's lease lapsed at least guard_s before
                assert c.held == 0
                assert c.expires_at + GUARD_S <= self.now + 1e-9
            in_use += w.in_use
            held += c.held
        assert in_use <= held <= total_broker <= self.limit

    def check_converged(self) -> None:
        """Reliable network, steady demand: no leak, and nobody waits while slots idle."""
        for w in self.live():
            assert self.broker.held(w.client.shard) == w.client.held
        idle = sum(w.client.held - w.in_use for w in self.live())
        free = self.limit - self.broker.total_held()
        if any(w.waiting for w in self.live()):
            assert idle == 0 and free == 0, [(w.client.held, w.in_use, w.waiting) for w in self.workers]


def run_rounds(net: Net, n: int) -> None:
    for _ in range(n):
        net.round()
        net.check_ledger()


def lone_worker(limit: int = 4) -> tuple[QuotaBroker, Worker]:
    broker = QuotaBroker(limit, [0, 1], lease_s=LEASE_S)
    return broker, Worker(0)
