"""``sim-worker``: one shard of a simulation. Normally started by sim-coordinator."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import signal
import sys

from .busy import TimingSelector
from .runner import Worker, WorkerOptions

__all__ = ["main"]


def _die_with_parent() -> None:
    """Linux: have the kernel send SIGTERM when the parent process dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the heartbeat and parent-pid watchdog still apply


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sim-worker",
        description="Run one shard of a Cascade firefly simulation. sim-coordinator starts "
                    "one of these per shard; run it by hand only to debug.")
    parser.add_argument("--control", required=True, help="coordinator control endpoint")
    parser.add_argument("--telemetry", required=True, help="coordinator telemetry endpoint")
    parser.add_argument("--shard", required=True, type=int, help="shard index, 0-based")
    parser.add_argument("--token", required=True, help="run token given by the coordinator")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _die_with_parent()
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format=f"%(asctime)s shard-{args.shard} %(levelname)s %(name)s: %(message)s")
    opts = WorkerOptions(args.control, args.telemetry, args.shard, args.token)
    # The loop runs on a selector that times its own select(): the shard log's
    # loop_busy (worker/busy.py). Nothing in asyncio is patched.
    selector = TimingSelector()

    async def run() -> int:
        return await Worker(opts, busy=selector).run()

    with asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(selector)) as runner:
        return runner.run(run())


if __name__ == "__main__":
    sys.exit(main())
