"""The TailCall binding rule, in one place.

A ``TailCall``'s positional values name the first inputs, in order; its keywords name
inputs by name; inputs it does not name keep their values. Naming something that is not
an input, giving more positional values than there are inputs, or giving one input
both positionally and by keyword is a :class:`CascadeError` naming it.

*Inputs* are the parameters of the called task whose argument is not a nested
LazyResult (those are recomputed on every iteration, never overwritten): on the VM a
blueprint's ``input_names``, on the graph path :func:`call_inputs` of the current call.
Both are computed by :func:`call_inputs`, so the two paths agree on what a TailCall
may name.

:func:`bind_into` is the rule, written once (it writes into a register list, the
VM's form, cheaply enough for the VM's loops); :func:`bind` gives the same values as a
dict for a call that does not exist yet (a VM switch, the graph path's next call).

This module binds values to names; it does not decide *where* a TailCall continues
(``target=`` is resolved by the VM and the graph path) and does not fill inputs that
the TailCall leaves out (the callers keep, carry over or default them).
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Sequence

from ._errors import CascadeError
from ._task import LazyResult, TailCall, Task

__all__ = ["bind", "bind_into", "call_inputs"]

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


def bind_into(registers: list[Any], tail: TailCall, inputs: Sequence[str],
              index: Mapping[str, int], owner: str) -> None:
    """The rule itself: write ``tail``'s values into ``registers``, where ``inputs``
    are the input names in order and ``index`` maps each to its register (the VM's
    form). ``owner`` names the task in errors. Registers not named keep their values.
    On an error some registers may already be written: the caller abandons them."""
    args = tail.args
    n_args = len(args)
    if n_args:
        if n_args > len(inputs):
            raise CascadeError(
                f"TailCall gives {n_args} positional values, but {owner}() has "
                f"{len(inputs)} input(s) {list(inputs)}; give at most {len(inputs)}")
        registers[:n_args] = args
    for name, value in tail.kwargs.items():
        i = index.get(name)
        if i is None:
            raise CascadeError(
                f"TailCall names {name!r}, which is not an input of {owner}(); "
                f"its inputs are {list(inputs)}")
        if i < n_args:
            raise CascadeError(
                f"TailCall gives input {name!r} of {owner}() twice, positionally and by "
                f"keyword; give it once")
        registers[i] = value


class _Unset:
    """Marks an input the TailCall does not name (None is a value)."""


_UNSET = _Unset()


def bind(tail: TailCall, inputs: Sequence[str], owner: str,
         index: Mapping[str, int] | None = None) -> dict[str, Any]:
    """:func:`bind_into`'s values by input name, for a call that does not exist yet (a
    switch, the graph path's next call). Inputs absent from the result keep their
    values (the caller's job). ``index`` defaults to the position of each name."""
    if index is None:
        index = {name: i for i, name in enumerate(inputs)}
    values: list[Any] = [_UNSET] * len(inputs)
    bind_into(values, tail, inputs, index, owner)
    return {name: value for name, value in zip(inputs, values) if value is not _UNSET}
