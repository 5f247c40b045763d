"""The telemetry stream: the coordinator's PULL socket for the shards' frames and
reports, checked before they reach the aggregator.

:class:`TelemetryStream` binds the socket every worker PUSHes to and reads it on the
event loop. Every message is checked whole before any of it is used
(docs/protocol.md, "Limits"; the bounds are :mod:`shared.limits`):

* the socket's MAXMSGSIZE is the largest legitimate message (the largest shard's
  frame, or a report), and a message's length is checked again per kind;
* it must decode (:func:`shared.protocol.decode`) and be a ``frame`` or a ``report``
  of a shard of this run;
* a frame only after the start barrier opened (:meth:`TelemetryStream.start`), with a
  frame number the elapsed time allows, a finite time within the run, Z_s finite with
  |Z_s| <= N_s, N_s the shard's cell count, and at most that many flashed cells, each a
  cell of the grid;
* a ``phases`` message (the live view's phase samples) only when the aggregator
  has a phases listener, with a frame number and time as for a frame, and exactly
  :meth:`~coordinator.aggregator.Aggregator.phase_samples` bytes (every byte value
  is a phase: 256 steps of the period, so the length is the whole check);
* a report must be a shard log line of the documented schema
  (:data:`shared.runlog.schema.SHARD_FIELDS`) from the shard it names, every counter
  and tally an int in [0, 2**53), every figure finite and in range, every histogram
  one :meth:`~shared.histogram.Histogram.from_dict` accepts.

Anything else is counted (:attr:`TelemetryStream.malformed`), logged in summary and
dropped; no exception leaves the handler, and a rejected report never becomes a
shard's latest.

Not here: what the figures mean (``aggregator``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from array import array
from typing import Any, Callable, Mapping, Sequence

import zmq

from shared import limits, protocol
from shared.histogram import Histogram
from shared.runlog.schema import (COUNTERS, HISTOGRAMS, LOCKSTEP_HISTOGRAMS, SCHEMA_VERSION,
                                  SHARD_DIAGNOSTICS, SHARD_FIELDS, check)

from .aggregator import Aggregator
from .receiver import Receiver
from .security import RunSecurity

__all__ = ["TelemetryStream"]

log = logging.getLogger(__name__)

#: How far ahead of the coordinator's own clock a frame's time may be (same host,
#: same monotonic clock: only scheduling delays separate them).
CLOCK_SLACK_S = 1.0
#: Upper bounds of a report's figures that have no natural one.
_MAX_FPS = 1e6
_MAX_CPU_PERCENT = 1e5


class TelemetryStream(Receiver):
    """The bound telemetry socket of one run, feeding ``aggregator``; shard k has
    ``shard_cells[k]`` cells. A context manager; :meth:`close` stops reading and
    closes it. Frames are refused until :meth:`start` gives the barrier's t0."""

    def __init__(self, ctx: zmq.Context[Any], loop: asyncio.AbstractEventLoop, endpoint: str, *,
                 aggregator: Aggregator, shard_cells: Sequence[int],
                 clock: Callable[[], float] = time.monotonic,
                 security: RunSecurity | None = None, sim_duration: float | None = None) -> None:
        self.workers = len(shard_cells)
        self.shard_cells = tuple(shard_cells)
        self.grid_cells = sum(self.shard_cells)
        self.fps = aggregator.fps
        self.max_message = limits.telemetry_bytes(max(self.shard_cells))
        self._aggregator = aggregator
        self._clock = clock
        self._t0: float | None = None
        # Lock-step: frames run ahead of (or behind) the wall clock, up to the run's
        # simulated duration, then one per IDLE_FRAME_S until the stop.
        self.sim_duration = sim_duration
        super().__init__(ctx, loop, endpoint, zmq.PULL, name="telemetry", rcvhwm=100_000,
                         max_message=self.max_message,  # security: docs/security.md
                         secure=None if security is None else security.server_socket(),
                         senders=None if security is None else security.sender)

    def start(self, t0: float) -> None:
        """The start barrier opened: simulated time 0 is ``t0`` on the monotonic clock."""
        self._t0 = t0

    def _route(self, frames: list[bytes]) -> None:
        if len(frames) != 1:
            raise protocol.ProtocolError(f"{len(frames)} frames")
        size = len(frames[0])
        if size > self.max_message:  # ZeroMQ's MAXMSGSIZE drops these first
            raise protocol.ProtocolError(f"{size:,} bytes, over the {self.max_message:,} allowed")
        kind, fields = protocol.decode(frames[0])
        if kind not in ("frame", "report", "phases"):
            raise protocol.ProtocolError(f"{kind!r} is not telemetry")
        shard = fields[0]
        if not 0 <= shard < self.workers:
            raise protocol.ProtocolError(f"{kind} from unknown shard {shard}")
        self._check_sender(shard)  # only shard's own worker speaks for it
        if kind == "frame":
            self._check_frame(*fields)
            self._aggregator.on_frame(*fields)
        elif kind == "phases":
            self._check_phases(*fields)
            self._aggregator.on_phases(*fields)
        else:
            if size > limits.MAX_REPORT_BYTES:
                raise protocol.ProtocolError(f"report of {size:,} bytes, over the "
                                             f"{limits.MAX_REPORT_BYTES:,} allowed")
            line = fields[1]
            self._check_report(shard, line)
            self._aggregator.on_report(shard, line)

    def _latest(self, kind: str, shard: int, frame: int) -> float:
        """Check frame number ``frame`` against the time since the start barrier;
        returns the latest valid sim time now."""
        if self._t0 is None:
            raise protocol.ProtocolError(f"{kind} {frame} of shard {shard} before the start barrier")
        elapsed = self._clock() - self._t0 + CLOCK_SLACK_S
        last = elapsed * self.fps + 1
        if self.sim_duration is not None:
            last = self.sim_duration * self.fps + 2 + elapsed / limits.IDLE_FRAME_S
            elapsed = self.sim_duration + CLOCK_SLACK_S  # the latest valid sim time
        if not 1 <= frame <= last:
            raise protocol.ProtocolError(f"{kind} {frame} of shard {shard}: not within 1..{last:.0f} "
                                         f"at {elapsed:.1f} s")
        return elapsed

    def _check_phases(self, shard: int, frame: int, t: Any, data: bytes) -> None:
        expected = self._aggregator.phase_samples(shard)
        if expected is None:
            raise protocol.ProtocolError(f"phases from shard {shard}, but no live view asked for them")
        elapsed = self._latest("phases", shard, frame)
        if not limits.is_finite(t, -CLOCK_SLACK_S, elapsed):
            raise protocol.ProtocolError(f"phases {frame} of shard {shard} at impossible t={t!r}")
        if len(data) != expected:
            raise protocol.ProtocolError(f"phases {frame} of shard {shard}: {len(data)} samples, "
                                         f"its lattice has {expected}")

    def _check_frame(self, shard: int, frame: int, t: Any, zre: Any, zim: Any, n: int,
                     flashed: bytes) -> None:
        elapsed = self._latest("frame", shard, frame)
        cells = self.shard_cells[shard]
        if n != cells:
            raise protocol.ProtocolError(f"frame {frame} of shard {shard}: N={n}, the shard has {cells} cells")
        if not (limits.is_finite(t, -CLOCK_SLACK_S, elapsed) and limits.is_finite(zre, -n, n)
                and limits.is_finite(zim, -n, n) and zre * zre + zim * zim <= n * n * (1 + 1e-9) + 1e-9):
            raise protocol.ProtocolError(f"frame {frame} of shard {shard} has impossible figures "
                                         f"(t={t!r}, Z=({zre!r}, {zim!r}), N={n})")
        if len(flashed) % limits.CELL_BYTES or len(flashed) > cells * limits.CELL_BYTES:
            raise protocol.ProtocolError(f"frame's flashed cells are {len(flashed)} bytes: not a whole "
                                         f"number of int32s, or more than the shard's {cells} cells")
        if flashed:
            ids = array("i", flashed)
            if min(ids) < 0 or max(ids) >= self.grid_cells:
                raise protocol.ProtocolError(f"frame {frame} of shard {shard} names cells outside the grid")

    def _check_report(self, shard: int, line: Any) -> None:
        problems = check(line, SHARD_FIELDS) or _range_problems(line, shard, self.shard_cells[shard])
        if problems:
            raise protocol.ProtocolError(f"report from shard {shard}: {'; '.join(problems[:3])}")


