"""Tasks and lazy results: the vocabulary of a Cascade graph.

``@task`` turns a function (sync or async) into a :class:`Task`. Calling a task runs
nothing: it returns a :class:`LazyResult`, a node that remembers the task and its
arguments. LazyResults used as arguments of other tasks are the graph's edges.
"""

from __future__ import annotations

import inspect
import itertools
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from ._resource_manager import is_amount

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

    @property
    def func(self) -> Callable[..., Any]:
        """The wrapped function (the original Cascade's name for :attr:`fn`)."""
        return self.fn

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
        constraints: Mapping[str, float] | None = None,
    ) -> None:
        self.task = task
        self.args = args
        self.kwargs = kwargs
        self.constraints: dict[str, float] = dict(constraints) if constraints else {}
        self.id = next(_lazy_ids)

    def with_constraints(self, **amounts: float) -> "LazyResult":
        """A copy of this call that needs ``amounts`` of named resources while it runs,
        e.g. ``.with_constraints(cpu_slot=1)`` (ints or floats, as the ResourceManager)."""
        for name, amount in amounts.items():
            if not is_amount(amount):
                raise ValueError(f"constraint {name}(={amount!r}) must be a finite number >= 0")
        merged = {**self.constraints, **{k: v for k, v in amounts.items() if v}}
        return LazyResult(self.task, self.args, self.kwargs, merged)

    def __repr__(self) -> str:
        return f"<LazyResult {self.task.name}#{self.id}>"


_ORIGINAL_KEYWORDS = ("args", "kwargs", "target_blueprint_id")
_KWARGS_ONLY = ("kwargs",)


class TailCall:
    """Returned by a task to run again with new inputs (a tail call, no recursion).

    Two spellings, one meaning (the binding rule is ``_tailcall.bind_into``):

    * ours: ``TailCall(n=n - 1)`` changes input ``n`` and keeps every other input;
      ``TailCall(x, y)`` sets the first inputs in order; ``target=`` switches to a
      Task, a LazyResult (its literal arguments become the inputs) or the name of a
      registered blueprint.
    * the original Cascade's: ``TailCall(args=[...], kwargs={...},
      target_blueprint_id="name")``, recognised when those are the only keywords
      and ``kwargs`` is a mapping, ``args`` a list or tuple, ``target_blueprint_id`` a
      string. A task with an input literally named like one of those keywords (or
      ``target``) gets a ``CascadeError`` naming the ambiguity when it binds;
      :meth:`explicit` spells every part out and is never ambiguous.

    It is not a LazyResult and runs nothing by itself.
    """

    __slots__ = ("args", "kwargs", "target", "_form", "spelled")

    @property
    def form(self) -> str:
        """How it was written: "ours", "original" or "explicit"."""
        return getattr(self, "_form", "ours")

    def __init__(self, *args: Any, target: "Task | LazyResult | str | None" = None,
                 **kwargs: Any) -> None:
        self.args = args
        self.target = target
        if "kwargs" in kwargs:
            named = kwargs["kwargs"]
            if type(named) is dict and len(kwargs) == 1 and not args:  # the original's, cheaply
                self.kwargs, self._form, self.spelled = named, "original", _KWARGS_ONLY
                return
            if not args and self._read_original(kwargs):
                return
        elif ("args" in kwargs or "target_blueprint_id" in kwargs) and not args \
                and self._read_original(kwargs):
            return
        self.kwargs = kwargs  # ours: ``form`` left unset (reads "ours"), one store fewer per step

    def _read_original(self, given: dict[str, Any]) -> bool:
        """Take ``given`` as the original's form if it can be nothing else (see the
        class docstring); False leaves it to be read as ours."""
        named = given.get("kwargs")
        values, name = given.get("args"), given.get("target_blueprint_id")
        if any(k not in _ORIGINAL_KEYWORDS for k in given) \
                or not (values is None or isinstance(values, (list, tuple))) \
                or not (named is None or isinstance(named, Mapping)) \
                or not (name is None or isinstance(name, str)):
            return False  # mixed with other names, or other types: ours
        if name is not None and self.target is not None:
            raise TypeError(f"TailCall got target={self.target!r} and "
                            f"target_blueprint_id={name!r}; give one of them")
        self.args = tuple(values or ())
        self.kwargs = dict(named or {})
        if name is not None:
            self.target = name
        self._form = "original"
        self.spelled = tuple(k for k in _ORIGINAL_KEYWORDS if k in given)
        return True

    @classmethod
    def explicit(cls, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
                 target: "Task | LazyResult | str | None" = None) -> "TailCall":
        """Every part spelled out, so never ambiguous: positional values, inputs by
        name (which may be called ``kwargs``, ``args``, ``target``...) and the switch
        target. Use it for a task whose inputs clash with the keywords."""
        tail = cls.__new__(cls)
        tail.args, tail.kwargs, tail.target = tuple(args), dict(kwargs or {}), target
        tail._form = "explicit"
        return tail

    def reserved(self) -> tuple[str, ...]:
        """The keywords this TailCall was written with that also read as input names
        (``kwargs``, ``args``, ``target_blueprint_id`` in the original's form;
        ``target`` in ours): a task with such an input cannot tell which was meant."""
        if self.form == "original":
            return self.spelled
        if self.form == "ours" and self.target is not None:
            return ("target",)
        return ()

    def __repr__(self) -> str:
        if self.form == "original":
            parts = [f"{k}={v!r}" for k, v in (("args", list(self.args)), ("kwargs", self.kwargs),
                                               ("target_blueprint_id", self.target))
                     if k in self.spelled]
            return f"TailCall({', '.join(parts)})"
        if self.form == "explicit":
            return (f"TailCall.explicit(args={self.args!r}, kwargs={self.kwargs!r}, "
                    f"target={self.target!r})")
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        if self.target is not None:
            parts.append(f"target={self.target!r}")
        return f"TailCall({', '.join(parts)})"
