"""No worker outlives its coordinator: on a normal end, SIGINT, SIGTERM, and when the
coordinator itself is killed with SIGKILL (checked by pid)."""

from __future__ import annotations

import json
import signal
import time

import pytest

from simrun import wait_gone

pytestmark = pytest.mark.e2e  # real coordinator and worker processes

ARGS = ("--workers", "3", "--grid", "30", "--period", "1")


def test_normal_end_leaves_no_worker(sim):
    run = sim(*ARGS, "--duration", "2")
    pids = run.wait_workers(3)
    assert run.wait() == 0, run.output
    assert wait_gone(pids, timeout=1) == []
    assert json.loads((run.run_dir / "summary.json").read_text())["exit"] == "duration"


@pytest.mark.parametrize("sig, code, reason", [(signal.SIGINT, 130, "interrupted"),
                                               (signal.SIGTERM, 143, "terminated")])
def test_signal_stops_and_reaps_every_worker(sim, sig, code, reason):
    run = sim(*ARGS, "--duration", "0")
    pids = run.wait_workers(3)
    run.wait_for_line("t=", timeout=60)  # the run is under way
    run.signal(sig)
    assert run.wait(30) == code, run.output
    assert wait_gone(pids, timeout=1) == []
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["exit"] == reason
    assert summary["flashes"] > 0


def test_signal_during_set_up_reaps_every_worker(sim):
    run = sim("--workers", "3", "--grid", "200", "--duration", "0")
    pids = run.wait_workers(3)
    run.signal(signal.SIGINT)
    assert run.wait(30) == 130, run.output
    assert wait_gone(pids, timeout=1) == []


def test_workers_exit_by_themselves_when_the_coordinator_is_killed(sim):
    run = sim(*ARGS, "--duration", "0")
    pids = run.wait_workers(3)
    run.wait_for_line("t=", timeout=60)
    run.signal(signal.SIGKILL)
    run.wait(10)
    started = time.monotonic()
    assert wait_gone(pids, timeout=10) == [], "workers outlived a SIGKILLed coordinator"
    assert time.monotonic() - started < 10
    for k in range(3):  # each wrote its final line on the way out (parent gone: SIGTERM)
        last = json.loads((run.run_dir / f"shard-{k}.jsonl").read_text().splitlines()[-1])
        assert last["final"] is True and last["stop_reason"] in ("SIGTERM", "parent process gone")
