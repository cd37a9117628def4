"""Real asynchronous training: one model in shared memory, P processes (``reference/model.md`` §6).

Methods (``TrainConfig.method``):

=========  ===========================================================================================
passm      each process owns a contiguous, numel-balanced group of parameter tensors (block c of a
           ``balanced`` layout with B = P), computes gradients for its group only (the other tensors do
           not require grad, so backprop stops at the group), keeps its own momentum buffers and
           writes its group in place without locks: P concurrent parameter servers
passm+     full updates (every tensor) during the first ``plus_switch`` fraction of training, and
           every ``plus_every``-th write of a process afterwards if > 0; partitioned updates otherwise
assm       every process updates every tensor; a lock is held during each write
hogwild    every process updates every tensor, lock-free
sgd        one process (the baseline)
ddp        DistributedDataParallel over gloo with P ranks, the same global batch (``batch // P`` per
           rank) and schedule, synchronous all-reduce of gradients every step
=========  ===========================================================================================

Update of every write (all methods): g ← ∇ + λ x, u ← m u + g, x ← x − f_c γ_t u (heavy ball,
PyTorch convention; γ_t constant or cosine in the fraction of training done; f_c a per-process
factor drawn once in [``factor_low``, 1] from (seed, writer), as in the authors' experiments; 1 by
default, and 1 for ddp). Batches: ``batch`` samples per write, so every method makes ``M // batch`` writes per epoch over M training samples and uses the
same step schedule; epoch e visits a permutation of the training set drawn from (seed, e) in
batches, which the asynchronous processes take from a shared queue (a process that stalls does not
hold the epoch back; a faster process makes more writes) and ddp ranks split.
With ``epoch_scope="process"`` every asynchronous process instead makes its own pass over the
host's data per epoch (its own permutation, from (seed, writer, e); P times the writes), as in
PyTorch's Hogwild example and the authors' code — then every PASSM group sees as many samples per
epoch as every parameter does under sgd.

The write counter k is a shared int64 incremented (under a small lock) after each write; each
process records its rows (:mod:`asyncconv.torch.trace`) and the run returns its real schedule.
The process whose write brings the counter to an evaluation point copies the model into a shared
snapshot buffer; snapshots are evaluated after training, off the clock. Timing starts when every
process is ready (a barrier), so process start-up and imports are not counted.

Threads: each process runs ``threads`` intra-op threads (default 1). On a machine whose cores are
all busy, OpenMP's spin-waiting makes 2 threads per process up to 100x slower than 1.

Devices: ``device="cuda"`` keeps the model, the momentum buffers and the data in one GPU's memory,
shared by the P processes through CUDA IPC; each write is followed by ``torch.cuda.synchronize()``
before the counter moves, so a counted write is complete. (Not exercised without a GPU.)

Several hosts (``nnodes`` > 1): each host runs the method with its P processes on its shard of the
data (host h, process c is writer h P + c of nnodes·P); process 0 of every host joins a gloo group
of the hosts (rank ``node_rank``) and replaces the host's model by the average of all hosts' models
every ``average_every`` of its writes, and once more at the end — periodic model averaging. For ddp,
all nnodes·P ranks form one DDP group instead.
"""

from __future__ import annotations

import copy
import math
import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from asyncconv.config import ConfigError, check_choice, check_int, check_number
from asyncconv.torch.blocks import BlockLayout, make_layout
from asyncconv.torch.data import DATASETS, Dataset, load_data
from asyncconv.torch.models import MODELS, build_model
from asyncconv.torch.trace import TraceBuffer, merge_traces

if TYPE_CHECKING:  # the schedule package (numba, scipy) is not imported by worker processes
    from asyncconv.schedule import Schedule

__all__ = [
    "DEVICES",
    "EPOCH_SCOPES",
    "LR_SCHEDULES",
    "METHODS",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "train",
]

METHODS = ("passm", "passm+", "assm", "hogwild", "sgd", "ddp")
DEVICES = ("cpu", "cuda")
LR_SCHEDULES = ("constant", "cosine")
EPOCH_SCOPES = ("host", "process")
_ASYNC = ("passm", "passm+", "assm", "hogwild", "sgd")
EVAL_TRAIN_MAX = 10_000  # train metrics on at most this many samples (a fixed subset)


