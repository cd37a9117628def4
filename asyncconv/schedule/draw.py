"""``draw_schedule``: validate, pack, seed and call the jitted kernels.

This is the only place that samples scheduling randomness (DESIGN §3): everything downstream of a
drawn :class:`~asyncconv.schedule.schedule.Schedule` replays it.
"""

from __future__ import annotations

import math

import numpy as np

from asyncconv.config import ConfigError, check_int, file_sha256
from asyncconv.rng import key_from_seed
from asyncconv.schedule import _kernels
from asyncconv.schedule.laws import pack_delay_laws, pack_time_laws
from asyncconv.schedule.model import (
    AbstractModel,
    PeriodicModel,
    ScheduleModel,
    TimingModel,
    TraceModel,
)
from asyncconv.schedule.schedule import Schedule, load_schedule

__all__ = ["draw_schedule", "load_trace"]


def draw_schedule(model: ScheduleModel, n_events: int, seed: int | np.random.SeedSequence) -> Schedule:
    """Draw ``n_events`` writes from ``model``.

    Parameters
    ----------
    model : ScheduleModel
    n_events : int
        Number of writes K >= 1.
    seed : int or numpy.random.SeedSequence
        Non-negative integer or a SeedSequence (e.g. one of ``SeedSequence(s).spawn(R)`` for
        replicas). The same seed gives bit-identical arrays; the first M events of a draw of
        N >= M events equal a draw of M events.

    Returns
    -------
    Schedule
        Validated, with ``model`` and ``seed`` recorded in its metadata.
    """
    if not isinstance(model, ScheduleModel):
        raise TypeError(f"model must be a ScheduleModel (got {type(model).__name__})")
    n_events = check_int(n_events, "n_events", ge=1)
    try:
        key, seed_record = key_from_seed(seed)
    except ValueError as e:
        raise ConfigError("seed", str(e).split(": ", 1)[-1]) from None
    src = model.source
    owners = model.owners()
    if isinstance(src, TimingModel):
        arrays = _draw_timing(model, src, n_events, key, owners)
        concurrency = 1
    elif isinstance(src, AbstractModel):
        arrays = _draw_abstract(model, src, n_events, key, owners)
        concurrency = 0
    elif isinstance(src, PeriodicModel):
        arrays = _draw_periodic(model, src, n_events, owners)
        concurrency = math.ceil((src.delay + 1) / model.n_workers)
    else:
        return _draw_trace(model, src, n_events)
    return Schedule(
        *arrays, owners=owners, concurrency=concurrency, model=model.to_dict(),
        seed=seed_record, source=model.kind,
    ).validate()  # fmt: skip


def _owned_tables(model: ScheduleModel, owners: np.ndarray) -> tuple[np.ndarray, ...]:
    """CSR of owned blocks per worker, with cumulative selection weights inside each set."""
    weights = np.asarray(
        model.blocks.weights if model.blocks.weights is not None else [1.0] * owners.shape[1]
    )
    ptr = [0]
    blocks: list[int] = []
    cum: list[float] = []
    for c in range(owners.shape[0]):
        own = np.flatnonzero(owners[c])
        w = np.cumsum(weights[own]) / weights[own].sum()
        w[-1] = 1.0
        blocks.extend(own.tolist())
        cum.extend(w.tolist())
        ptr.append(len(blocks))
    return np.asarray(ptr, np.int64), np.asarray(blocks, np.int32), np.asarray(cum, np.float64)


def _draw_timing(model: ScheduleModel, src: TimingModel, n: int, key: np.uint64, owners: np.ndarray):
    P = model.n_workers
    laws = [*src.compute, src.read, src.write, src.pause]
    params, values = pack_time_laws(laws)
    own_ptr, own_blocks, own_cum = _owned_tables(model, owners)
    return _kernels._draw_timing(
        n, key, np.arange(P, dtype=np.int64), params, values,
        np.arange(P, dtype=np.int64), P, P + 1, P + 2, src.pause_prob,
        np.asarray(src.speeds, dtype=np.float64), own_ptr, own_blocks, own_cum,
        model.blocks.selection == "cyclic", model.blocks.write == "owned",
        model.reads == "inconsistent", model.blocks.n_blocks,
    )  # fmt: skip


