"""shared.rejects: rejected messages are counted and summarised, one warning per
source per interval at most, never a line each."""

from __future__ import annotations

import logging

from shared.rejects import RejectLog


def test_one_line_per_interval_with_the_count_and_the_first_reason(caplog):
    now = [100.0]
    rejects = RejectLog(logging.getLogger("test.rejects"), "malformed telemetry messages",
                        clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.rejects"):
        assert rejects.reject("first reason")          # the first says so at once
        for i in range(9_411):
            now[0] += 0.0001                            # 0.94 s of garbage
            assert rejects.reject(f"reason {i}") == (i == 0)  # first of the next window
        now[0] = 101.5
        assert not rejects.reject("later")              # closes the window: its line goes out
        rejects.flush()
        rejects.flush()                                 # nothing pending: no line
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "dropped 1 malformed telemetry messages in the last 0.0 s; first: first reason",
        "dropped 9,412 malformed telemetry messages in the last 1.5 s; first: reason 0",
    ]
    assert rejects.total == 9_413
