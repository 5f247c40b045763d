"""The live view of a running session: the grid lighting up, and a status bar.

:class:`ViewDriver` connects a :class:`~coordinator.view.LiveView` to a Session: flashed
cells from telemetry frames go to the view, a loop redraws at most ``--view-fps``
times a second (only changed cells are written), ``q`` or Ctrl-C stops the run, and
the terminal is restored on every exit path (``TerminalSession`` is a context
manager with an atexit fallback). Used only when stdout is a terminal and
``--headless`` is not given; otherwise nothing but plain status lines is written.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from array import array
from typing import IO, Any

from .view import LiveView, StatusInfo, TerminalSession, read_keys

__all__ = ["ViewDriver"]

log = logging.getLogger(__name__)


class ViewDriver:
    """Draws one session; ``await driver.run(stop_event)`` until the run stops."""

    def __init__(self, session: Any, *, out: IO[str] | None = None, keys_fd: int | None = None) -> None:
        cfg = session.config
        self.session = session
        self.out = out or sys.stdout
        self.keys_fd_wanted = sys.stdin.fileno() if keys_fd is None else keys_fd
        shards = [(s["x0"], s["y0"], s["width"], s["height"]) for s in session.shard_rects]
        self.view = LiveView(cfg.grid[0], cfg.grid[1], cfg.period, shards=shards,
                             show_shards=cfg.show_shards, fps=cfg.view_fps, out=self.out)
        self.last_record: dict[str, Any] = {}
        self.draw_seconds = 0.0  # CPU time spent rendering and writing
        self.frames = 0

    def on_flashes(self, flashed: bytes, t: float) -> None:
        cells = array("i")
        cells.frombytes(flashed)
        try:
            self.view.on_flashes(cells, t)
        except ValueError as exc:  # a cell id outside the grid: telemetry is corrupt
            log.warning("view ignored a frame: %s", exc)

    def on_interval(self, record: dict[str, Any]) -> None:
        self.last_record = record

    def status(self, elapsed: float) -> StatusInfo:
        s = self.session
        latest = {k: v for k, v in s.telemetry.latest.items() if k in s.telemetry.live}
        quota = self.last_record.get("quota") or {}
        return StatusInfo(
            elapsed_s=max(0.0, elapsed), R=s.telemetry.r,
            flashes_per_s=float(self.last_record.get("flashes_per_s") or 0.0),
            shard_fps={k: float(v.get("fps", 0.0)) for k, v in latest.items()},
            shard_p99_ms={k: float(v["flash_lateness_ms"]["p99"]) for k, v in latest.items()},
            workers_alive=len(s.workers.alive()), workers_total=s.config.workers,
            quota_in_use=quota.get("in_use"), quota_limit=quota.get("limit"))

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
                        t = now - (self.session.t0 or now)
                        started = time.process_time()
                        self.view.draw(t, self.status(t))
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
        loop = asyncio.get_running_loop()
        try:
            keys = read_keys(fd)
        except EOFError:  # the terminal went away: stop reading it
            loop.remove_reader(fd)
            return
        if "q" in keys or "Q" in keys:
            self.session.request_stop("quit")
        elif "\x03" in keys:  # Ctrl-C arrives as a key in cbreak mode without ISIG
            self.session.request_stop("interrupted")
