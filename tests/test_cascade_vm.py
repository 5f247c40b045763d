"""The blueprint VM of shared.cascade: mutual recursion, flat memory over a million
tail calls, yielding to the event loop, thousands of concurrent runs on one Engine
without cross-talk, and a VM that never imports the Engine. The TailCall binding rule
is tested in tests/test_cascade_tailcall.py."""

from __future__ import annotations

import ast
import asyncio
import itertools
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cascadekit import run_vm
from shared import cascade as cs


# -- mutual recursion ---------------------------------------------------------------------
def make_ping_pong(pong_target: Any = None) -> tuple[cs.Task, cs.Task, list[str]]:
    """ping(n, label, bounces) and pong(label, bounces, n): the parameters are in a
    different order, so inputs must be carried over by name."""
    visits: list[str] = []

    @cs.task(name="ping")
    def ping(n: int, label: str, bounces: int = 0) -> Any:
        visits.append("ping")
        if n == 0:
            return ("ping", label, bounces)
        return cs.TailCall(target=pong_target or pong, n=n - 1, bounces=bounces + 1)

    @cs.task(name="pong")
    async def pong(label: str, bounces: int, n: int) -> Any:
        visits.append("pong")
        if n == 0:
            return ("pong", label, bounces)
        return cs.TailCall(target=ping, n=n - 1, bounces=bounces + 1)

    return ping, pong, visits


def test_mutual_recursion_via_task_target_carries_inputs_by_name() -> None:
    ping, _, visits = make_ping_pong()
    engine = cs.Engine()
    assert run_vm(engine, ping(5, "L")) == ("pong", "L", 5)
    assert visits == ["ping", "pong"] * 3
    assert run_vm(engine, ping(10_000, "deep")) == ("ping", "deep", 10_000)


def test_positional_tailcall_with_a_target_fills_the_targets_first_inputs() -> None:
    @cs.task
    def left(n: int, trail: str = "") -> Any:
        return trail if n == 0 else cs.TailCall(n - 1, target=right, trail=trail + "L")

    @cs.task
    def right(m: int, trail: str) -> Any:  # no input named n: nothing to carry for m
        return trail if m == 0 else cs.TailCall(m - 1, target=left, trail=trail + "R")

    assert run_vm(cs.Engine(), left(5)) == "LRLRL"


def test_mutual_recursion_via_registered_blueprint_name() -> None:
    ping, pong, _ = make_ping_pong(pong_target="the-pong")
    engine = cs.Engine()
    engine.register_blueprint("the-pong", pong)
    assert run_vm(engine, ping(7, "R")) == ("pong", "R", 7)
    assert run_vm(engine, ping(10_000, "R")) == ("ping", "R", 10_000)


def test_unregistered_blueprint_name_is_a_cascade_error_naming_it() -> None:
    ping, _, _ = make_ping_pong(pong_target="nowhere")
    engine = cs.Engine()
    engine.register_blueprint("somewhere", ping)
    with pytest.raises(cs.CascadeError, match="'nowhere'.*somewhere"):
        run_vm(engine, ping(1, "x"))


def test_mutual_recursion_via_lazy_result_target() -> None:
    @cs.task
    def even(n: int) -> Any:
        return True if n == 0 else cs.TailCall(target=odd(0), n=n - 1)

    @cs.task
    def odd(n: int) -> Any:
        return False if n == 0 else even(n - 1)  # a bare LazyResult is a tail call too

    engine = cs.Engine()
    assert run_vm(engine, even(10)) is True
    assert run_vm(engine, even(7)) is False
    assert run_vm(engine, even(10_001)) is False


def test_vm_task_returning_lazy_result_continues_there_10k_deep() -> None:
    @cs.task
    def countdown(n: int, acc: int) -> Any:
        return acc if n == 0 else countdown(n - 1, acc + n)

    assert run_vm(cs.Engine(), countdown(10_000, 0)) == 10_000 * 10_001 // 2


def test_yield_every_must_be_a_positive_int() -> None:
    with pytest.raises(ValueError, match="yield_every"):
        cs.Engine(yield_every=0)


