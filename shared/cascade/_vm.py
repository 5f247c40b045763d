"""The blueprint VM: runs a compiled Blueprint in a trampoline loop.

A task that returns ``TailCall(...)`` does not recurse: the loop overwrites the named
input registers and runs the same instructions again, so a million tail calls use the
memory of one. Every ``yield_every`` tail calls the loop yields to the event loop once,
so a task that never awaits anything still lets other agents run (1 = every step, as
fair as a hand-written ``await asyncio.sleep(0)`` loop).

Two loops share this job: :meth:`VirtualMachine._run_single`, for the common blueprint
of one call whose arguments are exactly its inputs (an agent step), and
:meth:`VirtualMachine._run_general` for everything else. The first is the hot path.
Per-run state lives in the locals of one ``run`` call; the VM itself holds only
configuration and the registry of named blueprints.

The VM is given its collaborators (a compile function, the bus, the optional
ResourceManager) and knows nothing of the Engine that builds it: the import runs one
way, ``_engine`` -> ``_vm``. How a TailCall's values bind to inputs is
:mod:`._tailcall`'s rule; the hot loop inlines only its all-keywords-valid case.
"""

from __future__ import annotations

import types
from typing import Any, Callable

from ._blueprint import CONST, REG, Blueprint, Instruction
from ._bus import MessageBus, TaskFinished, TaskStarted
from ._errors import CascadeError, TaskError
from ._invoke import invoke
from ._resource_manager import ResourceManager
from ._resources import open_resource
from ._run_context import RunContext
from ._tailcall import bind, bind_into
from ._task import Inject, LazyResult, Task, TailCall

__all__ = ["VirtualMachine"]


@types.coroutine
def _yield_to_loop() -> Any:
    """One trip round the event loop: what ``asyncio.sleep(0)`` does, minus its checks."""
    yield


def _is_single_call(bp: Blueprint) -> bool:
    if len(bp.instructions) != 1:
        return False
    ins = bp.instructions[0]
    n = len(bp.input_names)
    return not ins.kwargs and ins.args == tuple((REG, i) for i in range(n))


