"""``sim-worker``: one shard of a simulation.

Two ways to start one:

* **spawned** by sim-coordinator on its own host (``--control``, ``--telemetry``,
  ``--shard``). Its secrets never come on the command line (any local user can read
  ``/proc/PID/cmdline``): it reads one line of :class:`~shared.credentials.Credentials`
  (the run's token; with tcp its CurveZMQ keys and the coordinator's public key) from
  stdin, which the coordinator writes and closes.
* **joining** a coordinator started with ``--listen`` from any host
  (``--join HOST:PORT --key-file FILE``, ``worker.join``): the key file holds the run's
  client key; the token and endpoints come in the coordinator's answer.

The first thing :func:`main` does is :func:`shared.lifeline.die_with_parent`; this
module imports nothing heavy (ZeroMQ, numpy) before that.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from shared.address import split_address
from shared.lifeline import die_with_parent
from shared.loops import DEFAULT_LOOP, LOOPS

if TYPE_CHECKING:
    from .options import WorkerOptions

__all__ = ["main"]

JOIN_TIMEOUT_S = 60.0  # how long a joining worker waits for the coordinator's answer


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sim-worker",
        description="Run one shard of a Cascade firefly simulation. Either sim-coordinator "
                    "starts it (--control, --telemetry, --shard; the run's secrets are read "
                    "from stdin, never the command line), or it joins a coordinator started "
                    "with --listen, from any host: sim-worker --join HOST:PORT --key-file "
                    "KEYS/worker.key_secret (the file from `sim-coordinator keys KEYS`).")
    parser.add_argument("--control", help="coordinator control endpoint (spawned workers)")
    parser.add_argument("--telemetry", help="coordinator telemetry endpoint (spawned workers)")
    parser.add_argument("--shard", type=int,
                        help="shard index, 0-based; with --join optional (default: any free shard)")
    parser.add_argument("--join", metavar="HOST:PORT",
                        help="join the coordinator listening there (sim-coordinator --listen)")
    parser.add_argument("--key-file", metavar="FILE",
                        help="with --join: the run's worker.key_secret (sim-coordinator keys DIR)")
    parser.add_argument("--advertise", metavar="HOST",
                        help="with --join: the address other workers reach this one at "
                             "(default: this host's address on the route to the coordinator)")
    parser.add_argument("--join-timeout", type=float, default=JOIN_TIMEOUT_S, metavar="S",
                        help="with --join: seconds to wait for the coordinator's answer "
                             f"(default {JOIN_TIMEOUT_S:g})")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--loop", choices=LOOPS, default=DEFAULT_LOOP,
                        help="event loop: asyncio (default) or uvloop (the speed extra)")
    args = parser.parse_args(argv)
    if args.join is not None:
        if args.control or args.telemetry:
            parser.error("--join: the coordinator names its endpoints; leave out --control "
                         "and --telemetry")
        if not args.key_file:
            parser.error("--join needs --key-file FILE (worker.key_secret from "
                         "`sim-coordinator keys DIR`)")
        try:
            args.join_host, args.join_port = split_address(args.join)
        except ValueError as exc:
            parser.error(f"--join {args.join!r}: {exc}")
        if not args.join_host:
            parser.error(f"--join {args.join!r}: give the coordinator's host before the port")
        if args.shard is not None and args.shard < 0:
            parser.error(f"--shard {args.shard}: must be >= 0")
        if not args.join_timeout > 0:
            parser.error(f"--join-timeout {args.join_timeout}: must be > 0 seconds")
    else:
        missing = [f"--{n}" for n in ("control", "telemetry", "shard") if getattr(args, n) is None]
        if missing:
            parser.error(f"{' '.join(missing)} required (or --join HOST:PORT --key-file FILE)")
        if args.key_file or args.advertise:
            parser.error("--key-file and --advertise go with --join")
    return args


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    args = parse_args(argv)

    import asyncio
    import logging

    from .busy import TimingSelector
    from .runner import Worker

    label = "joining" if args.shard is None else f"shard-{args.shard}"
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format=f"%(asctime)s {label} %(levelname)s %(name)s: %(message)s")
    opts = _joined(args) if args.join is not None else _spawned(args)
    if isinstance(opts, int):
        return opts
    busy: TimingSelector | None
    if args.loop == "uvloop":  # no timing selector there: loop_busy is null
        import uvloop
        busy, loop_factory = None, uvloop.new_event_loop
    else:
        # The loop runs on a selector that times its own select(): the shard log's
        # loop_busy (worker/busy.py). Nothing in asyncio is patched.
        busy = selector = TimingSelector()
        loop_factory = lambda: asyncio.SelectorEventLoop(selector)  # noqa: E731

    async def run() -> int:
        return await Worker(opts, busy=busy).run()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(run())


def _spawned(args: argparse.Namespace) -> "WorkerOptions | int":
    """The options of a worker sim-coordinator spawned, or the exit code."""
    import logging

    from shared.credentials import Credentials, CredentialsError

    from .options import WorkerOptions

    try:
        credentials = Credentials.read(sys.stdin)
    except CredentialsError as exc:
        logging.getLogger(__name__).error("worker %d: %s", args.shard, exc)
        return 1
    return WorkerOptions(args.control, args.telemetry, args.shard, credentials)


def _joined(args: argparse.Namespace) -> "WorkerOptions | int":
    """The options of a worker that joined, or the exit code: 2 for a bad key file,
    1 when the join was refused or the coordinator could not be reached."""
    import logging

    from shared.keyfiles import KeyFileError, load_worker_keys

    from .join import JoinRefused, JoinRequest, join
    from .options import WorkerOptions

    log = logging.getLogger(__name__)
    try:
        keys = load_worker_keys(args.key_file)
    except KeyFileError as exc:
        log.error("sim-worker: --key-file %s", exc)
        return 2
    try:
        joined = join(JoinRequest(args.join_host, args.join_port, keys,
                                  shard=-1 if args.shard is None else args.shard,
                                  advertise=args.advertise, timeout=args.join_timeout))
    except (JoinRefused, OSError) as exc:
        log.error("sim-worker: %s", exc)
        return 1
    return WorkerOptions(joined.control, joined.telemetry, joined.shard, joined.credentials,
                         offset=joined.offset, joined=True)


if __name__ == "__main__":
    sys.exit(main())
