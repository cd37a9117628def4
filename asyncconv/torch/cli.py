"""``asyncconv train``: real asynchronous training with torch (registered by ``asyncconv.cli``).

This module imports neither torch nor the training code at import time, so ``asyncconv --help``
stays fast; the command body does. Bad input raises :class:`~asyncconv.config.ConfigError` naming
the flag, which ``asyncconv.cli.main`` prints as one line with exit status 2.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from asyncconv.config import ConfigError

__all__ = ["train"]


class Method(StrEnum):
    passm = "passm"
    passm_plus = "passm+"
    assm = "assm"
    hogwild = "hogwild"
    sgd = "sgd"
    ddp = "ddp"


class Model(StrEnum):
    mlp = "mlp"
    cnn = "cnn"
    resnet20 = "resnet20"


class Data(StrEnum):
    digits = "digits"
    synthetic = "synthetic"
    cifar10 = "cifar10"
    cifar100 = "cifar100"


class Device(StrEnum):
    cpu = "cpu"
    cuda = "cuda"


class EpochScope(StrEnum):
    host = "host"
    process = "process"


class LrSchedule(StrEnum):
    constant = "constant"
    cosine = "cosine"


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def train(
    method: Annotated[
        Method, typer.Option(help="passm, passm+, assm, hogwild, or the baselines sgd and ddp.")
    ] = Method.passm,
    workers: Annotated[
        int, typer.Option("--workers", "-P", help="Processes sharing the model (ddp: ranks).")
    ] = 2,
    model: Annotated[
        Model, typer.Option(help="ReLU MLP, small CNN with max-pooling, or ResNet-20.")
    ] = Model.cnn,
    data: Annotated[
        Data, typer.Option(help="digits (scikit-learn), synthetic, or CIFAR binaries.")
    ] = Data.digits,
    data_dir: Annotated[Path | None, typer.Option(help="Directory of the CIFAR-10/100 binary files.")] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the training set.")] = 5,
    batch: Annotated[
        int, typer.Option(help="Samples per write (ddp: the global batch, split over ranks).")
    ] = 64,
    lr: Annotated[float, typer.Option(help="Step size.")] = 0.05,
    momentum: Annotated[float, typer.Option(help="Heavy-ball momentum m (PyTorch convention).")] = 0.9,
    weight_decay: Annotated[float, typer.Option(help="Weight decay, as torch.optim.SGD.")] = 0.0,
    lr_schedule: Annotated[
        LrSchedule, typer.Option(help="Constant or cosine-annealed step.")
    ] = LrSchedule.constant,
    factor_low: Annotated[
        float, typer.Option(help="Per-process step factors drawn once in [factor_low, 1] (authors: 0.9).")
    ] = 1.0,
    plus_switch: Annotated[
        float, typer.Option(help="passm+: fraction of training with full updates before partitioned ones.")
    ] = 0.25,
    plus_every: Annotated[
        int, typer.Option(help="passm+: afterwards every n-th write of a process is full (0: never).")
    ] = 0,
    device: Annotated[
        Device, typer.Option(help="cpu, or cuda (the processes share one GPU's model).")
    ] = Device.cpu,
    threads: Annotated[int, typer.Option(help="Intra-op torch threads per process.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the data split, initialisation and sample order.")] = 0,
    evals_per_epoch: Annotated[int, typer.Option(help="Model snapshots evaluated per epoch.")] = 1,
    epoch_scope: Annotated[
        EpochScope,
        typer.Option(help="An epoch is one pass over the data by all processes (host) or by each (process)."),
    ] = EpochScope.host,
    record_schedule: Annotated[
        Path | None, typer.Option(help="Save the run's real schedule (.npz) for 'schedule stats' and replay.")
    ] = None,
    save_model: Annotated[Path | None, typer.Option(help="Save the final state_dict (torch.save).")] = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            help="Replay this schedule (.npz/.csv) on the model in one process instead of --method."
        ),
    ] = None,
    nnodes: Annotated[int, typer.Option(help="Hosts training together (periodic model averaging).")] = 1,
    node_rank: Annotated[int, typer.Option(help="This host's rank in 0..nnodes-1.")] = 0,
    master_addr: Annotated[str, typer.Option(help="Address of host 0 (gloo rendezvous).")] = "127.0.0.1",
    master_port: Annotated[int, typer.Option(help="Port of the gloo rendezvous on host 0.")] = 29511,
    average_every: Annotated[int, typer.Option(help="Writes of process 0 between model averages.")] = 10,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train a network asynchronously (PASSM and friends) or with a baseline; report time, loss and accuracy."""
    settings = {
        "method": method.value, "workers": workers, "model": model.value, "data": data.value,
        "data_dir": None if data_dir is None else str(data_dir), "epochs": epochs, "batch": batch, "lr": lr,
        "momentum": momentum, "weight_decay": weight_decay, "lr_schedule": lr_schedule.value,
        "factor_low": factor_low, "plus_switch": plus_switch, "plus_every": plus_every, "device": device.value,
        "threads": threads, "seed": seed, "evals_per_epoch": evals_per_epoch, "epoch_scope": epoch_scope.value,
        "nnodes": nnodes, "node_rank": node_rank, "master_addr": master_addr, "master_port": master_port,
        "average_every": average_every,
    }  # fmt: skip
    try:
        from asyncconv.torch.train import TrainConfig

        cfg = TrainConfig.from_dict(settings)
        if replay is not None:
            out = _replay(cfg, replay, quiet or json_out)
        else:
            out = _run(cfg, quiet or json_out)
    except ConfigError as e:
        if e.field in settings:
            raise ConfigError(_flag(e.field), e.message) from None
        raise
    schedule, state, summary = out
    if record_schedule is not None and schedule is not None:
        schedule.save(record_schedule)
        summary["schedule_file"] = str(record_schedule)
    if save_model is not None:
        import torch

        save_model.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, save_model)
        summary["model_file"] = str(save_model)
    _report(summary, json_out)


