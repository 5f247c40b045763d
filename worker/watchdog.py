"""A worker never outlives its run: :func:`watch` stops it when its parent process is
gone or the coordinator has been silent for the heartbeat timeout. Not here: the
first check, before anything is imported (``shared.lifeline``).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Callable

__all__ = ["watch"]

TICK_S = 0.25


async def watch(stop: asyncio.Event, request_stop: Callable[[str], None], *, parent: int,
                last_heard: Callable[[], float], timeout: Callable[[], float | None],
                drain: Callable[[], None]) -> None:
    """Until ``stop``: ``request_stop`` when our parent is no longer ``parent`` or
    nothing was heard (``last_heard``, monotonic) for ``timeout()`` seconds (None: no
    config yet, so no timeout). ``drain`` reads the control socket first: a loop busy
    building a large shard may have heartbeats queued."""
    while not stop.is_set():
        await asyncio.sleep(TICK_S)
        if os.getppid() != parent:
            request_stop("parent process gone")
            continue
        limit = timeout()
        if limit is None or time.monotonic() - last_heard() <= limit:
            continue
        drain()
        if time.monotonic() - last_heard() > limit:
            request_stop(f"no word from the coordinator for {limit} s")
