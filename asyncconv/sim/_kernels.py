"""The jitted replay kernel: one schedule, one replica, every iteration variant.

Private: call :func:`asyncconv.sim.simulate` / :func:`asyncconv.sim.replay`. The kernel is a bare
loop over explicit arrays. The problem arrives as two first-class functions of the fixed signatures
of :mod:`asyncconv._jit` (``fvalue(prm, data, x)``, ``fgrad(prm, data, x, lo, hi, idx, out)``): the
kernel compiles once for every problem, and each problem's functions compile on their own.

History memory is O(n + L·W): the current iterate x (n), and an undo log holding, for each of the
last L writes (L = the largest delay + 1), the coordinate range it wrote and the values it
overwrote (W = the widest write). The point x̂^k a write was computed from is rebuilt on the
coordinates its subgradient reads: start from the current x and walk the log back from write k - 1
to the oldest version read; a write w overwrote coordinate c *after* the read of block β(c) iff
w >= v_β(k), in which case the value it overwrote is the one the read saw (the oldest such w wins).

All randomness (gradient noise, minibatch indices, per-worker step factors) is the counter-based
generator keyed by the replica key and the write index k, so a replica is reproduced bit for bit by
any thread count or replica batching.
"""

from __future__ import annotations

import math

import numpy as np

from asyncconv._jit import jit
from asyncconv.rng import normal, stream_seed, uniform

# metric columns of the trajectory array
M_K, M_T, M_FGAP, M_DIST, M_GNORM, M_UNORM, M_VEL, M_STALE, M_F, M_AGE = range(10)
N_METRICS = 10
# age: max of γ_k · (k - oldest version read) over the writes since the previous checkpoint, the
# step x delay product whose vanishing the theory assumes (measures.md §8.4.5)
METRIC_NAMES = ("k", "t", "f_gap", "dist", "gnorm", "unorm", "velocity", "staleness", "f", "age")

STATUS_FINISHED, STATUS_DIVERGED = 0, 1
_S_NOISE, _S_BATCH, _S_FACTOR = 0, 1, 2
_DIVERGE = 1e12  # |x_c| beyond this is treated as divergence (before floats overflow)


@jit
def _step(g0, p, nu0, clock, nu):
    if clock == 3:  # constant
        return g0
    return g0 / (nu + nu0) ** p


@jit
def _nu(clock, k, writer_count, block_count):
    if clock == 1:
        return float(k)
    if clock == 2:
        return float(block_count)
    return float(writer_count)


@jit
def _write_range(b, c, block_off, own_b0, own_b1):
    """Coordinate range [lo, hi) written by a write of block b (-1: writer c's owned set)."""
    if b >= 0:
        return block_off[b], block_off[b + 1], b
    return block_off[own_b0[c]], block_off[own_b1[c]], own_b0[c]


@jit
def _full_gradient_norm(fgrad, prm, data, x, gfull, idx0):
    fgrad(prm, data, x, 0, x.shape[0], idx0, gfull)
    s = 0.0
    for i in range(x.shape[0]):
        s += gfull[i] * gfull[i]
    return math.sqrt(s)


@jit
def _distance(x, crit):
    """min_c ||x - crit[c]|| (absolute), NaN when no critical point is catalogued."""
    best = np.inf
    for c in range(crit.shape[0]):
        s = 0.0
        for i in range(x.shape[0]):
            d = x[i] - crit[c, i]
            s += d * d
        best = min(best, s)
    return math.sqrt(best) if crit.shape[0] > 0 else np.nan


@jit
def _record(row, k, t, fvalue, fgrad, prm, data, x, f_ref, crit, u, xprev, tprev, stale, gfull, idx0, age):
    n = x.shape[0]
    row[M_AGE] = age
    f = fvalue(prm, data, x)
    row[M_K] = k
    row[M_T] = t
    row[M_F] = f
    row[M_FGAP] = f - f_ref  # NaN when no reference value is known
    row[M_DIST] = _distance(x, crit)
    row[M_GNORM] = _full_gradient_norm(fgrad, prm, data, x, gfull, idx0)
    s = 0.0
    for r in range(u.shape[0]):
        for i in range(n):
            s += u[r, i] * u[r, i]
    row[M_UNORM] = math.sqrt(s)
    s = 0.0
    for i in range(n):
        d = x[i] - xprev[i]
        s += d * d
        xprev[i] = x[i]
    row[M_VEL] = math.sqrt(s) / (t - tprev) if t > tprev else 0.0
    row[M_STALE] = stale


