"""Monte Carlo driver: draw one schedule per replica, replay them in parallel, collect trajectories.

Seeding: the root ``SeedSequence(seed)`` spawns one child per replica; each child spawns two: the
first draws the replica's schedule, the second keys its gradient noise, minibatches and step
factors. Replica r is therefore the same whatever the number of replicas run beside it, the batch
it falls in or the number of threads.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from asyncconv.config import ConfigError, check_int
from asyncconv.problems import Problem
from asyncconv.rng import key_from_seed
from asyncconv.schedule import Schedule, ScheduleModel, draw_schedule, partition
from asyncconv.sim import _kernels
from asyncconv.sim.variants import Iteration

__all__ = [
    "METRIC_NAMES",
    "PROBE_NAMES",
    "ReplayState",
    "SimResult",
    "probe_fractions",
    "replay",
    "replica_seed",
    "replica_streams",
    "simulate",
]

METRIC_NAMES = _kernels.METRIC_NAMES
PROBE_NAMES = ("k", "t", "f", "unorm", "dist")
STATUS = ("finished", "diverged")
DEFAULT_PROBES = 64
#: delay histogram bins 0 .. DELAY_HIST_BINS - 2; the last bin counts delays >= DELAY_HIST_BINS - 1
DELAY_HIST_BINS = 257


def probe_fractions(probes: int | np.ndarray | None) -> np.ndarray:
    """Probe times as fractions of the horizon T: an int Q gives Q uniform times (1..Q)/Q·T; an
    array is used as given (sorted, in [0, 1]); None gives none."""
    if probes is None:
        return np.zeros(0)
    if np.isscalar(probes):
        q = check_int(int(probes), "probes", ge=0)
        return np.arange(1, q + 1, dtype=np.float64) / max(q, 1)
    frac = np.asarray(probes, dtype=np.float64).ravel()
    if not (
        np.isfinite(frac).all() and (frac >= 0).all() and (frac <= 1).all() and (np.diff(frac) >= 0).all()
    ):
        raise ConfigError("probes", "must be sorted fractions of the horizon in [0, 1]")
    return frac


@dataclass(frozen=True, eq=False)
class SimResult:
    """Trajectories of R replicas.

    Attributes
    ----------
    metrics : ndarray, shape (R, n_ckpt + 1, len(METRIC_NAMES))
        Row 0 is the start, the last row the end; rows in between are the first writes whose ODE
        time reaches geometric checkpoints. Columns: ``METRIC_NAMES`` (k, t, f_gap, dist, gnorm,
        unorm, velocity, staleness, f, age). NaN after a divergence. ``velocity`` is the window
        average ||x(t_j) - x(t_{j-1})|| / (t_j - t_{j-1}) (for heavy ball, the time-weighted
        average of the buffer); ``age`` is max γ_k·delay_k over the window.
    x_final : ndarray, shape (R, n)
    block_counts : ndarray, shape (R, B)
    status : ndarray of str, shape (R,)  ("finished" or "diverged")
    writes_done : ndarray, shape (R,)
    probes : ndarray, shape (R, Q, 4)
        Columns ``PROBE_NAMES`` (k, t, f, unorm, dist) at the first write whose ODE time reaches each
        probe time ``probe_frac · T`` (uniform in ODE time by default, for window checks); NaN
        where not reached.
    probe_x : ndarray, shape (R, Q, n) or (R, Q, 0)
        The iterate at each probe, when asked for (``probe_x=True``; shadowing checks).
    tail : ndarray, shape (R, M, n)
        The whole read points x̂^k of the last M writes (``n_tail=M``; the trajectory certificate).
    clock : ndarray, shape (R, 2)
        (T, t after write K // 2): how much ODE time the second half of the writes added.
    """

    problem: str
    n: int
    metrics: np.ndarray
    x_final: np.ndarray
    block_counts: np.ndarray
    status: np.ndarray
    writes_done: np.ndarray
    probes: np.ndarray
    probe_x: np.ndarray
    tail: np.ndarray
    clock: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_replicas(self) -> int:
        return self.metrics.shape[0]

    def metric(self, name: str) -> np.ndarray:
        """(R, n_ckpt + 1) values of one metric."""
        return self.metrics[:, :, METRIC_NAMES.index(name)]

    def final(self) -> list[dict[str, Any]]:
        """Per replica: the last recorded metrics, status and writes done (JSON-able)."""
        out = []
        for r in range(self.n_replicas):
            row = self.metrics[r, -1]
            rec: dict[str, Any] = {
                "replica": r,
                "status": str(self.status[r]),
                "writes": int(self.writes_done[r]),
            }
            for name, v in zip(METRIC_NAMES, row, strict=True):
                if name != "k":
                    rec[f"{name}_final"] = None if not np.isfinite(v) else float(v)
            out.append(rec)
        return out


def _layout(problem: Problem, n_blocks: int, owners: np.ndarray, blocks=None, writers=None):
    """Coordinate offsets of the blocks, block of each coordinate, owned block range per worker.

    Owned ranges matter only for whole-owned-set writes (block -1): those writers' owned blocks must
    be contiguous (all workers when ``blocks``/``writers`` are not given)."""
    if n_blocks > problem.n:
        raise ConfigError(
            "blocks.n_blocks", f"cannot split n = {problem.n} coordinates into {n_blocks} blocks"
        )
    block_off = partition(problem.n, n_blocks)
    coord_block = np.repeat(np.arange(n_blocks, dtype=np.int64), np.diff(block_off))
    own_b0 = np.zeros(owners.shape[0], dtype=np.int64)
    own_b1 = np.zeros(owners.shape[0], dtype=np.int64)
    if blocks is None:
        whole = set(range(owners.shape[0]))
    else:
        whole = set(np.unique(writers[blocks < 0]).tolist())
    for c, row in enumerate(owners):
        idx = np.flatnonzero(row)
        if c in whole and (len(idx) == 0 or idx[-1] - idx[0] + 1 != len(idx)):
            raise ConfigError(
                "owners", f"worker {c} writes its owned set, which must be a contiguous run of blocks"
            )
        if len(idx):
            own_b0[c], own_b1[c] = idx[0], idx[-1] + 1
    return block_off, coord_block, own_b0, own_b1


def _check_x0(problem: Problem, x0) -> np.ndarray:
    if x0 is None:
        return problem.x0
    x0 = np.array(x0, dtype=np.float64)
    if x0.shape != (problem.n,) or not np.isfinite(x0).all():
        raise ConfigError("x0", f"must be {problem.n} finite numbers (got shape {x0.shape})")
    return x0


def _max_width(sched_block: np.ndarray, block_off: np.ndarray, own_b0, own_b1) -> int:
    widths = np.diff(block_off)
    w = int(widths.max())
    if (sched_block < 0).any():
        w = max(w, int((block_off[own_b1] - block_off[own_b0]).max()))
    return w


def _pack(
    problem, schedules, keys, it: Iteration, n_ckpt, x0=None, probe_frac=None, probe_x=False, n_tail=0,
    max_delay=None,
):  # fmt: skip
    """The inputs of ``_kernels.replay_one`` for replicas ``schedules``: ``(shared, per_replica, outputs)``.

    ``shared`` is the argument tuple up to the schedule arrays (problem functions, problem, layout);
    ``per_replica(r)`` the remaining arguments of replica r (its schedule, the iteration, its key and
    its output rows); ``outputs`` = (metrics, x_final, counts, probes, probe_x, tail, clock, status,
    done) with a leading replica axis. The one place that lays out kernel inputs."""
    B = schedules[0].n_blocks
    R = len(schedules)
    writer = np.concatenate([s.writer for s in schedules])
    block = np.concatenate([s.block for s in schedules])
    block_off, coord_block, own_b0, own_b1 = _layout(problem, B, schedules[0].owners, block, writer)
    if max_delay is None:  # the undo log must reach back over the longest delay
        max_delay = max(int(s.delay().max()) if s.n_events else 0 for s in schedules)
    hist_len = int(max_delay) + 1
    width = _max_width(block, block_off, own_b0, own_b1)
    momentum, per_worker, clock, noise = it.codes()
    f_ref = np.nan if problem.f_ref is None else float(problem.f_ref)
    metrics = np.empty((R, n_ckpt + 1, len(METRIC_NAMES)))
    x_final = np.empty((R, problem.n))
    counts = np.zeros((R, B), dtype=np.int64)
    status = np.zeros(R, dtype=np.int64)
    done = np.zeros(R, dtype=np.int64)
    frac = probe_fractions(probe_frac)
    probes = np.empty((R, frac.shape[0], len(PROBE_NAMES)))
    px = np.full((R, frac.shape[0], problem.n if probe_x else 0), np.nan)
    tail = np.empty((R, n_tail, problem.n))
    t_half = np.full((R, 2), np.nan)
    keys = np.asarray(keys, dtype=np.uint64)
    shared = (
        problem.spec.value.compiled, problem.spec.grad.compiled, problem.prm, problem.data,
        _check_x0(problem, x0), f_ref, problem.critical_points, problem.halo, problem.n_samples,
        block_off, coord_block, own_b0, own_b1,
    )  # fmt: skip

    def per_replica(r: int) -> tuple:
        s = schedules[r]
        return (
            s.writer, s.block, s.read_lo, s.cut_ptr, s.cut, hist_len, width, momentum, it.m,
            bool(per_worker), it.g0, it.p, it.nu0, clock, it.factor_low, noise, it.noise_scale,
            it.noise_df, it.batch, keys[r], n_ckpt, frac, metrics[r], x_final[r], counts[r], probes[r],
            px[r], tail[r], t_half[r],
        )  # fmt: skip

    return shared, per_replica, (metrics, x_final, counts, probes, px, tail, t_half, status, done)


def _replay_packed(packed: tuple) -> tuple:
    """Run the kernel on the inputs of :func:`_pack`: a thread pool of ``numba.get_num_threads()``
    threads over the GIL-free single-replica kernel (replicas are independent: the bits do not
    depend on the number of threads). Returns the outputs."""
    shared, per_replica, out = packed
    status, done = out[-2], out[-1]
    R = status.shape[0]

    def one(r: int) -> None:
        status[r], done[r] = _kernels.replay_one(*shared, *per_replica(r))

    threads = min(R, max(1, numba.get_num_threads()))
    if threads == 1:
        for r in range(R):
            one(r)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one, range(R)))
    return out


def _run(problem, schedules, keys, it: Iteration, n_ckpt, x0, probe_frac, probe_x, n_tail, max_delay=None):
    """Replay ``schedules`` (one per replica); returns the outputs of :func:`_pack`."""
    return _replay_packed(
        _pack(problem, schedules, keys, it, n_ckpt, x0, probe_frac, probe_x, n_tail, max_delay)
    )


def _result(problem, out, info) -> SimResult:
    metrics, x_final, counts, probes, px, tail, clock, status, done = out
    return SimResult(
        problem.name, problem.n, metrics, x_final, counts, np.asarray([STATUS[s] for s in status]),
        np.asarray(done), probes, px, tail, clock, info=info,
    )  # fmt: skip


@dataclass(eq=False)
class ReplayState:
    """Everything a paused replay needs to continue bit for bit (see :func:`replay`).

    Memory O(n + L·W): the iterate, momentum buffers, the undo log of the last L writes, the
    iterate at the previous checkpoint, the ODE clock, and the trajectory so far.
    """

    k: int
    x: np.ndarray
    u: np.ndarray
    log_lo: np.ndarray
    log_hi: np.ndarray
    log_val: np.ndarray
    xprev: np.ndarray
    clock_state: np.ndarray
    metrics: np.ndarray
    counts: np.ndarray
    probes: np.ndarray
    probe_x: np.ndarray
    tail: np.ndarray
    fingerprint: tuple = ()  # what the state belongs to: problem, schedule, iteration, seed, layout


def _fingerprint(problem, schedule, it, key, n_ckpt, hist_len, width, frac, probe_x, n_tail) -> tuple:
    import hashlib

    h = hashlib.sha256()
    for arr in schedule.arrays().values():
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(frac.tobytes())
    return (
        problem.name, problem.spec.digest, problem.n, h.hexdigest(), repr(it), int(key), n_ckpt, hist_len, width,
        bool(probe_x), n_tail,
    )  # fmt: skip


def replay(
    problem: Problem,
    schedule: Schedule,
    iteration: Iteration | None = None,
    *,
    seed: int | np.random.SeedSequence = 0,
    n_ckpt: int = 60,
    x0: np.ndarray | None = None,
    stop: int | None = None,
    state: ReplayState | None = None,
    probes: int | np.ndarray | None = DEFAULT_PROBES,
    probe_x: bool = False,
    n_tail: int = 0,
) -> SimResult:
    """Replay one given schedule (one replica) through the iteration on ``problem``.

    ``stop=k`` pauses after write k - 1 and returns the state in ``result.info["state"]``;
    ``state=...`` continues from such a state (with the same problem, schedule, iteration and seed):
    the continued run equals an uninterrupted one bit for bit. ``probes`` (a count, or fractions
    of the horizon), ``probe_x`` and ``n_tail`` are as in :func:`simulate`.
    """
    it = iteration or Iteration()
    n_ckpt = check_int(n_ckpt, "n_ckpt", ge=2)
    n_tail = check_int(n_tail, "n_tail", ge=0)
    frac = probe_fractions(probes)
    key, rec = key_from_seed(seed)
    schedule.validate()
    K = schedule.n_events
    stop = K if stop is None else check_int(stop, "stop", ge=0, le=K)
    info = {"iteration": it.to_dict(), "seed": rec, "schedule_model": schedule.model}
    if stop == K and state is None:
        return _result(problem, _run(problem, [schedule], [key], it, n_ckpt, x0, frac, probe_x, n_tail), info)
    block_off, coord_block, own_b0, own_b1 = _layout(
        problem, schedule.n_blocks, schedule.owners, schedule.block, schedule.writer
    )
    hist_len = int(schedule.delay().max()) + 1 if K else 1
    width = _max_width(schedule.block, block_off, own_b0, own_b1)
    momentum, per_worker, clock, noise = it.codes()
    f_ref = np.nan if problem.f_ref is None else float(problem.f_ref)
    steps, t_first, ratio, horizon = _kernels.prepare(
        key, schedule.writer, schedule.block, block_off, own_b0, own_b1, it.factor_low, it.g0, it.p,
        it.nu0, clock, n_ckpt,
    )  # fmt: skip
    fvalue, fgrad = problem.spec.value.compiled, problem.spec.grad.compiled
    fingerprint = _fingerprint(problem, schedule, it, key, n_ckpt, hist_len, width, frac, probe_x, n_tail)
    if state is None:
        x = _check_x0(problem, x0).copy()
        u = np.zeros((schedule.n_workers if per_worker else 1, problem.n))
        state = ReplayState(
            0, x, u, np.zeros(hist_len, np.int64), np.zeros(hist_len, np.int64), np.empty((hist_len, width)),
            x.copy(), np.empty(7), np.empty((n_ckpt + 1, len(METRIC_NAMES))), np.zeros(schedule.n_blocks, np.int64),
            np.full((frac.shape[0], len(PROBE_NAMES)), np.nan),
            np.full((frac.shape[0], problem.n if probe_x else 0), np.nan), np.full((n_tail, problem.n), np.nan),
            fingerprint,
        )  # fmt: skip
        _kernels.start(fvalue, fgrad, problem.prm, problem.data, x, f_ref, problem.critical_points, u, t_first,
                       state.metrics, state.clock_state)  # fmt: skip
    else:
        if state.fingerprint != fingerprint:
            raise ConfigError(
                "state",
                "was paused with another problem, schedule, iteration, seed or n_ckpt; resume with the same ones",
            )
        state = copy.deepcopy(state)  # the caller's paused state stays valid
        if stop < state.k:
            raise ConfigError("stop", f"must be >= the paused state's write index {state.k} (got {stop})")
    status, done = _kernels.advance(
        fvalue, fgrad, problem.prm, problem.data, f_ref, problem.critical_points, problem.halo,
        problem.n_samples, block_off, coord_block, own_b0, own_b1, schedule.writer, schedule.block,
        schedule.read_lo, schedule.cut_ptr, schedule.cut, hist_len, width, momentum, it.m, bool(per_worker),
        noise, it.noise_scale, it.noise_df, it.batch, key, n_ckpt, steps, ratio, state.k, stop,
        frac * horizon, K - n_tail, state.x, state.u, state.log_lo, state.log_hi, state.log_val, state.xprev,
        state.clock_state, state.metrics, state.counts, state.probes, state.probe_x, state.tail,
    )  # fmt: skip
    state.k = done
    if done < K and status == 0:
        info["state"] = state
    clock = np.array([state.clock_state[0], state.clock_state[6]])
    out = (
        state.metrics,
        state.x,
        state.counts,
        state.probes,
        state.probe_x,
        state.tail,
        clock,
        [status],
        [done],
    )
    return _result(problem, tuple(np.array(a)[None] if i < 7 else a for i, a in enumerate(out)), info)


def replica_seed(seed: int, r: int) -> np.random.SeedSequence:
    """The seed of replica ``r`` under root ``seed``: ``SeedSequence(seed).spawn(R)[r]`` for any R > r.

    ``.spawn(2)`` of it gives the schedule's seed and the key of its noise, minibatches and step
    factors (:func:`replica_streams`)."""
    return np.random.SeedSequence(seed, spawn_key=(r,))


def replica_streams(seed: int, r: int) -> tuple[np.random.SeedSequence, int]:
    """(schedule seed, kernel key) of replica ``r``: what :func:`simulate` draws and replays."""
    s_sched, s_key = replica_seed(seed, r).spawn(2)
    return s_sched, key_from_seed(s_key)[0]


def simulate(
    problem: Problem,
    model: ScheduleModel,
    iteration: Iteration | None = None,
    *,
    n_events: int,
    n_replicas: int = 1,
    seed: int = 0,
    n_ckpt: int = 60,
    x0: np.ndarray | None = None,
    max_batch_events: int = 20_000_000,
    progress: Callable[[int, int], None] | None = None,
    probes: int | np.ndarray | None = DEFAULT_PROBES,
    probe_x: bool = False,
    n_tail: int = 0,
    first_replica: int = 0,
) -> SimResult:
    """Monte Carlo: ``n_replicas`` independent schedules from ``model``, each replayed once.

    The replicas are ``first_replica, ..., first_replica + n_replicas - 1`` of the root seed:
    replica r is the same whether it runs alone, in a batch or in a study task (the seeding rule
    of the module docstring; :func:`replica_streams`).

    Replicas run in batches of at most ``max_batch_events`` writes, in parallel inside a batch (a
    thread pool of ``numba.get_num_threads()`` threads over the GIL-free kernel). ``progress(done, total)`` is called after each batch.

    Besides the geometric checkpoints, each replica records ``probes`` (a count Q: uniform in ODE
    time over the horizon; or an array of fractions of the horizon), with the iterate there when
    ``probe_x``, and the whole read points of its last ``n_tail`` writes (memory R·M·n).

    ``result.info["delay"]`` summarises the delays d_k = k − read_lo[k] of the drawn schedules:
    per replica ``mean`` (R,) and ``max`` (R,), and ``hist`` (DELAY_HIST_BINS,) pooled counts
    with the last bin counting every delay >= DELAY_HIST_BINS − 1.
    """
    it = iteration or Iteration()
    n_tail = check_int(n_tail, "n_tail", ge=0)
    frac = probe_fractions(probes)
    n_events = check_int(n_events, "n_events", ge=1)
    n_replicas = check_int(n_replicas, "n_replicas", ge=1)
    n_ckpt = check_int(n_ckpt, "n_ckpt", ge=2)
    seed = check_int(seed, "seed", ge=0)
    first_replica = check_int(first_replica, "first_replica", ge=0)
    from asyncconv.limits import check_bounds

    # sizes the code cannot hold are refused before the seeds, schedules and buffers exist
    check_bounds(n_workers=model.n_workers, n_blocks=model.blocks.n_blocks, events=n_events, replicas=n_replicas,
                 n=problem.n, fields={"n_events": "n_events", "n_replicas": "n_replicas"})  # fmt: skip
    streams = [replica_streams(seed, first_replica + r) for r in range(n_replicas)]
    per_batch = max(1, min(n_replicas, max_batch_events // n_events))
    parts = []
    t0 = time.perf_counter()
    t_draw = t_kernel = 0.0
    d_mean: list[float] = []
    d_max: list[int] = []
    d_hist = np.zeros(DELAY_HIST_BINS, dtype=np.int64)
    for start in range(0, n_replicas, per_batch):
        batch = streams[start : start + per_batch]
        ta = time.perf_counter()
        keys = [key for _, key in batch]
        # the drawing kernels release the GIL: draw the batch's schedules on all threads
        with ThreadPoolExecutor(max_workers=max(1, numba.get_num_threads())) as pool:
            scheds = list(pool.map(lambda ss: draw_schedule(model, n_events, ss[0]), batch))
        for sc in scheds:
            d = sc.delay()
            d_mean.append(float(d.mean()) if d.size else 0.0)
            d_max.append(int(d.max()) if d.size else 0)
            d_hist += np.bincount(np.minimum(d, DELAY_HIST_BINS - 1), minlength=DELAY_HIST_BINS)
        t_draw += time.perf_counter() - ta
        tb = time.perf_counter()
        # the delays were summarised above: their maximum sizes the kernel's undo log
        parts.append(_run(problem, scheds, keys, it, n_ckpt, x0, frac, probe_x, n_tail, max(d_max[start:])))
        t_kernel += time.perf_counter() - tb
        if progress is not None:
            progress(min(start + per_batch, n_replicas), n_replicas)
    out = tuple(np.concatenate(z) for z in zip(*parts, strict=True))
    return _result(
        problem, out,
        {
            "iteration": it.to_dict(), "schedule_model": model.to_dict(), "seed": seed,
            "n_events": n_events, "first_replica": first_replica, "wall_s": time.perf_counter() - t0,
            "draw_s": t_draw, "kernel_s": t_kernel,
            "delay": {"mean": np.array(d_mean), "max": np.array(d_max, dtype=np.int64), "hist": d_hist},
        },
    )  # fmt: skip
