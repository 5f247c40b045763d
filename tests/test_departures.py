"""coordinator.departures without processes: every early leave is a loss (with its
reason, exit code and since_s); after the stop an exit 0 that said bye is clean; a
set-up that never finished loses no one; a loss at set-up fails the set-up."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from coordinator.aggregator import Aggregator
from coordinator.console import Console
from coordinator.control import ControlEvent
from coordinator.departures import Departures
from coordinator.liveness import Liveness, Loss
from coordinator.stop import SetupError, StopRequest


class FakeWorkers:
    def __init__(self, shards: int) -> None:
        self.exits: list[tuple[int, int]] = []
        self.living = set(range(shards))
        self.procs = {k: SimpleNamespace(pid=2**22 + 1) for k in range(shards)}  # no such pid

    def new_exits(self) -> list[tuple[int, int]]:
        out, self.exits = self.exits, []
        for shard, _ in out:
            self.living.discard(shard)
        return out

    def alive(self) -> list[int]:
        return sorted(self.living)


class FakeChannel:
    def __init__(self) -> None:
        self.events: asyncio.Queue[ControlEvent] = asyncio.Queue()
        self.identities: dict[int, bytes] = {}

    def broadcast(self, kind: str, *fields: object) -> None:
        pass


def _departures(tmp_path: Path, shards: int = 2) -> tuple[Departures, FakeWorkers, FakeChannel,
                                                          dict[int, Loss], StopRequest, list[str]]:
    lost: dict[int, Loss] = {}
    lines: list[str] = []
    workers, channel, stop = FakeWorkers(shards), FakeChannel(), StopRequest()
    agg = Aggregator(shards, period=1.0, fps=30.0)
    agg.on_frame(1, 1, 2.5, 1.0, 0.0, 1, b"")
    d = Departures(lost, liveness=Liveness(shards), console=Console(lines.append), run_dir=tmp_path,
                   aggregator=agg, workers=workers, channel=channel, desk=None, stop=stop,  # type: ignore[arg-type]
                   drain=lambda: None)
    return d, workers, channel, lost, stop, lines


async def test_a_bye_before_the_end_is_a_loss_and_its_exit_fills_the_code(tmp_path):
    d, workers, channel, lost, _, lines = _departures(tmp_path)
    d.started = True
    channel.events.put_nowait(ControlEvent(1, "bye", [1, "no word from the coordinator for 10.0 s"]))
    d.drain_events()
    assert lost[1] == Loss("bye: no word from the coordinator for 10.0 s", 2.5, None)
    assert lines[0].startswith("worker 1 lost: bye: no word from the coordinator")
    workers.exits.append((1, 0))
    d.check_exits(during_setup=False)
    assert lost[1].code == 0 and list(lost) == [1]


async def test_an_exit_seen_before_its_late_bye_takes_the_byes_reason(tmp_path):
    d, workers, channel, lost, _, _ = _departures(tmp_path)
    d.started = True
    workers.exits.append((0, 0))
    d.check_exits(during_setup=False)
    assert lost[0] == Loss("exited with code 0", 0.0, 0)
    channel.events.put_nowait(ControlEvent(0, "bye", [0, "SIGTERM"]))
    d.drain_events()
    assert lost[0].reason == "bye: SIGTERM"


async def test_after_the_stop_only_a_clean_exit_with_a_bye_is_not_a_loss(tmp_path):
    d, workers, channel, lost, _, _ = _departures(tmp_path)
    d.started = True
    d.stopping = True  # as stop_all sets it
    channel.events.put_nowait(ControlEvent(0, "bye", [0, "coordinator: duration"]))
    d.drain_events()
    workers.exits += [(0, 0), (1, -9)]
    d.check_exits(during_setup=False)
    assert list(lost) == [1] and lost[1] == Loss("killed by SIGKILL", 2.5, -9)


async def test_a_set_up_that_never_finished_loses_no_one(tmp_path):
    d, workers, _, lost, _, _ = _departures(tmp_path)
    d.stopping = True  # taken down before the barrier opened
    workers.exits += [(0, -15), (1, -9)]
    d.check_exits(during_setup=False)
    assert lost == {}


async def test_a_loss_during_set_up_fails_it_with_exit_3(tmp_path):
    d, workers, _, lost, stop, _ = _departures(tmp_path)
    workers.exits.append((1, -9))
    with pytest.raises(SetupError, match="worker 1 killed by SIGKILL during set-up"):
        d.check_exits(during_setup=True)
    assert stop.reason == "workers_lost" and lost[1] == Loss("killed by SIGKILL", None, -9)


async def test_a_bye_at_the_barrier_is_a_loss_unless_the_run_is_stopping(tmp_path):
    d, _, _, lost, stop, _ = _departures(tmp_path)
    d.left_during_setup(0, "invalid config: grid")
    assert lost[0].reason == "bye during set-up: invalid config: grid" and stop.reason == "workers_lost"
    d2, _, _, lost2, stop2, _ = _departures(tmp_path)
    stop2.request("interrupted")
    d2.left_during_setup(0, "coordinator: interrupted")
    assert lost2 == {}
