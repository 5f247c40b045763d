"""Issue 10, on real processes: the run's secret is on no command line, a process
that knows the endpoints but not the secrets changes nothing (ipc and tcp, same uid
and another uid), stale ipc folders of dead runs are removed and live ones kept, and
a worker whose coordinator is already gone exits at once. docs/security.md."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import psutil
import pytest
import zmq

from coordinator.endpoints import PID_FILE, Endpoints, stale_folders
from shared import protocol
from shared.curve import Keypair, KeyRing, client, guarding, server
from shared.grid import Grid
from shared.lifeline import PARENT_PID_ENV
from shared.senders import curve_identity
from worker.inbox import EdgeInbox
from worker.metrics import ShardMetrics
from worker.outbox import EdgeOutbox
from worker.shard import layout_of
from simrun import ROOT, SimRun, read_jsonl, wait_gone

WORKERS = 3
GRID = 24
ARGS = ("--workers", str(WORKERS), "--grid", str(GRID), "--period", "1")
WORKER_OPTIONS = {"--control", "--telemetry", "--shard", "--log-level", "--loop"}
INTRUDER = ROOT / "tests" / "intruderkit.py"
SECRET_LIKE = re.compile(r"[0-9a-f]{16,}|[0-9A-Za-z.:+=^!/*?&<>()\[\]{}@%$#-]{40}")


def _argv(pid: int) -> list[str]:
    return psutil.Process(pid).cmdline()


def _workers(run: SimRun, timeout: float = 60.0) -> set[int]:
    """The pids of the run's worker processes, once all are up. (Not every child of
    the coordinator is a worker: ``platform.platform()`` runs ``uname -p``.)"""
    deadline = time.monotonic() + timeout
    while True:
        pids = set()
        for pid in run.record_workers():
            try:
                if _argv(pid)[1:3] == ["-m", "worker"]:
                    pids.add(pid)
            except psutil.Error:
                pass
        if len(pids) == WORKERS:
            return pids
        assert time.monotonic() < deadline and run.proc.poll() is None, run.output
        time.sleep(0.05)


def _endpoints(pids: set[int]) -> list[str]:
    """The intruder's view of a run: the coordinator's endpoints from a worker's
    command line, each worker's inbox from the socket folder (ipc) or its listening
    port (tcp), as ``--inbox K=endpoint``."""
    args: list[str] = []
    for pid in sorted(pids):
        argv = _argv(pid)
        control, shard = argv[argv.index("--control") + 1], argv[argv.index("--shard") + 1]
        if not args:
            args = ["--control", control, "--telemetry", argv[argv.index("--telemetry") + 1]]
        if control.startswith("ipc://"):
            inbox = f"ipc://{Path(control.removeprefix('ipc://')).parent}/edge-{shard}.sock"
        else:
            (port,) = [c.laddr.port for c in psutil.Process(pid).net_connections("tcp")
                       if c.status == psutil.CONN_LISTEN]
            inbox = f"tcp://127.0.0.1:{port}"
        args += ["--inbox", f"{shard}={inbox}"]
    return args


def _intrude(command: list[str], pids: set[int], *extra: str) -> dict:
    out = subprocess.run([*command, str(INTRUDER), "--workers", str(WORKERS), "--grid", str(GRID),
                          str(GRID), "--pids", ",".join(map(str, pids)), *_endpoints(pids), *extra],
                         capture_output=True, text=True, timeout=60, cwd="/")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _assert_unharmed(run: SimRun) -> dict:
    """The run ended by its duration with every worker; no link received more flashes
    than its neighbour sent; only the run's shards held quota. Returns summary.json."""
    assert run.wait(90) == 0, run.output
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["exit"] == "duration" and not summary["workers_lost"], summary
    status = [line for line in run.lines if line.startswith("t=")]
    assert status and f"workers={WORKERS}/{WORKERS}" in status[-1], run.output
    links = {k: read_jsonl(run.run_dir / f"shard-{k}.jsonl")[-1]["links"] for k in range(WORKERS)}
    for k, linked in links.items():
        for s, figures in linked.items():
            sent_to_k = links[int(s)][str(k)]["sent"]
            assert figures["received"] <= sent_to_k, f"shard {k} got {figures['received']} flashes " \
                                                     f"'from {s}', which sent it {sent_to_k}"
    for line in read_jsonl(run.run_dir / "coordinator.jsonl"):
        if "quota" in line:
            assert set(line["quota"]["held_by_shard"]) <= {str(k) for k in range(WORKERS)}, line
            assert line["quota"]["held"] <= line["quota"]["limit"], line
    return summary


