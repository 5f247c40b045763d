"""Exceptions of the Cascade runtime: one base class, named subclasses."""

from __future__ import annotations

__all__ = ["CascadeError", "TaskError", "ResourceUnavailable", "UnknownResource", "CompileError"]


class CascadeError(Exception):
    """Base class of every error the Cascade runtime raises on its own behalf."""


class TaskError(CascadeError):
    """A task raised. ``task_name`` names it; the original exception is ``__cause__``.

    Raised by ``Engine.run`` on both the graph and the VM path. Not raised for errors in
    the runtime itself (those are other ``CascadeError`` subclasses).
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
