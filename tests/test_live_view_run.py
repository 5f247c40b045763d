"""The live view on a real run: under a pseudo-terminal the coordinator draws, quits
on 'q' with exit 0, restores the terminal and leaves no worker; piped, it writes no
escape sequences at all."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import termios
import time

import psutil
import pytest

from simrun import ROOT, wait_gone

pytestmark = pytest.mark.e2e  # real coordinator and worker processes


def _read_for(fd: int, seconds: float) -> bytes:
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


def test_q_quits_cleanly_and_restores_the_terminal(tmp_path):
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen([sys.executable, "-m", "coordinator", "--workers", "2", "--grid", "40",
                             "--period", "1", "--duration", "0", "--log-dir", str(tmp_path)],
                            cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    try:
        screen = _read_for(master, 6.0)
        workers = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        assert len(workers) == 2
        assert b"\x1b[?1049h" in screen  # the alternate screen: the view is drawing
        assert "R ".encode() in screen or b"R=" in screen or b"R " in screen
        os.write(master, b"q")
        screen += _read_for(master, 3.0)
        assert proc.wait(30) == 0
        assert b"\x1b[?1049l" in screen  # left the alternate screen
        assert termios.tcgetattr(slave) == before
        assert wait_gone(workers, timeout=5) == []
        assert b"summary:" in screen  # the summary is printed after the view is gone
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for child in psutil.Process().children(recursive=True):
            child.kill()
        os.close(master)
        os.close(slave)


def test_piped_output_has_no_escape_sequences(tmp_path):
    # No --headless: the view is asked for, but stdout is a pipe.
    result = subprocess.run([sys.executable, "-m", "coordinator", "--workers", "2", "--grid", "20",
                             "--period", "1", "--duration", "2.5", "--log-dir", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\x1b" not in result.stdout and "\x1b" not in result.stderr
    assert any(line.startswith("t=") for line in result.stdout.splitlines())