def _shard_rejects(run: SimRun) -> int:
    return sum(line["counters"]["malformed_rejected"] for k in range(WORKERS)
               for line in read_jsonl(run.run_dir / f"shard-{k}.jsonl"))


@pytest.mark.e2e
@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_no_secret_is_on_any_worker_command_line(sim, transport):
    run = sim(*ARGS, "--duration", "3", "--transport", transport)
    run.wait_for_line("t=", timeout=60)
    pids = _workers(run)
    for pid in pids:
        argv = _argv(pid)
        options = argv[3::2]
        assert argv[1:3] == ["-m", "worker"] and set(options) <= WORKER_OPTIONS, argv
        values = [v for v in argv[4::2] if not v.startswith(("ipc://", "tcp://"))]
        assert not [v for v in values if SECRET_LIKE.fullmatch(v)], argv
    assert run.wait(60) == 0, run.output


@pytest.mark.e2e
@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_an_intruder_without_the_secrets_changes_nothing(sim, transport):
    """It says hello as every shard, asks for a million quota slots, says bye, forges
    frames, and hellos and well-formed flash batches on every edge link."""
    run = sim(*ARGS, "--duration", "8", "--limit", "100", "--transport", transport)
    run.wait_for_line("t=", timeout=60)
    pids = _workers(run)
    report = _intrude([sys.executable], pids)
    assert not report["stole_token"]
    sent = report["sent"]
    summary = _assert_unharmed(run)
    if transport == "ipc":  # same uid: it reached every socket, and all of it was refused
        assert sent["edge"] > 0 and sent["control"] > 0
        assert summary["malformed_rejected_coordinator"] >= sent["control"] + sent["telemetry"]
        assert _shard_rejects(run) >= sent["edge"]
    else:  # tcp: nothing got past a CurveZMQ handshake, so nothing was even read
        assert summary["malformed_rejected_coordinator"] == 0
        assert _shard_rejects(run) == 0