@jit
def _rebuild(x, y, a, e, k, v_lo, hist_len, log_lo, log_hi, log_val, cut_ptr, cut, coord_block, vblock):
    """x̂^k on coordinates [a, e) into y: x there, with every write made after the read of its
    block undone (the undo log walked back from write k - 1 to the oldest version read; the
    oldest undo wins). ``vblock`` is scratch for the per-block versions of a torn read."""
    for i in range(a, e):
        y[i] = x[i]
    torn = cut_ptr[k + 1] > cut_ptr[k]
    if torn:
        for bb in range(coord_block[a], coord_block[e - 1] + 1):
            v = v_lo
            for q in range(cut_ptr[k], cut_ptr[k + 1]):
                if cut[q] <= bb:
                    v += 1
            vblock[bb] = v
    for w in range(k - 1, v_lo - 1, -1):
        slot = w % hist_len
        wl = max(log_lo[slot], a)
        wh = min(log_hi[slot], e)
        for i in range(wl, wh):
            if (not torn) or vblock[coord_block[i]] <= w:
                y[i] = log_val[slot, i - log_lo[slot]]


@jit
def _probe(row, xrow, k, t, fvalue, prm, data, x, u, crit):
    """A probe: (k, t, f, ||u||, dist) after write k - 1, and x when ``xrow`` has room for it (n,
    not 0). The distance to the catalogued critical points is recorded at the probes too, because
    the probes are uniform in ODE time: the verdicts judge the late trajectory from them."""
    row[0] = k
    row[1] = t
    row[2] = fvalue(prm, data, x)
    s = 0.0
    for r in range(u.shape[0]):
        for i in range(x.shape[0]):
            s += u[r, i] * u[r, i]
    row[3] = math.sqrt(s)
    row[4] = _distance(x, crit)
    if xrow.shape[0] == x.shape[0]:
        for i in range(x.shape[0]):
            xrow[i] = x[i]


@jit
def prepare(key, writer, block, block_off, own_b0, own_b1, factor_low, g0, p, nu0, clock, n_ckpt):
    """Pass 1: per-worker step factors, the steps γ_k and the checkpoint ratio.

    The factor of worker c is drawn once per replica, f_c = f_low + (1 - f_low) U(key, c). Returns
    (steps[K], t_first, ratio, T) with checkpoints τ_j = t_first · ratio^(j - 1), j = 1..n_ckpt, the
    last one the horizon T = Σ γ_k (summed in write order, as the replay's clock).
    """
    K = writer.shape[0]
    P = own_b0.shape[0]
    B = block_off.shape[0] - 1
    s_factor = stream_seed(key, _S_FACTOR)
    factor = np.empty(P)
    for c in range(P):
        factor[c] = factor_low + (1.0 - factor_low) * uniform(s_factor, c) if factor_low < 1.0 else 1.0
    wcount = np.zeros(P, dtype=np.int64)
    bcount = np.zeros(B, dtype=np.int64)
    t = 0.0
    t_first = 0.0
    steps = np.empty(K)  # γ_k, computed once (the power is the costliest operation of a write)
    for k in range(K):
        c = writer[k]
        _lo, _hi, b0 = _write_range(block[k], c, block_off, own_b0, own_b1)
        steps[k] = factor[c] * _step(g0, p, nu0, clock, _nu(clock, k, wcount[c], bcount[b0]))
        t += steps[k]
        if k == 0:
            t_first = t
        wcount[c] += 1
        bcount[b0] += 1
    ratio = (t / t_first) ** (1.0 / max(n_ckpt - 1, 1)) if t_first > 0.0 else 1.0
    return steps, t_first, ratio, t


