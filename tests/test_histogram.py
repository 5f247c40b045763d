"""shared.histogram: what the log-linear histogram holds, and what from_dict refuses
(a hostile report's histogram once made summary.json fail with OverflowError)."""

from __future__ import annotations

import json
import math
import re

import pytest

from shared.histogram import MAX_INDEX, MAX_MS, Histogram, bucket_bounds
from shared.limits import MAX_COUNT


def _hist(*values: float) -> Histogram:
    hist = Histogram()
    hist.record_many(values)
    return hist


def test_round_trip_and_merge():
    a, b = _hist(0.5, 1.0, 2.0), _hist(3.0)
    back = Histogram.from_dict(json.loads(json.dumps(a.to_dict())))
    assert back.counts == a.counts and back.count == 3 and back.max == 2.0
    assert back.merge(b).count == 4 and back.percentile(1.0) == 3.0


def test_values_outside_the_range_are_clamped_and_counted():
    hist = _hist(-1.0, float("nan"), float("inf"), 1e300, 5.0)
    assert hist.clamped == 4 and hist.count == 5
    assert max(hist.counts) == MAX_INDEX and hist.max < MAX_MS
    assert math.isfinite(hist.total) and bucket_bounds(MAX_INDEX)[1] == MAX_MS
    json.dumps(hist.to_dict(), allow_nan=False)  # strict JSON
    assert Histogram.from_dict(hist.to_dict()).count == 5


@pytest.mark.parametrize("change, message", [
    ({"buckets": [[10 ** 8, 1]], "count": 1}, "bucket index 100000000"),
    ({"buckets": [[-1, 1]], "count": 1}, "bucket index -1"),
    ({"buckets": [[1.5, 1]], "count": 1}, "bucket index 1.5"),
    ({"buckets": [["3", 1]], "count": 1}, "bucket index '3'"),
    ({"buckets": [[3, -1]], "count": -1}, "count -1"),
    ({"buckets": [[3, MAX_COUNT]], "count": MAX_COUNT}, f"count {MAX_COUNT}"),
    ({"buckets": [[3, True]], "count": 1}, "count True"),
    ({"buckets": [[3]], "count": 1}, "bucket [3] is not an [index, count] pair"),
    ({"buckets": [[i, 1] for i in range(MAX_INDEX + 2)]}, "at most"),
    ({"buckets": "nope"}, "at most"),
    ({"sum": float("inf")}, "sum(=inf)"),
    ({"sum": -1.0}, "sum(=-1.0)"),
    ({"max": float("nan")}, "max(=nan)"),
    ({"max": 10 ** 400}, "max(="),
    ({"count": 7}, "count(=7) != sum of buckets(=1)"),
    ({"clamped": -2}, "clamped(=-2)"),
])
def test_from_dict_refuses_what_to_dict_cannot_write(change, message):
    data = {**_hist(1.0).to_dict(), **change}
    with pytest.raises(ValueError, match=re.escape(message)):
        Histogram.from_dict(data)


def test_a_missing_field_is_a_value_error():
    data = _hist(1.0).to_dict()
    del data["sum"]
    with pytest.raises(ValueError, match=re.escape("not a histogram dict: KeyError('sum')")):
        Histogram.from_dict(data)
