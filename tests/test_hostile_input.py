"""Garbage sent to every bound socket of a live run (coordinator control and telemetry,
every worker's edge inbox) neither crashes nor stalls any process; it is counted."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import msgpack
import psutil
import pytest
import zmq

from simrun import read_jsonl

pytestmark = pytest.mark.e2e  # real coordinator and worker processes

GARBAGE = [
    b"",
    b"\x00" * 7,
    os.urandom(64),
    os.urandom(4096),
    msgpack.packb("just a string"),
    msgpack.packb([99, "flashes", 0, 1, b"", b""]),              # wrong version
    msgpack.packb([1, "no_such_kind"]),                           # unknown kind
    msgpack.packb([1, "flashes", "zero", 1, b"", b""]),           # wrong field type
    msgpack.packb([1, "flashes", 0, 1, b"\x01\x02\x03", b""]),    # truncated array
    msgpack.packb([1, "flashes", 0, 1, b"\x00" * 4, b"\x00" * 16]),  # length mismatch
    msgpack.packb([1, "flashes", 987, 1, b"", b""]),              # not a neighbour
    msgpack.packb([1, "hello", 0, 1, "wrong-token"]),
    msgpack.packb([1, "frame", 55, 1, 0.0, 0.0, 0.0, 1, b""]),   # unknown shard
    msgpack.packb([1, "report", 0, {"counters": "nope"}]),
    b"\xdd\xff\xff\xff\xff",                                      # claims a 4G array
]


def _endpoints(pids: set[int]) -> dict[str, str]:
    """The run's bound endpoints, read from a worker's command line (ipc dir)."""
    for pid in pids:
        cmd = psutil.Process(pid).cmdline()
        control = cmd[cmd.index("--control") + 1]
        telemetry = cmd[cmd.index("--telemetry") + 1]
        directory = Path(control.removeprefix("ipc://")).parent
        out = {"control": control, "telemetry": telemetry}
        for inbox in sorted(directory.glob("edge-*.sock")):
            out[inbox.stem] = f"ipc://{inbox}"
        return out
    raise AssertionError("no worker pid")


def _spray(endpoint: str) -> None:
    ctx = zmq.Context()
    try:
        for kind in (zmq.DEALER, zmq.PUSH):
            sock = ctx.socket(kind)
            sock.setsockopt(zmq.LINGER, 500)
            sock.connect(endpoint)
            for payload in GARBAGE:
                sock.send(payload, zmq.NOBLOCK)
            sock.send_multipart([b"a", b"b", b"c"], zmq.NOBLOCK)
            sock.close()
        # Not ZeroMQ at all: raw bytes on the ipc socket.
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(endpoint.removeprefix("ipc://"))
        raw.sendall(os.urandom(2048))
        raw.close()
    finally:
        ctx.term()


def test_garbage_on_every_socket_is_counted_and_harmless(sim):
    run = sim("--workers", "3", "--grid", "24", "--period", "1", "--duration", "7")
    pids = run.wait_workers(3)
    run.wait_for_line("t=", timeout=60)
    endpoints = _endpoints(pids)
    assert {"control", "telemetry", "edge-0", "edge-1", "edge-2"} <= endpoints.keys()
    for endpoint in endpoints.values():
        _spray(endpoint)
    time.sleep(0.5)
    assert all(psutil.pid_exists(p) for p in pids)
    assert run.wait(60) == 0, run.output
    # The run kept going after the garbage: status lines up to the end, all workers.
    status = [l for l in run.lines if l.startswith("t=")]
    assert len(status) >= 5 and status[-1].endswith("workers=3/3"), run.output
    malformed = sum(l["counters"]["malformed_rejected"] for k in range(3)
                    for l in read_jsonl(run.run_dir / f"shard-{k}.jsonl"))
    assert malformed >= 3 * 10  # every inbox counted garbage
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["malformed_rejected_coordinator"] >= 20
    assert summary["exit"] == "duration"
    # Every shard kept its frame rate through it.
    for k in range(3):
        lines = [l for l in read_jsonl(run.run_dir / f"shard-{k}.jsonl") if not l.get("final")]
        assert min(l["fps"] for l in lines[1:]) > 20