def _draw_abstract(model: ScheduleModel, src: AbstractModel, n: int, key: np.uint64, owners: np.ndarray):
    B, P = model.blocks.n_blocks, model.n_workers
    probs = np.asarray(src.block_probs if src.block_probs is not None else np.full(B, 1.0 / B))
    use_transition = src.block_transition is not None
    transition = np.asarray(src.block_transition if use_transition else np.zeros((1, 1)), dtype=np.float64)
    if model.blocks.ownership == "partitioned":
        owner_of_block = np.argmax(owners, axis=0).astype(np.int64)
        writer_cum = np.ones(1)
    else:
        owner_of_block = np.full(B, -1, dtype=np.int64)
        wp = np.asarray(src.writer_probs if src.writer_probs is not None else np.full(P, 1.0 / P))
        writer_cum = np.cumsum(wp)
        writer_cum[-1] = 1.0
    unique = list(dict.fromkeys(src.delay))
    params, table = pack_delay_laws(unique)
    delay_law = np.asarray([unique.index(d) for d in src.delay], dtype=np.int64)
    return _kernels._draw_abstract(
        n, key, probs, transition, use_transition, src.starve_block, src.starve_exponent,
        owner_of_block, writer_cum, model.blocks.write == "owned", params, table, delay_law,
        model.reads == "inconsistent",
    )  # fmt: skip


def _draw_periodic(model: ScheduleModel, src: PeriodicModel, n: int, owners: np.ndarray):
    """Round robin: write k by worker k mod P, its (k // P)-th write, cycling its owned blocks."""
    P = model.n_workers
    k = np.arange(n, dtype=np.int64)
    writer = (k % P).astype(np.int32)
    if model.blocks.write == "owned":
        block = np.full(n, -1, dtype=np.int32)
    else:
        sizes = owners.sum(axis=1)
        first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        flat = np.concatenate([np.flatnonzero(row) for row in owners])
        block = flat[first[writer] + (k // P) % sizes[writer]].astype(np.int32)
    read_lo = np.maximum(k - src.delay, 0)
    return (
        writer, block, read_lo, read_lo.copy(), read_lo.astype(np.float64),
        (k + 1).astype(np.float64), np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int32),
    )  # fmt: skip


def load_trace(model: ScheduleModel, src: TraceModel, n: int) -> Schedule:
    """The recorded schedule of a trace model, checked against the model and the horizon ``n``
    (and against the recorded sha256 ``src.digest``, when a study recorded one). Errors name
    ``trace.path``."""
    from pathlib import Path

    path = Path(src.path)
    if not path.is_file():
        raise ConfigError("trace.path", f"file not found: {path}")
    if src.digest is not None:
        now = file_sha256(path)
        if now != src.digest:
            raise ConfigError(
                "trace.path",
                f"{path} changed since the study was created (sha256 {src.digest[:12]} -> {now[:12]}); "
                "restore it, or run the changed trace as a new study",
            )
    try:
        sched = load_schedule(path)
    except ConfigError as e:
        raise ConfigError("trace.path", f"{path}: {e.field}: {e.message}") from None
    if n > sched.n_events:
        raise ConfigError("n_events", f"the trace {path} has only {sched.n_events} events (asked for {n})")
    if sched.n_workers != model.n_workers or sched.n_blocks != model.blocks.n_blocks:
        raise ConfigError(
            "trace.path",
            f"the trace has {sched.n_workers} workers and {sched.n_blocks} blocks; "
            f"the model says {model.n_workers} and {model.blocks.n_blocks}",
        )
    return sched


def _draw_trace(model: ScheduleModel, src: TraceModel, n: int) -> Schedule:
    return load_trace(model, src, n).truncate(n)
