#!/usr/bin/env python3
"""Benchmark tail calls in Cascade: the blueprint VM against a raw asyncio loop and
against the graph path.

The same countdown of N steps runs as:

  raw    a hand-written ``while n: n -= 1; await asyncio.sleep(0)`` loop (the floor);
  vm     ``engine.run(countdown(n), use_vm=True)``, each step ``return TailCall(n=n-1)``;
         the default ``yield_every=1`` yields once per step, exactly like the raw loop;
  vm/16  the same with ``yield_every=16`` (yields 16x less often: NOT like-for-like with
         the raw loop, shown for scale);
  bare   the graph path, each step returning a bare LazyResult ``countdown(n - 1)``;
  heavy  the graph path, each step returning a LazyResult whose argument is a chain of
         10 small dependent tasks (11 graph nodes built, solved and run per step).

The graph paths run N/10 steps (they are slow); every figure is per step, so the
ratios compare like with like. Variants are interleaved across repeats and each run
gets a fresh event loop, after a gc.collect(); the median of the repeats is reported.

Targets: vm <= 1.5x raw loop per step; heavy graph >= 30x slower than vm per step.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
from typing import Any

from shared import cascade as cs
from shared.countdown_timing import Runner, measure

VM_TARGET = 1.5      # vm per-step time / raw-loop per-step time must be <= this
HEAVY_TARGET = 30.0  # heavy-graph per-step time / vm per-step time must be >= this
CHAIN = 10


# -- the countdowns -----------------------------------------------------------------
@cs.task
def countdown(n: int) -> Any:
    return "done" if n == 0 else cs.TailCall(n=n - 1)


@cs.task
def bare_step(n: int) -> Any:
    return "done" if n == 0 else bare_step(n - 1)


@cs.task
def inc(x: int) -> int:
    return x + 1


@cs.task
def heavy_step(n: int, carried: int) -> Any:
    if n == 0:
        return "done"
    chain: Any = carried
    for _ in range(CHAIN):
        chain = inc(chain)
    return heavy_step(n - 1, chain)


async def raw_loop(n: int) -> str:
    while n:
        n -= 1
        await asyncio.sleep(0)
    return "done"


# -- measuring ----------------------------------------------------------------------


def variants() -> dict[str, Runner]:
    vm1, vm16, graph = cs.Engine(yield_every=1), cs.Engine(yield_every=16), cs.Engine()
    return {
        "raw": raw_loop,
        "vm": lambda n: vm1.run(countdown(n), use_vm=True),
        "vm/16": lambda n: vm16.run(countdown(n), use_vm=True),
        "bare": lambda n: graph.run(bare_step(n)),
        "heavy": lambda n: graph.run(heavy_step(n, 0)),
    }


LABELS = {
    "raw": "raw asyncio loop, sleep(0)/step",
    "vm": "VM TailCall, yield_every=1",
    "vm/16": "VM TailCall, yield_every=16 (*)",
    "bare": "graph, bare LazyResult/step",
    "heavy": f"graph, {CHAIN}-node chain/step",
}


def measure_all(steps: int, graph_steps: int, repeats: int) -> dict[str, tuple[int, float]]:
    """name -> (steps, median seconds); the graph variants run ``graph_steps``."""
    return measure({name: (runner, graph_steps if name in ("bare", "heavy") else steps)
                    for name, runner in variants().items()}, repeats)


def report(results: dict[str, tuple[int, float]], repeats: int) -> bool:
    per_step = {name: seconds / steps for name, (steps, seconds) in results.items()}
    print(f"bench_tco: Python {platform.python_version()}, asyncio, gc enabled, "
          f"median of {repeats} repeats, per-step figures")
    print(f"{'variant':36} {'steps':>8} {'median s':>9} {'TPS':>12} {'us/step':>9}")
    for name, (steps, seconds) in results.items():
        print(f"{LABELS[name]:36} {steps:>8} {seconds:>9.4f} {steps / seconds:>12,.0f} "
              f"{per_step[name] * 1e6:>9.2f}")
    print("(*) yields once per 16 steps: not like-for-like with the raw loop, shown for scale;")
    print("    the graph variants ran fewer steps, TPS and us/step are per step all the same.")
    vm_ratio = per_step["vm"] / per_step["raw"]
    heavy_ratio = per_step["heavy"] / per_step["vm"]
    vm_ok, heavy_ok = vm_ratio <= VM_TARGET, heavy_ratio >= HEAVY_TARGET
    print()
    print(f"VM / raw loop      (per step): {vm_ratio:7.2f}x   target <= {VM_TARGET}x   "
          f"{'MET' if vm_ok else 'NOT MET'}")
    print(f"heavy graph / VM   (per step): {heavy_ratio:7.2f}x   target >= {HEAVY_TARGET:g}x   "
          f"{'MET' if heavy_ok else 'NOT MET'}")
    print(f"bare graph / VM    (per step): {per_step['bare'] / per_step['vm']:7.2f}x   (no target)")
    return vm_ok and heavy_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Tail-call throughput: Cascade VM vs raw asyncio loop vs graph path.",
        epilog="Targets: VM <= 1.5x the raw loop per step; heavy graph >= 30x slower than the VM.")
    parser.add_argument("--steps", type=int, default=100_000,
                        help="countdown length for the raw loop and the VM (default 100000)")
    parser.add_argument("--graph-steps", type=int, default=None,
                        help="countdown length for the graph paths (default steps/10)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per variant (default 5)")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 when a target is not met")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be >= 1")
    graph_steps = args.graph_steps or max(1, args.steps // 10)
    met = report(measure_all(args.steps, graph_steps, args.repeats), args.repeats)
    return 0 if met or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
