"""The global quota's lease protocol (shared/quota/), without sockets: one QuotaBroker
and K LeaseClients over a simulated network that loses, duplicates and reorders.

The ledger holds after every step: Σ in_use <= Σ worker held <= Σ broker held <= L, per
shard too, and the broker's pool counts exactly what it lent. With a reliable network
the split converges: every shard with demand gets slots, idle holders give them back,
a dead worker's slots come back, and an expired worker stops before its slots are
reclaimed."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import FrozenInstanceError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from shared import protocol
from shared.cascade import ResourceManager, ResourceUnavailable
from shared.quota import RESOURCE, Grant, LeaseClient, QuotaBroker, Request, Return, fair_shares

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


# -- the ledger under loss, duplication, reordering, clock jumps and deaths -------------------
class QuotaLedger(RuleBasedStateMachine):
    @initialize(k=st.integers(2, 4), limit=st.integers(1, 8))
    def setup(self, k: int, limit: int) -> None:
        self.net = Net(k, limit)

    def worker(self, k: int) -> int:
        return k % len(self.net.workers)

    @rule(k=st.integers(0, 3), n=st.integers(-3, 4))
    def agents_come_and_go(self, k: int, n: int) -> None:
        """n > 0 agents queue for a step on worker k; n < 0: -n running steps end."""
        if n > 0:
            self.net.arrive(self.worker(k), n)
        else:
            self.net.finish(self.worker(k), -n)

    @rule(k=st.integers(0, 3), dt=st.sampled_from([0.0, 0.05, 0.1, 0.25]))
    def client_wants(self, k: int, dt: float) -> None:
        """A worker's periodic want(), a little later than the last event."""
        self.net.advance(dt)
        self.net.want(self.worker(k))

    @precondition(lambda self: self.net.inflight)
    @rule(i=st.integers(0, 50), action=st.sampled_from(
        ["deliver", "deliver", "deliver", "oldest", "oldest", "drop", "duplicate"]))
    def network(self, i: int, action: str) -> None:
        """One message in flight is delivered (any of them: reordering, or the oldest),
        lost, or duplicated."""
        net = self.net
        i %= len(net.inflight)
        if action == "duplicate":
            net.inflight.append(net.inflight[i])
        elif action == "drop":
            net.inflight.pop(i)
        else:
            net.deliver(net.inflight.pop(0 if action == "oldest" else i))

    @precondition(lambda self: self.net.inflight)
    @rule(i=st.integers(0, 50))
    def network_delivers(self, i: int) -> None:
        net = self.net
        net.deliver(net.inflight.pop(i % len(net.inflight)))

    @precondition(lambda self: self.net.inflight)
    @rule()
    def network_delivers_all(self) -> None:
        self.net.flush()

    @rule()
    def broker_ticks(self) -> None:
        self.net.tick()

    @rule(dt=st.sampled_from([0.05, 0.1, 0.4, 1.0, 2.6, 3.2, 8.0]))
    def clock_moves(self, dt: float) -> None:
        self.net.advance(dt)

    @precondition(lambda self: len(self.net.live()) == len(self.net.workers))
    @rule(k=st.integers(0, 3))
    def worker_dies(self, k: int) -> None:
        w = self.worker(k)
        if not self.net.workers[w].dead:
            self.net.kill(w)

    @invariant()
    def ledger(self) -> None:
        self.net.check_ledger()

    def teardown(self) -> None:
        """Heal the network: every stray message is delivered, then reliable rounds for
        longer than a lease; the books must agree and the split must settle."""
        net = self.net
        net.flush()
        net.check_ledger()
        run_rounds(net, 40)
        net.check_converged()


QuotaLedger.TestCase.settings = settings(max_examples=500, stateful_step_count=80, deadline=None)
test_quota_ledger = QuotaLedger.TestCase


