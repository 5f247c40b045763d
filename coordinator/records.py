"""The run records: the run directory and the coordinator's files in it.

* :func:`create_run_dir` makes a new ``log_dir/run-<UTC time>-<seed>[-n]`` and
  reserves room for ``summary.json`` in it (:data:`SUMMARY_RESERVE`), so the summary
  can still be written when the filesystem fills up during the run.
* :class:`RunRecords` writes what the coordinator records there: ``run.json``
  (config, shards, versions, host) before the workers start, one
  ``coordinator.jsonl`` line per interval, ``summary.json`` at the end; and
  :func:`summary_line` is the summary's one printed line.

File and field names come from :mod:`shared.runlog.schema` (docs/logs.md); the
shards' own logs are written by the workers.

Not here: computing the figures (``aggregator``, ``quota_desk``) or printing
(``console``).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

import msgpack
import numpy as np
import psutil
import zmq

from shared import protocol
from shared.checkpoint import Checkpoint
from shared.grid import Grid
from shared.partition import Shard, ShardLayout, shard_layouts
from shared.runlog.schema import (COORDINATOR_LOG, INIT_NPY, RESUME_NPZ, RUN_JSON,
                                  SCHEMA_VERSION, SUMMARY_JSON)

from .config import RunConfig

__all__ = ["create_run_dir", "write_json", "versions", "host_info", "JsonLines", "RunRecords",
           "run_record", "summary_record", "summary_line"]


def create_run_dir(log_dir: str, seed: int, now: float | None = None) -> Path:
    """Make ``log_dir/run-<UTC time>-<seed>[-n]``, never reusing an existing one.

    ``now`` is the time (``time.time()`` seconds) the name carries; the default is
    the present moment.
    """
    base = Path(log_dir)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"--log-dir {log_dir!r}: cannot create it: {exc.strerror}") from None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    for n in range(1000):
        path = base / (f"run-{stamp}-{seed}" + (f"-{n}" if n else ""))
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise OSError(f"--log-dir {log_dir!r}: cannot create a run directory in it: "
                          f"{exc.strerror}") from None
        try:
            _reserve_summary(path)
        except OSError as exc:
            shutil.rmtree(path, ignore_errors=True)
            raise OSError(f"--log-dir {log_dir!r}: cannot write in it: {exc.strerror}") from None
        return path.resolve()
    raise OSError(f"could not find a free run directory name in {base}")


#: A file of this many bytes holds room for summary.json until it is written (a
#: summary is a few KB; histograms can take ~80 KB at most).
SUMMARY_RESERVE = ".summary.reserve"
SUMMARY_RESERVE_BYTES = 128 * 1024


def _reserve_summary(run_dir: Path) -> None:
    with open(run_dir / SUMMARY_RESERVE, "wb") as f:  # real bytes: a sparse file reserves nothing
        f.write(b"\0" * SUMMARY_RESERVE_BYTES)
        f.flush()
        os.fsync(f.fileno())


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    text = json.dumps(data, indent=1) + "\n"
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def versions() -> dict[str, str]:
    def version_of(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "unknown"

    return {
        "simulator": protocol.simulator_version(),
        "python": platform.python_version(),
        "pyzmq": zmq.pyzmq_version(),
        "libzmq": zmq.zmq_version(),
        "msgpack": ".".join(map(str, msgpack.version)),
        "numpy": version_of("numpy"),
    }


def host_info() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "executable": sys.executable,
    }


class JsonLines:
    """An append-only JSON-lines file, each line written through at once (unbuffered:
    a failed write, such as a full disk, leaves nothing pending for ``close``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "ab", buffering=0)

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one line; raises OSError naming the file when it cannot."""
        try:
            self._file.write((json.dumps(record, separators=(",", ":")) + "\n").encode())
        except OSError as exc:
            raise OSError(f"{self.path}: cannot write it: {exc.strerror}") from None

    def close(self) -> None:
        self._file.close()


def run_record(config: RunConfig, run_dir: Path, shards: Sequence[Shard],
               layouts: Sequence[ShardLayout]) -> dict[str, Any]:
    """run.json: what was run, where, with what."""
    return {
        "schema": SCHEMA_VERSION, "run_dir": str(run_dir),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seed": config.seed, "workers": config.workers, "agents": config.agents,
        "config": config.to_dict(),
        "shards": [{"shard": s.index, "x0": s.x0, "y0": s.y0, "width": s.width, "height": s.height,
                    "cells": s.cells, "neighbours": list(layout.neighbour_shards)}
                   for s, layout in zip(shards, layouts)],
        "versions": versions(), "host": host_info(),
    }


def summary_record(*, reason: str, duration_s: float, config: RunConfig,
                   figures: Mapping[str, Any], workers_lost: Mapping[int, Any],
                   malformed: int, error: str | None) -> dict[str, Any]:
    """summary.json: how the run ended and its totals (``figures``: the aggregator's)."""
    return {
        "schema": SCHEMA_VERSION,
        "exit": reason,
        "duration_s": round(duration_s, 3),
        "agents": config.agents,
        "workers": config.workers,
        **figures,
        "workers_lost": {str(s): c for s, c in workers_lost.items()},
        "malformed_rejected_coordinator": malformed,
        "error": error,
    }


def summary_line(summary: Mapping[str, Any]) -> str:
    """The line printed at the end of every run (lock-step: with its simulated time,
    real-time factor and the first 16 hex digits of each hash)."""
    lockstep = ""
    if "state_hash" in summary:
        lockstep = (f" sim_time={summary['sim_time']}s rtf={summary['rtf']} "
                    f"state={summary['state_hash'][:16]} train={summary['flash_train_hash'][:16]}")
    return (f"summary: R_final={summary['R_final']} R_max={summary['R_max']} "
            f"time_to_sync={summary['time_to_sync_s']} flashes={summary['flashes']} "
            f"p99_flash={summary['flash_lateness_ms']['p99']}ms min_fps={summary['min_fps']} "
            f"exit={summary['exit']}{lockstep}")


class RunRecords:
    """The coordinator's files in ``run_dir``; coordinator.jsonl is open from
    construction until :meth:`close` (a context manager closes it too)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._intervals = JsonLines(run_dir / COORDINATOR_LOG)

    def __enter__(self) -> "RunRecords":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write_start(self, config: RunConfig, shards: Sequence[Shard],
                    resumed: Checkpoint | None) -> None:
        """run.json, and the files the first workers read: the ``--init FILE`` phases
        and the checkpoint of ``--resume``."""
        self.write_run(run_record(config, self.run_dir, shards,
                                  shard_layouts(Grid(*config.grid), shards)))
        given = config.given_phases()
        if given is not None:
            self.write_phases(given)
        if resumed is not None:
            resumed.save(self.run_dir / RESUME_NPZ)

    def write_run(self, record: Mapping[str, Any]) -> None:
        try:
            write_json(self.run_dir / RUN_JSON, record)
        except OSError as exc:
            raise OSError(f"{self.run_dir / RUN_JSON}: cannot write it: {exc.strerror}") from None

    def write_phases(self, phases: np.ndarray) -> None:
        """Write the ``--init FILE`` phases as INIT_NPY (whole, then renamed: a worker
        never reads half a file)."""
        path = self.run_dir / INIT_NPY
        partial = path.with_name(path.name + ".partial")
        try:
            with open(partial, "wb") as f:
                np.save(f, np.asarray(phases, dtype=np.float64), allow_pickle=False)
            os.replace(partial, path)
        except OSError as exc:
            raise OSError(f"{path}: cannot write it: {exc.strerror}") from None

    def write_interval(self, record: Mapping[str, Any]) -> None:
        self._intervals.write(record)

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        """Write summary.json; if the filesystem is full, give back the room reserved
        for it at the start and try again. Raises OSError naming the file if even that
        fails."""
        path = self.run_dir / SUMMARY_JSON
        reserve = self.run_dir / SUMMARY_RESERVE
        try:
            try:
                write_json(path, summary)
            except OSError:
                reserve.unlink(missing_ok=True)
                write_json(path, summary)
        except OSError as exc:
            raise OSError(f"{path}: cannot write it: {exc.strerror}") from None
        finally:
            reserve.unlink(missing_ok=True)

    def close(self) -> None:
        self._intervals.close()
