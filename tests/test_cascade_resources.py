"""Resources of shared.cascade: run and task scopes, sync and async providers, injection
as a default or an argument, lifetimes on success and on error, on both paths."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from shared import cascade as cs

PATHS = [pytest.param(False, id="graph"), pytest.param(True, id="vm")]


class Events:
    """What providers and tasks did, in order."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.serials = itertools.count()

    def provider(self, name: str, scope: str, is_async: bool = False) -> cs.ResourceProvider:
        log, serials = self.log, self.serials
        if is_async:
            async def gen() -> Any:
                await asyncio.sleep(0)  # suspends while opening: concurrent users must wait
                value = f"{name}#{next(serials)}"
                log.append(f"open {value}")
                yield value
                await asyncio.sleep(0)
                log.append(f"close {value}")
        else:
            def gen() -> Any:  # type: ignore[misc]
                value = f"{name}#{next(serials)}"
                log.append(f"open {value}")
                yield value
                log.append(f"close {value}")
        return cs.resource(gen, name=name, scope=scope)

    def opened(self) -> list[str]:
        return [e.split(" ", 1)[1] for e in self.log if e.startswith("open ")]

    def closed(self) -> list[str]:
        return [e.split(" ", 1)[1] for e in self.log if e.startswith("close ")]


def engine_with(*providers: cs.ResourceProvider) -> cs.Engine:
    engine = cs.Engine()
    for p in providers:
        engine.register(p)
    return engine


# -- run scope ---------------------------------------------------------------------------------
@pytest.mark.parametrize("use_vm", PATHS)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync-provider", "async-provider"])
def test_run_scoped_opened_once_per_run_though_injected_by_several_tasks(use_vm: bool, is_async: bool) -> None:
    ev = Events()
    engine = engine_with(ev.provider("db", "run", is_async))

    @cs.task
    async def reader(tag: str, db: str = cs.inject("db")) -> str:
        ev.log.append(f"{tag} uses {db}")
        await asyncio.sleep(0)
        return db

    @cs.task
    def joined(a: str, b: str, db: str = cs.inject("db")) -> tuple[str, str, str]:
        return (a, b, db)

    # reader("x") and reader("y") share a stage: they race to open "db".
    a, b, c = asyncio.run(engine.run(joined(reader("x"), reader("y")), use_vm=use_vm))
    assert a == b == c == "db#0"
    assert ev.opened() == ["db#0"] and ev.closed() == ["db#0"]
    assert ev.log[-1] == "close db#0"  # closed when the run ends, not before

    asyncio.run(engine.run(joined(reader("x"), reader("y")), use_vm=use_vm))
    assert ev.opened() == ["db#0", "db#1"]  # a new run, a new instance


@pytest.mark.parametrize("use_vm", PATHS)
def test_run_scoped_lives_across_tail_calls_and_closes_at_run_end(use_vm: bool) -> None:
    ev = Events()
    engine = engine_with(ev.provider("clock", "run"))

    @cs.task
    def countdown(n: int, clock: str = cs.inject("clock")) -> Any:
        ev.log.append(f"step {n} {clock}")
        return clock if n == 0 else cs.TailCall(n=n - 1)

    assert asyncio.run(engine.run(countdown(3), use_vm=use_vm)) == "clock#0"
    assert ev.log == ["open clock#0", "step 3 clock#0", "step 2 clock#0", "step 1 clock#0",
                      "step 0 clock#0", "close clock#0"]


@pytest.mark.parametrize("use_vm", PATHS)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync-provider", "async-provider"])
def test_run_scoped_closed_on_error_in_reverse_order(use_vm: bool, is_async: bool) -> None:
    ev = Events()
    engine = engine_with(ev.provider("first", "run", is_async), ev.provider("second", "run", is_async))

    @cs.task(name="uses_first")
    def uses_first(x: int, r: str = cs.inject("first")) -> int:
        return x

    @cs.task(name="fails")
    def fails(x: int, r: str = cs.inject("second")) -> int:
        ev.log.append("fails runs")
        raise OSError("disk")

    with pytest.raises(OSError, match="disk") as info:
        asyncio.run(engine.run(fails(uses_first(1)), use_vm=use_vm))
    assert "raised by task 'fails'" in info.value.__notes__[0]
    # The VM opens the root's run-scoped inputs at run start, the graph path on first
    # use: the open order may differ, the close order is always its reverse.
    opened = ev.opened()
    assert sorted(opened) == ["first#0", "second#1"] or sorted(opened) == ["first#1", "second#0"]
    assert ev.log[2:] == ["fails runs"] + [f"close {v}" for v in reversed(opened)]


@pytest.mark.parametrize("use_vm", PATHS)
def test_run_scoped_closed_in_reverse_order_on_success(use_vm: bool) -> None:
    ev = Events()
    engine = engine_with(*(ev.provider(n, "run") for n in ("a", "b", "c")))

    @cs.task
    def three(x: str = cs.inject("a"), y: str = cs.inject("b"), z: str = cs.inject("c")) -> str:
        return x + y + z

    assert asyncio.run(engine.run(three(), use_vm=use_vm)) == "a#0b#1c#2"
    assert ev.closed() == ["c#2", "b#1", "a#0"]