# -- liveness and fairness on a reliable network ------------------------------------------------
@pytest.mark.parametrize("k, limit, each", [(4, 8, [2, 2, 2, 2]), (4, 10, [2, 2, 3, 3]), (3, 3, [1, 1, 1])])
def test_demand_on_every_shard_gets_every_shard_its_share(k: int, limit: int, each: list[int]) -> None:
    net = Net(k, limit)
    net.register()  # the workers register (their first request) before agents start
    assert sorted(w.client.held for w in net.workers) == each  # idle headroom, split evenly
    for shard in range(k):
        net.arrive(shard, 10)
    assert sorted(w.in_use for w in net.workers) == each  # no round trip needed
    run_rounds(net, 3)
    assert sorted(w.in_use for w in net.workers) == each
    assert net.broker.total_held() == limit
    stats = net.broker.statistics()
    assert stats.demand == {s: 10 for s in range(k)} and sum(stats.target.values()) == limit
    net.check_converged()


def test_shards_that_come_late_get_their_share_as_steps_end() -> None:
    net = Net(4, 8)
    for shard in range(4):
        net.arrive(shard, 10)
    run_rounds(net, 1)  # shard 0 asked first and took every slot; its steps run on
    assert [w.in_use for w in net.workers] == [8, 0, 0, 0]
    rounds = 0
    while [w.in_use for w in net.workers] != [2, 2, 2, 2]:
        rounds += 1
        assert rounds <= 7, [w.in_use for w in net.workers]
        for shard in range(4):  # one running step ends; its agent queues for the next
            ended = min(1, net.workers[shard].in_use)
            net.finish(shard, ended)
            net.arrive(shard, ended)
        net.round()
        net.check_ledger()
    net.check_converged()


def test_a_lone_shard_may_use_the_whole_limit_then_shares_it() -> None:
    net = Net(2, 6)
    net.arrive(0, 6)
    run_rounds(net, 2)
    assert net.workers[0].in_use == 6
    net.arrive(1, 6)
    for _ in range(4):  # shard 0's steps end one a round; its own queue may not refill them
        net.finish(0, 1)
        net.arrive(0, 1)
        net.round()
        net.check_ledger()
    assert [w.in_use for w in net.workers] == [3, 3]
    assert [w.client.target for w in net.workers] == [3, 3]


def test_a_waiting_shard_gets_the_slots_of_an_idle_holder_within_a_few_rounds() -> None:
    net = Net(2, 6)
    net.arrive(0, 6)
    run_rounds(net, 2)
    net.finish(0, 6)  # shard 0 now holds slots nobody uses...
    assert net.workers[0].waiting == 0
    net.arrive(1, 5)  # ...while shard 1's agents queue
    rounds = 0
    while net.workers[1].in_use < 5:
        rounds += 1
        assert rounds <= 3, [(w.client.held, w.in_use, w.waiting) for w in net.workers]
        net.round()
        net.check_ledger()
    net.check_converged()


def test_free_slots_go_to_the_neediest_shard_first() -> None:
    net = Net(3, 6)
    for shard, n in enumerate([2, 2, 2]):
        net.arrive(shard, n)
    run_rounds(net, 2)
    net.arrive(1, 1)
    net.arrive(2, 3)
    run_rounds(net, 1)  # no free slots yet: everyone waits for returns
    net.finish(0, 2)    # shard 0 goes idle: its 2 slots and no demand
    run_rounds(net, 3)
    assert [w.in_use for w in net.workers] == [0, 3, 3]  # water-filled: 3 and 3, not 2 and 4
    net.check_converged()


def test_worker_lost_frees_its_slots_for_the_others() -> None:
    net = Net(3, 6)
    net.register()
    for shard in range(3):
        net.arrive(shard, 6)
    run_rounds(net, 3)
    assert [w.in_use for w in net.workers] == [2, 2, 2]
    net.kill(0)  # its slots go to the others at once (counted before the grants go out)
    assert net.broker.held(0) == 0 and net.broker.total_held() == 6
    assert [net.broker.target(s) for s in range(3)] == [0, 3, 3]
    net.flush()
    assert [w.in_use for w in net.workers[1:]] == [3, 3]  # redistributed at once
    stale = net.broker.statistics().stale
    net.broker.on_request(Request(0, 99, 1, 2, 0, 2, 4), net.now)  # a ghost speaks
    assert net.broker.statistics().stale == stale + 1 and net.broker.held(0) == 0
    assert net.broker.worker_lost(0, net.now) == []  # idempotent
    run_rounds(net, 3)
    assert net.broker.statistics().workers_lost == 1


