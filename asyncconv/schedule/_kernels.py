"""Numba kernels that draw schedules. Private: call :func:`asyncconv.schedule.draw_schedule`.

The kernels are bare loops over explicit arrays (validation, packing and seeding live in
``draw.py``). All randomness is the counter-based generator of :mod:`asyncconv.rng`, keyed by
(worker stream, job index) or (event index), so

* the first M events of a draw of N >= M events equal a draw of M events (prefix stability);
* permuting every per-worker input (speeds, laws, owned sets and stream ids) permutes the writers
  and nothing else, up to ties in time, broken by worker id;
* the same key gives the same bits on every run and machine.
"""

from __future__ import annotations

import math

import numpy as np

from asyncconv._jit import jit
from asyncconv.rng import stream_seed, uniform
from asyncconv.schedule.laws import _sample_delay, _sample_time

# Streams of a worker in the timing model: stream id = 8 * worker_stream + purpose.
_S_COMPUTE, _S_BLOCK, _S_READ, _S_WRITE, _S_PAUSE_COIN, _S_PAUSE = range(6)


# --- a binary min-heap on (time, worker) ---------------------------------------------------------


@jit(inline="always")
def _less(t, w, i, j):
    return t[i] < t[j] or (t[i] == t[j] and w[i] < w[j])


@jit
def _sift_down(t, w, i, n):
    while True:
        left = 2 * i + 1
        if left >= n:
            return
        m = left
        right = left + 1
        if right < n and _less(t, w, right, left):
            m = right
        if _less(t, w, m, i):
            t[i], t[m] = t[m], t[i]
            w[i], w[m] = w[m], w[i]
            i = m
        else:
            return


