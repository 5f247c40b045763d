"""``--jitter J`` reaches every worker: with J = 0 a grid that starts in phase
(``--init zero``) flashes and resets together, so every cell ends with the same phase
and R stays 1; with the default J the resets spread the phases. On the lock-step
clock, so that no flash is ever late (in real time a late alarm would spread the
phases too, by however late it was)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shared.runlog.schema import RUN_JSON, STATE_NPZ, SUMMARY_JSON

pytestmark = pytest.mark.e2e

ARGS = ("--workers", "2", "--grid", "8x6", "--period", "1", "--duration", "2.6", "--init", "zero",
        "--clock", "lockstep")


def final_phases(run) -> np.ndarray:
    assert run.wait() == 0, run.output
    with np.load(run.run_dir / STATE_NPZ) as state:
        assert state["flash_count"].min() == 2  # flashed at t = 1 and t = 2
        return state["phase"]


def test_zero_jitter_keeps_an_in_phase_grid_in_phase(sim):
    exact = sim(*ARGS, "--jitter", "0")
    phases = final_phases(exact)
    assert json.loads((exact.run_dir / RUN_JSON).read_text())["config"]["reset_jitter"] == 0
    assert phases.tolist() == [phases[0]] * len(phases)
    assert json.loads((exact.run_dir / SUMMARY_JSON).read_text())["R_final"] == 1.0

    spread = final_phases(sim(*ARGS))  # the default jitter, 0.1 s
    assert 0.01 < spread.max() - spread.min() < 0.5  # jitter, then nudges between the resets