@pytest.mark.parametrize("latency", [0.0, 0.4, 1.5])
def test_a_cut_off_worker_stops_before_the_broker_reclaims(latency: float) -> None:
    """The worker's expiry counts from its request's send time, the broker's from its
    receive time (later by ``latency``): the worker always lapses first, by guard_s at least."""
    net = Net(2, 4)
    w0 = net.workers[0]
    net.arrive(0, 4)
    sent = net.now
    (request,) = net.want(0)
    net.inflight.clear()
    net.advance(latency)  # the request travels...
    net.deliver(request)
    net.flush()
    assert w0.in_use == 4 and w0.client.expires_at == pytest.approx(sent + LEASE_S - GUARD_S)
    net.arrive(1, 4)  # shard 1 waits, and the network to shard 0 is cut from here on
    lapsed_at = reclaimed_at = math.nan
    while math.isnan(reclaimed_at):
        net.advance(0.05)
        if w0.in_use == 0 and math.isnan(lapsed_at):
            lapsed_at = net.now
        net.want(1)
        net.inflight = [m for m in net.inflight if m.shard != 0]
        net.flush()
        net.tick()
        net.inflight = [m for m in net.inflight if m.shard != 0]
        net.flush()
        if net.broker.lease_id(0) == 2:
            reclaimed_at = net.now
        net.check_ledger()
        assert net.now < 10
    assert lapsed_at <= reclaimed_at - GUARD_S + 1e-9
    assert reclaimed_at == pytest.approx(sent + latency + LEASE_S, abs=0.051)
    assert net.workers[1].in_use == 4 and net.broker.statistics().expiries == 1
    assert w0.waiting == 4  # preempted, its agents queue again
    for _ in range(4):  # the network heals: shard 0 joins the new epoch
        net.cycle(1)
        net.round()
        net.check_ledger()
    assert w0.client.lease_id == 2 and [w.in_use for w in net.workers] == [2, 2]


def test_after_a_clock_jump_the_worker_has_stopped_when_the_broker_reclaims() -> None:
    net = Net(2, 4)
    net.arrive(0, 3)
    run_rounds(net, 2)
    w0 = net.workers[0]
    assert w0.in_use == 3
    net.advance(10.0)  # the machine slept: both views expired
    assert w0.in_use == 0 and w0.waiting == 3 and w0.client.held == 0
    assert not w0.client.lease_valid(net.now)
    net.check_ledger()  # the broker has not noticed yet, and still counts the slots
    assert net.broker.total_held() == 4
    net.tick()
    assert net.broker.total_held() == 0 and net.broker.lease_id(0) == 2
    assert net.broker.statistics().reclaimed == 4
    net.check_ledger()
    run_rounds(net, 2)  # the agents were preempted, not lost: they run again
    assert w0.in_use == 3 and w0.client.lease_id == 2


def test_a_lapsed_worker_that_is_renewed_late_uses_its_lease_again() -> None:
    net = Net(1, 2)
    w0 = net.workers[0]
    net.arrive(0, 2)
    run_rounds(net, 1)
    (request,) = [m for m in net.want(0) if isinstance(m, Request)] or [None]
    assert request is None  # nothing due yet
    net.advance(1.0)
    (request,) = net.want(0)
    net.inflight.clear()
    net.advance(1.6)  # the renewal is slow; the first lease (from t=0.1) lapses
    assert w0.in_use == 0 and w0.waiting == 2 and w0.client.statistics().lapses == 1
    net.deliver(request)
    net.flush()  # its grant echoes a request sent at t=1.1: valid until t=3.6...
    assert w0.client.lease_valid(net.now) and w0.client.expires_at == pytest.approx(3.6)
    assert w0.client.held == 0  # ...but the slots it gave up at the lapse are not back yet
    net.check_ledger()
    net.want(0)  # it tells the broker, which lends them again
    net.flush()
    assert w0.in_use == 2 and net.broker.statistics().slots_returned == 2
    net.check_ledger()


