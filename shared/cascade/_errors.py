"""Exceptions of the Cascade runtime: one base class, named subclasses."""

from __future__ import annotations

__all__ = ["CascadeError", "TaskError", "ResourceUnavailable", "UnknownResource", "CompileError",
           "task_failure"]


class CascadeError(Exception):
    """Base class of every error the Cascade runtime raises on its own behalf."""


class TaskError(CascadeError):
    """A task raised. ``task_name`` names it; the original exception is ``__cause__``.

    Raised inside the runtime (by a call, through the graph path and the VM's loops).
    ``Engine.run`` and ``VirtualMachine.execute`` do not let it out: they raise the
    task's own exception, as the original Cascade does (see :func:`task_failure`).
    Not raised for errors in the runtime itself (other ``CascadeError`` subclasses).
    """

    def __init__(self, task_name: str, cause: BaseException) -> None:
        super().__init__(f"task {task_name!r} failed: {type(cause).__name__}: {cause}")
        self.task_name = task_name


class ResourceUnavailable(CascadeError):
    """``ResourceManager.acquire_nowait`` could not take the amounts right now.

    Not raised for requests that can never fit (those are ``ValueError``).
    """


class UnknownResource(CascadeError, LookupError):
    """``inject(name)`` named a resource that no provider registered on the engine has."""


class CompileError(CascadeError):
    """``BlueprintBuilder`` cannot turn the target into a blueprint."""


def task_failure(failure: TaskError, where: str) -> BaseException:
    """The task's own exception, to raise in place of ``failure``, with a note (PEP
    678, shown in tracebacks) naming the task and ``where`` it ran, e.g.
    ``Cascade: raised by task 'step' (run 3, VM path)``."""
    original = failure.__cause__
    if original is None:  # not built by the runtime: nothing to unwrap
        return failure
    original.add_note(f"Cascade: raised by task {failure.task_name!r} ({where})")
    return original
