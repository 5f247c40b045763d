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

A resource the manager does not define is unlimited (the original Cascade's rule): a
request for it is granted at once and counted nowhere, with one warning per name in the
log, so a misspelt name is visible. Amounts may be ints or floats. ``release`` takes
effect at once and may also be awaited (the original's ``await rm.release(...)``).

It is not a rate limiter and knows nothing about processes: the cross-process quota is
built on top of it (a lease per worker).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Generator, Literal, Mapping

from ._errors import ResourceUnavailable

__all__ = ["ResourceManager", "ResourceObserver", "ResourceStatistics", "is_amount"]

log = logging.getLogger(__name__)

Amounts = Mapping[str, float]

#: Called with ``("acquire", amounts)`` once amounts are taken (after the wait, if any)
#: and ``("release", amounts)`` before they are given back (managed resources only).
#: It must not raise or block.
ResourceObserver = Callable[[Literal["acquire", "release"], Amounts], None]


def is_amount(value: object) -> bool:
    """An amount of a resource: an int or float, finite and >= 0 (not a bool)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and value >= 0 and math.isfinite(value))


class _Done:
    """What ``release`` returns: awaiting it does nothing (the release is done)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())


_DONE = _Done()


@dataclass(frozen=True, slots=True)
class ResourceStatistics:
    """A snapshot: total capacity, amounts in use, how many calls wait now, and how
    many acquisitions so far had to queue (``waited``, cumulative)."""

    capacity: dict[str, float]
    in_use: dict[str, float]
    waiters: int
    waited: int = 0


class ResourceManager:
    """Async acquire/release of named amounts, FIFO-fair.

    ``elastic=False`` (the default): a request larger than the total capacity is a
    ``ValueError`` (it could never be granted). ``elastic=True``: the capacity is expected
    to change with :meth:`set_capacity`, so such a request waits (``acquire``) or raises
    :class:`ResourceUnavailable` (``acquire_nowait``) like any request that does not fit now.

    ``observer`` (optional, see :data:`ResourceObserver`) sees every acquisition and
    release; without one the only cost is a ``None`` check.
    """

    def __init__(self, capacity: Amounts | None = None, *, elastic: bool = False,
                 observer: ResourceObserver | None = None) -> None:
        self._elastic = bool(elastic)
        self._observer = observer
        self._waited = 0
        self._capacity: dict[str, float] = {}
        for name, amount in (capacity or {}).items():
            self._check_amount(name, amount)
            self._capacity[name] = amount
        self._in_use: dict[str, float] = {name: 0 for name in self._capacity}
        self._waiters: deque[tuple[Amounts, asyncio.Future[None]]] = deque()
        self._unmanaged: set[str] = set()  # names warned about once

    @staticmethod
    def _check_amount(name: str, amount: object) -> None:
        if not is_amount(amount):
            raise ValueError(f"amount of {name!r} (={amount!r}) must be a finite number >= 0")

    def _validate(self, amounts: Amounts) -> Amounts:
        """Check ``amounts``; return those of managed resources (``amounts`` itself
        when all are managed, the common case)."""
        unmanaged = False
        for name, amount in amounts.items():
            self._check_amount(name, amount)
            capacity = self._capacity.get(name)
            if capacity is None:
                unmanaged = True
            elif amount > capacity and not self._elastic:
                raise ValueError(
                    f"request for {amount} of {name!r} exceeds its total capacity "
                    f"{capacity}: it could never be granted"
                )
        if not unmanaged:
            return amounts
        for name in amounts.keys() - self._capacity.keys() - self._unmanaged:
            self._unmanaged.add(name)
            log.warning("resource %r is not defined by this ResourceManager (it has %s): "
                        "treated as unlimited", name, sorted(self._capacity))
        return {name: amount for name, amount in amounts.items() if name in self._capacity}

    # Amounts here are of managed names; one may have become unmanaged since it was
    # queued (set_capacity with a mapping): it is then unlimited and counted nowhere.
    def _fits(self, amounts: Amounts) -> bool:
        in_use, capacity = self._in_use, self._capacity
        for name, amount in amounts.items():
            if name in capacity and in_use[name] + amount > capacity[name]:
                return False
        return True

    def _take(self, amounts: Amounts) -> None:
        in_use = self._in_use
        for name, amount in amounts.items():
            if name in in_use:
                in_use[name] += amount

    def acquire_nowait(self, amounts: Amounts) -> None:
        """Take ``amounts`` now or raise :class:`ResourceUnavailable` (also when others
        are already queued: jumping the queue would break fairness)."""
        amounts = self._validate(amounts)
        if self._waiters or not self._fits(amounts):
            raise ResourceUnavailable(
                f"cannot take {dict(amounts)} now: in use {self._in_use}, "
                f"capacity {self._capacity}, {len(self._waiters)} waiting"
            )
        self._take(amounts)
        if self._observer is not None:
            self._observer("acquire", amounts)

    async def acquire(self, amounts: Amounts) -> None:
        """Wait until ``amounts`` can be taken, in arrival order, then take them."""
        amounts = self._validate(amounts)
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

    def release(self, amounts: Amounts) -> _Done:
        """Give back amounts taken earlier; wakes waiters that now fit, in order.
        Unmanaged names are ignored. A bad release raises ``ValueError`` and changes
        (and reports) nothing. Done on return; the result may be awaited."""
        in_use = self._in_use
        unmanaged = False
        for name, amount in amounts.items():  # check all first: a bad release changes nothing
            self._check_amount(name, amount)
            held = in_use.get(name)
            if held is None:
                unmanaged = True
            elif amount > held:
                raise ValueError(f"release of {amount} {name!r} exceeds the {held} in use")
        if unmanaged:
            amounts = {name: amount for name, amount in amounts.items() if name in in_use}
        if self._observer is not None:
            self._observer("release", amounts)
        self._give_back(amounts)
        return _DONE

    def _give_back(self, amounts: Amounts) -> None:
        """Return checked amounts and wake whoever now fits."""
        in_use = self._in_use
        for name, amount in amounts.items():
            if name in in_use:
                left = in_use[name] - amount
                in_use[name] = left if left > 0 else 0  # no float drift below 0
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

    def set_capacity(self, name: str | Amounts, amount: float | None = None) -> None:
        """``set_capacity(name, amount)``: change the capacity of ``name`` (adding it if
        new). ``set_capacity({name: amount, ...})`` (the original's form): the whole
        capacity becomes that mapping; names left out become unmanaged (unlimited).
        Lowering a capacity below what is in use is allowed: new grants wait until
        enough is released."""
        if isinstance(name, Mapping):
            if amount is not None:
                raise TypeError("set_capacity(mapping) takes no amount; give the amounts "
                                "in the mapping")
            for key, value in name.items():
                self._check_amount(key, value)
            for gone in self._capacity.keys() - name.keys():
                del self._capacity[gone], self._in_use[gone]
            for key, value in name.items():
                self._capacity[key] = value
                self._in_use.setdefault(key, 0)
        else:
            self._check_amount(name, amount)
            self._capacity[name] = amount  # type: ignore[assignment]
            self._in_use.setdefault(name, 0)
        if self._waiters:
            self._wake()

    @property
    def elastic(self) -> bool:
        """Whether requests above the current capacity wait instead of raising."""
        return self._elastic

    def capacity(self, name: str) -> float:
        return self._capacity[name]

    def in_use(self, name: str) -> float:
        return self._in_use[name]

    def waiting(self) -> int:
        return sum(1 for _, f in self._waiters if not f.done())

    def statistics(self) -> ResourceStatistics:
        return ResourceStatistics(dict(self._capacity), dict(self._in_use), self.waiting(),
                                  self._waited)
