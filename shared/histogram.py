"""Mergeable log-linear histograms of latencies in milliseconds.

A histogram is a sparse map from bucket index to count. Buckets split every power of
two (in microseconds) into 16 equal sub-buckets, so a recorded value is known to within
about 3 % of itself; everything below 1 µs falls into bucket 0. Two histograms merge by
adding counts, which is what makes percentiles over many shards and seconds exact
with respect to the buckets: a run's p99 is computed from the merged histogram,
never by averaging per-shard percentiles.

This is not a general statistics package: it holds non-negative durations only
(negative values are clamped to 0 and counted in ``clamped``).
"""

from __future__ import annotations

from math import frexp, ldexp
from typing import Any, Iterable

__all__ = ["Histogram", "SUB_BUCKETS"]

SUB_BUCKETS = 16
_SUB_SHIFT = 4  # log2(SUB_BUCKETS)


def bucket_index(value_ms: float) -> int:
    """Bucket index of a value in milliseconds (bucket 0 holds [0, 1 µs))."""
    us = value_ms * 1000.0
    if us < 1.0:
        return 0
    mantissa, exponent = frexp(us)  # us = mantissa * 2**exponent, mantissa in [0.5, 1)
    return (exponent << _SUB_SHIFT) + int((mantissa - 0.5) * (2 * SUB_BUCKETS))


def bucket_bounds(index: int) -> tuple[float, float]:
    """The [low, high) range of a bucket, in milliseconds."""
    if index < SUB_BUCKETS:
        return 0.0, 0.001
    exponent, sub = divmod(index, SUB_BUCKETS)
    low = ldexp(0.5 + sub / (2 * SUB_BUCKETS), exponent)
    high = ldexp(0.5 + (sub + 1) / (2 * SUB_BUCKETS), exponent)
    return low / 1000.0, high / 1000.0


class Histogram:
    """Counts of durations (ms) in log-linear buckets, with exact count, sum and max."""

    __slots__ = ("counts", "count", "total", "max", "clamped")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.max = 0.0
        self.clamped = 0

    def record(self, value_ms: float) -> None:
        """Add one duration. Hot path: a few hundred nanoseconds."""
        if value_ms < 0.0:
            self.clamped += 1
            value_ms = 0.0
        us = value_ms * 1000.0
        if us < 1.0:
            index = 0
        else:
            mantissa, exponent = frexp(us)
            index = (exponent << _SUB_SHIFT) + int((mantissa - 0.5) * (2 * SUB_BUCKETS))
        counts = self.counts
        counts[index] = counts.get(index, 0) + 1
        self.count += 1
        self.total += value_ms
        if value_ms > self.max:
            self.max = value_ms

    def record_many(self, values_ms: Iterable[float]) -> None:
        for value in values_ms:
            self.record(value)

    def merge(self, other: "Histogram") -> "Histogram":
        """Add ``other``'s counts into this histogram (in place) and return self."""
        counts = self.counts
        for index, n in other.counts.items():
            counts[index] = counts.get(index, 0) + n
        self.count += other.count
        self.total += other.total
        self.clamped += other.clamped
        if other.max > self.max:
            self.max = other.max
        return self

    def percentile(self, q: float) -> float:
        """The nearest-rank q-quantile (q in [0, 1]) as the upper bound of its bucket,
        capped at the exact maximum; 0.0 for an empty histogram."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q(={q}) must be within [0, 1]")
        if self.count == 0:
            return 0.0
        rank = max(1, int(-(-q * self.count // 1)))  # ceil(q * count), at least 1
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return min(bucket_bounds(index)[1], self.max)
        return self.max

    def summary(self) -> dict[str, float]:
        """p50/p99/max in ms, rounded for logs."""
        return {
            "p50": round(self.percentile(0.50), 3),
            "p99": round(self.percentile(0.99), 3),
            "max": round(self.max, 3),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON/msgpack-safe form: summary plus the raw buckets for merging."""
        out: dict[str, Any] = self.summary()
        out["count"] = self.count
        out["sum"] = round(self.total, 6)
        out["buckets"] = [[i, n] for i, n in sorted(self.counts.items())]
        if self.clamped:
            out["clamped"] = self.clamped
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Histogram":
        """Rebuild from :meth:`to_dict` output; raises ValueError on a malformed dict."""
        try:
            hist = cls()
            for index, n in data["buckets"]:
                index, n = int(index), int(n)
                if index < 0 or n < 0:
                    raise ValueError(f"bucket [{index}, {n}] is negative")
                hist.counts[index] = hist.counts.get(index, 0) + n
            hist.count = int(data["count"])
            hist.total = float(data["sum"])
            hist.max = float(data["max"])
            hist.clamped = int(data.get("clamped", 0))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a histogram dict: {exc!r}") from exc
        if hist.count != sum(hist.counts.values()):
            raise ValueError(
                f"histogram count(={hist.count}) != sum of buckets(={sum(hist.counts.values())})"
            )
        return hist

    def __repr__(self) -> str:
        return f"Histogram(count={self.count}, p50={self.percentile(0.5):.3f}, max={self.max:.3f})"
