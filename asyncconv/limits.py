"""Resource limits of a simulation, checked before anything is allocated.

Three cheap checks (nothing here allocates in proportion to the sizes it is given, so they can run
before a model is built, in ``--dry-run`` and in study spec validation):

* :func:`check_bounds`: hard upper bounds on workers, blocks, events and replicas, each with the
  reason the code cannot go further (:data:`MAX_WORKERS`, :data:`MAX_BLOCKS`, ...);
* :func:`estimate_simulation_bytes`: the peak bytes of one :func:`asyncconv.sim.simulate` call,
  broken down by what drives it (:func:`estimate_for_model` fills the model-dependent arguments);
* :func:`check_fits`: refuses an estimate larger than the memory available (:func:`available_bytes`
  or a user limit) with one line naming the parameter that drives it.

Where the bytes of ``simulate(problem, model, iteration, n_events=K, n_replicas=R)`` go (the sizes
come from ``schedule/schedule.py``, ``schedule/draw.py``, ``schedule/_kernels.py``,
``sim/simulate.py`` and ``sim/_kernels.py``):

* replicas run in batches of F = ``in_flight`` replicas (``max(1, min(R, max_batch_events // K))``,
  :func:`simulate_in_flight`); a batch's F schedules are drawn, summarised, packed and replayed
  together, and the previous batch's schedules are still referenced while the next batch is drawn;
* one drawn schedule: 48 bytes per event (writer, block int32; read_lo, read_hi, cut_ptr int64;
  t_read, t_write float64), 4 bytes per torn-read cut position, its own dense (P, B) bool ownership
  matrix and its model dict (a list of P speeds for timing models);
* drawing (one per thread at once): per-worker heap, streams and packed laws (~200 bytes per
  worker), the owned-block tables (Python lists, ~80 bytes per (worker, owned block) pair; every
  pair with shared ownership), the growing cut buffer of torn reads, index temporaries of periodic
  schedules, delay-law tables of abstract models, and the validation ring of P x concurrency jobs;
* packing: the batch's writer and block columns concatenated (8 bytes per event in flight) and masks;
* replay (one per thread at once): the steps (8 bytes per event), x, x̂, the gradient and the
  previous checkpoint (n each), the momentum buffers (n, or P x n with ``buffers = "worker"``) and
  the undo log of the longest delay D: (D + 1) x (16 + 8 W) with W the widest write;
* outputs: per replica the trajectory ((n_ckpt + 1) x 10), probes (Q x 5), final iterate (n), block
  counts (B), tail (n_tail x n) and probe iterates (Q x n with ``probe_x``), float64; the batches'
  outputs are kept and concatenated at the end (twice the outputs at the peak);
* per replica Python objects: its SeedSequence (made for every replica up front), its delay
  summary and its status string (~640 bytes).

The estimate is of the call's own allocations, above what the process holds before it (imports,
compiled kernels, the problem and the model), and errs high: ``np.empty`` buffers that are never
touched (the torn-read cut capacity, undo-log slots) are counted in full.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from typing import Any

from asyncconv.config import ConfigError

__all__ = [
    "MAX_BLOCKS",
    "MAX_EVENTS",
    "MAX_EVENTS_X_N",
    "MAX_OWNER_CELLS",
    "MAX_REPLICAS",
    "MAX_WORKERS",
    "available_bytes",
    "check_bounds",
    "check_fits",
    "estimate_for_model",
    "estimate_simulation_bytes",
    "format_bytes",
    "simulate_in_flight",
]

#: Workers. Each worker is a Python object in the model (its compute law and speed), ~200 bytes of
#: drawing state (event-queue entry, six random streams, packed law) and its own row of the dense
#: ownership matrix in every drawn schedule, a momentum buffer of size n with ``buffers = "worker"``,
#: and it is visited by Python loops when the model is built and every schedule drawn.
MAX_WORKERS = 65_536
#: Blocks: block ids and torn-read cut positions (0..B) are int32 in ``Schedule``; also B <= n.
MAX_BLOCKS = 2**31 - 2
#: Workers x blocks: the dense bool ownership matrix is rebuilt for every drawn schedule (one byte
#: per pair, for each replica in flight) and shared-ownership timing draws list every pair in Python.
MAX_OWNER_CELLS = 2**30
#: Writes per replica (the CLI's and the study's bound): every event costs at least ~64 bytes per
#: replica in flight (48 in the schedule, 8 of steps, 8 when packed), 2e9 already ~120 GiB.
MAX_EVENTS = 2_000_000_000
#: Events x n: the noise counter (k n + i)(df + 1) of the replay kernel is a 64-bit integer.
MAX_EVENTS_X_N = 2**63 // 32
#: Replicas of one ``simulate`` call (the study's bound): ``simulate`` derives a SeedSequence for
#: every replica up front (~0.1 ms and ~0.5 KB each) and keeps every replica's trajectory in memory.
MAX_REPLICAS = 1_000_000

#: ``simulate``'s default batch size in writes (its ``max_batch_events``).
MAX_BATCH_EVENTS = 20_000_000

# bytes per unit, from the dtypes of the files named in the module docstring
_SCHED_PER_EVENT = 48  # writer, block (int32), read_lo, read_hi, cut_ptr (int64), t_read, t_write (float64)
_SCHED_FIXED = 4096  # the Schedule object, its model and seed dicts, array headers
_DRAW_PER_WORKER = 200  # heap, streams (6 x uint64), job state, packed laws, validation ring
_OWNED_PAIR = 80  # one (worker, owned block) pair in draw._owned_tables: Python int + float + arrays
_PERIODIC_TEMP_PER_EVENT = 32  # k (int64) and up to three int64 index temporaries in _draw_periodic
_SUMMARY_PER_EVENT = 16  # simulate()'s delay summary: the previous and the next d = delay(), or d and
# np.minimum(d, ...) (numpy reuses delay()'s arange for its result); the last d stays referenced
_SLACK = 0.05  # allocator slack on top of the sum of the arrays
_SLACK_FIXED = 4 << 20  # thread pools (stacks, arenas) and small objects of one call
_MMAP_MAX = 32 << 20  # glibc's largest mmap threshold: freed blocks below it may stay in the heap
_PACK_PER_EVENT = 10  # writer, block concatenated (int32) + two bool masks, per event in flight
_PACK_OWNED_PER_EVENT = 9  # whole-owned-set writes: writers[mask] and np.unique's sorted copy
_REPLAY_PER_EVENT = 8  # the steps γ_k of _kernels.prepare
_PER_REPLICA_PY = 640  # SeedSequence + key (~455 B), delay mean/max list entries, status string
_METRICS = 10  # len(METRIC_NAMES)
_PROBE_COLS = 5  # len(PROBE_NAMES)
_DELAY_TABLE_PER_ENTRY = 56  # DelayLaw.pmf/table temporaries (arange, cdf, floor, diff, cumsum) float64


# --- hard bounds ---------------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    try:
        import numpy as np

        return isinstance(v, np.integer)
    except ImportError:  # pragma: no cover
        return False


def check_bounds(
    n_workers: Any = None,
    n_blocks: Any = None,
    events: Any = None,
    replicas: Any = None,
    n: Any = None,
    fields: Mapping[str, str] | None = None,
) -> None:
    """Refuse sizes beyond what the code can hold, before anything is built.

    Each argument may be ``None`` (not known yet) or a non-integer (left to the usual validators,
    which give the type error); only integers are checked. ``fields`` maps a parameter name
    (``n_workers``, ``n_blocks``, ``events``, ``replicas``, ``n``) to the name the user wrote
    (``--workers``, ``schedule.n_workers``, ...). Raises :class:`ConfigError` with one line.
    """
    f = dict(fields or {})

    def field(name: str) -> str:
        return f.get(name, name)

    P = int(n_workers) if _is_int(n_workers) else None
    B = int(n_blocks) if _is_int(n_blocks) else None
    K = int(events) if _is_int(events) else None
    R = int(replicas) if _is_int(replicas) else None
    N = int(n) if _is_int(n) else None
    if P is not None and P > MAX_WORKERS:
        raise ConfigError(
            field("n_workers"),
            f"must be <= {MAX_WORKERS:,} (got {P:,}): every worker carries its own compute law, speed, "
            "event-queue entry and random streams, a row of the ownership matrix of every drawn "
            "schedule and, with buffers = 'worker', a momentum buffer of size n",
        )
    if B is not None and B > MAX_BLOCKS:
        raise ConfigError(
            field("n_blocks"),
            f"must be <= {MAX_BLOCKS:,} (got {B:,}): block ids and torn-read positions are int32",
        )
    if B is not None and N is not None and B > N:
        raise ConfigError(
            field("n_blocks"),
            f"must be <= n = {N:,} (got {B:,}): each block needs at least one of the n coordinates",
        )
    if P is not None and B is not None and P * B > MAX_OWNER_CELLS:
        raise ConfigError(
            field("n_workers") if P >= B else field("n_blocks"),
            f"workers x blocks = {P:,} x {B:,} = {P * B:,} exceeds {MAX_OWNER_CELLS:,}: every drawn "
            "schedule holds a dense workers x blocks ownership matrix (one byte per pair, per "
            "replica in flight); use fewer workers or blocks",
        )
    if K is not None and K > MAX_EVENTS:
        raise ConfigError(
            field("events"),
            f"must be <= {MAX_EVENTS:,} (got {K:,}): every write costs at least 64 bytes per replica "
            f"in flight (the schedule, its step and its packed columns), "
            f"about {format_bytes(64 * MAX_EVENTS)} at the bound",
        )
    if K is not None and N is not None and K * N > MAX_EVENTS_X_N:
        raise ConfigError(
            field("events"),
            f"events x n = {K:,} x {N:,} exceeds {MAX_EVENTS_X_N:,}: the replay's noise counters "
            "(k·n + i)·(df + 1) are 64-bit integers",
        )
    if R is not None and R > MAX_REPLICAS:
        raise ConfigError(
            field("replicas"),
            f"must be <= {MAX_REPLICAS:,} (got {R:,}): a run derives a seed for every replica up front "
            "(~0.1 ms and 0.5 KB each) and keeps every replica's trajectory in memory; split it into "
            "a study or several runs (first_replica)",
        )


# --- the estimate ------------------------------------------------------------------------------


def simulate_in_flight(events: int, replicas: int, max_batch_events: int = MAX_BATCH_EVENTS) -> int:
    """Replicas ``simulate`` draws and replays at once: ``max(1, min(R, max_batch_events // K))``.

    In a study task, ``replicas`` is the task's batch (``study.batch`` replicas per task)."""
    return max(1, min(int(replicas), int(max_batch_events) // max(int(events), 1)))


def _default_threads() -> int:
    numba = sys.modules.get("numba")
    if numba is not None:
        try:
            return max(1, int(numba.get_num_threads()))
        except Exception:  # pragma: no cover - numba not initialised
            pass
    env = os.environ.get("NUMBA_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, os.cpu_count() or 1)


def _default_max_delay(n_workers: int, events: int, in_flight: int) -> int:
    """Longest delay of a timing model of P exponential workers: delays are about Geometric with
    mean P - 1, the largest of F·K about P·ln(F·K); doubled as a margin. Capped by K - 1."""
    if n_workers <= 1 or events <= 1:
        return 0
    guess = math.ceil(2.0 * n_workers * (math.log(max(events * in_flight, 2)) + 1.0))
    return min(events - 1, guess)


def estimate_simulation_bytes(
    n: int,
    n_workers: int,
    n_blocks: int,
    events: int,
    replicas: int,
    *,
    in_flight: int,
    n_ckpt: int,
    probes: int | None,
    probe_x: bool,
    n_tail: int,
    torn: bool | float = False,
    threads: int | None = None,
    max_delay: int | None = None,
    source: str = "timing",
    shared: bool = False,
    write_owned: bool = False,
    per_worker_buffers: bool = False,
    concurrency: int = 1,
    delay_table: int = 0,
    extra_draw_per_worker: int = 0,
    schedule_events: int | None = None,
    extra_draw_bytes: int = 0,
) -> dict[str, Any]:
    """Peak bytes of one :func:`asyncconv.sim.simulate` call, by what drives them.

    Parameters
    ----------
    n, n_workers, n_blocks, events, replicas : int
        Dimension, P, B, writes per replica K and replicas R of the call.
    in_flight : int
        Replicas drawn and replayed at once (:func:`simulate_in_flight`; capped at R).
    n_ckpt, probes, probe_x, n_tail
        As passed to ``simulate`` (``probes``: a count, or None).
    torn : bool or float
        Inconsistent reads: True for a guess of the torn-read cut positions per event
        (min(P, D)), or the mean number per event (:func:`estimate_for_model` computes it).
    threads : int, optional
        Numba threads (schedules drawn and replicas replayed at once); default: the current count
        (1 in a study task).
    max_delay : int, optional
        The longest delay in a batch (sizes the undo log). Default: a timing-model guess from P.
    source, shared, write_owned, per_worker_buffers, concurrency, delay_table, extra_draw_per_worker
        Model details (``estimate_for_model`` fills them): the model kind; shared ownership;
        whole-owned-set writes; ``buffers = "worker"``; jobs in flight per worker (periodic:
        ceil((delay + 1) / P)); delay-law table entries of an abstract model; extra drawing bytes
        per worker (empirical compute laws).
    schedule_events, extra_draw_bytes
        Trace models: the events each drawn schedule holds (the whole recorded file, of which the
        first K are replayed; default K) and the bytes read per draw to check the file's digest.

    Returns
    -------
    dict
        ``total`` (bytes at the peak), ``phase`` (the step of ``simulate`` where it is: draw,
        summary, pack, replay or concat), ``parts`` {component: bytes} at that peak (and
        ``slack``: 5 % + 4 MiB for the allocator), ``drivers``
        {parameter: bytes}, ``largest`` (the parameter driving most of it: one of events,
        replicas, n_workers, n_blocks, n, delay), ``why`` (what it drives, for messages) and the
        derived ``in_flight``, ``threads``, ``max_delay``, ``batches``, ``schedule_bytes`` (one
        drawn schedule) and ``replica_output_bytes`` (one replica's outputs).
    """
    n, P, B, K, R = int(n), int(n_workers), int(n_blocks), int(events), int(replicas)
    F = max(1, min(int(in_flight), R))
    T = max(1, min(F, int(threads) if threads is not None else _default_threads()))
    Q = 0 if probes is None else int(probes)
    M = int(n_tail)
    batches = -(-R // F)
    delay_given = max_delay is not None
    D = int(max_delay) if delay_given else _default_max_delay(P, K, F)
    D = max(0, min(D, K - 1))
    # widest write: a block, or a writer's owned set
    blk_w = -(-n // B)
    if write_owned:
        W = n if shared else min(n, -(-B // P) * blk_w)
    else:
        W = blk_w
    # torn-read cut positions per event
    if torn is True:
        cuts_per_event = float(min(P, D) if source != "abstract" else min(B, D))
    elif torn is False or torn is None:
        cuts_per_event = 0.0
    else:
        cuts_per_event = float(torn)
    C = math.ceil(cuts_per_event * K)  # cut entries of one schedule
    cells = P * B

    # one schedule
    KS = K if schedule_events is None else max(K, int(schedule_events))
    sched_events = _SCHED_PER_EVENT * KS + 8 + 4 * C
    sched_fixed = _SCHED_FIXED + cells + (8 * P if source == "timing" else 0)

    # drawing temporaries of one draw
    draw_workers = (_DRAW_PER_WORKER + int(extra_draw_per_worker)) * P
    # Schedule.validate: the last ``concurrency`` writes of every worker (periodic: from the delay)
    ring = 8 * P * max(int(concurrency), 1)
    draw_events = 0
    if source == "timing":
        draw_workers += _OWNED_PAIR * (cells if shared else B)
        draw_events += 8 * C  # the growing cut buffer: its touched part and, while it grows, the old one
    elif source == "abstract":
        draw_workers += 24 * B
        draw_events += 8 * C
    elif source == "periodic":
        draw_events += _PERIODIC_TEMP_PER_EVENT * K
    draw_delay = _DELAY_TABLE_PER_ENTRY * int(delay_table)
    draw_events += int(extra_draw_bytes)

    # replay state of one replica
    buffers = P if per_worker_buffers else 1
    replay_events = _REPLAY_PER_EVENT * K
    replay_vectors = 8 * n * (4 + buffers) + 8 * W + 24 * P + 16 * B
    replay_log = 8 * (D + 1) * (2 + W)

    # outputs of one replica
    out_traj = 8 * (_METRICS * (n_ckpt + 1) + _PROBE_COLS * Q + n + B + 4)
    out_tail = 8 * M * n
    out_px = 8 * Q * n if probe_x else 0
    out1 = out_traj + out_tail + out_px

    kept = 2 if batches > 1 else 1  # the previous batch's schedules live while the next is drawn
    in_flight_why = f"events x {F} replicas in flight" if F > 1 else "events of the replica in flight"
    # the undo log grows with the widest write (n / B) or with the longest delay (P, or the delay law)
    log_driver = "n" if W > D + 1 else "delay" if delay_given and source != "timing" else "n_workers"
    worker_why = "a momentum buffer of size n per worker" if per_worker_buffers else "per-worker state"
    common = [
        ("per_replica", "replicas", "one seed, delay summary and status per replica", _PER_REPLICA_PY * R),
    ]

    def schedules(k: int) -> list[tuple[str, str, str, int]]:
        return [
            ("schedules", "events", f"drawn schedules: {in_flight_why}", k * F * sched_events),
            (
                "ownership",
                "n_workers" if P >= B else "n_blocks",
                f"a workers x blocks ownership matrix per drawn schedule ({k * F} held)",
                k * F * sched_fixed,
            ),
        ]

    def outputs(reps: int, copies: int = 1) -> list[tuple[str, str, str, int]]:
        why = "replicas x (trajectory, probes, final iterate"
        why += ", tail of n_tail x n" if out_tail else ""
        why += ", probes x n iterates" if out_px else ""
        return [("outputs", "replicas", why + ")", copies * reps * out1)]

    # Transients proportional to the events are freed before the next step, but the allocator
    # keeps freed blocks below glibc's largest mmap threshold (32 MiB) in its heaps, interleaved
    # with the outputs: such transients are counted in every later step too. Larger arrays are
    # mapped and unmapped, and return to the system when freed.
    def retained(array_bytes: int, term: tuple[str, str, str, int]) -> list[tuple[str, str, str, int]]:
        return [term] if array_bytes <= _MMAP_MAX else []

    summary = ("summary", "events", "delay summary of one schedule", _SUMMARY_PER_EVENT * K)
    packing = (
        "packing",
        "events",
        f"packed columns: {in_flight_why}",
        F * K * (_PACK_PER_EVENT + (_PACK_OWNED_PER_EVENT if write_owned else 0)),
    )
    steps = ("replay_steps", "events", f"replay steps: events x {T} threads", T * replay_events)
    last_d = ("summary", "events", "delay summary of one schedule", 8 * K)  # the loop's last d
    kept_summary = [last_d, *retained(8 * K, summary)]
    kept_packing = retained(4 * F * K, packing)
    kept_steps = retained(8 * K, steps)
    kept_last = kept if 8 * KS <= _MMAP_MAX else 1
    phases = {
        "draw": common
        + schedules(kept)
        + outputs(R - F)
        + [
            ("drawing", "n_workers", f"drawing: {worker_why} x {T} threads", T * draw_workers),
            ("drawing_events", "events", f"drawing temporaries: events x {T} threads", T * draw_events),
            (
                "delay_tables",
                "delay",
                f"delay-law tables of {delay_table:,} entries x {T} threads",
                T * draw_delay,
            ),
            (
                "validation_ring",
                "delay" if concurrency > 1 else "n_workers",
                f"validation ring of workers x {concurrency:,} jobs in flight x {T} threads",
                T * ring,
            ),
        ],
        "summary": common + schedules(1) + outputs(R - F) + [summary],
        "pack": common + schedules(1) + outputs(R) + kept_summary + [packing],
        "replay": common
        + schedules(1)
        + outputs(R)
        + kept_summary
        + kept_packing
        + [
            steps,
            (
                "replay_vectors",
                "n_workers" if per_worker_buffers and P > 4 else "n",
                f"replay state: {'n_workers x n momentum buffers' if per_worker_buffers else 'vectors of size n'}"
                f" x {T} threads",
                T * replay_vectors,
            ),
            (
                "undo_log",
                log_driver,
                f"undo log of the longest delay ({D:,}) x widest write ({W:,}) x {T} threads",
                T * replay_log,
            ),
        ],
        # the last batch's schedules are alive; with several batches the previous batch's
        # freed schedules are often still held by the allocator
        "concat": common + schedules(kept_last) + outputs(R, 2) + kept_summary + kept_packing + kept_steps,
    }
    totals = {name: sum(t[3] for t in terms) for name, terms in phases.items()}
    phase = max(totals, key=lambda k: totals[k])
    terms = [t for t in phases[phase] if t[3] > 0]
    parts: dict[str, int] = {}
    drivers: dict[str, int] = {}
    best: dict[str, tuple[int, str]] = {}
    for name, driver, why, b in terms:
        parts[name] = parts.get(name, 0) + b
        drivers[driver] = drivers.get(driver, 0) + b
        if b > best.get(driver, (-1, ""))[0]:
            best[driver] = (b, why)
    largest = max(drivers, key=lambda k: drivers[k])
    # allocator slack, thread pools and page rounding: 5 % and 4 MiB (the measured peaks of the
    # configurations in tests/test_limits.py were 1.0-1.5 times below the sum above)
    parts["slack"] = math.ceil(_SLACK * totals[phase]) + _SLACK_FIXED
    return {
        "total": totals[phase] + parts["slack"],
        "phase": phase,
        "parts": parts,
        "drivers": drivers,
        "largest": largest,
        "why": best[largest][1],
        "in_flight": F,
        "threads": T,
        "max_delay": D,
        "batches": batches,
        "schedule_bytes": sched_events + sched_fixed,
        "replica_output_bytes": out1,
    }


# --- from a model --------------------------------------------------------------------------------


def _timing_max_delay(model: Any, events: int, in_flight: int) -> int:
    bound = model.delay_bound()
    if bound is not None:
        return min(int(bound), events - 1)
    src = model.source
    P = model.n_workers
    if P <= 1:
        return 0
    speeds = src.speeds
    spread = sum(speeds) / min(speeds)  # about P for equal speeds: writes by others per own job
    logs = math.log(max(events * in_flight, 2)) + 1.0
    tail = 1.0
    for law in src.compute:
        if law.law == "pareto" and law.shape is not None:
            tail = max(tail, (events * in_flight) ** (1.0 / law.shape))
        elif law.law == "lognormal" and law.shape is not None:
            tail = max(tail, math.exp(law.shape * math.sqrt(2.0 * logs)))
    return min(events - 1, math.ceil(2.0 * spread * logs * tail))


def _delay_mean(law: Any) -> float:
    """An upper bound on E d without building the law's table (``DelayLaw.mean_value`` may)."""
    if law.law == "fixed":
        return float(law.value)
    if law.law == "uniform":
        return (law.low + law.high) / 2.0
    if law.law in ("geometric", "poisson"):
        return float(law.mean)
    return float(law.max) if law.max is not None else math.inf


def _abstract_max_delay(src: Any, events: int, in_flight: int) -> tuple[int, int]:
    """(longest delay guess, delay-table entries of one draw) of an abstract model."""
    longest = 0
    table = 0
    logs = math.log(max(events * in_flight, 2)) + 1.0
    for law in dict.fromkeys(src.delay):
        b = law.bound()
        if b is not None:
            d = b
        elif law.law == "geometric":
            d = math.ceil(2.0 * (law.mean + 1.0) * logs)
        elif law.law == "poisson":
            d = int(law.mean + 40.0 * math.sqrt(law.mean) + 40)
        else:  # pareto, untruncated: the largest of N Lomax draws is about scale · N^(1/tail)
            d = events
            if law.tail > 0:
                d = math.ceil(law.scale * (events * in_flight) ** (1.0 / law.tail))
        longest = max(longest, d)
        if b is not None or law.law == "poisson":  # inverse-CDF table (DelayLaw.table)
            table += (b if b is not None else d) + 2
    return min(longest, events - 1), table


def _trace_size(src: Any) -> tuple[int | None, int]:
    """(events recorded in a trace file, bytes read per draw to check its digest); reads only the
    JSON metadata of a ``.npz`` schedule (a CSV trace: its size / 16 bytes per row, about)."""
    path = src.path
    try:
        size = os.path.getsize(path)
    except OSError:
        return None, 0
    digest_bytes = size if getattr(src, "digest", None) else 0
    if str(path).lower().endswith(".csv"):
        return size // 16, digest_bytes
    try:
        import json

        import numpy as np

        with np.load(path, allow_pickle=False) as z:
            return int(json.loads(z["meta"].tobytes())["n_events"]), digest_bytes
    except Exception:
        return None, digest_bytes


def estimate_for_model(
    n: int,
    model: Any,
    iteration: Any,
    events: int,
    replicas: int,
    *,
    in_flight: int | None = None,
    n_ckpt: int = 60,
    probes: int | None = 64,
    probe_x: bool = False,
    n_tail: int = 0,
    threads: int | None = None,
    max_batch_events: int = MAX_BATCH_EVENTS,
) -> dict[str, Any]:
    """:func:`estimate_simulation_bytes` of ``simulate(problem, model, iteration, ...)`` with the
    model details read from a built :class:`~asyncconv.schedule.ScheduleModel` and
    :class:`~asyncconv.sim.Iteration` (cheap: no schedule is drawn). ``in_flight`` defaults to
    :func:`simulate_in_flight` of ``max_batch_events``. Build the model only after
    :func:`check_bounds`: building a model of 10^8 workers is itself the slow, large step."""
    K, R = int(events), int(replicas)
    F = simulate_in_flight(K, R, max_batch_events) if in_flight is None else max(1, min(int(in_flight), R))
    P, B = model.n_workers, model.blocks.n_blocks
    kind = model.kind
    src = model.source
    torn: bool | float = False
    concurrency = 1
    delay_table = 0
    extra = 0
    trace_events: int | None = None
    extra_bytes = 0
    max_delay: int | None
    if kind == "timing":
        max_delay = _timing_max_delay(model, K, F)
        if model.reads == "inconsistent":
            # torn positions per write: writes by the other workers during the read time, (P - 1) E[read] / E[job]
            r_mean = src.read.mean
            job = min(
                src.read.mean + law.mean / s + src.write.mean
                for law, s in zip(src.compute, src.speeds, strict=True)
            )
            per = (P - 1) * (r_mean / job if job > 0 else 1.0)
            torn = min(float(P), 1.25 * per + 1.0)
        extra = 16 * max((len(law.values) if law.values is not None else 0) for law in src.compute)
    elif kind == "abstract":
        max_delay, delay_table = _abstract_max_delay(src, K, F)
        if model.reads == "inconsistent":  # w ~ Uniform{0..min(d, B)} torn positions per write
            torn = min(float(B), max(_delay_mean(law) for law in src.delay)) / 2.0 + 1.0
    elif kind == "periodic":
        max_delay = min(src.delay, K - 1)
        concurrency = math.ceil((src.delay + 1) / P)
    else:  # trace: the recorded delays (bounded by K); every draw loads the whole file
        max_delay = K - 1
        trace_events, extra_bytes = _trace_size(src)
    return estimate_simulation_bytes(
        n, P, B, K, R, in_flight=F, n_ckpt=n_ckpt, probes=probes, probe_x=probe_x, n_tail=n_tail,
        torn=torn, threads=threads, max_delay=max_delay, source=kind,
        shared=model.blocks.ownership == "shared", write_owned=model.blocks.write == "owned",
        per_worker_buffers=getattr(iteration, "buffers", "block") == "worker", concurrency=concurrency,
        delay_table=delay_table, extra_draw_per_worker=extra, schedule_events=trace_events,
        extra_draw_bytes=extra_bytes,
    )  # fmt: skip


# --- memory available and the check -----------------------------------------------------------


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_available() -> int | None:
    """Room left under a cgroup v2 memory limit (containers), or None when unlimited/unknown."""
    try:
        with open("/proc/self/cgroup", encoding="ascii") as fh:
            rel = next((ln.strip().split(":", 2)[2] for ln in fh if ln.startswith("0::")), None)
        if rel is None:
            return None
        base = "/sys/fs/cgroup" + rel.rstrip("/")
        with open(base + "/memory.max", encoding="ascii") as fh:
            limit = fh.read().strip()
        if limit == "max":
            return None
        with open(base + "/memory.current", encoding="ascii") as fh:
            current = int(fh.read().strip())
        return max(0, int(limit) - current)
    except (OSError, ValueError, IndexError):
        return None


def _rlimit_available() -> int | None:
    """Address space left under ``ulimit -v`` (RLIMIT_AS), or None when unlimited."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY or soft < 0:
            return None
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return max(0, soft - int(line.split()[1]) * 1024)
    except (ImportError, OSError, ValueError, IndexError):
        return None
    return None


def available_bytes() -> int:
    """Memory this process can still use: /proc/meminfo MemAvailable (fallback: free physical
    pages from ``os.sysconf``), lowered to the room left under a cgroup memory limit and under
    ``ulimit -v`` when those are set."""
    avail = _meminfo_available()
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    candidates = [a for a in (avail, _cgroup_available(), _rlimit_available()) if a is not None]
    if not candidates:
        return 1 << 62  # unknown: do not refuse
    return int(min(candidates))


def format_bytes(b: float) -> str:
    """About-sized bytes: ``93 GiB``, ``1.5 GiB``, ``640 MiB``, ``12 KiB``."""
    b = float(b)
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= size:
            v = b / size
            return f"{v:.1f} {unit}" if v < 10 else f"{v:,.0f} {unit}"
    return f"{int(b)} bytes"


def check_fits(
    estimate: Mapping[str, Any],
    *,
    max_bytes: int | None = None,
    what: str = "run",
    fields: Mapping[str, str] | None = None,
    override: str | None = "--max-memory",
) -> None:
    """Raise :class:`ConfigError` when ``estimate["total"]`` exceeds ``max_bytes`` (default:
    :func:`available_bytes`).

    The error's field is the user-facing name of ``estimate["largest"]`` (``fields`` maps parameter
    names, e.g. ``{"replicas": "--replicas"}`` or ``{"replicas": "study.batch"}``; unmapped names
    are used as they are) and its message one line, e.g. ``the run needs about 93 GiB (drawn
    schedules: events x 20 replicas in flight); this machine has 21 GiB available; lower it or use
    --max-memory``. ``override`` names the option that sets ``max_bytes`` (None: not mentioned).
    """
    total = int(estimate["total"])
    limit = available_bytes() if max_bytes is None else int(max_bytes)
    if total <= limit:
        return
    largest = str(estimate.get("largest", ""))
    field = (fields or {}).get(largest, largest)
    where = (
        f"this machine has {format_bytes(limit)} available"
        if max_bytes is None
        else f"the limit is {format_bytes(limit)}"
    )
    fix = "lower it" + (f" or use {override}" if override else "")
    raise ConfigError(
        field,
        f"the {what} needs about {format_bytes(total)} ({estimate.get('why', largest)}); {where}; {fix}",
    )
