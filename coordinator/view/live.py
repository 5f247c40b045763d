"""The live view: the grid's flashes and a status bar, redrawn in place on a terminal.

The coordinator feeds it flashes as telemetry arrives (`on_flashes`) and, whenever
`is_due` says a view frame is due, calls `draw` with the simulation time and a
`StatusInfo`. Each frame writes only the character cells whose glyph changed since
the previous frame (a cursor move where the run of changed cells breaks, a colour
change where it differs from the last one written, then the glyph) and the status
lines whose text changed. A new terminal size, noticed by polling `size_fn` each
frame or announced with `resize()`, clears the screen and redraws everything.

Screen layout: the picture (see `canvas.py`, two grid rows per character row using
half blocks, brightest agent per pixel when downsampled) in the top-left corner,
the status bar (`status.py`) on the last `STATUS_LINES` rows.

What it is not: a terminal owner. It writes escape codes only from `render`/`draw`,
never on construction; putting the terminal into the right mode is
`TerminalSession`'s job, and deciding that stdout is a terminal at all is the
coordinator's (`stdout_is_terminal` helps).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import IO

from coordinator.view._ansi import CLEAR_SCREEN, ERASE_LINE_END, RESET, make_writer, move
from coordinator.view.canvas import Canvas, Geometry
from coordinator.view.palette import LEVEL_COLOURS, glyph_table
from coordinator.view.status import STATUS_LINES, StatusInfo, status_lines
from coordinator.view.terminal import DEFAULT_SIZE, terminal_size

__all__ = ["LiveView", "stdout_is_terminal"]

SizeFn = Callable[[], tuple[int, int]]
Rect = tuple[int, int, int, int]


class LiveView:
    """Diffing terminal renderer of a W×H firefly grid; see the module docstring.

    `period` is the agents' flash period (seconds of simulation time); a lit cell
    fades to dark over ``fade_fraction * period``. `shards` are (x0, y0, width,
    height) rectangles, drawn as dark-grey borders when `show_shards`. `fps` caps
    view frames per second (`is_due`). `out` is a text or binary stream (default
    sys.stdout); `size_fn` returns (columns, rows) (default: the size of `out`'s
    terminal, 80x24 when it has none).
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
    ) -> None:
        if not period > 0:
            raise ValueError(f"period (={period}) must be > 0 seconds")
        if not fps > 0:
            raise ValueError(f"fps (={fps}) must be > 0")
        self.interval = 1.0 / fps
        self._next_due = -math.inf
        out = sys.stdout if out is None else out
        self._write = make_writer(out)
        self._size_fn = size_fn or _size_of(out)
        self._glyphs = glyph_table()
        self._size = _sane(self._size_fn())
        self._status_n = _status_rows(self._size[1])
        borders = list(shards or ()) if show_shards else []
        self._canvas = Canvas(
            grid_w, grid_h, fade_fraction * period,
            cols=self._size[0], rows=self._size[1] - self._status_n,
            levels=len(LEVEL_COLOURS), borders=borders,
        )
        self._moves = _moves(self._canvas.geometry)
        self._shown_status: list[str | None] = [None] * self._status_n
        self._clear_pending = True

    @property
    def geometry(self) -> Geometry:
        """Where the grid is drawn (pixels from the top-left corner)."""
        return self._canvas.geometry

    @property
    def size(self) -> tuple[int, int]:
        """The terminal size (columns, rows) the last frame was laid out for."""
        return self._size

    def on_flashes(self, cell_ids: Iterable[int], t: float) -> None:
        """Cells (global ids y*W + x) that flashed at simulation time `t`."""
        self._canvas.flash(cell_ids, t)

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
        self._moves = _moves(self._canvas.geometry)
        self._shown_status = [None] * self._status_n
        self._clear_pending = True

    def render(self, now_t: float, status: StatusInfo) -> str:
        """The escape-sequence text that brings the screen to simulation time `now_t`."""
        size = _sane(self._size_fn())
        if size != self._size:
            self.resize(size)
        parts: list[str] = []
        if self._clear_pending:
            parts.append(RESET + CLEAR_SCREEN)
            self._clear_pending = False
        self._render_grid(now_t, parts)
        self._render_status(status, parts)
        return "".join(parts)

    def draw(self, now_t: float, status: StatusInfo) -> None:
        """`render` and write the result to `out` (nothing when nothing changed)."""
        text = self.render(now_t, status)
        if text:
            self._write(text)

    def _render_grid(self, now_t: float, parts: list[str]) -> None:
        """Append moves, colours and glyphs for the changed character cells."""
        changes = self._canvas.changes(now_t)
        if not changes:
            return
        width, glyphs, moves = self._canvas.geometry.pix_w, self._glyphs, self._moves
        cursor, colour = -1, None
        for c, key in changes:
            if c != cursor:
                parts.append(moves[c])
            sgr, char = glyphs[key]
            if sgr != colour:
                parts.append(sgr)
                colour = sgr
            parts.append(char)
            cursor = c + 1 if (c + 1) % width else -1  # no run across a row end
        parts.append(RESET)

    def _render_status(self, status: StatusInfo, parts: list[str]) -> None:
        """Append the status lines whose text changed (erased first, then written)."""
        if not self._status_n:
            return
        top = self._size[1] - self._status_n
        for i, line in enumerate(status_lines(status, self._size[0])[: self._status_n]):
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


def _moves(geo: Geometry) -> list[str]:
    """Cursor-move sequence to each character cell of the picture, by cell index."""
    return [move(row, col) for row in range(geo.char_rows) for col in range(geo.pix_w)]


def _sane(size: tuple[int, int]) -> tuple[int, int]:
    cols, rows = size
    return max(1, int(cols)), max(1, int(rows))


def _status_rows(rows: int) -> int:
    """Status lines that fit while leaving the picture at least one row."""
    return min(STATUS_LINES, rows - 1)
