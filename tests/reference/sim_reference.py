"""A slow, obviously-correct replay of a schedule through the iteration (plain Python).

It keeps every version of the iterate (memory O(K n)) and reads x̂ directly from
``history[v_j(k)]`` with the per-block versions of ``Schedule.read_versions``; the jitted kernel
instead undoes writes from a bounded log. Subgradients come from ``Problem.subgradient`` (the
problem kernels are tested separately against finite differences); noise, minibatches and step
factors use the pure-Python twins of the counter-based generator.
"""

from __future__ import annotations

import math

import numpy as np

from asyncconv.rng import py_stream_seed, py_uniform
from asyncconv.schedule import partition


def _normal(seed: int, counter: int) -> float:
    u1 = py_uniform(seed, 2 * counter)
    u2 = py_uniform(seed, 2 * counter + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def replay_reference(problem, schedule, it, key: int, x0=None) -> dict:
    """Final iterate, momentum buffers and ODE time after replaying ``schedule``."""
    n, P, B = problem.n, schedule.n_workers, schedule.n_blocks
    off = partition(n, B)
    block_of = np.repeat(np.arange(B), np.diff(off))
    owned = [np.flatnonzero(row) for row in schedule.owners]
    x = np.array(problem.x0 if x0 is None else x0, dtype=float)
    history = [x.copy()]
    per_worker = it.buffers == "worker"
    u = np.zeros((P if per_worker else 1, n))
    s_noise, s_batch, s_factor = (py_stream_seed(key, s) for s in range(3))
    factor = [
        it.factor_low + (1 - it.factor_low) * py_uniform(s_factor, c) if it.factor_low < 1 else 1.0
        for c in range(P)
    ]
    wcount = [0] * P
    bcount = [0] * B
    versions = schedule.read_versions()
    t = 0.0
    m = it.m
    for k in range(schedule.n_events):
        c = int(schedule.writer[k])
        b = int(schedule.block[k])
        if b >= 0:
            lo, hi, b0 = off[b], off[b + 1], b
        else:
            lo, hi, b0 = off[owned[c][0]], off[owned[c][-1] + 1], owned[c][0]
        xhat = np.array([history[versions[k, block_of[i]]][i] for i in range(n)])
        idx = None
        if problem.n_samples > 0:
            idx = np.array(
                [
                    min(int(py_uniform(s_batch, k * it.batch + j) * problem.n_samples), problem.n_samples - 1)
                    for j in range(it.batch)
                ],
                dtype=np.int64,
            )
        g = np.array(problem.subgradient(xhat, lo, hi, idx), dtype=float)
        for j in range(hi - lo):
            if it.noise == "gaussian":
                g[j] += it.noise_scale * _normal(s_noise, k * n + lo + j)
            elif it.noise == "student":
                base = (k * n + lo + j) * (it.noise_df + 1)
                z = _normal(s_noise, base)
                chi = sum(_normal(s_noise, base + 1 + r) ** 2 for r in range(it.noise_df))
                g[j] += it.noise_scale * z / math.sqrt(chi / it.noise_df)
        nu = {"global": k, "writer": wcount[c], "block": bcount[b0], "constant": 0}[it.clock]
        gamma = factor[c] * (it.g0 if it.clock == "constant" else it.g0 / (nu + it.nu0) ** it.p)
        t += gamma
        wcount[c] += 1
        bcount[b0] += 1
        row = c if per_worker else 0
        for j in range(hi - lo):
            i = lo + j
            if it.momentum == "heavy":
                u[row, i] = m * u[row, i] + g[j]
                d = u[row, i]
            elif it.momentum == "ema":
                u[row, i] = m * u[row, i] + (1 - m) * g[j]
                d = u[row, i]
            elif it.momentum == "nesterov":
                u[row, i] = m * u[row, i] + g[j]
                d = g[j] + m * u[row, i]
            elif it.momentum == "averaging":
                u[row, i] = u[row, i] + m * gamma * (g[j] - u[row, i])
                d = u[row, i]
            else:
                d = g[j]
            x[i] = x[i] - gamma * d
        history.append(x.copy())
    return {"x": x, "u": u, "t": t, "history": history}
