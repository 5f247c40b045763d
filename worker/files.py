"""Where a worker's run-directory files go: :class:`RunFiles`.

A spawned worker shares the coordinator's host and writes into the run directory
itself. A joined worker (``sim-worker --join``) may be on another host: it writes its
files into a private folder of its own (removed when it stops) and sends them to the
coordinator (``worker.shipping``): its logs (the shard log, the traces) a flush at a
time, a lock-step part once it is whole. Either way the run directory ends up the same.

Not here: what is in the files (``frames``, ``lockstep_files``) or the files a worker
reads (the run's ``--init`` phases and ``--resume`` checkpoint: the coordinator refuses
those options for joined workers).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO

from .agents import SignalTrace
from .shipping import Shipper

__all__ = ["RunFiles"]


class RunFiles:
    """Shard ``shard``'s files: in ``run_dir``, or shipped by ``shipper`` (a joined
    worker; then ``run_dir`` is only the coordinator's name for it)."""

    def __init__(self, shard: int, run_dir: str, shipper: Shipper | None = None) -> None:
        self.shard = shard
        self._shipper = shipper
        self.folder = run_dir if shipper is None else tempfile.mkdtemp(prefix="cascade-worker-")
        self._open: list[IO[str]] = []

    def log(self, name: str) -> IO[str]:
        """File ``name``, opened for appending; closed by :meth:`close`."""
        f: IO[str] = (open(os.path.join(self.folder, name), "a") if self._shipper is None
                      else self._shipper.log(name))
        self._open.append(f)
        return f

    def signal_trace(self, name: str) -> SignalTrace:
        f = self.log(name)

        def trace(t: float, source: int, target: int, via: str) -> None:
            f.write(json.dumps({"t": round(t, 6), "from": source, "to": target, "via": via}) + "\n")

        return trace

    def written(self, name: str) -> None:
        """Whole file ``name`` has just been written into :attr:`folder`: ship it."""
        if self._shipper is not None:
            self._shipper.upload(Path(self.folder) / name)

    def close(self) -> None:
        for f in self._open:
            f.close()
        self._open.clear()
        if self._shipper is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
