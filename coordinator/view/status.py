"""The live view's status bar: two lines of numbers under the picture.

    R 0.83 [########  ]  t 1m05s  flashes/s 18034  workers 8/8  slots 812/1000
    s0 30.0/2.1ms s1 29.8/3.4ms s2 30.0/1.9ms s3 29.9/2.2ms +4 more

Line 1, most important first: the Kuramoto order parameter R with a 10-step bar,
elapsed time, global flashes per second, workers alive (reverse video when some are
gone), stalled workers (``stalled 1 [3]``, reverse video; only while some are silent
past the stall threshold: their figures are left out of R), quota slots in use (only
when a limit is set). Line 2: per shard, frame rate /
p99 flash lateness. The worst shard (largest p99 lateness) is in reverse video.

Both lines fit the given width: line 1 drops trailing fields, line 2 keeps as many
shards as fit and ends with "+N more"; when it has to cut, the worst shard is listed
first so it is never the one hidden. The view's keys (``q quit · p phase · s shards``)
end line 2, right-aligned, whenever the width leaves room for them and one shard.

What it is not: a layout engine or a source of numbers. The coordinator fills a
`StatusInfo`; this module only formats it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from coordinator.view._ansi import REVERSE_OFF, REVERSE_ON

__all__ = ["STATUS_LINES", "StatusInfo", "format_elapsed", "r_bar", "status_lines"]

STATUS_LINES = 2
"""Lines the status bar takes at the bottom of the screen."""

Field = tuple[str, bool]
"""(visible text, highlighted)."""

SEP = "  "
R_BAR_WIDTH = 10


@dataclass(frozen=True)
class StatusInfo:
    """What the status bar shows; the coordinator builds one per view frame."""

    elapsed_s: float
    R: float
    flashes_per_s: float
    shard_fps: dict[int, float]
    shard_p99_ms: dict[int, float]
    workers_alive: int
    workers_total: int
    quota_in_use: int | None = None
    quota_limit: int | None = None
    stalled: tuple[int, ...] = ()
    sim_s: float | None = None  # lock-step: simulated time (the slowest shard's)
    rtf: float | None = None  # lock-step: simulated seconds per wall second


KEYS_MIN_SHARDS_WIDTH = 12
"""Line 2 keeps the keys only if this much room is left for the shards."""


def status_lines(info: StatusInfo, width: int, keys: str = "") -> list[str]:
    """The status bar as `STATUS_LINES` strings, each at most `width` visible chars;
    `keys` (the view's keys) ends line 2 when there is room."""
    room = width - len(keys) - len(SEP)
    if not keys or room < KEYS_MIN_SHARDS_WIDTH:
        return [_join(_fit_prefix(_summary_fields(info), width), width),
                _join(_shard_fields(info, width), width)]
    shards = _shard_fields(info, room)
    pad = width - _width(shards, "") - len(keys)
    return [_join(_fit_prefix(_summary_fields(info), width), width),
            _join([*shards, (" " * pad + keys, False)], width)]


# -- line 1 ------------------------------------------------------------------------


def _summary_fields(info: StatusInfo) -> list[Field]:
    fields = [
        (r_bar(info.R), False),
        (f"t {format_elapsed(info.elapsed_s)}", False),
        *([(f"sim {format_elapsed(info.sim_s)} rtf {_num(_or_nan(info.rtf), '.2f')}", False)]
          if info.sim_s is not None else []),
        (f"flashes/s {_num(info.flashes_per_s, '.0f')}", False),
        (f"workers {info.workers_alive}/{info.workers_total}",
         info.workers_alive < info.workers_total),
    ]
    if info.stalled:
        fields.append((f"stalled {len(info.stalled)} [{','.join(map(str, info.stalled))}]", True))
    if info.quota_limit is not None:
        in_use = "?" if info.quota_in_use is None else str(info.quota_in_use)
        fields.append((f"slots {in_use}/{info.quota_limit}", False))
    return fields


def r_bar(r: float) -> str:
    """``R 0.83 [########  ]``; R that is not a number yet shows as ``R --``."""
    if not math.isfinite(r):
        return f"R -- [{' ' * R_BAR_WIDTH}]"
    filled = min(R_BAR_WIDTH, max(0, round(r * R_BAR_WIDTH)))
    return f"R {r:.2f} [{'#' * filled}{' ' * (R_BAR_WIDTH - filled)}]"


def format_elapsed(seconds: float) -> str:
    """``12.3s``, ``2m05s`` or ``1h02m03s``."""
    if seconds < 60:
        return f"{max(0.0, seconds):.1f}s"
    s = int(seconds)
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


# -- line 2 ------------------------------------------------------------------------


def _shard_fields(info: StatusInfo, width: int) -> list[Field]:
    shards = sorted(set(info.shard_fps) | set(info.shard_p99_ms))
    if not shards:
        return [("shards: no telemetry yet", False)]
    worst = _worst_shard(info.shard_p99_ms) if len(shards) > 1 else None
    fields = [(_shard_text(info, s), s == worst) for s in shards]
    if _width(fields, " ") <= width:
        return _spaced(fields)
    if worst is not None:
        fields.sort(key=lambda f: not f[1])  # worst first, the rest keep shard order
    return _fit_with_more(fields, width)


def _worst_shard(p99: dict[int, float]) -> int | None:
    known = [(v, s) for s, v in p99.items() if math.isfinite(v)]
    return max(known)[1] if known else None


def _shard_text(info: StatusInfo, shard: int) -> str:
    fps = _num(info.shard_fps.get(shard, math.nan), ".1f")
    p99 = info.shard_p99_ms.get(shard, math.nan)
    lateness = "-" if not math.isfinite(p99) else f"{p99:.1f}ms" if p99 < 100 else f"{p99:.0f}ms"
    return f"s{shard} {fps}/{lateness}"


def _fit_with_more(fields: list[Field], width: int) -> list[Field]:
    """As many fields as fit together with a trailing ``+N more``."""
    for k in range(len(fields) - 1, -1, -1):
        shown = fields[:k] + [(f"+{len(fields) - k} more", False)]
        if _width(shown, " ") <= width:
            return _spaced(shown)
    return [(f"+{len(fields)} more", False)]


def _spaced(fields: list[Field]) -> list[Field]:
    """Shard fields are separated by one space, not two: mark that in the text."""
    return [(text if i == 0 else " " + text, hl) for i, (text, hl) in enumerate(fields)]


# -- shared helpers --------------------------------------------------------------------


def _fit_prefix(fields: list[Field], width: int) -> list[Field]:
    """The longest prefix of `fields` that fits `width` joined by `SEP`."""
    out: list[Field] = []
    for f in fields:
        if _width([*out, f], SEP) > width:
            break
        out.append(f)
    return [(t if i == 0 else SEP + t, hl) for i, (t, hl) in enumerate(out)] or fields[:1]


def _join(fields: list[Field], width: int) -> str:
    """Render fields (already carrying their separators), cut to `width` visible chars."""
    parts, room = [], width
    for text, highlighted in fields:
        text = text[:room]
        room -= len(text)
        if highlighted and text.strip():
            lead = len(text) - len(text.lstrip())
            parts.append(f"{text[:lead]}{REVERSE_ON}{text[lead:]}{REVERSE_OFF}")
        else:
            parts.append(text)
    return "".join(parts)


def _width(fields: list[Field], sep: str) -> int:
    return sum(len(t) for t, _ in fields) + len(sep) * max(0, len(fields) - 1)


def _num(value: float, spec: str) -> str:
    return format(value, spec) if math.isfinite(value) else "-"


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value
