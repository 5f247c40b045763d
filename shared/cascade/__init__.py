"""Cascade: a small declarative task runtime with a blueprint VM.

Agent code imports this one module::

    from shared import cascade as cs

    @cs.task
    async def countdown(n, clock=cs.inject("clock")):
        if n == 0:
            return "done"
        await clock.tick()
        return cs.TailCall(n=n - 1)

    await cs.Engine().run(countdown(10), use_vm=True)

See docs/cascade.md for the design: graph path versus VM path, template mode,
tail calls, resources and the ResourceManager.
"""

from ._blueprint import Blueprint, BlueprintBuilder, Instruction
from ._bus import MessageBus, RunFinished, RunStarted, TaskFinished, TaskStarted
from ._engine import Engine
from ._errors import (CascadeError, CompileError, ResourceUnavailable, TaskError,
                      UnknownResource)
from ._graph import Graph, LocalExecutor, NativeSolver, build_graph
from ._resource_manager import ResourceManager, ResourceStatistics
from ._resources import ResourceProvider, resource
from ._run_context import RunContext
from ._task import Inject, LazyResult, TailCall, Task, inject, task
from ._vm import VirtualMachine

__all__ = [
    "Blueprint", "BlueprintBuilder", "CascadeError", "CompileError", "Engine", "Graph",
    "Inject", "Instruction", "LazyResult", "LocalExecutor", "MessageBus", "NativeSolver",
    "ResourceManager", "ResourceProvider", "ResourceStatistics", "ResourceUnavailable",
    "RunContext", "RunFinished", "RunStarted", "TailCall", "Task", "TaskError",
    "TaskFinished", "TaskStarted", "UnknownResource", "VirtualMachine", "build_graph",
    "inject", "resource", "task",
]
