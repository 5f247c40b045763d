"""``--jitter J`` reaches every worker: with J = 0 a grid that starts in phase
(``--init zero``) flashes and resets together, so R stays 1 for the whole run; with
the default J the resets spread the phases and R drops below 1 after the first flash."""

from __future__ import annotations

import json

import pytest

from shared.runlog.schema import COORDINATOR_LOG, RUN_JSON
from simrun import read_jsonl

pytestmark = pytest.mark.e2e

ARGS = ("--workers", "2", "--grid", "8x6", "--period", "1", "--duration", "2.6", "--init", "zero")


def r_after_first_flash(run) -> list[float]:
    lines = read_jsonl(run.run_dir / COORDINATOR_LOG)
    return [r for line in lines for t, r in line["R_series"] if t > 1.2]


def test_zero_jitter_keeps_an_in_phase_grid_in_phase(sim):
    exact = sim(*ARGS, "--jitter", "0")
    assert exact.wait() == 0, exact.output
    assert json.loads((exact.run_dir / RUN_JSON).read_text())["config"]["reset_jitter"] == 0
    series = r_after_first_flash(exact)
    assert series and min(series) > 1 - 1e-9

    spread = sim(*ARGS)  # the default jitter, 0.1 s
    assert spread.wait() == 0, spread.output
    series = r_after_first_flash(spread)
    assert series and max(series) < 0.9999
