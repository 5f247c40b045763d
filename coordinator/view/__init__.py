"""Live terminal view of a running simulation: the grid's flashes plus a status bar.

Used by the coordinator only when stdout is a terminal::

    with TerminalSession(sys.stdin.fileno(), sys.stdout) as term:
        view = LiveView(W, H, period, shards=rects, show_shards=True, fps=20)
        ...                                   # telemetry arrives:
        view.on_flashes(cell_ids, t)
        view.on_phases(shard, t, samples)
        ...                                   # every loop tick:
        if view.is_due(loop.time()):
            view.draw(sim_now, StatusInfo(...))

Modules: `geometry` (downsampling, enlarging, the screen map and shard borders),
`canvas` (the flash picture: brightness, fade, frame diff; no escape codes),
`phase_canvas` (the phase picture: sampled phases on a cyclic palette), `palette`
(colour depth, colours and glyphs), `emit` (changed cells -> escape text), `status`
(status bar text with the keys), `terminal` (raw mode, alternate screen, size,
non-blocking keys), `live` (the `LiveView` renderer tying them together, `p` and `s`),
`driver` (the `ViewDriver` that runs a LiveView during a run: redraw loop, keys, and
`flash_feed` and `phase_lattice_config`, the session's wiring). Design notes:
docs/view.md.

What it is not: a curses application. Only the driver is told about a run (through
callables it is built with); the package never reads sockets, never chooses whether
to run, and emits nothing unless asked to render.
"""

from coordinator.view.canvas import Canvas, Geometry, brightness, fit
from coordinator.view.driver import ViewDriver, flash_feed, status_info
from coordinator.view.live import LiveView, stdout_is_terminal
from coordinator.view.status import STATUS_LINES, StatusInfo, status_lines
from coordinator.view.terminal import TerminalSession, read_keys, terminal_size

__all__ = [
    "STATUS_LINES",
    "Canvas",
    "Geometry",
    "LiveView",
    "StatusInfo",
    "TerminalSession",
    "ViewDriver",
    "brightness",
    "fit",
    "flash_feed",
    "read_keys",
    "status_info",
    "status_lines",
    "stdout_is_terminal",
    "terminal_size",
]