# -- flat memory ----------------------------------------------------------------------------
def traced_peak_growth(engine: cs.Engine, make_target: Any, warmup: int, steps: int) -> tuple[int, int]:
    """(peak growth, current growth) in bytes of a ``steps`` run over a ``warmup`` run,
    both measured under tracemalloc in one event loop."""

    async def measure() -> tuple[int, int]:
        await engine.run(make_target(warmup), use_vm=True)  # compile, warm caches
        tracemalloc.start()
        try:
            await engine.run(make_target(warmup), use_vm=True)
            small_current, small_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            await engine.run(make_target(steps), use_vm=True)
            big_current, big_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return big_peak - small_peak, big_current - small_current

    return asyncio.run(measure())


def test_a_million_tail_calls_run_in_flat_memory() -> None:
    @cs.task
    def spin(n: int, acc: int) -> Any:
        return acc if n == 0 else cs.TailCall(n - 1)

    # yield_every keeps the run short under tracemalloc; the yield path is covered below.
    engine = cs.Engine(yield_every=1024)
    peak, current = traced_peak_growth(engine, lambda n: spin(n, n), 10_000, 1_000_000)
    assert peak < 64 * 1024, f"peak grew by {peak} bytes over 10^6 tail calls"
    assert current < 4 * 1024


@pytest.mark.parametrize("shape", ["keywords", "general", "yield-every-step", "switching"])
def test_tail_calls_run_in_flat_memory_on_every_loop(shape: str) -> None:
    @cs.task
    def const(x: int) -> int:
        return x

    @cs.task
    def spin(n: int, acc: int, c: int = 0) -> Any:
        return acc if n == 0 else cs.TailCall(n=n - 1, acc=acc ^ n)

    @cs.task
    async def spin_other(acc: int, n: int) -> Any:
        return acc if n == 0 else cs.TailCall(target=spin_switch, n=n - 1)

    @cs.task
    def spin_switch(n: int, acc: int) -> Any:
        return acc if n == 0 else cs.TailCall(target=spin_other, n=n - 1)

    engine = cs.Engine(yield_every=1 if shape == "yield-every-step" else 64)
    make = {
        "keywords": lambda n: spin(n, 0),
        "general": lambda n: spin(n, 0, const(1)),
        "yield-every-step": lambda n: spin(n, 0),
        "switching": lambda n: spin_switch(n, 0),
    }[shape]
    # A leak keeps at least one small object (>= 16 bytes) per step: 30,000 steps
    # would add >= 480 KiB, far above the bound.
    peak, current = traced_peak_growth(engine, make, 1_000, 30_000)
    assert peak < 64 * 1024, f"{shape}: peak grew by {peak} bytes"
    assert current < 4 * 1024


# -- yielding to the event loop --------------------------------------------------------------
@pytest.mark.parametrize("yield_every", [1, 16, 10**9])
@pytest.mark.parametrize("shape", ["single", "general"])
@pytest.mark.parametrize("is_async", [False, True])
def test_vm_yields_to_the_event_loop(yield_every: int, shape: str, is_async: bool) -> None:
    steps = 4_000
    ticks = 0
    seen: list[int] = []  # the concurrent counter's value as seen by each step

    def body(n: int) -> Any:
        seen.append(ticks)
        return "done" if n == 0 else cs.TailCall(n=n - 1)

    if is_async:
        @cs.task
        async def spin(n: int, c: int = 0) -> Any:  # async, but never awaits
            return body(n)
    else:
        @cs.task
        def spin(n: int, c: int = 0) -> Any:
            return body(n)

    @cs.task
    def const(x: int) -> int:
        return x

    async def main() -> int:
        nonlocal ticks
        stop = False

        async def counter() -> None:
            nonlocal ticks
            while not stop:
                ticks += 1
                await asyncio.sleep(0)

        engine = cs.Engine(yield_every=yield_every)
        counting = asyncio.create_task(counter())
        await asyncio.sleep(0)
        start = ticks
        target = spin(steps) if shape == "single" else spin(steps, const(0))
        assert await engine.run(target, use_vm=True) == "done"
        during = ticks - start
        stop = True
        await counting
        return during

    during = asyncio.run(main())
    expected = steps // yield_every
    # Both make progress, interleaved: the counter moves once per yield, and the
    # spinning task sees it move while it runs.
    assert expected - 2 <= during <= expected + 2
    assert seen[-1] - seen[0] >= expected - 2
    if yield_every == 1:
        assert all(b - a == 1 for a, b in zip(seen, seen[1:]))
    if expected == 0:  # the control: without yields the counter is starved
        assert seen[-1] == seen[0]


