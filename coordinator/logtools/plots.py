"""The four plots of a run, drawn with matplotlib: FPS per shard, flash lateness
per shard, R(t) with the sync threshold and T_R, and the run's merged flash-lateness
histogram, each written as a PNG.

matplotlib is an optional extra (pip install 'cascade-fireflies[plot]'): it is
imported only when a figure is drawn, with the Agg backend, and no pyplot state is
used. Callers check that it is importable first (``sim-plot``, ``sim-gather
--plot``). Not here: reading runs (:mod:`shared.runlog`), options, printing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from shared.histogram import bucket_bounds
from shared.runlog.reading import Run
from shared.runlog.rows import merged_histogram
from shared.synchrony import SYNC_THRESHOLD

__all__ = ["plot_run", "matplotlib_missing", "MATPLOTLIB_HINT"]

MATPLOTLIB_HINT = "pip install 'cascade-fireflies[plot]' (or pip install matplotlib)"


def matplotlib_missing() -> bool:
    """True when matplotlib cannot be imported (plots cannot be drawn)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return True
    return False


_SIZE = (9.0, 5.0)
_DPI = 100


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=_SIZE, dpi=_DPI, layout="constrained")
    return fig, fig.add_subplot()


def _legend(ax: Any, n: int, *, outside: bool = False, **kwargs: Any) -> None:
    if not (ax.get_legend_handles_labels()[0] or kwargs.get("handles")):
        return
    if outside:  # one entry per shard: keep them off the lines
        kwargs.update(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.legend(fontsize="small", ncol=1 + n // 16, **kwargs)


def _time_axis(ax: Any, run: Run) -> None:
    ax.set_xlabel("time since start t (s)")
    ax.set_xlim(left=run.since if run.since is not None else 0.0)


def _recoveries(ax: Any, run: Run, *, replays: bool = True) -> None:
    """Mark each recovery on a sim-time axis: a real-time shard's lost span shaded, a
    lock-step replay's starting point as a line (``replays``)."""
    for r in run.info.recoveries:
        if r.gap_s is not None:
            ax.axvspan(r.resumed_from_s, r.resumed_from_s + r.gap_s, color="tab:red", alpha=0.15,
                       label=f"shard {r.shard} lost {r.gap_s:.2g} s (replaced)")
        elif replays:
            ax.axvline(r.resumed_from_s, color="tab:red", linestyle="-.",
                       label=f"shard {r.shard} lost: replayed from {r.resumed_from_s:g} s")


def _no_data(ax: Any, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} in this run", ha="center", va="center",
            transform=ax.transAxes, color="grey")


def _fps(run: Run, stem: str, path: Path) -> None:
    fig, ax = _figure()
    for shard, lines in run.shard_lines.items():
        points = [(x.t, x.fps) for x in lines if x.fps is not None]
        if points:
            ax.plot(*zip(*points), marker=".", label=f"shard {shard}")
    if run.info.fps_target is not None:
        ax.axhline(run.info.fps_target, color="grey", linestyle=":",
                   label=f"target {run.info.fps_target:g} fps")
    _recoveries(ax, run)
    if not any(run.shard_lines.values()):
        _no_data(ax, "shard lines")
    ax.set(title=f"FPS per shard — {stem}", ylabel="frames completed per second (fps)")
    _time_axis(ax, run)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    _legend(ax, len(run.shard_lines), outside=True)
    fig.savefig(path)


def _lateness(run: Run, stem: str, path: Path) -> None:
    from matplotlib.lines import Line2D

    fig, ax = _figure()
    handles, values = [], []
    for shard, lines in run.shard_lines.items():
        hists = [(x.t, x.flash_lateness) for x in lines
                 if x.flash_lateness is not None and x.flash_lateness.count]
        if not hists:
            continue
        p99 = [(t, h.percentile(0.99)) for t, h in hists]
        p50 = [(t, h.percentile(0.50)) for t, h in hists]
        (line,) = ax.plot(*zip(*p99), marker=".")
        ax.plot(*zip(*p50), linestyle="--", color=line.get_color())
        handles.append(Line2D([], [], color=line.get_color(), label=f"shard {shard}"))
        values += [v for _, v in p99 + p50]
    if handles:
        handles += [Line2D([], [], color="black", marker=".", label="p99"),
                    Line2D([], [], color="black", linestyle="--", label="p50")]
        positive = [v for v in values if v > 0]
        if positive and len(positive) == len(values) and max(positive) > 20 * min(positive):
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
    else:
        _no_data(ax, "flashes")
    ax.set(title=f"Flash lateness (timer jitter) per shard, p50 and p99 — {stem}",
           ylabel="flash lateness (ms)")
    _time_axis(ax, run)
    ax.grid(alpha=0.3)
    _legend(ax, len(handles), outside=True, handles=handles)
    fig.savefig(path)


def _order(run: Run, stem: str, path: Path) -> None:
    fig, ax = _figure()
    points = run.r_points()
    if points:
        ax.plot(*zip(*points), marker="." if len(points) < 100 else None, label="R(t)")
    else:
        _no_data(ax, "R values (coordinator.jsonl)")
    ax.axhline(SYNC_THRESHOLD, color="grey", linestyle=":",
               label=f"R = {SYNC_THRESHOLD}")
    if run.time_to_sync_s is not None:
        ax.axvline(run.time_to_sync_s, color="tab:red", linestyle="--",
                   label=f"T_R = {run.time_to_sync_s:.2f} s")
    _recoveries(ax, run, replays=False)  # R's axis is the run's time: real time only
    ax.set(title=f"Kuramoto order parameter R(t) — {stem}",
           ylabel="order parameter R (0 = incoherent, 1 = in sync)", ylim=(0, 1.05))
    _time_axis(ax, run)
    ax.grid(alpha=0.3)
    _legend(ax, 1 + len(run.info.recoveries))
    fig.savefig(path)


def _histogram(run: Run, stem: str, path: Path) -> None:
    fig, ax = _figure()
    pooled = [x for lines in run.shard_lines.values() for x in lines]
    hist = merged_histogram(pooled, "flash_lateness")
    if hist.count:
        lows, widths, density = [], [], []
        for index, n in sorted(hist.counts.items()):
            low, high = bucket_bounds(index)
            low = max(low, high / 2)  # bucket 0 starts at 0: draw it as [0.5, 1) µs
            lows.append(low)
            widths.append(high - low)
            # buckets are linear within an octave, so their widths on a log axis differ:
            # plot counts per 1/16 octave, or every power of two shows a false step
            density.append(n / (16 * math.log2(high / low)))
        ax.bar(lows, density, width=widths, align="edge", color="tab:blue", alpha=0.7,
               label=f"{hist.count} flashes, all shards")
        ax.set_xscale("log")
        for q, style in ((0.50, "--"), (0.99, "-.")):
            value = hist.percentile(q)
            ax.axvline(value, color="black", linestyle=style,
                       label=f"p{round(q * 100)} = {value:.3g} ms")
        ax.axvline(hist.max, color="tab:red", linestyle=":", label=f"max = {hist.max:.3g} ms")
    else:
        _no_data(ax, "flashes")
    ax.set(title=f"Flash lateness, merged over the run — {stem}",
           xlabel="flash lateness (ms, log scale)", ylabel="flashes per 1/16 octave")
    ax.grid(alpha=0.3)
    _legend(ax, 1 + len(run.info.recoveries))
    fig.savefig(path)


def plot_run(run: Run, out_dir: Path, *, stem: str | None = None) -> list[Path]:
    """Write ``<stem>-fps.png``, ``-lateness.png``, ``-R.png`` and
    ``-lateness-hist.png`` into ``out_dir``; returns their paths."""
    stem = stem or run.name
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, draw in (("fps", _fps), ("lateness", _lateness), ("R", _order),
                         ("lateness-hist", _histogram)):
        path = out_dir / f"{stem}-{suffix}.png"
        draw(run, stem, path)
        paths.append(path)
    return paths
