"""The global quota's ledger as a hypothesis state machine (shared/quota/, without
sockets): one QuotaBroker and 2-4 LeaseClients over a simulated network
(tests/quotakit.py) that delivers any message in flight, loses, duplicates and
reorders them, with clock jumps and worker deaths.

The ledger holds after every step: Σ in_use <= Σ worker held <= Σ broker held <= L, per
shard too, and the broker's pool counts exactly what it lent. Healed, the network's
books agree and the split settles (docs/quota.md, "Safety")."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from quotakit import Net, run_rounds


# -- the ledger under loss, duplication, reordering, clock jumps and deaths -------------------
class QuotaLedger(RuleBasedStateMachine):
    @initialize(k=st.integers(2, 4), limit=st.integers(1, 8))
    def setup(self, k: int, limit: int) -> None:
        self.net = Net(k, limit)

    def worker(self, k: int) -> int:
        return k % len(self.net.workers)

    @rule(k=st.integers(0, 3), n=st.integers(-3, 4))
    def agents_come_and_go(self, k: int, n: int) -> None:
        """n > 0 agents queue for a step on worker k; n < 0: -n running steps end."""
        if n > 0:
            self.net.arrive(self.worker(k), n)
        else:
            self.net.finish(self.worker(k), -n)

    @rule(k=st.integers(0, 3), dt=st.sampled_from([0.0, 0.05, 0.1, 0.25]))
    def client_wants(self, k: int, dt: float) -> None:
        """A worker's periodic want(), a little later than the last event."""
        self.net.advance(dt)
        self.net.want(self.worker(k))

    @precondition(lambda self: self.net.inflight)
    @rule(i=st.integers(0, 50), action=st.sampled_from(
        ["deliver", "deliver", "deliver", "oldest", "oldest", "drop", "duplicate"]))
    def network(self, i: int, action: str) -> None:
        """One message in flight is delivered (any of them: reordering, or the oldest),
        lost, or duplicated."""
        net = self.net
        i %= len(net.inflight)
        if action == "duplicate":
            net.inflight.append(net.inflight[i])
        elif action == "drop":
            net.inflight.pop(i)
        else:
            net.deliver(net.inflight.pop(0 if action == "oldest" else i))

    @precondition(lambda self: self.net.inflight)
    @rule(i=st.integers(0, 50))
    def network_delivers(self, i: int) -> None:
        net = self.net
        net.deliver(net.inflight.pop(i % len(net.inflight)))

    @precondition(lambda self: self.net.inflight)
    @rule()
    def network_delivers_all(self) -> None:
        self.net.flush()

    @rule()
    def broker_ticks(self) -> None:
        self.net.tick()

    @rule(dt=st.sampled_from([0.05, 0.1, 0.4, 1.0, 2.6, 3.2, 8.0]))
    def clock_moves(self, dt: float) -> None:
        self.net.advance(dt)

    @precondition(lambda self: len(self.net.live()) == len(self.net.workers))
    @rule(k=st.integers(0, 3))
    def worker_dies(self, k: int) -> None:
        w = self.worker(k)
        if not self.net.workers[w].dead:
            self.net.kill(w)

    @invariant()
    def ledger(self) -> None:
        self.net.check_ledger()

    def teardown(self) -> None:
        """Heal the network: every stray message is delivered, then reliable rounds for
        longer than a lease; the books must agree and the split must settle."""
        net = self.net
        net.flush()
        net.check_ledger()
        run_rounds(net, 40)
        net.check_converged()


QuotaLedger.TestCase.settings = settings(max_examples=500, stateful_step_count=80, deadline=None)
test_quota_ledger = QuotaLedger.TestCase