@jit
def start(fvalue, fgrad, prm, data, x0, f_ref, crit, u, t_first, out_metrics, clock_state):
    """Fill the trajectory with NaN, record the start (row 0) and reset the clock state."""
    for j in range(out_metrics.shape[0]):
        for q in range(N_METRICS):
            out_metrics[j, q] = np.nan
    xprev = x0.copy()
    gfull = np.empty(x0.shape[0])
    _record(out_metrics[0], 0, 0.0, fvalue, fgrad, prm, data, x0, f_ref, crit, u, xprev, 0.0, 0.0, gfull,
            np.empty(0, dtype=np.int64), 0.0)  # fmt: skip
    clock_state[0] = 0.0  # t
    clock_state[1] = 0.0  # t at the previous checkpoint
    clock_state[2] = t_first  # next checkpoint time τ
    clock_state[3] = 1.0  # next checkpoint row
    clock_state[4] = 0.0  # next probe
    clock_state[5] = 0.0  # max γ·delay since the previous checkpoint
    clock_state[6] = np.nan  # ODE time after write K // 2 (how much clock the second half adds)


@jit
def advance(
    fvalue, fgrad, prm, data, f_ref, crit, halo, n_samples,
    block_off, coord_block, own_b0, own_b1,
    writer, block, read_lo, cut_ptr, cut, hist_len, max_width,
    momentum, mcoef, per_worker, noise, noise_scale, noise_df, batch, key, n_ckpt,
    steps, ratio, k_start, k_stop, probe_t, tail_from,
    x, u, log_lo, log_hi, log_val, xprev, clock_state, out_metrics, out_counts,
    out_probe, out_probe_x, out_tail,
):  # fmt: skip
    """Pass 2: apply writes ``k_start .. k_stop - 1``, updating the state arrays in place.

    State: ``x[n]``, ``u[P or 1, n]``, the undo log ``log_lo/log_hi[L]``, ``log_val[L, W]``,
    ``xprev[n]`` (iterate at the previous checkpoint), ``clock_state = (t, t_prev, τ, next row,
    next probe, max γ·delay since the last row, t after write K // 2)``, ``out_metrics`` and ``out_counts``. Stopping at any k and continuing from the
    same arrays gives the same bits as one call: every random number is a function of (key, k).

    Probes (for window and shadowing checks): ``out_probe[q] = (k, t, f, ||u||)`` at the first write
    whose ODE time reaches ``probe_t[q]`` (sorted), and the iterate in ``out_probe_x[q]`` when that
    array has n columns (0 columns: not stored). Tail (for the trajectory certificate): ``out_tail[k - tail_from]`` is the
    whole read point x̂^k of each write k >= tail_from.
    Returns (status, writes applied so far).
    """
    n = x.shape[0]
    K = writer.shape[0]
    B = block_off.shape[0] - 1
    xhat = x.copy()
    gfull = np.empty(n)
    g = np.empty(max_width)
    vblock = np.empty(B, dtype=np.int64)
    idx = np.empty(batch if n_samples > 0 else 0, dtype=np.int64)
    idx0 = np.empty(0, dtype=np.int64)
    s_noise = stream_seed(key, _S_NOISE)
    s_batch = stream_seed(key, _S_BATCH)
    t = clock_state[0]
    t_prev = clock_state[1]
    tau = clock_state[2]
    next_ckpt = int(clock_state[3])
    next_probe = int(clock_state[4])
    age = clock_state[5]
    n_probe = probe_t.shape[0]
    status = STATUS_FINISHED
    done = k_stop
    a = 0
    e = 0
    stale = 0.0
    overlap = False
    for k in range(k_start, k_stop):
        c = writer[k]
        lo, hi, _b0 = _write_range(block[k], c, block_off, own_b0, own_b1)
        width = hi - lo
        # coordinates the subgradient reads
        if halo < 0:
            a, e = 0, n
        else:
            a, e = max(lo - halo, 0), min(hi + halo, n)
        # x̂ on [a, e): current values, then undo writes made after each block's read. Most writes
        # read no coordinate that changed since their read: then x̂ = x there and nothing is copied.
        v_lo = read_lo[k]
        overlap = False
        for w in range(k - 1, v_lo - 1, -1):
            slot = w % hist_len
            if log_lo[slot] < e and log_hi[slot] > a:
                overlap = True
                break
        src = x
        if overlap:
            _rebuild(
                x, xhat, a, e, k, v_lo, hist_len, log_lo, log_hi, log_val, cut_ptr, cut, coord_block, vblock
            )
            src = xhat
        if k >= tail_from:
            _rebuild(x, out_tail[k - tail_from], 0, n, k, v_lo, hist_len, log_lo, log_hi, log_val, cut_ptr,
                     cut, coord_block, vblock)  # fmt: skip
        # stochastic subgradient on [lo, hi)
        if n_samples > 0:
            for j in range(batch):
                q = int(uniform(s_batch, k * batch + j) * n_samples)
                idx[j] = min(q, n_samples - 1)
        fgrad(prm, data, src, lo, hi, idx, g)
        if noise == 1:
            for j in range(width):
                g[j] += noise_scale * normal(s_noise, k * n + lo + j)
        elif noise == 2:  # Student t with noise_df degrees of freedom, scaled
            for j in range(width):
                base = (k * n + lo + j) * (noise_df + 1)
                z = normal(s_noise, base)
                chi = 0.0
                for r in range(noise_df):
                    zz = normal(s_noise, base + 1 + r)
                    chi += zz * zz
                g[j] += noise_scale * z / math.sqrt(chi / noise_df)
        gamma = steps[k]
        t += gamma
        age = max(age, gamma * (k - v_lo))
        if k == K // 2:
            clock_state[6] = t
        # staleness ||x̂ - x|| before this write, needed only when a row is recorded after it
        if overlap and ((next_ckpt < n_ckpt and t >= tau) or k == K - 1):
            stale = 0.0
            for i in range(a, e):
                stale += (xhat[i] - x[i]) ** 2
            stale = math.sqrt(stale)
        else:
            stale = 0.0
        row = c if per_worker else 0
        slot = k % hist_len
        log_lo[slot] = lo
        log_hi[slot] = hi
        for j in range(width):  # the undo log: values this write overwrites
            log_val[slot, j] = x[lo + j]
        # one loop per momentum form, so that the branch is hoisted out of the coordinate loop
        if momentum == 0:  # heavy ball
            for j in range(width):
                i = lo + j
                u[row, i] = mcoef * u[row, i] + g[j]
                x[i] -= gamma * u[row, i]
        elif momentum == 1:  # ema
            for j in range(width):
                i = lo + j
                u[row, i] = mcoef * u[row, i] + (1.0 - mcoef) * g[j]
                x[i] -= gamma * u[row, i]
        elif momentum == 2:  # nesterov
            for j in range(width):
                i = lo + j
                u[row, i] = mcoef * u[row, i] + g[j]
                x[i] -= gamma * (g[j] + mcoef * u[row, i])
        elif momentum == 3:  # single-timescale averaging
            for j in range(width):
                i = lo + j
                u[row, i] = u[row, i] + mcoef * gamma * (g[j] - u[row, i])
                x[i] -= gamma * u[row, i]
        else:
            for j in range(width):
                x[lo + j] -= gamma * g[j]
        bad = False
        for j in range(width):
            if not (abs(x[lo + j]) < _DIVERGE):
                bad = True
        for bb in range(coord_block[lo], coord_block[hi - 1] + 1):
            out_counts[bb] += 1
        if bad:
            status = STATUS_DIVERGED
            done = k + 1
            break
        while next_ckpt < n_ckpt and t >= tau:
            _record(out_metrics[next_ckpt], k + 1, t, fvalue, fgrad, prm, data, x, f_ref, crit, u, xprev, t_prev,
                    stale, gfull, idx0, age)  # fmt: skip
            age = 0.0
            t_prev = t
            next_ckpt += 1
            tau *= ratio
        while next_probe < n_probe and t >= probe_t[next_probe]:
            _probe(out_probe[next_probe], out_probe_x[next_probe], k + 1, t, fvalue, prm, data, x, u, crit)
            next_probe += 1
    if status == STATUS_FINISHED and k_stop == K and K > 0 and k_start < K:
        _record(out_metrics[n_ckpt], K, t, fvalue, fgrad, prm, data, x, f_ref, crit, u, xprev, t_prev,
                stale, gfull, idx0, age)  # fmt: skip
    clock_state[0] = t
    clock_state[1] = t_prev
    clock_state[2] = tau
    clock_state[3] = next_ckpt
    clock_state[4] = next_probe
    clock_state[5] = age
    return status, done


