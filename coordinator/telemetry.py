"""The telemetry stream: the coordinator's PULL socket for the shards' frames and
reports, checked before they reach the aggregator.

:class:`TelemetryStream` binds the socket every worker PUSHes to and reads it on the
event loop. A message must decode (:func:`shared.protocol.decode`) and be a
``frame`` or a ``report`` of a shard of this run; a frame's figures must be finite
and its flashed cells a whole int32 array; a report must be a shard log line of the documented schema
(:data:`shared.runlog.schema.SHARD_FIELDS`). Anything else is counted
(:attr:`TelemetryStream.malformed`) and dropped; no exception leaves the handler.

Not here: what the figures mean (``aggregator``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

import zmq

from shared import protocol
from shared.runlog.schema import SHARD_FIELDS, check

from .aggregator import Aggregator
from .receiver import Receiver

__all__ = ["TelemetryStream"]

log = logging.getLogger(__name__)

_CELL_BYTES = 4  # int32 cell ids


class TelemetryStream(Receiver):
    """The bound telemetry socket of one run with ``workers`` shards, feeding
    ``aggregator``. A context manager; :meth:`close` stops reading and closes it."""

    def __init__(self, ctx: zmq.Context[Any], loop: asyncio.AbstractEventLoop, endpoint: str, *,
                 workers: int, aggregator: Aggregator) -> None:
        self.workers = workers
        self._aggregator = aggregator
        super().__init__(ctx, loop, endpoint, zmq.PULL, name="telemetry", rcvhwm=100_000)

    def _route(self, frames: list[bytes]) -> None:
        if len(frames) != 1:
            raise protocol.ProtocolError(f"{len(frames)} frames")
        kind, fields = protocol.decode(frames[0])
        if kind not in ("frame", "report"):
            raise protocol.ProtocolError(f"{kind!r} is not telemetry")
        shard = fields[0]
        if not 0 <= shard < self.workers:
            raise protocol.ProtocolError(f"{kind} from unknown shard {shard}")
        if kind == "frame":
            shard, frame, t, zre, zim, n, flashed = fields
            if frame < 0 or n < 0 or not all(math.isfinite(x) for x in (t, zre, zim)):
                raise protocol.ProtocolError(f"frame {frame} of shard {shard} has impossible figures "
                                             f"(t={t!r}, Z=({zre!r}, {zim!r}), N={n})")
            if len(flashed) % _CELL_BYTES:
                raise protocol.ProtocolError(f"frame's flashed cells are {len(flashed)} bytes, "
                                             f"not a multiple of {_CELL_BYTES}")
            self._aggregator.on_frame(shard, frame, t, zre, zim, n, flashed)
        else:
            line = fields[1]
            problems = check(line, SHARD_FIELDS)
            if problems:
                raise protocol.ProtocolError(f"report from shard {shard}: {'; '.join(problems[:3])}")
            self._aggregator.on_report(shard, line)
