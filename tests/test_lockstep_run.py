"""``sim-coordinator --clock lockstep``: real workers, real ZeroMQ edge links, the same
result bit for bit on any number of workers, over ipc and tcp, and equal to a plain
event-driven reference written in the tests (docs/lockstep.md)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from shared.grid import Grid
from shared.model import FireflyParams
from shared.partition import partition
from shared.runlog.schema import STATE_NPZ, SUMMARY_JSON, shard_log
from simrun import SimRun, read_jsonl

from lockstepkit import reference

pytestmark = pytest.mark.e2e

MODEL = ("--period", "1", "--nudge", "0.3", "--refractory", "0.2", "--delay", "0.05")


def finished(run: SimRun) -> dict[str, Any]:
    assert run.wait(240) == 0, run.output
    summary = json.loads((run.run_dir / SUMMARY_JSON).read_text())
    assert summary["exit"] == "duration" and summary["error"] is None
    return summary


def owners(grid: Grid, workers: int) -> list[int]:
    owner = [0] * grid.cells
    for shard in partition(grid, workers):
        for cell in shard.cell_ids(grid):
            owner[cell] = shard.index
    return owner


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_one_to_four_workers_give_identical_hashes(sim, transport: str) -> None:
    hashes, received = set(), {}
    for workers in (1, 2, 3, 4):
        run = sim("--clock", "lockstep", "--workers", str(workers), "--grid", "48",
                  "--duration", "20", "--seed", "7", "--transport", transport, *MODEL)
        summary = finished(run)
        assert summary["sim_time"] == 20.0 and summary["flashes"] > 40_000
        hashes.add((summary["state_hash"], summary["flash_train_hash"]))
        received[workers] = summary["counters"].get("edge_flashes_received", 0)
    assert len(hashes) == 1, hashes
    assert received[1] == 0 and min(received[w] for w in (2, 3, 4)) > 5_000, received


def test_cascades_cross_the_borders_often() -> None:
    """The model of the test above, computed by the reference: the count of signals
    from another shard that made a cell flash at once (quoted in the closing note)."""
    grid = Grid(48, 48)
    params = FireflyParams(period=1.0, nudge=0.3, refractory=0.2, reset_jitter=0.1, seed=7)
    from shared.model import initial_phases
    phases = initial_phases(grid.cells, params)
    for workers in (2, 4):
        crossings = reference(grid, params, phases, 0.05, 20.0, owners(grid, workers)).crossings
        assert crossings > 1_000, (workers, crossings)


def test_the_final_state_equals_the_reference(sim, tmp_path: Path) -> None:
    grid = Grid(20, 14)
    params = FireflyParams(period=1.0, nudge=0.3, refractory=0.2, reset_jitter=0.0, seed=3)
    phases = np.random.default_rng(11).uniform(0.0, 1.0, grid.cells)
    np.save(tmp_path / "phases.npy", phases)
    run = sim("--clock", "lockstep", "--workers", "3", "--grid", "20x14", "--duration", "8",
              "--jitter", "0", "--init", str(tmp_path / "phases.npy"), *MODEL)
    finished(run)
    for k in range(3):  # each line: its real-time factor, its windows' and barriers' times
        lines = read_jsonl(run.run_dir / shard_log(k))
        timed = [line for line in lines if "rtf" in line]
        assert len(timed) >= 7 and all(line["rtf"] > 0 for line in timed)
        assert sum(line["window_ms"]["count"] for line in timed) >= 140  # 20 windows a second
        assert all(line["barrier_wait_ms"]["count"] == line["window_ms"]["count"] for line in timed)
        assert all(line["fps"] == 30.0 for line in timed)  # frames per simulated second
    expected = reference(grid, params, phases, 0.05, 8.0)
    with np.load(run.run_dir / STATE_NPZ) as state:
        assert float(state["t"]) == 8.0
        assert state["flash_count"].tolist() == expected.count
        assert np.abs(state["phase"] - (8.0 - np.array(expected.epoch))).max() <= 1e-9


@given(width=st.integers(1, 12), height=st.integers(2, 9), workers=st.integers(2, 4),
       delay=st.sampled_from(["0.02", "0.05", "0.2"]), seed=st.integers(0, 1000))
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_grid_worker_count_delay_and_seed(width: int, height: int, workers: int,
                                              delay: str, seed: int) -> None:
    workers = min(workers, width * height)
    args = ["--clock", "lockstep", "--grid", f"{width}x{height}", "--duration", "4",
            "--period", "1", "--nudge", "0.3", "--refractory", "0.2", "--delay", delay,
            "--seed", str(seed)]
    hashes = set()
    with tempfile.TemporaryDirectory() as logs:
        for n in (1, workers):
            run = SimRun([*args, "--workers", str(n)], Path(logs))
            try:
                summary = finished(run)
            finally:
                run.cleanup()
            hashes.add((summary["state_hash"], summary["flash_train_hash"]))
    assert len(hashes) == 1


def test_a_quota_slows_lockstep_and_changes_nothing_in_simulated_time(sim) -> None:
    """``--limit`` in lock-step: an agent holds a slot only while it acts. A shard's
    acts run one after another, so a quota of 1 for 2 workers makes the shards take
    turns (agents do queue), and the hashes stay those of the same run without a quota
    (docs/lockstep.md, "The quota in lock-step")."""
    common = ("--clock", "lockstep", "--workers", "2", "--grid", "16x12", "--duration", "8",
              "--seed", "3", *MODEL)
    free = finished(sim(*common))
    run = sim(*common, "--limit", "1")
    capped = finished(run)
    assert (capped["state_hash"], capped["flash_train_hash"]) == \
        (free["state_hash"], free["flash_train_hash"])
    assert capped["flashes"] == free["flashes"] > 1000
    waits = sum(line["counters"]["quota_waits"]
                for k in range(2) for line in read_jsonl(run.run_dir / shard_log(k)))
    assert waits > 0  # the quota really held agents back
    lines = read_jsonl(run.run_dir / "coordinator.jsonl")
    assert lines and all(line["quota"]["held"] <= 1 for line in lines)
