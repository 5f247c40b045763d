"""One task call, as both execution paths make it: hold the call's constraints while
it runs, wrap its errors as TaskError, close the task-scoped resources opened for it."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from ._errors import CascadeError, TaskError
from ._resource_manager import ResourceManager
from ._resources import close_resource
from ._task import Task

__all__ = ["invoke"]


async def invoke(task: Task, arguments: Callable[[], Awaitable[tuple[list[Any], dict[str, Any]]]],
                 manager: ResourceManager | None, constraints: dict[str, int],
                 opened: list[tuple[Any, Any]],
                 call: Callable[..., Awaitable[Any]] | None = None) -> Any:
    """Resolve ``arguments()``, then call ``task`` (through ``call`` if given, e.g. an
    executor) holding ``constraints`` from ``manager``; resources appended to ``opened``
    while resolving are closed afterwards, newest first."""
    held = constraints if (constraints and manager is not None) else None
    try:
        args, kwargs = await arguments()
        if held is not None:
            await manager.acquire(held)  # type: ignore[union-attr]
        try:
            if call is not None:
                return await call(task.fn, task.is_async, args, kwargs)
            result = task.fn(*args, **kwargs)
            if task.is_async:
                result = await result
            return result
        finally:
            if held is not None:
                manager.release(held)  # type: ignore[union-attr]
    except CascadeError:
        raise
    except Exception as exc:
        raise TaskError(task.name, exc) from exc
    finally:
        for provider, gen in reversed(opened):
            await close_resource(provider, gen)
