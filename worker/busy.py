"""The event loop's busy fraction, measured by its selector: :class:`TimingSelector`.

An asyncio selector event loop spends its idle time in exactly one place: its
selector's ``select()`` (waiting for a socket or the next timer). The worker builds its
loop on a :class:`TimingSelector` (``asyncio.SelectorEventLoop(TimingSelector())``, in
``worker.main``), which adds up the time spent in ``select()``; busy = wall - idle.
Nothing is patched: the selector is handed to the loop at construction.

A loop built otherwise (uvloop, a test's default loop) has no TimingSelector and the
shard log reports ``process.loop_busy: null``. Not here: CPU %, RSS (``metrics``).
"""

from __future__ import annotations

import selectors
import time

__all__ = ["TimingSelector"]


class TimingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The platform's default selector, timing every ``select()``.

    ``idle`` is the total seconds spent inside ``select()`` so far (one
    ``perf_counter`` pair per loop turn, not per event)."""

    def __init__(self) -> None:
        super().__init__()
        self.idle = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        start = time.perf_counter()
        try:
            return super().select(timeout)
        finally:
            self.idle += time.perf_counter() - start
