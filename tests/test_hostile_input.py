"""Garbage sent to every bound socket of a live run (coordinator control and telemetry,
every worker's edge inbox) neither crashes nor stalls any process; it is counted.

Deterministic: it waits for conditions with generous deadlines (never a fixed sleep)
and asserts on counts that hold whatever the timing: every message a compatible
socket type sends arrives (PUSH/DEALER queue until connected; LINGER lets them out),
and every one of them is invalid, so each is counted where it lands."""

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

from shared import protocol

from simrun import read_jsonl

pytestmark = pytest.mark.e2e  # real coordinator and worker processes

GARBAGE = [
    b"",
    b"\x00" * 7,
    os.urandom(64),
    os.urandom(4096),
    msgpack.packb("just a string"),
    msgpack.packb([99, "flashes", 0, 1, b"", b""]),              # wrong version
    msgpack.packb([protocol.VERSION, "no_such_kind"]),                           # unknown kind
    msgpack.packb([protocol.VERSION, "flashes", "zero", 1, b"", b""]),           # wrong field type
    msgpack.packb([protocol.VERSION, "flashes", 0, 1, b"\x01\x02\x03", b""]),    # truncated array
    msgpack.packb([protocol.VERSION, "flashes", 0, 1, b"\x00" * 4, b"\x00" * 16]),  # length mismatch
    msgpack.packb([protocol.VERSION, "flashes", 987, 1, b"", b""]),              # not a neighbour
    msgpack.packb([protocol.VERSION, "hello", 0, 1, "wrong-token"]),
    msgpack.packb([protocol.VERSION, "frame", 55, 1, 0.0, 0.0, 0.0, 1, b""]),   # unknown shard
    msgpack.packb([protocol.VERSION, "report", 0, {"counters": "nope"}]),
    msgpack.packb([protocol.VERSION, "report", 0, {"counters": {}}]),            # once a KeyError crash
    b"\xdd\xff\xff\xff\xff",                                      # claims a 4G array
]
#: Messages each bound socket counts for certain: GARBAGE and one multipart message
#: from the sender type it pairs with (PUSH to a PULL, DEALER to a ROUTER). What the
#: other type sends may or may not get through ZeroMQ's handshake (0 to COUNTED more),
#: and raw bytes never make a message.
COUNTED = len(GARBAGE) + 1


def _endpoints(pids: set[int]) -> dict[str, str]:
    """The run's bound endpoints, read from a worker's command line (ipc dir)."""
    for pid in pids:
        try:
            cmd = psutil.Process(pid).cmdline()
        except psutil.Error:
            continue
        if "--control" not in cmd:  # not a worker (a short-lived helper process)
            continue
        control = cmd[cmd.index("--control") + 1]
        telemetry = cmd[cmd.index("--telemetry") + 1]
        directory = Path(control.removeprefix("ipc://")).parent
        out = {"control": control, "telemetry": telemetry}
        for inbox in sorted(directory.glob("edge-*.sock")):
            out[inbox.stem] = f"ipc://{inbox}"
        return out
    raise AssertionError("no worker pid")


def _spray(endpoint: str, pairs_with: int) -> None:
    """GARBAGE from a DEALER and a PUSH; ``pairs_with`` is the type the socket accepts."""
    ctx = zmq.Context()
    try:
        for kind in (zmq.DEALER, zmq.PUSH):
            sock = ctx.socket(kind)
            # the pairing type's messages until delivered, however loaded the host; the
            # other's may never be (refused handshake): don't wait for those
            sock.setsockopt(zmq.LINGER, 10_000 if kind == pairs_with else 0)
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


def _inbox_counts(run_dir: Path) -> list[int]:
    return [sum(l["counters"]["malformed_rejected"] for l in read_jsonl(run_dir / f"shard-{k}.jsonl"))
            for k in range(3)]


def _coordinator_count(run_dir: Path) -> int:
    lines = read_jsonl(run_dir / "coordinator.jsonl")
    return lines[-1].get("malformed_rejected", 0) if lines else 0


def _wait_until(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_garbage_on_every_socket_is_counted_and_harmless(sim):
    run = sim("--workers", "3", "--grid", "24", "--period", "1", "--duration", "12")
    pids = run.wait_workers(3)
    run.wait_for_line("t=", timeout=60)
    endpoints = _endpoints(pids)
    assert {"control", "telemetry", "edge-0", "edge-1", "edge-2"} <= endpoints.keys()
    for name, endpoint in endpoints.items():
        _spray(endpoint, zmq.DEALER if name == "control" else zmq.PUSH)
    status_before = sum(l.startswith("t=") for l in run.lines)
    # Every inbox and the coordinator count their garbage in the next lines they write.
    assert _wait_until(lambda: min(_inbox_counts(run.run_dir)) >= COUNTED
                       and _coordinator_count(run.run_dir) >= 2 * COUNTED), run.output
    assert run.wait(120) == 0, run.output
    # The run kept going after the garbage: more status lines, all workers to the end.
    status = [l for l in run.lines if l.startswith("t=")]
    assert len(status) > status_before and status[-1].endswith("workers=3/3"), run.output
    assert all(COUNTED <= n <= 2 * COUNTED for n in _inbox_counts(run.run_dir)), run.output
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert 2 * COUNTED <= summary["malformed_rejected_coordinator"] <= 4 * COUNTED  # control + telemetry
    assert summary["exit"] == "duration" and summary["workers_lost"] == {}  # every process survived
