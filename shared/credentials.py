"""What a worker must know that nobody else may: handed over on its stdin, never on a
command line (``/proc/PID/cmdline`` is readable by every local user).

:class:`Credentials` is the run's token, the worker's own CurveZMQ keypair and the
coordinator's public key (the keys are empty strings on ipc runs). The coordinator
writes it as one JSON line to the worker's stdin pipe and closes the pipe
(:meth:`Credentials.to_line`); the worker reads that line first thing
(:meth:`Credentials.read`).

Not here: making the keys (``shared.curve``) or the neighbours' public keys (they
come in the ``peers`` message: public keys are no secret).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO

from .curve import Keypair

__all__ = ["Credentials", "CredentialsError"]

_FIELDS = ("token", "public", "secret", "server")


class CredentialsError(ValueError):
    """The credentials line is missing or malformed."""


@dataclass(frozen=True)
class Credentials:
    """The run's token; with tcp also this worker's keypair and the coordinator's key."""

    token: str
    public: str = ""
    secret: str = ""
    server: str = ""

    @property
    def curve(self) -> bool:
        """True when the run uses CurveZMQ (``--transport tcp``)."""
        return bool(self.public)

    @property
    def keys(self) -> Keypair:
        return Keypair(self.public, self.secret)

    def __repr__(self) -> str:  # never print the secrets
        return f"Credentials(public={self.public!r}, server={self.server!r})"

    def to_line(self) -> str:
        return json.dumps({f: getattr(self, f) for f in _FIELDS}) + "\n"

    @classmethod
    def from_line(cls, line: str) -> "Credentials":
        if not line.strip():
            raise CredentialsError(
                "no credentials on stdin: sim-coordinator writes one JSON line "
                '{"token": ..., "public": ..., "secret": ..., "server": ...} to the worker\'s '
                "stdin; to debug a worker by hand, pipe such a line into it")
        try:
            data = json.loads(line)
        except ValueError:
            raise CredentialsError("the credentials line on stdin is not JSON") from None
        if not isinstance(data, dict) or set(data) != set(_FIELDS) or not all(
                isinstance(data[f], str) for f in _FIELDS):
            raise CredentialsError(f"the credentials line must be a JSON object of strings with "
                                   f"exactly the keys {', '.join(_FIELDS)}")
        if not data["token"]:
            raise CredentialsError("the credentials line has an empty token")
        made = cls(**data)
        if made.curve or made.secret or made.server:
            try:
                made.keys  # checks both lengths
                Keypair(made.server, made.secret)
            except ValueError as exc:
                raise CredentialsError(f"the credentials line's keys: {exc}") from None
        return made

    @classmethod
    def read(cls, stream: IO[str]) -> "Credentials":
        """One line from ``stream`` (the worker's stdin)."""
        return cls.from_line(stream.readline(4096))
