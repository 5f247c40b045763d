"""The clocks' queue of alarms: :class:`AlarmQueue`, a calendar (bucket) queue.

An entry is ``(due, key, version)``; only a key's newest version counts, so moving an
alarm is a push of a new entry and the old one goes *stale*. A nudge moves an alarm,
so a shard pushes about eight entries per flash, and most of them go stale before
they are due.

A binary heap pays ``log n`` tuple comparisons per push and per pop, stale or not.
The calendar queue splits time into buckets of ``width`` seconds: a push into a future
bucket is a ``list.append``; when the earliest bucket comes up, its stale entries are
dropped in one pass and only the live rest is heapified. Entries pushed into the
bucket being served go into its heap. The order entries come out in is the heap's,
``(due, key, version)``, so a clock built on it behaves exactly as on a heap
(docs/performance.md has the measurements).

Staleness is read from the owner's lists, passed in: an entry is live while
``version[key] == entry_version`` and ``waiting[key] is not None``. Not here: what an
alarm is, or ringing it (``shared.clock``).
"""

from __future__ import annotations

import heapq
from typing import Any, Iterator

__all__ = ["AlarmQueue", "Entry"]

#: ``(due, key, version)``
Entry = tuple[float, int, int]


class AlarmQueue:
    """Alarms in ``(due, key, version)`` order, stale ones skipped (see module doc)."""

    def __init__(self, version: list[int], waiting: list[Any], *, width: float = 1e-3) -> None:
        if not width > 0:
            raise ValueError(f"width(={width!r}) must be > 0 seconds")
        self._version = version
        self._waiting = waiting
        self._per_second = 1.0 / width
        self._buckets: dict[int, list[Entry]] = {}  # bucket index -> entries, unsorted
        self._order: list[int] = []  # heap of the indices in _buckets
        self._current: list[Entry] = []  # heap: the bucket being served
        self._served = -(1 << 62)  # its index; lower indices go into _current too
        self.held = 0  # entries held, stale ones included

    def push(self, due: float, key: int, version: int) -> None:
        """Add an entry (``due`` finite)."""
        self.held += 1
        b = int(due * self._per_second)
        if due < 0:
            b -= 1  # int() rounds towards zero; a bucket index is a floor
        if b <= self._served:
            heapq.heappush(self._current, (due, key, version))
            return
        bucket = self._buckets.get(b)
        if bucket is None:
            self._buckets[b] = [(due, key, version)]
            heapq.heappush(self._order, b)
        else:
            bucket.append((due, key, version))

    def first(self) -> Entry | None:
        """The earliest live entry (left in place), or None; drops stale ones met."""
        current, version, waiting = self._current, self._version, self._waiting
        while True:
            while current:
                entry = current[0]
                key = entry[1]
                if entry[2] == version[key] and waiting[key] is not None:
                    return entry
                heapq.heappop(current)
                self.held -= 1
            if not self._order:
                return None
            self._serve_next()
            current = self._current

    def pop(self) -> Entry:
        """Remove and return the entry :meth:`first` returned."""
        self.held -= 1
        return heapq.heappop(self._current)

    def _serve_next(self) -> None:
        b = heapq.heappop(self._order)
        version, waiting = self._version, self._waiting
        bucket = self._buckets.pop(b)
        live = [e for e in bucket if e[2] == version[e[1]] and waiting[e[1]] is not None]
        self.held -= len(bucket) - len(live)
        heapq.heapify(live)
        self._current = live
        self._served = b

    def compact(self) -> None:
        """Drop every stale entry now (O(entries held))."""
        version, waiting = self._version, self._waiting
        for bucket in self._buckets.values():
            bucket[:] = [e for e in bucket if e[2] == version[e[1]] and waiting[e[1]] is not None]
        self._current = [e for e in self._current
                         if e[2] == version[e[1]] and waiting[e[1]] is not None]
        heapq.heapify(self._current)
        self.held = len(self._current) + sum(len(b) for b in self._buckets.values())

    def entries(self) -> Iterator[Entry]:
        """Every entry held, live or stale, in no order."""
        yield from self._current
        for bucket in self._buckets.values():
            yield from bucket

    def clear(self) -> None:
        self._buckets.clear()
        self._order.clear()
        self._current = []
        self.held = 0
