"""Slow, plain-Python reference implementations of the schedule generators.

These re-derive the schedules from their definitions (DESIGN §4.1–4.2, ``reference/model.md`` §3)
with nothing but ``heapq``, lists and the pure-Python RNG twins of :mod:`asyncconv.rng`, so that
comparing them with the Numba kernels checks the kernels *and* the jitted RNG bit for bit.

Timing model (``timing_reference``)
    Worker c owns random streams ``py_stream_seed(key, 8 c + s)`` for s = 0 compute, 1 block,
    2 read, 3 write, 4 pause coin, 5 pause duration. Its job j starts when job j - 1 completes
    (job 0 at t = 0): if j > 0 and ``U(coin, j) < pause_prob`` it first pauses; then it reads for
    R, computes for C / speed[c] and writes for W. The block is chosen when the job starts. Writes
    are numbered in (completion time, worker id) order; write k saw version
    v(x) = #{w < k : t_write[w] <= x} at instant x; a consistent read is at x = t_read, a torn read
    reads block j at t_read + R (j + 1) / B.

Durations use uniforms ``64 j + offset`` of their stream (``laws._sample_time``). Only the laws
whose sampler needs no libm call beyond ``log``/``pow`` are reproduced (deterministic,
exponential, uniform, pareto, empirical); gamma and lognormal raise ``NotImplementedError``.
"""

from __future__ import annotations

import heapq
import math

from asyncconv.rng import py_stream_seed, py_uniform

__all__ = [
    "EXACT_TIME_LAWS",
    "abstract_reference",
    "block_versions_reference",
    "owned_sets",
    "periodic_reference",
    "read_versions_reference",
    "sample_time_reference",
    "timing_reference",
]

#: time laws this reference reproduces exactly
EXACT_TIME_LAWS = ("deterministic", "exponential", "uniform", "pareto", "empirical")

S_COMPUTE, S_BLOCK, S_READ, S_WRITE, S_PAUSE_COIN, S_PAUSE = range(6)
COUNTERS_PER_DRAW = 64


def sample_time_reference(law, seed: int, j: int) -> float:
    """Job ``j``'s draw of a :class:`~asyncconv.schedule.laws.TimeLaw` from stream ``seed``."""
    u = py_uniform(seed, j * COUNTERS_PER_DRAW)  # every exact law uses the first uniform only
    m, s = law.mean, law.shape
    if law.law == "deterministic":
        return m
    if law.law == "exponential":
        return -m * math.log(u)
    if law.law == "uniform":
        return m * ((1.0 - s) + (2.0 * s) * u)
    if law.law == "pareto":
        return ((m * (s - 1.0)) / s) * (u ** (-1.0 / s))
    if law.law == "empirical":
        n = len(law.values)
        return float(law.values[min(int(u * n), n - 1)])
    raise NotImplementedError(f"the reference does not reproduce the {law.law} law bit for bit")


def owned_sets(n_workers: int, n_blocks: int, ownership: str) -> list[list[int]]:
    """Blocks owned by each worker: all of them (shared) or contiguous balanced runs, larger first."""
    if ownership == "shared":
        return [list(range(n_blocks)) for _ in range(n_workers)]
    assert n_blocks >= n_workers
    out, start = [], 0
    for c in range(n_workers):
        size = n_blocks // n_workers + (1 if c < n_blocks % n_workers else 0)
        out.append(list(range(start, start + size)))
        start += size
    assert start == n_blocks
    return out


def _cumulative(weights: list[float]) -> list[float]:
    total, acc = 0.0, []
    for w in weights:
        total += w
        acc.append(total)
    cum = [a / total for a in acc]
    cum[-1] = 1.0
    return cum