class VirtualMachine:
    """Runs blueprints; safe for any number of concurrent runs.

    ``compile_target`` turns a TailCall's Task or LazyResult target into a blueprint
    (the Engine passes its cached ``Engine.compile``); ``bus`` receives task events;
    ``resource_manager`` grants the calls' constraints (None: constraints are ignored,
    as on the graph path). It does not open or close a run's resources: the caller's
    :class:`RunContext` does.
    """

    def __init__(self, compile_target: Callable[[LazyResult | Task], Blueprint], *,
                 bus: MessageBus | None = None, resource_manager: ResourceManager | None = None,
                 yield_every: int = 1) -> None:
        if not isinstance(yield_every, int) or yield_every < 1:
            raise ValueError(f"yield_every(={yield_every!r}) must be an int >= 1")
        self.compile_target = compile_target
        self.bus = bus if bus is not None else MessageBus()
        self.resource_manager = resource_manager
        self.yield_every = yield_every
        self._registry: dict[str, Blueprint] = {}

    def register(self, name: str, blueprint: Blueprint) -> None:
        """Make ``blueprint`` reachable as ``TailCall(target=name)``."""
        self._registry[name] = blueprint

    async def run(self, bp: Blueprint, inputs: list[Any], ctx: RunContext) -> Any:
        """Run ``bp`` with ``inputs`` until a step returns something that is not a
        TailCall (or LazyResult); that value is the run's result."""
        while True:
            task_scoped = await self._open_run_inputs(bp, inputs, ctx)
            if not task_scoped and not self.bus.listening_tasks and _is_single_call(bp):
                switch = await self._run_single(bp, inputs)
            else:
                switch = await self._run_general(bp, inputs, ctx)
            if not isinstance(switch, _Switch):
                return switch
            bp, inputs = self._switch(bp, inputs, switch.tail)

    # -- the hot loop -------------------------------------------------------------
    async def _run_single(self, bp: Blueprint, inputs: list[Any]) -> Any:
        ins = bp.instructions[0]
        fn, is_async, name = ins.task.fn, ins.task.is_async, ins.task.name
        index = bp.input_index
        manager = self.resource_manager
        constraints = ins.constraints if (ins.constraints and manager is not None) else None
        yield_every = self.yield_every
        countdown = yield_every
        try:
            while True:
                if constraints is None:
                    result = fn(*inputs)
                    if is_async:
                        result = await result
                else:
                    await manager.acquire(constraints)  # type: ignore[union-attr]
                    try:
                        result = fn(*inputs)
                        if is_async:
                            result = await result
                    finally:
                        manager.release(constraints)  # type: ignore[union-attr]
                if type(result) is not TailCall:
                    if isinstance(result, LazyResult):
                        return _Switch(TailCall(target=result))
                    return result
                if result.target is not None:
                    return _Switch(result)
                if result.args:  # positional values: the rule, uninlined
                    bind_into(inputs, result, bp.input_names, index, bp.name)
                elif result.kwargs:  # the rule's common case, inlined
                    try:
                        for key, value in result.kwargs.items():
                            inputs[index[key]] = value
                    except KeyError:  # not an input: the rule raises its error
                        bind_into(inputs, result, bp.input_names, index, bp.name)
                countdown -= 1
                if not countdown:
                    countdown = yield_every
                    await _yield_to_loop()
        except CascadeError:
            raise
        except Exception as exc:
            raise TaskError(name, exc) from exc

    # -- the general loop ---------------------------------------------------------
    async def _run_general(self, bp: Blueprint, inputs: list[Any], ctx: RunContext) -> Any:
        n_in = len(inputs)
        regs = inputs + [None] * (bp.n_registers - n_in)
        countdown = self.yield_every
        bus = self.bus
        while True:
            for ins in bp.instructions:
                if bus.listening_tasks:
                    bus.publish(TaskStarted(ctx.run_id, ins.task.name))
                regs[ins.out] = await self._call(ins, regs, ctx)
                if bus.listening_tasks:
                    bus.publish(TaskFinished(ctx.run_id, ins.task.name, True))
                if type(regs[ins.out]) is TailCall and ins is not bp.instructions[-1]:
                    raise CascadeError(f"task {ins.task.name!r} returned a TailCall but is not "
                                       f"the root of its blueprint; only the root may tail-call")
            result = regs[bp.instructions[-1].out]
            if type(result) is not TailCall:
                if isinstance(result, LazyResult):
                    return _Switch(TailCall(target=result))
                return result
            if result.target is not None:
                inputs[:] = regs[:n_in]
                return _Switch(result)
            bind_into(regs, result, bp.input_names, bp.input_index, bp.name)
            for i in range(n_in, bp.n_registers):
                regs[i] = None
            countdown -= 1
            if not countdown:
                countdown = self.yield_every
                await _yield_to_loop()

    async def _call(self, ins: Instruction, regs: list[Any], ctx: RunContext) -> Any:
        opened: list[tuple[Any, Any]] = []

        async def arguments() -> tuple[list[Any], dict[str, Any]]:
            args = [await self._operand(op, regs, ctx, opened) for op in ins.args]
            kwargs = {k: await self._operand(op, regs, ctx, opened) for k, op in ins.kwargs}
            return args, kwargs

        return await invoke(ins.task, arguments, self.resource_manager, ins.constraints, opened)

    async def _operand(self, op: tuple[int, Any], regs: list[Any], ctx: RunContext,
                       opened: list[tuple[Any, Any]]) -> Any:
        kind, value = op
        if kind == REG:
            value = regs[value]
            if type(value) is not Inject:
                return value
            value = value.name  # a root input defaulting to a task-scoped inject(...)
        elif kind == CONST:
            return value
        provider = ctx.resources.provider(value)
        if provider.scope == "run":
            return await ctx.resources.get_run_scoped(value)
        gen, live = await open_resource(provider)
        opened.append((provider, gen))
        return live

    @staticmethod
    async def _open_run_inputs(bp: Blueprint, inputs: list[Any], ctx: RunContext) -> bool:
        """Put the run's instance of each run-scoped resource a root input defaults to
        into that input's register. True when some input defaults to a task-scoped
        resource instead (opened per call: only the general loop does that)."""
        task_scoped = False
        for register, name in bp.input_injects.items():
            if ctx.resources.provider(name).scope == "run":
                inputs[register] = await ctx.resources.get_run_scoped(name)
            else:
                task_scoped = True
        return task_scoped

    # -- switching blueprint ----------------------------------------------------------
    def _switch(self, bp: Blueprint, inputs: list[Any], tail: TailCall) -> tuple[Blueprint, list[Any]]:
        """The blueprint and inputs a TailCall with a target continues with. Inputs the
        TailCall does not name keep their values by name across the switch (except for
        a LazyResult target, whose literal arguments are the inputs)."""
        target = tail.target
        new = self._target_blueprint(target)
        overrides = bind(tail, new.input_names, new.name, new.input_index)
        if isinstance(target, LazyResult):
            return new, _initial_inputs(new, target, overrides, None)
        return new, _initial_inputs(new, None, overrides, dict(zip(bp.input_names, inputs)))

    def _target_blueprint(self, target: Any) -> Blueprint:
        if isinstance(target, (LazyResult, Task)):
            return self.compile_target(target)
        if isinstance(target, str):
            try:
                return self._registry[target]
            except KeyError:
                raise CascadeError(f"TailCall target {target!r} is not a registered "
                                   f"blueprint; registered: {sorted(self._registry)}") from None
        raise CascadeError(f"TailCall target must be a Task, LazyResult or registered "
                           f"name, got {target!r}")


def _initial_inputs(bp: Blueprint, target: LazyResult | None, overrides: dict[str, Any],
                    carried: dict[str, Any] | None) -> list[Any]:
    """``bp.initial_inputs`` for a TailCall switch: a missing value is the TailCall's
    fault, so it is a CascadeError naming it, not a TypeError."""
    try:
        return bp.initial_inputs(target, overrides, carried)
    except TypeError as exc:
        raise CascadeError(f"TailCall to {bp.name}(): {exc}") from None


class _Switch:
    """Internal: the run continues on another blueprint."""

    __slots__ = ("tail",)

    def __init__(self, tail: TailCall) -> None:
        self.tail = tail
