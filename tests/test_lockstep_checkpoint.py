"""Lock-step checkpoints: ``--checkpoint-every S`` saves the complete state; ``--resume
RUN_DIR`` continues it on any number of workers and ends bit-identical to the run
that was never interrupted, also after a worker was killed; a bad or mismatched
checkpoint is one line and exit 2 (docs/lockstep.md, "Checkpoints")."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from coordinator import cli
from shared.checkpoint import Checkpoint
from shared.runlog.schema import CHECKPOINT_NPZ, SUMMARY_JSON

pytestmark = pytest.mark.e2e

MODEL = ("--clock", "lockstep", "--grid", "30x24", "--period", "1", "--nudge", "0.3",
         "--refractory", "0.2", "--delay", "0.05", "--seed", "5")


def hashes(run, code: int = 0) -> tuple[str, str] | None:
    assert run.wait(240) == code, run.output
    summary = json.loads((run.run_dir / SUMMARY_JSON).read_text())
    return (summary["state_hash"], summary["flash_train_hash"]) if code == 0 else None


def test_resume_from_the_middle_on_another_worker_count(sim) -> None:
    whole = sim(*MODEL, "--workers", "2", "--duration", "20", "--checkpoint-every", "10")
    expected = hashes(whole)
    checkpoint = Checkpoint.load(whole.run_dir / CHECKPOINT_NPZ)
    assert checkpoint.t == 10.0 and len(checkpoint.cells) == 720
    assert len(checkpoint.transit_when) > 0 and (checkpoint.transit_when > 10.0).all()
    for workers in ("3", "1"):
        resumed = sim("--resume", str(whole.run_dir), "--workers", workers, "--duration", "20")
        assert hashes(resumed) == expected, workers


def test_a_killed_worker_ends_the_run_with_exit_3_and_resume_completes_it(sim) -> None:
    expected = hashes(sim(*MODEL, "--workers", "1", "--duration", "40"))
    run = sim(*MODEL, "--workers", "4", "--duration", "40", "--checkpoint-every", "2")
    pids = run.wait_workers(4)
    deadline = time.monotonic() + 60
    while not (run.run_dir / CHECKPOINT_NPZ).exists():
        assert time.monotonic() < deadline and run.proc.poll() is None, run.output
        time.sleep(0.05)
    os.kill(sorted(pids)[1], signal.SIGKILL)
    hashes(run, code=3)
    saved = Checkpoint.load(run.run_dir / CHECKPOINT_NPZ)
    assert 2.0 <= saved.t < 40.0
    assert sorted(p.name for p in run.run_dir.glob("*.npz*")) == [CHECKPOINT_NPZ]  # no parts left
    resumed = sim("--resume", str(run.run_dir), "--workers", "2", "--duration", "40")
    assert hashes(resumed) == expected


def _invoke(*args: str, tmp_path: Path):
    return CliRunner().invoke(cli.app, ["--headless", "--log-dir", str(tmp_path / "runs"), *args])


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A small run with a checkpoint at 1 s."""
    logs = tmp_path_factory.mktemp("saved")
    result = _invoke(*MODEL, "--workers", "2", "--duration", "2", "--checkpoint-every", "1",
                     tmp_path=logs)
    assert result.exit_code == 0, result.output
    return next((logs / "runs").iterdir())


def test_bad_or_mismatched_checkpoints_are_one_line_and_exit_2(saved: Path, tmp_path: Path) -> None:
    cases = [(("--resume", str(tmp_path)), "run.json"),
             (("--resume", str(saved), "--seed", "6"), "--seed: --resume takes the model"),
             (("--resume", str(saved), "--duration", "1"), "the checkpoint is at 1.0 s already")]
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "run.json").write_bytes((saved / "run.json").read_bytes())
    (damaged / CHECKPOINT_NPZ).write_bytes((saved / CHECKPOINT_NPZ).read_bytes()[:500])
    cases.append((("--resume", str(damaged)), "cannot read it as a checkpoint"))
    other = tmp_path / "other"
    other.mkdir()
    config = json.loads((saved / "run.json").read_text())
    config["config"]["nudge"] = 0.25
    (other / "run.json").write_text(json.dumps(config))
    (other / CHECKPOINT_NPZ).write_bytes((saved / CHECKPOINT_NPZ).read_bytes())
    cases.append((("--resume", str(other)), "not this run's"))
    for args, message in cases:
        result = _invoke(*args, tmp_path=tmp_path)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("error: ") and message in result.output, result.output
        assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_a_checkpoint_holds_every_cell_once(saved: Path) -> None:
    checkpoint = Checkpoint.load(saved / CHECKPOINT_NPZ)
    assert checkpoint.cells.tolist() == list(range(720))
    assert (checkpoint.due > checkpoint.t).all()  # every alarm still to ring
    assert checkpoint.meta["seed"] == 5 and checkpoint.meta["delay"] == 0.05
    assert np.isfinite(checkpoint.epoch).all() and (checkpoint.flash_count >= 0).all()
