"""The start barrier: no agent starts before every edge link has said hello.

:class:`Barrier` walks the registered workers through the steps of docs/protocol.md::

    hello (each) → config (ShardConfig, to each) → bound (each) → peers (to all)
    → links_ready (each) → start t0 (to all)

and returns t0, the monotonic time at which simulated time 0 begins. While it waits
(:meth:`Barrier.collect`) it keeps sending heartbeats (workers building big shards
must hear the coordinator) and fails with :class:`~coordinator.stop.SetupError` on a
stop request, a worker that quit (its ``bye`` goes to ``on_bye`` first) or died
(``check_exits``), or the set-up timeout.

Not here: spawning the workers (``launcher``) or checking who sent what
(``control``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, Callable

from shared import protocol
from shared.shard_config import ShardConfig

from .control import HEARTBEAT_S, ControlChannel
from .stop import SetupError, StopRequest

__all__ = ["Barrier", "START_DELAY_S"]

log = logging.getLogger(__name__)

START_DELAY_S = 0.1  # t0 is this far after the start message is sent


class Barrier:
    """Brings ``len(configs)`` registered workers to a common start."""

    def __init__(self, channel: ControlChannel, stop: StopRequest, *, setup_timeout: float,
                 check_exits: Callable[[], None], run_dir: Path,
                 on_bye: Callable[[int, str], None] | None = None,
                 hello_timeout: float | None = None) -> None:
        self._channel = channel
        self._stop = stop
        self._setup_timeout = setup_timeout
        # --listen: the hellos wait for workers to join (--join-timeout), maybe much longer
        self._hello_timeout = setup_timeout if hello_timeout is None else hello_timeout
        self._check_exits = check_exits
        self._run_dir = run_dir
        self._on_bye = on_bye
        self.inboxes: dict[int, str] = {}  # shard -> where its edge inbox is bound

    async def open(self, workers: int, config_for: Callable[[int], ShardConfig]) -> float:
        """Run every step for shards 0..workers-1; returns t0. ``config_for(k)`` is what
        shard k is told, asked once every shard said hello (a joined worker's inbox
        address is known by then)."""
        everyone = set(range(workers))
        await self.collect("hello", everyone, self._hello_timeout)
        for k in range(workers):
            self._channel.send(k, "config", config_for(k).to_wire())
        bound = await self.collect("bound", everyone)
        self.inboxes.update((shard, fields[1]) for shard, fields in bound.items())
        self._channel.broadcast("peers", [[shard, fields[1], self._channel.public_key(shard)]
                                          for shard, fields in sorted(bound.items())])
        await self.collect("links_ready", everyone)
        t0 = time.monotonic() + START_DELAY_S
        self._channel.broadcast("start", t0)
        log.info("barrier released: %d workers linked", workers)
        return t0

    async def collect(self, kind: str, shards: set[int],
                      timeout: float | None = None) -> dict[int, list[Any]]:
        """Wait until every shard in ``shards`` sent ``kind``; returns their fields.
        Fails on a dead worker, a ``bye``, a stop, or the set-up timeout (``timeout``
        seconds when given)."""
        if kind not in protocol.SCHEMAS:
            raise ValueError(f"{kind!r} is not a message kind of docs/protocol.md")
        got: dict[int, list[Any]] = {}
        timeout = self._setup_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        next_beat = 0.0
        events = self._channel.events
        while got.keys() < shards:
            if time.monotonic() >= next_beat:
                self._channel.broadcast("heartbeat", time.monotonic())
                next_beat = time.monotonic() + HEARTBEAT_S
            self._check_exits()
            if self._stop.is_set():
                raise SetupError(f"stopped ({self._stop.reason}) while waiting for {kind!r}")
            left = deadline - time.monotonic()
            if left <= 0:
                missing = sorted(shards - got.keys())
                raise SetupError(f"shards {missing} sent no {kind!r} within {timeout:.0f} s; "
                                 f"see {self._run_dir}/worker-N.log (a joined worker's log "
                                 f"is on its own host)")
            try:
                event = await asyncio.wait_for(events.get(), min(left, 0.2))
            except asyncio.TimeoutError:
                continue
            if event.kind == kind:
                got[event.shard] = event.fields
            elif event.kind == "bye":
                if self._on_bye is not None:
                    self._on_bye(event.shard, str(event.fields[1]))
                raise SetupError(f"shard {event.shard} quit during set-up: {event.fields[1]}")
        return got
