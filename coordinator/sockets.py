"""The coordinator's bound sockets for one run, and who may speak on them:
:func:`open_sockets` makes them in order (endpoints → secrets → control → telemetry →
the join socket with ``--listen``), each one's clean-up on the caller's exit stack.

Not here: what arrives on them (``control``, ``telemetry``, ``joins``) or the run
(``session``).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import zmq

from shared import protocol
from shared.address import tcp_endpoint
from shared.grid import Grid
from shared.keyfiles import load_coordinator_keys
from shared.partition import partition

from .aggregator import Aggregator
from .config import RunConfig
from .control import ControlChannel
from .endpoints import Endpoints
from .joins import JoinDesk, Joined
from .listening import parse_listen
from .quota_desk import QuotaDesk
from .receiver import Receiver
from .security import RunSecurity
from .telemetry import TelemetryStream
from .uploads import RunUploads

__all__ = ["RunSockets", "open_sockets"]


@dataclass(frozen=True)
class RunSockets:
    """The run's sockets; ``remote`` are the shards that join (``--listen``)."""

    endpoints: Endpoints
    security: RunSecurity
    channel: ControlChannel
    telemetry: TelemetryStream
    joins: JoinDesk | None
    remote: range

    @property
    def receivers(self) -> list[Receiver]:
        """The sockets whose rejects go in the summary."""
        return [self.channel, self.telemetry, *([self.joins] if self.joins else [])]

    def drain(self) -> None:
        """Read what is queued now on the telemetry and control sockets."""
        self.telemetry.drain()
        self.channel.drain()

    def inbox(self, shard: int) -> str:
        """Where shard ``shard``'s edge inbox binds: a joined worker's on its own host."""
        if self.joins is not None and shard in self.joins.joined:
            return tcp_endpoint(self.joins.joined[shard].advertise, "*")
        return self.endpoints.edge_inbox(shard)

    def replacement_inbox(self, shard: int, n: int) -> str:
        """Where the ``n``-th replacement of ``shard``'s worker binds its inbox: never the
        lost worker's ipc path, which its neighbours' old links would reconnect to."""
        return self.endpoints(f"edge-{shard}-{n}")

    def refusals(self) -> dict[str, int]:
        """The summary's counts of CurveZMQ handshakes and joins refused (tcp runs)."""
        out = {}
        if self.security.curve:  # every way a handshake fails, ZAP's refusals among them
            out["handshakes_refused"] = sum(r.handshakes_refused for r in self.receivers)
        if self.joins is not None:
            out["joins_refused"] = self.joins.refused
        return out


def open_sockets(stack: contextlib.AsyncExitStack, cfg: RunConfig, *, run_dir: Path,
                 aggregator: Aggregator, desk: QuotaDesk | None,
                 on_join: Callable[[Joined], None]) -> RunSockets:
    loop = asyncio.get_running_loop()
    listen = parse_listen(cfg.listen) if cfg.listen is not None else None
    endpoints = stack.enter_context(Endpoints(cfg.transport, **(
        {"host": listen.host} if listen is not None else {})))
    security = RunSecurity(cfg.transport, cfg.workers, spawned=cfg.spawned,  # docs/security.md
                           keys=load_coordinator_keys(cfg.keys) if cfg.keys else None)
    ctx: zmq.Context[Any] = zmq.Context()
    stack.callback(ctx.term)
    stack.enter_context(security.guarding(ctx))  # tcp: ZAP lets in only the workers' keys
    remote = range(cfg.spawned, cfg.workers)
    channel = stack.enter_context(ControlChannel(
        ctx, loop, endpoints("control"), workers=cfg.workers, quota=desk, security=security,
        uploads=RunUploads(run_dir, remote) if remote else None))
    telemetry = stack.enter_context(TelemetryStream(
        ctx, loop, endpoints("telemetry"), aggregator=aggregator,
        shard_cells=[s.cells for s in partition(Grid(*cfg.grid), cfg.workers)], security=security,
        sim_duration=cfg.duration if cfg.clock == "lockstep" else None))
    joins = None
    if listen is not None:
        joins = stack.enter_context(JoinDesk(
            ctx, loop, listen.endpoint, security=security, remote=remote,
            version=protocol.simulator_version(), control=channel.address,
            telemetry=telemetry.address, on_join=on_join))
    return RunSockets(endpoints, security, channel, telemetry, joins, remote)
