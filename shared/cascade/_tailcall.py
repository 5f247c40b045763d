"""The TailCall binding rule, in one place.

A ``TailCall``'s positional values fill the positional inputs in order; its keywords
name inputs by name; inputs it does not name keep their values. Naming something that
is not an input, giving more positional values than there are positional inputs,
giving one input both positionally and by keyword, or writing a keyword that is both a
TailCall keyword and an input of the task (``TailCall(kwargs=...)`` for a task with an
input ``kwargs``) is a :class:`CascadeError` naming it.

A blueprint says where inputs live: ``input_args`` (the registers positional values
fill, in order) and ``input_kwargs`` (name -> register). A compiled blueprint's
positional inputs are all its named inputs in signature order; a hand-built one may
have unnamed positional inputs. On the graph path the inputs are :func:`call_inputs`
of the current call, so the two paths agree on what a TailCall may name.

:func:`bind_into` is the rule, written once (it writes into a register list, the
VM's form, cheaply enough for the VM's loops); :func:`bind` gives the same values as a
register -> value dict for a call that does not exist yet (a VM switch, the graph
path's next call).

This module binds values to inputs; it does not decide *where* a TailCall continues
(``target`` is resolved by the VM and the graph path) and does not fill inputs that
the TailCall leaves out (the callers keep, carry over or default them).
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Sequence

from ._errors import CascadeError
from ._task import LazyResult, TailCall, Task

__all__ = ["bind", "bind_into", "call_inputs", "check_reserved"]

_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def call_inputs(task: Task, arguments: Mapping[str, Any]) -> tuple[str, ...]:
    """The inputs of a call of ``task`` whose bound ``arguments`` (name -> value, as
    ``inspect.BoundArguments.arguments``) are given: its named parameters, in signature
    order, except those whose argument (or default) is a LazyResult. ``*args`` and
    ``**kwargs`` parameters are never inputs."""
    return tuple(
        name for name, param in task.signature.parameters.items()
        if param.kind not in _VARIADIC
        and not isinstance(arguments.get(name, param.default), LazyResult)
    )


def check_reserved(tail: TailCall, names: Mapping[str, Any] | Sequence[str], owner: str) -> None:
    """The ambiguity rule: a keyword the TailCall was written with that is also an
    input of ``owner`` could mean either, so it is an error naming both readings."""
    for word in tail.reserved():
        if word in names:
            raise CascadeError(
                f"{tail!r} is ambiguous for {owner}(): {word!r} is a TailCall keyword "
                f"and also an input of {owner}(). Write TailCall.explicit(args=..., "
                f"kwargs={{...}}, target=...) to say which (kwargs={{{word!r}: ...}} sets "
                f"the input)")


def bind_into(registers: list[Any], tail: TailCall, positional: Sequence[int],
              index: Mapping[str, int], owner: str) -> None:
    """The rule itself: write ``tail``'s values into ``registers``, where
    ``positional`` are the registers positional values fill, in order, and ``index``
    maps each input name to its register (the VM's form). ``owner`` names the task in
    errors. Registers not named keep their values. On an error some registers may
    already be written: the caller abandons them."""
    if tail.form != "ours" or tail.target is not None:
        check_reserved(tail, index, owner)
    args = tail.args
    n_args = len(args)
    if n_args:
        if n_args > len(positional):
            raise CascadeError(
                f"TailCall gives {n_args} positional values, but {owner}() has "
                f"{len(positional)} input(s) {_names(positional, index)}; "
                f"give at most {len(positional)}")
        for register, value in zip(positional, args):
            registers[register] = value
    for name, value in tail.kwargs.items():
        i = index.get(name)
        if i is None:
            hint = ""
            if name in ("args", "kwargs", "target_blueprint_id"):
                hint = (" (the original's TailCall(args=[...], kwargs={...}, "
                        "target_blueprint_id=...) takes no other keywords)")
            raise CascadeError(
                f"TailCall names {name!r}, which is not an input of {owner}(); "
                f"its inputs are {list(index)}{hint}")
        if n_args and i in positional[:n_args]:
            raise CascadeError(
                f"TailCall gives input {name!r} of {owner}() twice, positionally and by "
                f"keyword; give it once")
        registers[i] = value


def _names(positional: Sequence[int], index: Mapping[str, int]) -> list[str]:
    by_register = {i: name for name, i in index.items()}
    return [by_register.get(r, f"#{r}") for r in positional]


class _Unset:
    """Marks an input the TailCall does not name (None is a value)."""


_UNSET = _Unset()


def bind(tail: TailCall, positional: Sequence[int], index: Mapping[str, int],
         owner: str) -> dict[int, Any]:
    """:func:`bind_into`'s values by register, for a call that does not exist yet (a
    switch, the graph path's next call). Registers absent from the result keep their
    values (the caller's job)."""
    size = 1 + max((*positional, *index.values()), default=-1)
    values: list[Any] = [_UNSET] * size
    bind_into(values, tail, positional, index, owner)
    return {i: value for i, value in enumerate(values) if value is not _UNSET}
