"""coordinator.console: lines go out, or wait while the terminal is taken over; the
root logger's handlers are swapped for the takeover and restored on every path."""

from __future__ import annotations

import logging

import pytest

from coordinator.console import Console


def test_lines_go_straight_out():
    printed: list[str] = []
    console = Console(printed.append)
    console.out("a")
    console.out("t=1", status=True)
    assert printed == ["a", "t=1"] and not console.is_taken_over


def test_a_takeover_drops_status_lines_holds_the_rest_and_logs_to_a_file(tmp_path):
    printed: list[str] = []
    console = Console(printed.append)
    root = logging.getLogger()
    before = root.handlers[:]
    with console.taken_over(tmp_path / "coordinator.log"):
        assert console.is_taken_over
        console.out("t=1", status=True)
        console.out("worker 1 exited")
        logging.getLogger("coordinator.test").warning("while the view is up")
        assert printed == []
        assert [type(h) for h in root.handlers] == [logging.FileHandler]
    assert printed == ["worker 1 exited"]
    assert root.handlers == before
    assert "while the view is up" in (tmp_path / "coordinator.log").read_text()


def test_everything_is_restored_when_the_block_fails(tmp_path):
    printed: list[str] = []
    console = Console(printed.append)
    before = logging.getLogger().handlers[:]
    with pytest.raises(KeyError):
        with console.taken_over(tmp_path / "coordinator.log"):
            console.out("held")
            raise KeyError("boom")
    assert printed == ["held"] and logging.getLogger().handlers == before
    assert not console.is_taken_over


def test_one_takeover_at_a_time(tmp_path):
    console = Console(print)
    with console.taken_over(tmp_path / "a.log"):
        with pytest.raises(RuntimeError, match="already taken over"):
            with console.taken_over(tmp_path / "b.log"):
                pass
