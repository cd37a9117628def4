"""The ``asyncconv`` command line: a thin layer that parses, calls the library and prints.

Bad input (a config typo, an impossible probability, a missing file, a schedule that reads the
future) prints one line ``error: FIELD: what is wrong and what is allowed`` and exits with status 2.
"""

from __future__ import annotations

import json
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.exceptions import TyperException

from asyncconv import __version__
from asyncconv.config import ConfigError

app = typer.Typer(
    name="asyncconv",
    help="Asynchronous block stochastic subgradient methods with momentum: schedules, simulation, checks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
schedule_app = typer.Typer(
    help="Draw asynchronous schedules, inspect them and check the theorem's assumptions.",
    no_args_is_help=True,
)
app.add_typer(schedule_app, name="schedule")


class Law(StrEnum):
    deterministic = "deterministic"
    exponential = "exponential"
    gamma = "gamma"
    lognormal = "lognormal"
    uniform = "uniform"
    pareto = "pareto"


class Ownership(StrEnum):
    partitioned = "partitioned"
    shared = "shared"


class Reads(StrEnum):
    consistent = "consistent"
    inconsistent = "inconsistent"


class Selection(StrEnum):
    uniform = "uniform"
    cyclic = "cyclic"


class WriteScope(StrEnum):
    block = "block"
    owned = "owned"


def _console():
    from rich.console import Console

    return Console(stderr=False, highlight=False)


def _echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=1, allow_nan=False, default=_json_default))


def _json_default(x: Any) -> Any:
    import numpy as np

    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")


@app.command()
def version() -> None:
    """Print the package version."""
    typer.echo(__version__)


