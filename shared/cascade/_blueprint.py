"""Blueprints: a LazyResult tree compiled once into a flat list of calls over registers.

The vocabulary is the original Cascade's: a :class:`Blueprint` holds ``instructions``
(:class:`Call` s), a ``register_count``, and where its inputs live (``input_args``:
the registers positional values fill, in order; ``input_kwargs``: name -> register).
A Call reads :class:`Register` and :class:`Literal` operands (and :class:`Inject`, a
resource opened per call) and writes its ``output`` register. Blueprints may be
built by hand with these classes, as the original's users do, or compiled.

:class:`BlueprintBuilder` compiles. ``build(target, template=True)`` (what the Engine
does) makes the root task's parameters *input registers* (0..n-1, in signature order),
filled at run start from the root's literal arguments and defaults; a ``TailCall``
overwrites some and the same blueprint runs again. ``build(target)`` (the original's
default) compiles root literals as constants: no inputs. Nested LazyResults become
earlier instructions whose results land in further registers; nested literals are
constants in both modes.

This module does not run anything (that is ``_vm``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Mapping, Sequence, Union

from ._errors import CompileError
from ._tailcall import call_inputs
from ._task import Inject, LazyResult, Task

__all__ = ["Blueprint", "BlueprintBuilder", "Call", "Instruction", "Literal", "Operand",
           "Register", "structure_key"]

_RESERVED = frozenset(("args", "kwargs", "target", "target_blueprint_id"))
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@dataclass(frozen=True, slots=True)
class Register:
    """Operand: the value held in register ``index``."""

    index: int


@dataclass(frozen=True, slots=True)
class Literal:
    """Operand: a value fixed at compile time."""

    value: Any


#: What a Call reads: a register, a literal, or a resource opened for the call.
Operand = Union[Register, Literal, Inject]


class Instruction:
    """Base class of the VM's instructions (there is one kind: :class:`Call`)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True, eq=False)
class Call(Instruction):
    """``output = func(*args, **kwargs)`` over operands.

    ``task`` is the Task the call came from when compiled (None when built by hand:
    then an awaitable result is awaited, as the original does). ``constraints`` are
    resource amounts held while the call runs.
    """

    func: Callable[..., Any]
    output: Register
    args: Sequence[Operand] = ()
    kwargs: Mapping[str, Operand] = field(default_factory=dict)
    task_name: str = ""
    constraints: Mapping[str, float] | None = None
    task: Task | None = None
    is_async: bool | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "args", tuple(self.args))
        set_(self, "kwargs", dict(self.kwargs))
        set_(self, "constraints", dict(self.constraints or {}))
        if self.task is not None:
            set_(self, "is_async", self.task.is_async)
        elif inspect.iscoroutinefunction(self.func):
            set_(self, "is_async", True)  # else None: await whatever is awaitable
        if not self.task_name:
            name = self.task.name if self.task is not None else getattr(
                self.func, "__qualname__", None) or repr(self.func)
            set_(self, "task_name", name)


