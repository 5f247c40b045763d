"""Engine: runs targets on the graph path or the blueprint VM.

One Engine serves any number of concurrent ``run()`` calls. It holds configuration
only (solver, executor, bus, resource providers, the optional ResourceManager, the
blueprint cache); everything that belongs to one run (its id, its open resources, its
intermediate results) lives in a :class:`RunContext` created by that ``run()`` call.

The Engine builds its VirtualMachine and hands it what it needs (its cached
``compile``, the bus, the ResourceManager); the VM never sees the Engine.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Coroutine, Mapping

from ._blueprint import Blueprint, BlueprintBuilder, structure_key
from ._bus import MessageBus, RunFinished, RunStarted
from ._errors import CascadeError, TaskError, task_failure
from ._graph import LocalExecutor, NativeSolver, Node, build_graph
from ._resource_manager import ResourceManager
from ._invoke import invoke
from ._resources import ResourceProvider, RunResources, open_resource
from ._run_context import RunContext
from ._scheduler import Run, Scheduler
from ._tailcall import bind, call_inputs, check_reserved
from ._task import Inject, LazyResult, Task, TailCall
from ._vm import VirtualMachine

__all__ = ["Engine"]


class Engine:
    """Runs Cascade targets, in memory. Configuration is fixed at construction: the
    bus and ResourceManager given here are shared with the VM and not meant to be
    replaced afterwards."""

    def __init__(
        self,
        solver: NativeSolver | None = None,
        executor: LocalExecutor | None = None,
        bus: MessageBus | None = None,
        resource_manager: ResourceManager | None = None,
        *,
        system_resources: Mapping[str, float] | None = None,
        yield_every: int = 1,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.solver = solver or NativeSolver()
        self.executor = executor or LocalExecutor()
        self.bus = bus or MessageBus()
        if system_resources is not None:  # the original's way to size the manager
            if resource_manager is None:
                resource_manager = ResourceManager(system_resources)
            else:
                resource_manager.set_capacity(system_resources)
        self.resource_manager = resource_manager
        self.scheduler = scheduler if scheduler is not None else Scheduler()
        self.providers: dict[str, ResourceProvider] = {}
        self.builder = BlueprintBuilder()
        self.vm = VirtualMachine(self.compile, bus=self.bus, resource_manager=resource_manager,
                                 yield_every=yield_every)
        self._blueprints: dict[Any, Blueprint] = {}
        self._task_blueprints: dict[Task, Blueprint] = {}
        self._run_ids = itertools.count(1)

    # -- configuration ---------------------------------------------------------------
    def register(self, provider: ResourceProvider) -> None:
        """Make a ``@resource`` provider available to ``inject(provider.name)``."""
        if not isinstance(provider, ResourceProvider):
            raise TypeError(f"register() takes a @resource provider, got {provider!r}")
        self.providers[provider.name] = provider

    def register_blueprint(self, name: str, target: LazyResult | Task | Blueprint) -> Blueprint:
        """Compile ``target`` (unless it is a Blueprint already) and make it reachable
        as ``TailCall(target=name)``."""
        blueprint = target if isinstance(target, Blueprint) else self.compile(target)
        self.vm.register_blueprint(name, blueprint)
        return blueprint

    def compile(self, target: LazyResult | Task) -> Blueprint:
        """The template blueprint of ``target``, compiled once per structure and then
        reused."""
        if isinstance(target, Task):
            bp = self._task_blueprints.get(target)
            if bp is None:
                bp = self._task_blueprints[target] = self.builder.build(target, template=True)
            return bp
        key = structure_key(target)
        if key is None:
            return self.builder.build(target, template=True)
        bp = self._blueprints.get(key)
        if bp is None:
            bp = self._blueprints[key] = self.builder.build(target, template=True)
        return bp

    # -- running ---------------------------------------------------------------------
    def spawn(self, target: Any, use_vm: bool = True) -> Run:
        """Start ``engine.run(target, use_vm=use_vm)`` as a run of the engine's
        :class:`Scheduler` (one asyncio task for all of them) instead of an asyncio
        Task of its own: the way to hold many long-lived agents. Its alarms must be
        the scheduler's Wakeups or asyncio awaitables; collect outcomes with
        ``await engine.scheduler.join()`` and ``Run.outcome()``."""
        return self.scheduler.spawn(self.run(target, use_vm=use_vm))

    def run(self, target: Any, params: Mapping[str, Any] | None = None,
            use_vm: bool = False) -> Coroutine[Any, Any, Any]:
        """Run ``target`` (a LazyResult; any other value is returned as it is): await
        what this returns for its result. A failing task raises its own exception, as
        in the original Cascade, with a note naming the task, the run and the path.

        ``params`` are the run's parameters, as the original's ``engine.run(target,
        params=...)``: published in :class:`RunStarted`; this runtime has no
        ``cs.Param`` node, so nothing else reads them (docs/cascade.md).

        It is a plain method that returns a coroutine, not ``async def``: on the VM
        path, with no bus listener, that coroutine is the VM's own run, so a
        long-lived agent holds one coroutine frame, not two (docs/performance.md)."""
        if not isinstance(target, LazyResult):
            return _value(target)
        ctx = RunContext(next(self._run_ids), RunResources(self.providers))
        label = f"run {ctx.run_id}, {'VM' if use_vm else 'graph'} path"
        if self.bus.listening:
            self.bus.publish(RunStarted(ctx.run_id, target.task.name, use_vm,
                                        None if params is None else dict(params)))
            return self._observed(target, use_vm, ctx, label)
        return self._owned(target, use_vm, ctx, label)

    def _owned(self, target: LazyResult, use_vm: bool, ctx: RunContext,
               label: str) -> Coroutine[Any, Any, Any]:
        """The run as one coroutine that closes its resources and unwraps a failure."""
        if not use_vm:
            return self._run_graph_owned(target, ctx, label)
        try:
            blueprint = self.compile(target)
            registers = blueprint.initial_registers(target)
        except Exception as exc:  # raised when awaited, as from an async def
            return _raise(exc)
        return self.vm.run(blueprint, registers, ctx, owned=label)

    async def _observed(self, target: LazyResult, use_vm: bool, ctx: RunContext,
                        label: str) -> Any:
        """The run, then :class:`RunFinished` on the bus (a listener is subscribed)."""
        name = target.task.name
        ok, error = False, None
        try:
            result = await self._owned(target, use_vm, ctx, label)
            ok = True
            return result
        except BaseException as exc:
            error = repr(exc)
            raise
        finally:
            if self.bus.listening:
                self.bus.publish(RunFinished(ctx.run_id, name, ok, error))

    async def _run_graph_owned(self, target: LazyResult, ctx: RunContext, label: str) -> Any:
        try:
            return await self._run_graph(target, ctx)
        except TaskError as exc:
            failure = exc
        finally:
            await ctx.resources.close()
        raise task_failure(failure, label)

    async def _run_graph(self, target: LazyResult, ctx: RunContext) -> Any:
        """Build, solve and execute; a result that is a LazyResult (or TailCall) is
        run next in the same loop, so graph-path tail calls do not grow the stack."""
        current = target
        while True:
            graph = build_graph(current)
            results: dict[int, Any] = {}
            for stage in self.solver.resolve(graph):
                if len(stage) == 1:
                    results[id(stage[0])] = await self._execute_node(stage[0], results, ctx)
                else:
                    values = await _gather_or_cancel(
                        [self._execute_node(node, results, ctx) for node in stage])
                    for node, value in zip(stage, values):
                        results[id(node)] = value
            value = results[id(graph.root)]
            if isinstance(value, LazyResult):
                current = value
            elif type(value) is TailCall:
                current = _tail_call_as_lazy(current, value)
            else:
                return value

    async def _execute_node(self, node: Node, results: dict[int, Any], ctx: RunContext) -> Any:
        lazy = node.lazy
        deps = {id(d.lazy): results[id(d)] for d in node.deps}
        opened: list[tuple[ResourceProvider, Any]] = []

        async def value_of(value: Any) -> Any:
            if isinstance(value, LazyResult):
                return deps[id(value)]
            if isinstance(value, Inject):
                provider = ctx.resources.provider(value.name)
                if provider.scope == "run":
                    return await ctx.resources.get_run_scoped(value.name)
                gen, live = await open_resource(provider)
                opened.append((provider, gen))
                return live
            return value

        async def arguments() -> tuple[list[Any], dict[str, Any]]:
            args = [await value_of(a) for a in lazy.args]
            kwargs = {k: await value_of(v) for k, v in lazy.kwargs.items()}
            for param, name in lazy.task.injected_defaults.items():
                if param not in kwargs and param not in lazy.task.param_names[: len(args)]:
                    kwargs[param] = await value_of(Inject(name))
            return args, kwargs

        task = lazy.task
        return await invoke(task.fn, task.is_async, task.name, arguments, self.resource_manager,
                            lazy.constraints, opened, self.executor.execute)


def _tail_call_as_lazy(current: LazyResult, tail: TailCall) -> LazyResult:
    """On the graph path a TailCall becomes a new LazyResult: the current call (or the
    target's) with the TailCall's values bound by ``_tailcall.bind``, the VM's rule."""
    target = tail.target
    if target is not None:  # a task with an input named "target" cannot tell which was meant
        was = current.task.signature.bind_partial(*current.args, **current.kwargs).arguments
        check_reserved(tail, call_inputs(current.task, was), current.task.name)
    if target is None:
        base = current
    elif isinstance(target, LazyResult):
        base = target
    elif isinstance(target, Task):
        base = LazyResult(target, (), {})
    else:
        raise CascadeError(f"TailCall target {target!r} is only valid on the VM path; "
                           f"on the graph path give a Task or LazyResult")
    bound = base.task.signature.bind_partial(*base.args, **base.kwargs).arguments
    if isinstance(target, Task):  # carry the current inputs over by name, as the VM does
        previous = current.task.signature.bind_partial(*current.args, **current.kwargs)
        previous.apply_defaults()
        was = previous.arguments
        params = base.task.signature.parameters
        bound = {k: was[k] for k in call_inputs(current.task, was) if k in was and k in params}
    inputs = call_inputs(base.task, bound)
    values = bind(tail, range(len(inputs)), {name: i for i, name in enumerate(inputs)},
                  base.task.name)
    bound.update((inputs[i], value) for i, value in values.items())
    return LazyResult(base.task, (), dict(bound), base.constraints)


async def _gather_or_cancel(coros: list[Any]) -> list[Any]:
    """Run coroutines concurrently; on the first error cancel the rest and raise it."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        pending = [t for t in tasks if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    for t in tasks:
        if not t.cancelled() and t.exception() is not None:
            raise t.exception()  # type: ignore[misc]
    return [t.result() for t in tasks]


async def _value(value: Any) -> Any:
    return value


async def _raise(exc: BaseException) -> Any:
    raise exc
