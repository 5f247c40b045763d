"""coordinator.quota_desk: lease messages in, grants out, and the interval's
``quota`` field (no sockets: the desk only returns the grants to send)."""

from __future__ import annotations

import pytest

from shared.protocol import ProtocolError
from shared.quota import Grant, Request

from coordinator.quota_desk import QuotaDesk


def _request(shard: int, seq: int, *, waiting: int, lease_id: int = 0) -> list:
    return list(Request(shard=shard, seq=seq, lease_id=lease_id, granted=0, returned=0,
                        in_use=0, waiting=waiting).wire())


def test_a_request_is_answered_with_a_grant():
    desk = QuotaDesk(4, 2, lease_s=3.0)
    grants = desk.on_message("quota_request", _request(0, 1, waiting=3), now=10.0)
    assert [(g.shard, g.granted) for g in grants] == [(0, 3)]
    assert all(isinstance(g, Grant) for g in grants)


def test_the_interval_fields_count_messages_both_ways_and_start_afresh():
    desk = QuotaDesk(4, 2, lease_s=3.0)
    desk.on_message("quota_request", _request(0, 1, waiting=3), now=10.0)  # 1 in, 1 out
    desk.on_message("quota_request", _request(1, 1, waiting=3), now=10.0)  # 1 in, >= 1 out
    fields = desk.interval_fields(span_s=2.0)
    assert fields["limit"] == 4 and fields["held"] == 4
    assert fields["held_by_shard"].keys() == {"0", "1"}
    assert sum(fields["held_by_shard"].values()) == 4
    assert fields["waiting"] == 6 and fields["in_use"] == 0  # as the shards last reported
    assert fields["messages_per_s"] >= 2.0  # (2 in + >= 2 out) / 2 s
    assert fields["expiries"] == 0 and fields["workers_lost"] == 0
    assert desk.interval_fields(span_s=1.0)["messages_per_s"] == 0.0


def test_a_lost_workers_slots_go_to_the_others():
    desk = QuotaDesk(4, 2, lease_s=3.0)
    desk.on_message("quota_request", _request(0, 1, waiting=4), now=10.0)
    desk.on_message("quota_request", _request(1, 1, waiting=4), now=10.0)
    grants = desk.worker_lost(0, now=11.0)
    assert grants and {g.shard for g in grants} == {1}
    fields = desk.interval_fields(span_s=1.0)
    assert fields["held_by_shard"]["1"] == 4 and fields["workers_lost"] == 1


def test_leases_not_renewed_expire_on_tick():
    desk = QuotaDesk(4, 2, lease_s=3.0)
    desk.on_message("quota_request", _request(0, 1, waiting=4), now=10.0)
    desk.tick(now=20.0)
    fields = desk.interval_fields(span_s=1.0)
    assert fields["held"] == 0 and fields["expiries"] == 1


@pytest.mark.parametrize("kind, fields", [
    ("quota_grant", [0, 1, 0, 1, 1, 1, 3.0]),                  # not a message the desk takes
    ("quota_request", _request(5, 1, waiting=1)),               # not a shard of this run
    ("quota_return", [0, 5, 1]),                                # a lease id never issued
])
def test_messages_that_do_not_fit_raise_protocol_errors(kind, fields):
    desk = QuotaDesk(4, 2, lease_s=3.0)
    with pytest.raises(ProtocolError):
        desk.on_message(kind, fields, now=10.0)
    assert desk.interval_fields(span_s=1.0)["messages_per_s"] == 0.0  # not counted
