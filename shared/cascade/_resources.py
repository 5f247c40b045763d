"""Resource providers and their per-run lifetimes.

``@resource(name=..., scope="run"|"task")`` turns a generator function into a
:class:`ResourceProvider`: the code before ``yield`` opens the resource, the yielded
value is what ``inject(name)`` receives, the code after ``yield`` closes it. A
run-scoped resource is opened on first use in a run and closed when that run ends (on
success and on error); a task-scoped one is opened for one call and closed right after.

Providers are registered on an Engine (configuration); the open instances live in a
:class:`RunResources` owned by one run, never on the Engine.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from typing import Any, Callable

from ._errors import UnknownResource

__all__ = ["resource", "ResourceProvider", "RunResources"]

log = logging.getLogger(__name__)

_SCOPES = ("run", "task")


@dataclass(frozen=True, slots=True)
class ResourceProvider:
    """A named generator function that opens and closes one kind of resource."""

    name: str
    scope: str
    factory: Callable[[], Any]
    is_async: bool


def resource(fn: Callable[[], Any] | None = None, *, name: str | None = None, scope: str = "run") -> Any:
    """Decorator: ``@resource`` or ``@resource(name="db", scope="task")``."""
    if scope not in _SCOPES:
        raise ValueError(f"scope(={scope!r}) must be one of {_SCOPES}")

    def wrap(f: Callable[[], Any]) -> ResourceProvider:
        is_async = inspect.isasyncgenfunction(f)
        if not (is_async or inspect.isgeneratorfunction(f)):
            raise TypeError(f"@resource needs a generator function (with one yield), got {f!r}")
        return ResourceProvider(name or f.__name__, scope, f, is_async)

    return wrap(fn) if fn is not None else wrap


async def open_resource(provider: ResourceProvider) -> tuple[Any, Any]:
    """Run the provider up to its yield: returns (generator, value)."""
    gen = provider.factory()
    value = await gen.__anext__() if provider.is_async else next(gen)
    return gen, value


async def close_resource(provider: ResourceProvider, gen: Any) -> None:
    """Run the provider's code after its yield; a second yield is an error."""
    try:
        if provider.is_async:
            await gen.__anext__()
        else:
            next(gen)
    except (StopIteration, StopAsyncIteration):
        return
    raise RuntimeError(f"resource {provider.name!r} yielded more than once")


class RunResources:
    """The resources one run has opened, closed together when the run ends.

    Kept small, as a long-lived agent run holds one: nothing is allocated until a
    resource is opened, and the opened ones are one list of
    ``(name, provider, generator, value)`` (a run opens a handful at most)."""

    __slots__ = ("_providers", "_opened", "_opening")

    def __init__(self, providers: dict[str, ResourceProvider]) -> None:
        self._providers = providers
        self._opened: list[tuple[str, ResourceProvider, Any, Any]] | None = None
        self._opening: dict[str, asyncio.Lock] | None = None  # async providers being opened

    def provider(self, name: str) -> ResourceProvider:
        try:
            return self._providers[name]
        except KeyError:
            raise UnknownResource(
                f"no resource named {name!r} is registered; registered: "
                f"{sorted(self._providers)} (use engine.register(provider))"
            ) from None

    def _value(self, name: str) -> tuple[bool, Any]:
        for opened, _, _, value in self._opened or ():
            if opened == name:
                return True, value
        return False, None

    async def get_run_scoped(self, name: str) -> Any:
        """The run's instance of a run-scoped resource, opened on first use."""
        found, value = self._value(name)
        if found:
            return value
        provider = self.provider(name)
        if not provider.is_async:  # opens without suspending: no other task can race us
            return self._register(name, provider, *await open_resource(provider))
        # An async provider suspends while opening: concurrent tasks of this run that
        # inject it must wait for that one instance, not open a second.
        if self._opening is None:
            self._opening = {}
        lock = self._opening.setdefault(name, asyncio.Lock())
        async with lock:
            found, value = self._value(name)
            if found:
                return value
            return self._register(name, provider, *await open_resource(provider))

    def _register(self, name: str, provider: ResourceProvider, gen: Any, value: Any) -> Any:
        if self._opened is None:
            self._opened = []
        self._opened.append((name, provider, gen, value))
        return value

    async def close(self) -> None:
        """Close every open run-scoped resource, newest first; errors are raised after
        all have been closed."""
        first_error: BaseException | None = None
        opened = self._opened or []
        while opened:
            _, provider, gen, _ = opened.pop()
            try:
                await close_resource(provider, gen)
            except Exception as exc:  # keep closing the others
                log.error("closing resource %r failed: %r", provider.name, exc)
                first_error = first_error or exc
        self._opened = None
        if first_error is not None:
            raise first_error