def _other_uid_python() -> list[str]:
    """``runuser -u nobody -- python3`` (the system's: the project's may be private)."""
    runuser, python = shutil.which("runuser"), "/usr/bin/python3"
    if os.geteuid() != 0 or runuser is None:
        pytest.skip("needs root and runuser to run the intruder as another uid")
    try:
        import pwd
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("there is no user 'nobody' to run the intruder as")
    probe = subprocess.run([runuser, "-u", "nobody", "--", python, "-c", "pass"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"user 'nobody' cannot run {python}: {probe.stderr.decode().strip()}")
    return [runuser, "-u", "nobody", "--", python]


@pytest.mark.e2e
@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_another_uid_cannot_reach_ipc_sockets_and_changes_nothing(sim, transport):
    python = _other_uid_python()
    run = sim(*ARGS, "--duration", "5", "--transport", transport)
    run.wait_for_line("t=", timeout=60)
    pids = _workers(run)
    met = _intrude(python, pids, "--raw")["raw"]
    assert len(met) == 2 + WORKERS
    if transport == "ipc":  # the 0700 folder keeps it out
        assert set(met.values()) == {"permission denied"}, met
    summary = _assert_unharmed(run)
    assert summary["malformed_rejected_coordinator"] == 0 and _shard_rejects(run) == 0


# -- edge links bound to their sender ----------------------------------------------------------
TOKEN = "run-token"


class Link:
    """Shard 0's outbox to shard 1's inbox (6x6 grid in two), over ``transport``; with
    tcp both are CurveZMQ and shard 1's ZAP handler waits for ``peers``."""

    def __init__(self, tmp: Path, transport: str) -> None:
        loop = asyncio.get_running_loop()
        self.ctx = zmq.Context()
        self.guard = contextlib.ExitStack()
        grid = Grid(6, 6)
        sender, receiver = layout_of(grid, 2, 0), layout_of(grid, 2, 1)
        self.edge = [sender.cells[i] for i, shards in enumerate(sender.outgoing) if 1 in shards][:3]
        self.keys = {0: Keypair.generate(), 1: Keypair.generate()} if transport == "tcp" else {}
        self.keyring = KeyRing(name="shard 1 inbox", ready=not self.keys)
        if self.keys:
            self.guard.enter_context(guarding(self.ctx, self.keyring))
        self.metrics = ShardMetrics()
        self.outbox = EdgeOutbox(self.ctx, loop, sender, TOKEN, ShardMetrics(), keys=self.keys.get(0))
        self.inbox = EdgeInbox(self.ctx, loop, receiver, TOKEN, self.metrics,
                               endpoint=f"ipc://{tmp}/edge-1" if transport == "ipc" else "tcp://127.0.0.1:*",
                               signal=lambda j, now: None, now=lambda: 10.0,
                               secure=server(self.keys[1]) if self.keys else None)

    def flash(self) -> None:
        for cell in self.edge:
            self.outbox.queue_flash(cell, 9.5, (1,))

    def close(self) -> None:
        self.outbox.close()
        self.inbox.close()
        self.guard.close()
        self.ctx.term()


async def _until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.mark.e2e
async def test_on_ipc_an_edge_link_is_bound_to_the_process_that_said_its_hello(tmp_path):
    """Another process, even one with the token, cannot speak for a linked neighbour."""
    link = Link(tmp_path, "ipc")
    try:
        link.outbox.connect({1: link.inbox.endpoint})
        await asyncio.wait_for(link.inbox.all_hellos, 10)
        forger = ("import sys, zmq\nfrom array import array\nfrom shared import protocol\n"
                  "ctx = zmq.Context(); s = ctx.socket(zmq.PUSH); s.setsockopt(zmq.LINGER, 5000)\n"
                  "s.connect(sys.argv[1])\n"
                  f"s.send(protocol.encode('edge_hello', 0, {TOKEN!r}))\n"
                  f"s.send(protocol.encode('flashes', 0, 1, protocol.pack_cells(array('i', {link.edge!r})), "
                  "protocol.pack_times(array('d', [9.0] * 3))))\ns.close(); ctx.term()\n")
        forged = await asyncio.create_subprocess_exec(sys.executable, "-c", forger, link.inbox.endpoint)
        try:
            assert await asyncio.wait_for(forged.wait(), 30) == 0
        finally:
            if forged.returncode is None:
                forged.kill()
                await forged.wait()
        await _until(lambda: link.metrics.counters.malformed_rejected == 2)
        assert link.metrics.links_received[0] == 0
        link.flash()  # the real neighbour still gets through
        await _until(lambda: link.metrics.links_received[0] == 3)
    finally:
        link.close()


async def test_with_curve_an_edge_inbox_lets_in_only_the_neighbour_keys_from_peers(tmp_path):
    link = Link(tmp_path, "tcp")
    try:
        # The neighbour connects before this worker has read ``peers``: its handshake
        # waits for the keys instead of being refused (libzmq would not retry).
        link.outbox.connect({1: link.inbox.endpoint}, {1: link.keys[1].public})
        await asyncio.sleep(0.3)
        assert not link.inbox.all_hellos.done()
        link.inbox.expect({0: curve_identity(link.keys[0].public)})
        link.keyring.allow([link.keys[0].public])
        await asyncio.wait_for(link.inbox.all_hellos, 10)
        link.flash()
        await _until(lambda: link.metrics.links_received[0] == 3)
        stranger = link.ctx.socket(zmq.PUSH)
        stranger.setsockopt(zmq.LINGER, 0)
        client(Keypair.generate(), link.keys[1].public)(stranger)
        stranger.connect(link.inbox.endpoint)
        stranger.send(protocol.encode("edge_hello", 0, TOKEN))
        await _until(lambda: link.keyring.refused == 1)
        stranger.close()
        assert link.metrics.counters.malformed_rejected == 0 and link.metrics.links_received[0] == 3
    finally:
        link.close()


# -- the ipc folder ------------------------------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _folder(base: Path, name: str, pid_line: str | None) -> Path:
    folder = base / f"cascade-{name}"
    folder.mkdir(mode=0o700)
    if pid_line is not None:
        (folder / PID_FILE).write_text(pid_line)
    return folder


@pytest.fixture
def living() -> Iterator[int]:
    """The pid of a process that runs for the test."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_stale_folders_of_dead_coordinators_go_and_live_ones_stay(tmp_path, living):
    start = Path(f"/proc/{living}/stat").read_text().rsplit(")", 1)[1].split()[19]
    dead = _folder(tmp_path, "dead", f"{_dead_pid()} 12345\n")
    reused = _folder(tmp_path, "reused", f"{living} {int(start) + 1}\n")  # pid reused by another
    live = _folder(tmp_path, "live", f"{living} {start}\n")
    being_made = _folder(tmp_path, "new", None)
    other = tmp_path / "other-prefix"
    other.mkdir()
    (other / PID_FILE).write_text(f"{_dead_pid()}\n")
    link = tmp_path / "cascade-link"
    link.symlink_to(dead, target_is_directory=True)
    foreign = None
    if os.geteuid() == 0:  # another user's folder is never ours to remove
        foreign = _folder(tmp_path, "foreign", f"{_dead_pid()}\n")
        os.chown(foreign, 65534, 65534)
    assert sorted(stale_folders(str(tmp_path))) == sorted([dead, reused])
    with Endpoints("ipc", temp_dir=str(tmp_path)) as endpoints:
        ours = Path(endpoints.folder)
        assert not dead.exists() and not reused.exists()
        assert live.exists() and being_made.exists() and other.exists() and link.is_symlink()
        assert foreign is None or foreign.exists()
        assert ours.stat().st_mode & 0o777 == 0o700
        assert (ours / PID_FILE).read_text().split()[0] == str(os.getpid())
        assert stale_folders(str(tmp_path)) == []  # a running coordinator's folder is live
    assert not ours.exists()


@pytest.mark.e2e
def test_the_folder_of_a_sigkilled_run_is_removed_at_the_next_start(sim):
    killed = sim(*ARGS, "--duration", "0")
    pids = killed.wait_workers(WORKERS)
    killed.wait_for_line("t=", timeout=60)
    (folder,) = killed.socket_dirs
    killed.signal(signal.SIGKILL)
    killed.wait(10)
    assert wait_gone(pids, timeout=10) == []
    assert folder.exists()  # nobody could remove it
    live = sim(*ARGS, "--duration", "1")
    live.wait_workers(WORKERS)
    assert live.wait(60) == 0, live.output
    assert not folder.exists()
    assert live.socket_dirs and not any(d.exists() for d in live.socket_dirs)  # its own, at its end


# -- a worker without its coordinator ------------------------------------------------------
def _worker_command(tmp_path: Path) -> list[str]:
    return [sys.executable, "-m", "worker", "--control", f"ipc://{tmp_path}/control",
            "--telemetry", f"ipc://{tmp_path}/telemetry", "--shard", "0"]


CREDENTIALS = '{"token": "t", "public": "", "secret": "", "server": ""}\n'


@pytest.mark.e2e
def test_a_worker_whose_coordinator_is_already_gone_exits_at_once(tmp_path):
    worker = subprocess.Popen(_worker_command(tmp_path), stdin=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT,
                              env={**os.environ, PARENT_PID_ENV: str(_dead_pid())})
    try:
        worker.stdin.write(CREDENTIALS)
        worker.stdin.close()
        assert worker.wait(10) == 1  # without the check it waits for a config for 60 s
        assert "already gone" in worker.stderr.read()
    finally:
        worker.kill()
        worker.wait()


@pytest.mark.e2e
def test_a_worker_orphaned_while_it_starts_exits_by_itself(tmp_path):
    """Its parent hands it the credentials and dies at once, before or after the
    worker's first instruction: either the parent-death signal or the start check ends it."""
    spawn = ("import os, subprocess, sys\n"
             f"p = subprocess.Popen({_worker_command(tmp_path)!r}, stdin=subprocess.PIPE, "
             "stderr=subprocess.DEVNULL, start_new_session=True, "
             f"env={{**os.environ, {PARENT_PID_ENV!r}: str(os.getpid())}})\n"
             f"p.stdin.write({CREDENTIALS!r}.encode()); p.stdin.close()\n"
             "print(p.pid, flush=True)\nos._exit(0)\n")
    out = subprocess.run([sys.executable, "-c", spawn], capture_output=True, text=True, timeout=30, cwd=ROOT)
    pid = int(out.stdout)
    try:
        assert wait_gone([pid], timeout=10) == [], "the orphaned worker kept running"
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
