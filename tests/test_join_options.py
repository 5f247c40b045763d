"""The pieces of joining that need no run: the options (``coordinator.listening``,
RunConfig, both CLIs), the key files, the clock offset's bound, and the uploads'
checks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from coordinator.config import ConfigError, RunConfig
from coordinator.listening import parse_listen, spawned_workers
from coordinator.uploads import RunUploads
from shared.clock_sync import OffsetEstimator
from shared.keyfiles import KeyFileError, load_coordinator_keys, load_worker_keys, make_keys
from shared.protocol import ProtocolError

from joinkit import ROOT


@pytest.fixture
def keys(tmp_path):
    make_keys(tmp_path / "keys")
    return tmp_path / "keys"


@pytest.mark.parametrize("text, why", [
    ("10.0.0.5", "give HOST:PORT"), ("10.0.0.5:0", "a port in 1..65535"),
    ("0.0.0.0:7000", "not a wildcard"), (":7000", "not a wildcard"),
    ("node1:7000", "must be an IP address"), ("10.0.0.5:http", "give HOST:PORT")])
def test_a_listen_address_must_be_one_ip_and_port(text, why):
    with pytest.raises(ValueError, match=why):
        parse_listen(text)


def test_listen_addresses_and_spawn_counts_parse():
    assert str(parse_listen("10.0.0.5:7000")) == "10.0.0.5:7000"
    assert parse_listen("[::1]:7000").endpoint == "tcp://[::1]:7000"
    assert [spawned_workers(s, 4) for s in ("local", "none", "0", "3", "4")] == [4, 0, 0, 3, 4]
    for bad in ("5", "-1", "some", ""):
        with pytest.raises(ValueError, match="--spawn"):
            spawned_workers(bad, 4)


@pytest.mark.parametrize("options, why", [
    ({"spawn": "none"}, "workers can join only with --listen"),
    ({"listen": "127.0.0.1:7000", "transport": "tcp"}, "--listen needs --keys DIR"),
    ({"listen": "127.0.0.1:7000", "transport": "ipc", "keys": "K"}, "leave out --transport ipc"),
    ({"listen": "127.0.0.1:7000", "transport": "tcp", "keys": "K", "join_timeout": 0.0},
     "--join-timeout 0.0"),
    ({"listen": "127.0.0.1:7000", "transport": "tcp", "keys": "K", "spawn": "1", "init": "INIT"},
     "--init FILE needs every worker on this host"),
    ({"keys": "K"}, "--keys goes with --listen"),
    ({"listen": "127.0.0.1:7000", "transport": "tcp", "keys": "MISSING"}, "no such folder"),
])
def test_run_options_that_cannot_span_hosts_are_refused(options, why, keys, tmp_path):
    init = tmp_path / "init.npy"
    import numpy as np

    np.save(init, np.zeros(16 * 16))
    values = {k: {"K": str(keys), "MISSING": str(tmp_path / "nope"), "INIT": str(init)}.get(v, v)
              if isinstance(v, str) else v for k, v in options.items()}
    with pytest.raises(ConfigError, match=why):
        RunConfig(workers=2, grid=(16, 16), **values)


def test_a_listening_config_spawns_only_its_share(keys):
    config = RunConfig(workers=4, grid=(16, 16), listen="127.0.0.1:7000", transport="tcp",
                       keys=str(keys), spawn="1")
    assert config.spawned == 1 and RunConfig(workers=4, grid=(16, 16)).spawned == 4


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_the_clis_say_what_is_wrong_in_one_line_and_exit_2(keys, tmp_path):
    cases = [
        (("coordinator", "--listen", "0.0.0.0:7000", "--keys", str(keys)), "not a wildcard"),
        (("coordinator", "--listen", "127.0.0.1:7000"), "--listen needs --keys DIR"),
        (("coordinator", "--spawn", "none"), "only with --listen"),
        (("coordinator", "keys", str(keys)), "exists: pick a new folder"),
        (("worker", "--join", "127.0.0.1:7000"), "--join needs --key-file"),
        (("worker", "--join", "nowhere", "--key-file", "f"), "give HOST:PORT"),
        (("worker", "--shard", "0"), "--control --telemetry required"),
        (("worker", "--join", "127.0.0.1:7000", "--key-file", str(tmp_path / "none")),
         "No such file"),
    ]
    for args, why in cases:
        done = _cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert why in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_keys_made_by_the_cli_are_private_and_readable_by_both_sides(tmp_path):
    done = _cli("coordinator", "keys", str(tmp_path / "k"))
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "k"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert sorted(p.name for p in folder.iterdir()) == [
        "coordinator.key", "coordinator.key_secret", "worker.key", "worker.key_secret"]
    assert all(p.stat().st_mode & 0o077 == 0 for p in folder.glob("*_secret"))
    coordinator = load_coordinator_keys(folder)
    worker = load_worker_keys(folder / "worker.key_secret")
    assert worker.server_public == coordinator.server.public
    assert worker.client.public == coordinator.client_public
    assert coordinator.server.secret not in (folder / "worker.key_secret").read_text()


def test_key_files_others_can_read_or_that_are_not_keys_are_refused(keys, tmp_path):
    secret = keys / "worker.key_secret"
    os.chmod(secret, 0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_worker_keys(secret)
    junk = tmp_path / "junk"
    junk.write_text("curve\n    public-key = \"short\"\n")
    os.chmod(junk, 0o600)
    with pytest.raises(KeyFileError, match="not a 40-character z85 key"):
        load_worker_keys(junk)
    with pytest.raises(KeyFileError, match="sim-coordinator keys"):
        load_coordinator_keys(tmp_path)


@given(offset=st.floats(-1e4, 1e4), out=st.floats(0, 0.5), back=st.floats(0, 0.5),
       start=st.floats(0, 1e5))
def test_the_offset_estimate_is_within_half_the_round_trip_whatever_the_delays(offset, out, back,
                                                                                start):
    estimator = OffsetEstimator()
    # worker sends at `start` (its clock); the coordinator reads its clock `out` later
    assert estimator.add(start, start + out + offset, start + out + back)
    best = estimator.best()
    assert best is not None
    assert abs(best.offset - offset) <= best.uncertainty + 1e-6
    assert best.uncertainty == pytest.approx((out + back) / 2)


def test_the_estimate_keeps_the_tightest_exchange_and_refuses_nonsense():
    estimator = OffsetEstimator(keep=3)
    assert estimator.best() is None
    estimator.add(0.0, 5.010, 0.020)  # round trip 20 ms
    estimator.add(1.0, 6.001, 1.002)  # 2 ms: the tightest
    estimator.add(2.0, 7.030, 2.040)
    assert estimator.best().uncertainty == pytest.approx(0.001)
    assert estimator.best().offset == pytest.approx(5.0)
    assert not estimator.add(3.0, 8.0, 2.9)  # received before it was sent
    assert not estimator.add(3.0, float("nan"), 3.1)
    for t in (10.0, 11.0, 12.0):  # the tight one ages out of the window of three
        estimator.add(t, t + 5.0 + 0.005, t + 0.010)
    assert estimator.best().uncertainty == pytest.approx(0.005)


def test_uploads_write_only_a_joined_shards_own_files_whole_and_in_order(tmp_path):
    uploads = RunUploads(tmp_path, range(2, 4))
    uploads.on_message("append", [2, "shard-2.jsonl", b'{"a": 1}\n'])
    uploads.on_message("append", [2, "shard-2.jsonl", b'{"a": 2}\n'])
    assert (tmp_path / "shard-2.jsonl").read_bytes() == b'{"a": 1}\n{"a": 2}\n'
    uploads.on_message("upload", [3, "state-3.npz", 0, 2, b"ab"])
    assert not (tmp_path / "state-3.npz").exists()  # half a file is never in place
    uploads.on_message("upload", [3, "state-3.npz", 1, 2, b"cd"])
    assert (tmp_path / "state-3.npz").read_bytes() == b"abcd"
    uploads.on_message("upload", [3, "checkpoint-3-7.npz", 0, 1, b"x"])
    assert (tmp_path / "checkpoint-3-7.npz").read_bytes() == b"x"
    refused = [
        ("append", [1, "shard-1.jsonl", b"x"], "a worker on this host"),
        ("append", [2, "shard-3.jsonl", b"x"], "not one of its logs"),
        ("append", [2, "../../etc/passwd", b"x"], "not one of its logs"),
        ("upload", [2, "state-3.npz", 0, 1, b"x"], "not its file"),
        ("upload", [2, "summary.json", 0, 1, b"x"], "not its file"),
        ("upload", [2, "state-2.npz", 1, 2, b"x"], "part 1/2, expected 0/2"),
        ("upload", [2, "state-2.npz", 0, 0, b"x"], "in 0 parts"),
    ]
    for kind, fields, why in refused:
        with pytest.raises(ProtocolError, match=why):
            uploads.on_message(kind, fields)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-3-7.npz", "shard-2.jsonl", "state-3.npz"]
