"""Losing a worker with ``--on-worker-loss restart`` (coordinator/recovery.py) on real
processes: a lock-step run whose worker is SIGKILLed rolls back to its checkpoint and
ends as a run with no loss would; a real-time run's shard is taken over by a new worker
from its snapshot while the others run on; past ``--max-restarts`` either aborts as
before."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import psutil
import pytest

from simrun import read_jsonl, wait_gone

pytestmark = pytest.mark.e2e  # real coordinator and worker processes

MODEL = ["--clock", "lockstep", "--grid", "60", "--workers", "3", "--seed", "4",
         "--duration", "40"]


def _worker_of(run, shard: int) -> int:
    """The pid of the running worker of ``shard`` (a restart makes new ones)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for pid in run.record_workers():
            try:
                cmd = psutil.Process(pid).cmdline()
                if cmd[cmd.index("--shard") + 1] == str(shard) and psutil.Process(pid).is_running():
                    if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                        return pid
            except (psutil.Error, ValueError, IndexError):
                continue
        time.sleep(0.05)
    raise AssertionError(f"no worker of shard {shard}; output:\n{run.output}")


def _status_lines(run) -> int:
    return sum(1 for line in run.lines if line.startswith("t="))


def _kill_when_checkpointed(run, shard: int, lines_before: int = 0) -> int:
    """SIGKILL shard's worker once the run printed a status line after the first
    ``lines_before`` and has a checkpoint."""
    deadline = time.monotonic() + 90
    while _status_lines(run) <= lines_before:
        assert time.monotonic() < deadline and run.proc.poll() is None, run.output
        run.record_workers()
        time.sleep(0.05)
    while not (run.run_dir / "checkpoint.npz").exists():
        assert time.monotonic() < deadline, run.output
        time.sleep(0.05)
    pid = _worker_of(run, shard)
    psutil.Process(pid).send_signal(signal.SIGKILL)
    return pid


def test_a_killed_lockstep_worker_is_replaced_and_the_hashes_are_a_clean_runs(sim):
    clean = sim(*MODEL)
    assert clean.wait(180) == 0, clean.output
    expected = json.loads((clean.run_dir / "summary.json").read_text())
    run = sim(*MODEL, "--on-worker-loss", "restart", "--checkpoint-every", "1")
    killed = _kill_when_checkpointed(run, 1)
    run.wait_for_line("restarting: shards [1] lost", timeout=90)
    run.wait_workers(6)  # the next generation's three, recorded to check they are gone
    assert run.wait(180) == 0, run.output
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["exit"] == "duration" and summary["workers_lost"] == {}
    assert summary["state_hash"] == expected["state_hash"]
    assert summary["flash_train_hash"] == expected["flash_train_hash"]
    assert summary["flashes"] == expected["flashes"]
    (recovery,) = summary["recoveries"]
    assert recovery["shard"] == 1 and recovery["reason"] == "killed by SIGKILL"
    assert 0 < recovery["resumed_from_s"] <= (recovery["lost_at_s"] or 0) + 1e-9
    assert 0 < recovery["recovery_s"] < 60
    assert any(line.startswith("restarting: shards [1] lost") for line in run.lines)
    # every shard's log goes on after a line that marks where the replay begins
    for k in range(3):
        lines = read_jsonl(run.run_dir / f"shard-{k}.jsonl")
        marks = [l for l in lines if "resumed_from_s" in l]
        assert [m["resumed_from_s"] for m in marks] == [recovery["resumed_from_s"]], k
        assert lines[-1]["final"] and lines[-1]["t"] == pytest.approx(40.0)
    assert not wait_gone(run.record_workers() | {killed})  # no worker of any generation left


