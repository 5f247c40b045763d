"""ShardConfig, the ``config`` message's one field: a round trip, and a clear
ShardConfigError naming the field for every kind of bad value."""

from __future__ import annotations

import math
from typing import Any

import msgpack
import pytest

from shared.model import FireflyParams
from shared.shard_config import ShardConfig, ShardConfigError


def good() -> ShardConfig:
    return ShardConfig(
        shard=1, workers=2, grid=(8, 4), params=FireflyParams(2.0, 0.1, 0.4, 0.1, 7),
        init="random", kicks=(0, 31), run_dir="/tmp/run", inbox="ipc:///tmp/run/edge-1",
        fps=30.0, report_interval=1.0, heartbeat_timeout=5.0, yield_every=16, limit=None,
        lease_s=3.0, trace_signals=False, trace_quota=True, clock="realtime", delay=0.0,
        duration=30.0, checkpoint_every=0.0, resume=False)


def wire(**changes: Any) -> dict[str, Any]:
    out = good().to_wire()
    out.update(changes)
    return out


def test_round_trip_through_msgpack():
    config = good()
    data = msgpack.unpackb(msgpack.packb(config.to_wire(), use_bin_type=True), raw=False)
    assert ShardConfig.from_wire(data) == config
    with_limit = ShardConfig.from_wire(wire(limit=40))
    assert with_limit.limit == 40 and with_limit.quota and not config.quota


def test_default_refractory_goes_on_the_wire_as_its_value():
    data = wire(params=FireflyParams(period=5.0).to_dict())
    assert ShardConfig.from_wire(data).params.refractory_s == 1.0


@pytest.mark.parametrize("field, value", [
    ("shard", -1), ("shard", 2), ("shard", "1"), ("shard", True), ("shard", 1.0),
    ("workers", 0), ("workers", None),
    ("grid", [8]), ("grid", "8x4"), ("grid", [0, 4]), ("grid", [8, 4.5]),
    ("init", "sorted"), ("init", 3),
    ("kicks", 5), ("kicks", [32]), ("kicks", [-1]), ("kicks", [True]), ("kicks", ["0"]),
    ("run_dir", ""), ("run_dir", None), ("inbox", 5),
    ("fps", 0), ("fps", -1.0), ("fps", math.nan), ("fps", math.inf), ("fps", "30"), ("fps", True),
    ("report_interval", 0.0), ("heartbeat_timeout", None), ("lease_s", -3.0),
    ("yield_every", 0), ("yield_every", 1.5),
    ("limit", 0), ("limit", 2.0), ("limit", "8"), ("limit", False),
    ("trace_signals", 1), ("trace_quota", "yes"),
])
def test_a_bad_field_is_rejected_naming_it(field, value):
    with pytest.raises(ShardConfigError, match=field):
        ShardConfig.from_wire(wire(**{field: value}))


@pytest.mark.parametrize("change, named", [
    ({"period": "2"}, "params.period"), ({"seed": 1.5}, "params.seed"),
    ({"nudge": True}, "params.nudge"), ({"period": -1.0}, "period"),
    ({"nudge": 5.0}, "nudge"), ({"refractory": 2.0}, "refractory"), ({"seed": -1}, "seed"),
])
def test_bad_model_parameters_are_rejected_naming_them(change, named):
    params = {**good().params.to_dict(), **change}
    with pytest.raises(ShardConfigError, match=named):
        ShardConfig.from_wire(wire(params=params))


def test_missing_unknown_and_non_map_params_are_named():
    params = good().params.to_dict()
    del params["seed"]
    with pytest.raises(ShardConfigError, match="params lacks seed"):
        ShardConfig.from_wire(wire(params=params))
    with pytest.raises(ShardConfigError, match="params has unknown fields colour"):
        ShardConfig.from_wire(wire(params={**good().params.to_dict(), "colour": 1}))
    with pytest.raises(ShardConfigError, match="params"):
        ShardConfig.from_wire(wire(params=[1, 2]))


def test_missing_and_unknown_fields_are_named():
    data = wire()
    del data["fps"], data["inbox"]
    with pytest.raises(ShardConfigError, match="config lacks fps, inbox"):
        ShardConfig.from_wire(data)
    with pytest.raises(ShardConfigError, match="unknown fields 7, extra"):
        ShardConfig.from_wire({**wire(), "extra": 1, 7: 2})
    with pytest.raises(ShardConfigError, match="not a map"):
        ShardConfig.from_wire([1, 2])  # type: ignore[arg-type]


def test_direct_construction_validates_too():
    with pytest.raises(ShardConfigError, match="grid"):
        ShardConfig(**{**good().__dict__, "grid": (0, 4)})
    with pytest.raises(ShardConfigError, match="params"):
        ShardConfig(**{**good().__dict__, "params": {"period": 2.0}})
    with pytest.raises(AttributeError):
        good().fps = 1.0  # type: ignore[misc]


@pytest.mark.e2e
def test_a_worker_given_a_bad_config_says_why_says_bye_and_exits_1(tmp_path):
    """A real worker process against a stand-in coordinator (two ipc sockets)."""
    import subprocess
    import sys

    import zmq

    from shared import protocol

    ctx = zmq.Context()
    control, telemetry = ctx.socket(zmq.ROUTER), ctx.socket(zmq.PULL)
    for sock in (control, telemetry):
        sock.setsockopt(zmq.LINGER, 0)
    control.bind(f"ipc://{tmp_path}/control")
    telemetry.bind(f"ipc://{tmp_path}/telemetry")
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker", "--control", f"ipc://{tmp_path}/control",
         "--telemetry", f"ipc://{tmp_path}/telemetry", "--shard", "0"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    worker.stdin.write('{"token": "t", "public": "", "secret": "", "server": ""}\n')  # never argv
    worker.stdin.close()
    try:
        def receive() -> tuple[bytes, str, list[Any]]:
            assert control.poll(20_000), "the worker said nothing"
            identity, payload = control.recv_multipart()
            return (identity, *protocol.decode(payload))

        identity, kind, fields = receive()
        assert (kind, fields[0], fields[2]) == ("hello", 0, "t")
        bad = wire(shard=0, fps=-1.0)
        control.send_multipart([identity, protocol.encode("config", bad)])
        _, kind, fields = receive()
        assert kind == "bye" and "fps" in fields[1], fields
        assert worker.wait(20) == 1
        err = worker.stderr.read()
        assert "ERROR" in err and "fps(=-1.0)" in err and "Traceback" not in err, err
    finally:
        worker.kill()
        worker.wait()
        control.close(0)
        telemetry.close(0)
        ctx.term()
