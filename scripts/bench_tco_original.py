#!/usr/bin/env python3
"""The ORIGINAL Cascade user's TCO benchmark, ported by changing only its imports.

The tasks below are written the way a user of the original Cascade runtime writes
them: ``TailCall(kwargs={...})``, one shared ``Engine(solver=NativeSolver(),
executor=LocalExecutor(), bus=MessageBus())``, a ``noop`` dependency chain on the graph
path. Nothing here uses an API of ours that the original lacks; the point is to show
that an original program runs unchanged and to measure it the way
``scripts/bench_tco.py`` measures ours (fresh event loop per run after gc.collect(),
a warm-up, variants interleaved within each repeat, median of the repeats).

What it is not: a test (it asserts no target and always exits 0 after measuring), a
copy of the original's timing harness (only its tasks and its report lines are kept),
or a benchmark of anything beyond these three countdowns.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys

from shared import cascade as cs
from shared.cascade import Engine, MessageBus, TailCall, NativeSolver, LocalExecutor
from shared.countdown_timing import Runner, measure


# -- the original user's tasks ------------------------------------------------------
@cs.task
def noop(_dummy=None):
    pass


@cs.task
def simple_countdown(n: int):
    if n <= 0:
        return "done"
    return TailCall(kwargs={"n": n - 1})


@cs.task
def heavy_complex_countdown(n: int, _dummy=None):
    if n <= 0:
        return "done"
    dep_chain = noop()
    for _ in range(10):
        dep_chain = noop(_dummy=dep_chain)
    return heavy_complex_countdown(n - 1, _dummy=dep_chain)


async def imperative_countdown(n: int) -> str:
    i = n
    while i > 0:
        i -= 1
        await asyncio.sleep(0)
    return "done"


engine = Engine(solver=NativeSolver(), executor=LocalExecutor(), bus=MessageBus())


# -- measuring (same discipline as scripts/bench_tco.py) ----------------------------

VARIANTS: dict[str, tuple[str, Runner]] = {
    "raw": ("imperative_countdown (raw loop)", imperative_countdown),
    "vm": ("simple_countdown, TailCall, use_vm=True",
           lambda n: engine.run(simple_countdown(n=n), use_vm=True)),
    "heavy": ("heavy_complex_countdown (graph)", lambda n: engine.run(heavy_complex_countdown(n))),
}


def measure_all(steps: int, graph_steps: int, repeats: int) -> dict[str, tuple[int, float]]:
    """name -> (steps, median seconds); the heavy graph variant runs ``graph_steps``."""
    return measure({name: (runner, graph_steps if name == "heavy" else steps)
                    for name, (_, runner) in VARIANTS.items()}, repeats)


def report(results: dict[str, tuple[int, float]], repeats: int) -> None:
    per_step = {name: seconds / steps for name, (steps, seconds) in results.items()}
    print(f"bench_tco_original: Python {platform.python_version()}, "
          f"median of {repeats} repeats, per-step figures")
    for i, (name, (steps, seconds)) in enumerate(results.items(), 1):
        print(f"[{i}] {VARIANTS[name][0]}: {steps} steps in {seconds:.4f} s  "
              f"TPS: {steps / seconds:,.2f} calls/sec  ({per_step[name] * 1e6:.2f} us/step)")
    print()
    print("--- comparison (per step) ---")
    print(f"VM vs heavy: VM is {per_step['heavy'] / per_step['vm']:.2f}x faster")
    print(f"VM / raw loop (per step): {per_step['vm'] / per_step['raw']:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="The original Cascade user's TCO benchmark (imports ported): "
                    "raw asyncio loop vs VM TailCall vs heavy graph countdown.")
    parser.add_argument("--steps", type=int, default=100_000,
                        help="countdown length for the raw loop and the VM (default 100000)")
    parser.add_argument("--graph-steps", type=int, default=None,
                        help="countdown length for the heavy graph path (default steps/10)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per variant (default 5)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be >= 1")
    if args.graph_steps is not None and args.graph_steps < 1:
        parser.error("--graph-steps must be >= 1")
    graph_steps = args.graph_steps or max(1, args.steps // 10)
    report(measure_all(args.steps, graph_steps, args.repeats), args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
