"""The wire protocol: round trips, and rejection (never a crash) of anything else."""

from __future__ import annotations

from array import array

import msgpack
import pytest
from hypothesis import given, strategies as st

from shared import protocol

EXAMPLES = {
    "hello": (0, 123, "tok"), "bound": (1, "ipc:///tmp/x"), "links_ready": (2,),
    "bye": (0, "done"), "config": ({"a": 1},), "peers": ([[0, "e"]],), "start": (1.5,),
    "stop": ("duration",), "heartbeat": (2.0,),
    "frame": (0, 3, 0.1, 1.0, -1.0, 10, b"\x00\x00\x00\x00"),
    "report": (0, {"fps": 30}), "edge_hello": (1, "tok"),
    "flashes": (1, 7, array("i", [3, 4]).tobytes(), array("d", [0.5, 0.6]).tobytes()),
    "quota_request": (0, 1, 1, 5, 2, 3, 2), "quota_grant": (0, 2, 1, 5, 3, 1, 3.0), "quota_return": (0, 1, 2),
    "phases": (0, 3, 0.1, b"\x00\x7f"),
    "clock_ping": (-1, 12.5), "clock_pong": (12.5, 99.25),
    "peer_update": (2, "tcp://10.0.0.7:4100", "", "ipc:1:1:4242"),
    "join": ("1.0", -1, "k" * 40, "10.0.0.7", "node7", "little"),
    "join_ok": (2, "tok", "tcp://10.0.0.5:4001", "tcp://10.0.0.5:4002"),
    "join_refused": ("the run has started",),
    "append": (2, "shard-2.jsonl", b"{}\n"), "upload": (2, "state-2.npz", 0, 1, b"PK"),
}


def test_examples_cover_every_kind():
    assert EXAMPLES.keys() == protocol.SCHEMAS.keys()


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_round_trip(kind):
    assert protocol.decode(protocol.encode(kind, *EXAMPLES[kind])) == (kind, list(EXAMPLES[kind]))


def test_flash_arrays_round_trip():
    cells = array("i", [0, 5, 2**31 - 1])
    times = array("d", [0.0, 1.25, 1e9])
    assert protocol.unpack_cells(protocol.pack_cells(cells)) == cells
    assert protocol.unpack_times(protocol.pack_times(times)) == times
    with pytest.raises(protocol.ProtocolError):
        protocol.unpack_cells(b"\x00" * 5)
    with pytest.raises(protocol.ProtocolError):
        protocol.unpack_times(b"\x00" * 9)


def test_encode_rejects_sender_bugs():
    with pytest.raises(ValueError, match="unknown message kind"):
        protocol.encode("nope")
    with pytest.raises(ValueError, match="takes 3 fields"):
        protocol.encode("hello", 1)


V = protocol.VERSION


@pytest.mark.parametrize("payload", [
    b"", b"\xc1", msgpack.packb({"v": 1}), msgpack.packb([V]), msgpack.packb([V + 1, "stop", "x"]),
    msgpack.packb([V - 1, "stop", "x"]),  # a version that was, or will be: refused alike
    msgpack.packb([V, "nope"]), msgpack.packb([V, 5, 6]), msgpack.packb([V, "stop"]),
    msgpack.packb([V, "stop", 5]), msgpack.packb([V, "links_ready", True]),
    msgpack.packb([V, "start", "soon"]), msgpack.packb([V, "stop", "a", "b"]),
])
def test_decode_rejects_malformed(payload):
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(payload)


@given(st.binary(max_size=512))
def test_decode_never_raises_anything_but_protocol_error(data):
    try:
        protocol.decode(data)
    except protocol.ProtocolError:
        pass


@given(st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats() | st.text() | st.binary(),
                    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(), inner, max_size=4),
                    max_leaves=20))
def test_decode_of_arbitrary_msgpack_is_validated(value):
    try:
        kind, fields = protocol.decode(msgpack.packb(value, use_bin_type=True))
    except protocol.ProtocolError:
        return
    assert kind in protocol.SCHEMAS and len(fields) == len(protocol.SCHEMAS[kind])
