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

#: largest --events accepted (a schedule costs about 50 bytes per event)
MAX_EVENTS = 2_000_000_000

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
problems_app = typer.Typer(help="The test-problem battery.", no_args_is_help=True)
app.add_typer(problems_app, name="problems")
study_app = typer.Typer(
    help="Monte Carlo studies: run a spec on Dask into a results directory, resume, status, report.",
    no_args_is_help=True,
)
app.add_typer(study_app, name="study")


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
    import shutil

    from rich.console import Console

    # tables need ~120 columns; narrower terminals wrap lines rather than truncate numbers
    return Console(stderr=False, highlight=False, width=max(shutil.get_terminal_size((120, 24)).columns, 120))


def _echo_json(obj: Any) -> None:
    from asyncconv.config import json_default

    typer.echo(json.dumps(obj, indent=1, allow_nan=False, default=json_default))


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
    if not 1 <= events <= MAX_EVENTS:
        raise ConfigError("--events", f"must be an integer in 1..{MAX_EVENTS} (got {events})")
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
    boot: Annotated[
        int | None,
        typer.Option(
            "--boot",
            help="Parametric-bootstrap replicates of the delay goodness-of-fit test (0 skips it; "
            "default 99).",
        ),
    ] = None,
) -> None:
    """Delay distribution, update frequencies, empirical p_min, tail index, assumption checks and
    tests of the delay model (goodness of fit, block/writer independence, stationarity)."""
    from asyncconv.schedule import load_schedule
    from asyncconv.schedule.stats import STATS_N_BOOT

    if not 0.0 < step_exponent <= 1.0:
        raise ConfigError("--step-exponent", f"must be in (0, 1] (got {step_exponent})")
    max_boot = 100_000
    if boot is not None and not 0 <= boot <= max_boot:
        raise ConfigError("--boot", f"must be an integer in 0..{max_boot} (got {boot})")
    n_boot = STATS_N_BOOT if boot is None else boot
    stats = load_schedule(path).stats(step_exponent=step_exponent, n_boot=n_boot)
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


