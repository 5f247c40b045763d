"""What a worker is started with: :class:`WorkerOptions`.

A spawned worker's come from its command line and, for the secrets, its stdin
(``worker.main``); a joined worker's from the coordinator's answer to its join
(``worker.join``), which also measured its clock's offset. Not here: the shard's own
settings, which come later in the ``config`` message (``shared.shard_config``).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.clock_sync import SAME_HOST, Offset
from shared.credentials import Credentials

__all__ = ["WorkerOptions"]


@dataclass(frozen=True)
class WorkerOptions:
    """The coordinator's endpoints, our shard and secrets; for a joined worker also its
    clock offset."""

    control: str
    telemetry: str
    shard: int
    credentials: Credentials
    setup_timeout: float = 60.0
    offset: Offset = SAME_HOST  # coordinator clock - ours (shared.clock_sync)
    joined: bool = False  # --join: files go to the coordinator; the clock is re-measured

    @property
    def token(self) -> str:
        return self.credentials.token
