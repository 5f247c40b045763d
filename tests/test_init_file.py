"""``--init FILE``: initial phases from a .npy or .csv file, one per cell in cell
order. A bad file is one line naming it and the fix, exit 2, before anything starts; a
good one is what every worker starts from (R at the start is that of the file's
phases, not of a random or zero start)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from coordinator import cli
from shared.model import load_phases
from shared.runlog.schema import COORDINATOR_LOG, INIT_NPY, RUN_JSON
from simrun import read_jsonl

GRID = (8, 6)


def _invoke(*args: str, tmp_path: Path) -> Any:
    return CliRunner().invoke(cli.app, ["--headless", "--log-dir", str(tmp_path / "runs"), *args])


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    if name.endswith(".npy"):
        np.save(path, np.asarray(data))
    else:
        path.write_text(data)
    return path


@pytest.mark.parametrize("name, data, message", [
    ("short.npy", np.zeros(47), "shape (47,), but the 8x6 grid needs 48 phases"),
    ("wide.npy", np.zeros((8, 6)), "shape (8, 6), but the 8x6 grid needs 48 phases"),
    ("nan.npy", np.r_[np.zeros(5), np.nan, np.zeros(42)], "cell 5 has phase nan"),
    ("late.npy", np.r_[np.zeros(47), 1.0], "cell 47 has phase 1.0; every phase must be a finite "
                                           "number in [0, 1.0)"),
    ("neg.csv", "\n".join(["0.1"] * 10 + ["-0.2"] + ["0.1"] * 37), "cell 10 has phase -0.2"),
    ("words.csv", "a,b\n", "not a table of numbers"),
    ("phases.txt", "0.1\n", "give a .npy or .csv file"),
    ("missing.npy", None, "cannot read it"),
])
def test_a_bad_file_is_one_line_and_exit_2(name, data, message, tmp_path):
    path = tmp_path / name if data is None else write(tmp_path, name, data)
    result = _invoke("--grid", "8x6", "--period", "1", "--init", str(path), tmp_path=tmp_path)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: --init {path}: ") and message in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_csv_as_a_table_reads_in_cell_order(tmp_path):
    table = np.arange(48, dtype=float).reshape(6, 8) / 100  # H rows of W
    path = write(tmp_path, "table.csv", "\n".join(",".join(map(str, row)) for row in table))
    assert load_phases(path, GRID, 1.0).tolist() == (np.arange(48) / 100).tolist()


@pytest.mark.e2e
def test_every_worker_starts_from_the_files_phases(sim, tmp_path):
    # Two groups in antiphase: R = 0 exactly, until the first flash at t = 0.5.
    phases = np.where(np.arange(48) % 2 == 0, 0.0, 0.5)
    path = write(tmp_path, "antiphase.npy", phases)
    run = sim("--workers", "2", "--grid", "8x6", "--period", "1", "--duration", "1.5",
              "--init", str(path), "--jitter", "0")
    assert run.wait() == 0, run.output
    assert np.load(run.run_dir / INIT_NPY).tolist() == phases.tolist()
    assert json.loads((run.run_dir / RUN_JSON).read_text())["config"]["init"] == str(path)
    start = [r for line in read_jsonl(run.run_dir / COORDINATOR_LOG)
             for t, r in line["R_series"] if t < 0.4]
    assert start and max(start) < 1e-9
