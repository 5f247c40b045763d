"""One task call, as both execution paths make it: hold the call's constraints while
it runs, wrap its errors as TaskError, close the task-scoped resources opened for it."""

from __future__ import annotations

import inspect
from typing import Any, Awaitable, Callable, Mapping

from ._errors import CascadeError, TaskError
from ._resource_manager import ResourceManager
from ._resources import close_resource

__all__ = ["invoke"]


async def invoke(fn: Callable[..., Any], is_async: bool | None, name: str,
                 arguments: Callable[[], Awaitable[tuple[list[Any], dict[str, Any]]]],
                 manager: ResourceManager | None, constraints: Mapping[str, float],
                 opened: list[tuple[Any, Any]],
                 call: Callable[..., Awaitable[Any]] | None = None) -> Any:
    """Resolve ``arguments()``, then call ``fn`` (through ``call`` if given, e.g. an
    executor) holding ``constraints`` from ``manager``; resources appended to ``opened``
    while resolving are closed afterwards, newest first. ``is_async`` None (a
    hand-built call of a plain callable): an awaitable result is awaited. Errors are a
    :class:`TaskError` naming ``name``."""
    held = constraints if (constraints and manager is not None) else None
    try:
        args, kwargs = await arguments()
        if held is not None:
            await manager.acquire(held)  # type: ignore[union-attr]
        try:
            if call is not None:
                return await call(fn, bool(is_async), args, kwargs)
            result = fn(*args, **kwargs)
            if is_async or (is_async is None and inspect.isawaitable(result)):
                result = await result
            return result
        finally:
            if held is not None:
                manager.release(held)  # type: ignore[union-attr]
    except CascadeError:
        raise
    except Exception as exc:
        raise TaskError(name, exc) from exc
    finally:
        for provider, gen in reversed(opened):
            await close_resource(provider, gen)
