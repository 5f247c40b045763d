"""The global quota on real processes: 4 workers, L much smaller than the agents."""

from __future__ import annotations

import json
import signal
import time

import psutil
import pytest

from simrun import read_jsonl, wait_gone

pytestmark = pytest.mark.e2e  # real coordinator and worker processes


def _merged_slot_events(run_dir, shards):
    events = []
    for k in shards:
        events += [tuple(e) for e in read_jsonl(run_dir / f"quota-{k}.jsonl")]
    return sorted(events)


def test_global_slots_in_use_never_exceed_the_limit_and_every_agent_steps(sim):
    limit = 40  # 900 agents: L is agents/22
    run = sim("--workers", "4", "--grid", "30", "--period", "1", "--duration", "6",
              "--limit", str(limit), "--trace-quota")
    assert run.wait() == 0, run.output
    events = _merged_slot_events(run.run_dir, range(4))
    in_use = peak = 0
    for _, delta in events:  # acquisitions and releases of all shards on one shared clock
        in_use += delta
        assert in_use <= limit
        peak = max(peak, in_use)
    assert in_use == 0 and peak == limit  # the limit was reached, never passed
    assert len(events) > 2 * 900
    finals = [read_jsonl(run.run_dir / f"shard-{k}.jsonl")[-1] for k in range(4)]
    assert all(f["agents_without_flash"] == 0 and f["agents_failed"] == 0 for f in finals)
    assert sum(f["agents"] for f in finals) == 900
    # the quota is visible: per shard in the logs, globally in coordinator.jsonl and the status line
    assert all({"held", "in_use", "waiting"} <= f["quota"].keys() for f in finals)
    lines = read_jsonl(run.run_dir / "coordinator.jsonl")
    assert all(l["quota"]["limit"] == limit and l["quota"]["held"] <= limit for l in lines)
    assert max(l["quota"]["in_use"] for l in lines) == limit
    assert any(f"slots={limit}/{limit}" in l for l in run.lines)
    waits = sum(l["counters"]["quota_waits"] for k in range(4) for l in read_jsonl(run.run_dir / f"shard-{k}.jsonl"))
    assert waits > 0


def test_a_killed_workers_slots_go_to_the_survivors(sim):
    limit = 80
    run = sim("--workers", "4", "--grid", "30", "--period", "1", "--duration", "12",
              "--limit", str(limit))
    pids = run.wait_workers(4)
    def shard_of(pid: int) -> str:
        cmd = psutil.Process(pid).cmdline()
        return cmd[cmd.index("--shard") + 1]

    victim = next(p for p in pids if shard_of(p) == "0")
    run.wait_for_line("t=    3", timeout=60)
    killed_at = time.monotonic()
    psutil.Process(victim).send_signal(signal.SIGKILL)
    assert run.wait(60) == 3, run.output  # a worker was lost
    assert wait_gone(pids, timeout=5) == []
    lines = read_jsonl(run.run_dir / "coordinator.jsonl")
    survivors = ("1", "2", "3")

    def survivors_held(line):
        return sum(line["quota"]["held_by_shard"].get(s, 0) for s in survivors)

    before = [survivors_held(l) for l in lines if l["t"] < 3.0]
    after = [survivors_held(l) for l in lines if l["workers_alive"] == 3]
    assert before and after, lines
    assert max(before) <= limit - 1  # shard 0 held part of the pool
    # within the lease time (3 s) of the kill, the survivors hold the whole pool
    late = [survivors_held(l) for l in lines if l["workers_alive"] == 3][3:]
    assert late and min(late) > max(before)
    assert max(after) == limit
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert {k: (v["code"], v["reason"]) for k, v in summary["workers_lost"].items()} == \
        {"0": (-9, "killed by SIGKILL")}
    assert time.monotonic() - killed_at < 60


def test_no_quota_traffic_without_a_limit(sim):
    run = sim("--workers", "2", "--grid", "20", "--period", "1", "--duration", "2")
    assert run.wait() == 0, run.output
    for k in range(2):
        assert all("quota" not in l for l in read_jsonl(run.run_dir / f"shard-{k}.jsonl"))
    assert all("quota" not in l for l in read_jsonl(run.run_dir / "coordinator.jsonl"))
