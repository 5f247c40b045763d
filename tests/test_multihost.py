"""A run across "hosts": network namespaces joined by veth links (tests/netnskit.py),
one for the coordinator, two for workers (two workers each), one for an intruder
without the keys. Real processes, real TCP between the namespaces' own addresses,
CurveZMQ on every socket. Needs root (skipped with the reason elsewhere).

All namespaces share the kernel's monotonic clock: a worker's measured clock offset
must be 0 within its stated uncertainty, and traces of several shards share one time
line, as they would after applying the offsets on real hosts."""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from joinkit import clock_figures, foreign_client_key, keys_in, links_whole, worker_argv
from netnskit import Hosts, netns_unavailable
from simrun import ROOT, read_jsonl

pytestmark = pytest.mark.e2e

PORT = 7100
WORKERS = {"w1": (0, 1), "w2": (2, 3)}  # host -> the shards its workers ask for
PROBE = Path(__file__).with_name("curveprobekit.py")


@pytest.fixture
def hosts():
    why = netns_unavailable()
    if why is not None:
        pytest.skip(f"needs network namespaces: {why}")
    with Hosts(("coord", "w1", "w2", "x")) as made:
        yield made


class Run:
    """A coordinator in namespace "coord" listening on its address; workers join from
    w1 and w2."""

    def __init__(self, hosts: Hosts, tmp: Path, keys: Path, *args: str) -> None:
        self.hosts, self.tmp = hosts, tmp
        self.address = f"{hosts.addresses['coord']}:{PORT}"
        self.out = tmp / f"coordinator-{time.monotonic_ns()}.out"
        with open(self.out, "wb") as f:
            self.proc = hosts.popen("coord", [
                sys.executable, "-m", "coordinator", "--headless", "--log-dir", str(tmp / "runs"),
                "--listen", self.address, "--keys", str(keys), "--spawn", "none", "--workers", "4",
                *args], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.workers: list[subprocess.Popen] = []
        self.wait_for("waiting ")
        for host, shards in WORKERS.items():
            for k in shards:
                log = open(tmp / f"worker-{k}.out", "wb")
                self.workers.append(hosts.popen(host, worker_argv(
                    self.address, keys / "worker.key_secret", "--shard", str(k)),
                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
                log.close()

    @property
    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_for(self, prefix: str, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.output.splitlines():
                if line.startswith(prefix):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no line {prefix!r}; output:\n{self.output}")

    @property
    def run_dir(self) -> Path:
        return Path(self.wait_for("run directory: ").split(": ", 1)[1])

    def finish(self, timeout: float = 120.0) -> dict:
        code = self.proc.wait(timeout)
        assert code == 0, self.output
        worker_codes = [w.wait(30) for w in self.workers]
        assert worker_codes == [0] * 4, [(self.tmp / f"worker-{k}.out").read_text()
                                         for k in range(4)]
        return json.loads((self.run_dir / "summary.json").read_text())


def _offsets_within_bounds(run_dir: Path) -> list[dict]:
    figures = []
    for k in range(4):
        for f in clock_figures(run_dir, k):
            assert abs(f["offset_ms"]) <= f["uncertainty_ms"], (k, f)  # the true offset is 0
            figures.append(f)
    return figures


def test_a_realtime_run_across_hosts_loses_no_flash_and_keeps_the_quota(hosts, tmp_path):
    keys = keys_in(tmp_path / "keys")
    limit = 30
    run = Run(hosts, tmp_path, keys, "--grid", "40", "--period", "1", "--duration", "6",
              "--limit", str(limit), "--trace-quota")
    summary = run.finish()
    run_dir = run.run_dir
    assert links_whole(run_dir, 4) > 100  # every boundary flash sent was received
    events = sorted(tuple(e) for k in range(4) for e in read_jsonl(run_dir / f"quota-{k}.jsonl"))
    in_use = peak = 0
    for _, delta in events:
        in_use += delta
        assert in_use <= limit
        peak = max(peak, in_use)
    assert in_use == 0 and peak == limit
    assert all(l["quota"]["held"] <= limit for l in read_jsonl(run_dir / "coordinator.jsonl"))
    _offsets_within_bounds(run_dir)
    assert summary["handshakes_refused"] == 0 and summary["workers_lost"] == {}
    hosts_of = json.loads((run_dir / "run.json").read_text())["config"]
    assert hosts_of["listen"] == run.address and hosts_of["spawn"] == "none"


def test_a_lockstep_run_across_hosts_hashes_as_on_one_host(hosts, tmp_path, sim):
    model = ["--clock", "lockstep", "--grid", "48", "--duration", "3", "--seed", "11",
             "--checkpoint-every", "1"]
    alone = sim(*model, "--workers", "4")
    assert alone.wait() == 0, alone.output
    one = json.loads((alone.run_dir / "summary.json").read_text())
    keys = keys_in(tmp_path / "keys")
    across = Run(hosts, tmp_path, keys, *model).finish()
    assert across["state_hash"] == one["state_hash"]
    assert across["flash_train_hash"] == one["flash_train_hash"]


def test_a_5ms_link_delay_shows_in_edge_latency_within_the_clock_bounds(hosts, tmp_path):
    keys = keys_in(tmp_path / "keys")
    hosts.set_delay(5.0)
    run = Run(hosts, tmp_path, keys, "--grid", "24", "--period", "1", "--duration", "8",
              "--fps", "20")
    run.finish(timeout=180)
    run_dir = run.run_dir
    assert links_whole(run_dir, 4) > 50
    figures = _offsets_within_bounds(run_dir)
    bound = {k: max(f["uncertainty_ms"] + abs(f["drift_ms"]) for f in clock_figures(run_dir, k))
             for k in range(4)}
    host_of = {k: host for host, shards in WORKERS.items() for k in shards}
    medians: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for b in range(4):
        lines = [l for l in read_jsonl(run_dir / f"shard-{b}.jsonl")[1:-1] if "link_latency_ms" in l]
        for a in range(4):
            p50s = [l["link_latency_ms"][str(a)]["p50"] for l in lines
                    if str(a) in l["link_latency_ms"] and l["link_latency_ms"][str(a)]["count"]]
            if p50s:
                medians[host_of[a] != host_of[b]].append((statistics.median(p50s), bound[a] + bound[b]))
    assert medians[True] and medians[False], medians
    same_host = max(m for m, _ in medians[False])  # processing and batching, no link delay
    for latency, uncertainty in medians[True]:  # the 5 ms shows, within both clocks' bounds
        assert 5.0 - uncertainty <= latency <= 5.0 + same_host + uncertainty, (latency, uncertainty)
    (tmp_path / "latency.json").write_text(json.dumps({"cross": medians[True], "same": medians[False],
                                                       "clocks": figures[:8]}))


def test_a_host_without_the_keys_is_refused_at_every_socket_and_sees_no_cleartext(hosts, tmp_path):
    keys = keys_in(tmp_path / "keys")
    run = Run(hosts, tmp_path, keys, "--grid", "24", "--period", "1", "--duration", "0")
    with hosts.capture("w1") as capture:
        run.wait_for("t=")
        listening = {host: _listening(hosts, host) for host in ("coord", "w1", "w2")}
        assert len(listening["coord"]) == 3 and len(listening["w1"]) == 2, listening
        targets = [f"{hosts.addresses[h]}:{p}" for h, ports in listening.items() for p in ports]
        probe = hosts.run("x", [sys.executable, str(PROBE), *targets], timeout=120,
                          capture_output=True, cwd=ROOT)
        assert probe.returncode == 0, probe.stdout + probe.stderr
        answered = json.loads(probe.stdout)
        assert answered == {t: [] for t in targets}  # no socket answered any probe
        stranger = hosts.run("x", worker_argv(run.address, foreign_client_key(keys, tmp_path / "f"),
                                              "--join-timeout", "20"),
                             timeout=60, capture_output=True, cwd=ROOT)
        assert stranger.returncode == 1 and b"refused our key" in stranger.stderr
        time.sleep(1.5)  # flashes flow on w1's link while the capture runs
        run.proc.send_signal(signal.SIGINT)
        assert run.proc.wait(60) == 130, run.output
    payload = capture.payload()
    assert capture.packets > 100 and b"CURVE" in payload  # the ZMTP greetings name CurveZMQ
    for cleartext in (b"flashes", b"edge_hello", b"links_ready", b"frame_lateness_ms", b"report"):
        assert cleartext not in payload, cleartext
    summary = json.loads((run.run_dir / "summary.json").read_text())
    probes = 3  # per socket: raw bytes, NULL, a guessed server key
    assert summary["handshakes_refused"] >= probes * 3 + 1, summary  # + the stranger's key
    refused = [sum(l["counters"]["handshakes_refused"]  # a line holds its interval's
                   for l in read_jsonl(run.run_dir / f"shard-{k}.jsonl")) for k in range(4)]
    assert all(n >= probes for n in refused), refused  # each worker's inbox refused each knock


def _listening(hosts: Hosts, host: str) -> list[int]:
    """TCP ports listening on ``host``'s own address."""
    out = hosts.run(host, ["ss", "-ltnH"], capture_output=True, timeout=30).stdout.decode()
    mine = hosts.addresses[host]
    return sorted(int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines()
                  if line.split()[3].startswith(mine + ":"))
