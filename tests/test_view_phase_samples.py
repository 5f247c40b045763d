"""The phase data path from worker to view: the worker's sampler picks exactly the
lattice the view asked for (the view's own first cells), the frame loop sends its
samples after the frames every PHASE_INTERVAL_S, and the view shows each pixel's
true phase. Real ShardAgents, real ShardConfigs, a real ZeroMQ socket pair."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import zmq

from coordinator.config import RunConfig
from coordinator.view import LiveView
from coordinator.view.driver import phase_lattice_config
from coordinator.view.palette import PALETTES
from shared import protocol
from shared.grid import Grid
from shared.lockstep_clock import LockstepClock
from shared.model import FireflyParams
from shared.partition import partition
from shared.shard_config import ShardConfig, ShardConfigError
from worker.agents import ShardAgents
from worker.collector import Collector
from worker.frames import FrameLoop
from worker.metrics import ShardMetrics
from worker.phases import PHASE_INTERVAL_S, PHASE_STEPS, PhaseSampler, phase_sampler
from worker.shard import layout_of

from viewkit import STATUS, Term

PERIOD = 2.0
HUES = PALETTES[256].hues


def initial(cell: int) -> float:
    """A phase per cell, spread over the period and away from hue boundaries."""
    return (cell * 0.37) % PERIOD


def build(grid: tuple[int, int], cols: int, rows: int) -> tuple[LiveView, RunConfig, list[ShardAgents]]:
    w, h = grid
    shards = partition(Grid(w, h), 2)
    view = LiveView(w, h, PERIOD, shards=[(s.x0, s.y0, s.width, s.height) for s in shards],
                    size_fn=lambda: (cols, rows), out=io.StringIO(), colours=256, phase=True)
    config = phase_lattice_config(RunConfig(grid=grid, workers=2, period=PERIOD), view)
    params = FireflyParams(PERIOD, 0.1, None, 0.1, 1)
    agents = []
    for k in range(2):
        layout = layout_of(Grid(w, h), 2, k)
        n = len(layout.cells)
        agents.append(ShardAgents(layout, params, LockstepClock(n),
                                  [initial(c) for c in layout.cells], ShardMetrics()))
    return view, config, agents


def shard_config(config: RunConfig, k: int) -> ShardConfig:
    return config.shard_config(k, run_dir="/tmp/x", inbox="ipc:///tmp/x", lease_s=1.0)


@pytest.mark.parametrize("grid, cols, rows", [((60, 40), 20, 10), ((9, 7), 60, 20)])
def test_each_pixel_shows_the_phase_its_worker_sampled(grid, cols, rows) -> None:
    view, config, agents = build(grid, cols, rows)
    geo = view.geometry
    assert (config.phase_cols, config.phase_rows) == (geo.pix_w, geo.pix_h)
    t = 0.3
    for k in range(2):
        sampler = phase_sampler(shard_config(config, k), agents[k])
        assert sampler is not None and len(sampler) == view.phase_samples(k)
        view.on_phases(k, t, sampler.sample(t))
    term = Term(cols, rows)
    term.feed(view.render(t, STATUS))
    w, h = grid
    for py in range(geo.pix_h):
        for px in range(geo.pix_w):
            x = (px * w + geo.pix_w - 1) // geo.pix_w  # the pixel's first cell
            y = (py * h + geo.pix_h - 1) // geo.pix_h
            phase = (initial(y * w + x) + t) % PERIOD
            step = int(phase * len(HUES) / PERIOD)
            sx = next(s for s in range(geo.screen_w) if geo.logical_of_screen(s, 0)[0] == px)
            sy = next(s for s in range(geo.screen_h) if geo.logical_of_screen(0, s)[1] == py)
            assert term.pixel(sx, sy) == HUES[step], (px, py, phase)


def test_no_live_view_no_sampler() -> None:
    _, config, agents = build((12, 8), 20, 10)
    plain = RunConfig(grid=(12, 8), workers=2, period=PERIOD)
    assert phase_sampler(shard_config(plain, 0), agents[0]) is None
    assert "phase_cols" not in config.to_dict()  # the terminal's, not the run's


def test_a_sample_is_one_byte_per_agent_floor_256_phase_over_period() -> None:
    epochs = np.array([0.0, -0.5, -1.999999999, 10.0])
    sampler = PhaseSampler(epochs, PERIOD, np.array([0, 1, 2, 3]))
    data = sampler.sample(4.0)  # phases 0, 0.5, ~2 (mod: just under P), 0 (mod of -6)
    assert list(data) == [0, int(0.5 * PHASE_STEPS / PERIOD), PHASE_STEPS - 1, 0]


def test_sampling_keeps_its_interval_and_restarts_after_falling_behind() -> None:
    sampler = PhaseSampler(np.zeros(1), PERIOD, np.array([0]))
    due = [t for t in (0.0, 0.05, 0.1, 0.15, 0.2, 1.0, 1.05, 1.1) if sampler.due(t)]
    assert due == [0.0, 0.1, 0.2, 1.0, 1.1]


def test_the_frame_loop_sends_phases_after_its_frames() -> None:
    view, config, agents = build((12, 8), 60, 20)
    sampler = phase_sampler(shard_config(config, 1), agents[1])
    assert sampler is not None
    ctx = zmq.Context()
    pull, push = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
    try:
        pull.bind("inproc://telemetry")
        push.connect("inproc://telemetry")
        loop = FrameLoop(LockstepClock(agents[1].n), agents[1], ShardMetrics(), push, io.StringIO(),
                         fps=30.0, report_interval=1.0, collector=Collector(agents[1].n),
                         phases=sampler)
        times = [0.01 + i / 30.0 for i in range(1, 8)]  # 0.043 .. 0.243
        for frame, t in enumerate(times, start=1):
            loop.send_frame(frame, t)
        kinds = []
        while pull.poll(100):
            kind, fields = protocol.decode(pull.recv())
            kinds.append(kind)
            if kind == "phases":
                shard, frame, t, data = fields
                assert shard == 1 and t == times[frame - 1]
                assert len(data) == view.phase_samples(1)
                view.on_phases(shard, t, data)  # the view takes it as it is
    finally:
        pull.close(0)
        push.close(0)
        ctx.term()
    # a sample with the first frame (0.043), then with the first at or after 0.1 (0.11)
    # and 0.2 (0.21)
    assert kinds == ["frame", "phases", "frame", "frame", "phases", "frame", "frame", "frame",
                     "phases", "frame"]
    assert math.isclose(PHASE_INTERVAL_S, 0.1)


def test_the_shard_config_checks_the_lattice() -> None:
    good = shard_config(RunConfig(grid=(12, 8), workers=2, phase_cols=6, phase_rows=4), 0)
    assert ShardConfig.from_wire(good.to_wire()).to_wire() == good.to_wire()
    assert (good.phase_cols, good.phase_rows) == (6, 4)
    for cols, rows in ((6, 0), (0, 4), (13, 4), (6, 9), (-1, -1)):
        with pytest.raises(ShardConfigError, match="phase_"):
            shard_config(RunConfig(grid=(12, 8), workers=2, phase_cols=cols, phase_rows=rows), 0)
    wire = {**good.to_wire(), "phase_cols": True}
    with pytest.raises(ShardConfigError, match="phase_cols"):
        ShardConfig.from_wire(wire)


def test_a_shard_without_lattice_cells_samples_nothing() -> None:
    view, config, agents = build((12, 8), 1, 2)  # one character: a 1x1 lattice, cell (0, 0)
    assert view.phase_lattice == (1, 1)
    assert [view.phase_samples(k) for k in range(2)] == [1, 0]
    assert len(phase_sampler(shard_config(config, 0), agents[0]) or ()) == 1
    assert phase_sampler(shard_config(config, 1), agents[1]) is None
