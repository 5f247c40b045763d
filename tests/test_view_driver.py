"""coordinator.view.driver: the flash feed, the status bar from the run's figures,
and the driver's redraw loop and keys on a pseudo-terminal."""

from __future__ import annotations

import asyncio
import io
import os
import pty
from array import array

from coordinator.view import LiveView, StatusInfo
from coordinator.view.driver import ViewDriver, flash_feed, status_info
from coordinator.view.palette import PALETTES

from viewkit import Term

STATUS = StatusInfo(0.0, 0.5, 10.0, {0: 30.0}, {0: 1.0}, 1, 1)


def _view(out: io.StringIO) -> LiveView:
    return LiveView(4, 4, 1.0, fps=50.0, out=out, size_fn=lambda: (20, 6), colours=256)


def test_the_flash_feed_hands_cells_to_the_view_and_ignores_corrupt_ones(caplog):
    out = io.StringIO()
    view = _view(out)
    feed = flash_feed(view)
    feed(array("i", [0, 5]).tobytes(), 0.0)
    feed(array("i", [99]).tobytes(), 0.0)   # outside the 4x4 grid
    feed(b"\x01\x02\x03", 0.0)              # not whole int32s
    assert sum("view ignored a frame" in r.message for r in caplog.records) == 2
    term = Term(20, 6)  # the 4x4 grid drawn x2: cell 5 = (1, 1) is screen pixels 2..3
    term.feed(view.render(0.01, STATUS))
    flash = PALETTES[256].levels[-1]
    assert [term.pixel(x, 0) for x in range(4)] == [flash, flash] + [PALETTES[256].unlit] * 2
    assert [term.pixel(x, 2) for x in range(6)] == [PALETTES[256].unlit] * 2 + [flash] * 2 + [
        PALETTES[256].unlit] * 2


def test_status_info_from_the_runs_figures():
    latest = {0: {"fps": 29.5, "flash_lateness_ms": {"p99": 2.5}}}
    info = status_info(-1.0, r=0.7, latest=latest, record={}, workers_alive=1, workers_total=2)
    assert info == StatusInfo(0.0, 0.7, 0.0, {0: 29.5}, {0: 2.5}, 1, 2, None, None)
    record = {"flashes_per_s": 12.5, "quota": {"in_use": 3, "limit": 4}}
    info = status_info(2.0, r=0.7, latest=latest, record=record, workers_alive=1, workers_total=2)
    assert (info.flashes_per_s, info.quota_in_use, info.quota_limit) == (12.5, 3, 4)
    info = status_info(2.0, r=0.7, latest=latest, record=record, workers_alive=2, workers_total=2,
                       stalled=[1])
    assert info.stalled == (1,)


async def test_the_driver_draws_until_stopped_and_q_asks_to_quit():
    master, slave = pty.openpty()
    out = io.StringIO()
    stops: list[str] = []
    stop = asyncio.Event()
    driver = ViewDriver(_view(out), status=lambda t: STATUS, request_stop=stops.append,
                        t0=asyncio.get_running_loop().time(), out=out, keys_fd=slave)
    task = asyncio.ensure_future(driver.run(stop))
    try:
        await asyncio.sleep(0.1)
        os.write(master, b"q")
        for _ in range(100):
            if stops:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 2.0)
    finally:
        os.close(master)
        os.close(slave)
    assert stops == ["quit"]
    assert driver.frames >= 2
    assert "\x1b[?1049h" in out.getvalue() and "\x1b[?1049l" in out.getvalue()
    assert driver.cost_line(1.0).startswith(f"live view: {driver.frames} frames in 1.0 s")


async def test_p_switches_the_view_and_s_the_shard_borders():
    master, slave = pty.openpty()
    out = io.StringIO()
    stop = asyncio.Event()
    view = LiveView(4, 4, 1.0, fps=50.0, out=out, size_fn=lambda: (20, 6),
                    shards=[(0, 0, 2, 4), (2, 0, 2, 4)])
    driver = ViewDriver(view, status=lambda t: STATUS, request_stop=lambda reason: None,
                        t0=asyncio.get_running_loop().time(), out=out, keys_fd=slave)
    task = asyncio.ensure_future(driver.run(stop))

    async def until(condition) -> None:
        for _ in range(500):
            if condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("timed out")

    try:
        assert (view.phase_view, view.show_shards) == (False, False)
        os.write(master, b"p")
        await until(lambda: view.phase_view)
        os.write(master, b"s")
        await until(lambda: view.show_shards)
        os.write(master, b"ps")
        await until(lambda: not view.phase_view and not view.show_shards)
        os.write(master, b"\x1bOP")  # F1 (ESC O P) is not p
        await asyncio.sleep(0.1)
        assert not view.phase_view
    finally:
        stop.set()
        await asyncio.wait_for(task, 2.0)
        os.close(master)
        os.close(slave)


def test_the_run_config_asks_the_workers_for_the_views_lattice():
    from coordinator.config import RunConfig
    from coordinator.view.driver import phase_lattice_config

    view = LiveView(300, 200, 1.0, out=io.StringIO(), size_fn=lambda: (120, 45))
    config = phase_lattice_config(RunConfig(grid=(300, 200), workers=2), view)
    assert (config.phase_cols, config.phase_rows) == view.phase_lattice == (120, 80)
    shard = config.shard_config(1, run_dir="/tmp/x", inbox="ipc:///tmp/x", lease_s=1.0)
    assert (shard.phase_cols, shard.phase_rows) == (120, 80)
