"""RunContext: the state of one run, created by ``Engine.run`` and handed to the path
that runs it (graph or VM). It is not configuration (that stays on the Engine and the
VirtualMachine) and is never shared between runs."""

from __future__ import annotations

from dataclasses import dataclass

from ._resources import RunResources

__all__ = ["RunContext"]


@dataclass(slots=True)
class RunContext:
    """State of one run: its id (as in the bus events) and the resources it opened."""

    run_id: int
    resources: RunResources