@jit(nogil=True)
def replay_one(
    fvalue, fgrad, prm, data, x0, f_ref, crit, halo, n_samples,
    block_off, coord_block, own_b0, own_b1,
    writer, block, read_lo, cut_ptr, cut, hist_len, max_width,
    momentum, mcoef, per_worker, g0, p, nu0, clock, factor_low,
    noise, noise_scale, noise_df, batch, key, n_ckpt, probe_frac,
    out_metrics, out_x, out_counts, out_probe, out_probe_x, out_tail, out_clock,
):  # fmt: skip
    """Replay one schedule (K writes) through the iteration for one replica.

    Writes ``out_metrics[n_ckpt + 1, N_METRICS]`` (row 0: the start; row j >= 1: the first write
    whose ODE time t_k = Σ γ reaches τ_j, τ geometric from the first step to the horizon T; the last
    row is the end), ``out_x[n]`` (final iterate), ``out_counts[B]`` (updates per block), the probes
    at ODE times ``probe_frac · T`` (``out_probe[Q, 4]``, ``out_probe_x[Q or 0, n]``) and the read
    points of the last M writes (``out_tail[M, n]``), and ``out_clock = (T, t after write K // 2)``.
    Returns (status, number of writes applied).

    Releases the GIL: :func:`asyncconv.sim.simulate` runs replicas on a thread pool (one compiled
    kernel for every thread count; a ``prange`` loop would compile the replay a second time).
    Each replica uses only its own key, so results do not depend on the number of threads.
    """
    P = own_b0.shape[0]
    n = x0.shape[0]
    steps, t_first, ratio, horizon = prepare(key, writer, block, block_off, own_b0, own_b1, factor_low, g0, p,
                                             nu0, clock, n_ckpt)  # fmt: skip
    probe_t = probe_frac * horizon
    for q in range(out_probe.shape[0]):
        for j in range(out_probe.shape[1]):
            out_probe[q, j] = np.nan
    for q in range(out_tail.shape[0]):
        for i in range(n):
            out_tail[q, i] = np.nan
    x = x0.copy()
    u = np.zeros((P if per_worker else 1, n))
    log_lo = np.zeros(hist_len, dtype=np.int64)
    log_hi = np.zeros(hist_len, dtype=np.int64)
    log_val = np.empty((hist_len, max_width))
    xprev = x0.copy()
    clock_state = np.empty(7)
    start(fvalue, fgrad, prm, data, x0, f_ref, crit, u, t_first, out_metrics, clock_state)
    out_counts[:] = 0
    status, done = advance(
        fvalue, fgrad, prm, data, f_ref, crit, halo, n_samples, block_off, coord_block, own_b0, own_b1,
        writer, block, read_lo, cut_ptr, cut, hist_len, max_width, momentum, mcoef, per_worker,
        noise, noise_scale, noise_df, batch, key, n_ckpt, steps, ratio, 0, writer.shape[0], probe_t,
        writer.shape[0] - out_tail.shape[0], x, u, log_lo, log_hi, log_val, xprev, clock_state, out_metrics,
        out_counts, out_probe, out_probe_x, out_tail,
    )  # fmt: skip
    for i in range(n):  # a loop, not out_x[:] = x: no shape-mismatch error path to compile
        out_x[i] = x[i]
    out_clock[0] = clock_state[0]
    out_clock[1] = clock_state[6]
    return status, done
