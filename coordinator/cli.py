"""``sim-coordinator``: run a sharded firefly simulation.

Parses and validates options (typer), then hands a RunConfig to a Session. Exit
codes: 0 normal end, 2 bad option, 1 error, 3 a worker was lost, 130 Ctrl-C,
143 SIGTERM. Option defaults are read from :class:`RunConfig`'s fields (defined
there once); ``--workers`` is resolved when the run starts.

Not here: validation rules (``config``) or the run itself (``session``). This is
the one module that prints: it hands ``out`` to the session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
from typing import Any, Optional

import typer

from shared.grid import parse_grid

from .config import ConfigError, RunConfig
from .session import Session

__all__ = ["main", "app"]

app = typer.Typer(add_completion=False, rich_markup_mode=None)

#: The values ``--log-level`` takes (any case).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

#: RunConfig's defaults by field name (``workers`` has a factory: resolved at run time).
DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(RunConfig)
                            if f.default is not dataclasses.MISSING}


def _kicks(text: str) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{text!r}: give cell ids separated by commas, like 0,17") from None


@app.command()
def run(
    ctx: typer.Context,
    workers: Optional[int] = typer.Option(None, "--workers", "-w", show_default=False,
                                          help="worker processes (shards); default: the number of cores"),
    grid: str = typer.Option("{}x{}".format(*DEFAULTS["grid"]), "--grid", "-g",
                             help="grid size WxH, or N for NxN (one agent per cell)"),
    period: float = typer.Option(DEFAULTS["period"],
                                 help="flash period P in seconds (> the reset jitter --jitter)"),
    jitter: float = typer.Option(DEFAULTS["reset_jitter"], "--jitter",
                                 help="reset jitter J in seconds: after a flash the phase restarts "
                                      "uniformly in [0, J); 0 restarts it at exactly 0"),
    nudge: float = typer.Option(DEFAULTS["nudge"], help="phase advance ε (seconds) per neighbour flash"),
    refractory: Optional[float] = typer.Option(
        DEFAULTS["refractory"],
        help="refractory time r in seconds: flashes seen before it are ignored [default: 0.2*period]"),
    duration: float = typer.Option(DEFAULTS["duration"], "--duration", "-d",
                                   help="seconds to run; 0 = until Ctrl-C"),
    seed: int = typer.Option(DEFAULTS["seed"], help="random seed: initial phases and reset jitter"),
    fps: float = typer.Option(DEFAULTS["fps"], help="frames (telemetry) per second per shard"),
    headless: bool = typer.Option(False, "--headless",
                                  help="no live view: plain status lines only (the default when "
                                       "stdout is not a terminal)"),
    log_dir: str = typer.Option(DEFAULTS["log_dir"], "--log-dir",
                                help="each run writes a new run directory inside this one"),
    init: str = typer.Option(DEFAULTS["init"],
                             help="initial phases: random (uniform in [0, P), per-cell streams), "
                                  "zero, or FILE (.npy or .csv: one phase in [0, P) per cell in "
                                  "cell order y*W+x, or an HxW table)"),
    kick: str = typer.Option(",".join(map(str, DEFAULTS["kicks"])),
                             help="cells (comma-separated ids y*W+x) that start at phase P: they flash first"),
    trace_signals: bool = typer.Option(DEFAULTS["trace_signals"], "--trace-signals",
                                       help="write every signal to signals-K.jsonl (small grids only)"),
    trace_quota: bool = typer.Option(DEFAULTS["trace_quota"], "--trace-quota",
                                     help="with --limit: record every slot taken and given back "
                                          "(quota-K.jsonl, monotonic time)"),
    transport: str = typer.Option(DEFAULTS["transport"],
                                  help="ipc (default) or tcp on 127.0.0.1 (tcp on the --listen "
                                       "host with --listen)"),
    listen: Optional[str] = typer.Option(
        None, "--listen", metavar="HOST:PORT",
        help="let workers on other hosts join at this address of this host (sim-worker --join "
             "HOST:PORT --key-file ...); needs --keys; every socket then binds on HOST, over "
             "CurveZMQ"),
    spawn: str = typer.Option(DEFAULTS["spawn"], metavar="local|none|K",
                              help="workers to start here: local (all), none (all join), or K "
                                   "(shards 0..K-1 start here, the rest join; needs --listen)"),
    keys: Optional[str] = typer.Option(None, "--keys", metavar="DIR",
                                       help="with --listen: the keys made by `sim-coordinator keys DIR`"),
    join_timeout: float = typer.Option(DEFAULTS["join_timeout"], "--join-timeout",
                                       help="with --listen: seconds to wait for every worker to join"),
    on_worker_loss: str = typer.Option(
        DEFAULTS["on_worker_loss"], "--on-worker-loss", metavar="MODE",
        help="abort: a lost worker ends the run (exit 3); restart: a new worker takes the "
             "lost shard (lock-step: every shard goes back to the last checkpoint, every 5 "
             "simulated s unless --checkpoint-every says otherwise, and the run replays to "
             "the same end; real time: from the shard's last snapshot, taken every second, "
             "while the others run on)"),
    max_restarts: int = typer.Option(DEFAULTS["max_restarts"], "--max-restarts",
                                     help="with restart: restarts per shard; one more loss aborts"),
    limit: Optional[int] = typer.Option(DEFAULTS["limit"],
                                        help="global cap on agent steps in flight across all shards"),
    show_shards: bool = typer.Option(DEFAULTS["show_shards"], "--show-shards",
                                     help="live view: draw shard borders"),
    view_fps: float = typer.Option(DEFAULTS["view_fps"], "--view-fps",
                                   help="live view: redraws per second at most"),
    clock: str = typer.Option(DEFAULTS["clock"],
                              help="realtime (simulated time follows the wall clock) or lockstep "
                                   "(windows of one --delay: the same result on any number of "
                                   "workers; --duration is then simulated seconds)"),
    delay: Optional[float] = typer.Option(
        DEFAULTS["delay"], show_default=False,
        help="coupling delay D in seconds: a flash reaches its neighbours D later; only with "
             "--clock lockstep [default: 0.01 with lockstep]"),
    checkpoint_every: float = typer.Option(
        DEFAULTS["checkpoint_every"], "--checkpoint-every",
        help="lock-step: save the complete state every S simulated seconds into the run "
             "directory (checkpoint.npz); 0 = never"),
    resume: Optional[str] = typer.Option(
        None, "--resume", metavar="RUN_DIR",
        help="lock-step: continue RUN_DIR's run from its last checkpoint, in a new run "
             "directory, with the same model; only --workers, --duration, --checkpoint-every, --loop, "
             "--transport, --log-dir and the display options may change"),
    loop: str = typer.Option(DEFAULTS["loop"],
                             help="the workers' event loop: asyncio, or uvloop (needs the speed "
                                  "extra: pip install '.[speed]')"),
    log_level: str = typer.Option("WARNING", help="coordinator log level: DEBUG, INFO, WARNING, "
                                                  "ERROR or CRITICAL"),
) -> None:
    """Run pulse-coupled fireflies on a torus, split into shards over worker processes.

    Prints the run directory, then one status line per second (elapsed, order
    parameter R, flashes/s, slowest shard FPS, worst p99 flash lateness), then a
    summary. Logs (docs/logs.md) land in the run directory.

    Across hosts: make keys once with `sim-coordinator keys DIR`, run with --listen
    HOST:PORT --keys DIR --spawn none, and start workers anywhere with sim-worker
    --join HOST:PORT --key-file DIR/worker.key_secret (README, "Several machines").
    """
    if log_level.upper() not in LOG_LEVELS:
        typer.echo(f"error: --log-level {log_level!r}: must be one of {', '.join(LOG_LEVELS)}", err=True)
        raise typer.Exit(2)
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    options: dict[str, Any] = dict(
        grid=_grid(grid), period=period, reset_jitter=jitter, nudge=nudge, refractory=refractory,
        duration=duration,
        seed=seed, fps=fps, log_dir=log_dir, init=init, kicks=_kicks(kick),
        trace_signals=trace_signals, trace_quota=trace_quota, transport=transport, limit=limit,
        show_shards=show_shards, view_fps=view_fps, clock=clock, delay=delay,
        checkpoint_every=checkpoint_every, loop=loop, listen=listen, spawn=spawn, keys=keys,
        join_timeout=join_timeout, on_worker_loss=on_worker_loss, max_restarts=max_restarts)
    if listen is not None and not _typed(ctx, "transport"):
        options["transport"] = "tcp"  # --listen means tcp
    if workers is not None:  # else RunConfig's default: the cores this process may use
        options["workers"] = workers
    try:
        if resume is not None:
            config = _resumed(ctx, resume, options)
        else:
            config = RunConfig(**options)
        config.check_machine()  # memory and process limit, before anything is started
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    code = asyncio.run(_run(config, live_view=not headless and _stdout_is_terminal()))
    raise typer.Exit(code)


#: What a resumed run may change; every other option comes from the run it continues.
_RESUME_MAY_CHANGE = ("workers", "duration", "checkpoint_every", "transport", "log_dir",
                      "headless", "log_level", "fps", "show_shards", "view_fps", "resume", "loop",
                      "on_worker_loss", "max_restarts")


def _resumed(ctx: typer.Context, run_dir: str, options: dict[str, Any]) -> RunConfig:
    """The RunConfig of ``--resume RUN_DIR``: its run.json's options, changed only where
    the user may change them (a model option given as well is an error, not ignored)."""
    given = [name for name in ctx.params if _typed(ctx, name)]
    refused = [name for name in given if name not in _RESUME_MAY_CHANGE]
    if refused:
        flag = "--" + refused[0].replace("_", "-")
        raise ConfigError(f"{flag}: --resume takes the model from {run_dir}/run.json; give "
                          f"only --workers, --duration, --checkpoint-every, --transport, "
                          f"--loop, --log-dir or display options")
    changes = {name: options[name] for name in given if name in options}
    return RunConfig.resumed(run_dir, **changes)


def _typed(ctx: typer.Context, name: str) -> bool:
    """Did the user type option ``name`` (its source is the command line)?"""
    return getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"


def _grid(text: str) -> tuple[int, int]:
    try:
        g = parse_grid(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--grid") from None
    return (g.width, g.height)


def _stdout_is_terminal() -> bool:
    from .view import stdout_is_terminal

    return stdout_is_terminal(sys.stdout)


async def _run(config: RunConfig, *, live_view: bool) -> int:
    def out(line: str) -> None:
        print(line, flush=True)

    try:
        return await Session(config, out=out, live_view=live_view).run()
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main() -> None:
    if sys.argv[1:2] == ["keys"]:  # `sim-coordinator keys DIR`: the one subcommand
        typer.main.get_command(keys_app)(args=sys.argv[2:], prog_name="sim-coordinator keys")
    app()


keys_app = typer.Typer(add_completion=False, rich_markup_mode=None)


@keys_app.command()
def keys_command(folder: str = typer.Argument(..., metavar="DIR",
                                              help="a new folder (made 0700) for the keys")) -> None:
    """Make the CurveZMQ keys of runs that span hosts (zmq.auth certificates).

    DIR/coordinator.key_secret stays on the coordinator's host (sim-coordinator
    --listen HOST:PORT --keys DIR); copy DIR/worker.key_secret to each host that runs
    workers (sim-worker --join HOST:PORT --key-file worker.key_secret). Only holders of
    it can join or connect.
    """
    from shared.keyfiles import KeyFileError, make_keys

    try:
        written = make_keys(folder)
    except (KeyFileError, OSError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
