"""A host without a run's keys knocks on every socket it can see (tests/test_multihost.py):
run as a script in that host's namespace with the sockets' ``HOST:PORT``\\ s; prints one
JSON object, each target mapped to a list of what went wrong for the run (empty: the
socket gave nothing away).

Per target, three knocks:

* raw TCP, bytes that are not ZMTP: the server may send its own ZMTP greeting (at
  most 64 bytes), then must close the connection;
* a ZeroMQ client with no security (the NULL mechanism), sending a message: no answer;
* a CurveZMQ client with a key pair of its own, guessing the server's key: no answer.

    python tests/curveprobekit.py 10.213.7.1:7100 10.213.7.2:40117 ...
"""

from __future__ import annotations

import json
import socket
import sys
import time

import zmq

GREETING_BYTES = 64  # a ZMTP 3 greeting
WAIT_S = 3.0


def raw(host: str, port: int) -> list[str]:
    out = []
    with socket.create_connection((host, port), timeout=WAIT_S) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n" * 8)
        got, deadline = b"", time.monotonic() + WAIT_S
        try:
            while time.monotonic() < deadline:
                chunk = s.recv(4096)
                if not chunk:
                    break  # closed by the server: refused
                got += chunk
            else:
                out.append("raw: the connection stayed open")
        except socket.timeout:
            out.append("raw: the connection stayed open")
        except ConnectionResetError:
            pass
    if len(got) > GREETING_BYTES:
        out.append(f"raw: {len(got)} bytes came back")
    return out


def zmq_client(address: str, curve: bool) -> list[str]:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    if curve:
        public, secret = zmq.curve_keypair()
        guess, _ = zmq.curve_keypair()
        sock.setsockopt(zmq.CURVE_SERVERKEY, guess)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
    try:
        sock.connect(f"tcp://{address}")
        sock.send(b"\x93\x02\xa5hello\x00", zmq.NOBLOCK)
        if sock.poll(WAIT_S * 1000):
            return [f"{'curve' if curve else 'null'}: an answer came back"]
        return []
    except zmq.Again:
        return []  # never connected: nothing to send on
    finally:
        sock.close(0)
        ctx.term()


def main(targets: list[str]) -> int:
    report = {}
    for target in targets:
        host, port = target.rsplit(":", 1)
        report[target] = raw(host, int(port)) + zmq_client(target, False) + zmq_client(target, True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
