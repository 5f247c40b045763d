"""Files that joined workers send for the run directory (``worker.shipping``): their
shard log (and with ``--trace-quota``/``--trace-signals`` their traces), appended a
line at a time, and their lock-step state and checkpoint parts, whole, in parts.

:class:`RunUploads` checks every message before it writes a byte: it must come from a
shard that joins from another host (``remote``; spawned workers write their files
themselves), name a file that shard owns (``shard-K.jsonl``, ``quota-K.jsonl``,
``signals-K.jsonl``; ``state-K.npz``,
``checkpoint-K-W.npz``), stay within the size bounds, and send its parts in order.
A whole file is written to ``NAME.partial`` and renamed when its last part arrives, so
the merge (``final_state``) never reads half a file. Raises
:class:`~shared.protocol.ProtocolError` to reject (the control channel counts it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Collection

from shared.protocol import ProtocolError
from shared.runlog.schema import (checkpoint_part, part_window, quota_trace, shard_log,
                                  signal_trace, state_part)

__all__ = ["RunUploads", "MAX_FILE_BYTES", "UPLOAD_KINDS"]

UPLOAD_KINDS = ("append", "upload")
MAX_FILE_BYTES = 4 * 2 ** 30  # a lock-step flash train of 2**28 flashes fits


class RunUploads:
    """Writes joined shards' files into ``run_dir``; ``remote`` are the shards that may."""

    def __init__(self, run_dir: Path, remote: Collection[int]) -> None:
        self.run_dir = run_dir
        self.remote = remote
        self._sizes: dict[str, int] = {}  # bytes written per file name
        self._next_part: dict[str, tuple[int, int]] = {}  # name -> (next part, parts)

    def on_message(self, kind: str, fields: list[Any]) -> None:
        shard, name = fields[0], fields[1]
        if shard not in self.remote:
            raise ProtocolError(f"{kind} from shard {shard}, a worker on this host")
        if kind == "append":
            self._append(shard, name, fields[2])
        else:
            self._part(shard, name, *fields[2:])

    def _append(self, shard: int, name: str, data: bytes) -> None:
        if name not in (shard_log(shard), quota_trace(shard), signal_trace(shard)):
            raise ProtocolError(f"append to {name!r} from shard {shard}: not one of its logs")
        self._grow(name, len(data))
        with open(self.run_dir / name, "ab") as f:
            f.write(data)

    def _part(self, shard: int, name: str, part: int, parts: int, data: bytes) -> None:
        window = part_window(name)
        owned = state_part(shard) if window is None else checkpoint_part(shard, window)
        if name != owned:
            raise ProtocolError(f"upload of {name!r} from shard {shard}: not its file")
        if not 1 <= parts <= MAX_FILE_BYTES // 1024:
            raise ProtocolError(f"upload of {name} in {parts} parts")
        expected = self._next_part.get(name, (0, parts))
        if (part, parts) != expected:
            raise ProtocolError(f"upload of {name}: part {part}/{parts}, expected "
                                f"{expected[0]}/{expected[1]}")
        partial = self.run_dir / (name + ".partial")
        if part == 0:
            self._sizes[name] = 0
        self._grow(name, len(data))
        with open(partial, "wb" if part == 0 else "ab") as f:
            f.write(data)
        if part + 1 < parts:
            self._next_part[name] = (part + 1, parts)
            return
        self._next_part.pop(name, None)
        os.replace(partial, self.run_dir / name)

    def _grow(self, name: str, size: int) -> None:
        total = self._sizes.get(name, 0) + size
        if total > MAX_FILE_BYTES:
            raise ProtocolError(f"{name} would grow past {MAX_FILE_BYTES:,} bytes")
        self._sizes[name] = total
