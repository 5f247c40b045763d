"""The wire protocol: versioned msgpack messages, validated on receipt.

Every message is one ZeroMQ frame holding a msgpack array::

    [VERSION, kind, field1, field2, ...]

``kind`` is a short string; the fields are positional and typed per kind (see
``SCHEMAS`` and docs/protocol.md). :func:`decode` checks version, kind, arity and
every field's type, and raises :class:`ProtocolError` for anything else, so a
malformed, unknown or hostile message can be counted and dropped by the caller; it
never crashes a process. Flash batches carry raw little-endian arrays (int32 cell
ids, float64 times), which pack and unpack several times faster than lists: senders
use :func:`pack_cells`/:func:`pack_times`, receivers :func:`unpack_cells`/:func:`unpack_times`.
"""

from __future__ import annotations

from array import array
from typing import Any, Iterable

import msgpack

__all__ = ["VERSION", "ProtocolError", "encode", "decode", "SCHEMAS",
           "pack_cells", "unpack_cells", "pack_times", "unpack_times", "MAX_MESSAGE_BYTES",
           "parse_peers", "simulator_version"]

VERSION = 2  # 2: joining from other hosts, clock pings, uploads
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # ZeroMQ MAXMSGSIZE on every bound socket


def simulator_version() -> str:
    """The installed simulator's version: a worker joins only a coordinator of the
    same one (``coordinator.joins``)."""
    from importlib import metadata

    try:
        return metadata.version("cascade-fireflies")
    except metadata.PackageNotFoundError:
        return "unknown"

_INT = (int,)
_NUM = (int, float)
_STR = (str,)
_BYTES = (bytes,)
_DICT = (dict,)
_LIST = (list,)

# kind -> ((field name, accepted types), ...)
SCHEMAS: dict[str, tuple[tuple[str, tuple[type, ...]], ...]] = {
    # worker -> coordinator, control socket
    "hello": (("shard", _INT), ("pid", _INT), ("token", _STR)),
    "bound": (("shard", _INT), ("endpoint", _STR)),
    "links_ready": (("shard", _INT),),
    "bye": (("shard", _INT), ("reason", _STR)),
    # coordinator -> worker, control socket
    "config": (("config", _DICT),),
    "peers": (("inboxes", _LIST),),  # [[shard, endpoint, curve public key or ""], ...]
    "start": (("t0", _NUM),),
    "stop": (("reason", _STR),),
    "heartbeat": (("t", _NUM),),
    # a replacement's inbox, its curve key ("" on ipc), the sender its messages must show
    "peer_update": (("shard", _INT), ("endpoint", _STR), ("key", _STR), ("sender", _STR)),
    # worker -> coordinator, telemetry socket
    "frame": (("shard", _INT), ("frame", _INT), ("t", _NUM), ("zre", _NUM), ("zim", _NUM),
              ("n", _INT), ("flashed", _BYTES)),
    "report": (("shard", _INT), ("line", _DICT)),
    "phases": (("shard", _INT), ("frame", _INT), ("t", _NUM), ("phases", _BYTES)),  # live view
    # worker -> worker, edge inbox
    "edge_hello": (("shard", _INT), ("token", _STR)),
    "flashes": (("shard", _INT), ("seq", _INT), ("cells", _BYTES), ("times", _BYTES)),
    # quota lease protocol (worker <-> coordinator, control socket; see shared/quota/)
    "quota_request": (("shard", _INT), ("seq", _INT), ("lease_id", _INT), ("granted", _INT),
                      ("returned", _INT), ("in_use", _INT), ("waiting", _INT)),
    "quota_grant": (("shard", _INT), ("seq", _INT), ("lease_id", _INT), ("granted", _INT),
                    ("target", _INT), ("echo", _INT), ("expires_in", _NUM)),
    "quota_return": (("shard", _INT), ("lease_id", _INT), ("returned", _INT)),
    # clock offset (worker -> coordinator on the join or control socket, and back;
    # shard is -1 before the join is accepted; see shared/clock_sync.py)
    "clock_ping": (("shard", _INT), ("t", _NUM)),
    "clock_pong": (("t", _NUM), ("tc", _NUM)),
    # joining from another host (worker <-> coordinator, join socket; docs/protocol.md)
    "join": (("version", _STR), ("shard", _INT), ("key", _STR), ("advertise", _STR),
             ("host", _STR), ("byteorder", _STR)),
    "join_ok": (("shard", _INT), ("token", _STR), ("control", _STR), ("telemetry", _STR)),
    "join_refused": (("reason", _STR),),
    # a joined worker's run-directory files (worker -> coordinator, control):
    # appended to (the shard log), or whole, in parts (lock-step state parts)
    "append": (("shard", _INT), ("name", _STR), ("data", _BYTES)),
    "upload": (("shard", _INT), ("name", _STR), ("part", _INT), ("parts", _INT),
               ("data", _BYTES)),
}


