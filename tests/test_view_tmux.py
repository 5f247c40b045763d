"""The live view in a real terminal: a real ``sim-coordinator`` in a tmux session sized
120x45, captured with ``tmux capture-pane -p -e`` at random moments (a seeded RNG)
and read back through pyte. The grid must be visible in every capture (each of its
cells drawn, lit or dim) and fill at least 80 % of the width or of the height; keys
switch the view; ``q`` ends the run with exit 0. The tmux server runs on a private
socket and is killed in a ``finally``, with every process it started."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from coordinator.view.palette import PALETTES

from simrun import ROOT, wait_gone
from viewkit import Term

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

COLS, ROWS = 120, 45
PICTURE_ROWS = ROWS - 2  # the status bar takes two


class Tmux:
    """One tmux server on a private socket, one session running `command`."""

    def __init__(self, tmp: Path, command: str) -> None:
        self.socket = str(tmp / "tmux.sock")
        self.exit_file = tmp / "exit_code"
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "view", "-x", str(COLS),
                  "-y", str(ROWS), f"{command}; echo $? > {self.exit_file}")
        self.pane_pid = int(self.tmux("display-message", "-p", "-t", "view", "#{pane_pid}"))

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], check=True, capture_output=True,
                              text=True, timeout=30).stdout.strip()

    def capture(self) -> str:
        return subprocess.run(["tmux", "-S", self.socket, "capture-pane", "-p", "-e", "-N", "-t", "view"],
                              check=True, capture_output=True, text=True, timeout=30).stdout

    def state(self) -> str:
        """What the pane shows and which of its processes live, for a failure's message."""
        try:
            shown = self.capture()[-1500:]
        except subprocess.CalledProcessError:
            shown = "(the tmux session is gone)"
        try:
            tree = [f"{p.pid} {p.status()} {' '.join(p.cmdline()[:4])}"
                    for p in [psutil.Process(self.pane_pid),
                              *psutil.Process(self.pane_pid).children(recursive=True)]]
        except psutil.NoSuchProcess:
            tree = ["(the pane's process is gone)"]
        return "\n".join([shown, *tree])

    def exit_code(self) -> int | None:
        """The coordinator's exit code, once it exited (the shell writes it to a file:
        tmux's own pane_dead_status is sometimes left empty)."""
        try:
            return int(self.exit_file.read_text())
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        try:
            tree = [self.pane_pid, *(c.pid for c in psutil.Process(self.pane_pid).children(recursive=True))]
        except psutil.NoSuchProcess:
            tree = []
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=30)
        for pid in wait_gone(tree, timeout=10):
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass


def screen(text: str, depth: int) -> Term:
    term = Term(COLS, ROWS, depth)
    term.feed(text.rstrip("\n").replace("\n", "\r\n"))
    return term


def picture_box(term: Term) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) in screen pixels bounding every coloured pixel of the picture."""
    coloured = [(x, y) for y in range(2 * PICTURE_ROWS) for x in range(COLS)
                if term.pixel(x, y) is not None]
    if not coloured:
        return None
    xs, ys = [x for x, _ in coloured], [y for _, y in coloured]
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def wait_for(condition, what: str, timeout: float = 90.0, state=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{state()}")


def run_command(tmp: Path, term: str, *extra: str) -> str:
    """The coordinator in the repository, told its terminal is `term` (tmux would say
    tmux-256color whatever the session's environment)."""
    return " ".join([f"cd {ROOT} &&", "env", f"TERM={term}", "COLORTERM=", sys.executable,
                     "-m", "coordinator", "--workers", "2", "--grid", "30x30", "--period", "1",
                     "--init", "zero", "--duration", "0", "--log-dir", str(tmp / "runs"), *extra])


@pytest.mark.parametrize("term, depth", [("xterm-256color", 256), ("screen", 16)])
def test_the_grid_is_always_visible_and_fills_the_terminal(tmp_path: Path, term: str, depth: int) -> None:
    """A synchronised 30x30 run (--init zero: every agent in step): in 10 captures at
    random moments the whole grid is drawn and fills >= 80 % of the width or height."""
    palette = PALETTES[depth]
    tmux = Tmux(tmp_path, run_command(tmp_path, term))
    try:
        wait_for(lambda: "q quit" in tmux.capture(), "the live view's status bar")
        rng = random.Random(16)
        moments = sorted(rng.uniform(0.0, 4.0) for _ in range(10))  # over four periods
        start = time.monotonic()
        captures = []
        for moment in moments:
            time.sleep(max(0.0, start + moment - time.monotonic()))
            captures.append(tmux.capture())
        colours_seen: set[int] = set()
        for text in captures:
            shown = screen(text, depth)
            box = picture_box(shown)
            assert box is not None, "no grid in this capture:\n" + text
            x0, y0, x1, y1 = box
            assert (x0, y0) == (0, 0)
            width, height = x1 - x0, (y1 - y0 + 1) // 2  # characters
            assert width >= 0.8 * COLS or height >= 0.8 * ROWS, (width, height)
            pixels = [shown.pixel(x, y) for y in range(y0, y1) for x in range(x0, x1)]
            assert None not in pixels  # every cell of the grid drawn, lit or not
            assert set(pixels) <= {palette.unlit, *palette.levels}
            colours_seen.update(pixels)
        assert palette.unlit in colours_seen
        tmux.tmux("send-keys", "-t", "view", "q")
        wait_for(lambda: tmux.exit_code() is not None, "the coordinator to exit", state=tmux.state)
        assert tmux.exit_code() == 0
    finally:
        tmux.close()


def test_p_shows_the_phase_view_in_a_real_run(tmp_path: Path) -> None:
    """Workers sample phases for the view; 'p' shows them on the hue wheel."""
    palette = PALETTES[256]
    tmux = Tmux(tmp_path, run_command(tmp_path, "xterm-256color", "--init", "random"))
    try:
        wait_for(lambda: "q quit" in tmux.capture(), "the live view's status bar")
        tmux.tmux("send-keys", "-t", "view", "p")
        wait_for(lambda: "p flashes" in tmux.capture(), "the phase view")

        def hues_shown() -> set[int]:
            shown = screen(tmux.capture(), 256)
            pixels = {shown.pixel(x, y) for y in range(2 * PICTURE_ROWS) for x in range(86)}
            return pixels & set(palette.hues)

        def most_of_the_wheel() -> set[int] | None:
            hues = hues_shown()
            return hues if len(hues) >= 8 else None

        # random initial phases: most of the wheel shows once the samples arrived
        assert len(wait_for(most_of_the_wheel, "phase colours")) >= 8
        tmux.tmux("send-keys", "-t", "view", "q")
        wait_for(lambda: tmux.exit_code() is not None, "the coordinator to exit", state=tmux.state)
        assert tmux.exit_code() == 0
    finally:
        tmux.close()