def timing_reference(model, n_events: int, key: int) -> dict[str, list]:
    """Draw ``n_events`` writes of a timing ``ScheduleModel`` under kernel key ``key``.

    Returns plain lists ``writer, block, read_lo, read_hi, t_read, t_write, cut_ptr, cut``.
    """
    src = model.source
    P, B = model.n_workers, model.blocks.n_blocks
    owned = owned_sets(P, B, model.blocks.ownership)
    weights = model.blocks.weights or (1.0,) * B
    cum = [_cumulative([weights[b] for b in own]) for own in owned]
    seeds = [[py_stream_seed(key, 8 * c + s) for s in range(6)] for c in range(P)]
    inconsistent = model.reads == "inconsistent"

    def start_job(c: int, t: float, j: int) -> tuple[float, float, float, int]:
        """(t_read, R, completion time, block) of job j of worker c, started at time t."""
        if src.pause_prob > 0.0 and j > 0 and py_uniform(seeds[c][S_PAUSE_COIN], j) < src.pause_prob:
            t = t + sample_time_reference(src.pause, seeds[c][S_PAUSE], j)
        R = sample_time_reference(src.read, seeds[c][S_READ], j)
        C = sample_time_reference(src.compute[c], seeds[c][S_COMPUTE], j) / src.speeds[c]
        W = sample_time_reference(src.write, seeds[c][S_WRITE], j)
        own = owned[c]
        if model.blocks.write == "owned":
            b = -1
        elif len(own) == 1:
            b = own[0]
        elif model.blocks.selection == "cyclic":
            b = own[j % len(own)]
        else:
            u = py_uniform(seeds[c][S_BLOCK], j)
            b = next((own[i] for i in range(len(own)) if cum[c][i] >= u), own[-1])
        return t, R, t + R + C + W, b

    job = [0] * P
    in_flight = [start_job(c, 0.0, 0) for c in range(P)]
    heap = [(in_flight[c][2], c) for c in range(P)]
    heapq.heapify(heap)
    out: dict[str, list] = {k: [] for k in ("writer", "block", "read_lo", "read_hi", "t_read", "t_write")}
    cut_ptr, cut = [0], []
    t_write = out["t_write"]
    for k in range(n_events):
        t, c = heapq.heappop(heap)
        tr, R, done, b = in_flight[c]
        assert done == t
        lo = sum(1 for w in range(k) if t_write[w] <= tr)
        hi = lo
        if inconsistent and R > 0.0:
            hi = sum(1 for w in range(k) if t_write[w] <= tr + R)
            prev = 0
            for w in range(lo, hi):
                j = math.ceil(B * (t_write[w] - tr) / R) - 1
                j = max(min(max(j, 0), B - 1), prev)
                cut.append(j)
                prev = j
        out["writer"].append(c)
        out["block"].append(b)
        out["read_lo"].append(lo)
        out["read_hi"].append(hi)
        out["t_read"].append(tr)
        t_write.append(t)
        cut_ptr.append(len(cut))
        job[c] += 1
        in_flight[c] = start_job(c, t, job[c])
        heapq.heappush(heap, (in_flight[c][2], c))
    out["cut_ptr"] = cut_ptr
    out["cut"] = cut
    return out


