"""The QuotaBroker (shared/quota/broker.py) and its lease clients on a simulated
network (tests/quotakit.py): on a reliable network every shard with demand gets its
share, idle holders give slots back, free slots go to the neediest shard first and a
dead worker's slots come back; returns that are lost, duplicated or stale free nothing
twice; messages that break the ledger are protocol errors that change nothing; bad
configuration names the bad value; statistics are frozen snapshots."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from quotakit import LEASE_S, Net, lone_worker, run_rounds
from shared import protocol
from shared.cascade import ResourceManager
from shared.quota import RESOURCE, Grant, LeaseClient, QuotaBroker, Request, Return


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


# -- each message alone -------------------------------------------------------------------------
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
