"""sim-gather (coordinator/logtools/gather.py, also run as scripts/gather_logs.py),
shared/runlog (reading, rows, tables), sim-plot and scripts/bench_scaling.py on
synthetic run directories written by tests/runfixtures.py."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from runfixtures import Second, write_run
from shared.histogram import Histogram
from shared.runlog.reading import read_run
from shared.runlog.rows import run_rows
from shared.synchrony import time_to_sync

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
GATHER = SCRIPTS / "gather_logs.py"
BIN = Path(sys.executable).parent  # the venv's bin: console scripts live next to python


def gather(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GATHER), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def second(i: int, k: int) -> Second:
    """A shard-second whose every number differs, so sums and medians are telling."""
    return Second(
        fps=30.0 - 0.5 * k - (3.0 if i == 2 else 0.0) - 0.1 * i,
        flash_lateness_ms=[0.5 + 0.25 * j + k + i for j in range(4 + k)],
        frame_lateness_ms=[0.1 * (i + 1), 0.2 * (k + 1)],
        edge_latency_ms=[0.05 * (1 + i + k)],
        counters={"flashes": 10 * k + i, "local_signals": 80 + i,
                  "edge_flashes_sent": 5 + k, "edge_flashes_received": 4 + i,
                  "edge_flashes_dropped": i % 2, "signals_ignored_refractory": 7 * i + k,
                  "quota_waits": 0, "malformed_rejected": (i + k) % 3},
        cpu_percent=40.0 + 3 * i + k, rss_bytes=50_000_000 + 1_000 * i + 10 * k,
    )


@pytest.fixture
def shards() -> dict[int, list[Second]]:
    return {k: [second(i, k) for i in range(6)] for k in range(3)}


@pytest.fixture
def run_dir(tmp_path: Path, shards: dict[int, list[Second]]) -> Path:
    return write_run(tmp_path, shards, R_series=[(0.5 * i, min(1.0, 0.1 * i)) for i in range(13)],
                     time_to_sync_s=4.5)


def rows_by_shard(path: Path, **window: float) -> dict[object, dict]:
    run = read_run(path).window(**window)
    return {row["shard"]: row for row in run_rows(run)}


# ---------------------------------------------------------------------------- numbers


def test_shard_and_run_rows_are_sums_and_medians_over_lines(run_dir, shards):
    rows = rows_by_shard(run_dir)
    assert list(rows) == [0, 1, 2, "all"]
    for name in ("flashes", "edge_flashes_sent", "edge_flashes_received",
                 "edge_flashes_dropped", "signals_ignored_refractory", "malformed_rejected"):
        for k, seconds in shards.items():
            assert rows[k][name] == sum(s.counters[name] for s in seconds), (name, k)
        assert rows["all"][name] == sum(s.counters[name] for v in shards.values() for s in v)
    for k, seconds in shards.items():
        assert rows[k]["fps_median"] == pytest.approx(statistics.median(s.fps for s in seconds))
        assert rows[k]["fps_min"] == pytest.approx(min(s.fps for s in seconds))
        assert rows[k]["cpu_percent_median"] == pytest.approx(
            statistics.median(s.cpu_percent for s in seconds))
        assert rows[k]["rss_peak_bytes"] == max(s.rss_bytes for s in seconds)
        assert rows[k]["agents"] == 100
        assert rows[k]["flash_lateness_max_ms"] == pytest.approx(
            max(v for s in seconds for v in s.flash_lateness_ms))
    every = [s for v in shards.values() for s in v]
    assert rows["all"]["fps_min"] == pytest.approx(min(s.fps for s in every))
    assert rows["all"]["fps_median"] == pytest.approx(statistics.median(s.fps for s in every))
    assert rows["all"]["agents"] == 300
    assert rows["all"]["cpu_percent_median"] == pytest.approx(
        sum(rows[k]["cpu_percent_median"] for k in shards))
    assert rows["all"]["flashes_per_s"] == pytest.approx(rows["all"]["flashes"] / 6.0)


def test_run_p99_is_the_p99_of_the_merged_histogram_not_an_average(tmp_path):
    # shard 0: 1000 fast flashes; shard 1: 10 slow ones. Averaging the two p99s gives
    # ~50 ms; the run's true p99 (rank 1000 of 1010) is one of the fast flashes.
    rng = random.Random(7)
    fast = [rng.uniform(0.8, 1.2) for _ in range(1000)]
    slow = [rng.uniform(90.0, 110.0) for _ in range(10)]
    shards = {0: [Second(flash_lateness_ms=fast[:500]), Second(flash_lateness_ms=fast[500:])],
              1: [Second(flash_lateness_ms=slow[:5]), Second(flash_lateness_ms=slow[5:])]}
    rows = rows_by_shard(write_run(tmp_path, shards))
    independent = Histogram()
    independent.record_many(fast + slow)
    assert rows["all"]["flash_lateness_p99_ms"] == pytest.approx(independent.percentile(0.99))
    # and within one bucket (~3 %) above the exact nearest-rank p99 of the raw values
    exact = sorted(fast + slow)[math.ceil(0.99 * 1010) - 1]
    assert exact <= rows["all"]["flash_lateness_p99_ms"] <= exact * 1.04
    averaged = (rows[0]["flash_lateness_p99_ms"] + rows[1]["flash_lateness_p99_ms"]) / 2
    assert averaged > 40.0 and rows["all"]["flash_lateness_p99_ms"] < 1.3
    # the log's "max" is rounded to 1 µs (Histogram.to_dict)
    assert rows["all"]["flash_lateness_max_ms"] == pytest.approx(max(slow), abs=1e-3)


def test_since_until_keep_lines_with_since_lt_t_le_until(run_dir, shards):
    rows = rows_by_shard(run_dir, since=2.0, until=5.0)  # lines t = 3, 4, 5 (i = 2..4)
    kept = range(2, 5)
    for k, seconds in shards.items():
        assert rows[k]["lines"] == 3
        assert rows[k]["flashes"] == sum(seconds[i].counters["flashes"] for i in kept)
        assert rows[k]["fps_min"] == pytest.approx(min(seconds[i].fps for i in kept))
    assert rows["all"]["seconds"] == pytest.approx(3.0)
    before = rows_by_shard(run_dir, until=2.0)
    after = rows_by_shard(run_dir, since=2.0)
    assert before["all"]["flashes"] + after["all"]["flashes"] == rows_by_shard(run_dir)["all"]["flashes"]
    with pytest.raises(ValueError):
        read_run(run_dir).window(since=5.0, until=5.0)


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


def warnings_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    return result.stderr.splitlines()


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


def test_bad_histogram_and_missing_fields_in_process(tmp_path):
    run_dir = write_run(tmp_path, {0: [Second()] * 4}, R_series=[], summary=False)
    path = run_dir / "shard-0.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines[0]["flash_lateness_ms"]["count"] += 1  # count != sum of buckets
    for line in lines[2:]:
        del line["frames"], line["agents"]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    coordinator = run_dir / "coordinator.jsonl"  # no R_series: fall back to each line's R
    coordinator.write_text("".join(json.dumps({"v": 1, "t": t, "R": r}) + "\n"
                                   for t, r in [(1, 0.5), (2, 0.95), (3, 0.96), (4, 0.97)]))
    run = read_run(run_dir)
    assert [x.t for x in run.shard_lines[0]] == [2.0, 3.0, 4.0]
    assert f"{path}: line 1 invalid (flash_lateness_ms: histogram count(=3) != sum of " \
           f"buckets(=2)), skipped" in run.warnings
    assert f"{path}: fields 'agents', 'frames' missing (lines 3-4)" in run.warnings
    assert run.time_to_sync_source == "R" and run.time_to_sync_s is None  # period 5 s
    assert time_to_sync(run.r_points(), period=2.0) == 2


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


# ------------------------------------------------------------------------ benchmark


def test_bench_scaling_dry_run_prints_the_commands(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "bench_scaling.py"), "--dry-run", "--workers", "1,4",
         "--agents", "2500,1000", "--duration", "3", "--log-dir", str(tmp_path / "b"),
         "--extra", "--fps 60 --limit '100'"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    tail = f"--duration 3 --period 5 --seed 1 --log-dir {tmp_path / 'b'} --fps 60 --limit 100"
    assert result.stdout.splitlines() == [
        f"sim-coordinator --headless --workers 1 --grid 50 {tail}",
        f"sim-coordinator --headless --workers 4 --grid 50 {tail}",
        f"sim-coordinator --headless --workers 1 --grid 32 {tail}",
        f"sim-coordinator --headless --workers 4 --grid 32 {tail}",
    ]
    assert result.stderr == "note: 1000 agents -> grid 32x32 (1024 agents)\n"
    assert not (tmp_path / "b").exists()
    bad = subprocess.run([sys.executable, str(SCRIPTS / "bench_scaling.py"), "--dry-run",
                          "--workers", "1,zero"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--workers" in bad.stderr


def test_bench_scaling_runs_a_fake_simulator_and_compares(tmp_path):
    # a stand-in for sim-coordinator that copies a fixture run and prints its path
    templates = tmp_path / "templates"
    for w in (1, 2):
        write_run(templates, {k: [Second()] * 2 for k in range(w)}, name=f"run-{w}",
                  time_to_sync_s=1.5)
    fake = tmp_path / "fake_sim.py"
    fake.write_text(
        "import shutil, sys\n"
        "from pathlib import Path\n"
        "args = sys.argv[1:]\n"
        "w = int(args[args.index('--workers') + 1])\n"
        "root = Path(args[args.index('--log-dir') + 1])\n"
        f"run = shutil.copytree(Path({str(templates)!r}) / f'run-{{w}}', root / f'run-{{w}}')\n"
        "print('starting'); print(f'run directory: {run}')\n")
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "bench_scaling.py"), "--workers", "1,2", "--agents",
         "100", "--log-dir", str(tmp_path / "runs"), "--sim", f"{sys.executable} {fake}"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["run", "exit", "workers"]
    assert [x.split()[:3] for x in lines[1:]] == [["run-1", "duration", "1"],
                                                  ["run-2", "duration", "2"]]
    assert [x.split()[-1] for x in lines[1:]] == ["1.50", "1.50"]


def test_bench_scale_measures_a_fake_simulator_run(tmp_path):
    templates = tmp_path / "templates"
    seconds = [Second(fps=30.0 - i, flash_lateness_ms=[1.0 + i]) for i in range(4)]
    write_run(templates, {0: seconds, 1: seconds}, name="run-2")
    fake = tmp_path / "fake_sim.py"
    fake.write_text(
        "import shutil, sys\n"
        "from pathlib import Path\n"
        "root = Path(sys.argv[sys.argv.index('--log-dir') + 1])\n"
        f"run = shutil.copytree(Path({str(templates)!r}) / 'run-2', root / 'run-2')\n"
        "print(f'run directory: {run}')\n")
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "bench_scale.py"), "--agents", "200", "--workers", "2",
         "--duration", "4", "--log-dir", str(tmp_path / "runs"), "--sim",
         f"{sys.executable} {fake}", "--min-fps", "20"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["agents", "workers", "min_fps", "p99_flash_ms", "p99_edge_ms",
                              "flashes_per_s", "cpu_pct", "rss_mib", "rss_kib_per_agent",
                              "p99_trend", "ok"]
    figures = dict(zip(header.split(), row.split()))
    # the first line of each shard is start-up: min FPS over lines 2-4
    assert figures["agents"] == "200" and figures["workers"] == "2"
    assert figures["min_fps"] == "27.0" and figures["ok"] == "yes"
    assert float(figures["p99_trend"]) > 1  # lateness grew over the run