# -- each message alone -------------------------------------------------------------------------
def lone_worker(limit: int = 4) -> tuple[QuotaBroker, Worker]:
    broker = QuotaBroker(limit, [0, 1], lease_s=LEASE_S)
    return broker, Worker(0)


def test_a_duplicated_grant_does_not_inflate_the_lease() -> None:
    broker, w = lone_worker()
    (req,) = w.client.want(0, 2, 0.0)
    (grant,) = broker.on_request(req, 0.0)
    w.client.on_grant(grant, 0.0)
    held = w.client.held
    w.client.on_grant(grant, 0.1)
    assert w.client.held == held == grant.granted == broker.held(0)
    assert w.client.statistics().duplicate_grants == 1


def test_reordered_grants_keep_the_newest_target_and_the_largest_count() -> None:
    _, w = lone_worker()
    w.client.want(0, 0, 0.0)
    w.client.on_grant(Grant(0, 2, 1, 4, 1, 1, LEASE_S), 0.0)
    w.client.on_grant(Grant(0, 1, 1, 2, 4, 1, LEASE_S), 0.0)  # older: overtaken
    assert (w.client.held, w.client.target, w.client.allowed) == (4, 1, 1)


def test_a_duplicated_or_stale_return_frees_nothing_twice() -> None:
    broker, w = lone_worker()
    (req,) = w.client.want(0, 4, 0.0)
    w.client.on_grant(broker.on_request(req, 0.0)[0], 0.0)
    assert w.client.held == 4
    w.client.on_grant(Grant(0, 9, 1, 4, 1, 1, LEASE_S), 0.1)  # shrink to 1
    (ret,) = w.client.want(0, 0, 0.05)  # too soon for a request: a plain return
    assert ret == Return(0, 1, 3) and w.client.held == 1
    broker.on_return(ret, 0.2)  # (the broker lends them again: it still sees demand 4)
    broker.on_return(ret, 0.3)
    stats = broker.statistics()
    assert (stats.returns, stats.slots_returned, stats.duplicates) == (1, 3, 1)
    assert broker.resources.in_use(RESOURCE) == broker.total_held() == 4
    broker.worker_lost(1, 0.3)
    broker.tick(10.0)  # shard 0's lease expires: epoch 2
    assert broker.lease_id(0) == 2 and broker.total_held() == 0
    assert broker.on_return(Return(0, 1, 4), 10.0) == []
    assert broker.statistics().stale == 1 and broker.total_held() == 0


def test_a_lost_grant_is_made_good_by_the_next_one() -> None:
    broker, w = lone_worker()
    (req,) = w.client.want(0, 3, 0.0)
    broker.on_request(req, 0.0)  # its grant (3 for demand 3) is lost
    assert broker.held(0) == 3 and w.client.held == 0
    (req,) = w.client.want(0, 3, 0.5)  # starved: asks again
    (grant,) = broker.on_request(req, 0.5)
    w.client.on_grant(grant, 0.5)
    assert w.client.held == broker.held(0) == grant.granted >= 3


def test_a_lost_return_is_made_good_by_the_next_request() -> None:
    broker, w = lone_worker()
    (req,) = w.client.want(0, 4, 0.0)
    w.client.on_grant(broker.on_request(req, 0.0)[0], 0.0)
    w.client.on_grant(Grant(0, 5, 1, 4, 0, 1, LEASE_S), 0.1)  # target 0: give it all back
    (ret,) = w.client.want(0, 0, 0.05)  # lost on the way
    assert ret.returned == 4 and broker.held(0) == 4
    (req,) = w.client.want(0, 0, 1.5)  # the periodic renewal carries the count
    assert req.returned == 4
    (grant,) = broker.on_request(req, 1.5)  # ...and some come back as headroom
    assert broker.statistics().slots_returned == 4 and broker.held(0) == 2
    w.client.on_grant(grant, 1.5)
    assert w.client.held == broker.held(0) == 2


