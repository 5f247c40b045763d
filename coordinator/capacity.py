"""What this machine can run: the largest grid and the most workers a run may ask for,
checked before anything is allocated or spawned (docs/defaults.md, "Maxima").

* Agents: at most :data:`MAX_AGENTS` (a hard cap: cell ids travel as int32, and no
  grid this size fits a workstation), and no more than the memory available now
  allows at :data:`BYTES_PER_AGENT` per agent plus :data:`BYTES_PER_WORKER` per worker
  (measured: an idle worker's RSS is ~44 MiB, each agent adds 4.3–5.1 KiB).
* Workers: at most :data:`MAX_WORKERS`, and within the process limit
  (``RLIMIT_NPROC``, which counts threads) left to this user: each worker is
  :data:`TASKS_PER_WORKER` tasks (its main thread and ZeroMQ's threads).

Not here: the option rules that do not depend on the machine (``config``).
"""

from __future__ import annotations

import os
import resource

import psutil

__all__ = ["MAX_AGENTS", "MAX_WORKERS", "BYTES_PER_AGENT", "BYTES_PER_WORKER", "TASKS_PER_WORKER",
           "memory_available", "agents_that_fit", "tasks_left"]

MAX_AGENTS = 2 ** 24          # 16,777,216 cells, e.g. 4096x4096
MAX_WORKERS = 256
BYTES_PER_AGENT = 5 * 1024    # README's scaling table: 5.1 KiB per agent at 100k agents
BYTES_PER_WORKER = 48 * 1024 * 1024  # an idle worker's RSS, rounded up
TASKS_PER_WORKER = 4          # main thread, ZeroMQ I/O thread and reaper, one spare
SPARE_TASKS = 32              # left for the coordinator, the shell and the rest


def memory_available() -> int:
    """Bytes of memory available to new processes now (psutil's estimate)."""
    return int(psutil.virtual_memory().available)


def agents_that_fit(workers: int, available: int | None = None) -> int:
    """How many agents ``workers`` workers can hold in the memory available now."""
    free = memory_available() if available is None else available
    return max(0, (free - workers * BYTES_PER_WORKER) // BYTES_PER_AGENT)


def tasks_left() -> int | None:
    """Tasks (processes and threads) this user may still start under RLIMIT_NPROC, or
    None when there is no limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    if soft == resource.RLIM_INFINITY:
        return None
    uid = os.getuid()
    used = 0
    for proc in psutil.process_iter(["uids", "num_threads"]):
        info = proc.info
        uids = info.get("uids")
        if uids is not None and uids.real == uid:
            used += info.get("num_threads") or 1
    return max(0, soft - used)
