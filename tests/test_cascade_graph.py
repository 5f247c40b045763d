"""Graph path of shared.cascade: building, solving, tail calls, errors, the bus; and
the property that the graph path, the VM and plain Python agree on random task DAGs."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import cascade as cs


# -- a small arithmetic vocabulary, built fresh per test so no state is shared -------
@dataclass(frozen=True)
class Op:
    name: str
    arity: int
    keyword_only: tuple[str, ...]  # names of keyword-only parameters (after arity)
    python: Callable[..., int]


OPS = {
    "add": Op("add", 2, (), lambda a, b: a + b),
    "mul": Op("mul", 2, (), lambda a, b: (a * b) % 10007),
    "sub": Op("sub", 2, (), lambda a, b: a - b),          # async
    "neg": Op("neg", 1, (), lambda a: -a),
    "scale": Op("scale", 1, ("k",), lambda x, k: (x * k) % 10007),  # async, keyword-only
}


def make_tasks(calls: list[str]) -> dict[str, cs.Task]:
    """Fresh tasks that log every call into ``calls``."""

    @cs.task(name="add")
    def add(a: int, b: int) -> int:
        calls.append("add")
        return a + b

    @cs.task(name="mul")
    def mul(a: int, b: int) -> int:
        calls.append("mul")
        return (a * b) % 10007

    @cs.task(name="sub")
    async def sub(a: int, b: int) -> int:
        await asyncio.sleep(0)
        calls.append("sub")
        return a - b

    @cs.task(name="neg")
    def neg(a: int) -> int:
        calls.append("neg")
        return -a

    @cs.task(name="scale")
    async def scale(x: int, *, k: int = 3) -> int:
        calls.append("scale")
        return (x * k) % 10007

    return {"add": add, "mul": mul, "sub": sub, "neg": neg, "scale": scale}


Operand = tuple[str, int]  # ("lit", value) or ("node", index of an earlier node)


@st.composite
def dags(draw: Any) -> list[tuple[str, list[Operand], bool]]:
    """A DAG as data: nodes in order, each (op, operands, pass-by-keyword); operands
    are literals or earlier nodes, so sub-nodes are shared. The last node is the root."""
    nodes: list[tuple[str, list[Operand], bool]] = []
    for _ in range(draw(st.integers(1, 8))):
        op = OPS[draw(st.sampled_from(sorted(OPS)))]
        operands: list[Operand] = []
        for _ in range(op.arity + len(op.keyword_only)):
            if nodes and draw(st.booleans()):
                operands.append(("node", draw(st.integers(0, len(nodes) - 1))))
            else:
                operands.append(("lit", draw(st.integers(-50, 50))))
        nodes.append((op.name, operands, draw(st.booleans())))
    return nodes


def materialise(dag: list[tuple[str, list[Operand], bool]], tasks: dict[str, cs.Task]) -> tuple[cs.LazyResult, int, int]:
    """The root LazyResult, its value computed in plain Python, and how many distinct
    nodes the root reaches (= task calls one run must make)."""
    lazies: list[cs.LazyResult] = []
    values: list[int] = []
    for name, operands, by_keyword in dag:
        op = OPS[name]
        args = [lazies[i] if kind == "node" else i for kind, i in operands]
        vals = [values[i] if kind == "node" else i for kind, i in operands]
        pos, kw = args[: op.arity], dict(zip(op.keyword_only, args[op.arity:]))
        if by_keyword:
            params = ["a", "b"] if op.arity == 2 else (["x"] if op.keyword_only else ["a"])
            kw.update(zip(params, pos))
            pos = []
        lazies.append(tasks[name](*pos, **kw))
        values.append(op.python(*vals))
    reached: set[int] = set()
    stack = [len(dag) - 1]
    while stack:
        i = stack.pop()
        if i not in reached:
            reached.add(i)
            stack.extend(j for kind, j in dag[i][1] if kind == "node")
    return lazies[-1], values[-1], len(reached)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dag=dags())
def test_graph_vm_and_python_agree_on_random_dags(dag: list[tuple[str, list[Operand], bool]]) -> None:
    calls: list[str] = []
    root, expected, n_nodes = materialise(dag, make_tasks(calls))
    engine = cs.Engine()

    async def both() -> tuple[Any, int, Any, int, Any]:
        graph = await engine.run(root, use_vm=False)
        graph_calls = len(calls)
        vm = await engine.run(root, use_vm=True)
        vm_calls = len(calls) - graph_calls
        vm_again = await engine.run(root, use_vm=True)  # cached blueprint
        return graph, graph_calls, vm, vm_calls, vm_again

    graph, graph_calls, vm, vm_calls, vm_again = asyncio.run(both())
    assert graph == vm == vm_again == expected
    # A shared sub-node is one node: computed once per run on both paths.
    assert graph_calls == vm_calls == n_nodes


def test_template_mode_reuses_blueprint_only_when_structure_matches() -> None:
    tasks = make_tasks([])
    add, mul = tasks["add"], tasks["mul"]
    engine = cs.Engine()
    bp = engine.compile(add(1, mul(2, 3)))
    assert engine.compile(add(5, mul(2, 3))) is bp          # root literals are inputs
    assert engine.compile(add(1, mul(2, 4))) is not bp      # nested literal is a constant
    assert bp.input_names == ("a",)
    assert asyncio.run(engine.run(add(5, mul(2, 3)), use_vm=True)) == 11
    assert asyncio.run(engine.run(add(1, mul(2, 4)), use_vm=True)) == 9


# -- building and solving -------------------------------------------------------------
def test_build_graph_shares_nodes_and_solver_stages_by_depth() -> None:
    tasks = make_tasks([])
    add, neg = tasks["add"], tasks["neg"]
    leaf = neg(1)
    mid = add(leaf, 2)
    root = add(mid, leaf)
    graph = cs.build_graph(root)
    assert [n.lazy for n in graph.nodes] == [leaf, mid, root]
    assert graph.root.lazy is root
    stages = cs.NativeSolver().resolve(graph)
    assert [[n.lazy for n in s] for s in stages] == [[leaf], [mid], [root]]
    wide = add(neg(1), neg(2))
    assert [len(s) for s in cs.NativeSolver().resolve(cs.build_graph(wide))] == [2, 1]


def test_deep_dependency_chain_builds_and_runs_without_recursion() -> None:
    add = make_tasks([])["add"]
    target: Any = 0
    for _ in range(10_000):
        target = add(target, 1)
    assert asyncio.run(cs.Engine().run(target)) == 10_000
    with pytest.raises(cs.CompileError, match="too deeply"):
        cs.Engine().compile(target)


def test_non_lazy_target_is_returned_as_is() -> None:
    assert asyncio.run(cs.Engine().run(42)) == 42


# -- tail calls on the graph path -------------------------------------------------------
def test_graph_task_returning_lazy_result_continues_there_10k_deep() -> None:
    @cs.task
    def countdown(n: int, acc: int) -> Any:
        if n == 0:
            return acc
        return countdown(n - 1, acc + n)

    n = 10_000
    assert asyncio.run(cs.Engine().run(countdown(n, 0))) == n * (n + 1) // 2


def test_graph_async_task_returning_tailcall_keeps_other_arguments() -> None:
    @cs.task
    async def countdown(n: int, label: str) -> Any:
        if n == 0:
            return label
        return cs.TailCall(n=n - 1)

    @cs.task
    def ping(n: int, label: str) -> Any:
        return label if n == 0 else cs.TailCall(target=pong, n=n - 1)

    @cs.task
    def pong(n: int, label: str) -> Any:
        return label.upper() if n == 0 else cs.TailCall(n - 1, target=ping)

    engine = cs.Engine()
    assert asyncio.run(engine.run(countdown(3_000, "kept"))) == "kept"
    assert asyncio.run(engine.run(ping(5, "x"))) == "X"   # ends on pong
    assert asyncio.run(engine.run(ping(4, "x"))) == "x"   # ends on ping


def test_graph_tailcall_to_a_blueprint_name_is_an_error() -> None:
    @cs.task
    def f(n: int) -> Any:
        return cs.TailCall(target="elsewhere", n=1)

    with pytest.raises(cs.CascadeError, match="elsewhere"):
        asyncio.run(cs.Engine().run(f(1)))


# -- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("use_vm", [False, True])
@pytest.mark.parametrize("is_async", [False, True])
def test_a_failing_task_raises_its_own_exception_with_a_note_naming_it(
        use_vm: bool, is_async: bool) -> None:
    original = ZeroDivisionError("boom")

    if is_async:
        @cs.task(name="breaks")
        async def breaks(x: int) -> int:
            await asyncio.sleep(0)
            raise original
    else:
        @cs.task(name="breaks")
        def breaks(x: int) -> int:
            raise original

    @cs.task(name="slow_ok")
    async def slow_ok(x: int) -> int:
        for _ in range(5):
            await asyncio.sleep(0)
        return x

    @cs.task(name="outer")
    def outer(a: int, b: int) -> int:
        return a + b

    with pytest.raises(ZeroDivisionError, match="boom") as info:
        asyncio.run(cs.Engine().run(outer(breaks(1), slow_ok(2)), use_vm=use_vm))
    assert info.value is original
    path = "VM" if use_vm else "graph"
    assert info.value.__notes__ == [f"Cascade: raised by task 'breaks' (run 1, {path} path)"]


@pytest.mark.parametrize("use_vm", [False, True])
def test_task_error_after_tail_calls(use_vm: bool) -> None:
    @cs.task(name="countdown")
    def countdown(n: int) -> Any:
        if n == 0:
            raise KeyError("bottom")
        return cs.TailCall(n=n - 1)

    with pytest.raises(KeyError, match="bottom") as info:
        asyncio.run(cs.Engine().run(countdown(50), use_vm=use_vm))
    assert "Cascade: raised by task 'countdown'" in info.value.__notes__[0]
    assert info.value.__context__ is None  # no runtime exception chained in front of it


# -- the message bus -------------------------------------------------------------------
@pytest.mark.parametrize("use_vm", [False, True])
def test_bus_publishes_run_started_and_finished_with_ok_and_error(use_vm: bool) -> None:
    @cs.task(name="maybe")
    def maybe(fail: bool) -> str:
        if fail:
            raise RuntimeError("no")
        return "yes"

    bus = cs.MessageBus()
    events: list[Any] = []
    bus.subscribe(cs.RunStarted, events.append)
    bus.subscribe(cs.RunFinished, events.append)
    engine = cs.Engine(bus=bus)
    assert asyncio.run(engine.run(maybe(False), use_vm=use_vm)) == "yes"
    with pytest.raises(RuntimeError, match="no"):
        asyncio.run(engine.run(maybe(True), {"seed": 7}, use_vm=use_vm))
    started_ok, finished_ok, started_bad, finished_bad = events
    assert started_ok == cs.RunStarted(started_ok.run_id, "maybe", use_vm)
    assert started_bad.params == {"seed": 7}  # the original's engine.run(target, params=)
    assert finished_ok == cs.RunFinished(started_ok.run_id, "maybe", True, None)
    assert started_bad.run_id != started_ok.run_id
    assert finished_bad.run_id == started_bad.run_id and finished_bad.ok is False
    assert finished_bad.error == "RuntimeError('no')"


def test_failing_subscriber_does_not_break_the_run(caplog: pytest.LogCaptureFixture) -> None:
    @cs.task
    def one() -> int:
        return 1

    def bad(event: Any) -> None:
        raise ValueError("subscriber bug")

    seen: list[Any] = []
    bus = cs.MessageBus()
    bus.subscribe(cs.RunStarted, bad)
    bus.subscribe(cs.RunFinished, bad)
    bus.subscribe(cs.RunFinished, seen.append)
    with caplog.at_level(logging.ERROR):
        assert asyncio.run(cs.Engine(bus=bus).run(one(), use_vm=True)) == 1
    assert len(seen) == 1 and seen[0].ok
    assert "subscriber bug" in caplog.text


def test_vm_publishes_task_events_when_someone_listens() -> None:
    tasks = make_tasks([])
    bus = cs.MessageBus()
    assert not bus.listening
    events: list[Any] = []
    bus.subscribe(cs.TaskStarted, events.append)
    bus.subscribe(cs.TaskFinished, events.append)
    assert bus.listening and bus.listening_tasks
    result = asyncio.run(cs.Engine(bus=bus).run(tasks["add"](tasks["neg"](1), 5), use_vm=True))
    assert result == 4
    assert [(type(e).__name__, e.task) for e in events] == [
        ("TaskStarted", "neg"), ("TaskFinished", "neg"),
        ("TaskStarted", "add"), ("TaskFinished", "add"),
    ]
