"""An intruder for tests/test_security.py: a process that knows a live run's endpoints
but not its secrets, and tries to register as a shard, take quota slots, forge flashes
and telemetry, and stop the run. Run as a script; prints one JSON object of what it
sent (and, in ``--raw`` mode, what each connection attempt met).

It reads every worker's ``/proc/PID/cmdline`` and uses a ``--token`` if it finds one
(the hole of issue 10); otherwise it guesses. ``--raw`` needs only the standard library
(for another uid, which cannot run the project's interpreter): it only tries to
connect to each endpoint and send bytes.

    python tests/intruderkit.py --workers 3 --grid 24 24 --pids 11,12,13 \\
        --control EP --telemetry EP --inbox 0=EP --inbox 1=EP [--seconds 2] [--raw]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from array import array


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--control", required=True)
    parser.add_argument("--telemetry", required=True)
    parser.add_argument("--inbox", action="append", default=[], help="K=endpoint")
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--grid", type=int, nargs=2, required=True)
    parser.add_argument("--pids", default="", help="worker pids, comma-separated")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--raw", action="store_true")
    return parser.parse_args(argv)


def stolen_token(pids: list[int]) -> str | None:
    """A ``--token`` from any worker's command line (what the issue's intruder did)."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "--token" in argv[:-1]:
            return argv[argv.index("--token") + 1]
    return None


def raw(endpoints: list[str]) -> dict[str, str]:
    """Try a plain connection to each endpoint; what happened, by endpoint."""
    met = {}
    for endpoint in endpoints:
        try:
            if endpoint.startswith("ipc://"):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(endpoint.removeprefix("ipc://"))
            else:
                host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
                sock = socket.create_connection((host, int(port)), timeout=2)
            sock.sendall(b"\xff" + b"\x00" * 8 + b"\x7f\x03\x00NULL" + b"\x00" * 16 + b"\x00" * 32)
            sock.close()
            met[endpoint] = "connected"
        except PermissionError:
            met[endpoint] = "permission denied"
        except OSError as exc:
            met[endpoint] = f"error: {exc}"
    return met


def attack(args: argparse.Namespace, token: str) -> dict[str, int]:
    import zmq

    from shared import protocol
    from shared.grid import Grid
    from worker.shard import layout_of

    tcp = args.control.startswith("tcp://")
    ctx = zmq.Context()
    grid = Grid(*args.grid)
    inboxes = {int(k): ep for k, ep in (item.split("=", 1) for item in args.inbox)}
    made: list[zmq.Socket] = []

    def socks(kind: int, endpoint: str) -> list[zmq.Socket]:
        """A plain socket and, on tcp, a curve client with its own keys and a guessed
        server key: both must be refused at the handshake."""
        out = []
        for curve in ((False, True) if tcp else (False,)):
            sock = ctx.socket(kind)
            sock.setsockopt(zmq.LINGER, 0 if tcp else 10_000)  # tcp: it never gets through
            sock.setsockopt(zmq.SNDHWM, 100_000)
            if curve:
                public, secret = zmq.curve_keypair()
                sock.curve_serverkey, _ = zmq.curve_keypair()
                sock.curve_publickey, sock.curve_secretkey = public, secret
            sock.connect(endpoint)
            out.append(sock)
        made.extend(out)
        return out

    control = socks(zmq.DEALER, args.control)
    telemetry = socks(zmq.PUSH, args.telemetry)
    edges = {k: socks(zmq.PUSH, ep) for k, ep in inboxes.items()}
    sent = {"control": 0, "telemetry": 0, "edge": 0}
    seq = 0

    def send(sockets: list[zmq.Socket], what: str, message: bytes) -> None:
        for sock in sockets:
            try:
                sock.send(message, zmq.NOBLOCK)
                sent[what] += 1
            except zmq.Again:  # not connected (refused): queued nowhere
                pass

    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        seq += 1
        for shard in range(args.workers):
            send(control, "control", protocol.encode("hello", shard, os.getpid(), token))
        send(control, "control", protocol.encode("quota_request", 0, seq, 0, 0, 0, 0, 10**6))
        send(control, "control", protocol.encode("bye", 0, "intruder says stop"))
        send(telemetry, "telemetry", protocol.encode("frame", 0, seq, 1.0, 0.0, 0.0, 1, b""))
        for k, sockets in edges.items():
            layout = layout_of(grid, args.workers, k)
            for source, table in layout.incoming.items():
                cells = sorted(table)
                send(sockets, "edge", protocol.encode("edge_hello", source, token))
                send(sockets, "edge", protocol.encode(
                    "flashes", source, seq, protocol.pack_cells(array("i", cells)),
                    protocol.pack_times(array("d", [1.0] * len(cells)))))
        time.sleep(0.05)
    for sock in made:
        sock.close()  # LINGER: what is queued on a live connection still goes
    ctx.term()
    return sent


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    endpoints = [args.control, args.telemetry, *(item.split("=", 1)[1] for item in args.inbox)]
    if args.raw:
        print(json.dumps({"raw": raw(endpoints)}))
        return 0
    pids = [int(p) for p in args.pids.split(",") if p]
    token = stolen_token(pids)
    sent = attack(args, token or os.urandom(16).hex())
    print(json.dumps({"sent": sent, "stole_token": token is not None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
