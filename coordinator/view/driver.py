"""The view driver: runs a :class:`~coordinator.view.live.LiveView` during a run.

:class:`ViewDriver` owns the terminal while the run lasts (``TerminalSession``,
restored on every exit path), redraws at most ``--view-fps`` times a second with the
status its ``status`` callable reports, turns ``q`` (or Ctrl-C typed as a key) into a
stop request, ``p`` into the other view (flashes or phases) and ``s`` into shard
borders on or off. :func:`flash_feed` is the listener that hands the flashed cells
of telemetry frames to the view (the aggregator is built with it, and with the view
itself for the workers' phase samples: ``LiveView.on_phases``),
:func:`phase_lattice_config` tells the workers where to sample phases, and
:func:`status_info` assembles a status bar from the run's figures.

Not here: rendering (``live``, ``canvas``, ``status``), terminal modes
(``terminal``), or deciding whether to show a view at all (the CLI and the session:
only when stdout is a terminal and ``--headless`` is not given).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys
import time
from array import array
from typing import IO, Any, Callable, Mapping, Sequence

from coordinator.view.live import LiveView
from coordinator.view.status import StatusInfo
from coordinator.view.terminal import TerminalSession, read_keys

__all__ = ["ViewDriver", "flash_feed", "phase_lattice_config", "status_info"]

log = logging.getLogger(__name__)


def flash_feed(view: LiveView) -> Callable[[bytes, float], None]:
    """A flash listener: int32 cell ids (a frame's ``flashed``) at sim time t → ``view``."""

    def on_flashes(flashed: bytes, t: float) -> None:
        cells = array("i")
        try:
            cells.frombytes(flashed)
            view.on_flashes(cells, t)
        except ValueError as exc:  # a cell id outside the grid: telemetry is corrupt
            log.warning("view ignored a frame: %s", exc)

    return on_flashes


def phase_lattice_config(config: Any, view: LiveView) -> Any:
    """``config`` (a frozen ``RunConfig``) telling the workers to sample phases on
    ``view``'s lattice (``phase_cols`` × ``phase_rows``)."""
    cols, rows = view.phase_lattice
    return dataclasses.replace(config, phase_cols=cols, phase_rows=rows)


def status_info(elapsed: float, *, r: float, latest: Mapping[int, Mapping[str, Any]],
                record: Mapping[str, Any], workers_alive: int, workers_total: int,
                stalled: Sequence[int] = ()) -> StatusInfo:
    """The status bar: R now, each live shard's newest line (``latest``), the last
    coordinator.jsonl line (``record``: flashes/s, quota, lock-step's simulated time and
    RTF; empty before the first), and the shards stalled now (``stalled``)."""
    quota = record.get("quota") or {}
    return StatusInfo(
        elapsed_s=max(0.0, elapsed), R=r,
        flashes_per_s=float(record.get("flashes_per_s") or 0.0),
        shard_fps={k: float(v.get("fps", 0.0)) for k, v in latest.items()},
        shard_p99_ms={k: float(v["flash_lateness_ms"]["p99"]) for k, v in latest.items()},
        workers_alive=workers_alive, workers_total=workers_total,
        quota_in_use=quota.get("in_use"), quota_limit=quota.get("limit"), stalled=tuple(stalled),
        sim_s=record.get("sim_t"), rtf=record.get("rtf"))


class ViewDriver:
    """Draws ``view`` from t0 on; ``await driver.run(stop_event)`` until the run stops.

    ``status(elapsed)`` gives the status bar; ``request_stop(reason)`` is called with
    ``quit`` for ``q`` and ``interrupted`` for a typed Ctrl-C; ``p`` switches the view
    (flashes, phases), ``s`` the shard borders."""

    def __init__(self, view: LiveView, *, status: Callable[[float], StatusInfo],
                 request_stop: Callable[[str], None], t0: float, out: IO[str] | None = None,
                 keys_fd: int | None = None) -> None:
        self.view = view
        self.t0 = t0
        self.out = out or sys.stdout
        self.keys_fd_wanted = sys.stdin.fileno() if keys_fd is None else keys_fd
        self.draw_seconds = 0.0  # CPU time spent rendering and writing
        self.frames = 0
        self._status = status
        self._request_stop = request_stop

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        with TerminalSession(self.keys_fd_wanted, self.out) as term:
            fd = term.keys_fd
            if fd is not None:
                loop.add_reader(fd, self._on_keys, fd)
            loop.add_signal_handler(signal.SIGWINCH, self.view.resize)
            try:
                while not stop.is_set():
                    now = loop.time()
                    if self.view.is_due(now):
                        t = now - self.t0
                        started = time.process_time()
                        self.view.draw(t, self._status(t))
                        self.draw_seconds += time.process_time() - started
                        self.frames += 1
                    try:
                        await asyncio.wait_for(stop.wait(), self.view.interval)
                    except asyncio.TimeoutError:
                        pass
            finally:
                if fd is not None:
                    loop.remove_reader(fd)
                loop.remove_signal_handler(signal.SIGWINCH)

    def cost_line(self, elapsed: float) -> str:
        share = 100.0 * self.draw_seconds / elapsed if elapsed > 0 else 0.0
        return (f"live view: {self.frames} frames in {elapsed:.1f} s, "
                f"{self.draw_seconds * 1000 / max(self.frames, 1):.2f} ms CPU per frame, "
                f"{share:.2f}% of one core")

    def _on_keys(self, fd: int) -> None:
        try:
            keys = read_keys(fd)
        except EOFError:  # the terminal went away: stop reading it
            asyncio.get_running_loop().remove_reader(fd)
            return
        if "q" in keys or "Q" in keys:
            self._request_stop("quit")
        elif "\x03" in keys:  # Ctrl-C arrives as a key in cbreak mode without ISIG
            self._request_stop("interrupted")
        else:
            for key in keys:  # lower case only: F1 is ESC O P
                if key == "p":
                    self.view.toggle_phase()
                elif key == "s":
                    self.view.toggle_shards()
