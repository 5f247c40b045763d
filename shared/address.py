"""Network addresses as a user types them and as ZeroMQ wants them: ``HOST:PORT``
split (``[v6]:PORT`` for IPv6), tcp endpoints made (an IPv6 host in brackets), and
what a host may be. Used by ``--listen`` and ``--advertise`` (coordinator) and by
``--join`` (worker). Nothing here resolves a name or opens a socket.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["split_address", "tcp_endpoint", "valid_host"]

_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def split_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as (host, port); the host may be empty (the caller decides).
    ValueError says what is wrong."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("give HOST:PORT, like 10.0.0.5:7000 (a port in 1..65535)")
    return host, int(port)


def tcp_endpoint(host: str, port: int | str) -> str:
    """``tcp://HOST:PORT``; ``port`` may be ``"*"`` (bind: any free port)."""
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


def valid_host(text: str) -> bool:
    """An IP address or a DNS host name (what ``--advertise`` may be)."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return bool(_HOST_NAME.match(text))
