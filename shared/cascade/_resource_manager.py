"""ResourceManager: named amounts (``slot``, ``gpu``...) shared by concurrent calls.

Think of a car park with several kinds of bays: a call asks for some bays of each kind,
waits at the barrier until they are all free, and gives them back when it leaves. The
queue at the barrier is strictly first-come first-served, so a car needing many bays is
not overtaken forever by a stream of cars needing one.

An *elastic* manager is a car park whose size changes (a worker's share of the global
quota, see shared/quota/): there a request larger than the current capacity waits for
the capacity to grow instead of being an error.

A user that needs to see every acquisition and release (a trace, a ledger) passes an
*observer* at construction instead of subclassing; :meth:`ResourceManager.statistics`
counts the acquisitions that had to queue (``waited``).

It is not a rate limiter and knows nothing about processes: the cross-process quota is
built on top of it (a lease per worker).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Callable, Literal, Mapping

from ._errors import ResourceUnavailable

__all__ = ["ResourceManager", "ResourceObserver", "ResourceStatistics"]

#: Called with ``("acquire", amounts)`` once amounts are taken (after the wait, if any)
#: and ``("release", amounts)`` before they are given back. It must not raise or block.
ResourceObserver = Callable[[Literal["acquire", "release"], Mapping[str, int]], None]


@dataclass(frozen=True, slots=True)
class ResourceStatistics:
    """A snapshot: total capacity, amounts in use, how many calls wait now, and how
    many acquisitions so far had to queue (``waited``, cumulative)."""

    capacity: dict[str, int]
    in_use: dict[str, int]
    waiters: int
    waited: int = 0


class ResourceManager:
    """Async acquire/release of named integer amounts, FIFO-fair.

    ``elastic=False`` (the default): a request larger than the total capacity is a
    ``ValueError`` (it could never be granted). ``elastic=True``: the capacity is expected
    to change with :meth:`set_capacity`, so such a request waits (``acquire``) or raises
    :class:`ResourceUnavailable` (``acquire_nowait``) like any request that does not fit now.

    ``observer`` (optional, see :data:`ResourceObserver`) sees every acquisition and
    release; without one the only cost is a ``None`` check.
    """

    def __init__(self, capacity: Mapping[str, int], *, elastic: bool = False,
                 observer: ResourceObserver | None = None) -> None:
        self._elastic = bool(elastic)
        self._observer = observer
        self._waited = 0
        self._capacity: dict[str, int] = {}
        for name, amount in capacity.items():
            self._check_amount(name, amount)
            self._capacity[name] = amount
        self._in_use: dict[str, int] = {name: 0 for name in self._capacity}
        self._waiters: deque[tuple[Mapping[str, int], asyncio.Future[None]]] = deque()

    @staticmethod
    def _check_amount(name: str, amount: object) -> None:
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise ValueError(f"amount of {name!r} (={amount!r}) must be an int >= 0")

    def _validate(self, amounts: Mapping[str, int]) -> None:
        for name, amount in amounts.items():
            self._check_amount(name, amount)
            if name not in self._capacity:
                raise ValueError(
                    f"unknown resource {name!r}; this manager has {sorted(self._capacity)}"
                )
            if amount > self._capacity[name] and not self._elastic:
                raise ValueError(
                    f"request for {amount} of {name!r} exceeds its total capacity "
                    f"{self._capacity[name]}: it could never be granted"
                )

    def _fits(self, amounts: Mapping[str, int]) -> bool:
        in_use, capacity = self._in_use, self._capacity
        for name, amount in amounts.items():
            if in_use[name] + amount > capacity[name]:
                return False
        return True

    def _take(self, amounts: Mapping[str, int]) -> None:
        in_use = self._in_use
        for name, amount in amounts.items():
            in_use[name] += amount

    def acquire_nowait(self, amounts: Mapping[str, int]) -> None:
        """Take ``amounts`` now or raise :class:`ResourceUnavailable` (also when others
        are already queued: jumping the queue would break fairness)."""
        self._validate(amounts)
        if self._waiters or not self._fits(amounts):
            raise ResourceUnavailable(
                f"cannot take {dict(amounts)} now: in use {self._in_use}, "
                f"capacity {self._capacity}, {len(self._waiters)} waiting"
            )
        self._take(amounts)
        if self._observer is not None:
            self._observer("acquire", amounts)

    async def acquire(self, amounts: Mapping[str, int]) -> None:
        """Wait until ``amounts`` can be taken, in arrival order, then take them."""
        self._validate(amounts)
        if not self._waiters and self._fits(amounts):
            self._take(amounts)
            if self._observer is not None:
                self._observer("acquire", amounts)
            return
        self._waited += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (amounts, future)
        self._waiters.append(entry)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._give_back(amounts)  # granted just as we were cancelled (unobserved)
            else:
                try:
                    self._waiters.remove(entry)
                except ValueError:
                    pass  # already dropped by _wake(), which skips cancelled entries
                self._wake()  # our place at the head may have blocked others
            raise
        if self._observer is not None:
            self._observer("acquire", amounts)

    def release(self, amounts: Mapping[str, int]) -> None:
        """Give back amounts taken earlier; wakes waiters that now fit, in order.
        A bad release raises ``ValueError`` and changes (and reports) nothing."""
        in_use = self._in_use
        for name, amount in amounts.items():  # check all first: a bad release changes nothing
            self._check_amount(name, amount)
            if name not in in_use:
                raise ValueError(f"release of unknown resource {name!r}; this manager has "
                                 f"{sorted(self._capacity)}")
            if amount > in_use[name]:
                raise ValueError(f"release of {amount} {name!r} exceeds the {in_use[name]} in use")
        if self._observer is not None:
            self._observer("release", amounts)
        self._give_back(amounts)

    def _give_back(self, amounts: Mapping[str, int]) -> None:
        """Return checked amounts and wake whoever now fits."""
        in_use = self._in_use
        for name, amount in amounts.items():
            in_use[name] -= amount
        if self._waiters:
            self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        while waiters:
            amounts, future = waiters[0]
            if future.done():  # cancelled while queued
                waiters.popleft()
                continue
            if not self._fits(amounts):
                return  # strict FIFO: the head blocks everyone behind it
            waiters.popleft()
            self._take(amounts)
            future.set_result(None)

    def set_capacity(self, name: str, amount: int) -> None:
        """Change the capacity of ``name`` (adding it if new). Lowering it below what is
        in use is allowed: new grants wait until enough is released."""
        self._check_amount(name, amount)
        self._capacity[name] = amount
        self._in_use.setdefault(name, 0)
        if self._waiters:
            self._wake()

    @property
    def elastic(self) -> bool:
        """Whether requests above the current capacity wait instead of raising."""
        return self._elastic

    def capacity(self, name: str) -> int:
        return self._capacity[name]

    def in_use(self, name: str) -> int:
        return self._in_use[name]

    def waiting(self) -> int:
        return sum(1 for _, f in self._waiters if not f.done())

    def statistics(self) -> ResourceStatistics:
        return ResourceStatistics(dict(self._capacity), dict(self._in_use), self.waiting(),
                                  self._waited)
