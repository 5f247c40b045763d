"""Tasks and lazy results: the vocabulary of a Cascade graph.

``@task`` turns a function (sync or async) into a :class:`Task`. Calling a task runs
nothing: it returns a :class:`LazyResult`, a node that remembers the task and its
arguments. LazyResults used as arguments of other tasks are the graph's edges.
"""

from __future__ import annotations

import inspect
import itertools
from dataclasses import dataclass
from typing import Any, Callable, Mapping

__all__ = ["task", "Task", "LazyResult", "Inject", "inject", "TailCall"]

_lazy_ids = itertools.count()


@dataclass(frozen=True, slots=True)
class Inject:
    """Marker replaced by the live resource ``name`` when the task is called."""

    name: str


def inject(name: str) -> Inject:
    """Use as an argument (or a parameter default) to receive resource ``name``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"inject(name={name!r}): name must be a non-empty string")
    return Inject(name)


class Task:
    """A function that Cascade can schedule. Call it to get a :class:`LazyResult`."""

    __slots__ = ("fn", "name", "is_async", "signature", "param_names", "injected_defaults")

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"@task needs a callable, got {fn!r}")
        self.fn = fn
        self.name = name or getattr(fn, "__qualname__", repr(fn))
        self.is_async = inspect.iscoroutinefunction(fn)
        self.signature = inspect.signature(fn)
        self.param_names = tuple(self.signature.parameters)
        # Parameters whose default is inject(...): filled per call when not given.
        self.injected_defaults = {
            p.name: p.default.name
            for p in self.signature.parameters.values()
            if isinstance(p.default, Inject)
        }

    def __call__(self, *args: Any, **kwargs: Any) -> "LazyResult":
        return LazyResult(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<task {self.name}>"


def task(fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Decorator: ``@task`` or ``@task(name="...")``."""
    if fn is None:
        return lambda f: Task(f, name)
    return Task(fn, name)


class LazyResult:
    """A pending call of a task: nothing runs until an Engine runs it."""

    __slots__ = ("task", "args", "kwargs", "constraints", "id")

    def __init__(
        self,
        task: Task,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        constraints: Mapping[str, int] | None = None,
    ) -> None:
        self.task = task
        self.args = args
        self.kwargs = kwargs
        self.constraints: dict[str, int] = dict(constraints) if constraints else {}
        self.id = next(_lazy_ids)

    def with_constraints(self, **amounts: int) -> "LazyResult":
        """A copy of this call that needs ``amounts`` of named resources while it runs,
        e.g. ``.with_constraints(cpu_slot=1)``."""
        for name, amount in amounts.items():
            if not isinstance(amount, int) or amount < 0:
                raise ValueError(f"constraint {name}(={amount!r}) must be an int >= 0")
        merged = {**self.constraints, **{k: v for k, v in amounts.items() if v}}
        return LazyResult(self.task, self.args, self.kwargs, merged)

    def __repr__(self) -> str:
        return f"<LazyResult {self.task.name}#{self.id}>"


class TailCall:
    """Returned by a task running on the VM: run again with new inputs.

    ``TailCall(n=n - 1)`` restarts the current blueprint with input ``n`` changed and
    every other input kept. ``TailCall(n=..., target=other)`` switches to another
    blueprint: ``target`` is a Task, a LazyResult (its literal arguments become the
    inputs) or the name of a blueprint registered with the VM.
    """

    __slots__ = ("args", "kwargs", "target")

    def __init__(self, *args: Any, target: "Task | LazyResult | str | None" = None, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        self.target = target

    def __repr__(self) -> str:
        return f"TailCall(args={self.args!r}, kwargs={self.kwargs!r}, target={self.target!r})"
