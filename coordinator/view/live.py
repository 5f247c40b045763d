"""The live view: the grid and a status bar, redrawn in place on a terminal.

Two pictures of the same grid, switched with :meth:`LiveView.toggle_phase`:

* the flash view (`canvas.py`): each flash lights its cell, which fades back to the
  dim colour of an unlit firefly;
* the phase view (`phase_canvas.py`): each cell coloured by its phase on a cyclic
  palette, from samples the workers send a few times a second and the flashes in
  between, so travelling waves and seams at shard borders show.

The coordinator feeds flashes (`on_flashes`) and phase samples (`on_phases`) as
telemetry arrives and, whenever `is_due` says a view frame is due, calls `draw` with
the simulation time and a `StatusInfo`. Each frame writes only the character cells
whose glyph changed since the previous frame (`emit.py`) and the status lines whose
text changed. A new terminal size, noticed by polling `size_fn` each frame or
announced with `resize()`, clears the screen and redraws everything; so does
switching the view or the shard borders (:meth:`toggle_shards`).

Screen layout: the picture (`geometry.py`: downsampled or enlarged to fill the
area, two screen pixels per character) in the top-left corner, the status bar
(`status.py`, with the keys) on the last `STATUS_LINES` rows. Colours: 256 or 16
(`palette.py`, detected from TERM/COLORTERM unless given).

What it is not: a terminal owner. It writes escape codes only from `render`/`draw`,
never on construction; putting the terminal into the right mode is
`TerminalSession`'s job, and deciding that stdout is a terminal at all is the
coordinator's (`stdout_is_terminal` helps).
"""

from __future__ import annotations

import math
import os
import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from typing import IO

import numpy as np

from coordinator.view._ansi import CLEAR_SCREEN, ERASE_LINE_END, RESET, make_writer, move
from coordinator.view.canvas import Canvas
from coordinator.view.emit import Emitter
from coordinator.view.geometry import Geometry, Rect
from coordinator.view.palette import DEPTHS, PALETTES, colour_depth, glyph_table
from coordinator.view.phase_canvas import PhaseCanvas
from coordinator.view.status import STATUS_LINES, StatusInfo, status_lines
from coordinator.view.terminal import DEFAULT_SIZE, terminal_size

__all__ = ["LiveView", "stdout_is_terminal"]

SizeFn = Callable[[], tuple[int, int]]


