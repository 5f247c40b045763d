"""A worker never outlives its coordinator, from its very first instruction.

:func:`die_with_parent` asks the kernel (Linux ``prctl(PR_SET_PDEATHSIG)``) to send
SIGTERM when the parent process dies, then checks that the parent is still the
coordinator that started us: the coordinator puts its pid in the environment
(:data:`PARENT_PID_ENV`), and if our parent is already someone else (we were
reparented because the coordinator died before the ``prctl``), we exit at once.

Standard library only: ``worker/__main__.py`` and ``worker/main.py`` call it before
importing ZeroMQ or numpy. Not here: the running worker's watchdog (heartbeats, parent
pid: ``worker.runner``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["PARENT_PID_ENV", "die_with_parent"]

PARENT_PID_ENV = "CASCADE_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Set the parent-death signal; exit 1 now if the expected parent is gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
                sys.stderr.write(f"sim-worker: prctl(PR_SET_PDEATHSIG) failed: "
                                 f"{os.strerror(ctypes.get_errno())}\n")
        except (OSError, AttributeError):
            pass  # no prctl: the worker's watchdog (parent pid, heartbeats) still applies
    expected = os.environ.get(PARENT_PID_ENV)
    if not expected:
        return  # started by hand
    if not expected.isdigit():
        raise SystemExit(f"sim-worker: {PARENT_PID_ENV}={expected!r} is not a pid; "
                         f"unset it to run a worker by hand")
    parent = os.getppid()
    if parent != int(expected):
        raise SystemExit(f"sim-worker: the coordinator (pid {expected}) is already gone "
                         f"(parent is now pid {parent}); exiting")