def _run(cfg, quiet: bool):
    from asyncconv.torch.train import train as run_training

    result = _with_progress(lambda cb: run_training(cfg, progress=cb), quiet)
    return result.schedule, result.state, result.to_dict()


def _replay(cfg, path: Path, quiet: bool):
    """Replay a saved schedule on the model (one process), evaluating ``evals_per_epoch`` times per
    ``epochs`` slices of the schedule."""
    import time

    import torch

    from asyncconv.schedule import load_schedule
    from asyncconv.sim import Iteration
    from asyncconv.torch.data import load_data
    from asyncconv.torch.models import build_model
    from asyncconv.torch.replay import replay_module
    from asyncconv.torch.train import evaluate

    if not path.is_file():
        raise ConfigError("--replay", f"file not found: {path}")
    sched = load_schedule(path)
    torch.set_num_threads(cfg.threads)
    data = load_data(cfg.data, data_dir=cfg.data_dir, seed=cfg.seed).to(cfg.device)
    net = build_model(cfg.model, data.input_shape, data.n_classes, cfg.seed).to(cfg.device)
    n_tensors = len(list(net.parameters()))
    if sched.n_blocks > n_tensors:
        raise ConfigError(
            "--replay", f"the schedule has {sched.n_blocks} blocks, the model {n_tensors} tensors"
        )
    it = Iteration(momentum="heavy" if cfg.momentum > 0 else "none", m=cfg.momentum, g0=cfg.lr, clock="constant",
                   factor_low=1.0, noise="none", batch=cfg.batch)  # fmt: skip
    K = sched.n_events
    every = max(1, K // (cfg.epochs * cfg.evals_per_epoch))
    evals: list[dict[str, Any]] = []

    def record(k: int, params) -> None:
        with torch.no_grad():
            for p, v in zip(net.parameters(), params, strict=True):
                p.copy_(v)
        trl, tra = evaluate(net, data.X_train, data.y_train)
        tel, tea = evaluate(net, data.X_test, data.y_test)
        evals.append(
            {
                "writes": k,
                "epoch": k / K * cfg.epochs,
                "train_loss": trl,
                "train_acc": tra,
                "test_loss": tel,
                "test_acc": tea,
            }
        )

    def run(cb):
        def both(k, params):
            record(k, params)
            if cb is not None:
                cb(k, K)

        return replay_module(net, sched, data.X_train, data.y_train, it, seed=cfg.seed,
                             weight_decay=cfg.weight_decay, callback=both, every=every)  # fmt: skip

    t = time.perf_counter()
    record(0, [p.detach() for p in net.parameters()])
    res = _with_progress(run, quiet)

    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    summary = {"replay": str(path), "config": cfg.to_dict(), "writes": K, "wall_s": res.wall_s,
               "total_s": time.perf_counter() - t, "peak_versions": res.peak_versions, "epochs": evals}  # fmt: skip
    return None, state, summary


def _with_progress(fn, quiet: bool):
    """Run ``fn(callback)`` with a rich progress bar over writes (unless quiet)."""
    if quiet:
        return fn(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("writes"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task("writes", total=None)
        return fn(lambda done, total: bar.update(task, completed=done, total=total))


def _report(summary: dict[str, Any], json_out: bool) -> None:
    from asyncconv.cli import _console, _echo_json

    if json_out:
        _echo_json(summary)
        return
    from rich.table import Table

    cfg = summary["config"]
    title = (
        f"replay of {summary['replay']}" if "replay" in summary
        else f"{cfg['method']} x {cfg['workers']}, {cfg['model']} on {cfg['data']}, batch {cfg['batch']}"
    )  # fmt: skip
    t = Table(title=title)
    cols = ("epoch", "writes", "time (s)", "train loss", "train acc", "test loss", "test acc")
    for col in cols:
        t.add_column(col, justify="right", no_wrap=True)
    for row in summary["epochs"]:
        t.add_row(
            f"{row['epoch']:.2f}".rstrip("0").rstrip("."), str(row["writes"]),
            f"{row['time_s']:.2f}" if "time_s" in row else "-", f"{row['train_loss']:.4f}",
            f"{row['train_acc']:.4f}", f"{row['test_loss']:.4f}", f"{row['test_acc']:.4f}",
        )  # fmt: skip
    con = _console()
    con.print(t)
    line = f"training {summary['wall_s']:.2f} s, {summary['writes']} writes"
    if "setup_s" in summary:
        line += f" (start-up {summary['setup_s']:.2f} s, not counted)"
    sched = summary.get("schedule")
    if sched:
        line += f"; schedule: {sched['n_workers']} writers, max delay {sched['max_delay']}, {sched['torn_reads']} torn reads"
    con.print(line)
    for key in ("schedule_file", "model_file"):
        if key in summary:
            con.print(f"{key.replace('_', ' ')}: {summary[key]}")