def test_the_worker_joins_a_new_epoch_only_with_nothing_held_in_the_old() -> None:
    broker, w = lone_worker()
    (req,) = w.client.want(0, 2, 0.0)
    w.client.on_grant(broker.on_request(req, 0.0)[0], 0.0)
    assert w.client.held == 3  # demand 2, and 1 of the 2 spare as headroom
    w.client.on_grant(Grant(0, 7, 2, 1, 1, 1, LEASE_S), 0.1)  # cannot happen on one clock
    assert w.client.lease_id == 1 and w.client.held == 3
    assert w.client.statistics().stale_grants == 1
    w.client.on_grant(Grant(0, 1, 0, 0, 0, 0, LEASE_S), 0.1)  # an older epoch
    assert w.client.statistics().stale_grants == 2


def test_a_grant_of_an_old_epoch_cannot_inflate_the_new_lease() -> None:
    net = Net(2, 4)
    net.arrive(0, 4)
    run_rounds(net, 1)
    w0 = net.workers[0]
    assert w0.client.held == 4
    old = Grant(0, 1, 1, 4, 4, 1, LEASE_S)  # a copy of epoch 1's grant, still travelling
    net.advance(8.0)  # shard 0 lapses; the broker reclaims: epoch 2
    net.tick()
    assert net.broker.lease_id(0) == 2
    net.arrive(1, 4)
    for _ in range(4):
        net.cycle(0)
        net.cycle(1)
        net.round()
        net.check_ledger()
    assert w0.client.lease_id == 2 and w0.client.held == net.broker.held(0) == 2
    net.deliver(old)
    assert w0.client.held == 2 and w0.client.statistics().stale_grants == 1
    net.check_ledger()
    run_rounds(net, 1)


def test_messages_that_break_the_ledger_are_protocol_errors_and_change_nothing() -> None:
    broker, w = lone_worker()
    (req,) = w.client.want(0, 2, 0.0)
    broker.on_request(req, 0.0)
    before = broker.statistics()
    with pytest.raises(protocol.ProtocolError, match="returned 5"):
        broker.on_request(Request(0, 2, 1, 4, 5, 0, 0), 0.1)
    with pytest.raises(protocol.ProtocolError, match="granted 9"):
        broker.on_request(Request(0, 2, 1, 9, 0, 0, 0), 0.1)
    with pytest.raises(protocol.ProtocolError, match="lease_id 7"):
        broker.on_return(Return(0, 7, 0), 0.1)
    with pytest.raises(protocol.ProtocolError, match="returned 5"):
        broker.on_return(Return(0, 1, 5), 0.1)
    with pytest.raises(protocol.ProtocolError, match="shard 9"):
        broker.on_request(Request(9, 1, 0, 0, 0, 0, 0), 0.1)
    with pytest.raises(protocol.ProtocolError, match="shard 1 reached shard 0"):
        w.client.on_grant(Grant(1, 1, 1, 1, 1, 1, LEASE_S), 0.1)
    assert broker.statistics() == before


@pytest.mark.parametrize("cls, values, match", [
    (Request, [0, 1, 0, 0, -1, 0, 0], "returned"),
    (Request, [0, 1, 0, 0, 0, 0], "6 fields"),
    (Return, [0, 1, 2.5], "returned"),
    (Grant, [0, 1, 1, 1, 1, 1, 0.0], "expires_in"),
    (Grant, [0, 1, 1, 1, 1, 1, math.nan], "expires_in"),
    (Grant, [0, 1, 1, 1, 1, 1, math.inf], "expires_in"),
])
def test_from_wire_rejects_out_of_range_fields(cls: type, values: list, match: str) -> None:
    with pytest.raises(protocol.ProtocolError, match=match):
        cls.from_wire(values)


