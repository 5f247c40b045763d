"""Tests of coordinator.view.terminal on a real pseudo-terminal (os.openpty)."""

from __future__ import annotations

import fcntl
import io
import os
import struct
import termios
from collections.abc import Callable, Iterator

import pytest

from coordinator.view import terminal as term_mod
from coordinator.view._ansi import ALT_SCREEN_OFF, ALT_SCREEN_ON, HIDE_CURSOR, SHOW_CURSOR
from coordinator.view.terminal import TerminalSession, read_keys, terminal_size


@pytest.fixture
def pty() -> Iterator[tuple[int, int]]:
    """(master, slave) fds of a fresh pty; both closed afterwards."""
    master, slave = os.openpty()
    yield master, slave
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def lflag(fd: int) -> int:
    return termios.tcgetattr(fd)[3]


def test_enter_sets_cbreak_no_echo_and_leave_restores_exactly(pty: tuple[int, int]) -> None:
    _, slave = pty
    before = termios.tcgetattr(slave)
    assert lflag(slave) & termios.ECHO and lflag(slave) & termios.ICANON
    out = io.StringIO()
    with TerminalSession(slave, out) as session:
        assert session.active and session.keys_fd == slave
        assert not lflag(slave) & (termios.ECHO | termios.ICANON)
        assert lflag(slave) & termios.ISIG  # Ctrl-C still interrupts
        assert out.getvalue().startswith(ALT_SCREEN_ON + HIDE_CURSOR)
    assert termios.tcgetattr(slave) == before
    assert not session.active
    assert out.getvalue().endswith(SHOW_CURSOR + ALT_SCREEN_OFF)


def test_restores_when_an_exception_escapes(pty: tuple[int, int]) -> None:
    _, slave = pty
    before = termios.tcgetattr(slave)
    out = io.BytesIO()
    with pytest.raises(KeyError, match="boom"):
        with TerminalSession(slave, out):
            raise KeyError("boom")
    assert termios.tcgetattr(slave) == before
    assert out.getvalue().endswith((SHOW_CURSOR + ALT_SCREEN_OFF).encode())


def test_atexit_fallback_restores_and_leave_unregisters(
    pty: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, slave = pty
    registered: list[Callable[[], None]] = []
    monkeypatch.setattr(term_mod.atexit, "register", registered.append)
    monkeypatch.setattr(term_mod.atexit, "unregister", registered.remove)
    before = termios.tcgetattr(slave)
    session = TerminalSession(slave, io.StringIO())
    session.enter()
    assert len(registered) == 1 and termios.tcgetattr(slave) != before
    registered[0]()  # what the interpreter would run at exit
    assert termios.tcgetattr(slave) == before
    assert registered == [] and not session.active
    session.leave()  # a second leave is harmless


def test_enter_twice_is_an_error(pty: tuple[int, int]) -> None:
    _, slave = pty
    with TerminalSession(slave, io.StringIO()) as session:
        with pytest.raises(RuntimeError, match="already entered"):
            session.enter()


def test_not_a_tty_only_switches_the_screen() -> None:
    r, w = os.pipe()
    try:
        out = io.StringIO()
        with TerminalSession(r, out) as session:
            assert session.keys_fd is None
        assert ALT_SCREEN_ON in out.getvalue() and ALT_SCREEN_OFF in out.getvalue()
    finally:
        os.close(r)
        os.close(w)


def test_read_keys_never_blocks_and_returns_what_is_waiting(pty: tuple[int, int]) -> None:
    master, slave = pty
    with TerminalSession(slave, io.StringIO()):
        assert read_keys(slave) == ""
        os.write(master, "q\x1b[Aé".encode())
        assert read_keys(slave) == "q\x1b[Aé"
        assert read_keys(slave) == ""
        os.write(master, b"x" * 3000)  # more than one read's chunk
        assert read_keys(slave, chunk=1024) == "x" * 3000


def test_read_keys_raises_eof_when_the_terminal_goes_away(pty: tuple[int, int]) -> None:
    master, slave = pty
    with TerminalSession(slave, io.StringIO()):
        os.close(master)
        with pytest.raises(EOFError):
            read_keys(slave)


def test_terminal_size_of_a_pty_and_fallback(pty: tuple[int, int]) -> None:
    _, slave = pty
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    assert terminal_size(slave) == (101, 33)
    r, w = os.pipe()
    try:
        assert terminal_size(r) == (80, 24)
        assert terminal_size(r, fallback=(10, 5)) == (10, 5)
    finally:
        os.close(r)
        os.close(w)