@dataclass(frozen=True)
class TrainConfig:
    """A validated training run; see the module docstring. ``from_dict`` checks every field."""

    method: str = "passm"
    workers: int = 2
    model: str = "cnn"
    data: str = "digits"
    data_dir: str | None = None
    epochs: int = 5
    batch: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_schedule: str = "constant"
    factor_low: float = 1.0
    plus_switch: float = 0.25
    plus_every: int = 0
    device: str = "cpu"
    threads: int = 1
    seed: int = 0
    evals_per_epoch: int = 1
    epoch_scope: str = "host"
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29511
    average_every: int = 10

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        fields = cls.__dataclass_fields__
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(unknown[0], f"unknown setting; allowed: {', '.join(fields)}")
        d = {**{k: f.default for k, f in fields.items()}, **data}
        d["method"] = check_choice(d["method"], METHODS, "method")
        d["workers"] = check_int(d["workers"], "workers", ge=1, le=256)
        d["model"] = check_choice(d["model"], MODELS, "model")
        d["data"] = check_choice(d["data"], DATASETS, "data")
        d["epochs"] = check_int(d["epochs"], "epochs", ge=1)
        d["batch"] = check_int(d["batch"], "batch", ge=1)
        d["lr"] = check_number(d["lr"], "lr", gt=0.0)
        d["momentum"] = check_number(d["momentum"], "momentum", ge=0.0, lt=1.0)
        d["weight_decay"] = check_number(d["weight_decay"], "weight_decay", ge=0.0)
        d["lr_schedule"] = check_choice(d["lr_schedule"], LR_SCHEDULES, "lr_schedule")
        d["factor_low"] = check_number(d["factor_low"], "factor_low", gt=0.0, le=1.0)
        d["plus_switch"] = check_number(d["plus_switch"], "plus_switch", ge=0.0, le=1.0)
        d["plus_every"] = check_int(d["plus_every"], "plus_every", ge=0)
        d["device"] = check_choice(d["device"], DEVICES, "device")
        d["threads"] = check_int(d["threads"], "threads", ge=1, le=256)
        d["seed"] = check_int(d["seed"], "seed", ge=0)
        d["evals_per_epoch"] = check_int(d["evals_per_epoch"], "evals_per_epoch", ge=1, le=1000)
        d["epoch_scope"] = check_choice(d["epoch_scope"], EPOCH_SCOPES, "epoch_scope")
        d["nnodes"] = check_int(d["nnodes"], "nnodes", ge=1)
        d["node_rank"] = check_int(d["node_rank"], "node_rank", ge=0, le=d["nnodes"] - 1)
        d["master_port"] = check_int(d["master_port"], "master_port", ge=1, le=65535)
        d["average_every"] = check_int(d["average_every"], "average_every", ge=1)
        if d["method"] == "sgd" and d["workers"] != 1:
            raise ConfigError("workers", f"sgd runs one process (got {d['workers']})")
        if d["method"] == "ddp" and d["batch"] % d["workers"]:
            raise ConfigError(
                "batch",
                f"ddp splits each batch over the ranks: {d['batch']} is not a multiple of {d['workers']}",
            )
        if d["device"] == "cuda" and not torch.cuda.is_available():
            raise ConfigError("device", "cuda requested, but no CUDA device is available to torch")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class TrainResult:
    """Outcome of a run.

    Attributes
    ----------
    evals : one dict per snapshot (start, ``evals_per_epoch`` per epoch): ``writes``, ``epoch``
        (fraction), ``time_s`` (wall time since the start barrier), train/test loss and accuracy.
    wall_s : training wall time, from the start signal to the last write (process start-up, shutdown
        and evaluation excluded).
    setup_s : process start-up before the barrier.
    schedule : the recorded real schedule (None for ddp on several hosts, where ranks differ).
    state : the final ``state_dict`` (on CPU).
    """

    config: TrainConfig
    evals: list[dict[str, float]]
    wall_s: float
    setup_s: float
    writes: int
    schedule: Schedule | None
    layout: BlockLayout
    state: dict[str, torch.Tensor] = field(repr=False)
    info: dict[str, Any] = field(default_factory=dict)

    def epochs(self) -> list[dict[str, float]]:
        """The evaluations at the start and at the end of each epoch."""
        return [row for row in self.evals if abs(row["epoch"] - round(row["epoch"])) < 1e-9]

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(), "wall_s": self.wall_s, "setup_s": self.setup_s, "writes": self.writes,
            "epochs": self.epochs(), "evals": self.evals,
            "schedule": None if self.schedule is None else {"n_events": self.schedule.n_events,
                                                            "n_workers": self.schedule.n_workers,
                                                            "n_blocks": self.schedule.n_blocks,
                                                            "max_delay": int(self.schedule.delay().max()),
                                                            "torn_reads": int((self.schedule.read_hi > self.schedule.read_lo).sum())},
            **self.info,
        }  # fmt: skip