@dataclass(frozen=True, slots=True, eq=False)
class Blueprint:
    """A compiled (or hand-built) target: ``instructions`` over ``register_count``
    registers; the last instruction's output is the result.

    Derived, for the VM: ``input_names`` (the named inputs, by register), ``root``
    (the last call's Task, or None), ``single`` (one call whose arguments are exactly
    its inputs 0..n-1 in order: the VM's hot loop may call ``func(*inputs)``),
    ``reserved`` (an input is named like a TailCall keyword: every TailCall goes
    through the full rule, which checks the ambiguity).
    """

    instructions: Sequence[Instruction] = ()
    register_count: int = 0
    input_args: Sequence[int] = ()
    input_kwargs: Mapping[str, int] = field(default_factory=dict)
    name: str = ""
    input_injects: Mapping[int, str] = field(default_factory=dict)
    input_names: tuple[str, ...] = field(init=False, default=())
    root: Task | None = field(init=False, default=None)
    single: bool = field(init=False, default=False)
    reserved: bool = field(init=False, default=False)
    # ``single`` only: the inputs' defaults in order, and how many leading inputs have
    # none (a run's registers are then its target's arguments plus these defaults).
    _defaults: tuple[Any, ...] = field(init=False, default=(), repr=False)
    _required: int = field(init=False, default=0, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "instructions", tuple(self.instructions))
        set_(self, "input_args", tuple(self.input_args))
        set_(self, "input_kwargs", dict(self.input_kwargs))
        set_(self, "input_injects", dict(self.input_injects))
        if not self.instructions:
            raise CompileError("a Blueprint needs at least one instruction")
        last = self.instructions[-1]
        if not isinstance(last, Call):
            raise CompileError(f"unknown instruction {last!r}; the VM runs Call instructions")
        set_(self, "root", last.task)
        if not self.name:
            set_(self, "name", last.task_name)
        set_(self, "input_names", tuple(sorted(self.input_kwargs, key=self.input_kwargs.get)))
        set_(self, "reserved", not _RESERVED.isdisjoint(self.input_kwargs))
        set_(self, "single", _is_single(self))
        if self.single:
            params = list(self.root.signature.parameters.values())  # type: ignore[union-attr]
            set_(self, "_defaults", tuple(p.default for p in params))
            set_(self, "_required", max((i + 1 for i, p in enumerate(params)
                                         if p.default is inspect.Parameter.empty), default=0))

    # the original's spelling of our names
    @property
    def input_index(self) -> Mapping[str, int]:
        """Name -> register of each named input (``input_kwargs``)."""
        return self.input_kwargs

    def initial_registers(self, target: LazyResult | None = None,
                          overrides: Mapping[int, Any] | None = None,
                          carried: Mapping[str, Any] | None = None) -> list[Any]:
        """The register file a run starts with: each input from ``overrides`` (by
        register), else the target's literal root arguments, else values ``carried``
        over by name, else parameter defaults; other registers None. A compiled input
        with no value is a TypeError; a hand-built blueprint's is None."""
        if (self.single and target is not None and not overrides and not carried
                and not target.kwargs and self._required <= len(target.args) <= len(self._defaults)):
            # The common start of an agent: positional literals, then defaults.
            args = target.args
            if not any(isinstance(a, LazyResult) for a in args):
                return [*args, *self._defaults[len(args):], None]
        registers: list[Any] = [None] * self.register_count
        if overrides:
            for i, value in overrides.items():
                registers[i] = value
        root = self.root
        if root is None:
            return registers
        given = _bind(root, target).arguments if target is not None else {}
        params = root.signature.parameters
        for name, i in self.input_kwargs.items():
            if overrides and i in overrides:
                continue
            if name in given and not isinstance(given[name], LazyResult):
                registers[i] = given[name]
            elif carried and name in carried:
                registers[i] = carried[name]
            elif name in params and params[name].default is not inspect.Parameter.empty:
                registers[i] = params[name].default
            else:
                raise TypeError(f"{root.name}() missing a value for parameter {name!r}")
        return registers


def _is_single(bp: Blueprint) -> bool:
    if len(bp.instructions) != 1 or bp.root is None:
        return False
    ins = bp.instructions[0]
    params = list(bp.root.signature.parameters.values())
    n = len(params)
    if bp.register_count != n + 1 or ins.output != Register(n):
        return False
    if any(p.kind not in _POSITIONAL for p in params):
        return False
    operands = dict(zip((p.name for p in params), ins.args))
    operands.update(ins.kwargs)
    return all(operands.get(p.name) == Register(i) and bp.input_kwargs.get(p.name) == i
               for i, p in enumerate(params))


def _bind(task: Task, lazy: LazyResult) -> inspect.BoundArguments:
    try:
        return task.signature.bind_partial(*lazy.args, **lazy.kwargs)
    except TypeError as exc:
        raise CompileError(f"bad arguments for {task.name}(): {exc}") from None


class BlueprintBuilder:
    """Compiles LazyResult trees into Blueprints; holds no state between builds."""

    def build(self, target: LazyResult | Task, template: bool = False) -> Blueprint:
        """Compile ``target``. ``template=True``: the root's parameters are input
        registers (a Task is always compiled so); otherwise root literals are
        constants and the blueprint has no inputs."""
        if isinstance(target, Task):
            target, template = LazyResult(target, (), {}), True
        if not isinstance(target, LazyResult):
            raise CompileError(f"can only compile a LazyResult or Task, got {target!r}")
        try:
            return _Compilation(target, template).blueprint()
        except RecursionError:
            raise CompileError(f"target {target!r} is nested too deeply to compile") from None


