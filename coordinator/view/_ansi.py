"""Escape sequences the live view writes (private).

What it is: the handful of ECMA-48 / xterm control sequences the view needs, as
constants and tiny builders, so no other module spells raw escapes.

What it is not: a terminal capability database. The view assumes a modern
xterm-compatible terminal (256 colours, alternate screen, UTF-8); it is only ever
used when the coordinator has decided stdout is such a terminal.
"""

from __future__ import annotations

import io
from typing import IO, Callable, cast

__all__ = [
    "ALT_SCREEN_OFF",
    "ALT_SCREEN_ON",
    "CLEAR_SCREEN",
    "CSI",
    "ERASE_LINE_END",
    "HIDE_CURSOR",
    "RESET",
    "REVERSE_OFF",
    "REVERSE_ON",
    "SHOW_CURSOR",
    "make_writer",
    "move",
]

CSI = "\x1b["
RESET = CSI + "0m"
REVERSE_ON = CSI + "7m"
REVERSE_OFF = CSI + "27m"
CLEAR_SCREEN = CSI + "2J"
ERASE_LINE_END = CSI + "K"
HIDE_CURSOR = CSI + "?25l"
SHOW_CURSOR = CSI + "?25h"
ALT_SCREEN_ON = CSI + "?1049h"
ALT_SCREEN_OFF = CSI + "?1049l"


def move(row: int, col: int) -> str:
    """Cursor to the 0-based screen position (row, col)."""
    return f"{CSI}{row + 1};{col + 1}H"


def make_writer(out: IO[str] | IO[bytes]) -> Callable[[str], None]:
    """A function that writes text to `out` as UTF-8 and flushes.

    Binary streams get encoded bytes. Text streams get text, unless their encoding
    cannot carry the view's block glyphs (LANG=C gives ASCII), in which case UTF-8
    bytes go to the stream's underlying `buffer` (the terminal itself is UTF-8).
    """
    if isinstance(out, (io.RawIOBase, io.BufferedIOBase)):
        return lambda text: _write_bytes(out, text)
    text_out = cast(IO[str], out)  # not a binary stream: a text one
    encoding = (getattr(out, "encoding", None) or "utf-8").lower().replace("_", "-")
    buffer = getattr(out, "buffer", None)
    if encoding not in ("utf-8", "utf8") and buffer is not None:
        return lambda text: _write_via_buffer(text_out, buffer, text)
    return lambda text: _write_text(text_out, text)


def _write_bytes(out: IO[bytes], text: str) -> None:
    out.write(text.encode("utf-8"))
    out.flush()


def _write_text(out: IO[str], text: str) -> None:
    out.write(text)
    out.flush()


def _write_via_buffer(out: IO[str], buffer: IO[bytes], text: str) -> None:
    out.flush()
    buffer.write(text.encode("utf-8"))
    buffer.flush()
