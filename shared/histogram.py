"""Mergeable log-linear histograms of latencies in milliseconds.

A histogram is a sparse map from bucket index to count. Buckets split every power of
two (in microseconds) into 16 equal sub-buckets, so a recorded value is known to within
about 3 % of itself; everything below 1 µs falls into bucket 0. Two histograms merge by
adding counts, which is what makes percentiles over many shards and seconds exact
with respect to the buckets: a run's p99 is computed from the merged histogram,
never by averaging per-shard percentiles.

This is not a general statistics package: it holds non-negative durations below
:data:`MAX_MS` (2**64 µs, some 585,000 years) only. Negative values are clamped to 0,
larger ones (and NaN) to the top bucket; both are counted in ``clamped``.
:meth:`Histogram.from_dict` accepts only what :meth:`Histogram.to_dict` can produce:
bucket indexes within [0, :data:`MAX_INDEX`], counts below
:data:`shared.limits.MAX_COUNT`, finite sums; a hostile histogram is a ValueError.
"""

from __future__ import annotations

from math import frexp, ldexp
from typing import Any, Iterable

from .limits import MAX_COUNT, is_count, is_finite

__all__ = ["Histogram", "SUB_BUCKETS", "MAX_INDEX", "MAX_MS"]

SUB_BUCKETS = 16
_SUB_SHIFT = 4  # log2(SUB_BUCKETS)
_MAX_EXPONENT = 64  # values below 2**64 µs
MAX_MS = ldexp(1.0, _MAX_EXPONENT) / 1000.0  # the largest duration held (exclusive)
MAX_INDEX = (_MAX_EXPONENT << _SUB_SHIFT) + SUB_BUCKETS - 1  # the top bucket: [2**63, 2**64) µs


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
        if not 0.0 <= value_ms < MAX_MS:  # negative, huge or NaN: clamped into range
            self.clamped += 1
            value_ms = 0.0 if value_ms < 0.0 else MAX_MS * (1.0 - 2.0 ** -52)
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
        """Rebuild from :meth:`to_dict` output; raises ValueError on anything
        :meth:`to_dict` cannot have written: a bucket index outside [0, MAX_INDEX], a
        count outside [0, 2**53), a non-finite or negative sum or max, a count that is
        not the sum of the buckets."""
        try:
            hist = cls()
            buckets = data["buckets"]
            if not isinstance(buckets, list) or len(buckets) > MAX_INDEX + 1:
                raise ValueError(f"buckets must be a list of at most {MAX_INDEX + 1} pairs")
            for pair in buckets:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ValueError(f"bucket {str(pair)[:40]} is not an [index, count] pair")
                index, n = pair
                if type(index) is not int or not 0 <= index <= MAX_INDEX:
                    raise ValueError(f"bucket index {index!r} is not an int within [0, {MAX_INDEX}]")
                if not is_count(n):
                    raise ValueError(f"bucket {index} count {n!r} is not an int within [0, {MAX_COUNT})")
                hist.counts[index] = hist.counts.get(index, 0) + n
            count, total, top = data["count"], data["sum"], data["max"]
            clamped = data.get("clamped", 0)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a histogram dict: {exc!r}") from exc
        if not is_count(count) or not is_count(clamped):
            raise ValueError(f"histogram count(={count!r}) or clamped(={clamped!r}) is not an int "
                             f"within [0, {MAX_COUNT})")
        if not is_finite(top, 0.0, MAX_MS) or not is_finite(total, 0.0, MAX_MS * MAX_COUNT):
            raise ValueError(f"histogram max(={top!r}) or sum(={total!r}) is not a finite "
                             f"duration >= 0 ms")
        if count != sum(hist.counts.values()):
            raise ValueError(
                f"histogram count(={count}) != sum of buckets(={sum(hist.counts.values())})")
        hist.count, hist.total, hist.max, hist.clamped = count, float(total), float(top), clamped
        return hist

    def __repr__(self) -> str:
        return f"Histogram(count={self.count}, p50={self.percentile(0.5):.3f}, max={self.max:.3f})"