@pytest.mark.parametrize("msg", [Request(3, 7, 2, 5, 1, 3, 9), Grant(3, 4, 2, 5, 2, 7, 3.0),
                                 Return(3, 2, 4)])
def test_messages_match_the_wire_schema_and_round_trip(msg: Message) -> None:
    schema = protocol.SCHEMAS[msg.KIND]
    assert [name for name, _ in schema] == [f.name for f in dataclasses.fields(msg)]
    kind, fields = protocol.decode(protocol.encode(msg.KIND, *msg.wire()))
    assert kind == msg.KIND and type(msg).from_wire(fields) == msg
    with pytest.raises(FrozenInstanceError):
        msg.shard = 0  # type: ignore[misc]


def test_bad_configuration_names_the_bad_value() -> None:
    with pytest.raises(ValueError, match="limit"):
        QuotaBroker(0, [0])
    with pytest.raises(ValueError, match="lease_s"):
        QuotaBroker(1, [0], lease_s=0)
    with pytest.raises(ValueError, match="shards"):
        QuotaBroker(1, [0, 0])
    with pytest.raises(ValueError, match="shard"):
        QuotaBroker(1, [-1])
    with pytest.raises(ValueError, match="shard"):
        QuotaBroker(1, [0]).worker_lost(5, 0.0)
    with pytest.raises(ValueError, match="elastic"):
        LeaseClient(0, ResourceManager({RESOURCE: 0}))
    local = ResourceManager({}, elastic=True)
    with pytest.raises(ValueError, match="guard_s"):
        LeaseClient(0, local, lease_s=1.0, guard_s=1.0)
    with pytest.raises(ValueError, match="renew_s"):
        LeaseClient(0, local, lease_s=1.0, guard_s=0.5, renew_s=0.6)
    with pytest.raises(ValueError, match="waiting"):
        LeaseClient(0, local).want(0, -1, 0.0)


def test_statistics_are_frozen_snapshots() -> None:
    net = Net(2, 4)
    net.arrive(0, 3)
    run_rounds(net, 2)
    stats = net.broker.statistics()
    assert (stats.limit, stats.lent, stats.held[0] + stats.held[1]) == (4, 4, 4)
    assert stats.in_use[0] + stats.waiting[0] == 3  # as last reported
    assert stats.demand == {0: 3, 1: 0} and stats.slots_granted == 4
    with pytest.raises(FrozenInstanceError):
        stats.limit = 5  # type: ignore[misc]
    stats.held[0] = 99
    assert net.broker.held(0) != 99
    client = net.workers[0].client.statistics()
    assert client.held == net.workers[0].client.held and client.requests >= 1


# -- the fair split -----------------------------------------------------------------------------
@given(limit=st.integers(0, 50), demand=st.lists(st.integers(0, 30), min_size=1, max_size=8),
       held=st.lists(st.integers(0, 10), min_size=8, max_size=8))
def test_fair_shares_are_max_min_fair(limit: int, demand: list[int], held: list[int]) -> None:
    want = dict(enumerate(demand))
    shares = fair_shares(limit, want, dict(enumerate(held)))
    assert sum(shares.values()) == min(limit, sum(demand))
    for s, share in shares.items():
        assert 0 <= share <= want[s]
        if share < want[s]:  # short-changed: nobody else got more than one above it
            assert all(other <= share + 1 for other in shares.values())


def test_fair_shares_give_the_odd_slot_to_the_bigger_holder() -> None:
    assert fair_shares(5, {0: 9, 1: 9}, {0: 3, 1: 0}) == {0: 3, 1: 2}
    assert fair_shares(5, {0: 9, 1: 9}, {0: 0, 1: 3}) == {0: 2, 1: 3}
    assert fair_shares(10, {0: 1, 1: 10, 2: 10}) == {0: 1, 1: 4, 2: 5}
