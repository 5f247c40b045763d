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
from shared.zmqio import SocketReader, make_socket

from .aggregator import Aggregator

__all__ = ["TelemetryStream"]

log = logging.getLogger(__name__)

_CELL_BYTES = 4  # int32 cell ids


class TelemetryStream:
    """The bound telemetry socket of one run with ``workers`` shards, feeding
    ``aggregator``. A context manager; :meth:`close` stops reading and closes it."""

    def __init__(self, ctx: zmq.Context[Any], loop: asyncio.AbstractEventLoop, endpoint: str, *,
                 workers: int, aggregator: Aggregator) -> None:
        self.workers = workers
        self.malformed = 0
        self._aggregator = aggregator
        self._sock = make_socket(ctx, zmq.PULL, rcvhwm=100_000, bind=endpoint)
        try:
            self.address: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
            self._reader = SocketReader(loop, self._sock, self._on_message)
        except BaseException:
            self._sock.close(0)
            raise

    def __enter__(self) -> "TelemetryStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def drain(self) -> None:
        """Read what is queued now (the reports sent just before a stop)."""
        self._reader.drain()

    def _on_message(self, frames: list[bytes]) -> None:
        try:
            self._route(frames)
        except protocol.ProtocolError as exc:
            self.malformed += 1
            log.warning("dropped a malformed telemetry message: %s", exc)
        except (KeyError, TypeError, ValueError) as exc:
            self.malformed += 1
            log.warning("dropped a telemetry message with bad content: %r", exc)
        except Exception:  # a bug, not the peer's: count, keep the loop alive
            self.malformed += 1
            log.exception("dropped a telemetry message that could not be handled")

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

    def close(self) -> None:
        self._reader.close()
        self._sock.close(0)