class ProtocolError(ValueError):
    """A message that is not a valid message of this protocol version.

    Raised by :func:`decode` only; the receiver counts it as malformed and drops it.
    """


def encode(kind: str, *fields: Any) -> bytes:
    """Pack a message; checks the fields against the schema (a sender bug is loud)."""
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise ValueError(f"unknown message kind {kind!r}")
    if len(fields) != len(schema):
        raise ValueError(f"{kind!r} takes {len(schema)} fields {[n for n, _ in schema]}, "
                         f"got {len(fields)}")
    return msgpack.packb([VERSION, kind, *fields], use_bin_type=True)


def decode(data: bytes) -> tuple[str, list[Any]]:
    """Unpack and validate one message: returns (kind, fields)."""
    try:
        msg = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except Exception as exc:  # msgpack raises several types on garbage
        raise ProtocolError(f"not msgpack: {type(exc).__name__}") from None
    if not isinstance(msg, list) or len(msg) < 2:
        raise ProtocolError("not a [version, kind, ...] array")
    version, kind = msg[0], msg[1]
    if version != VERSION:
        raise ProtocolError(f"version {version!r} is not {VERSION}")
    schema = SCHEMAS.get(kind) if isinstance(kind, str) else None
    if schema is None:
        raise ProtocolError(f"unknown kind {kind!r}")
    fields = msg[2:]
    if len(fields) != len(schema):
        raise ProtocolError(f"{kind!r} has {len(fields)} fields, expected {len(schema)}")
    for value, (name, types) in zip(fields, schema):
        if not isinstance(value, types) or isinstance(value, bool):
            raise ProtocolError(f"{kind!r} field {name!r} is {type(value).__name__}")
    return kind, fields


def pack_cells(cells: array) -> bytes:
    """An ``array("i")`` of cell ids as the wire's int32 bytes (native order: little-endian
    on the supported hosts)."""
    return cells.tobytes()


def unpack_cells(data: bytes) -> array:
    return _unpack(data, "i", "cell")


def pack_times(times: array) -> bytes:
    """An ``array('d')`` of times as the wire's float64 bytes."""
    return times.tobytes()


def unpack_times(data: bytes) -> array:
    return _unpack(data, "d", "time")


def _unpack(data: bytes, typecode: str, what: str) -> array:
    out = array(typecode)
    if len(data) % out.itemsize:
        raise ProtocolError(f"{what} array of {len(data)} bytes is not a multiple of {out.itemsize}")
    out.frombytes(data)
    return out


def parse_peers(peer_list: list[Any], neighbours: Iterable[int], *,
                curve: bool) -> tuple[dict[int, str], dict[int, str]]:
    """``peers`` [[shard, endpoint, public key], ...] as (endpoints, keys) by shard.
    With ``curve`` every neighbour must have a key."""
    endpoints: dict[int, str] = {}
    keys: dict[int, str] = {}
    for entry in peer_list:
        if (not isinstance(entry, list) or len(entry) != 3 or not isinstance(entry[0], int)
                or not all(isinstance(x, str) for x in entry[1:])):
            raise ProtocolError(f"peers entry {entry!r}: must be [shard, endpoint, key]")
        endpoints[entry[0]], keys[entry[0]] = entry[1], entry[2]
    if curve:
        unkeyed = [s for s in neighbours if not keys.get(s)]
        if unkeyed:
            raise ProtocolError(f"peers gives no CurveZMQ key for neighbour shards "
                                f"{unkeyed}")
    return endpoints, keys