# --- plan: what every process needs to know ---------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Derived quantities shared by the parent and the workers.

    Batches: epoch e of host h visits ``per_epoch`` global batch slots ``pos · nnodes + h`` (pos =
    0..per_epoch - 1) of the permutation drawn from (seed, e); slot s is samples
    ``perm[s · batch : (s + 1) · batch]``. Asynchronous processes take batch tickets t = 0, 1, ...
    from a shared queue (epoch t // per_epoch, pos t % per_epoch), so a process that stalls does not
    hold the others back; ddp step i of an epoch is pos = i, split over the ranks.
    """

    cfg: TrainConfig
    n_train: int
    per_epoch: int  # writes (ddp: steps) per epoch of this host
    host_writes: int  # writes of this host over the run
    eval_points: tuple[int, ...]  # host write counts at which a snapshot is taken
    n_blocks: int

    def batch_slot(self, ticket: int) -> tuple[int, int]:
        """(epoch, first sample offset in the epoch's permutation) of batch ticket ``ticket``."""
        epoch, pos = divmod(ticket, self.per_epoch)
        return epoch, (pos * self.cfg.nnodes + self.cfg.node_rank) * self.cfg.batch


def _plan(cfg: TrainConfig, n_train: int, n_tensors: int) -> _Plan:
    P = cfg.workers
    per_epoch = n_train // cfg.batch // cfg.nnodes
    if per_epoch < 1:
        raise ConfigError(
            "batch",
            f"{n_train} training samples give no write per epoch at batch {cfg.batch} on {cfg.nnodes} host(s)",
        )
    local = cfg.workers if _per_process(cfg) else 1
    host_writes = per_epoch * cfg.epochs * local
    n_eval = cfg.epochs * cfg.evals_per_epoch
    points = tuple(sorted({max(1, round(host_writes * i / n_eval)) for i in range(1, n_eval + 1)}))
    n_blocks = 1 if cfg.method in ("sgd", "ddp") else P
    if n_blocks > n_tensors:
        raise ConfigError("workers", f"the model has {n_tensors} parameter tensors, fewer than {P} groups")
    return _Plan(cfg, n_train, per_epoch, host_writes, points, n_blocks)


def _per_process(cfg: TrainConfig) -> bool:
    """Every asynchronous process makes its own pass over the data per epoch (``epoch_scope``)."""
    return cfg.epoch_scope == "process" and cfg.method not in ("sgd", "ddp")


def _lr(cfg: TrainConfig, frac: float) -> float:
    if cfg.lr_schedule == "cosine":
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * min(frac, 1.0)))
    return cfg.lr


def _factor(cfg: TrainConfig, writer: int) -> float:
    """Step factor f_c of writer c: uniform in [factor_low, 1], a function of (seed, c)."""
    if cfg.factor_low >= 1.0:
        return 1.0
    u = float(np.random.default_rng([cfg.seed, 7, writer]).random())
    return cfg.factor_low + (1.0 - cfg.factor_low) * u


def _permutation(seed: int | list[int], epoch: int, n: int) -> torch.Tensor:
    key = [*seed, epoch] if isinstance(seed, list) else [seed, epoch]
    return torch.from_numpy(np.random.default_rng(key).permutation(n))


