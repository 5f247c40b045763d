"""The event loops a worker can run on (``sim-coordinator --loop``).

* ``asyncio``: the standard library's selector loop, on the worker's timing selector
  (its shard log's ``process.loop_busy``; worker/busy.py). The default.
* ``uvloop``: libuv's loop, from the optional ``speed`` extra
  (``pip install '.[speed]'``); no timing selector, so ``loop_busy`` is null.

The measured difference is in docs/performance.md. Not here: choosing the loop at
run time (the worker's ``main``) or checking the option (the coordinator's config).
"""

from __future__ import annotations

import importlib.util

__all__ = ["LOOPS", "DEFAULT_LOOP", "missing"]

LOOPS = ("asyncio", "uvloop")
DEFAULT_LOOP = "asyncio"


def missing(loop: str) -> str | None:
    """Why ``loop`` cannot run here (one line naming the fix), or None when it can."""
    if loop not in LOOPS:
        return f"--loop {loop!r}: must be one of {', '.join(LOOPS)}"
    if loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        return "--loop uvloop: uvloop is not installed; install the speed extra: pip install '.[speed]'"
    return None
