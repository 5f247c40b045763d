"""The blueprint VM: runs a compiled Blueprint in a trampoline loop.

A task that returns ``TailCall(...)`` does not recurse: the loop overwrites the named
input registers and runs the same instructions again, so a million tail calls use the
memory of one. Every ``yield_every`` tail calls the loop yields to the event loop once,
so a task that never awaits anything still lets other agents run (1 = every step, as
fair as a hand-written ``await asyncio.sleep(0)`` loop).

Two loops share this job: the one in :meth:`VirtualMachine.run`, for the common
blueprint of one call whose arguments are exactly its inputs (an agent step,
``Blueprint.single``), and :meth:`VirtualMachine._run_general` for everything else.
The first is the hot path.
Per-run state lives in the locals of one ``run`` call (its register file); the VM
itself holds only configuration and the registry of named blueprints.

The VM is given its collaborators (a compile function, the bus, the optional
ResourceManager) and knows nothing of the Engine that builds it: the import runs one
way, ``_engine`` -> ``_vm``. Standing alone (``VirtualMachine()``, the original
Cascade's way) it compiles switch targets itself and runs hand-built or compiled
blueprints with :meth:`VirtualMachine.execute`. How a TailCall's values bind to inputs
is :mod:`._tailcall`'s rule; the hot loop inlines only its all-keywords-valid case.
"""

from __future__ import annotations

import itertools
import types
from typing import Any, Callable, Mapping, Sequence

from ._blueprint import Blueprint, BlueprintBuilder, Call, Literal, Register
from ._bus import MessageBus, TaskFinished, TaskStarted
from ._errors import CascadeError, TaskError, task_failure
from ._invoke import invoke
from ._resource_manager import ResourceManager
from ._resources import RunResources, open_resource
from ._run_context import RunContext
from ._tailcall import bind, bind_into, check_reserved
from ._task import Inject, LazyResult, Task, TailCall

__all__ = ["VirtualMachine"]

_run_ids = itertools.count(1)


@types.coroutine
def _yield_to_loop() -> Any:
    """One trip round the event loop: what ``asyncio.sleep(0)`` does, minus its checks."""
    yield


def _compile_template(target: LazyResult | Task) -> Blueprint:
    return BlueprintBuilder().build(target, template=True)