@problems_app.command("list")
def problems_list(
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """The battery (one module per problem under asyncconv/problems/): structure (coupling,
    regularity, convexity), what is known (f*, critical sets) and the optional parts (pieces for the
    structured measures, a closed-form flow, a torch twin). Your own problem runs as
    path/to/file.py:NAME wherever a name goes."""
    from asyncconv.problems import list_problems

    rows = list_problems()
    if json_out:
        _echo_json({"problems": rows})
        return
    from rich.table import Table

    t = Table(title=f"{len(rows)} problems (your own: --problem path/to/file.py:NAME)")
    cols = ("name", "coupling", "regular", "convex", "default_n", "extras", "known")
    for c in cols:
        t.add_column(c, no_wrap=c != "known")
    for r in rows:
        extras = ", ".join(k for k in ("pieces", "flow", "torch") if r[k]) or "-"
        t.add_row(*(extras if c == "extras" else str(r[c]) for c in cols))
    _console().print(t)


class Buffers(StrEnum):
    block = "block"
    worker = "worker"
    shared = "shared"


def _parse_momentum(text: str) -> dict[str, Any]:
    """'heavy', '0.9' (heavy ball with m = 0.9) or 'nesterov:0.9' -> {"momentum": ..., "m": ...}."""
    from asyncconv.sim.variants import MOMENTA

    form, _, coef = text.partition(":")
    try:
        return {"momentum": "heavy", "m": float(form)} if not coef else {"momentum": form, "m": float(coef)}
    except ValueError:
        pass
    if form in MOMENTA and not coef:
        return {"momentum": form}
    raise ConfigError(
        "--momentum", f"expected FORM[:m] or m with FORM one of {', '.join(MOMENTA)} (got {text!r})"
    )


class Clock(StrEnum):
    writer = "writer"
    global_ = "global"
    block = "block"
    constant = "constant"


class Noise(StrEnum):
    gaussian = "gaussian"
    student = "student"
    none = "none"


@app.command()
def bench(
    quick: Annotated[
        bool, typer.Option("--quick", help="Smaller sizes (about a minute with a warm JIT cache).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Replay speed side by side: jitted kernel (A), NumPy loop (B), torch loop (C), floor kernel (D)."""
    from asyncconv.sim.bench import format_report, run_bench

    res = run_bench(quick=quick, progress=None if json_out else (lambda msg: typer.echo(msg, err=True)))
    if json_out:
        _echo_json(res)
    else:
        typer.echo(format_report(res))


def _parse_step(step: str) -> dict[str, float]:
    parts = [x.strip() for x in step.split(",")]
    if not 2 <= len(parts) <= 3:
        raise ConfigError("--step", f"expected 'g0,p' or 'g0,p,nu0' (got {step!r})")
    try:
        nums = [float(x) for x in parts]
    except ValueError:
        raise ConfigError("--step", f"expected numbers 'g0,p[,nu0]' (got {step!r})") from None
    return dict(zip(("g0", "p", "nu0"), nums, strict=False))


def _load_spec(path: Path) -> dict[str, Any]:
    from asyncconv.config import check_keys, read_toml

    data = read_toml(path, "spec")
    check_keys(data, ("problem", "schedule", "iteration", "run", "thresholds"), "", ("problem", "schedule"))
    return data


@app.command()
def simulate(
    spec: Annotated[
        Path | None,
        typer.Argument(
            help="Optional TOML spec with [problem], [schedule], [iteration], [run], [thresholds]."
        ),
    ] = None,
    problem: Annotated[
        str,
        typer.Option(
            help="Problem: a name (see 'asyncconv problems list'), or your own as path/to/file.py:NAME "
            "or package.module:NAME (see the README)."
        ),
    ] = "trap",
    n: Annotated[int | None, typer.Option("--n", help="Dimension (default: the problem's).")] = None,
    blocks: Annotated[
        int | None, typer.Option("--blocks", "-B", help="Number of blocks (default P).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-P", help="Number of workers.")] = 2,
    compute: Annotated[Law, typer.Option(help="Compute-time law.")] = Law.exponential,
    shape: Annotated[float | None, typer.Option(help="Shape of the compute-time law.")] = None,
    ownership: Annotated[
        Ownership, typer.Option(help="partitioned (PASSM) or shared.")
    ] = Ownership.partitioned,
    reads: Annotated[Reads, typer.Option(help="consistent or inconsistent reads.")] = Reads.consistent,
    read_time: Annotated[float, typer.Option(help="Read duration (torn reads need > 0).")] = 0.0,
    momentum: Annotated[
        str,
        typer.Option(
            help="FORM[:m] or m: heavy, ema, nesterov, averaging (m = a), none; e.g. 'nesterov:0.9', '0.9'."
        ),
    ] = "heavy:0.5",
    buffers: Annotated[
        Buffers, typer.Option(help="Momentum buffers per block (owner), per worker, or shared.")
    ] = Buffers.block,
    factor_low: Annotated[
        float, typer.Option(help="Per-worker step factors drawn in [factor_low, 1].")
    ] = 0.9,
    step: Annotated[str, typer.Option(help="Step sizes g0/(nu+nu0)^p as 'g0,p[,nu0]'.")] = "0.05,0.75,10",
    clock: Annotated[Clock, typer.Option(help="Step-size counter nu.")] = Clock.writer,
    noise: Annotated[Noise, typer.Option(help="Additive gradient noise.")] = Noise.gaussian,
    noise_scale: Annotated[float, typer.Option(help="Noise standard deviation (scale for student).")] = 0.1,
    batch: Annotated[int, typer.Option(help="Minibatch size for finite-sum problems.")] = 1,
    events: Annotated[int, typer.Option("--events", "-n", help="Writes per replica K.")] = 100_000,
    replicas: Annotated[int, typer.Option("--replicas", "-R", help="Monte Carlo replicas.")] = 4,
    seed: Annotated[int, typer.Option(help="Root seed.")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    max_memory: Annotated[
        float | None,
        typer.Option("--max-memory", help="GiB the run may use (default: what the machine has available)."),
    ] = None,
) -> None:
    """A quick look: a few replicas of the asynchronous iteration, with final metrics per replica."""
    from asyncconv._jit import Background

    # on a cold cache, the kernels of the structured measure (the costliest to compile) compile in
    # a second process while this one compiles the schedule, replay and hull kernels
    warm_sq = Background("asyncconv.theory.structured:warm")
    from asyncconv.limits import check_bounds, check_fits, estimate_for_model
    from asyncconv.schedule import ScheduleModel
    from asyncconv.sim import Iteration
    from asyncconv.sim import simulate as run_sim
    from asyncconv.theory import Thresholds, default_tail, evaluate, pooled

    if spec is not None:
        from asyncconv.config import check_int

        data = _load_spec(spec)
        if not isinstance(data["problem"], dict):
            raise ConfigError("problem", "must be a table: [problem] name = ..., n = ..., seed = ...")
        prob_d = dict(data["problem"])
        name = prob_d.pop("name", None)
        if name is None:
            raise ConfigError("problem.name", "is required")
        from asyncconv.problems import absolute_ref

        prob_seed = check_int(prob_d.pop("seed", 0), "problem.seed", ge=0)
        name = absolute_ref(name, spec.resolve().parent)  # a problem file relative to the spec
        prob = _make_problem(name, prob_d.pop("n", None), prob_seed, "problem.", **prob_d)
        sch = data["schedule"] if isinstance(data["schedule"], dict) else {}
        blk = sch.get("blocks") if isinstance(sch.get("blocks"), dict) else {}
        check_bounds(n_workers=sch.get("n_workers"), n_blocks=blk.get("n_blocks"), n=prob.n,
                     fields={"n_workers": "schedule.n_workers", "n_blocks": "schedule.blocks.n_blocks"})  # fmt: skip
        model = ScheduleModel.from_dict(data["schedule"])
        it = Iteration.from_dict(data.get("iteration", {}))
        run = data.get("run", {})
        from asyncconv.config import check_keys

        check_keys(run, ("events", "replicas", "seed"), "run")
        thresholds = Thresholds.from_dict(data.get("thresholds"))
        events, replicas, seed = (
            run.get("events", events),
            run.get("replicas", replicas),
            run.get("seed", seed),
        )
    else:
        thresholds = Thresholds()
        prob = _make_problem(problem, n, seed, "--")
        check_bounds(
            n_workers=workers,
            n_blocks=blocks,
            n=prob.n,
            fields={"n_workers": "--workers", "n_blocks": "--blocks"},
        )
        model = ScheduleModel.timing_preset(
            n_workers=workers, compute=compute.value, shape=shape,
            n_blocks=blocks if blocks is not None else min(workers, prob.n) if ownership is Ownership.shared else workers,
            ownership=ownership.value, reads=reads.value, read_time=read_time,
        )  # fmt: skip
        it = Iteration.from_dict(
            {**_parse_momentum(momentum), "buffers": buffers.value, "factor_low": factor_low, "clock": clock.value,
             "noise": noise.value, "noise_scale": noise_scale, "batch": batch, **_parse_step(step)}
        )  # fmt: skip
    if not 1 <= events <= MAX_EVENTS:
        raise ConfigError("--events", f"must be an integer in 1..{MAX_EVENTS} (got {events})")
    sizes = {"events": "--events", "replicas": "--replicas", "n_workers": "--workers", "n": "--n"}
    check_bounds(events=events, replicas=replicas, n=prob.n, fields=sizes)
    if max_memory is not None and not max_memory > 0:
        raise ConfigError("--max-memory", f"must be a positive number of GiB (got {max_memory})")
    check_fits(
        estimate_for_model(prob.n, model, it, events, replicas, n_tail=default_tail(prob.n)),
        max_bytes=None if max_memory is None else int(max_memory * 2**30), fields=sizes,
    )  # fmt: skip
    if warm_sq.proc is not None and not (quiet or json_out):
        # a new user's first run (or the first after an upgrade): say why nothing moves yet
        typer.echo(
            "first run of this code: compiling the kernels (about 30 s on 2 cores; cached afterwards)",
            err=True,
        )
    result = _with_progress(
        lambda cb: run_sim(prob, model, it, n_events=events, n_replicas=replicas, seed=seed, progress=cb,
                           n_tail=default_tail(prob.n)),
        replicas,
        quiet or json_out,
    )  # fmt: skip
    finals = result.final()
    if warm_sq.proc is not None:
        from asyncconv.theory import measures

        measures.warm()  # the hull kernels, here, while the SQ kernels finish compiling there
    warm_sq.wait()
    records = evaluate(prob, result, thresholds, n_blocks=model.blocks.n_blocks)
    warm_sq.done()
    for fin, rec in zip(finals, records, strict=True):
        fin.update({k: v for k, v in rec.items() if k not in fin})
        d = fin.get("dist_final")
        fin["dist_rel_final"] = None if d is None else d / prob.dist_scale
    summary = _sim_summary(result, finals)
    verdicts = pooled(records)
    if json_out:
        _echo_json({"problem": prob.name, "n": prob.n, "f_ref": prob.f_ref, "iteration": it.to_dict(),
                    "schedule_model": model.to_dict(), "thresholds": thresholds.to_dict(), "summary": summary,
                    "verdicts": verdicts, "replicas": finals})  # fmt: skip
        return
    from rich.markup import escape
    from rich.table import Table

    t = Table(
        title=f"{prob.name} (n = {prob.n}), {events} writes x {replicas} replicas, {model.n_workers} workers"
    )
    for col in (
        "replica",
        "status",
        "f - f_ref",
        "D to crit",
        "|g| (one Clarke element)",
        "|u|",
        "ODE time",
        "stationarity <=",
        "verdict",
    ):
        t.add_column(col, justify="right", no_wrap=True)
    fmt = lambda v: "-" if v is None else f"{v:.3e}"  # noqa: E731
    for rec in finals[:20]:
        t.add_row(str(rec["replica"]), rec["status"], fmt(rec["f_gap_final"]), fmt(rec["dist_rel_final"]),
                  fmt(rec["gnorm_final"]), fmt(rec["unorm_final"]), fmt(rec["t_final"]),
                  fmt(rec.get("stationarity_upper")), rec["verdict"])  # fmt: skip
    con = _console()
    con.print(t)
    if len(finals) > 20:
        con.print(f"... {len(finals) - 20} more replicas (use --json for all)")
    con.print(
        f"median f - f_ref {fmt(summary['f_gap_median'])}, median D {fmt(summary['dist_rel_median'])}, "
        f"diverged {summary['diverged']}/{len(finals)}; {summary['wall_s']:.2f} s"
    )
    fr, oc = verdicts["fractions"], verdicts["outcomes"]
    con.print(
        "outcomes: "
        + ", ".join(f"{o} {oc[o]['k']}/{oc[o]['n']} [{oc[o]['lo']:.2f}, {oc[o]['hi']:.2f}]" for o in oc)
        + " (95% Clopper-Pearson); verdicts: "
        + ", ".join(f"{v} {fr[v]['k']}" for v in fr)
    )
    for v in fr:  # one reason per verdict: its evidence, in words
        first = next((r for r in records if r["verdict"] == v), None)
        if first is not None:
            con.print(f"  {v} (replica {first['replica']}): {escape(first['reason'])}", soft_wrap=True)
    con.print(
        f"D = distance to the critical set / {prob.dist_scale:g} (max(1, |x*|)); converged needs D <= "
        f"{thresholds.eps:g} at the end, not converging D > {thresholds.stall_dist:g} late in the run"
    )


#: fields of a user's problem code named by its checks (the function or array at fault)
_CODE_FIELDS = ("value", "grad", "pieces", "x0", "critical_points", "n_samples", "build")


def _make_problem(name: str, n: int | None, seed: int, prefix: str, **params: Any):
    """``make_problem`` with errors naming the CLI flag (``--problem``) or spec field (``problem.name``);
    a fault in a user's problem code names the function: ``--problem: grad (my_grad) ...``."""
    from asyncconv.problems import make_problem

    try:
        return make_problem(name, n, seed=seed, **params)
    except ConfigError as e:
        if prefix == "--" and e.field.split(".")[0] in _CODE_FIELDS:
            raise ConfigError("--problem", f"{e.field}: {e.message}") from None
        field = {"name": "problem"}.get(e.field, e.field) if prefix == "--" else e.field
        raise ConfigError(prefix + field, e.message) from None


def _sim_summary(result, finals) -> dict[str, Any]:
    import numpy as np

    def med(key):
        vals = [r[key] for r in finals if r[key] is not None]
        return float(np.median(vals)) if vals else None

    return {
        "replicas": len(finals),
        "diverged": int(sum(r["status"] == "diverged" for r in finals)),
        "f_gap_median": med("f_gap_final"),
        "dist_median": med("dist_final"),
        "dist_rel_median": med("dist_rel_final"),
        "gnorm_median": med("gnorm_final"),
        "wall_s": result.info.get("wall_s"),
    }


def _progress_bar(*, rate: bool = False, transient: bool = False, console=None):
    """A rich progress bar over replicas: done/total, elapsed and ETA (and a rate field)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    cols = [TextColumn("replicas"), BarColumn(), MofNCompleteColumn()]
    if rate:
        cols.append(TextColumn("{task.fields[rate]}"))
    cols += [TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    return Progress(*cols, transient=transient, console=console)


def _with_progress(fn, total: int, quiet: bool):
    """Run ``fn(callback)`` with a rich progress bar over replicas (unless quiet)."""
    if quiet:
        return fn(None)
    with _progress_bar(transient=True) as bar:
        task = bar.add_task("replicas", total=total)
        return fn(lambda done, tot: bar.update(task, completed=done))


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
    tests = st.get("tests")
    if not tests:
        return

    def p_text(p: float | None) -> str:
        return "n/a" if p is None else (f"{p:.3g}" if p >= 1e-300 else "< 1e-300")

    def stat_text(r: dict[str, Any]) -> str:
        return f"{r['statistic']:.4g} (df {r['dof']})"

    tt = Table(title="tests of the delay model (measures.md §8.4)")
    for col in ("test", "statistic", "p-value", "method", "effect size"):
        tt.add_column(col, justify="right" if col in ("statistic", "p-value") else "left")
    g = tests["delay_gof"]
    if g.get("skipped"):
        tt.add_row("delay law (χ² GOF)", "", "", "skipped", g["skipped"])
    else:
        method = f"{g['method']} (lag-1 r = {g['autocorrelation'][0]:.3f})"
        if g["pvalue_boot"] is not None and g["method"] != "parametric-bootstrap":
            method += f"; bootstrap p = {p_text(g['pvalue_boot'])}"
        elif g["method"] == "parametric-bootstrap":
            method += f"; χ² p = {p_text(g['pvalue_chi2'])}"
        tt.add_row(
            f"delay law ({g['reference']}): {g['law']}",
            stat_text(g),
            p_text(g["pvalue"]),
            method,
            f"TV {g['tv_distance']:.3g}, KS D {g['ks_d']:.3g}",
        )
    for key, label in (("block", "block × delay independence"), ("writer", "writer × delay independence")):
        r = tests["block_delay_independence"][key]
        if r.get("skipped"):
            tt.add_row(label, "", "", "skipped", r["skipped"])
        else:
            lo, hi = r["mean_delay_range"]
            tt.add_row(
                label, stat_text(r), p_text(r["pvalue"]), "chi2 (iid)",
                f"Cramér V {r['cramers_v']:.3g}; mean delay {lo:.3g}..{hi:.3g}",
            )  # fmt: skip
    h = tests["delay_homogeneity"]
    effect = f"TV {h['tv_distance']:.3g}, KS D {h['ks_d']:.3g}" if "tv_distance" in h else ""
    if h.get("skipped"):
        tt.add_row("early vs late halves", "", "", "skipped", f"{h['skipped']}; {effect}".strip("; "))
    else:
        tt.add_row("early vs late halves", stat_text(h), p_text(h["pvalue"]), "chi2 (iid)", effect)
    con.print(tt)
    if g.get("note"):
        con.print(f"note (delay law): {g['note']}")


# --- studies ------------------------------------------------------------------------------------

SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="Dask scheduler address (tcp://host:8786); default: a local cluster."),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", "-w", help="Local cluster worker processes (default: usable cores)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or messages.")]


@study_app.command("run")
def study_run(
    spec: Annotated[Path, typer.Argument(help="Study spec (TOML), e.g. sims/quickstart.toml.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Results directory (default: results/NAME, results/NAME-SCALE)."),
    ] = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the configurations and an estimate of the work; run nothing."),
    ] = False,
    retries: Annotated[int, typer.Option(help="Retries of a failed task.")] = 2,
    scale: Annotated[
        str, typer.Option(help="'full' ([study] as written) or a [scales.NAME] of the spec, e.g. 'quick'.")
    ] = "full",
    quiet: QuietOpt = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object (the session record).")] = False,
) -> None:
    """Run a study (or continue an interrupted one) and write its results directory."""
    from asyncconv.study import estimate, load_spec
    from asyncconv.study.spec import task_memory

    st = load_spec(spec, scale=scale)
    out = (
        output
        if output is not None
        else Path("results") / (st.name if scale == "full" else f"{st.name}-{scale}")
    )
    if dry_run:
        task_memory(st)  # before the calibration, which runs a replica of every configuration
        est = estimate(st, workers=workers, calibrate=True)
        if json_out:
            _echo_json({"study": st.name, "output": str(out), "estimate": est,
                        "configs": [c.to_dict() for c in st.configs]})  # fmt: skip
            return
        _print_dry_run(st, out, est)
        return
    _run_study_cli(st, out, scheduler, workers, retries, quiet or json_out, json_out)


@study_app.command("resume")
def study_resume(
    directory: Annotated[Path, typer.Argument(help="Results directory of an interrupted study.")],
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    retries: Annotated[int, typer.Option(help="Retries of a failed task.")] = 2,
    quiet: QuietOpt = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object (the session record).")] = False,
) -> None:
    """Continue a study from its directory: run only the tasks not yet stored (failed ones again)."""
    from asyncconv.study.store import Store

    st = Store(directory).spec(repair=True)
    _run_study_cli(st, directory, scheduler, workers, retries, quiet or json_out, json_out)


def _run_study_cli(st, out: Path, scheduler, workers, retries, quiet: bool, json_out: bool) -> None:
    from asyncconv.study import run_study

    con = _console()
    say = (lambda msg: None) if quiet else (lambda msg: con.print(msg))
    say(
        f"study {st.name}: {len(st.configs)} configurations x {st.replicas} replicas, {st.n_tasks} tasks -> {out}"
    )
    if quiet:
        session = run_study(
            st, out, scheduler=scheduler, workers=workers, retries=retries, log=say, quiet=True
        )
    else:
        # the bar appears when the work starts (after the workers loaded the kernels), not before
        bar = _progress_bar(rate=True, console=con)
        state: dict[str, Any] = {}

        def progress(done: int, total: int, start: int | None) -> None:
            if start is not None:
                bar.start()
                state.update(t0=time.perf_counter(), start=start, task=bar.add_task("replicas", total=total,
                             completed=done, rate=""))  # fmt: skip
                return
            dt = time.perf_counter() - state["t0"]
            rate = (done - state["start"]) / dt if dt > 0 else 0.0
            bar.update(state["task"], completed=done, rate=f"{rate:.1f} replicas/s")

        try:
            session = run_study(st, out, scheduler=scheduler, workers=workers, retries=retries, log=say,
                                progress=progress)  # fmt: skip
        finally:
            bar.stop()
    if json_out:
        _echo_json({"study": st.name, "output": str(out), **session})
        if not session.get("complete", False):
            raise SystemExit(1)  # incomplete: the same status with or without --json
        return
    if session.get("repaired"):
        say(f"repaired: {session['repaired']}")
    if session.get("nothing_to_do"):
        return
    share = session.get("kernel_share")
    say(
        f"{session['tasks_run']} tasks in {session['wall_s']:.1f} s on {session['workers']} workers "
        f"(kernel load {max(session['jit_s']['per_worker'], default=0):.1f} s"
        + (f", {100 * share:.0f}% of worker time in the kernels" if share is not None else "")
        + ")"
    )
    if session["tasks_failed"]:
        say(f"{session['tasks_failed']} tasks failed (see 'asyncconv study status {out}'); "
            f"'asyncconv study resume {out}' retries them")  # fmt: skip
    elif session["complete"]:
        say(f"complete: 'asyncconv study report {out}', 'asyncconv plot {out}'")
    if session["tasks_failed"]:
        raise SystemExit(1)


def _print_dry_run(st, out: Path, est: dict[str, Any]) -> None:
    from rich.table import Table

    con = _console()
    t = Table(title=f"study {st.name}: {len(st.configs)} configurations x {st.replicas} replicas -> {out}")
    for col in (
        "id",
        "configuration",
        "problem",
        "n",
        "workers",
        "blocks",
        "source",
        "momentum",
        "step",
        "writes",
    ):
        t.add_column(col, justify="right" if col in ("id", "n", "workers", "blocks", "writes") else "left")
    for c in st.configs:
        sch, it = c.schedule, c.iteration
        source = next(k for k in ("timing", "abstract", "periodic", "trace") if k in sch)
        t.add_row(str(c.id), c.label, c.problem["name"], str(c.problem["n"]), str(sch["n_workers"]),
                  str(sch["blocks"]["n_blocks"]), source, f"{it['momentum']} m={it['m']:g}",
                  f"{it['g0']:g}/(nu+{it['nu0']:g})^{it['p']:g}", f"{c.events:,}")  # fmt: skip
    con.print(t)
    mb = est["trajectory_bytes"] / 2**20
    con.print(
        f"{est['tasks']} tasks of {st.batch} replicas; {est['writes']:,} writes in all; trajectories {mb:.1f} MiB; "
        f"estimated {est['estimated_s']:.0f} s on {est['workers']} workers (from one short replica per configuration)"
    )


@study_app.command("status")
def study_status_cmd(
    directory: Annotated[Path, typer.Argument(help="Results directory.")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Done / remaining / failed tasks and replicas of a study."""
    from asyncconv.study import study_status

    st = study_status(directory)
    if json_out:
        _echo_json(st)
        if st["damaged"]:
            raise SystemExit(2)
        return
    con = _console()
    t, r = st["tasks"], st["replicas"]
    con.print(f"study {st['study']} in {st['dir']}: {'complete' if st['complete'] else 'incomplete'}")
    con.print(
        f"tasks:    {t['done']} done, {t['remaining']} remaining ({t['failed']} failed) of {t['total']}"
    )
    con.print(
        f"replicas: {r['done']} done, {r['remaining']} remaining ({r['failed']} failed) of {r['total']}"
    )
    for name, err in st["failures"].items():
        con.print(f"failed {name}: {err}")
    if st["damaged"]:
        typer.echo(f"error: DIR: {st['damaged']}", err=True)
        raise SystemExit(2)


@study_app.command("verify")
def study_verify_cmd(
    directory: Annotated[Path, typer.Argument(help="Results directory.")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Check every file of a study against the checksums recorded when it was written (specs,
    parts, trajectory chunks, consolidated files); exit status 2 and one line when damaged
    ('asyncconv study resume DIR' repairs it)."""
    from asyncconv.study.store import Store

    store = Store(directory)
    if not Path(directory).is_dir():
        raise ConfigError("DIR", f"{directory} does not exist")
    chk = store.verify()
    if json_out:
        _echo_json({"dir": str(directory), "ok": chk.ok, "problems": chk.problems, "fatal": chk.fatal,
                    "tasks_damaged": sorted(chk.tasks), "tasks_verified": chk.verified_tasks})  # fmt: skip
    elif chk.ok:
        typer.echo(f"{directory}: ok ({chk.verified_tasks} tasks verified against their checksums)")
    if not chk.ok:
        if not json_out:
            typer.echo(f"error: DIR: {chk.line(Path(directory))}", err=True)
        raise SystemExit(2)


@study_app.command("report")
def study_report(
    directory: Annotated[Path, typer.Argument(help="Results directory.")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    level: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
) -> None:
    """Per configuration: verdict fractions with intervals, final-metric quantiles, time-to-eps;
    then the paired comparisons the spec asks for (Holm-adjusted)."""
    from asyncconv.config import check_number
    from asyncconv.study import report

    rep = report(directory, level=check_number(level, "--level", gt=0.0, lt=1.0))
    if json_out:
        _echo_json(rep)
        return
    _print_report(rep)


def _print_report(rep: dict[str, Any]) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from asyncconv.study.spec import AXES

    con = _console()

    def fmt(v: float | None, digits: int = 3) -> str:
        return "-" if v is None else f"{v:.{digits}g}"

    def cell(fr: dict[str, Any], v: str) -> str:
        return escape(f"{fr[v]['k']} [{fr[v]['lo']:.2f}, {fr[v]['hi']:.2f}]")

    def quant(q: dict[str, Any]) -> str:
        return escape(f"{fmt(q['q50'], 2)} [{fmt(q['q10'], 2)}, {fmt(q['q90'], 2)}]")

    pct = round(100 * rep["level"])
    t = Table(
        box=box.SIMPLE_HEAD,
        title=escape(
            f"study {rep['study']}: verdicts ({pct}% Clopper-Pearson), final distance median [q10, q90]"
        ),
    )
    for col in ("configuration", "n", "converging", "not (s+d)", "undec", "div", "D to crit",
                "time to eps"):  # fmt: skip
        t.add_column(col, justify="left" if col == "configuration" else "right", no_wrap=True)
    for c in rep["configs"]:
        if not c["replicas"]:
            t.add_row(escape(c["label"]), "0", *["-"] * 6)
            continue
        fr = c["verdicts"]["fractions"]
        te = c["time_to_eps"]
        oc = c["verdicts"]["outcomes"]
        nc = f"{oc['not converging']['k']} ({fr['stalled']['k']}+{fr['drifting']['k']})"
        t.add_row(escape(c["label"]), str(c["replicas"]), cell(fr, "converged"), nc,
                  str(fr["undecided"]["k"]), str(fr["diverged"]["k"]), quant(c["final"]["dist_rel_final"]),
                  f"{fmt(te['median'], 2)} ({te['reached']}/{c['replicas']})")  # fmt: skip
    con.print(t)
    if rep["comparisons"]:
        t = Table(box=box.SIMPLE_HEAD,
                  title="paired comparisons (replica r of a against replica r of b: common random numbers)")  # fmt: skip
        for col in ("a vs b", "where", "metric", "a", "b", "test", "p", "p (Holm)"):
            t.add_column(col, justify="right" if col in ("a", "b", "p", "p (Holm)") else "left")
        for c in rep["comparisons"]:
            where = (
                ", ".join(v if k in AXES else f"{k.split('.')[-1]}={v}" for k, v in c["context"].items())
                or "-"
            )
            val = lambda v: "-" if v is None else (str(v) if isinstance(v, int) else f"{v:.3g}")  # noqa: E731
            t.add_row(f"{c['a']} vs {c['b']}", where, c["metric"], val(c["a_value"]), val(c["b_value"]),
                      c["test"].split(" (")[0], fmt(c["pvalue"]), fmt(c["pvalue_holm"]))  # fmt: skip
        con.print(t)
        con.print(
            "a, b: the fraction for verdicts, the median for metrics, the count that reached eps for time to eps"
        )
    eps = rep["thresholds"]["eps"]
    con.print(f"D: distance to the critical set / max(1, |x*|); time to eps: median ODE time until D (else "
              f"f - f_ref) <= {eps:g}, the eps of 'converged' (Kaplan-Meier; reached/replicas); --json has "
              "intervals, all quantiles and each verdict's evidence is in the summary")  # fmt: skip
    if 1 in rep.get("verdict_rules", []):
        con.print("note: this store's verdicts follow the rules before version 2 (no 'drifting'; a stall "
                  "could rest on gradient sampling); run the spec into a new directory for the current ones")  # fmt: skip
    if not rep["complete"]:
        con.print("note: the study is incomplete; 'asyncconv study resume DIR' finishes it")


@app.command("plot")
def plot_cmd(
    directory: Annotated[Path, typer.Argument(help="Results directory of a study.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Figure directory (default: DIR/figures).")
    ] = None,
) -> None:
    """Figures of a study: trajectories (median, 10-90% band), verdict fractions, delay histograms."""
    from asyncconv.plot.study import plot_study

    paths = plot_study(directory, output)
    for p in paths:
        typer.echo(str(p))


try:  # `asyncconv train` needs torch (the [torch] extra); without it the command is absent
    from asyncconv.torch.cli import train as _train

    app.command("train")(_train)
except ModuleNotFoundError as _e:
    if _e.name not in ("torch", "asyncconv.torch", "asyncconv.torch.cli"):
        raise


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
    except OSError as e:  # unwritable output, a directory where a file was expected, ...
        _error(f"{e.filename or 'file'}: {e.strerror or e}")
    except UnicodeDecodeError:
        _error("an input file is not UTF-8 text (expected a TOML or CSV file)")
    except MemoryError:
        _error("not enough memory for this run; use fewer --events or --replicas")
    except KeyboardInterrupt:
        _error("interrupted")


if __name__ == "__main__":
    main(sys.argv[1:])