class LiveView:
    """Diffing terminal renderer of a W×H firefly grid; see the module docstring.

    `period` is the agents' flash period (seconds of simulation time); a lit cell
    fades over ``fade_fraction * period``. `shards` are the (x0, y0, width, height)
    shard rectangles in shard order (None: one shard, the whole grid); their borders
    are drawn while `show_shards`. `fps` caps view frames per second (`is_due`).
    `out` is a text or binary stream (default sys.stdout); `size_fn` returns
    (columns, rows) (default: the size of `out`'s terminal, 80x24 when it has none).
    `colours` is 256 or 16 (default: from the environment, `colour_depth`); `phase`
    starts in the phase view. The phase lattice (`phase_lattice`) is fixed here, by
    the terminal size at construction.
    """

    def __init__(
        self,
        grid_w: int,
        grid_h: int,
        period: float,
        *,
        shards: Sequence[Rect] | None = None,
        show_shards: bool = False,
        fps: float = 20.0,
        out: IO[str] | IO[bytes] | None = None,
        size_fn: SizeFn | None = None,
        fade_fraction: float = 0.25,
        colours: int | None = None,
        phase: bool = False,
    ) -> None:
        if not period > 0:
            raise ValueError(f"period (={period}) must be > 0 seconds")
        if not fps > 0:
            raise ValueError(f"fps (={fps}) must be > 0")
        depth = colour_depth() if colours is None else colours
        if depth not in DEPTHS:
            raise ValueError(f"colours (={colours}) must be one of {DEPTHS}")
        self.colours = depth
        self.interval = 1.0 / fps
        self._next_due = -math.inf
        out = sys.stdout if out is None else out
        self._write = make_writer(out)
        self._size_fn = size_fn or _size_of(out)
        palette = PALETTES[depth]
        self._glyphs = {
            False: glyph_table([None, *palette.levels, palette.unlit, palette.border], depth),
            True: glyph_table([None, *palette.hues, palette.unlit, palette.border], depth),
        }
        self._size = _sane(self._size_fn())
        self._status_n = _status_rows(self._size[1])
        rects = list(shards) if shards else [(0, 0, grid_w, grid_h)]
        self._canvas = Canvas(
            grid_w, grid_h, fade_fraction * period,
            cols=self._size[0], rows=self._size[1] - self._status_n,
            levels=len(palette.levels), borders=list(shards or ()), show_borders=show_shards,
        )
        geo = self._canvas.geometry
        self._phases = PhaseCanvas(grid_w, grid_h, period, lattice=(geo.pix_w, geo.pix_h),
                                   shards=rects, hues=len(palette.hues))
        self.phase_view = phase
        self._newest_phases: dict[int, tuple[float, bytes]] = {}  # held in the flash view
        self._relayout()

    # -- state ------------------------------------------------------------------

    @property
    def geometry(self) -> Geometry:
        """Where the grid is drawn (pixels from the top-left corner)."""
        return self._canvas.geometry

    @property
    def size(self) -> tuple[int, int]:
        """The terminal size (columns, rows) the last frame was laid out for."""
        return self._size

    @property
    def show_shards(self) -> bool:
        return self._canvas.show_borders

    @property
    def phase_lattice(self) -> tuple[int, int]:
        """(cols, rows) of the lattice the workers sample phases on (ShardConfig)."""
        return self._phases.lattice

    @property
    def keys(self) -> str:
        """The keys hint the status bar ends with."""
        return f"q quit \u00b7 p {'flashes' if self.phase_view else 'phase'} \u00b7 s shards"

    # -- input ------------------------------------------------------------------

    def on_flashes(self, cell_ids: Iterable[int], t: float) -> None:
        """Cells (global ids y*W + x) that flashed at simulation time `t`."""
        if not isinstance(cell_ids, (array, np.ndarray, list)):
            cell_ids = list(cell_ids)
        self._canvas.flash(cell_ids, t)  # checks every id
        if self.phase_view and len(cell_ids):
            self._phases.on_flashes(np.asarray(cell_ids, dtype=np.int64), t)

    def phase_samples(self, shard: int) -> int:
        """How many phases (bytes) a `phases` message of shard `shard` must carry."""
        return self._phases.samples(shard)

    def on_phases(self, shard: int, t: float, data: bytes) -> None:
        """Shard `shard`'s phase samples at simulation time `t` (ValueError: wrong
        length). While the flash view shows, only each shard's newest is kept, and
        taken when the phase view is switched on."""
        if self.phase_view:
            self._phases.on_phases(shard, t, data)
        else:
            self._phases.check(shard, t, data)
            self._newest_phases[shard] = (t, data)

    def toggle_phase(self) -> None:
        """Switch between the flash view and the phase view; the next frame redraws all."""
        self.phase_view = not self.phase_view
        if self.phase_view:
            for shard, (t, data) in sorted(self._newest_phases.items(), key=lambda kv: kv[1][0]):
                self._phases.on_phases(shard, t, data)
        self._newest_phases.clear()
        self._relayout()

    def toggle_shards(self) -> None:
        """Draw the shard borders or stop drawing them; the next frame redraws all."""
        self._canvas.set_borders(not self._canvas.show_borders)
        self._relayout()

    def is_due(self, wall_now: float) -> bool:
        """True when a view frame is due at wall time `wall_now`; a True books it.

        Frames keep a steady cadence of `interval`; after a stall the cadence restarts
        from `wall_now` instead of bursting to catch up.
        """
        if wall_now < self._next_due:
            return False
        nxt = self._next_due + self.interval
        self._next_due = nxt if nxt > wall_now else wall_now + self.interval
        return True

    def resize(self, size: tuple[int, int] | None = None) -> None:
        """Lay out for `size` (default: ask `size_fn`); the next frame redraws all."""
        self._size = _sane(self._size_fn() if size is None else size)
        self._status_n = _status_rows(self._size[1])
        self._canvas.resize(self._size[0], self._size[1] - self._status_n)
        self._relayout()

    def _relayout(self) -> None:
        """After a new size, view or borders: new maps, a cleared screen, all redrawn."""
        self._canvas.invalidate()
        self._phases.set_screen(self._canvas.screen)
        self._emitter = Emitter(self._canvas.geometry, self._glyphs[self.phase_view])
        self._shown_status: list[str | None] = [None] * self._status_n
        self._clear_pending = True

    # -- output -----------------------------------------------------------------

    def render(self, now_t: float, status: StatusInfo) -> str:
        """The escape-sequence text that brings the screen to simulation time `now_t`."""
        size = _sane(self._size_fn())
        if size != self._size:
            self.resize(size)
        parts: list[str] = []
        if self._clear_pending:
            parts.append(RESET + CLEAR_SCREEN)
            self._clear_pending = False
        if self.phase_view:
            cells, keys = self._phases.changes(now_t)
            parts.append(self._emitter.text(cells, keys))
        else:
            changes = self._canvas.changes(now_t)
            parts.append(self._emitter.text([c for c, _ in changes], [k for _, k in changes]))
        self._render_status(status, parts)
        return "".join(parts)

    def draw(self, now_t: float, status: StatusInfo) -> None:
        """`render` and write the result to `out` (nothing when nothing changed)."""
        text = self.render(now_t, status)
        if text:
            self._write(text)

    def _render_status(self, status: StatusInfo, parts: list[str]) -> None:
        """Append the status lines whose text changed (erased first, then written)."""
        if not self._status_n:
            return
        top = self._size[1] - self._status_n
        lines = status_lines(status, self._size[0], keys=self.keys)
        for i, line in enumerate(lines[: self._status_n]):
            if line != self._shown_status[i]:
                parts.append(move(top + i, 0) + RESET + ERASE_LINE_END + line)
                self._shown_status[i] = line


def stdout_is_terminal(stream: IO[str] | IO[bytes] | None = None) -> bool:
    """True when `stream` (default sys.stdout) is a terminal that can show the view."""
    stream = sys.stdout if stream is None else stream
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return bool(tty) and os.environ.get("TERM", "") != "dumb"


def _size_of(out: IO[str] | IO[bytes]) -> SizeFn:
    """size_fn for `out`: its terminal's size, DEFAULT_SIZE when it has no fd or tty."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        return lambda: DEFAULT_SIZE
    return lambda: terminal_size(fd)


def _sane(size: tuple[int, int]) -> tuple[int, int]:
    cols, rows = size
    return max(1, int(cols)), max(1, int(rows))


def _status_rows(rows: int) -> int:
    """Status lines that fit while leaving the picture at least one row."""
    return min(STATUS_LINES, rows - 1)
