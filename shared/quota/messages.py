"""The quota's vocabulary: the resource name of a slot and the three lease messages.

:class:`Request`, :class:`Grant` and :class:`Return` are frozen records whose
:meth:`wire` fields match ``shared.protocol.SCHEMAS`` (``quota_request``,
``quota_grant``, ``quota_return``); ``from_wire`` checks ranges after
``protocol.decode`` has checked types. Not here: what either side does with them
(``broker``, ``client``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ..protocol import ProtocolError

__all__ = ["RESOURCE", "Request", "Grant", "Return"]

#: The resource name of one slot of the quota, in every ResourceManager and constraint.
RESOURCE = "cpu_slot"


class _Message:
    """Shared wire helpers: ``wire()`` for ``protocol.encode``, ``from_wire`` after
    ``protocol.decode`` (which has checked the types; this checks the ranges)."""

    __slots__ = ()
    KIND: ClassVar[str]

    def wire(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))  # type: ignore[arg-type]

    @classmethod
    def from_wire(cls, values: Sequence[Any]) -> Any:
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        if len(values) != len(names):
            raise ProtocolError(f"{cls.KIND} has {len(values)} fields, expected {len(names)}")
        for name, value in zip(names, values, strict=True):
            _check_field(cls.KIND, name, value)
        return cls(*values)


def _check_field(kind: str, name: str, value: Any) -> None:
    if name == "expires_in":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value) and value > 0
        if not ok:
            raise ProtocolError(f"{kind} field expires_in (={value!r}) must be a finite number > 0")
    elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"{kind} field {name} (={value!r}) must be an int >= 0")


@dataclass(frozen=True, slots=True)
class Request(_Message):
    """worker -> coordinator: renew my lease; this is my demand and my ledger.

    ``seq`` counts the worker's requests (from 1); ``lease_id`` is the epoch the worker
    is in (0 before its first grant); ``granted``/``returned`` are its cumulative
    counters in that epoch; demand is ``in_use + waiting``.
    """

    KIND: ClassVar[str] = "quota_request"
    shard: int
    seq: int
    lease_id: int
    granted: int
    returned: int
    in_use: int
    waiting: int


@dataclass(frozen=True, slots=True)
class Grant(_Message):
    """coordinator -> worker: your lease (also the renewal answer, even with nothing new).

    ``seq`` counts the broker's grants to this shard (from 1, never reset); ``granted``
    is cumulative in epoch ``lease_id``; ``target`` is the fair share to shrink or grow
    to; ``echo`` is the seq of the request whose receipt renewed the lease, valid
    ``expires_in`` seconds from then.
    """

    KIND: ClassVar[str] = "quota_grant"
    shard: int
    seq: int
    lease_id: int
    granted: int
    target: int
    echo: int
    expires_in: float


@dataclass(frozen=True, slots=True)
class Return(_Message):
    """worker -> coordinator: my cumulative ``returned`` in epoch ``lease_id`` (no reply)."""

    KIND: ClassVar[str] = "quota_return"
    shard: int
    lease_id: int
    returned: int