def _state_tensors(model: torch.nn.Module) -> list[torch.Tensor]:
    """Parameters then floating buffers: what a snapshot copies."""
    return [p.data for p in model.parameters()] + [b for b in model.buffers() if b.is_floating_point()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the asynchronous worker ------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Shared:
    """What the parent hands to every worker (tensors in shared memory, locks of the spawn context)."""

    plan: _Plan
    layout: BlockLayout
    model: torch.nn.Module
    X: torch.Tensor
    y: torch.Tensor
    counter: torch.Tensor  # int64 (1,): completed writes of this host
    tickets: torch.Tensor  # int64 (1,): batch tickets taken
    snaps: torch.Tensor  # (n_eval, state numel) float32
    snap_t: torch.Tensor  # (n_eval,) float64
    ready: Any  # shared int: workers ready to start
    go: Any  # event set by the parent when every worker is ready (the clock starts)
    done: Any  # barrier of the P workers (before the final averaging)
    counter_lock: Any
    write_lock: Any
    t0: Any  # shared double: time of the start barrier
    trace_dir: str
    parent: int  # pid of the process that started the workers (they stop if it dies)


def _block_hooks(
    model: torch.nn.Module, layout: BlockLayout, counter: torch.Tensor, versions: np.ndarray
) -> list:
    """Forward pre-hooks recording the write counter when the forward pass reaches each block."""
    handles = []
    for j in range(1, layout.n_blocks):
        name = layout.names[layout.tensor_off[j]]
        module = model.get_submodule(name.rpartition(".")[0])

        def hook(_m, _inp, j=j):
            versions[j] = int(counter[0])

        handles.append(module.register_forward_pre_hook(hook))
    return handles


def _init_group(cfg: TrainConfig, world: int, rank: int) -> None:
    """Join the gloo group of ``world`` ranks at ``master_addr:master_port`` (fails after 5 minutes)."""
    from datetime import timedelta

    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"tcp://{cfg.master_addr}:{cfg.master_port}", world_size=world, rank=rank,
        timeout=timedelta(minutes=5),
    )  # fmt: skip


def _average(tensors: list[torch.Tensor], world: int) -> None:
    """Replace ``tensors`` by their average over the hosts (all-reduce of one flat copy)."""
    import torch.distributed as dist

    flat = torch.cat([t.reshape(-1) for t in tensors]).float().cpu()
    dist.all_reduce(flat)
    flat /= world
    off = 0
    for t in tensors:
        t.copy_(flat[off : off + t.numel()].view_as(t).to(t.dtype))
        off += t.numel()