@schedule_app.command("draw")
def schedule_draw(
    output: Annotated[Path, typer.Option("-o", "--output", help="Schedule file to write (.npz).")],
    workers: Annotated[int, typer.Option("--workers", "-P", help="Number of workers P.")] = 4,
    compute: Annotated[Law, typer.Option(help="Compute-time law of every worker.")] = Law.exponential,
    mean: Annotated[float, typer.Option(help="Mean compute time.")] = 1.0,
    shape: Annotated[
        float | None,
        typer.Option(help="Shape: gamma k, lognormal sigma, uniform half-width h, pareto alpha."),
    ] = None,
    blocks: Annotated[
        int | None, typer.Option("--blocks", "-B", help="Number of blocks (default P).")
    ] = None,
    ownership: Annotated[
        Ownership, typer.Option(help="partitioned (PASSM) or shared (ASSM/Hogwild).")
    ] = Ownership.partitioned,
    reads: Annotated[
        Reads, typer.Option(help="Consistent snapshots or inconsistent (torn) reads.")
    ] = Reads.consistent,
    read_time: Annotated[float, typer.Option(help="Duration of a read (needed for torn reads).")] = 0.0,
    selection: Annotated[
        Selection, typer.Option(help="Block choice inside the owned set.")
    ] = Selection.uniform,
    write: Annotated[
        WriteScope, typer.Option(help="A write covers one block or the whole owned set.")
    ] = WriteScope.block,
    events: Annotated[int, typer.Option("--events", "-n", help="Number of writes K.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed (same seed, same bits).")] = 0,
    model: Annotated[
        Path | None, typer.Option("--model", help="Full model in TOML; overrides the model flags.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Draw a schedule from a model (flags for the common event-driven models, or --model FILE.toml)."""
    from asyncconv.schedule import ScheduleModel, draw_schedule

    if model is not None:
        m = ScheduleModel.from_toml(model)
    else:
        m = ScheduleModel.timing_preset(
            n_workers=workers, compute=compute.value, mean=mean, shape=shape, n_blocks=blocks,
            ownership=ownership.value, reads=reads.value, read_time=read_time,
            selection=selection.value, write=write.value,
        )  # fmt: skip
    if reads is Reads.inconsistent and model is None and read_time == 0.0:
        raise ConfigError("--read-time", "inconsistent reads need a positive read duration to tear")
    t0 = time.perf_counter()
    sched = draw_schedule(m, events, seed)
    elapsed = time.perf_counter() - t0
    sched.save(output)
    if quiet:
        return
    if json_out:
        _echo_json(sched.stats())
        return
    typer.echo(f"drew {sched.n_events} writes ({m.kind} model) in {elapsed:.3g} s; saved {output}")
    _print_stats(sched.stats())


@schedule_app.command("stats")
def schedule_stats(
    path: Annotated[Path, typer.Argument(help="Schedule file (.npz, or a .csv trace).")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object instead of tables.")] = False,
    step_exponent: Annotated[
        float, typer.Option(help="p of the step sizes k^-p, for the step-delay condition a·p > 1.")
    ] = 0.75,
) -> None:
    """Delay distribution, update frequencies, empirical p_min, tail index and assumption checks."""
    from asyncconv.schedule import load_schedule

    if not 0.0 < step_exponent <= 1.0:
        raise ConfigError("--step-exponent", f"must be in (0, 1] (got {step_exponent})")
    stats = load_schedule(path).stats(step_exponent=step_exponent)
    if json_out:
        _echo_json(stats)
    else:
        _print_stats(stats)


@schedule_app.command("plot")
def schedule_plot(
    path: Annotated[Path, typer.Argument(help="Schedule file (.npz, or a .csv trace).")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Figure file (.png; a .pdf is written beside it).")
    ],
) -> None:
    """Delay histogram (with the model's law where known) and per-block update counts."""
    from asyncconv.plot.schedule import plot_schedule
    from asyncconv.schedule import load_schedule

    if output.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ConfigError("--output", f"must end in .png, .pdf or .svg (got {output.name})")
    files = plot_schedule(load_schedule(path), output, title=path.name)
    typer.echo("wrote " + ", ".join(str(f) for f in files))


@schedule_app.command("import")
def schedule_import(
    trace: Annotated[
        Path, typer.Argument(help="CSV trace: writer,block,read_lo,read_hi,t_read,t_write[,v0..].")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Schedule file to write (.npz).")],
) -> None:
    """Import a recorded trace, validate it (causality, ownership, one job per worker) and save it."""
    from asyncconv.schedule import load_trace_csv

    sched = load_trace_csv(trace)
    sched.save(output)
    typer.echo(
        f"imported {sched.n_events} writes ({sched.n_workers} workers, {sched.n_blocks} blocks); saved {output}"
    )


def _print_stats(st: dict[str, Any]) -> None:
    from rich.table import Table

    con = _console()
    d = st["delay"]
    t = Table(
        title=f"schedule: {st['n_events']} writes, {st['n_workers']} workers, {st['n_blocks']} blocks ({st['source']})"
    )
    t.add_column("statistic")
    t.add_column("value", justify="right")
    t.add_row("delay mean ± sd", f"{d['mean']:.4g} ± {d['std']:.3g}")
    t.add_row("delay max", str(d["max"]))
    t.add_row("delay quantiles", ", ".join(f"q{k}={v}" for k, v in d["quantiles"].items()))
    if st["torn_fraction"] > 0:
        t.add_row("torn reads", f"{st['torn_fraction']:.3g} (min-age mean {st['delay_min']['mean']:.3g})")
    tail = st["tail"]
    t.add_row(
        "tail index (Hill)",
        "none (bounded top)"
        if st["tail_index"] is None
        else f"{st['tail_index']:.3g} ± {tail['stderr']:.2g} (k={tail['k']})",
    )
    ac = st["delay_autocorrelation"]
    t.add_row("delay autocorrelation lag 1..3", ", ".join(f"{a:.3f}" for a in ac[:3]))
    bf = st["block_freq"]
    t.add_row("block frequency min / max", f"{min(bf):.4g} / {max(bf):.4g}")
    wf = st["writer_freq"]
    t.add_row("writer frequency min / max", f"{min(wf):.4g} / {max(wf):.4g}")
    t.add_row("empirical p_min", f"{st['p_min_hat']:.4g} (windows of {st['p_min']['window']})")
    con.print(t)
    a = Table(title="theorem assumptions")
    a.add_column("assumption")
    a.add_column("holds")
    a.add_column("evidence")
    for name, ok in st["assumptions"].items():
        a.add_row(name, "yes" if ok else "NO", st["assumption_details"][name])
    con.print(a)


def _error(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; turn every bad-input exception into one line and exit status 2."""
    from asyncconv.schedule.schedule import ScheduleError

    try:
        app(args=argv, standalone_mode=False)
    except typer.Exit as e:
        raise SystemExit(e.exit_code) from None
    except typer.Abort:
        _error("aborted")
    except TyperException as e:  # usage errors: unknown option, bad choice, missing argument
        ctx = getattr(e, "ctx", None)
        if type(e).__name__ == "NoArgsIsHelpError":
            typer.echo(ctx.get_help() if ctx is not None else "asyncconv --help")
            raise SystemExit(0) from None
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _error(f"{e.format_message()}{hint}")
    except (ConfigError, ScheduleError) as e:
        _error(str(e))
    except FileNotFoundError as e:
        _error(str(e) if e.filename is None else f"file not found: {e.filename}")
    except KeyboardInterrupt:
        _error("interrupted")


if __name__ == "__main__":
    main(sys.argv[1:])
