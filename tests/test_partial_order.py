"""shared.synchrony.PartialOrder: a shard's Z_s kept from its epochs, recomputing
only what changed, equals the direct sum over phases at every call."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from shared.synchrony import PartialOrder, partial_order


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400),
       period=st.floats(0.5, 10.0), refresh=st.integers(1, 7))
def test_the_kept_sum_equals_the_direct_one_after_any_changes(seed, n, period, refresh):
    rng = np.random.default_rng(seed)
    epochs = -rng.uniform(0.0, period, n)
    order = PartialOrder(epochs, period, refresh=refresh)
    t = 0.0
    for _ in range(25):
        t += rng.uniform(0.0, 0.5)
        changed = rng.choice(n, size=rng.integers(0, n + 1), replace=False)
        epochs[changed] -= rng.uniform(0.0, 0.3, len(changed))  # nudges move epochs back
        flashed = changed[: len(changed) // 3]
        epochs[flashed] = t - rng.uniform(0.0, 0.1, len(flashed))  # a flash resets them
        want = partial_order(np.mod(t - epochs, period), period)
        assert order.at(t) == pytest.approx(want, abs=1e-9 * n)


def test_it_reads_the_live_array_it_was_given():
    epochs = np.zeros(4)
    order = PartialOrder(epochs, 2.0)
    assert order.at(0.0) == pytest.approx((4.0, 0.0))
    epochs[:2] = -1.0  # half a period later in phase: they cancel the other two
    assert order.at(0.0) == pytest.approx((0.0, 0.0), abs=1e-12)
    with pytest.raises(ValueError, match="refresh"):
        PartialOrder(epochs, 2.0, refresh=0)
