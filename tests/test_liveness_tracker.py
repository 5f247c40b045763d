"""coordinator.liveness and coordinator.stop without processes: silence makes a shard
stalled, then lost; a word brings it back; the stop deadlines and loss reasons."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from coordinator.liveness import LOST_S, STALL_S, Liveness, Loss, process_stopped
from coordinator.stop import exit_text, stop_grace, unstopped_reason


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _tracker(shards: int = 3) -> tuple[Liveness, FakeClock]:
    clock = FakeClock()
    live = Liveness(shards, stall_s=1.0, lost_s=10.0, clock=clock)
    live.start()
    return live, clock


def test_the_thresholds_leave_room_for_an_8_s_stop_and_a_stalled_coordinator():
    assert 0 < STALL_S < 2.0 < 8.0 + 1.0 < LOST_S


def test_a_silent_shard_is_stalled_then_lost_and_forgotten():
    live, clock = _tracker()
    clock.now += 0.9
    for k in (0, 1):
        live.heard(k)
    assert not live.check()
    clock.now += 0.5  # shard 2 silent 1.4 s
    changes = live.check()
    assert changes.stalled == {2: pytest.approx(1.4)} and live.stalled == [2]
    assert not live.check()  # reported once
    for _ in range(20):
        clock.now += 0.5
        live.heard(0)
        live.heard(1)
        changes = live.check()
        if changes.lost:
            break
    assert changes.lost == {2: pytest.approx(10.4)}
    assert live.stalled == [] and live.silent_for(2) == 0.0  # forgotten
    assert live.measurements()["2"] == pytest.approx(10.4)


def test_a_stalled_shard_that_speaks_again_resumes_with_its_silence():
    live, clock = _tracker(2)
    clock.now += 3.0
    live.heard(0)
    assert live.check().stalled.keys() == {1}
    clock.now += 5.0
    live.heard(0)
    live.heard(1)  # silent 8 s: below the lost deadline
    changes = live.check()
    assert changes.resumed == {1: pytest.approx(8.0)} and not changes.lost
    assert live.stalled == [] and live.longest_silence[1] == pytest.approx(8.0)


def test_nothing_is_tracked_before_start_or_after_forget():
    clock = FakeClock()
    live = Liveness(2, clock=clock)
    live.heard(0)
    clock.now += 100
    assert not live.check()
    live.start()
    live.forget(1)
    clock.now += 100
    assert live.check().lost.keys() == {0}


def test_thresholds_must_be_ordered():
    with pytest.raises(ValueError, match="stall_s=5 and lost_s=2"):
        Liveness(1, stall_s=5, lost_s=2)


def test_a_loss_as_summary_json_records_it():
    assert Loss("bye: SIGTERM", 2.5, 0).to_dict() == {"code": 0, "reason": "bye: SIGTERM", "since_s": 2.5}


def test_process_stopped_sees_sigstop():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not process_stopped(proc.pid)
        os.kill(proc.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while not process_stopped(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process_stopped(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert not process_stopped(proc.pid)  # gone


def test_the_stop_grace_scales_with_the_shard():
    assert stop_grace(0) >= 3.0
    assert stop_grace(125_000) > 2 * 18.3  # measured: up to 18.3 s for 125,000 agents
    with pytest.raises(ValueError, match="agents_per_shard=-1"):
        stop_grace(-1)


def test_exit_and_loss_texts():
    assert exit_text(-9) == "killed by SIGKILL" and exit_text(3) == "exited with code 3"
    assert unstopped_reason(silent=2.0, sigstopped=True, stalled_at_stop=False, grace=5.0).startswith(
        "stopped (SIGSTOP)")
    assert unstopped_reason(silent=2.0, sigstopped=False, stalled_at_stop=True, grace=5.0).startswith(
        "stalled at the end")
    assert unstopped_reason(silent=2.0, sigstopped=False, stalled_at_stop=False, grace=5.0) == \
        "did not stop within 5.0 s"


def test_the_coordinators_own_stall_is_not_its_workers_silence():
    live, clock = _tracker(2)
    clock.now += 6.0  # the coordinator was stopped: nothing read
    live.excuse(6.0)
    assert not live.check() and live.silent_for(0) == pytest.approx(0.0)
    clock.now += 2.0
    live.heard(1)  # read as the coordinator came back: never credited into the future
    live.excuse(5.0)
    assert live.silent_for(1) == pytest.approx(0.0) and live.silent_for(0) == pytest.approx(0.0)


def test_a_shard_silent_past_the_deadline_but_working_stays_stalled():
    live, clock = _tracker(1)
    clock.now += 11.0
    changes = live.check(working=lambda shard: True)  # busy: its process uses the CPU
    assert changes.stalled.keys() == {0} and not changes.lost
    assert live.check(working=lambda shard: False).lost.keys() == {0}