def _async_worker(c: int, sh: _Shared) -> None:
    """Process c of an asynchronous method (also the sgd baseline, in-process, with c = 0).

    Loop: take a batch ticket; read (forward on the live shared weights, recording the write
    counter at the start, at each block and at the end); backprop to the tensors this write updates;
    apply the heavy-ball update in place (under the write lock for assm); count the write; record
    it; snapshot the model at evaluation points; average with the other hosts on schedule.
    """
    plan, cfg, model = sh.plan, sh.plan.cfg, sh.model
    torch.set_num_threads(cfg.threads)
    cuda = sh.X.is_cuda
    params = list(model.parameters())
    groups = [list(sh.layout.tensors(j)) for j in range(sh.layout.n_blocks)]
    mine = set(groups[c]) if cfg.method in ("passm", "passm+") else set(range(len(params)))
    bufs: dict[int, torch.Tensor] = {}
    versions = np.zeros(sh.layout.n_blocks, dtype=np.int64)
    hooks = _block_hooks(model, sh.layout, sh.counter, versions)
    trace = TraceBuffer(plan.host_writes, sh.layout.n_blocks)
    state = _state_tensors(model)
    averaging = cfg.nnodes > 1 and c == 0
    rounds = plan.host_writes // cfg.average_every  # the same number of all-reduces on every host
    done_rounds = 0
    if averaging:
        _init_group(cfg, cfg.nnodes, cfg.node_rank)
    model.train()
    t0 = _ready(sh)
    total = plan.host_writes
    lock = sh.write_lock if cfg.method == "assm" else None
    factor = _factor(cfg, cfg.node_rank * cfg.workers + c)
    perm_epoch, perm = -1, None
    step = 0  # this process's writes
    own = _per_process(cfg)  # own pass over the data per epoch, else batch tickets from the shared queue
    own_total = total // cfg.workers
    while True:
        if own:
            ticket = step
        else:
            with sh.counter_lock:
                ticket = int(sh.tickets[0])
                sh.tickets[0] = ticket + 1
        if ticket >= (own_total if own else total):
            break
        _check_parent(sh)
        epoch, lo = plan.batch_slot(ticket)
        if epoch != perm_epoch:
            perm_seed = [cfg.seed, 1 + cfg.node_rank * cfg.workers + c] if own else cfg.seed
            perm_epoch, perm = epoch, _permutation(perm_seed, epoch, plan.n_train).to(sh.X.device)
        frac = ticket / (own_total if own else total)
        full = cfg.method in ("assm", "hogwild", "sgd") or (
            cfg.method == "passm+"
            and (frac < cfg.plus_switch or (cfg.plus_every > 0 and step % cfg.plus_every == 0))
        )
        active = range(len(params)) if full else sorted(mine)
        for t, p in enumerate(params):
            p.requires_grad_(full or t in mine)
        idx = perm[lo : lo + cfg.batch]
        t_read = time.perf_counter() - t0
        read_lo = int(sh.counter[0])
        versions[:] = read_lo
        out = model(sh.X[idx])
        read_hi = int(sh.counter[0])
        loss = F.cross_entropy(out, sh.y[idx])
        grads = torch.autograd.grad(loss, [params[t] for t in active])
        lr = factor * _lr(cfg, frac)
        with torch.no_grad():
            if lock is not None:
                lock.acquire()
            for t, g in zip(active, grads, strict=True):
                p = params[t]
                if cfg.weight_decay:
                    g = g.add(p, alpha=cfg.weight_decay)
                if cfg.momentum:
                    u = bufs.get(t)
                    if u is None:
                        bufs[t] = u = g.clone()
                    else:
                        u.mul_(cfg.momentum).add_(g)
                    g = u
                p.add_(g, alpha=-lr)
            if cuda:
                torch.cuda.synchronize()
            with sh.counter_lock:
                k = int(sh.counter[0])
                sh.counter[0] = k + 1
                t_write = time.perf_counter() - t0
            if lock is not None:
                lock.release()
        trace.add(k, c, -1 if full else c, read_lo, read_hi, versions, t_read, t_write)
        e = _eval_slot(plan.eval_points, k + 1)
        if e >= 0:
            _snapshot(state, sh.snaps[e])
            sh.snap_t[e] = t_write
        step += 1
        while (
            averaging and done_rounds < rounds and int(sh.counter[0]) >= (done_rounds + 1) * cfg.average_every
        ):
            with torch.no_grad():
                _average(state, cfg.nnodes)
            done_rounds += 1
    for h in hooks:
        h.remove()
    trace.save(Path(sh.trace_dir) / f"trace_{c}.npz")
    if averaging:  # rounds the other processes' writes triggered after this one ran out of tickets
        with torch.no_grad():
            while done_rounds < rounds:
                _average(state, cfg.nnodes)
                done_rounds += 1
    sh.done.wait()
    if averaging:
        import torch.distributed as dist

        with torch.no_grad():
            _average(state, cfg.nnodes)
        dist.destroy_process_group()


def _check_parent(sh: _Shared) -> None:
    """Stop an orphaned worker (its parent was killed) instead of training on alone."""
    if os.getppid() != sh.parent and os.getpid() != sh.parent:
        raise SystemExit(1)


def _ready(sh: _Shared) -> float:
    """Report ready, wait for the parent's start signal; returns the start time t0."""
    with sh.ready.get_lock():
        sh.ready.value += 1
    sh.go.wait()
    return sh.t0.value


def _eval_slot(points: tuple[int, ...], writes: int) -> int:
    """Index of ``writes`` in the sorted eval points, or -1."""
    i = int(np.searchsorted(points, writes))
    return i if i < len(points) and points[i] == writes else -1


def _snapshot(state: list[torch.Tensor], out: torch.Tensor) -> None:
    off = 0
    with torch.no_grad():
        for t in state:
            out[off : off + t.numel()].copy_(t.reshape(-1))
            off += t.numel()


# --- the ddp worker ---------------------------------------------------------------------------