class _Compilation:
    """One build: registers are allocated inputs first, then in evaluation order."""

    def __init__(self, target: LazyResult, template: bool) -> None:
        self.target = target
        self.instructions: list[Call] = []
        self.memo: dict[int, int] = {}
        self.inputs: dict[str, int] = {}
        self.injects: dict[int, str] = {}
        self.template = template
        if template:
            self._root_inputs()
        self.next = len(self.inputs)

    def _root_inputs(self) -> None:
        root, params = self.target.task, self.target.task.signature.parameters
        if any(p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
               for p in params.values()):
            raise CompileError(f"{root.name}(): *args/**kwargs parameters cannot be VM inputs")
        bound = _bind(root, self.target).arguments
        for i, name in enumerate(call_inputs(root, bound)):  # the graph path's rule too
            self.inputs[name] = i
            value = bound.get(name, params[name].default)
            if isinstance(value, Inject):
                self.injects[i] = value.name

    def blueprint(self) -> Blueprint:
        target = self.target
        self._emit(target, *(self._root_operands() if self.template else self._operands(target)))
        return Blueprint(self.instructions, self.next, tuple(range(len(self.inputs))),
                         self.inputs, target.task.name, self.injects)

    def _root_operands(self) -> tuple[list[Operand], dict[str, Operand]]:
        """Template root: each parameter reads its input register (or its nested
        LazyResult's); leading ones positionally while that stays a valid call."""
        task = self.target.task
        bound = _bind(task, self.target).arguments
        n_given = len(self.target.args)
        args: list[Operand] = []
        kwargs: dict[str, Operand] = {}
        positional = True
        for position, (name, param) in enumerate(task.signature.parameters.items()):
            value = bound.get(name)
            op: Operand = (Register(self._node(value)) if isinstance(value, LazyResult)
                           else Register(self.inputs[name]))
            positional = positional and param.kind in _POSITIONAL and (
                position < n_given or param.kind is inspect.Parameter.POSITIONAL_ONLY)
            if positional:
                args.append(op)
            else:
                kwargs[name] = op
        return args, kwargs

    def _operands(self, lazy: LazyResult) -> tuple[list[Operand], dict[str, Operand]]:
        args = [self._operand(a) for a in lazy.args]
        kwargs = {k: self._operand(v) for k, v in lazy.kwargs.items()}
        for param, resource in lazy.task.injected_defaults.items():
            if param not in kwargs and param not in lazy.task.param_names[: len(args)]:
                kwargs[param] = Inject(resource)
        return args, kwargs

    def _operand(self, value: Any) -> Operand:
        if isinstance(value, LazyResult):
            return Register(self._node(value))
        if isinstance(value, Inject):
            return value
        return Literal(value)

    def _node(self, lazy: LazyResult) -> int:
        # Nested trees are shallow in practice; a deep one raises CompileError.
        if id(lazy) not in self.memo:
            self.memo[id(lazy)] = self._emit(lazy, *self._operands(lazy))
        return self.memo[id(lazy)]

    def _emit(self, lazy: LazyResult, args: list[Operand], kwargs: dict[str, Operand]) -> int:
        out = self.next
        self.next += 1
        self.instructions.append(Call(lazy.task.fn, Register(out), args, kwargs,
                                      lazy.task.name, lazy.constraints, lazy.task))
        return out


def structure_key(target: LazyResult) -> Hashable | None:
    """A key equal for targets that compile to the same template blueprint (root
    literals may differ: they are inputs), or None when it cannot be hashed."""
    if not target.kwargs and not any(isinstance(a, (LazyResult, Inject)) for a in target.args):
        # a flat call of literals (an agent's start): what _key gives, built directly
        return (target.task, ("V",) * len(target.args), (),
                tuple(sorted(target.constraints.items())) if target.constraints else ())
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
