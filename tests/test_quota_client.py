"""The LeaseClient (shared/quota/client.py) against the broker on a simulated network
(tests/quotakit.py): a worker cut off or after a clock jump has stopped before the
broker reclaims its slots, a lapsed lease renewed late is used again, and grants that
are duplicated, reordered, lost or of an old epoch never inflate the lease."""

from __future__ import annotations

import math

import pytest

from quotakit import GUARD_S, LEASE_S, Net, lone_worker, run_rounds
from shared.quota import Grant, Request


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


def test_a_lost_grant_is_made_good_by_the_next_one() -> None:
    broker, w = lone_worker()
    (req,) = w.client.want(0, 3, 0.0)
    broker.on_request(req, 0.0)  # its grant (3 for demand 3) is lost
    assert broker.held(0) == 3 and w.client.held == 0
    (req,) = w.client.want(0, 3, 0.5)  # starved: asks again
    (grant,) = broker.on_request(req, 0.5)
    w.client.on_grant(grant, 0.5)
    assert w.client.held == broker.held(0) == grant.granted >= 3


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
