"""The documented run-directory schema (docs/logs.md) as checkable Python: used by
the tests to validate what a real run wrote."""

from __future__ import annotations

from typing import Any

NUM = (int, float)

HISTOGRAM = {"p50": NUM, "p99": NUM, "max": NUM, "count": int, "sum": NUM, "buckets": list}

SHARD_LINE = {
    "v": int, "shard": int, "t": NUM, "interval_s": NUM, "agents": int, "fps": NUM, "frames": int,
    "frame_lateness_ms": HISTOGRAM, "flash_lateness_ms": HISTOGRAM, "edge_latency_ms": HISTOGRAM,
    "counters": {"flashes": int, "local_signals": int, "edge_flashes_sent": int,
                 "edge_flashes_received": int, "edge_flashes_dropped": int,
                 "signals_ignored_refractory": int, "quota_waits": int, "malformed_rejected": int},
    "process": {"cpu_percent": NUM, "rss_bytes": int, "loop_busy": (int, float, type(None))},
    "links": dict, "link_gaps": int, "telemetry_dropped": int, "frames_skipped": int,
}

COORDINATOR_LINE = {
    "v": int, "t": NUM, "R": NUM, "flashes_per_s": NUM, "min_fps": NUM,
    "worst_p99_flash_lateness_ms": NUM, "workers_alive": int, "R_series": list,
}

RUN_JSON = {
    "schema": int, "run_dir": str, "started_at": str, "seed": int, "workers": int, "agents": int,
    "config": {"grid": list, "period": NUM, "nudge": NUM, "refractory": NUM, "duration": NUM,
               "fps": NUM, "report_interval": NUM, "limit": (int, type(None))},
    "shards": list, "versions": {"simulator": str, "python": str, "pyzmq": str, "libzmq": str,
                                 "msgpack": str},
    "host": {"hostname": str, "platform": str, "cpus": int, "memory_bytes": int},
}

SUMMARY = {
    "schema": int, "exit": str, "duration_s": NUM, "agents": int, "workers": int,
    "R_final": NUM, "R_max": NUM, "time_to_sync_s": (int, float, type(None)), "flashes": int,
    "flashes_per_s": NUM, "flash_lateness_ms": HISTOGRAM, "frame_lateness_ms": HISTOGRAM,
    "edge_latency_ms": HISTOGRAM, "min_fps": (int, float, type(None)), "counters": dict,
    "error": (str, type(None)),
}


def check(record: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """Problems found (empty when ``record`` matches ``schema``)."""
    problems = []
    if not isinstance(record, dict):
        return [f"{where or 'record'} is {type(record).__name__}, not an object"]
    for key, expected in schema.items():
        path = f"{where}.{key}" if where else key
        if key not in record:
            problems.append(f"{path} missing")
        elif isinstance(expected, dict):
            problems += check(record[key], expected, path)
        elif not isinstance(record[key], expected) or isinstance(record[key], bool):
            problems.append(f"{path} is {type(record[key]).__name__}")
    return problems