def periodic_reference(model, n_events: int) -> dict[str, list]:
    """Round robin: write k by worker k mod P, cycling its owned blocks; reads version k - delay."""
    P, B = model.n_workers, model.blocks.n_blocks
    owned = owned_sets(P, B, model.blocks.ownership)
    d = model.source.delay
    out: dict[str, list] = {k: [] for k in ("writer", "block", "read_lo", "read_hi", "t_read", "t_write")}
    for k in range(n_events):
        c = k % P
        lo = max(k - d, 0)
        out["writer"].append(c)
        out["block"].append(-1 if model.blocks.write == "owned" else owned[c][(k // P) % len(owned[c])])
        out["read_lo"].append(lo)
        out["read_hi"].append(lo)
        out["t_read"].append(float(lo))
        out["t_write"].append(float(k + 1))
    out["cut_ptr"] = [0] * (n_events + 1)
    out["cut"] = []
    return out


def _delay_reference(law, u: float) -> int:
    """Inverse-CDF draw of a :class:`~asyncconv.schedule.laws.DelayLaw` from the uniform ``u``."""
    if law.max is None and law.law == "geometric":  # floor(log U / log q), q = mean / (1 + mean)
        if law.mean == 0.0:
            return 0
        return int(min(math.floor(math.log(u) / math.log(law.mean / (1.0 + law.mean))), 4.0e18))
    if law.max is None and law.law == "pareto":  # discretised Lomax
        return int(min(math.floor(law.scale * (u ** (-1.0 / law.tail) - 1.0)), 4.0e18))
    cdf = law.table()
    return next((i for i in range(len(cdf)) if cdf[i] >= u), len(cdf) - 1)


def abstract_reference(model, n_events: int, key: int) -> dict[str, list]:
    """Draw ``n_events`` writes of an abstract ``ScheduleModel`` (see ``AbstractModel``).

    Streams of ``key``: 0 block, 1 writer, 2 delay, 3 torn-read width, 4 cut positions (counter
    = running number of cut positions); the other streams use counter k.
    """
    src = model.source
    P, B = model.n_workers, model.blocks.n_blocks
    owned = owned_sets(P, B, model.blocks.ownership)
    owner = {b: c for c in range(P) for b in owned[c]} if model.blocks.ownership == "partitioned" else None
    s_block, s_writer, s_delay, s_width, s_cut = (py_stream_seed(key, s) for s in range(5))
    writer_cum, acc = [], 0.0
    for p in src.writer_probs or [1.0 / P] * P:
        acc += p
        writer_cum.append(acc)
    writer_cum[-1] = 1.0
    out: dict[str, list] = {k: [] for k in ("writer", "block", "read_lo", "read_hi", "t_read", "t_write")}
    cut_ptr, cut = [0], []
    prev = None
    for k in range(n_events):
        if src.block_transition is not None and prev is not None:
            w = list(src.block_transition[prev])
        else:
            w = list(src.block_probs or [1.0 / B] * B)
        if src.starve_exponent > 0.0:
            w[src.starve_block] *= (k + 1.0) ** (-src.starve_exponent)
        acc, total = [], 0.0
        for x in w:
            total += x
            acc.append(total)
        u = py_uniform(s_block, k) * total
        b = next((i for i in range(B) if acc[i] >= u), max(i for i in range(B) if w[i] > 0.0))
        prev = b
        if owner is not None:
            c = owner[b]
        else:
            u = py_uniform(s_writer, k)
            c = next((i for i in range(P) if writer_cum[i] >= u), P - 1)
        d = _delay_reference(src.delay[b], py_uniform(s_delay, k))
        lo = max(k - d, 0)
        hi = lo
        if model.reads == "inconsistent":
            span = min(k - lo, B)
            hi = lo + min(int(py_uniform(s_width, k) * (span + 1)), span)
        cut.extend(sorted(min(int(py_uniform(s_cut, len(cut) + i) * B), B - 1) for i in range(hi - lo)))
        cut_ptr.append(len(cut))
        out["writer"].append(c)
        out["block"].append(-1 if model.blocks.write == "owned" else b)
        out["read_lo"].append(lo)
        out["read_hi"].append(hi)
        out["t_read"].append(float(lo))
        out["t_write"].append(k + 1.0)
    out["cut_ptr"] = cut_ptr
    out["cut"] = cut
    return out


def block_versions_reference(read_lo, read_hi, cut_ptr, cut, j: int) -> list[int]:
    """v_j(k) = read_lo[k] + #{w in [read_lo[k], read_hi[k]) : cut_w <= j}, from the definition."""
    out = []
    for k in range(len(read_lo)):
        row = [int(cut[i]) for i in range(int(cut_ptr[k]), int(cut_ptr[k + 1]))]
        assert len(row) == read_hi[k] - read_lo[k]
        out.append(int(read_lo[k]) + sum(1 for x in row if x <= j))
    return out


def read_versions_reference(read_lo, read_hi, cut_ptr, cut, n_blocks: int) -> list[list[int]]:
    """Per-block versions, rows k and columns j."""
    cols = [block_versions_reference(read_lo, read_hi, cut_ptr, cut, j) for j in range(n_blocks)]
    return [[cols[j][k] for j in range(n_blocks)] for k in range(len(read_lo))]
