"""Liveness on real processes: a kill matrix (SIGKILL, SIGTERM, SIGSTOP for good) of
one worker at start-up, mid-run and at the end; a worker stopped for 8 s and
resumed; the coordinator stopped for 5 s and 8 s, and for longer than the workers'
heartbeat timeout. In every case: lost or stalled workers are reported within the documented
times (docs/protocol.md, "Liveness"), the exit code says what happened, no process
is left 3 s after the coordinator's end, every .jsonl is valid and summary.json
exists. Detection times are asserted generously (threshold + 3 s): the machine is
shared."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from shared.runlog.schema import LOST_FIELDS, SUMMARY_FIELDS, check

from coordinator.config import RunConfig
from coordinator.liveness import LOST_S, STALL_S
from simrun import SimRun, wait_gone

pytestmark = pytest.mark.e2e  # real coordinator and worker processes

SMALL = ("--grid", "24", "--period", "1")
SLACK_S = 3.0  # on top of a documented time: the machine is shared


def _pid(run: SimRun, shard: int) -> int:
    """The pid of worker ``shard`` (from its command line)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for pid in run.record_workers():
            try:
                cmd = psutil.Process(pid).cmdline()
            except psutil.Error:
                continue
            if "--shard" in cmd and cmd[cmd.index("--shard") + 1] == str(shard):
                return pid
        time.sleep(0.02)
    raise AssertionError(f"no worker {shard}; output:\n{run.output}")


def _seen_within(run: SimRun, prefix: str, seconds: float) -> float:
    """Seconds until a line starting ``prefix`` appears (fails after ``seconds``)."""
    started = time.monotonic()
    run.wait_for_line(prefix, timeout=seconds)
    return time.monotonic() - started


def _ended_cleanly(run: SimRun, code: int, timeout: float = 60) -> dict[str, Any]:
    """The run exits with ``code``, leaves no process, valid logs; returns the summary."""
    pids = run.record_workers()
    assert run.wait(timeout) == code, run.output
    assert wait_gone(pids, timeout=3) == [], f"workers outlived the coordinator:\n{run.output}"
    for path in Path(run.run_dir).glob("*.jsonl"):
        for n, line in enumerate(path.read_text().splitlines()):
            json.loads(line)  # raises on a torn or invalid line
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert check(summary, SUMMARY_FIELDS) == []
    for loss in summary["workers_lost"].values():
        assert check(loss, LOST_FIELDS) == []
    return summary


def _final_reason(run: SimRun, shard: int) -> str:
    """The stop reason on worker ``shard``'s final shard-log line."""
    last = json.loads((run.run_dir / f"shard-{shard}.jsonl").read_text().splitlines()[-1])
    assert last.get("final") is True, last
    return last["stop_reason"]


