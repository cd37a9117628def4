"""A user's own problem: robust ℓ1 regression with a nonconvex log penalty (not in the battery).

    f(x) = (1/m) Σ_i |<a_i, x> - b_i|  +  λ Σ_j log(1 + |x_j| / θ)

Nonsmooth (the absolute residuals, the penalty at x_j = 0) and nonconvex (the log penalty); a
finite sum, so minibatches sample rows. The subgradient takes sign(0) = 0 in both terms: 0 lies in
the Clarke subdifferential of a vanishing residual's term and of the penalty at x_j = 0 ([-λ/θ, λ/θ]),
and every term is Clarke regular, so the sum of the selections is a Clarke subgradient of f.

Run it wherever a built-in problem goes:

    asyncconv simulate --problem sims/problems/robust_regression.py:ROBUST --workers 4 --blocks 4
    asyncconv study run sims/robust_regression.toml -o results/robust

The file follows the contract of :func:`asyncconv.problems.define`: ``value(prm, data, x)`` and
``grad(prm, data, x, lo, hi, idx, out)`` are plain functions Numba compiles (loops over arrays, no
Python objects); ``build(n, seed, params)`` returns the instance (data rows [a_i, b_i], x0).
"""

import math

import numpy as np

from asyncconv.config import check_number
from asyncconv.problems import Instance, Param, define


def value(prm, data, x):
    """prm = (λ, θ); data rows [a_i (n), b_i]."""
    n = x.shape[0]
    m = data.shape[0]
    loss = 0.0
    for i in range(m):
        r = -data[i, n]
        for j in range(n):
            r += data[i, j] * x[j]
        loss += abs(r)
    pen = 0.0
    for j in range(n):
        pen += math.log(1.0 + abs(x[j]) / prm[1])
    return loss / m + prm[0] * pen


def grad(prm, data, x, lo, hi, idx, out):
    """(1/|B|) Σ_{i∈B} sign(r_i) a_i + λ sign(x_j) / (θ + |x_j|) on coordinates lo..hi-1; B = idx,
    or every row when idx is empty; sign(0) = 0."""
    n = x.shape[0]
    for j in range(lo, hi):
        out[j - lo] = 0.0
    b = idx.shape[0]
    count = b if b > 0 else data.shape[0]
    for q in range(count):
        i = idx[q] if b > 0 else q
        r = -data[i, n]
        for j in range(n):
            r += data[i, j] * x[j]
        s = 1.0 if r > 0.0 else (-1.0 if r < 0.0 else 0.0)
        if s != 0.0:
            for j in range(lo, hi):
                out[j - lo] += s * data[i, j]
    for j in range(lo, hi):
        out[j - lo] /= count
        xj = x[j]
        if xj > 0.0:
            out[j - lo] += prm[0] / (prm[1] + xj)
        elif xj < 0.0:
            out[j - lo] -= prm[0] / (prm[1] - xj)


def build(n, seed, params):
    """m = 4n Gaussian rows, a sparse truth (n/4 nonzeros), 10 % gross outliers; x0 = 0.5·1."""
    rng = np.random.default_rng(seed)
    m = 4 * n
    truth = np.zeros(n)
    truth[rng.choice(n, size=max(1, n // 4), replace=False)] = rng.standard_normal(max(1, n // 4))
    a = rng.standard_normal((m, n))
    b = a @ truth + 0.01 * rng.standard_normal(m)
    outliers = rng.random(m) < 0.1
    b[outliers] += 10.0 * rng.standard_normal(int(outliers.sum()))
    return Instance(
        x0=np.full(n, 0.5),
        prm=[params["lam"], params["theta"]],
        data=np.column_stack([a, b]),
        n_samples=m,
        description=f"robust l1 regression with a log penalty, n = {n}, m = {m}, seed {seed}",
    )


ROBUST = define(
    "robust_l1_log",
    value=value,
    grad=grad,
    build=build,
    title="robust l1 regression + nonconvex log penalty",
    coupling="dense",
    halo=-1,
    regular=False,
    default_n=16,
    n_min=2,
    finite_sum=True,
    params={
        "lam": Param(
            0.05, lambda v, fld, n: check_number(v, fld, ge=0.0), "penalty weight λ >= 0 (default 0.05)"
        ),
        "theta": Param(
            0.5, lambda v, fld, n: check_number(v, fld, gt=0.0), "penalty scale θ > 0 (default 0.5)"
        ),
    },
    source="README worked example (a user's own problem)",
)
