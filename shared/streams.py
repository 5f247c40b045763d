"""Counter-based random streams: each number is a pure function of its key.

A draw is ``unit(key, k)``: the k-th number (k = 0, 1, ...) of the stream
``key = stream_key(seed, stream, cell)``. Nothing is stateful, so a cell draws the same
numbers whichever shard, process or worker count holds it, and a checkpoint needs only
the counters. The streams of the model are :data:`PHASE` (a cell's initial phase, k =
0) and :data:`JITTER` (the reset jitter after a cell's k-th flash).

The generator is SplitMix64 (Steele, Lea and Flood, 2014): keys are chained through
its 64-bit finaliser, a bijection, and the k-th output of a stream is the finaliser of
``key + (k + 1) * golden``. It passes BigCrush as a stream generator; it is not
cryptographic. Scalar (pure Python, for a flash) and vector (numpy, for a whole grid)
forms give the same bits; a test holds them together.
"""

from __future__ import annotations

import numpy as np

__all__ = ["JITTER", "PHASE", "stream_key", "stream_keys", "unit", "units"]

PHASE = 1
JITTER = 2

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_TO_UNIT = 2.0 ** -53


def _mix(z: int) -> int:
    """SplitMix64's finaliser on a 64-bit int."""
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def stream_key(seed: int, stream: int, cell: int) -> int:
    """The key of ``cell``'s ``stream`` under ``seed`` (all ints in [0, 2**64))."""
    return _mix(_mix(_mix((seed + _GOLDEN) & _MASK) ^ stream) ^ cell)


def unit(key: int, k: int) -> float:
    """The k-th number of stream ``key``: uniform on [0, 1), 53 random bits."""
    return (_mix((key + (k + 1) * _GOLDEN) & _MASK) >> 11) * _TO_UNIT


def _mix_array(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
    return z ^ (z >> np.uint64(31))


def stream_keys(seed: int, stream: int, cells: np.ndarray) -> np.ndarray:
    """:func:`stream_key` of every cell in ``cells``, as uint64."""
    head = _mix(_mix((seed + _GOLDEN) & _MASK) ^ stream)
    with np.errstate(over="ignore"):
        return _mix_array(np.uint64(head) ^ np.asarray(cells, dtype=np.uint64))


def units(keys: np.ndarray, k: int) -> np.ndarray:
    """:func:`unit` of every key in ``keys`` for the same k, as float64."""
    with np.errstate(over="ignore"):
        z = np.asarray(keys, dtype=np.uint64) + np.uint64(((k + 1) * _GOLDEN) & _MASK)
        return (_mix_array(z) >> np.uint64(11)).astype(np.float64) * _TO_UNIT
