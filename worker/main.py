"""``sim-worker``: one shard of a simulation. Normally started by sim-coordinator.

Its secrets never come on the command line (any local user can read
``/proc/PID/cmdline``): the worker reads one line of
:class:`~shared.credentials.Credentials` (the run's token; with tcp its CurveZMQ keys
and the coordinator's public key) from stdin, which the coordinator writes and closes.

The first thing :func:`main` does is :func:`shared.lifeline.die_with_parent`; this
module imports nothing heavy (ZeroMQ, numpy) before that.
"""

from __future__ import annotations

import argparse
import sys

from shared.lifeline import die_with_parent
from shared.loops import DEFAULT_LOOP, LOOPS

__all__ = ["main"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sim-worker",
        description="Run one shard of a Cascade firefly simulation. sim-coordinator starts "
                    "one of these per shard; run it by hand only to debug. The run's secrets "
                    "are read from stdin, never from the command line: one JSON line "
                    '{"token": ..., "public": ..., "secret": ..., "server": ...} (the curve '
                    'keys are "" on ipc runs).')
    parser.add_argument("--control", required=True, help="coordinator control endpoint")
    parser.add_argument("--telemetry", required=True, help="coordinator telemetry endpoint")
    parser.add_argument("--shard", required=True, type=int, help="shard index, 0-based")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--loop", choices=LOOPS, default=DEFAULT_LOOP,
                        help="event loop: asyncio (default) or uvloop (the speed extra)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    args = parse_args(argv)

    import asyncio
    import logging

    from shared.credentials import Credentials, CredentialsError

    from .busy import TimingSelector
    from .runner import Worker, WorkerOptions

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format=f"%(asctime)s shard-{args.shard} %(levelname)s %(name)s: %(message)s")
    try:
        credentials = Credentials.read(sys.stdin)
    except CredentialsError as exc:
        logging.getLogger(__name__).error("worker %d: %s", args.shard, exc)
        return 1
    opts = WorkerOptions(args.control, args.telemetry, args.shard, credentials)
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


if __name__ == "__main__":
    sys.exit(main())
