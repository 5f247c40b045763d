"""A joined worker's run-directory files, sent to the coordinator over the control
channel: the run directory lives on the coordinator's host, not this one.

* :class:`ShippedLog`: a text file that is only ever appended to (the shard log): each
  :meth:`~ShippedLog.flush` sends what was written since as one ``append [shard, name,
  data]``.
* :class:`Shipper.upload`: a whole file the worker wrote locally (a lock-step state or
  checkpoint part) goes as ``upload [shard, name, part, parts, data]`` messages of at
  most :data:`CHUNK_BYTES`, then the local copy is removed.

Control messages of one worker arrive in order, so every file is complete before the
worker's ``bye``. Spawned workers write into the run directory themselves and use
none of this. Not here: the coordinator's side, which checks each name and size
(``coordinator.uploads``).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Callable

from shared import limits

__all__ = ["CHUNK_BYTES", "Shipper", "ShippedLog"]

CHUNK_BYTES = limits.MAX_CONTROL_BYTES - 64 * 1024  # room for the message's other fields

Send = Callable[..., None]  # (kind, *fields) on the control channel


class ShippedLog(io.TextIOBase):
    """Appends to run-directory file ``name`` of shard ``shard``, one message a flush."""

    def __init__(self, shard: int, name: str, send: Send) -> None:
        super().__init__()
        self._shard, self._name, self._send = shard, name, send
        self._pending: list[str] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:  # type: ignore[override]
        self._pending.append(text)
        return len(text)

    def flush(self) -> None:
        if self.closed or not self._pending:
            return
        data = "".join(self._pending).encode("utf-8")
        self._pending.clear()
        for start in range(0, len(data), CHUNK_BYTES):
            self._send("append", self._shard, self._name, data[start:start + CHUNK_BYTES])

    def close(self) -> None:
        if not self.closed:
            self.flush()
        super().close()


class Shipper:
    """Sends shard ``shard``'s files to the coordinator with ``send``."""

    def __init__(self, shard: int, send: Send) -> None:
        self.shard = shard
        self._send = send

    def log(self, name: str) -> ShippedLog:
        return ShippedLog(self.shard, name, self._send)

    def upload(self, path: Path) -> None:
        """Send the local file ``path`` as run-directory file ``path.name``, then remove it."""
        data = path.read_bytes()
        parts = max(1, -(-len(data) // CHUNK_BYTES))
        for part in range(parts):
            chunk: Any = data[part * CHUNK_BYTES:(part + 1) * CHUNK_BYTES]
            self._send("upload", self.shard, path.name, part, parts, chunk)
        os.unlink(path)
