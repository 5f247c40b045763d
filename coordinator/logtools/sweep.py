"""What the benchmark sweeps (scripts/bench_scaling.py, scripts/bench_scale.py) share:
the square grid of an agent count, the headless simulator command line of one run,
running that command and finding its run directory, and a parser for "1,2,4" lists.

Not here: what a sweep measures or prints (each script decides), reading runs
(:mod:`shared.runlog`).
"""

from __future__ import annotations

import argparse
import math
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence, TextIO

__all__ = ["RUN_DIR_PREFIX", "positive_ints", "grid_side", "sim_command", "run_one"]

RUN_DIR_PREFIX = "run directory: "  # sim-coordinator prints this line once it has one


def positive_ints(text: str) -> list[int]:
    """argparse type: "1,2,4" -> [1, 2, 4]; every count >= 1."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of integers (e.g. 1,2,4)") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} must list integers >= 1")
    return values


def grid_side(agents: int) -> int:
    """Side of the square grid closest to ``agents`` cells."""
    return max(1, round(math.sqrt(agents)))


def sim_command(sim: Sequence[str], *, agents: int, workers: int, duration: float,
                period: float, seed: int, log_dir: Path, extra: Sequence[str] = ()) -> list[str]:
    """The headless simulator command line of one run on a square grid."""
    return [*sim, "--headless", "--workers", str(workers), "--grid", str(grid_side(agents)),
            "--duration", f"{duration:g}", "--period", f"{period:g}", "--seed", str(seed),
            "--log-dir", str(log_dir), *extra]


def _resolve(command: list[str]) -> list[str]:
    """Find a bare program name on PATH, else next to this Python (an unactivated venv)."""
    program = command[0]
    if "/" in program or shutil.which(program):
        return command
    beside = Path(sys.executable).parent / program
    return [str(beside), *command[1:]] if beside.is_file() else command


def run_one(command: list[str], echo: TextIO) -> tuple[Path | None, str]:
    """Run one simulation, copying the command and its output to ``echo``;
    (its run directory or None, a problem or "")."""
    echo.write(f"$ {shlex.join(command)}\n")
    echo.flush()
    command = _resolve(command)
    run_dir = None
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None
            try:
                for line in proc.stdout:
                    echo.write(line)
                    if line.startswith(RUN_DIR_PREFIX):
                        run_dir = Path(line[len(RUN_DIR_PREFIX):].strip())
                code = proc.wait()
            except KeyboardInterrupt:  # the simulator got the Ctrl-C too: let it finish
                proc.wait()
                raise
    except OSError as exc:
        return None, f"cannot start {command[0]}: {exc.strerror}"
    if code != 0:
        return run_dir, f"exit status {code}"
    if run_dir is None:
        return None, f"no '{RUN_DIR_PREFIX.strip()}' line in its output"
    return run_dir, ""