def _ddp_worker(rank: int, sh: _Shared) -> None:
    """Rank ``rank`` of this host: DDP over gloo, ``batch // P`` samples of each global batch."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    plan, cfg = sh.plan, sh.plan.cfg
    torch.set_num_threads(cfg.threads)
    P = cfg.workers
    world = cfg.nnodes * P
    g_rank = cfg.node_rank * P + rank
    _init_group(cfg, world, g_rank)
    # every rank starts from the shared initial model, then trains a private copy
    local = copy.deepcopy(sh.model)
    ddp = DistributedDataParallel(local)
    params = list(local.parameters())
    bufs: list[torch.Tensor | None] = [None] * len(params)
    state = _state_tensors(local)
    trace = TraceBuffer(plan.host_writes, 1) if rank == 0 else None
    per_rank = cfg.batch // P
    local.train()
    t0 = _ready(sh)
    step = 0
    for epoch in range(cfg.epochs):
        perm = _permutation(cfg.seed, epoch, plan.n_train).to(sh.X.device)
        for i in range(plan.per_epoch):
            _check_parent(sh)
            lo = plan.batch_slot(i)[1] + rank * per_rank
            idx = perm[lo : lo + per_rank]
            t_read = time.perf_counter() - t0
            loss = F.cross_entropy(ddp(sh.X[idx]), sh.y[idx])
            ddp.zero_grad(set_to_none=True)
            loss.backward()
            lr = _lr(cfg, step / plan.host_writes)
            with torch.no_grad():
                for t, p in enumerate(params):
                    g = p.grad
                    if cfg.weight_decay:
                        g = g.add(p, alpha=cfg.weight_decay)
                    if cfg.momentum:
                        if bufs[t] is None:
                            bufs[t] = g.clone()
                        else:
                            bufs[t].mul_(cfg.momentum).add_(g)
                        g = bufs[t]
                    p.add_(g, alpha=-lr)
            step += 1
            if rank == 0:
                if sh.X.is_cuda:
                    torch.cuda.synchronize()
                t_write = time.perf_counter() - t0
                trace.add(step - 1, 0, -1, step - 1, step - 1, np.array([step - 1]), t_read, t_write)
                sh.counter[0] = step
                e = _eval_slot(plan.eval_points, step)
                if e >= 0:
                    _snapshot(state, sh.snaps[e])
                    sh.snap_t[e] = t_write
    if rank == 0:
        trace.save(Path(sh.trace_dir) / "trace_0.npz")
        with torch.no_grad():
            for dst, src in zip(_state_tensors(sh.model), state, strict=True):
                dst.copy_(src)
    sh.done.wait()
    dist.destroy_process_group()


# --- evaluation -------------------------------------------------------------------------------


def evaluate(
    model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, batch: int = 1024
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` (eval mode) on (X, y)."""
    was = model.training
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(y), batch):
            out = model(X[s : s + batch])
            loss += float(F.cross_entropy(out, y[s : s + batch], reduction="sum"))
            correct += int((out.argmax(1) == y[s : s + batch]).sum())
    model.train(was)
    return loss / len(y), correct / len(y)


def _load_state(model: torch.nn.Module, flat: torch.Tensor) -> None:
    _snapshot_inverse(_state_tensors(model), flat)


def _snapshot_inverse(state: list[torch.Tensor], flat: torch.Tensor) -> None:
    off = 0
    with torch.no_grad():
        for t in state:
            t.copy_(flat[off : off + t.numel()].view_as(t))
            off += t.numel()


# --- the driver -------------------------------------------------------------------------------


