"""Where the run's sockets listen: one private folder of ipc endpoints, or loopback tcp.

:class:`Endpoints` names the endpoint for each socket of the run (``control``,
``telemetry``, ``edge-K``): ``ipc://<dir>/<name>.sock`` in a fresh 0700 temporary
folder (removed by :meth:`Endpoints.close`), or ``tcp://127.0.0.1:*`` (a random
port; read the bound one from the socket) with ``--transport tcp``. Nothing listens
on other interfaces.

Not here: the sockets themselves (``control``, ``telemetry``; the workers bind their
edge inboxes).
"""

from __future__ import annotations

import shutil
import tempfile

__all__ = ["Endpoints", "TRANSPORTS"]

TRANSPORTS = ("ipc", "tcp")


class Endpoints:
    """The run's endpoint names; a context manager that removes the ipc folder."""

    def __init__(self, transport: str) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport {transport!r}: must be one of {', '.join(TRANSPORTS)}")
        self.transport = transport
        self.folder = tempfile.mkdtemp(prefix="cascade-")  # mode 0700

    def __enter__(self) -> "Endpoints":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __call__(self, name: str) -> str:
        """The endpoint to bind socket ``name`` on."""
        if self.transport == "tcp":
            return "tcp://127.0.0.1:*"
        return f"ipc://{self.folder}/{name}.sock"

    def edge_inbox(self, shard: int) -> str:
        return self(f"edge-{shard}")

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
