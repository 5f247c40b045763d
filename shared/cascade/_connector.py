"""Connector: the original Cascade's type for a run's link to the outside world
(telemetry out, control in), kept so agents written for it import and type-check
unchanged (``connector: Connector`` parameters).

It is a Protocol only: nothing in this runtime calls a connector (the Engine takes no
``connector=``; the simulator's links are its ZeroMQ sockets). An agent that is given
one calls it itself.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping, Protocol, runtime_checkable

__all__ = ["Connector"]


@runtime_checkable
class Connector(Protocol):
    """What the original's connectors (MQTT, local) offer; all methods are async."""

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def publish(self, topic: str, payload: Mapping[str, Any], qos: int = 0,
                      retain: bool = False) -> None: ...

    async def subscribe(self, topic: str,
                        callback: Callable[[str, Mapping[str, Any]], Awaitable[None]]) -> Any: ...
