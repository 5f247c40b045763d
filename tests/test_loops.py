"""``--loop``: the workers' event loop. uvloop (the speed extra) runs the same
lock-step run to the same hashes as asyncio; a missing or unknown loop is a one-line
error."""

from __future__ import annotations

import importlib.util
import json

import pytest

from shared import loops

from simrun import read_jsonl


@pytest.mark.e2e
def test_uvloop_and_asyncio_workers_compute_the_same_lockstep_run(sim):
    hashes, busy = {}, {}
    for loop in loops.LOOPS:
        run = sim("--workers", "2", "--grid", "16x12", "--clock", "lockstep", "--delay", "0.05",
                  "--duration", "6", "--period", "1", "--nudge", "0.2", "--seed", "5",
                  "--loop", loop)
        assert run.wait() == 0, run.output
        summary = json.loads((run.run_dir / "summary.json").read_text())
        assert json.loads((run.run_dir / "run.json").read_text())["config"]["loop"] == loop
        hashes[loop] = (summary["state_hash"], summary["flash_train_hash"], summary["flashes"])
        # A run shorter than one report interval still has its (final) interval line.
        lines = read_jsonl(run.run_dir / "coordinator.jsonl")
        assert lines[-1]["final"] is True and lines[-1]["sim_t"] == 6.0, lines
        busy[loop] = [line["process"]["loop_busy"]
                      for line in read_jsonl(run.run_dir / "shard-0.jsonl")]
    assert hashes["uvloop"] == hashes["asyncio"] and hashes["asyncio"][2] > 100
    # Which loop really ran: only asyncio's timing selector measures loop_busy.
    assert all(b is None for b in busy["uvloop"])
    assert any(isinstance(b, float) for b in busy["asyncio"])


def test_a_missing_uvloop_is_named_with_its_fix(monkeypatch):
    assert loops.missing("asyncio") is None
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "uvloop" else real(name, *a))
    assert loops.missing("uvloop") == ("--loop uvloop: uvloop is not installed; install the "
                                       "speed extra: pip install '.[speed]'")
    assert loops.missing("trio") == "--loop 'trio': must be one of asyncio, uvloop"
