"""The quota protocol's wire messages (shared/quota/messages.py): Request, Grant and
Return match their schema in shared.protocol, round-trip through encode/decode, are
frozen, and from_wire rejects out-of-range fields."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import FrozenInstanceError

import pytest

from quotakit import Message
from shared import protocol
from shared.quota import Grant, Request, Return


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