@jit
def _heapify(t, w):
    n = len(t)
    for i in range(n // 2 - 1, -1, -1):
        _sift_down(t, w, i, n)


@jit(inline="always")
def _count_upto(t_write, start, stop, x):
    """Number of leading writes with t_write <= x, given that it is at least ``start``.

    ``t_write[:stop]`` is sorted; galloping search from ``start``, O(log(answer - start)).
    """
    if start >= stop or t_write[start] > x:
        return start
    step = 1
    lo = start  # t_write[lo] <= x
    hi = start + 1
    while hi < stop and t_write[hi] <= x:
        lo = hi
        step *= 2
        hi = lo + step
    if hi > stop:
        hi = stop
    # invariant: t_write[lo] <= x, and hi == stop or t_write[hi] > x
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if t_write[mid] <= x:
            lo = mid
        else:
            hi = mid
    return hi


@jit
def _grow(a, need):
    cap = len(a)
    while cap < need:
        cap *= 2
    out = np.empty(cap, dtype=a.dtype)
    out[: len(a)] = a
    return out


# --- event-driven worker timing -----------------------------------------------------------------


@jit(nogil=True)
def _draw_timing(
    n_events,
    key,
    worker_stream,
    law_params,
    law_values,
    compute_law,
    read_law,
    write_law,
    pause_law,
    pause_prob,
    speed,
    own_ptr,
    own_blocks,
    own_cum,
    cyclic,
    write_owned,
    inconsistent,
    n_blocks,
):
    """Simulate P workers until ``n_events`` writes have completed.

    Worker c, job j (j = 0, 1, ...): pause (j >= 1, with probability ``pause_prob``), read for R,
    compute for C / speed[c], write for W; the write completes at t_read + R + C / speed[c] + W.
    Writes are indexed by completion order (ties: lower worker id first). The read of write k sees
    version v(x) = #{w < k : t_write[w] <= x} at instant x; consistent reads use x = t_read;
    inconsistent reads read block j at x_j = t_read + R (j + 1) / B.

    Returns writer, block, read_lo, read_hi, t_read, t_write, cut_ptr, cut (see ``Schedule``).
    """
    P = len(speed)
    B = n_blocks
    writer = np.empty(n_events, dtype=np.int32)
    block = np.empty(n_events, dtype=np.int32)
    read_lo = np.empty(n_events, dtype=np.int64)
    read_hi = np.empty(n_events, dtype=np.int64)
    t_read = np.empty(n_events, dtype=np.float64)
    t_write = np.empty(n_events, dtype=np.float64)
    cut_ptr = np.zeros(n_events + 1, dtype=np.int64)
    cut = np.empty(max(16, n_events // 4 if inconsistent else 16), dtype=np.int32)
    n_cut = 0

    seeds = np.empty((P, 6), dtype=np.uint64)
    for c in range(P):
        for s in range(6):
            seeds[c, s] = stream_seed(key, 8 * worker_stream[c] + s)
    read_zero = law_params[read_law, 0] == 0 and law_params[read_law, 1] == 0.0
    write_zero = law_params[write_law, 0] == 0 and law_params[write_law, 1] == 0.0

    job = np.zeros(P, dtype=np.int64)
    last = np.full(P, -1, dtype=np.int64)
    cur_read = np.zeros(P)  # t_read of the job in flight
    cur_dur = np.zeros(P)  # its read duration R
    cur_block = np.zeros(P, dtype=np.int32)
    heap_t = np.empty(P)
    heap_w = np.empty(P, dtype=np.int64)

    for c in range(P):
        heap_w[c] = c
        heap_t[c] = _start_job(
            c, 0.0, 0, seeds, law_params, law_values, compute_law, read_law, write_law, pause_law,
            pause_prob, speed, own_ptr, own_blocks, own_cum, cyclic, write_owned, read_zero,
            write_zero, cur_read, cur_dur, cur_block,
        )  # fmt: skip
    _heapify(heap_t, heap_w)

    for k in range(n_events):
        t = heap_t[0]
        c = heap_w[0]
        writer[k] = c
        block[k] = cur_block[c]
        t_write[k] = t
        tr = cur_read[c]
        t_read[k] = tr
        lo = _count_upto(t_write, last[c] + 1, k, tr)
        read_lo[k] = lo
        hi = lo
        R = cur_dur[c]
        if inconsistent and R > 0.0:
            hi = _count_upto(t_write, lo, k, tr + R)
            if n_cut + (hi - lo) > len(cut):
                cut = _grow(cut, n_cut + (hi - lo))
            prev = 0
            for w in range(lo, hi):
                x = math.ceil(B * (t_write[w] - tr) / R) - 1.0
                j = int(min(max(x, 0.0), B - 1.0))
                if j < prev:  # rounding guard: tears are monotone by construction
                    j = prev
                prev = j
                cut[n_cut] = j
                n_cut += 1
        read_hi[k] = hi
        cut_ptr[k + 1] = n_cut
        last[c] = k
        job[c] += 1
        heap_t[0] = _start_job(
            c, t, job[c], seeds, law_params, law_values, compute_law, read_law, write_law,
            pause_law, pause_prob, speed, own_ptr, own_blocks, own_cum, cyclic, write_owned,
            read_zero, write_zero, cur_read, cur_dur, cur_block,
        )  # fmt: skip
        _sift_down(heap_t, heap_w, 0, P)
    return writer, block, read_lo, read_hi, t_read, t_write, cut_ptr, cut[:n_cut].copy()


@jit(inline="always")
def _start_job(
    c, t, j, seeds, law_params, law_values, compute_law, read_law, write_law, pause_law,
    pause_prob, speed, own_ptr, own_blocks, own_cum, cyclic, write_owned, read_zero, write_zero,
    cur_read, cur_dur, cur_block,
):  # fmt: skip
    """Draw job ``j`` of worker ``c`` starting at time ``t``; return its completion time."""
    if pause_prob > 0.0 and j > 0 and uniform(seeds[c, _S_PAUSE_COIN], j) < pause_prob:
        t += _sample_time(law_params, law_values, pause_law, 1.0, seeds[c, _S_PAUSE], j)
    cur_read[c] = t
    R = 0.0 if read_zero else _sample_time(law_params, law_values, read_law, 1.0, seeds[c, _S_READ], j)
    cur_dur[c] = R
    C = _sample_time(law_params, law_values, compute_law[c], speed[c], seeds[c, _S_COMPUTE], j)
    W = 0.0 if write_zero else _sample_time(law_params, law_values, write_law, 1.0, seeds[c, _S_WRITE], j)
    a = own_ptr[c]
    n = own_ptr[c + 1] - a
    if write_owned:
        cur_block[c] = -1
    elif n == 1:
        cur_block[c] = own_blocks[a]
    elif cyclic:
        cur_block[c] = own_blocks[a + j % n]
    else:
        u = uniform(seeds[c, _S_BLOCK], j)
        i = 0
        while i < n - 1 and own_cum[a + i] < u:
            i += 1
        cur_block[c] = own_blocks[a + i]
    return t + R + C + W


# --- abstract delay laws --------------------------------------------------------------------------


@jit(nogil=True)
def _draw_abstract(
    n_events,
    key,
    block_probs,
    transition,
    use_transition,
    starve_block,
    starve_exponent,
    owner_of_block,
    writer_cum,
    write_owned,
    delay_params,
    delay_table,
    delay_law,
    inconsistent,
):
    """Draw block, writer and delay of each write from the stated laws (see ``AbstractModel``).

    Randomness for event k uses counter k of fixed streams, so prefixes are stable.
    """
    B = len(block_probs)
    writer = np.empty(n_events, dtype=np.int32)
    block = np.empty(n_events, dtype=np.int32)
    read_lo = np.empty(n_events, dtype=np.int64)
    read_hi = np.empty(n_events, dtype=np.int64)
    t_read = np.empty(n_events, dtype=np.float64)
    t_write = np.empty(n_events, dtype=np.float64)
    cut_ptr = np.zeros(n_events + 1, dtype=np.int64)
    cut = np.empty(max(16, n_events if inconsistent else 16), dtype=np.int32)
    n_cut = 0
    s_block = stream_seed(key, 0)
    s_writer = stream_seed(key, 1)
    s_delay = stream_seed(key, 2)
    s_delay2 = stream_seed(key, 3)
    s_cut = stream_seed(key, 4)
    w = np.empty(B)
    prev = -1
    for k in range(n_events):
        # block: static or Markov probabilities, with optional starvation of one block
        total = 0.0
        for b in range(B):
            p = transition[prev, b] if (use_transition and prev >= 0) else block_probs[b]
            if b == starve_block and starve_exponent > 0.0:
                p *= (k + 1.0) ** (-starve_exponent)
            w[b] = p
            total += p
        u = uniform(s_block, k) * total
        b = 0
        acc = w[0]
        while b < B - 1 and acc < u:
            b += 1
            acc += w[b]
        while w[b] == 0.0 and b > 0:  # never land on a zero-probability block through rounding
            b -= 1
        prev = b
        if owner_of_block[0] >= 0:
            c = owner_of_block[b]
        else:
            u = uniform(s_writer, k)
            c = 0
            while c < len(writer_cum) - 1 and writer_cum[c] < u:
                c += 1
        writer[k] = c
        block[k] = -1 if write_owned else b
        d = _sample_delay(delay_params, delay_table, delay_law[b], uniform(s_delay, k))
        lo = max(k - d, 0)
        hi = lo
        if inconsistent:  # the read spans up to min(d, B) versions, torn at uniform positions
            span = min(k - lo, B)
            hi = lo + min(int(uniform(s_delay2, k) * (span + 1)), span)
        read_lo[k] = lo
        read_hi[k] = hi
        t_read[k] = lo
        t_write[k] = k + 1.0
        m = hi - lo
        if m > 0:
            if n_cut + m > len(cut):
                cut = _grow(cut, n_cut + m)
            for i in range(m):
                cut[n_cut + i] = min(int(uniform(s_cut, n_cut + i) * B), B - 1)
            cut[n_cut : n_cut + m] = np.sort(cut[n_cut : n_cut + m])
            n_cut += m
        cut_ptr[k + 1] = n_cut
    return writer, block, read_lo, read_hi, t_read, t_write, cut_ptr, cut[:n_cut].copy()