def test_close_errors_are_raised_after_every_resource_is_closed() -> None:
    ev = Events()

    @cs.resource(name="twice")
    def twice() -> Any:
        yield 1
        yield 2  # a provider must yield once

    engine = engine_with(ev.provider("good", "run"), twice)

    @cs.task
    def both(g: str = cs.inject("good"), t: int = cs.inject("twice")) -> int:
        return t

    with pytest.raises(RuntimeError, match="twice"):
        asyncio.run(engine.run(both(), use_vm=True))
    assert ev.closed() == ["good#0"]


# -- task scope -------------------------------------------------------------------------------
@pytest.mark.parametrize("use_vm", PATHS)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync-provider", "async-provider"])
def test_task_scoped_opened_and_closed_around_each_call(use_vm: bool, is_async: bool) -> None:
    ev = Events()
    engine = engine_with(ev.provider("conn", "task", is_async))

    @cs.task
    def leaf(x: int, conn: str = cs.inject("conn")) -> int:
        ev.log.append(f"leaf {conn}")
        return x

    @cs.task
    async def root(n: int, v: int, conn: str = cs.inject("conn")) -> Any:
        ev.log.append(f"root {n} {conn}")
        return v if n == 0 else cs.TailCall(n=n - 1)

    assert asyncio.run(engine.run(root(1, leaf(7)), use_vm=use_vm)) == 7
    # Every call gets its own instance, closed right after that call.
    assert ev.log == [
        "open conn#0", "leaf conn#0", "close conn#0",
        "open conn#1", "root 1 conn#1", "close conn#1",
        "open conn#2", "leaf conn#2", "close conn#2",
        "open conn#3", "root 0 conn#3", "close conn#3",
    ]


@pytest.mark.parametrize("use_vm", PATHS)
def test_task_scoped_closed_when_the_task_raises(use_vm: bool) -> None:
    ev = Events()
    engine = engine_with(ev.provider("conn", "task"))

    @cs.task(name="broken")
    def broken(conn: str = cs.inject("conn")) -> None:
        raise ValueError(conn)

    with pytest.raises(ValueError, match="conn#0") as info:
        asyncio.run(engine.run(broken(), use_vm=use_vm))
    assert "raised by task 'broken'" in info.value.__notes__[0]
    assert ev.log == ["open conn#0", "close conn#0"]


# -- how inject is written -------------------------------------------------------------------
@pytest.mark.parametrize("use_vm", PATHS)
@pytest.mark.parametrize("scope", ["run", "task"])
def test_inject_as_explicit_argument_and_as_default(use_vm: bool, scope: str) -> None:
    ev = Events()
    engine = engine_with(ev.provider("res", scope))

    @cs.task
    def plain(x: Any) -> Any:
        return x

    @cs.task
    def defaulted(x: Any = cs.inject("res")) -> Any:
        return x

    @cs.task
    def pair(a: Any, b: Any) -> tuple[Any, Any]:
        return (a, b)

    assert asyncio.run(engine.run(plain(cs.inject("res")), use_vm=use_vm)) == "res#0"
    assert asyncio.run(engine.run(defaulted(), use_vm=use_vm)) == "res#1"
    assert asyncio.run(engine.run(defaulted("given"), use_vm=use_vm)) == "given"
    a, b = asyncio.run(engine.run(pair(plain(cs.inject("res")), defaulted()), use_vm=use_vm))
    if scope == "run":
        assert a == b == "res#2"
    else:
        assert {a, b} == {"res#2", "res#3"}
    assert sorted(ev.opened()) == sorted(ev.closed())


@pytest.mark.parametrize("use_vm", PATHS)
@pytest.mark.parametrize("how", ["default", "argument", "nested"])
def test_unknown_resource_names_it(use_vm: bool, how: str) -> None:
    engine = engine_with(Events().provider("known", "run"))

    @cs.task
    def plain(x: Any) -> Any:
        return x

    @cs.task
    def defaulted(x: Any = cs.inject("no_such_thing")) -> Any:
        return x

    target = {
        "default": defaulted(),
        "argument": plain(cs.inject("no_such_thing")),
        "nested": plain(defaulted()),
    }[how]
    with pytest.raises(cs.UnknownResource, match="'no_such_thing'.*known") as info:
        asyncio.run(engine.run(target, use_vm=use_vm))
    assert isinstance(info.value, LookupError)


def test_declaration_errors() -> None:
    with pytest.raises(ValueError, match="scope"):
        cs.resource(scope="forever")
    with pytest.raises(TypeError, match="generator"):
        cs.resource(lambda: 1, name="x")
    with pytest.raises(TypeError, match="provider"):
        cs.Engine().register(lambda: 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        cs.inject("")

    @cs.resource
    def named_after_function() -> Any:
        yield 1

    assert named_after_function.name == "named_after_function"
    assert named_after_function.scope == "run"