def train(
    cfg: TrainConfig,
    *,
    data: Dataset | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Run one training (see the module docstring); ``progress(writes, total)`` is called while it runs.

    ``data`` overrides loading ``cfg.data`` (tests pass a prepared set). The calling process runs
    ``cfg.threads`` intra-op threads meanwhile (restored after).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _train(cfg, data, progress)
    finally:
        torch.set_num_threads(before)


def _train(
    cfg: TrainConfig, data: Dataset | None, progress: Callable[[int, int], None] | None
) -> TrainResult:
    import torch.multiprocessing as mp

    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", "cuda requested, but no CUDA device is available to torch")
    t_setup = time.perf_counter()
    data = data if data is not None else load_data(cfg.data, data_dir=cfg.data_dir, seed=cfg.seed)
    device = torch.device(cfg.device)
    dev = data.to(device)
    model = build_model(cfg.model, data.input_shape, data.n_classes, cfg.seed).to(device)
    named = list(model.named_parameters())
    plan = _plan(cfg, data.n_train, len(named))
    layout = make_layout([(n, p.numel()) for n, p in named], "balanced", plan.n_blocks)
    X, y = dev.X_train, dev.y_train
    if not X.is_cuda:
        model.share_memory()
        X.share_memory_()
        y.share_memory_()
    ctx = mp.get_context("spawn")
    n_state = sum(t.numel() for t in _state_tensors(model))
    n_snap = len(plan.eval_points)
    snaps = torch.zeros((n_snap, n_state), dtype=torch.float32).share_memory_()
    snap_t = torch.full((n_snap,), math.nan, dtype=torch.float64).share_memory_()
    counter = torch.zeros(1, dtype=torch.int64).share_memory_()
    tickets = torch.zeros(1, dtype=torch.int64).share_memory_()
    in_process = cfg.method == "sgd"
    nproc = 1 if in_process else cfg.workers
    ready = ctx.Value("i", 0)
    go = ctx.Event()
    done = ctx.Barrier(nproc)
    t0 = ctx.Value("d", 0.0, lock=False)
    init = torch.cat([t.reshape(-1).float().cpu() for t in _state_tensors(model)])
    if cfg.nnodes == 1:  # one host: a free local port for the gloo group (ddp)
        plan = replace(plan, cfg=replace(cfg, master_port=_free_port()))
    with tempfile.TemporaryDirectory(prefix="asyncconv-trace-") as tmp:
        sh = _Shared(
            plan, layout, model, X, y, counter, tickets, snaps, snap_t, ready, go, done, ctx.Lock(), ctx.Lock(),
            t0, tmp, os.getpid(),
        )  # fmt: skip
        if in_process:
            setup_s = time.perf_counter() - t_setup
            t0.value = time.perf_counter()
            go.set()
            _async_worker(0, sh)
            wall = time.perf_counter() - t0.value
        else:
            fn = _ddp_worker if cfg.method == "ddp" else _async_worker
            procs = mp.start_processes(fn, args=(sh,), nprocs=nproc, join=False, start_method="spawn")
            while ready.value < nproc:  # the clock starts when every worker is ready
                if procs.join(timeout=0.01):  # raises if a worker failed before starting
                    break
            t0.value = time.perf_counter()
            setup_s = t0.value - t_setup
            go.set()
            while not procs.join(timeout=0.05):
                if progress is not None:
                    progress(int(counter[0]), plan.host_writes)
            wall = time.perf_counter() - t0.value
        if progress is not None:
            progress(int(counter[0]), plan.host_writes)
        files = sorted(Path(tmp).glob("trace_*.npz"))
        if cfg.method == "ddp":
            schedule = merge_traces(files, 1, 1, np.ones((1, 1), dtype=bool))
        else:
            owners = (
                np.eye(plan.n_blocks, dtype=bool)
                if cfg.method == "passm"
                else np.ones((nproc, plan.n_blocks), bool)
            )
            schedule = merge_traces(files, nproc, plan.n_blocks, owners)
    info_wall = {"wall_incl_shutdown_s": wall}
    if schedule.n_events:  # training time: start signal to the last write (process shutdown excluded)
        wall = float(schedule.t_write[-1])
    evals = _evaluate_snapshots(cfg, data, init, snaps, snap_t, plan)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    final: dict[str, float] = {}
    if cfg.nnodes > 1:  # the last snapshot precedes the final model average
        net = build_model(cfg.model, data.input_shape, data.n_classes, cfg.seed)
        net.load_state_dict(state)
        final["averaged_test_loss"], final["averaged_test_acc"] = evaluate(net, data.X_test, data.y_test)
    info = {"n_params": int(sum(p.numel() for _, p in named)), "writes_per_epoch": plan.per_epoch,
            "host_writes": plan.host_writes, "device": cfg.device, **info_wall, **final}  # fmt: skip
    return TrainResult(cfg, evals, wall, setup_s, int(counter[0]), schedule, layout, state, info)


def _evaluate_snapshots(cfg, data: Dataset, init, snaps, snap_t, plan: _Plan) -> list[dict[str, float]]:
    model = build_model(cfg.model, data.input_shape, data.n_classes, cfg.seed)
    sub = torch.from_numpy(np.random.default_rng([cfg.seed, 1]).permutation(data.n_train)[:EVAL_TRAIN_MAX])
    Xtr, ytr = data.X_train[sub], data.y_train[sub]
    rows = []
    points = (0, *plan.eval_points)
    for i, w in enumerate(points):
        _load_state(model, init if i == 0 else snaps[i - 1])
        trl, tra = evaluate(model, Xtr, ytr)
        tel, tea = evaluate(model, data.X_test, data.y_test)
        rows.append({"writes": int(w), "epoch": w / max(plan.host_writes, 1) * cfg.epochs,
                     "time_s": 0.0 if i == 0 else float(snap_t[i - 1]), "train_loss": trl, "train_acc": tra,
                     "test_loss": tel, "test_acc": tea})  # fmt: skip
    return rows
