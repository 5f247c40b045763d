"""The global quota: leases of slots from the coordinator's pool to the workers.

``sim-coordinator --limit L`` caps how many agent steps run at once across ALL shards.
Think of a tool library with L drills. The coordinator (:class:`QuotaBroker`) is the
desk: it keeps the stock in one :class:`ResourceManager` and lends drills to the
workshops (workers) under a *lease* that lapses unless renewed. A workshop
(:class:`LeaseClient`) lends its drills on to its own people (agents) through a local,
*elastic* ResourceManager whose size is what the lease lets it use; it asks the desk
for more when people queue, renews the lease regularly, and brings back drills nobody
holds when the desk says it holds more than its fair share. Nobody phones the desk per
use: a step takes a slot from the local manager, with no message at all.

::

       coordinator: QuotaBroker                         worker k: LeaseClient
       pool = ResourceManager({RESOURCE: L})            local = ResourceManager(..., elastic=True)
       per shard: lease_id, G, R, expiry                lease_id, g, r, expiry
       held_k = G - R   (taken from the pool)           held = g - r
                                                        capacity = min(held, target)

            <---- quota_request(seq, lease_id, g, r, in_use, waiting) ----   every renew_s,
       R = max(R, r): release into the pool                                   on demand change
       expiry = max(expiry, now + lease_s)
       water-fill targets; take d from the pool, G += d
            ---- quota_grant(seq, lease_id, G, target, echo=seq, lease_s) ---->
                                                        g = max(g, G); target (newest seq)
                                                        expiry = sent_at[echo] + lease_s - guard_s
            <---- quota_return(lease_id, r) ----------------------------------   r += idle slots
       R = max(R, r): release; grant to the neediest                            above target

The counters are *cumulative* per lease (G = slots ever granted, R = slots ever
returned), so a message that is lost, duplicated or reordered can delay but never
inflate: the receiver keeps the maximum it has seen, which is at most what the sender
has sent. Hence, per shard and epoch, ``g - r <= G - R``: the worker never holds more
than the broker counts for it, and the broker's count is taken from a pool of L.

A lease id (epoch) changes when the broker *reclaims* a shard's slots (its lease
expired, or its worker died); messages of an older epoch are ignored. The worker's own
expiry is computed from the SEND time of the request a grant echoes, less a guard, so it
lapses before the broker's (which counts from RECEIVE time): by the time the broker
takes the slots back the worker has stopped using them. docs/quota.md has the proof.

The package: ``messages`` (RESOURCE, Request, Grant, Return), ``fair`` (fair_shares),
``broker`` (QuotaBroker, the coordinator's side), ``client`` (LeaseClient, the
worker's side). Glossary and proof: docs/quota.md.

It is not a network layer: nothing here sends, sleeps or reads a clock. Every method
takes ``now`` (the host's monotonic clock, shared by all processes) and returns the
messages to send, as frozen dataclasses whose :meth:`wire` fields match
``shared.protocol.SCHEMAS``.
"""

from .broker import QuotaBroker, QuotaStatistics
from .client import LeaseClient, LeaseStatistics
from .fair import fair_shares
from .messages import RESOURCE, Grant, Request, Return

__all__ = ["RESOURCE", "Grant", "LeaseClient", "LeaseStatistics", "QuotaBroker",
           "QuotaStatistics", "Request", "Return", "fair_shares"]
