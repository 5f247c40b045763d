"""The run's secrets and who may speak for each shard: :class:`RunSecurity`.

Made before any socket: a random token (every ``hello`` and ``edge_hello`` carries it)
and, with ``--transport tcp``, CurveZMQ keypairs made for this run only: one for the
coordinator's bound sockets (control, telemetry) and one per worker. Each worker gets
its :class:`~shared.credentials.Credentials` (token, its keypair, the coordinator's
public key) on its stdin pipe (``launcher``); the workers' public keys go to their
neighbours in ``peers``.

:meth:`RunSecurity.sender` is what a shard's messages must show as their
authenticated sender (``shared.senders``): its curve key with tcp, and with ipc the
pid of the worker process we spawned for it (:meth:`RunSecurity.worker_started`).
:meth:`RunSecurity.guarding` runs the ZAP handler that refuses every other key.

Not here: checking messages (``control``, ``telemetry``), the folder of ipc sockets
(``endpoints``). docs/security.md says what this protects against, and what not.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from typing import Iterator

import zmq

from shared.credentials import Credentials
from shared.curve import (JOIN_DOMAIN, Keypair, KeyRing, SocketSetup, guarding, require_curve,
                          server)
from shared.keyfiles import CoordinatorKeys
from shared.senders import curve_identity, ipc_identity

__all__ = ["RunSecurity"]

log = logging.getLogger(__name__)


class RunSecurity:
    """Secrets of one run with ``workers`` shards over ``transport`` (ipc or tcp).

    With ``keys`` (``--keys DIR``, for ``--listen``) the coordinator's sockets prove
    the key pair from DIR, and workers may join with the run's client key: the first
    ``spawned`` shards are started here (with keys made for this run), the others are
    admitted as they join (:meth:`admit`), each with the key it made for itself."""

    def __init__(self, transport: str, workers: int, *, keys: CoordinatorKeys | None = None,
                 spawned: int | None = None) -> None:
        self.curve = transport == "tcp" or keys is not None
        self.token = secrets.token_hex(16)
        self._senders: dict[int, str] = {}
        self._worker_keys: dict[int, Keypair] = {}
        self._joined_keys: dict[int, str] = {}  # shard -> a joined worker's public key
        self._server_keys: Keypair | None = None
        self.join_keyring: KeyRing | None = None
        if self.curve:
            require_curve()
            self._server_keys = keys.server if keys is not None else Keypair.generate()
            local = range(workers if spawned is None else spawned)
            self._worker_keys = {k: Keypair.generate() for k in local}
            self._senders = {k: curve_identity(keys.public) for k, keys in self._worker_keys.items()}
        if keys is not None:  # --listen: joining workers prove they hold the client key
            self.join_keyring = KeyRing([keys.client_public], name="join")
        self.keyring = KeyRing((keys.public for keys in self._worker_keys.values()),
                               name="coordinator")

    def server_socket(self) -> SocketSetup | None:
        """The CurveZMQ role of the coordinator's bound sockets (None on ipc)."""
        return None if self._server_keys is None else server(self._server_keys)

    def join_socket(self) -> SocketSetup:
        """The CurveZMQ role of the join socket (``--listen``): its own ZAP domain, where
        only the run's client key gets in."""
        assert self._server_keys is not None and self.join_keyring is not None, "--keys given"
        return server(self._server_keys, JOIN_DOMAIN)

    def admit(self, shard: int, public_key: str) -> None:
        """Worker ``shard`` joined with its own ``public_key``: from now on it may
        connect to the control and telemetry sockets, and its messages must show it."""
        Keypair(public_key, public_key)  # checks the length: a ValueError names it
        self._joined_keys[shard] = public_key
        self._senders[shard] = curve_identity(public_key)
        self.keyring.allow([public_key])

    @property
    def refused(self) -> int:
        """CurveZMQ handshakes refused so far (unknown keys), on every socket."""
        return self.keyring.refused + (self.join_keyring.refused if self.join_keyring else 0)

    def credentials(self, shard: int) -> Credentials:
        """What worker ``shard`` is handed on its stdin."""
        if self._server_keys is None:
            return Credentials(self.token)
        keys = self._worker_keys[shard]
        return Credentials(self.token, keys.public, keys.secret, self._server_keys.public)

    def public_key(self, shard: int) -> str:
        """Worker ``shard``'s public key, for its neighbours ("" on ipc)."""
        keys = self._worker_keys.get(shard)
        return keys.public if keys is not None else self._joined_keys.get(shard, "")

    def worker_started(self, shard: int, pid: int) -> None:
        """Worker ``shard`` runs as ``pid``: on ipc, its messages must come from that pid."""
        if not self.curve:
            self._senders[shard] = ipc_identity(pid)

    def sender(self, shard: int) -> str | None:
        """The authenticated sender shard ``shard``'s messages must show (None: unknown,
        nothing it sends is accepted)."""
        return self._senders.get(shard)

    @contextlib.contextmanager
    def guarding(self, ctx: zmq.Context) -> Iterator[None]:
        """With tcp, a ZAP handler on ``ctx`` that lets in only the workers' keys."""
        if not self.curve:
            yield
            return
        try:
            domains = {JOIN_DOMAIN: self.join_keyring} if self.join_keyring is not None else None
            with guarding(ctx, self.keyring, domains):
                yield
        finally:
            if self.refused:
                log.warning("refused %d CurveZMQ handshakes from unknown keys", self.refused)
