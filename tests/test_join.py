"""Workers that join a listening coordinator (``--listen``, ``sim-worker --join``) on
real processes over CurveZMQ on loopback: runs that are whole, lock-step hashes equal
to a one-host run's, and joins refused with the reason on both sides. The same across
network namespaces is in test_multihost.py."""

from __future__ import annotations

import json
import os
import time

import pytest
import zmq

from shared import protocol
from shared.curve import Keypair, client
from shared.keyfiles import load_worker_keys

from joinkit import Joiners, clock_figures, foreign_client_key, free_port, keys_in, links_whole
from simrun import read_jsonl

pytestmark = pytest.mark.e2e  # real coordinator and worker processes


def _summary(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


def test_two_workers_join_one_spawned_and_every_flash_and_slot_adds_up(sim, tmp_path):
    keys = keys_in(tmp_path / "keys")
    address = f"127.0.0.1:{free_port()}"
    limit = 20
    run = sim("--workers", "3", "--grid", "24", "--period", "1", "--duration", "5",
              "--listen", address, "--keys", str(keys), "--spawn", "1",
              "--limit", str(limit), "--trace-quota")
    with Joiners(tmp_path) as joiners:
        run.wait_for_line("waiting ")
        joiners.start(address, keys / "worker.key_secret", "--shard", "2")
        joiners.start(address, keys / "worker.key_secret")  # takes the free one: 1
        assert run.wait() == 0, run.output
        assert joiners.wait_all() == [0, 0], [joiners.output(i) for i in range(2)]
    assert any(line.startswith("shard 2 joined from ") for line in run.lines)
    assert any(line.startswith("shard 1 joined from ") for line in run.lines)
    run_dir = run.run_dir
    assert links_whole(run_dir, 3) > 100  # the joined shards' logs came over the wire
    events = sorted(tuple(e) for k in range(3) for e in read_jsonl(run_dir / f"quota-{k}.jsonl"))
    in_use = peak = 0
    for _, delta in events:  # one host: the three traces share one clock
        in_use += delta
        assert in_use <= limit
        peak = max(peak, in_use)
    assert in_use == 0 and peak == limit
    for k in (1, 2):  # the same host's clock: the true offset is 0, inside every bound
        figures = clock_figures(run_dir, k)
        assert figures and all(abs(f["offset_ms"]) <= f["uncertainty_ms"] for f in figures)
        assert all(f["uncertainty_ms"] < 50 for f in figures)
    assert "clock" not in read_jsonl(run_dir / "shard-0.jsonl")[-1]  # spawned: same clock
    summary = _summary(run_dir)
    assert summary["handshakes_refused"] == 0 and summary["joins_refused"] == 0
    assert not (run_dir / "worker-1.log").exists()  # a joined worker's log is on its host


def test_a_lockstep_run_with_joined_workers_hashes_as_on_one_host(sim, tmp_path):
    model = ["--clock", "lockstep", "--grid", "40", "--duration", "3", "--seed", "5",
             "--workers", "4", "--checkpoint-every", "1"]
    alone = sim(*model)
    assert alone.wait() == 0, alone.output
    keys = keys_in(tmp_path / "keys")
    address = f"127.0.0.1:{free_port()}"
    run = sim(*model, "--listen", address, "--keys", str(keys), "--spawn", "2")
    with Joiners(tmp_path) as joiners:
        run.wait_for_line("waiting ")
        for _ in range(2):
            joiners.start(address, keys / "worker.key_secret")
        assert run.wait() == 0, run.output
        assert joiners.wait_all() == [0, 0]
    one, joined = _summary(alone.run_dir), _summary(run.run_dir)
    assert joined["state_hash"] == one["state_hash"]
    assert joined["flash_train_hash"] == one["flash_train_hash"]
    assert (run.run_dir / "checkpoint.npz").exists()  # merged from uploaded parts
    assert not list(run.run_dir.glob("*.partial")) and not list(run.run_dir.glob("state-*"))


def _ask(address: str, keys_file, payload: bytes) -> tuple[str, list]:
    """One message to the join socket with the run's client key; its answer."""
    keys = load_worker_keys(keys_file)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    client(keys.client, keys.server_public)(sock)
    try:
        sock.connect(f"tcp://{address}")
        sock.send(payload)
        assert sock.poll(20_000), "no answer from the join socket"
        return protocol.decode(sock.recv())
    finally:
        sock.close(0)
        ctx.term()


def _refused(joiners: Joiners, i: int) -> str:
    proc = joiners.procs[i]
    assert proc.wait(60) == 1, joiners.output(i)
    return joiners.output(i)


def test_joins_that_cannot_be_taken_are_refused_and_counted(sim, tmp_path):
    keys = keys_in(tmp_path / "keys")
    strangers = keys_in(tmp_path / "other")
    address = f"127.0.0.1:{free_port()}"
    run = sim("--workers", "3", "--grid", "12", "--period", "1", "--duration", "3",
              "--listen", address, "--keys", str(keys), "--spawn", "1")
    key_file = keys / "worker.key_secret"
    with Joiners(tmp_path) as joiners:
        run.wait_for_line("waiting ")
        joiners.start(address, key_file, "--shard", "0")
        assert "spawned by the coordinator itself" in _refused(joiners, 0)
        joiners.start(address, key_file, "--shard", "7")
        assert "shard 7 is not a shard of this run (0..2)" in _refused(joiners, 1)
        joiners.start(address, strangers / "worker.key_secret")  # another run's keys
        assert "does not hold the key this --key-file names" in _refused(joiners, 2)
        joiners.start(address, foreign_client_key(keys, tmp_path / "foreign"))
        assert "refused our key" in _refused(joiners, 3)
        kind, fields = _ask(address, key_file, protocol.encode(
            "join", "0.0.1", -1, Keypair.generate().public, "127.0.0.1", "old-host", "little"))
        assert kind == "join_refused" and "the worker '0.0.1'" in fields[0]
        older = b"\x93\x01\xa4join\xa5hello"  # msgpack [1, "join", "hello"]: protocol 1
        kind, fields = _ask(address, key_file, older)
        assert kind == "join_refused" and "speaks protocol 2" in fields[0]
        joiners.start(address, key_file, "--shard", "1")
        run.wait_for_line("shard 1 joined from ")
        joiners.start(address, key_file, "--shard", "1")
        assert "shard 1 has joined already" in _refused(joiners, 5)
        joiners.start(address, key_file)
        run.wait_for_line("t=")
        joiners.start(address, key_file)
        assert "the run has started" in _refused(joiners, 7)
        assert run.wait() == 0, run.output
        assert joiners.procs[4].wait(30) == 0 and joiners.procs[6].wait(30) == 0
    summary = _summary(run.run_dir)
    assert summary["joins_refused"] == 6  # shard 0, 7, two versions, duplicate, too late
    # the other run's keys, three tries; the foreign client key, refused by ZAP
    assert summary["handshakes_refused"] >= 4
    log = (run.run_dir / "coordinator.jsonl").read_text()
    assert log  # the run itself went on as usual


def test_a_worker_that_cannot_reach_the_coordinator_says_so_and_exits(tmp_path):
    keys = keys_in(tmp_path / "keys")
    address = f"127.0.0.1:{free_port()}"  # nobody listens there
    with Joiners(tmp_path) as joiners:
        started = time.monotonic()
        joiners.start(address, keys / "worker.key_secret", "--join-timeout", "2")
        assert joiners.procs[0].wait(60) == 1
        assert time.monotonic() - started < 30
        assert f"no answer from tcp://{address}" in joiners.output(0)


def test_a_key_file_others_can_read_is_refused(tmp_path):
    keys = keys_in(tmp_path / "keys")
    os.chmod(keys / "worker.key_secret", 0o644)
    with Joiners(tmp_path) as joiners:
        joiners.start(f"127.0.0.1:{free_port()}", keys / "worker.key_secret")
        assert joiners.procs[0].wait(60) == 2
        assert "chmod 600" in joiners.output(0)
