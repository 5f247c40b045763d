"""The wire's bounds, in one place: how large a message of each kind may be, and the
ranges of the figures messages carry (docs/protocol.md, "Limits").

Receivers use these to reject a message *before* it touches any state: the
per-socket ZeroMQ ``MAXMSGSIZE`` (ZeroMQ then drops the connection of a sender that
exceeds it, without reading the message) and the per-kind length checks in the
handlers. Sizes that depend on the run come from the shard's size:

* a ``frame`` holds at most the shard's cells once each (int32, 4 bytes a cell);
* a ``flashes`` batch holds at most the sender's boundary cells facing us
  (int32 + float64, 12 bytes a flash) times :data:`EDGE_REPEATS`;
* a ``report`` (one shard log line) is small whatever the shard: :data:`MAX_REPORT_BYTES`.

This module holds numbers and size rules only; it is not the checking itself
(``shared.protocol.decode`` checks types, the receivers check ranges).
"""

from __future__ import annotations

import math

__all__ = ["MAX_COUNT", "MAX_SIM_TIME_S", "MESSAGE_OVERHEAD", "MAX_REPORT_BYTES",
           "MAX_CONTROL_BYTES", "CELL_BYTES", "FLASH_BYTES", "EDGE_REPEATS", "MIN_EDGE_BYTES",
           "frame_bytes", "telemetry_bytes", "edge_batch_bytes", "edge_flashes", "is_count",
           "is_finite"]

#: Counters, bucket counts and other tallies are ints in [0, MAX_COUNT): 2**53, the
#: largest range a JSON reader (float64) holds exactly. Anything larger is hostile.
MAX_COUNT = 2 ** 53

#: Simulated times on the wire (frame ``t``, flash times) lie within ±MAX_SIM_TIME_S
#: (about 31 years): a real run never comes near it.
MAX_SIM_TIME_S = 1e9

#: Lock-step: a shard that has reached the run's duration sends a frame this often
#: (seconds, wall clock) until stopped, so the coordinator keeps hearing it; frame
#: numbers may then run past duration x fps by one per IDLE_FRAME_S.
IDLE_FRAME_S = 0.25

#: The msgpack envelope of one message: version, kind, small ints and floats, and the
#: headers of the byte fields. Generous: the real envelope is under 80 bytes.
MESSAGE_OVERHEAD = 1024

CELL_BYTES = 4    # one int32 cell id
FLASH_BYTES = 12  # one flash on an edge: int32 cell id + float64 time

#: A batch is one event-loop turn's flashes on one link. A boundary cell normally
#: appears in it at most once; a pathological model (refractory 0, nudge = period) can
#: re-fire an agent within one turn, so the bound allows each cell this many times.
EDGE_REPEATS = 4

#: The smallest MAXMSGSIZE an edge inbox gets, whatever its neighbours' edges.
MIN_EDGE_BYTES = 64 * 1024

#: One shard log line as a report: a few KB in practice (histograms of a few dozen
#: buckets, one ``links`` entry per neighbour shard). A line over this is rejected.
MAX_REPORT_BYTES = 256 * 1024

#: Any control-channel message (hello, bound, quota, ...): small maps and strings.
MAX_CONTROL_BYTES = 1024 * 1024


def frame_bytes(shard_cells: int) -> int:
    """The largest ``frame`` a shard of ``shard_cells`` cells sends: each cell once."""
    return shard_cells * CELL_BYTES + MESSAGE_OVERHEAD


def telemetry_bytes(largest_shard_cells: int) -> int:
    """The telemetry socket's MAXMSGSIZE: the largest frame of any shard, or a report."""
    return max(frame_bytes(largest_shard_cells), MAX_REPORT_BYTES)


def edge_flashes(boundary_cells: int) -> int:
    """The most flashes one ``flashes`` batch from a sender with ``boundary_cells``
    cells facing us may hold."""
    return boundary_cells * EDGE_REPEATS


def edge_batch_bytes(boundary_cells: int) -> int:
    """An edge inbox's MAXMSGSIZE given the largest sender's boundary cells facing it."""
    return max(MIN_EDGE_BYTES, edge_flashes(boundary_cells) * FLASH_BYTES + MESSAGE_OVERHEAD)


def is_count(value: object) -> bool:
    """An int (not a bool) in [0, MAX_COUNT)."""
    return type(value) is int and 0 <= value < MAX_COUNT


def is_finite(value: object, low: float = -math.inf, high: float = math.inf) -> bool:
    """An int or float (not a bool), finite, within [low, high] (a huge int is
    compared as an int: no OverflowError)."""
    if type(value) is int:
        return low <= value <= high
    return type(value) is float and math.isfinite(value) and low <= value <= high