def test_more_losses_than_max_restarts_end_the_run_as_before(sim):
    run = sim(*MODEL, "--on-worker-loss", "restart", "--max-restarts", "1",
              "--checkpoint-every", "1")
    _kill_when_checkpointed(run, 2)
    run.wait_for_line("restarting: shards [2] lost", timeout=90)
    run.wait_workers(6)
    _kill_when_checkpointed(run, 2, _status_lines(run))  # once the second generation runs
    assert run.wait(180) == 3, run.output
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["exit"] == "workers_lost" and list(summary["workers_lost"]) == ["2"]
    assert [r["shard"] for r in summary["recoveries"]] == [2]  # the first loss was recovered
    assert not wait_gone(run.record_workers())


REALTIME = ["--grid", "60", "--workers", "3", "--period", "1", "--duration", "10"]


def _kill_after_snapshot(run, shard: int) -> int:
    """SIGKILL shard's worker once it saved a snapshot and the run printed a line."""
    run.wait_for_line("t=", timeout=60)
    deadline = time.monotonic() + 60
    while not (run.run_dir / f"snapshot-{shard}.npz").exists():
        assert time.monotonic() < deadline and run.proc.poll() is None, run.output
        time.sleep(0.05)
    pid = _worker_of(run, shard)
    psutil.Process(pid).send_signal(signal.SIGKILL)
    return pid


def test_a_killed_realtime_worker_is_replaced_from_its_snapshot_and_relinked(sim):
    run = sim(*REALTIME, "--on-worker-loss", "restart")
    killed = _kill_after_snapshot(run, 1)
    run.wait_for_line("worker 1 replaced in ", timeout=60)
    run.wait_workers(4)  # the replacement, recorded to check it is gone at the end
    assert run.wait(120) == 0, run.output
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["exit"] == "duration" and summary["workers_lost"] == {}
    (recovery,) = summary["recoveries"]
    assert recovery["shard"] == 1 and recovery["reason"] == "killed by SIGKILL"
    assert 0 < recovery["gap_s"] < 30 and 0 < recovery["recovery_s"] < 60
    lines = read_jsonl(run.run_dir / "shard-1.jsonl")  # the replacement appends to the log
    marks = [i for i, l in enumerate(lines) if "resumed_from_s" in l]
    assert len(marks) == 1 and lines[marks[0]]["resumed_from_s"] == pytest.approx(
        recovery["resumed_from_s"])
    after = lines[marks[0]:]
    assert lines[-1]["final"] and lines[-1]["t"] >= 9.5  # the replacement ran to the end
    assert sum(l["counters"]["flashes"] for l in after) > 0  # its agents run again
    # the edge links re-formed both ways: the replacement hears its neighbours...
    assert sum(l["counters"]["edge_flashes_received"] for l in after) > 0
    # ...and they hear it, on links whose counts start again
    for k in (0, 2):
        final = read_jsonl(run.run_dir / f"shard-{k}.jsonl")[-1]
        assert final["links"]["1"]["received"] > 0 and final["link_gaps"] == 0
    assert not wait_gone(run.record_workers() | {killed})
    gather = subprocess.run([sys.executable, "-m", "coordinator.logtools.gather", str(run.run_dir)],
                            capture_output=True, text=True, timeout=60)
    assert gather.returncode == 0, gather.stderr  # sim-gather names the recovery and its gap
    assert f"recovered=shard 1 from {recovery['resumed_from_s']:.2f}s (gap {recovery['gap_s']:.2f}s)" \
        in gather.stdout, gather.stdout


def test_a_realtime_loss_past_max_restarts_ends_the_run_as_before(sim):
    run = sim(*REALTIME, "--on-worker-loss", "restart", "--max-restarts", "0")
    _kill_after_snapshot(run, 2)
    assert run.wait(120) == 3, run.output
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert list(summary["workers_lost"]) == ["2"] and "recoveries" not in summary
    assert not wait_gone(run.record_workers())


def test_restart_is_refused_with_workers_that_join(sim, tmp_path):
    from joinkit import keys_in

    keys = keys_in(tmp_path / "keys")
    run = sim("--workers", "2", "--listen", "127.0.0.1:7999", "--keys", str(keys), "--spawn", "1",
              "--on-worker-loss", "restart")
    assert run.wait(60) == 2
    assert "--on-worker-loss restart needs every worker on this host" in run.output
