"""The TailCall binding rule (shared/cascade/_tailcall.py): positional values replace
the first inputs, keywords name inputs, the inputs it does not name keep their values,
and naming a non-input, giving too many values or one input twice is a CascadeError
naming it; one rule on the graph path, both VM loops and target switches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cascadekit import run_vm
from shared import cascade as cs


# -- TailCall semantics -----------------------------------------------------------------
@pytest.mark.parametrize("is_async", [False, True])
def test_tailcall_with_some_arguments_keeps_the_others(is_async: bool) -> None:
    seen_labels: set[str] = set()

    def body(n: int, label: str, acc: int) -> Any:
        seen_labels.add(label)
        if n == 0:
            return (label, acc)
        return cs.TailCall(n=n - 1, acc=acc + n)

    if is_async:
        @cs.task
        async def countdown(n: int, label: str, acc: int = 0) -> Any:
            return body(n, label, acc)
    else:
        @cs.task
        def countdown(n: int, label: str, acc: int = 0) -> Any:
            return body(n, label, acc)

    assert run_vm(cs.Engine(), countdown(100, "kept")) == ("kept", 5050)
    assert seen_labels == {"kept"}


def test_positional_tailcall_replaces_the_first_inputs() -> None:
    @cs.task
    def walk(n: int, step: int, trail: tuple[int, ...] = ()) -> Any:
        if n <= 0:
            return trail
        return cs.TailCall(n - step, target=None, trail=trail + (n,))

    assert run_vm(cs.Engine(), walk(10, 3)) == (10, 7, 4, 1)


def test_positional_and_keyword_tailcall_on_the_general_path() -> None:
    @cs.task
    def const(x: int) -> int:
        return x

    @cs.task
    def walk(n: int, acc: int, c: int) -> Any:
        if n == 0:
            return acc
        return cs.TailCall(n - 1, acc=acc + c)

    # c is a nested LazyResult: the blueprint has two instructions (general loop).
    engine = cs.Engine()
    assert len(engine.compile(walk(5, 0, const(7))).instructions) == 2
    assert run_vm(engine, walk(5, 0, const(7))) == 35


@pytest.mark.parametrize("nested", [False, True])
def test_tailcall_naming_a_non_input_is_a_cascade_error_naming_it(nested: bool) -> None:
    @cs.task
    def const(x: int) -> int:
        return x

    @cs.task
    def f(n: int, c: int = 0) -> Any:
        return cs.TailCall(n=n - 1, bogus_name=1)

    target = f(3, const(1)) if nested else f(3)
    with pytest.raises(cs.CascadeError, match="bogus_name") as info:
        run_vm(cs.Engine(), target)
    assert not isinstance(info.value, cs.TaskError)


def test_tailcall_switch_naming_a_non_input_or_too_many_values_is_a_cascade_error() -> None:
    @cs.task
    def other(m: int) -> int:
        return m

    @cs.task
    def bad_name(n: int) -> Any:
        return cs.TailCall(target=other, m=1, bogus_name=2)

    @cs.task
    def too_many(n: int) -> Any:
        return cs.TailCall(1, 2, 3)

    @cs.task
    def missing(n: int) -> Any:
        return cs.TailCall(target=other)  # other's input m has no value to carry

    engine = cs.Engine()
    with pytest.raises(cs.CascadeError, match="bogus_name"):
        run_vm(engine, bad_name(1))
    with pytest.raises(cs.CascadeError, match="3 positional"):
        run_vm(engine, too_many(1))
    with pytest.raises(cs.CascadeError, match="'m'"):
        run_vm(engine, missing(1))


def test_tailcall_from_a_non_root_instruction_is_an_error() -> None:
    @cs.task(name="inner")
    def inner(x: int) -> Any:
        return cs.TailCall(x=x - 1)

    @cs.task(name="outer")
    def outer(y: Any) -> Any:
        return y

    with pytest.raises(cs.CascadeError, match="'inner'.*not the root"):
        run_vm(cs.Engine(), outer(inner(1)))


# -- one TailCall binding rule on every path ------------------------------------------------
PATHS = ["graph", "graph-switch", "vm-single", "vm-general", "vm-switch"]

BINDING_CASES = [
    # (TailCall args, TailCall kwargs, expected inputs (a, b, c) or the expected error)
    ((), {}, (1, 2, 3)),
    ((), {"b": 20}, (1, 20, 3)),
    ((10,), {}, (10, 2, 3)),
    ((10,), {"c": 30}, (10, 2, 30)),
    ((10, 20, 30), {}, (10, 20, 30)),
    ((), {"bogus": 1},
     "TailCall names 'bogus', which is not an input of probe(); its inputs are ['a', 'b', 'c']"),
    ((1, 2, 3, 4), {},
     "TailCall gives 4 positional values, but probe() has 3 input(s) ['a', 'b', 'c']; "
     "give at most 3"),
    ((10,), {"a": 5},
     "TailCall gives input 'a' of probe() twice, positionally and by keyword; give it once"),
]


def run_binding_case(path: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                     monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[str]]:
    """The inputs probe() sees after one ``TailCall(*args, **kwargs)`` on ``path``, or
    ``(error type, message)``; and how often the VM's general loop ran (the hot loop,
    written out in ``VirtualMachine.run``, is the other one: to prove the path taken)."""
    loops: list[str] = []
    original = cs.VirtualMachine._run_general

    def spy(self: Any, *a: Any) -> Any:
        loops.append("_run_general")
        return original(self, *a)

    monkeypatch.setattr(cs.VirtualMachine, "_run_general", spy)
    calls = 0

    @cs.task(name="probe")
    def probe(a: int, b: int, c: int = 0) -> Any:  # c's default differs from start's
        nonlocal calls
        calls += 1
        if calls == 1 and not path.endswith("switch"):
            return cs.TailCall(*args, **kwargs)
        return (a, b, c)

    @cs.task(name="start")
    def start(a: int, b: int, c: int = 3) -> Any:  # carried over by name to probe
        return cs.TailCall(*args, target=probe, **kwargs)

    bus = cs.MessageBus()
    task_events: list[Any] = []
    if path == "vm-general":  # a task-event subscriber sends the VM to its general loop
        bus.subscribe(cs.TaskStarted, task_events.append)
    engine = cs.Engine(bus=bus)
    target = start(1, 2) if path.endswith("switch") else probe(1, 2, 3)
    try:
        outcome: Any = asyncio.run(engine.run(target, use_vm=path.startswith("vm")))
    except Exception as exc:
        outcome = (type(exc), str(exc))
    if path == "vm-general":
        assert task_events, "the general loop publishes task events"
    monkeypatch.undo()
    return outcome, loops


@pytest.mark.parametrize("args, kwargs, expected", BINDING_CASES)
def test_one_tailcall_binding_rule_on_every_path(args: tuple[Any, ...], kwargs: dict[str, Any],
                                                 expected: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    if isinstance(expected, str):
        expected = (cs.CascadeError, expected)  # exactly CascadeError: not the task's fault
    outcomes, loops = {}, {}
    for path in PATHS:
        outcomes[path], loops[path] = run_binding_case(path, args, kwargs, monkeypatch)
    assert outcomes == {path: expected for path in PATHS}
    assert loops["graph"] == loops["graph-switch"] == []
    assert loops["vm-single"] == loops["vm-switch"] == []  # the hot loop, before and after
    assert loops["vm-general"] == ["_run_general"]


def test_keyword_fast_path_falls_back_to_the_rule_for_a_later_bad_name() -> None:
    """The hot loop writes valid keywords inline; a bad one after valid ones must still
    raise the rule's error, not be skipped."""

    @cs.task(name="probe")
    def probe(a: int, b: int) -> Any:
        return cs.TailCall(a=a - 1, b=b, bogus=0) if a else "unreachable"

    with pytest.raises(cs.CascadeError, match="'bogus', which is not an input of probe"):
        run_vm(cs.Engine(), probe(5, 1))
