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

Programs written for the original Cascade run unchanged once their import lines point
here (``import cascade as cs`` -> ``from shared import cascade as cs``; the full map of
import paths is in docs/cascade.md, "Porting from the original Cascade").

See docs/cascade.md for the design: graph path versus VM path, template mode,
tail calls, resources and the ResourceManager.
"""

from ._blueprint import (Blueprint, BlueprintBuilder, Call, Instruction, Literal, Operand,
                         Register)
from ._bus import Event, MessageBus, RunFinished, RunStarted, TaskFinished, TaskStarted
from ._connector import Connector
from ._engine import Engine
from ._errors import (CascadeError, CompileError, ResourceUnavailable, TaskError,
                      UnknownResource)
from ._graph import Graph, LocalExecutor, NativeSolver, build_graph
from ._resource_manager import ResourceManager, ResourceStatistics
from ._resources import ResourceProvider, resource
from ._run_context import RunContext
from ._scheduler import Run, Scheduler, Wakeup
from ._task import Inject, LazyResult, TailCall, Task, inject, task
from ._vm import VirtualMachine

__all__ = [
    "Blueprint", "BlueprintBuilder", "Call", "CascadeError", "CompileError", "Connector",
    "Engine", "Event", "Graph", "Inject", "Instruction", "LazyResult", "Literal",
    "LocalExecutor", "MessageBus", "NativeSolver", "Operand", "Register", "ResourceManager",
    "ResourceProvider", "ResourceStatistics", "ResourceUnavailable", "Run", "RunContext",
    "RunFinished", "RunStarted", "Scheduler", "TailCall", "Task", "TaskError", "TaskFinished",
    "TaskStarted", "UnknownResource", "VirtualMachine", "Wakeup", "build_graph", "inject", "resource",
    "task",
]
