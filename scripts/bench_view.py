#!/usr/bin/env python3
"""Micro-benchmark of the live view: CPU share of one core at a realistic flash rate.

For each grid size, N = W*H agents flash N/period times per second (period 5 s by
default). Flash batches, and the phase samples two shards would send (the lattice
the view asks for, every ``worker.phases.PHASE_INTERVAL_S``), are generated before
the clock starts; the timed loop then runs in real time at --fps view frames per
second: each frame hands the flashes of the last frame interval to
`LiveView.on_flashes`, the phase samples due to `LiveView.on_phases`, and calls
`LiveView.draw`, which writes the escape-sequence diff to /dev/null. CPU % = process
CPU time spent in those calls / wall time of the run.

Views: `flash` and `phase` (both receive the phase samples, as in a run: the workers
send them whenever the live view shows). Patterns: `random` (every agent flashes at
its own random phase: the unsynchronised start of a run, many pixels change every
frame) and `sync` (all agents flash within 0.1 s of each other once per period: a
synchronised run, bursts then quiet).

What it is not: a test. It prints numbers; docs/view.md records a run of it.
"""

from __future__ import annotations

import argparse
import os
import random
import time

import numpy as np

from coordinator.view import LiveView, StatusInfo
from shared.grid import Grid
from shared.partition import partition
from worker.phases import PHASE_INTERVAL_S, PHASE_STEPS, first_cells

Batch = list[int]
Phases = list[tuple[int, bytes]]  # (shard, samples) due at one frame


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--grids", default="100,300", help="square grid sides, comma-separated")
    p.add_argument("--patterns", default="random,sync", help="random and/or sync")
    p.add_argument("--views", default="flash,phase", help="flash and/or phase")
    p.add_argument("--period", type=float, default=5.0, help="flash period, seconds")
    p.add_argument("--fps", type=float, default=20.0, help="view frames per second")
    p.add_argument("--seconds", type=float, default=4.0, help="run length per case")
    p.add_argument("--size", default="80x24", help="terminal COLSxROWS, comma-separated list")
    p.add_argument("--colours", type=int, default=256, help="256 or 16")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


def agent_phases(n: int, period: float, pattern: str, rng: random.Random) -> list[float]:
    """Each agent's flash offset within the period."""
    spread = period if pattern == "random" else 0.1
    return [rng.uniform(0.0, spread) for _ in range(n)]


def flash_batches(offsets: list[float], period: float, fps: float, seconds: float) -> list[Batch]:
    """Flashes per view frame: each agent flashes once per period at its offset."""
    frames = int(seconds * fps)
    per_frame = int(period * fps)
    slots: list[Batch] = [[] for _ in range(per_frame)]
    for cell, ph in enumerate(offsets):
        slots[min(per_frame - 1, int(ph * fps))].append(cell)
    return [slots[f % per_frame] for f in range(frames)]


def phase_messages(view: LiveView, side: int, offsets: list[float], period: float, fps: float,
                   seconds: float) -> list[Phases]:
    """Per view frame, the `phases` messages two shards would have sent by then."""
    cols, rows = view.phase_lattice
    xs, ys = first_cells(side, cols), first_cells(side, rows)
    flash_at = np.array(offsets)
    shards = partition(Grid(side, side), 2)
    cells = []
    for s in shards:
        sx = [x for x in xs if s.x0 <= x < s.x0 + s.width]
        sy = [y for y in ys if s.y0 <= y < s.y0 + s.height]
        cells.append(np.array([y * side + x for y in sy for x in sx], dtype=np.int64))
    out: list[Phases] = []
    next_t = 0.0
    for f in range(int(seconds * fps)):
        t = f / fps
        due: Phases = []
        if t >= next_t:
            next_t += PHASE_INTERVAL_S
            for k, c in enumerate(cells):
                q = (np.mod(t - flash_at[c], period) * (PHASE_STEPS / period)).astype(np.int64)
                due.append((k, np.clip(q, 0, PHASE_STEPS - 1).astype(np.uint8).tobytes()))
        out.append(due)
    return out


def run_case(side: int, size: tuple[int, int], pattern: str, phase: bool,
             args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    offsets = agent_phases(side * side, args.period, pattern, rng)
    batches = flash_batches(offsets, args.period, args.fps, args.seconds)
    shards = [(s.x0, s.y0, s.width, s.height) for s in partition(Grid(side, side), 2)]
    with open(os.devnull, "w", encoding="utf-8") as null:
        view = LiveView(side, side, args.period, fps=args.fps, out=null, size_fn=lambda: size,
                        shards=shards, colours=args.colours, phase=phase)
        phases = phase_messages(view, side, offsets, args.period, args.fps, args.seconds)
        return _timed_loop(view, batches, phases, side * side / args.period, args.fps)


def _timed_loop(view: LiveView, batches: list[Batch], phases: list[Phases], rate: float,
                fps: float) -> dict:
    status = StatusInfo(0.0, 0.5, rate, {s: 30.0 for s in range(8)},
                        {s: 2.0 + s / 10 for s in range(8)}, 8, 8, 800, 1000)
    cpu = 0.0
    worst = 0.0
    start = time.perf_counter()
    for frame, batch in enumerate(batches):
        _sleep_until(start + frame / fps)
        t = frame / fps
        c0 = time.process_time()
        view.on_flashes(batch, t)
        for shard, data in phases[frame]:
            view.on_phases(shard, t, data)
        view.draw(t, status)
        spent = time.process_time() - c0
        cpu += spent
        worst = max(worst, spent)
    wall = time.perf_counter() - start
    return {"cpu_pct": 100.0 * cpu / wall, "ms_per_frame": 1000.0 * cpu / len(batches),
            "worst_ms": 1000.0 * worst, "flashes_per_s": rate}


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.perf_counter()
    if delay > 0:
        time.sleep(delay)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"{'grid':>8} {'terminal':>9} {'pattern':>7} {'view':>5} {'flashes/s':>9} "
          f"{'CPU % of core':>13} {'ms/frame':>8} {'worst ms':>8}")
    for size_text in args.size.split(","):
        cols, rows = (int(v) for v in size_text.lower().split("x"))
        for side in (int(s) for s in args.grids.split(",")):
            for pattern in args.patterns.split(","):
                for view in args.views.split(","):
                    r = run_case(side, (cols, rows), pattern, view == "phase", args)
                    print(f"{side:>4}x{side:<3} {size_text:>9} {pattern:>7} {view:>5} "
                          f"{r['flashes_per_s']:>9.0f} {r['cpu_pct']:>13.2f} "
                          f"{r['ms_per_frame']:>8.3f} {r['worst_ms']:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
