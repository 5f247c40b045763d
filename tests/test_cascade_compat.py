"""Programs written for the original Cascade run on ours with only their imports changed.

Each test is written the way the original's user writes code: the original's forms
(``TailCall(kwargs=...)``, ``target_blueprint_id=``, ``VirtualMachine().execute``,
``BlueprintBuilder().build(..., template=True)``, ``Call``/``Register``/``Literal``,
``task.func``, ``ResourceManager()`` habits, ``Engine(system_resources=)``,
``engine.run(target, params=)``, the task's own exception, ``Connector``/``Event``),
with only the import lines pointed at ``shared.cascade``. The numbered sections follow
the issue's list. The rules where the two vocabularies could clash are tested last.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from shared import cascade as cs
from shared.cascade import (Blueprint, BlueprintBuilder, Call, Connector, Engine, Event,
                            Literal, LocalExecutor, MessageBus, NativeSolver, Register,
                            ResourceManager, TailCall, VirtualMachine)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cascade.md"


def new_engine(**kwargs: Any) -> Engine:
    return Engine(solver=NativeSolver(), executor=LocalExecutor(), bus=MessageBus(), **kwargs)


# -- 1. TailCall(kwargs=...) -----------------------------------------------------------
@cs.task
def recursive_countdown(count: int, seen: int = 0) -> Any:
    if count > 0:
        return TailCall(kwargs={"count": count - 1, "seen": seen + 1})
    return f"Done after {seen}"


@pytest.mark.parametrize("use_vm", [True, False])
def test_tailcall_kwargs_runs_on_both_paths(use_vm: bool) -> None:
    result = asyncio.run(new_engine().run(recursive_countdown(count=500), use_vm=use_vm))
    assert result == "Done after 500"


def test_tailcall_args_fill_positional_inputs_in_order() -> None:
    @cs.task
    def walk(a: int, b: int) -> Any:
        return TailCall(args=[a - 1, b + 2]) if a else b

    assert asyncio.run(new_engine().run(walk(3, 0), use_vm=True)) == 6


def test_tailcall_prints_in_the_form_it_was_written() -> None:
    assert repr(TailCall(kwargs={"n": 4})) == "TailCall(kwargs={'n': 4})"
    assert repr(TailCall(kwargs={"n": 4}, target_blueprint_id="pong")) == \
        "TailCall(kwargs={'n': 4}, target_blueprint_id='pong')"
    assert repr(TailCall(n=4)) == "TailCall(n=4)"  # ours
    assert repr(TailCall(1, target="pong")) == "TailCall(1, target='pong')"


# -- 2. mutual recursion by target_blueprint_id ------------------------------------------
@cs.task
def ping(n: int) -> Any:
    if n > 0:
        return TailCall(kwargs={"n": n - 1}, target_blueprint_id="pong")
    return "Ping Done"


@cs.task
def pong(n: int) -> Any:
    if n > 0:
        return TailCall(kwargs={"n": n - 1}, target_blueprint_id="ping")
    return "Pong Done"


@pytest.mark.parametrize(("start", "expected"), [(4, "Ping Done"), (3, "Pong Done"),
                                                 (10_001, "Pong Done")])
def test_mutual_recursion_between_registered_blueprints(start: int, expected: str) -> None:
    builder = BlueprintBuilder()
    bp_ping = builder.build(ping(n=0), template=True)
    bp_pong = builder.build(pong(n=0), template=True)
    vm = VirtualMachine()
    vm.register_blueprint("ping", bp_ping)
    vm.register_blueprint("pong", bp_pong)
    assert asyncio.run(vm.execute(bp_ping, initial_kwargs={"n": start})) == expected


def test_mutual_recursion_through_an_engine() -> None:
    engine = new_engine()
    engine.register_blueprint("ping", ping(n=0))
    engine.register_blueprint("pong", pong(n=0))
    assert asyncio.run(engine.run(ping(n=5), use_vm=True)) == "Pong Done"


# -- 3. compiling and running a blueprint by hand -----------------------------------------
def test_compile_then_execute_on_a_standalone_vm() -> None:
    blueprint = BlueprintBuilder().build(recursive_countdown(count=0), template=True)
    assert "count" in blueprint.input_kwargs
    vm = VirtualMachine()
    assert asyncio.run(vm.execute(blueprint, initial_kwargs={"count": 5})) == "Done after 5"


def test_hand_built_blueprint_of_plain_functions() -> None:
    calls: list[tuple[Any, ...]] = []

    def first(val: int) -> int:
        calls.append(("first", val))
        return val * 2

    async def second(x: int, y: int) -> int:
        calls.append(("second", x, y))
        return x + y

    blueprint = Blueprint(
        instructions=[Call(func=first, output=Register(1), kwargs={"val": Literal(10)}),
                      Call(func=second, output=Register(2), args=[Register(1), Register(0)])],
        register_count=3,
        input_args=[0],
    )
    assert asyncio.run(VirtualMachine().execute(blueprint, initial_args=[7])) == 27
    assert calls == [("first", 10), ("second", 20, 7)]


def test_hand_built_recursion_on_a_plain_function() -> None:
    def countdown(count: int) -> Any:
        return TailCall(kwargs={"count": count - 1}) if count > 0 else "Done"

    blueprint = Blueprint(
        instructions=[Call(func=countdown, output=Register(1), kwargs={"count": Register(0)})],
        register_count=2,
        input_kwargs={"count": 0},
    )
    assert asyncio.run(VirtualMachine().execute(blueprint, initial_kwargs={"count": 50})) == "Done"


# -- 4. task.func ---------------------------------------------------------------------------
def test_task_func_is_the_wrapped_function() -> None:
    def add_one(x: int) -> int:
        return x + 1

    wrapped = cs.task(add_one)
    assert wrapped.func is add_one
    assert wrapped.func(1) == 2


# -- 5. resource habits -----------------------------------------------------------------------
def test_resource_manager_without_capacity_grants_everything() -> None:
    async def main() -> None:
        rm = ResourceManager()
        await rm.acquire({"gpu": 3, "memory_gb": 1.5})
        await rm.release({"gpu": 3, "memory_gb": 1.5})

    asyncio.run(main())


def test_float_capacities_and_awaited_release() -> None:
    async def main() -> list[str]:
        rm = ResourceManager(capacity={"memory_gb": 1.5})
        order: list[str] = []
        await rm.acquire({"memory_gb": 0.75})
        await rm.acquire({"memory_gb": 0.75})

        async def third() -> None:
            await rm.acquire({"memory_gb": 0.5})
            order.append("third got memory")

        waiting = asyncio.create_task(third())
        await asyncio.sleep(0.01)
        order.append("releasing")
        await rm.release({"memory_gb": 0.75})
        await waiting
        assert rm.in_use("memory_gb") == pytest.approx(1.25)
        return order

    assert asyncio.run(main()) == ["releasing", "third got memory"]


def test_a_constraint_on_an_undefined_resource_is_unlimited(
        caplog: pytest.LogCaptureFixture) -> None:
    @cs.task
    def uses_tpu(x: int) -> int:
        return x * 3

    engine = new_engine(resource_manager=ResourceManager(capacity={"gpu": 1}))
    with caplog.at_level(logging.WARNING):
        for use_vm in (True, False):
            assert asyncio.run(engine.run(uses_tpu(2).with_constraints(tpu=4), use_vm=use_vm)) == 6
    warnings = [r for r in caplog.records if "'tpu'" in r.getMessage()]
    assert len(warnings) == 1 and "unlimited" in warnings[0].getMessage()


def test_system_resources_limit_concurrency_and_params_are_accepted() -> None:
    in_flight, peak = 0, 0

    @cs.task
    async def render(frame: int) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return frame

    @cs.task
    def total(*frames: int) -> int:
        return sum(frames)

    engine = new_engine(system_resources={"gpu": 2})
    frames = [render(i).with_constraints(gpu=1) for i in range(6)]
    assert asyncio.run(engine.run(total(*frames), params={"scene": "fireflies"})) == 15
    assert peak == 2


# -- 6. a failing task raises its own exception ----------------------------------------------
@pytest.mark.parametrize("use_vm", [True, False])
def test_engine_run_raises_the_tasks_own_exception(use_vm: bool) -> None:
    @cs.task
    def failing_task(x: int) -> int:
        raise ValueError("Boom")

    with pytest.raises(ValueError, match="Boom") as info:
        asyncio.run(new_engine().run(failing_task(1), use_vm=use_vm))
    assert any("failing_task" in note for note in info.value.__notes__)


def test_vm_execute_raises_the_tasks_own_exception() -> None:
    def failing_task(x: int) -> int:
        raise ValueError("Boom")

    blueprint = Blueprint(
        instructions=[Call(func=failing_task, output=Register(1), args=[Register(0)])],
        register_count=2,
        input_args=[0],
    )
    with pytest.raises(ValueError, match="Boom"):
        asyncio.run(VirtualMachine().execute(blueprint, initial_args=[1]))


# -- 7. the blueprint's instruction vocabulary ------------------------------------------------
@cs.task
def add_one(x: int) -> int:
    return x + 1


@cs.task
def add(x: int, y: int) -> int:
    return x + y


def test_compile_single_node_as_root_in_template_mode() -> None:
    blueprint = BlueprintBuilder().build(add_one(x=10), template=True)
    assert blueprint.register_count == 2
    assert len(blueprint.instructions) == 1
    assert blueprint.input_kwargs == {"x": 0}
    instr = blueprint.instructions[0]
    assert isinstance(instr, Call)
    assert instr.func == add_one.func
    assert instr.output.index == 1
    assert isinstance(instr.kwargs["x"], Register) and instr.kwargs["x"].index == 0


def test_root_literals_are_inputs_only_in_template_mode() -> None:
    blueprint = BlueprintBuilder().build(add_one(x=10))
    assert blueprint.input_kwargs == {} and blueprint.register_count == 1
    assert blueprint.instructions[0].kwargs["x"] == Literal(10)
    assert asyncio.run(VirtualMachine().execute(blueprint)) == 11


def test_compile_data_dependency() -> None:
    blueprint = BlueprintBuilder().build(add(add_one(1), 5))
    assert blueprint.register_count == 2
    instr1, instr2 = blueprint.instructions
    assert instr1.func == add_one.func and instr1.output.index == 0
    assert instr2.func == add.func and instr2.output.index == 1
    assert instr2.args[0] == Register(0)
    assert isinstance(instr2.args[1], Literal) and instr2.args[1].value == 5
    assert asyncio.run(VirtualMachine().execute(blueprint)) == 7


def test_compile_diamond_dependency_computes_the_shared_node_once() -> None:
    root = add_one(1)
    blueprint = BlueprintBuilder().build(add(add_one(root), add_one(root)))
    assert len(blueprint.instructions) == 4 and blueprint.register_count == 4
    literal_roots = [i for i in blueprint.instructions
                     if i.func == add_one.func and isinstance(i.args[0], Literal)]
    assert len(literal_roots) == 1
    assert asyncio.run(VirtualMachine().execute(blueprint)) == 6


# -- 8. type imports ------------------------------------------------------------------------------
def test_connector_and_event_types() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.published: list[tuple[str, dict[str, Any]]] = []

        async def connect(self) -> None: ...

        async def disconnect(self) -> None: ...

        async def publish(self, topic: str, payload: dict[str, Any], qos: int = 0,
                          retain: bool = False) -> None:
            self.published.append((topic, payload))

        async def subscribe(self, topic: str, callback: Any) -> None: ...

    @cs.task
    async def flash(agent_id: int, connector: Connector) -> str:
        await connector.publish("firefly/flash", {"agent_id": agent_id})
        return "flashed"

    recorder = Recorder()
    assert isinstance(recorder, Connector)
    events: list[Event] = []
    engine = new_engine()
    engine.bus.subscribe(cs.RunStarted, events.append)
    engine.bus.subscribe(cs.RunFinished, events.append)
    assert asyncio.run(engine.run(flash(7, recorder), use_vm=True)) == "flashed"
    assert recorder.published == [("firefly/flash", {"agent_id": 7})]
    assert len(events) == 2 and all(isinstance(e, Event) for e in events)


def test_every_name_in_the_porting_map_is_exported() -> None:
    """docs/cascade.md maps the original's import paths to ours; each ``cs.Name`` it
    names must exist, so that porting changes only import lines."""
    section = DOCS.read_text().split("## Porting from the original Cascade", 1)[1]
    table = [line for line in section.split("\n## ", 1)[0].splitlines() if line.startswith("|")]
    names = set(re.findall(r"`cs\.(\w+)`", "\n".join(table)))
    assert len(names) >= 15, names
    assert sorted(n for n in names if not hasattr(cs, n)) == []


# -- where the two vocabularies could clash ------------------------------------------------
@pytest.mark.parametrize("use_vm", [True, False])
def test_an_input_named_like_a_keyword_is_an_ambiguity_error(use_vm: bool) -> None:
    @cs.task
    def forward(kwargs: dict[str, int], n: int) -> Any:
        return TailCall(kwargs={"n": n - 1}) if n else kwargs

    with pytest.raises(cs.CascadeError, match="ambiguous for .*forward.*'kwargs'.*explicit"):
        asyncio.run(new_engine().run(forward({"a": 1}, 2), use_vm=use_vm))


@pytest.mark.parametrize("use_vm", [True, False])
def test_explicit_tailcall_says_which_reading_is_meant(use_vm: bool) -> None:
    @cs.task
    def forward(kwargs: dict[str, int], n: int) -> Any:
        if n:
            return TailCall.explicit(kwargs={"kwargs": {"a": n}, "n": n - 1})
        return kwargs

    assert asyncio.run(new_engine().run(forward({}, 3), use_vm=use_vm)) == {"a": 1}


def test_a_switch_from_a_task_with_an_input_named_target_is_ambiguous() -> None:
    @cs.task
    def done(target: str) -> str:
        return target

    @cs.task
    def aim(target: str) -> Any:
        return TailCall(target=done)

    with pytest.raises(cs.CascadeError, match=r"ambiguous for .*aim\(\): 'target'"):
        asyncio.run(new_engine().run(aim("moon"), use_vm=True))
    assert asyncio.run(new_engine().run(done("moon"), use_vm=True)) == "moon"


def test_original_keywords_mixed_with_input_names_are_refused_with_a_hint() -> None:
    with pytest.raises(cs.CascadeError, match="'kwargs', which is not an input.*no other"):
        asyncio.run(new_engine().run(
            cs.task(lambda n: TailCall(kwargs={"n": 0}, n=0) if n else "done")(1), use_vm=True))
    with pytest.raises(TypeError, match="target_blueprint_id"):
        TailCall(kwargs={}, target_blueprint_id="a", target="b")
