"""End-to-end runs of the real simulator: coordinator and worker processes, ZeroMQ
sockets over ipc, run directories on disk."""

from __future__ import annotations

import json

import pytest

from shared.grid import Grid
from shared.partition import partition

from simrun import read_jsonl

pytestmark = pytest.mark.e2e  # real coordinator and worker processes


def _shard_of(grid: Grid, shards, cell: int) -> int:
    x, y = grid.coords(cell)
    return next(s.index for s in shards if s.contains(x, y))


def test_corner_flash_nudges_exactly_its_8_neighbours_in_4_shards(sim):
    grid = Grid(10, 10)
    shards = partition(grid, 4)
    corner = grid.cell_id(shards[0].x0, shards[0].y0)  # a corner of shard 0's block
    run = sim("--workers", "4", "--grid", "10", "--init", "zero", "--kick", str(corner),
              "--period", "100", "--nudge", "0.01", "--refractory", "0", "--duration", "1.5",
              "--trace-signals")
    assert run.wait() == 0, run.output
    signals = []
    for k in range(4):
        signals += read_jsonl(run.run_dir / f"signals-{k}.jsonl")
    assert sorted(s["to"] for s in signals) == sorted(grid.moore_neighbours(corner))
    assert {s["from"] for s in signals} == {corner}
    assert {_shard_of(grid, shards, s["to"]) for s in signals} == {0, 1, 2, 3}
    assert {s["via"] for s in signals} == {"local", "edge"}
    # Nobody else flashed: one flash in the whole run, and it was that corner's.
    flashes = sum(line["counters"]["flashes"] for k in range(4)
                  for line in read_jsonl(run.run_dir / f"shard-{k}.jsonl"))
    assert flashes == 1
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["flashes"] == 1


def test_boundary_flashes_sent_equal_received_per_link(sim):
    run = sim("--workers", "4", "--grid", "24", "--period", "1", "--duration", "4")
    assert run.wait() == 0, run.output
    final = {k: read_jsonl(run.run_dir / f"shard-{k}.jsonl")[-1] for k in range(4)}
    total = 0
    for a, line in final.items():
        assert line.get("final") is True
        assert line["link_gaps"] == 0
        for b, link in line["links"].items():
            back = final[int(b)]["links"][str(a)]
            assert link["dropped"] == 0
            assert link["sent"] == back["received"], (a, b, link, back)
            total += link["sent"]
    assert total > 100  # the links really carried traffic
    sent = sum(l["counters"]["edge_flashes_sent"] for k in range(4)
               for l in read_jsonl(run.run_dir / f"shard-{k}.jsonl"))
    assert sent == total


def test_one_and_four_workers_agree_on_the_model(sim):
    """The same seed on 1 and on 4 shards: same agents, same initial phases, and the
    flash counts of a short run agree closely (timing noise only)."""
    counts = {}
    for workers in ("1", "4"):
        run = sim("--workers", workers, "--grid", "20", "--period", "1", "--duration", "3", "--seed", "7")
        assert run.wait() == 0, run.output
        summary = json.loads((run.run_dir / "summary.json").read_text())
        assert summary["agents"] == 400
        counts[workers] = summary["flashes"]
    assert counts["1"] > 400 * 2
    assert abs(counts["1"] - counts["4"]) / counts["1"] < 0.15, counts
