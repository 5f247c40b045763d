"""The log tools' command lines on synthetic run directories written by
tests/runfixtures.py: sim-gather (coordinator/logtools/gather.py, also run as
scripts/gather_logs.py and with python -m) prints its tables as text, markdown, CSV
and JSON and compares runs, says what is wrong with a damaged input in one line, plots
with --plot; and the installed sim-gather and sim-plot console scripts."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gatherkit import BIN, SCRIPTS, gather, rows_by_shard, second, warnings_of
from runfixtures import write_run
from shared.histogram import Histogram
from shared.runlog.reading import read_run


# ---------------------------------------------------------------------------- the CLI


def test_cli_text_table_has_a_row_per_shard_and_an_all_row(run_dir, shards):
    result = gather(run_dir, "--since", "0")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("run-20260101-000000-1  workers=3 agents=300")
    header = lines[1].split()
    assert header[:4] == ["shard", "agents", "fps_med", "fps_min"]
    table = {line.split()[0]: dict(zip(header, line.split())) for line in lines[2:6]}
    assert list(table) == ["0", "1", "2", "all"]
    total = sum(s.counters["flashes"] for v in shards.values() for s in v)
    assert table["all"]["flashes"] == str(total)
    assert table["1"]["fps_min"] == f"{min(s.fps for s in shards[1]):.1f}"
    assert "comparison" not in result.stdout


def test_cli_markdown(run_dir):
    result = gather(run_dir, "--format", "markdown")
    assert result.returncode == 0, result.stderr
    table = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 4  # header, rule, 3 shards, all
    assert table[1].startswith("| ---: | ---: |")
    assert table[-1].startswith("| all |")


def test_csv_and_json_parse_back(tmp_path, run_dir, shards):
    other = write_run(tmp_path, {0: [second(0, 0)] * 2}, name="run-20260101-000001-2", seed=2)
    out_csv, out_json = tmp_path / "rows.csv", tmp_path / "rows.json"
    result = gather(run_dir, other, "--csv", out_csv, "--json", out_json)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert [(r["run"], r["shard"]) for r in rows] == [
        ("run-20260101-000000-1", "0"), ("run-20260101-000000-1", "1"),
        ("run-20260101-000000-1", "2"), ("run-20260101-000000-1", "all"),
        ("run-20260101-000001-2", "0"), ("run-20260101-000001-2", "all")]
    assert int(rows[3]["flashes"]) == sum(s.counters["flashes"] for v in shards.values() for s in v)
    assert float(rows[3]["time_to_sync_s"]) == 4.5 and rows[0]["time_to_sync_s"] == ""
    assert rows[0]["limit"] == "" and rows[5]["seed"] == "2"
    data = json.loads(out_json.read_text())
    first = data["runs"][0]
    assert [r["shard"] for r in first["rows"]] == [0, 1, 2, "all"]
    assert first["rows"][-1]["flashes"] == int(rows[3]["flashes"])
    merged = Histogram.from_dict(first["histograms"]["flash_lateness_ms"])
    assert merged.percentile(0.99) == pytest.approx(first["rows"][-1]["flash_lateness_p99_ms"])
    assert first["comparison"]["time_to_sync_s"] == 4.5
    assert data["runs"][1]["info"]["seed"] == 2


def test_comparison_table_of_two_runs(tmp_path, run_dir):
    # the second run crashed: no summary.json, so T_R comes from coordinator R_series
    # (R >= 0.9 from t = 2.0 on, period 1 s; the dip at 1.5 restarts the clock)
    series = [(0.5, 0.95), (1.0, 0.95), (1.5, 0.3), (2.0, 0.92), (2.5, 0.95), (3.0, 0.97),
              (3.5, 0.99)]
    crashed = write_run(tmp_path, {0: [second(0, 0)] * 4, 1: [second(1, 1)] * 4},
                        name="run-20260101-000002-3", period=1.0, limit=50,
                        R_series=series, summary=False)
    run = read_run(crashed)
    assert (run.time_to_sync_s, run.time_to_sync_source) == (2.0, "R_series")
    result = gather(run_dir, crashed)
    assert result.returncode == 0
    assert result.stderr.count("\n") == 1 and "summary.json: missing" in result.stderr
    lines = result.stdout.splitlines()
    at = lines.index(next(x for x in lines if x.startswith("comparison of 2 runs")))
    header = lines[at + 1].split()
    assert header == ["run", "exit", "workers", "agents", "period_s", "limit", "fps_min",
                      "flash_p99_ms", "flashes/s", "T_R0.9_s"]
    rows = [dict(zip(header, line.split())) for line in lines[at + 2:at + 4]]
    assert rows[0] == {**rows[0], "run": "run-20260101-000000-1", "exit": "duration",
                       "workers": "3", "limit": "none", "T_R0.9_s": "4.50", "period_s": "5"}
    assert rows[1] == {**rows[1], "run": "run-20260101-000002-3", "exit": "-",
                       "workers": "2", "limit": "50", "T_R0.9_s": "2.00", "period_s": "1"}
    fps_min = min(second(0, 0).fps, second(1, 1).fps)
    assert rows[1]["fps_min"] == f"{fps_min:.1f}"


# --------------------------------------------------------------------- broken inputs


def test_truncated_last_line_is_one_warning_and_the_rest_is_gathered(run_dir, shards):
    with (run_dir / "shard-1.jsonl").open("a") as f:
        f.write('{"v": 1, "shard": 1, "t": 7.0, "interval_s": 1.0, "fp')
    result = gather(run_dir)
    assert result.returncode == 0
    assert warnings_of(result) == [f"warning: {run_dir}/shard-1.jsonl: line 7 truncated, skipped"]
    rows = rows_by_shard(run_dir)
    assert rows[1]["lines"] == 6
    assert rows[1]["flashes"] == sum(s.counters["flashes"] for s in shards[1])


def test_malformed_middle_line_and_bad_field_are_skipped(run_dir, shards):
    path = run_dir / "shard-0.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:40] + "}"  # broken JSON in the middle
    bad = json.loads(lines[4])
    bad["fps"] = "fast"
    lines[4] = json.dumps(bad)
    path.write_text("\n".join(lines) + "\n")
    result = gather(run_dir)
    assert result.returncode == 0
    found = warnings_of(result)
    assert len(found) == 2
    assert found[0].startswith(f"warning: {path}: line 3 malformed (") and found[0].endswith(", skipped")
    assert found[1] == (f"warning: {path}: line 5 invalid (fps=\"fast\" is not a finite "
                        f"number), skipped")
    rows = rows_by_shard(run_dir)
    assert rows[0]["lines"] == 4
    assert rows[0]["flashes"] == sum(s.counters["flashes"] for i, s in enumerate(shards[0])
                                     if i not in (2, 4))


def test_missing_shard_file_is_one_warning_and_an_empty_row(run_dir, shards):
    (run_dir / "shard-2.jsonl").unlink()
    result = gather(run_dir)
    assert result.returncode == 0
    assert warnings_of(result) == [
        f"warning: {run_dir}/shard-2.jsonl: missing (run.json lists shard 2)"]
    row = next(x for x in result.stdout.splitlines() if x.split()[:1] == ["2"])
    assert row.split()[2:4] == ["-", "-"]  # no FPS figures for the missing shard
    rows = rows_by_shard(run_dir)
    assert rows["all"]["flashes"] == sum(s.counters["flashes"] for k in (0, 1)
                                         for s in shards[k])


def test_unknown_field_on_every_line_is_one_warning(run_dir):
    path = run_dir / "shard-0.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    for line in lines:
        line["gpu_temp_c"] = 55
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    before = rows_by_shard(run_dir)
    result = gather(run_dir)
    assert result.returncode == 0
    assert warnings_of(result) == [
        f"warning: {path}: unknown field 'gpu_temp_c' ignored (lines 1-6)"]
    assert rows_by_shard(run_dir) == before  # an unknown field changes no number


def test_not_a_run_dir_is_exit_2_naming_it_while_good_runs_are_still_reported(tmp_path, run_dir):
    empty = tmp_path / "not-a-run"
    empty.mkdir()
    alone = gather(empty)
    assert alone.returncode == 2 and alone.stdout == ""
    assert warnings_of(alone) == [f"error: {empty}: not a run directory (no run.json)"]
    mixed = gather(run_dir, empty)
    assert mixed.returncode == 2
    assert warnings_of(mixed) == [f"error: {empty}: not a run directory (no run.json)"]
    assert "shard  agents" in mixed.stdout  # the good run is still there
    parent = gather(tmp_path)  # a log dir holding runs: the hint names one
    assert parent.returncode == 2 and f"(e.g. {run_dir})" in parent.stderr


def test_help_and_bad_options_exit_2_with_one_line():
    for script in ("gather_logs.py", "plot_run.py", "bench_scaling.py", "bench_scale.py"):
        shown = subprocess.run([sys.executable, str(SCRIPTS / script), "--help"],
                               capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0 and shown.stdout.startswith(f"usage: {script}")
    assert gather().returncode == 2
    bad = gather("x", "--since", "5", "--until", "1")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == ("gather_logs.py: error: --since (=5.0) must be smaller than "
                          "--until (=1.0) (see --help)\n")


def test_the_module_runs_with_python_m(run_dir):
    result = subprocess.run([sys.executable, "-m", "coordinator.logtools.gather", str(run_dir)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == gather(run_dir).stdout


# ---------------------------------------------------------------------------- plots


def test_plot_writes_four_non_empty_pngs(tmp_path, run_dir):
    out = tmp_path / "plots"
    result = gather(run_dir, "--plot", out)
    assert result.returncode == 0, result.stderr
    pngs = sorted(out.glob("*.png"))
    assert [p.name for p in pngs] == [f"run-20260101-000000-1-{s}.png"
                                      for s in ("R", "fps", "lateness-hist", "lateness")]
    for png in pngs:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def without_matplotlib(module: str, *argv: object) -> subprocess.CompletedProcess[str]:
    """Run ``module``'s main(argv) in a Python where ``import matplotlib`` fails."""
    code = ("import sys; sys.modules['matplotlib'] = None; "
            f"from {module} import main; sys.exit(main({[str(a) for a in argv]!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)


def test_plot_without_matplotlib_is_one_line_and_exit_2(run_dir, tmp_path):
    hint = "pip install 'cascade-fireflies[plot]' (or pip install matplotlib)"
    result = without_matplotlib("coordinator.logtools.gather", run_dir, "--plot", tmp_path / "p")
    assert result.returncode == 2
    assert warnings_of(result) == [f"error: --plot needs matplotlib: {hint}"]
    assert result.stdout == "" and not (tmp_path / "p").exists()
    alone = without_matplotlib("coordinator.logtools.plot", run_dir, "--out", tmp_path / "q")
    assert alone.returncode == 2 and alone.stdout == ""
    assert warnings_of(alone) == [f"error: plotting needs matplotlib: {hint}"]
    assert not (tmp_path / "q").exists()


# ------------------------------------------------------------------- console scripts


@pytest.mark.parametrize("name", ["sim-gather", "sim-plot"])
def test_console_script_is_installed_next_to_python_with_help(name):
    script = BIN / name
    assert script.is_file(), f"{script} missing: pip install -e '.[test]'"
    shown = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and shown.stdout.startswith(f"usage: {name} ")


def test_sim_gather_prints_the_table_and_fails_on_a_non_run(run_dir, tmp_path):
    result = subprocess.run([str(BIN / "sim-gather"), str(run_dir)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == gather(run_dir).stdout  # the script and the command agree
    assert [line.split()[0] for line in result.stdout.splitlines()[2:6]] == ["0", "1", "2", "all"]
    missing = subprocess.run([str(BIN / "sim-gather"), str(tmp_path / "nope")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert missing.stderr == f"error: {tmp_path / 'nope'}: no such directory\n"


def test_sim_plot_writes_four_pngs_into_out_and_says_where(run_dir, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "made" / "here"  # --out is created when missing
    result = subprocess.run([str(BIN / "sim-plot"), str(run_dir), "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    written = [Path(line) for line in result.stdout.splitlines()]
    assert sorted(p.name for p in written) == [f"run-20260101-000000-1-{s}.png"
                                               for s in ("R", "fps", "lateness-hist", "lateness")]
    for png in written:
        assert png.parent == out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    clash = tmp_path / "a-file"
    clash.write_text("")
    refused = subprocess.run([str(BIN / "sim-plot"), str(run_dir), "--out", str(clash)],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1
    assert str(clash) in refused.stderr
    not_run = subprocess.run([str(BIN / "sim-plot"), str(tmp_path)], capture_output=True,
                             text=True, timeout=60)
    assert not_run.returncode == 2 and not_run.stderr.startswith(f"error: {tmp_path}: ")
