"""MessageBus: run and task events for observers, free when nobody listens.

Publishers check :attr:`MessageBus.listening` (a plain attribute) before building an
event, so a bus with no subscribers costs one attribute read per would-be event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Event", "MessageBus", "RunStarted", "RunFinished", "TaskStarted", "TaskFinished"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of every event the runtime publishes (the original's ``Event``), for
    type hints and ``isinstance``. Subscriptions are by exact type: subscribing to
    ``Event`` itself receives nothing."""

    run_id: int


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    target: str
    use_vm: bool
    params: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    target: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TaskStarted(Event):
    task: str


@dataclass(frozen=True, slots=True)
class TaskFinished(Event):
    task: str
    ok: bool


class MessageBus:
    """Synchronous publish/subscribe of event objects by type."""

    def __init__(self) -> None:
        self._subscribers: dict[type, list[Callable[[Any], None]]] = {}
        self.listening = False
        self.listening_tasks = False

    def subscribe(self, event_type: type, callback: Callable[[Any], None]) -> None:
        self._subscribers.setdefault(event_type, []).append(callback)
        self.listening = True
        self.listening_tasks = bool(
            self._subscribers.get(TaskStarted) or self._subscribers.get(TaskFinished)
        )

    def publish(self, event: Any) -> None:
        """Deliver ``event`` to its type's subscribers; a failing subscriber is logged,
        never propagated into the run."""
        for callback in self._subscribers.get(type(event), ()):
            try:
                callback(event)
            except Exception:
                log.exception("MessageBus subscriber %r failed on %r", callback, event)
