"""shared.alarm_queue: the calendar queue pops exactly what a binary heap with
stale-entry skipping would, in the same order, whatever the bucket width."""

from __future__ import annotations

import heapq

import pytest
from hypothesis import given, settings, strategies as st

from shared.alarm_queue import AlarmQueue

# An operation: ("push", key, due) moves key's alarm to due; ("pop", until) takes
# every live entry due by ``until``; ("drop", key) makes key's alarm not pending.
ops = st.lists(st.one_of(
    st.tuples(st.just("push"), st.integers(0, 7), st.floats(0.0, 3.0)),
    st.tuples(st.just("pop"), st.floats(0.0, 3.0)),
    st.tuples(st.just("drop"), st.integers(0, 7)),
    st.tuples(st.just("compact")),
), max_size=120)


@settings(max_examples=300, deadline=None)
@given(operations=ops, width=st.sampled_from([1e-3, 0.05, 0.7, 10.0]))
def test_the_queue_pops_in_heap_order(operations, width):
    version, waiting = [0] * 8, [None] * 8
    queue = AlarmQueue(version, waiting, width=width)
    reference: list[tuple[float, int, int]] = []
    now = 0.0
    for op in operations:
        if op[0] == "push":
            _, key, due = op
            due = max(due, now)
            version[key] += 1
            waiting[key] = True
            queue.push(due, key, version[key])
            heapq.heappush(reference, (due, key, version[key]))
        elif op[0] == "drop":
            version[op[1]] += 1
            waiting[op[1]] = None
        elif op[0] == "compact":
            queue.compact()
        else:
            now = max(now, op[1])
            while True:
                while reference and (reference[0][2] != version[reference[0][1]]
                                     or waiting[reference[0][1]] is None):
                    heapq.heappop(reference)
                expected = reference[0] if reference and reference[0][0] <= now else None
                entry = queue.first()
                if entry is not None and entry[0] > now:
                    entry = None
                assert entry == expected
                if entry is None:
                    break
                queue.pop()
                heapq.heappop(reference)
                waiting[entry[1]] = None
                version[entry[1]] += 1
    live = {(d, k, v) for d, k, v in reference if v == version[k] and waiting[k] is not None}
    assert {e for e in queue.entries() if e[2] == version[e[1]] and waiting[e[1]]} == live


def test_stale_entries_are_dropped_when_their_bucket_comes_up():
    version, waiting = [0, 0], [True, True]
    queue = AlarmQueue(version, waiting, width=1.0)
    for v in range(1, 101):  # key 0 moved 100 times within one future bucket
        version[0] = v
        queue.push(5.0 + v / 1000, 0, v)
    queue.push(9.5, 1, 0)
    assert queue.held == 101
    assert queue.first() == (5.1, 0, 100)
    assert queue.held == 2  # the 99 stale ones went when bucket 5 was served
    queue.compact()
    assert sorted(queue.entries()) == [(5.1, 0, 100), (9.5, 1, 0)]


def test_negative_dues_and_a_bad_width():
    version, waiting = [1, 1], [True, True]
    queue = AlarmQueue(version, waiting, width=0.5)
    queue.push(-0.2, 1, 1)
    queue.push(-0.7, 0, 1)
    assert queue.first() == (-0.7, 0, 1)
    assert queue.pop() == (-0.7, 0, 1)
    assert queue.first() == (-0.2, 1, 1)
    with pytest.raises(ValueError, match="width"):
        AlarmQueue(version, waiting, width=0)