def _range_problems(line: Mapping[str, Any], shard: int, cells: int) -> list[str]:
    """Problems with the values of a report whose types match the schema: the shard it
    names, counts, finite figures, histograms (the aggregator takes them as they are)."""
    problems = []
    if line["v"] != SCHEMA_VERSION:
        problems.append(f"schema version {line['v']} is not {SCHEMA_VERSION}")
    if line["shard"] != shard or line["agents"] != cells:
        problems.append(f"names shard {line['shard']} with {line['agents']} agents")
    unknown = line["counters"].keys() - set(COUNTERS)
    if unknown:
        problems.append(f"unknown counters {sorted(map(str, unknown))[:3]}")
    counts = {f"counters.{k}": v for k, v in line["counters"].items()}
    counts.update({k: line[k] for k in ("frames", *SHARD_DIAGNOSTICS) if k != "links"})
    counts.update({f"process.{k}": line["process"][k] for k in ("rss_bytes", "gc_young")})
    problems += [f"{k}={v!r} is not a count within [0, 2**53)" for k, v in counts.items()
                 if not limits.is_count(v)]
    figures = {"t": (line["t"], -CLOCK_SLACK_S, limits.MAX_SIM_TIME_S),
               "interval_s": (line["interval_s"], 0.0, limits.MAX_SIM_TIME_S),
               "fps": (line["fps"], 0.0, _MAX_FPS),
               "process.cpu_percent": (line["process"]["cpu_percent"], 0.0, _MAX_CPU_PERCENT),
               "process.gc_ms": (line["process"]["gc_ms"], 0.0, limits.MAX_SIM_TIME_S * 1e3)}
    busy = line["process"]["loop_busy"]
    if busy is not None:
        figures["process.loop_busy"] = (busy, 0.0, 1.0 + 1e-6)
    problems += [f"{k}={v!r} is not within [{lo}, {hi}]" for k, (v, lo, hi) in figures.items()
                 if not limits.is_finite(v, lo, hi)]
    for name in (*HISTOGRAMS, *(k for k in LOCKSTEP_HISTOGRAMS if k in line)):
        try:
            Histogram.from_dict(line[name])
        except (ValueError, TypeError, AttributeError) as exc:
            problems.append(f"{name}: {exc}")
    return problems
