"""The fair split of the global limit (shared/quota/fair.py): fair_shares is max-min
fair and gives the odd slot to the bigger holder."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.quota import fair_shares


# -- the fair split -----------------------------------------------------------------------------
@given(limit=st.integers(0, 50), demand=st.lists(st.integers(0, 30), min_size=1, max_size=8),
       held=st.lists(st.integers(0, 10), min_size=8, max_size=8))
def test_fair_shares_are_max_min_fair(limit: int, demand: list[int], held: list[int]) -> None:
    want = dict(enumerate(demand))
    shares = fair_shares(limit, want, dict(enumerate(held)))
    assert sum(shares.values()) == min(limit, sum(demand))
    for s, share in shares.items():
        assert 0 <= share <= want[s]
        if share < want[s]:  # short-changed: nobody else got more than one above it
            assert all(other <= share + 1 for other in shares.values())


def test_fair_shares_give_the_odd_slot_to_the_bigger_holder() -> None:
    assert fair_shares(5, {0: 9, 1: 9}, {0: 3, 1: 0}) == {0: 3, 1: 2}
    assert fair_shares(5, {0: 9, 1: 9}, {0: 0, 1: 3}) == {0: 2, 1: 3}
    assert fair_shares(10, {0: 1, 1: 10, 2: 10}) == {0: 1, 1: 4, 2: 5}
