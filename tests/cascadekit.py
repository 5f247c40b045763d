"""Helpers shared by the shared.cascade tests: run a target on the VM, let other
tasks run a few times, and a ResourceManager's state at a glance."""

from __future__ import annotations

import asyncio
from typing import Any

from shared import cascade as cs


def run_vm(engine: cs.Engine, target: Any) -> Any:
    return asyncio.run(engine.run(target, use_vm=True))


async def spin(n: int) -> None:
    """Let other tasks run ``n`` times (a deterministic stand-in for a sleep)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def settle() -> None:
    await spin(5)


def state(rm: cs.ResourceManager) -> tuple[dict[str, int], dict[str, int], int]:
    """Capacity, in use and waiters now (``waited`` is a cumulative count, tested apart)."""
    stats = rm.statistics()
    return stats.capacity, stats.in_use, stats.waiters