def _intervals(run: SimRun) -> list[dict[str, Any]]:
    return [json.loads(l) for l in (run.run_dir / "coordinator.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------------- mid-run
@pytest.mark.parametrize("sig, code, reason", [(signal.SIGKILL, -9, "killed by SIGKILL"),
                                               (signal.SIGTERM, 0, "bye: SIGTERM")])
def test_a_worker_killed_or_terminated_mid_run_is_lost_at_once(sim, sig, code, reason):
    run = sim("--workers", "3", *SMALL, "--duration", "4")
    run.wait_for_line("t=", timeout=60)
    os.kill(_pid(run, 1), sig)
    took = _seen_within(run, "worker 1 lost: ", 2 + SLACK_S)
    summary = _ended_cleanly(run, 3)
    assert summary["exit"] == "workers_lost"
    lost = summary["workers_lost"]["1"]
    assert (lost["code"], lost["reason"]) == (code, reason), lost
    assert 0.5 < lost["since_s"] < 4.0
    if sig == signal.SIGTERM:
        assert _final_reason(run, 1) == "SIGTERM"
    assert _final_reason(run, 0) == "coordinator: duration"
    print(f"{signal.Signals(sig).name} mid-run: lost after {took:.2f} s")


def test_stopped_for_good_is_stalled_at_once_lost_at_the_deadline_and_the_run_ends_on_time(sim):
    """Shard 1 is stopped for good, shard 2 for 8 s: 2 resumes and is not lost."""
    duration = LOST_S + 4
    run = sim("--workers", "3", *SMALL, "--duration", str(duration))
    run.wait_for_line("t=", timeout=60)
    first_line = time.monotonic()
    stopped, paused = _pid(run, 1), _pid(run, 2)
    os.kill(stopped, signal.SIGSTOP)
    os.kill(paused, signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        stall_took = _seen_within(run, "worker 1 stalled", STALL_S + SLACK_S)
        time.sleep(max(0.0, 8.0 - (time.monotonic() - first_line)))  # shard 2: 8 s stopped
    finally:
        os.kill(paused, signal.SIGCONT)
    _seen_within(run, "worker 2 resumed after ", SLACK_S)
    run.wait_for_line("worker 1 lost: stalled: no word for", timeout=LOST_S + SLACK_S)
    lost_took = time.monotonic() - stopped_at
    assert lost_took < LOST_S + SLACK_S
    summary = _ended_cleanly(run, 3)
    ended = time.monotonic() - first_line
    assert ended < duration + SLACK_S, f"the run ended {ended:.1f} s after its first line"
    assert set(summary["workers_lost"]) == {"1"}  # shard 2 resumed: not lost
    lost = summary["workers_lost"]["1"]
    assert lost["code"] == -9 and 0.5 < lost["since_s"] < 4.0
    assert summary["longest_silence_s"]["2"] > 7.0
    lines = _intervals(run)
    assert any(l.get("stalled") == [1, 2] and l["shards_in_R"] == 1 for l in lines)
    assert any("stalled=2 [1, 2]" in l for l in run.lines)
    print(f"SIGSTOP mid-run: stalled after {stall_took:.2f} s, lost after {lost_took:.1f} s")


# --------------------------------------------------------------------- at the end
def test_workers_killed_terminated_or_stopped_as_the_run_ends_are_lost_and_the_end_is_prompt(sim):
    run = sim("--workers", "4", *SMALL, "--duration", "3")
    line = run.wait_for_line("t=    2.", timeout=60)
    pids = {shard: _pid(run, shard) for shard in (1, 2, 3)}
    time.sleep(0.2)  # about 0.7 s before the end
    for shard, sig in ((1, signal.SIGKILL), (2, signal.SIGTERM), (3, signal.SIGSTOP)):
        os.kill(pids[shard], sig)
    signalled = time.monotonic()
    summary = _ended_cleanly(run, 3)
    assert time.monotonic() - signalled < 1.0 + SLACK_S, line
    lost = summary["workers_lost"]
    assert set(lost) == {"1", "2", "3"}, run.output
    assert lost["1"]["code"] == -9 and lost["2"]["reason"] == "bye: SIGTERM"
    assert lost["3"]["reason"].startswith(("stopped (SIGSTOP) at the end", "stalled")), lost["3"]
    assert "0" not in lost


# ------------------------------------------------------------------------ start-up
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_worker_killed_at_start_up_is_lost(sim, sig):
    run = sim("--workers", "2", *SMALL, "--duration", "5")
    os.kill(_pid(run, 1), sig)
    summary = _ended_cleanly(run, 3, timeout=30)
    assert summary["exit"] == "workers_lost"
    lost = summary["workers_lost"]["1"]
    assert lost["since_s"] is None  # before the run began
    assert lost["reason"] in (f"killed by {sig.name}", "bye during set-up: SIGTERM"), lost


def test_a_worker_stopped_at_start_up_is_lost_after_the_deadline(sim):
    run = sim("--workers", "2", *SMALL, "--duration", "5")
    os.kill(_pid(run, 1), signal.SIGSTOP)
    took = _seen_within(run, "worker 1 lost: stopped (SIGSTOP) during set-up", LOST_S + SLACK_S + 2)
    summary = _ended_cleanly(run, 3, timeout=30)
    assert summary["workers_lost"]["1"]["since_s"] is None
    print(f"SIGSTOP at start-up: lost after {took:.1f} s")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_during_start_up_ends_within_2_s_and_loses_no_one(sim, sig, code):
    run = sim("--workers", "3", "--grid", "200", "--duration", "0")
    run.wait_workers(3)
    run.signal(sig)
    signalled = time.monotonic()
    summary = _ended_cleanly(run, code, timeout=30)
    took = time.monotonic() - signalled
    assert took < 2.0 + 1.0, f"took {took:.1f} s\n{run.output}"  # 2 s, plus a shared machine's 1 s
    assert summary["workers_lost"] == {}
    print(f"interrupt during start-up: ended after {took:.2f} s")


# --------------------------------------------------------------- the coordinator stalls
@pytest.mark.parametrize("seconds", [5, 8])
def test_a_coordinator_stopped_for_5_or_8_s_loses_no_worker(sim, seconds):
    """A coordinator stopped (the extreme of starved of CPU) for less than the workers'
    heartbeat timeout: nobody leaves, nobody is stalled or lost."""
    assert seconds < RunConfig().heartbeat_timeout
    run = sim("--workers", "2", *SMALL, "--duration", str(seconds + 3))
    run.wait_for_line("t=", timeout=60)
    run.signal(signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        run.signal(signal.SIGCONT)
    summary = _ended_cleanly(run, 0)
    assert summary["workers_lost"] == {}
    assert not any(l.startswith("worker ") for l in run.lines), run.output  # none stalled: excused


def test_a_coordinator_stopped_past_the_heartbeat_timeout_says_so_in_one_line(sim):
    timeout = RunConfig().heartbeat_timeout
    run = sim("--workers", "2", *SMALL, "--duration", str(timeout + 8))
    run.wait_for_line("t=", timeout=60)
    pids = {_pid(run, 0), _pid(run, 1)}
    run.signal(signal.SIGSTOP)
    try:
        assert wait_gone(pids, timeout=timeout + 2 + SLACK_S) == []  # they left on their own
    finally:
        run.signal(signal.SIGCONT)
    summary = _ended_cleanly(run, 3)
    (line,) = [l for l in run.lines if l.startswith("error: every worker left")]
    assert "the coordinator was stalled" in line, run.output
    for shard, loss in summary["workers_lost"].items():
        assert loss["reason"].startswith("bye: no word from the coordinator"), loss
        assert _final_reason(run, int(shard)).startswith("no word from the coordinator")
