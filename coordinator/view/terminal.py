"""The terminal the live view draws on: screen mode, size and keys.

`TerminalSession` is a context manager that switches to the alternate screen, hides
the cursor and puts the tty in cbreak mode without echo (keys arrive one by one and
are not printed; Ctrl-C still raises SIGINT). On every way out — normal exit, an
exception, or interpreter exit through `atexit` if the context was never left — it
shows the cursor, leaves the alternate screen and restores the exact termios
attributes saved on entry.

`read_keys` reads whatever bytes are waiting on a tty without blocking and without
touching O_NONBLOCK (stdin and stdout often share one open file, so flipping it
would make the view's own writes fail with EAGAIN). It is meant for
``loop.add_reader(fd, callback)`` in the coordinator's asyncio loop.

What it is not: a curses replacement or a signal handler. Resizes are noticed by the
view polling `terminal_size` each frame (one ioctl); SIGTERM and SIGTSTP are the
coordinator's business (it must leave the session before the process dies).
"""

from __future__ import annotations

import atexit
import errno
import os
import select
import sys
import termios
import tty
from types import TracebackType
from typing import IO, Any, Callable

from coordinator.view._ansi import (
    ALT_SCREEN_OFF,
    ALT_SCREEN_ON,
    CLEAR_SCREEN,
    HIDE_CURSOR,
    RESET,
    SHOW_CURSOR,
    make_writer,
)

__all__ = ["DEFAULT_SIZE", "TerminalSession", "read_keys", "terminal_size"]

DEFAULT_SIZE = (80, 24)
"""(columns, rows) assumed when the size of a terminal cannot be read."""


class TerminalSession:
    """Alternate screen + hidden cursor on `out`, cbreak/no-echo on tty `fd`; see module doc.

    `fd` defaults to stdin and `out` to stdout. If `fd` is not a tty, only the screen
    part happens (`keys_fd` is then None).
    """

    def __init__(self, fd: int | None = None, out: IO[str] | IO[bytes] | None = None) -> None:
        self.fd = sys.stdin.fileno() if fd is None else fd
        self._write = make_writer(sys.stdout if out is None else out)
        self._saved: list[Any] | None = None
        self._owner_pid: int | None = None

    @property
    def active(self) -> bool:
        """True between `enter` and `leave`."""
        return self._owner_pid is not None

    @property
    def keys_fd(self) -> int | None:
        """The fd to watch for keys (a tty in cbreak mode), or None when there is none."""
        return self.fd if self._saved is not None else None

    def __enter__(self) -> TerminalSession:
        self.enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.leave()

    def enter(self) -> None:
        """Save the tty's attributes, then switch modes. Raises RuntimeError if active."""
        if self.active:
            raise RuntimeError("terminal session already entered")
        self._owner_pid = os.getpid()
        atexit.register(self._leave_at_exit)
        try:
            if os.isatty(self.fd):
                self._saved = termios.tcgetattr(self.fd)
                tty.setcbreak(self.fd, termios.TCSADRAIN)
                _clear_echo(self.fd)
            self._write(ALT_SCREEN_ON + HIDE_CURSOR + RESET + CLEAR_SCREEN)
        except BaseException:
            self.leave()
            raise

    def leave(self) -> None:
        """Restore screen, cursor and the saved attributes; does nothing if not active.

        A terminal that has hung up (EIO/ENXIO) is not an error here: there is nothing
        left to restore. Any other failure propagates.
        """
        if not self.active:
            return
        self._owner_pid = None
        atexit.unregister(self._leave_at_exit)
        saved, self._saved = self._saved, None
        try:
            _unless_hung_up(self._write, RESET + SHOW_CURSOR + ALT_SCREEN_OFF)
        finally:
            if saved is not None:
                _unless_hung_up(termios.tcsetattr, self.fd, termios.TCSADRAIN, saved)

    def _leave_at_exit(self) -> None:
        """atexit fallback; a forked child must not restore its parent's terminal."""
        if self._owner_pid == os.getpid():
            self.leave()


def _unless_hung_up(fn: Callable[..., object], *args: Any) -> None:
    """Call `fn`; a terminal that has gone away (EIO, ENXIO) has nothing to restore."""
    try:
        fn(*args)
    except (OSError, termios.error) as err:
        if err.args[0] not in (errno.EIO, errno.ENXIO):
            raise


def _clear_echo(fd: int) -> None:
    """Make sure echo is off (tty.setcbreak clears ECHO, but not on every Python)."""
    attrs = termios.tcgetattr(fd)
    if attrs[3] & termios.ECHO:
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSADRAIN, attrs)


def terminal_size(fd: int, fallback: tuple[int, int] = DEFAULT_SIZE) -> tuple[int, int]:
    """(columns, rows) of the terminal on `fd`, or `fallback` when it has none."""
    try:
        size = os.get_terminal_size(fd)
    except (OSError, ValueError):
        return fallback
    if size.columns <= 0 or size.lines <= 0:
        return fallback
    return size.columns, size.lines


def read_keys(fd: int, chunk: int = 1024) -> str:
    """All bytes waiting on `fd` as text ("" when none); never blocks.

    Raises EOFError when the terminal is gone (end of file, or EIO from a pty whose
    other side closed) and nothing was read, so an asyncio reader can be removed
    instead of firing forever.
    """
    data = bytearray()
    while _readable(fd):
        piece = _read(fd, chunk)
        if piece is None:  # someone else drained it between select and read
            break
        if not piece:
            if not data:
                raise EOFError(f"terminal on fd {fd} closed")
            break
        data += piece
        if len(piece) < chunk:
            break
    return data.decode("utf-8", "replace")


def _readable(fd: int) -> bool:
    ready, _, _ = select.select([fd], [], [], 0)
    return bool(ready)


def _read(fd: int, chunk: int) -> bytes | None:
    """Up to `chunk` bytes; b"" at end of file (or EIO); None if nothing after all."""
    try:
        return os.read(fd, chunk)
    except BlockingIOError:
        return None
    except OSError as err:
        if err.errno == errno.EIO:
            return b""
        raise