# -- many concurrent runs on one Engine -------------------------------------------------------
@dataclass(eq=False)
class Ledger:
    """A run-scoped resource that records which run(s) used it."""

    serial: int
    users: set[int] = field(default_factory=set)
    closed: int = 0


@pytest.mark.parametrize("use_vm, n_runs", [(True, 5_000), (False, 1_000)])
def test_thousands_of_concurrent_runs_have_no_cross_talk(use_vm: bool, n_runs: int) -> None:
    serials = itertools.count()
    opened: list[Ledger] = []

    @cs.resource(name="ledger", scope="run")
    def ledger() -> Any:
        record = Ledger(next(serials))
        opened.append(record)
        yield record
        record.closed += 1

    @cs.task
    async def step(run_no: int, k: int, acc: int, book: Any = cs.inject("ledger")) -> Any:
        assert book.closed == 0, "run-scoped resource closed while its run is live"
        book.users.add(run_no)
        await asyncio.sleep(0)  # let the other runs interleave
        if k == 0:
            return (run_no, acc, book.serial)
        return cs.TailCall(k=k - 1, acc=acc + run_no * k)

    engine = cs.Engine()
    engine.register(ledger)

    async def main() -> list[Any]:
        return await asyncio.gather(
            *(engine.run(step(i, i % 5 + 1, 0), use_vm=use_vm) for i in range(n_runs)))

    results = asyncio.run(main())
    for i, (run_no, acc, _) in enumerate(results):
        k = i % 5 + 1
        assert (run_no, acc) == (i, i * k * (k + 1) // 2)
    assert len(opened) == n_runs
    assert sorted(serial for _, _, serial in results) == list(range(n_runs))
    by_serial = {record.serial: record for record in opened}
    for run_no, _, serial in results:
        assert by_serial[serial].users == {run_no}
    assert all(record.closed == 1 for record in opened)


# -- the VM does not know the Engine ---------------------------------------------------------
CASCADE = Path(cs.__file__).resolve().parent


def engine_imports(source: str) -> list[int]:
    """Lines of ``source`` (a module of shared/cascade) that import ``_engine`` in any
    form: relative or absolute, at the top, in a function or under TYPE_CHECKING."""
    lines: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            modules = [node.module or ""] + [f"{node.module or ''}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        else:
            continue
        if any("_engine" in m.split(".") for m in modules):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("source", [
    "from ._engine import Engine",
    "from . import _engine",
    "from shared.cascade._engine import RunContext",
    "import shared.cascade._engine as e",
    "if TYPE_CHECKING:\n    from ._engine import Engine\n",
    "def f():\n    from ._engine import Engine\n",
])
def test_the_engine_import_checker_catches_every_form(source: str) -> None:
    assert engine_imports(source) != []


def test_the_engine_import_checker_passes_other_imports() -> None:
    assert engine_imports("from ._blueprint import Blueprint\nimport shared.cascade._vm\n"
                          "from ._engine_helpers import x\n") == []


def test_vm_module_never_imports_the_engine() -> None:
    source = (CASCADE / "_vm.py").read_text(encoding="utf-8")
    assert engine_imports(source) == []


def test_vm_runs_a_blueprint_without_an_engine() -> None:
    """The VM's collaborators are given, not reached for through an Engine."""
    from shared.cascade._resources import RunResources

    @cs.task
    def other(m: int, trail: str) -> Any:
        return trail + "o" if m == 0 else cs.TailCall(m=m - 1, trail=trail + "o")

    @cs.task
    def countdown(n: int, trail: str = "") -> Any:
        return cs.TailCall(target=other, m=n) if n else trail

    compiled: list[Any] = []

    def compile_target(target: Any) -> cs.Blueprint:
        compiled.append(target)
        return cs.BlueprintBuilder().build(target, template=True)

    vm = cs.VirtualMachine(compile_target, yield_every=2)
    bp = compile_target(countdown(2))
    ctx = cs.RunContext(1, RunResources({}))
    assert asyncio.run(vm.run(bp, bp.initial_registers(countdown(2)), ctx)) == "ooo"
    assert compiled[1:] == [other]


def test_engine_takes_no_connector() -> None:
    with pytest.raises(TypeError, match="connector"):
        cs.Engine(connector=object())  # type: ignore[call-arg]
