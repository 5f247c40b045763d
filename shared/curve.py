"""CurveZMQ for ``--transport tcp``: the run's keypairs, the two socket roles, and the
ZAP allow-list that refuses every key it was not given.

* :class:`Keypair`: one CurveZMQ keypair (z85 text), made per run
  (:meth:`Keypair.generate`), never written to disk or a command line.
* :func:`server` / :func:`client`: the socket options of a curve server (a bound
  socket: it proves its key and asks ZAP about each client) and of a curve client (it
  knows the server's public key, so it talks only to that server).
* :class:`KeyRing`: the public keys that may connect, asked by the ZAP handler for each
  handshake; refusals are counted (:attr:`KeyRing.refused`) and logged. A key ring made
  with ``ready=False`` holds each handshake until :meth:`KeyRing.allow` gives it its
  keys (a worker learns its neighbours' keys only from ``peers``, and a neighbour may
  connect a moment before that message is read: libzmq does not retry a refused
  handshake).
* :func:`guarding`: pyzmq's ``ThreadAuthenticator`` on a context, asking a key ring.

Not here: which key belongs to which shard (``coordinator.security``), or checking the
sender of each message (``shared.senders``). ipc runs use none of this: their sockets
live in a 0700 folder (docs/security.md).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Mapping

import zmq

__all__ = ["Keypair", "SocketSetup", "ZAP_DOMAIN", "JOIN_DOMAIN", "KEY_CHARS", "KeyRing",
           "client", "guarding", "require_curve", "server"]

log = logging.getLogger(__name__)

ZAP_DOMAIN = "cascade"
JOIN_DOMAIN = "cascade-join"  # the join socket of --listen: only the run's client key
KEY_CHARS = 40  # a z85-encoded curve key
SocketSetup = Callable[[zmq.Socket], None]  # applied to a socket before bind/connect
_LOGGED_REFUSALS = 10  # refusals logged one by one; later ones only counted (and every 100th)


def require_curve() -> None:
    """Fail with the fix when this libzmq cannot do CurveZMQ."""
    if not zmq.has("curve"):
        raise RuntimeError(
            f"--transport tcp needs CurveZMQ, but libzmq {zmq.zmq_version()} was built without "
            "it (no libsodium/tweetnacl): install a pyzmq wheel with bundled libzmq "
            "(pip install --force-reinstall pyzmq) or use --transport ipc")


@dataclass(frozen=True)
class Keypair:
    """One CurveZMQ keypair, z85 text (40 characters each)."""

    public: str
    secret: str

    def __post_init__(self) -> None:
        for name, key in (("public", self.public), ("secret", self.secret)):
            if len(key) != KEY_CHARS:
                raise ValueError(f"curve {name} key of {len(key)} characters: "
                                 f"must be {KEY_CHARS} (z85, from zmq.curve_keypair())")

    @classmethod
    def generate(cls) -> "Keypair":
        require_curve()
        public, secret = zmq.curve_keypair()
        return cls(public.decode("ascii"), secret.decode("ascii"))

    def __repr__(self) -> str:  # never print the secret
        return f"Keypair(public={self.public!r})"


def server(keys: Keypair, domain: str = ZAP_DOMAIN) -> SocketSetup:
    """A curve server: proves ``keys`` and asks the ZAP handler of ``domain`` about
    every client."""

    def setup(sock: zmq.Socket) -> None:
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret.encode("ascii"))
        sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public.encode("ascii"))
        sock.setsockopt(zmq.ZAP_DOMAIN, domain.encode("ascii"))

    return setup


def client(keys: Keypair, server_public: str) -> SocketSetup:
    """A curve client with ``keys`` that talks only to the server with ``server_public``."""
    if len(server_public) != KEY_CHARS:
        raise ValueError(f"server key {server_public!r}: must be a {KEY_CHARS}-character z85 key")

    def setup(sock: zmq.Socket) -> None:
        sock.setsockopt(zmq.CURVE_SERVERKEY, server_public.encode("ascii"))
        sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public.encode("ascii"))
        sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret.encode("ascii"))

    return setup


class KeyRing:
    """The public keys (z85) allowed to connect; the ZAP handler's credentials provider.

    ``name`` labels it in logs. With ``ready=False`` a handshake waits (up to
    ``wait_s``, in the authenticator's thread) until :meth:`allow` is called."""

    def __init__(self, keys: Iterable[str] = (), *, name: str, ready: bool = True,
                 wait_s: float = 20.0) -> None:
        self.name = name
        self.refused = 0
        self._keys: set[bytes] = {k.encode("ascii") for k in keys}
        self._ready = threading.Event()
        self._wait_s = wait_s
        if ready:
            self._ready.set()

    def allow(self, keys: Iterable[str]) -> None:
        """Add ``keys`` and release the handshakes that waited for them."""
        self._keys |= {k.encode("ascii") for k in keys}
        self._ready.set()

    def close(self) -> None:
        """Hold no handshake any longer: those waiting are decided now (with the keys
        given so far), so the authenticator can stop at once."""
        self._ready.set()

    def callback(self, domain: str, key: bytes) -> bool:
        """pyzmq's credentials-provider hook: True to let ``key`` (z85) in. Called in
        the authenticator's own thread (:func:`guarding`), which it may block while
        the keys are not known yet."""
        self._ready.wait(self._wait_s)
        if key in self._keys:
            return True
        self.refused += 1
        if self.refused <= _LOGGED_REFUSALS or self.refused % 100 == 0:
            log.warning("%s: refused a CurveZMQ handshake from unknown key %s (%d refused so far)",
                        self.name, key.decode("ascii", "replace"), self.refused)
        return False


@contextlib.contextmanager
def guarding(ctx: zmq.Context, keyring: KeyRing,
             domains: Mapping[str, KeyRing] | None = None) -> Iterator[None]:
    """Run a ZAP handler on ``ctx`` that lets in only ``keyring``'s keys (on servers of
    :data:`ZAP_DOMAIN`) and each of ``domains``' own key ring on servers of that
    domain, for the block. Every curve server of ``ctx`` must be made inside it."""
    from zmq.auth.thread import ThreadAuthenticator

    rings = {ZAP_DOMAIN: keyring, **(domains or {})}
    auth = ThreadAuthenticator(ctx, log=logging.getLogger(f"{__name__}.zap"))
    auth.start()
    try:
        for domain, ring in rings.items():
            auth.configure_curve_callback(domain, credentials_provider=ring)
        yield
    finally:
        for ring in rings.values():
            ring.close()  # a handshake held for keys must not hold up the stop
        auth.stop()