class VirtualMachine:
    """Runs blueprints; safe for any number of concurrent runs.

    ``compile_target`` turns a TailCall's Task or LazyResult target into a blueprint
    (the Engine passes its cached ``Engine.compile``; alone, the VM compiles each in
    template mode); ``bus`` receives task events; ``resource_manager`` grants the calls'
    constraints (None: constraints are ignored, as on the graph path). It does not
    open or close a run's resources: the caller's :class:`RunContext` does.
    """

    def __init__(self, compile_target: Callable[[LazyResult | Task], Blueprint] | None = None,
                 *, bus: MessageBus | None = None,
                 resource_manager: ResourceManager | None = None,
                 yield_every: int = 1) -> None:
        if not isinstance(yield_every, int) or yield_every < 1:
            raise ValueError(f"yield_every(={yield_every!r}) must be an int >= 1")
        self.compile_target = compile_target or _compile_template
        self.bus = bus if bus is not None else MessageBus()
        self.resource_manager = resource_manager
        self.yield_every = yield_every
        self._registry: dict[str, Blueprint] = {}

    def register_blueprint(self, name: str, blueprint: Blueprint) -> None:
        """Make ``blueprint`` reachable as ``TailCall(target=name)`` (the original's
        ``target_blueprint_id=name``)."""
        if not isinstance(blueprint, Blueprint):
            raise TypeError(f"register_blueprint({name!r}, ...) takes a Blueprint, got "
                            f"{blueprint!r}; compile it with BlueprintBuilder().build(...)")
        self._registry[name] = blueprint

    async def execute(self, blueprint: Blueprint, initial_args: Sequence[Any] | None = None,
                      initial_kwargs: Mapping[str, Any] | None = None) -> Any:
        """Run ``blueprint`` on its own (the original Cascade's entry point): inputs
        from ``initial_args`` (positional inputs, in order) and ``initial_kwargs`` (by
        name), bound by the TailCall rule; a compiled blueprint's other inputs take
        their defaults. A failing task raises its own exception, with a note naming
        it. Resources: none are registered here (``inject`` needs an Engine)."""
        start = TailCall.explicit(initial_args or (), initial_kwargs)
        overrides = bind(start, blueprint.input_args, blueprint.input_kwargs, blueprint.name)
        registers = blueprint.initial_registers(None, overrides)
        ctx = RunContext(next(_run_ids), RunResources({}))
        return await self.run(blueprint, registers, ctx,
                              owned=f"VirtualMachine.execute of {blueprint.name}")

    async def run(self, bp: Blueprint, registers: list[Any], ctx: RunContext, *,
                  owned: str | None = None) -> Any:
        """Run ``bp`` from ``registers`` (its register file, e.g.
        ``bp.initial_registers(target)``; the VM may reuse that list) until a step
        returns something that is not a TailCall (or LazyResult); that value is the
        run's result. A failing task is a :class:`TaskError`.

        ``owned`` (a label such as ``"run 3, VM path"``): the run owns its ending, as
        ``Engine.run`` and :meth:`execute` promise: ``ctx``'s resources are closed when
        it ends, and a failing task raises its own exception with a note naming the
        task and the label. Without it the caller does both.

        The hot loop, for a ``single`` blueprint, is written out here rather than in a
        coroutine of its own: a long-lived agent then holds one coroutine frame less
        (docs/performance.md)."""
        try:
            while True:
                task_scoped = (await self._open_run_inputs(bp, registers, ctx)
                               if bp.input_injects else False)
                if not bp.single or task_scoped or self.bus.listening_tasks:
                    switch = await self._run_general(bp, registers, ctx)
                    if not isinstance(switch, _Switch):
                        return switch
                    bp, registers = self._switch(bp, registers, switch.tail)
                    continue
                # -- the hot loop: one call whose arguments are exactly its inputs ----------
                ins = bp.instructions[0]
                fn, is_async, name = ins.func, ins.is_async, ins.task_name
                n = len(bp.input_kwargs)
                inputs = registers  # the call's arguments, in order (Blueprint.single) ...
                del inputs[n:]  # ... without the output register
                index, positional, reserved = bp.input_kwargs, bp.input_args, bp.reserved
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
                                result = TailCall.explicit(target=result)
                                break
                            return result
                        if result.target is not None:
                            break
                        if result.args or reserved:  # positional values or a possible clash: the rule
                            bind_into(inputs, result, positional, index, name)
                        elif result.kwargs:  # the rule's common case, inlined
                            try:
                                for key, value in result.kwargs.items():
                                    inputs[index[key]] = value
                            except KeyError:  # not an input: the rule raises its error
                                bind_into(inputs, result, positional, index, name)
                        countdown -= 1
                        if not countdown:
                            countdown = yield_every
                            await _yield_to_loop()
                except CascadeError:
                    raise
                except Exception as exc:
                    raise TaskError(name, exc) from exc
                registers = inputs + [None] * (bp.register_count - n)
                bp, registers = self._switch(bp, registers, result)
        except TaskError as exc:
            if owned is None:
                raise
            failure = exc
        finally:
            if owned is not None:
                await ctx.resources.close()
        raise task_failure(failure, owned)

    # -- the general loop ---------------------------------------------------------
    async def _run_general(self, bp: Blueprint, regs: list[Any], ctx: RunContext) -> Any:
        inputs = {*bp.input_args, *bp.input_kwargs.values()}
        scratch = [i for i in range(bp.register_count) if i not in inputs]
        last = bp.instructions[-1]
        countdown = self.yield_every
        bus = self.bus
        while True:
            for ins in bp.instructions:
                if not isinstance(ins, Call):
                    raise CascadeError(f"unknown instruction {ins!r}; the VM runs Call instructions")
                if bus.listening_tasks:
                    bus.publish(TaskStarted(ctx.run_id, ins.task_name))
                value = regs[ins.output.index] = await self._call(ins, regs, ctx)
                if bus.listening_tasks:
                    bus.publish(TaskFinished(ctx.run_id, ins.task_name, True))
                if type(value) is TailCall and ins is not last:
                    raise CascadeError(f"task {ins.task_name!r} returned a TailCall but is not "
                                       f"the root of its blueprint; only the root may tail-call")
            result = regs[last.output.index]
            if type(result) is not TailCall:
                if isinstance(result, LazyResult):
                    return _Switch(TailCall.explicit(target=result))
                return result
            if result.target is not None:
                return _Switch(result)
            bind_into(regs, result, bp.input_args, bp.input_kwargs, bp.name)
            for i in scratch:
                regs[i] = None
            countdown -= 1
            if not countdown:
                countdown = self.yield_every
                await _yield_to_loop()

    async def _call(self, ins: Call, regs: list[Any], ctx: RunContext) -> Any:
        opened: list[tuple[Any, Any]] = []

        async def arguments() -> tuple[list[Any], dict[str, Any]]:
            args = [await self._operand(op, regs, ctx, opened) for op in ins.args]
            kwargs = {k: await self._operand(op, regs, ctx, opened) for k, op in ins.kwargs.items()}
            return args, kwargs

        return await invoke(ins.func, ins.is_async, ins.task_name, arguments,
                            self.resource_manager, ins.constraints or {}, opened)

    @staticmethod
    async def _operand(op: Any, regs: list[Any], ctx: RunContext,
                       opened: list[tuple[Any, Any]]) -> Any:
        kind = type(op)
        if kind is Register:
            value = regs[op.index]
            if type(value) is not Inject:
                return value
            name = value.name  # a root input defaulting to a task-scoped inject(...)
        elif kind is Literal:
            return op.value
        elif kind is Inject:
            name = op.name
        else:
            raise CascadeError(f"unknown operand {op!r}; a Call reads Register, Literal "
                               f"or Inject operands")
        provider = ctx.resources.provider(name)
        if provider.scope == "run":
            return await ctx.resources.get_run_scoped(name)
        gen, live = await open_resource(provider)
        opened.append((provider, gen))
        return live

    @staticmethod
    async def _open_run_inputs(bp: Blueprint, regs: list[Any], ctx: RunContext) -> bool:
        """Put the run's instance of each run-scoped resource a root input defaults to
        into that input's register. True when some input defaults to a task-scoped
        resource instead (opened per call: only the general loop does that)."""
        task_scoped = False
        for register, name in bp.input_injects.items():
            if type(regs[register]) is not Inject:
                continue  # given a value
            if ctx.resources.provider(name).scope == "run":
                regs[register] = await ctx.resources.get_run_scoped(name)
            else:
                task_scoped = True
        return task_scoped

    # -- switching blueprint ----------------------------------------------------------
    def _switch(self, bp: Blueprint, regs: list[Any], tail: TailCall) -> tuple[Blueprint, list[Any]]:
        """The blueprint and register file a TailCall with a target continues with.
        Inputs the TailCall does not name keep their values by name across the switch
        (except for a LazyResult target, whose literal arguments are the inputs)."""
        check_reserved(tail, bp.input_kwargs, bp.name)
        target = tail.target
        new = self._target_blueprint(target)
        overrides = bind(tail, new.input_args, new.input_kwargs, new.name)
        if isinstance(target, LazyResult):
            return new, _initial_registers(new, target, overrides, None)
        carried = {name: regs[i] for name, i in bp.input_kwargs.items()}
        return new, _initial_registers(new, None, overrides, carried)

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


def _initial_registers(bp: Blueprint, target: LazyResult | None, overrides: dict[int, Any],
                       carried: dict[str, Any] | None) -> list[Any]:
    """``bp.initial_registers`` for a TailCall switch: a missing value is the
    TailCall's fault, so it is a CascadeError naming it, not a TypeError."""
    try:
        return bp.initial_registers(target, overrides, carried)
    except TypeError as exc:
        raise CascadeError(f"TailCall to {bp.name}(): {exc}") from None


class _Switch:
    """Internal: the run continues on another blueprint."""

    __slots__ = ("tail",)

    def __init__(self, tail: TailCall) -> None:
        self.tail = tail
