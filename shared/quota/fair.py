"""Fair shares of the quota: max-min (water-filling) splits of ``limit`` by demand.

Pure functions, used by the broker to set each shard's target. Not here: who holds
what (``broker``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["fair_shares", "targets"]


def fair_shares(limit: int, demand: Mapping[int, int],
                held: Mapping[int, int] | None = None) -> dict[int, int]:
    """Max-min fair integer split of ``limit`` by ``demand`` (water-filling).

    Each shard gets ``min(demand, level)``; the shares sum to ``min(limit, Σ demand)``;
    a shard that gets less than it wants gets at least every other share minus one. The
    odd slots of a rounding go to the shards holding most now (``held``), then to the
    higher shard id, so the split does not churn slots between equals.
    """
    held = held or {}
    order = sorted(demand, key=lambda s: (demand[s], held.get(s, 0), s))
    shares: dict[int, int] = {}
    left = limit
    for i, shard in enumerate(order):
        give = min(demand[shard], left // (len(order) - i))
        shares[shard] = give
        left -= give
    return shares


def targets(limit: int, demand: Mapping[int, int], held: Mapping[int, int],
             members: Iterable[int]) -> dict[int, int]:
    """Fair shares of the live shards' ``demand``, plus what nobody demands split evenly
    over all ``members`` (live or not) as headroom, so a burst on an idle shard needs no
    round trip; the headroom of a shard not heard from stays in the pool."""
    shares = fair_shares(limit, demand, held)
    spare = limit - sum(shares.values())
    headroom = fair_shares(spare, {s: spare for s in members}, held)
    return {s: shares[s] + headroom[s] for s in demand}
