"""Blueprints: a LazyResult tree compiled once into a flat list of calls over registers.

Template mode: the root task's parameters become *input registers* (0..n-1, in the
signature's order), filled at run start from the root's literal arguments and defaults.
A ``TailCall`` later overwrites some inputs and the same blueprint runs again without
building anything. Nested LazyResults become earlier instructions whose results land in
further registers; nested literals are constants.

Operands are (kind, value): REG reads a register, CONST is a literal, INJECT names a
resource opened per call (task scope) or per run (run scope, resolved into a register
at run start).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Hashable

from ._errors import CompileError
from ._tailcall import call_inputs
from ._task import Inject, LazyResult, Task

__all__ = ["Blueprint", "BlueprintBuilder", "Instruction", "REG", "CONST", "INJECT"]

REG, CONST, INJECT = 0, 1, 2

Operand = tuple[int, Any]


@dataclass(frozen=True, slots=True)
class Instruction:
    task: Task
    args: tuple[Operand, ...]
    kwargs: tuple[tuple[str, Operand], ...]
    out: int
    constraints: dict[str, int]


@dataclass(frozen=True, slots=True, eq=False)
class Blueprint:
    """A compiled target. ``input_names[i]`` is the root parameter held in register i."""

    name: str
    instructions: tuple[Instruction, ...]
    n_registers: int
    input_names: tuple[str, ...]
    input_index: dict[str, int]
    input_injects: dict[int, str]  # input register -> resource name (root inject(...))

    def initial_inputs(self, target: LazyResult | None, overrides: dict[str, Any] | None = None,
                       carried: dict[str, Any] | None = None) -> list[Any]:
        """Input values for a run: ``overrides``, else the target's literal root
        arguments, else values ``carried`` over by name, else parameter defaults.
        ``overrides`` must name inputs only (a TailCall's are checked by
        ``_tailcall.bind``); a missing value is a TypeError."""
        root = self.instructions[-1].task
        given: dict[str, Any] = {}
        if target is not None:
            given = _bind(root, target).arguments
        values: list[Any] = []
        params = root.signature.parameters
        for name in self.input_names:
            if overrides and name in overrides:
                values.append(overrides[name])
            elif name in given and not isinstance(given[name], LazyResult):
                values.append(given[name])
            elif carried and name in carried:
                values.append(carried[name])
            elif params[name].default is not inspect.Parameter.empty:
                values.append(params[name].default)
            else:
                raise TypeError(f"{root.name}() missing a value for parameter {name!r}")
        return values


def _bind(task: Task, lazy: LazyResult) -> inspect.BoundArguments:
    try:
        return task.signature.bind_partial(*lazy.args, **lazy.kwargs)
    except TypeError as exc:
        raise CompileError(f"bad arguments for {task.name}(): {exc}") from None


class BlueprintBuilder:
    """Compiles LazyResult trees into Blueprints (template mode)."""

    def build(self, target: LazyResult | Task) -> Blueprint:
        if isinstance(target, Task):
            target = LazyResult(target, (), {})
        if not isinstance(target, LazyResult):
            raise CompileError(f"can only compile a LazyResult or Task, got {target!r}")
        root = target.task
        input_names, input_index, injects = self._root_inputs(root, target)
        instructions: list[Instruction] = []
        registers = {"next": len(input_names)}
        memo: dict[int, int] = {}

        def operand(value: Any) -> Operand:
            if isinstance(value, LazyResult):
                return (REG, compile_node(value))
            if isinstance(value, Inject):
                return (INJECT, value.name)
            return (CONST, value)

        def emit(lazy: LazyResult, args: tuple[Operand, ...], kwargs: tuple[tuple[str, Operand], ...]) -> int:
            out = registers["next"]
            registers["next"] += 1
            instructions.append(Instruction(lazy.task, args, kwargs, out, dict(lazy.constraints)))
            return out

        def compile_node(lazy: LazyResult) -> int:
            # Nested trees are shallow in practice; a deep one raises CompileError.
            if id(lazy) in memo:
                return memo[id(lazy)]
            args = tuple(operand(a) for a in lazy.args)
            kwargs = tuple((k, operand(v)) for k, v in lazy.kwargs.items())
            kwargs += tuple((p, (INJECT, r)) for p, r in lazy.task.injected_defaults.items()
                            if p not in lazy.kwargs and not _given_positionally(lazy, p))
            memo[id(lazy)] = out = emit(lazy, args, kwargs)
            return out

        try:
            bound = _bind(root, target).arguments
            args: list[Operand] = []
            kwargs: list[tuple[str, Operand]] = []
            for name, param in root.signature.parameters.items():
                value = bound.get(name)
                if isinstance(value, LazyResult):
                    op: Operand = (REG, compile_node(value))
                else:
                    op = (REG, input_index[name])
                if param.kind is inspect.Parameter.KEYWORD_ONLY:
                    kwargs.append((name, op))
                else:
                    args.append(op)
            emit(target, tuple(args), tuple(kwargs))
        except RecursionError:
            raise CompileError(f"target {target!r} is nested too deeply to compile") from None
        return Blueprint(root.name, tuple(instructions), registers["next"],
                         input_names, input_index, injects)

    @staticmethod
    def _root_inputs(root: Task, target: LazyResult) -> tuple[tuple[str, ...], dict[str, int], dict[int, str]]:
        bound = _bind(root, target).arguments
        params = root.signature.parameters
        if any(p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
               for p in params.values()):
            raise CompileError(f"{root.name}(): *args/**kwargs parameters cannot be VM inputs")
        names = call_inputs(root, bound)  # the graph path's TailCalls use the same rule
        injects: dict[int, str] = {}
        for i, name in enumerate(names):
            value = bound.get(name, params[name].default)
            if isinstance(value, Inject):
                injects[i] = value.name
        return names, {n: i for i, n in enumerate(names)}, injects


def _given_positionally(lazy: LazyResult, param: str) -> bool:
    names = lazy.task.param_names
    return param in names[: len(lazy.args)]


def structure_key(target: LazyResult) -> Hashable | None:
    """A key equal for targets that compile to the same blueprint (root literals may
    differ: they are inputs), or None when the structure cannot be hashed."""
    try:
        return _key(target, True)
    except (TypeError, RecursionError):  # unhashable literal; or too deep (build says so)
        return None


def _key(lazy: LazyResult, is_root: bool) -> Hashable:
    def part(value: Any) -> Hashable:
        if isinstance(value, LazyResult):
            return ("L", _key(value, False))
        if isinstance(value, Inject):
            return ("I", value.name)
        if is_root:
            return "V"
        hash(value)
        return ("C", type(value), value)

    return (
        lazy.task,
        tuple(part(a) for a in lazy.args),
        tuple((k, part(v)) for k, v in sorted(lazy.kwargs.items())),
        tuple(sorted(lazy.constraints.items())),
    )
