"""l1-regularised nonconvex regression (problems.md §6.2).

    f(x) = (1/m) Σ_i log(1 + (<a_i, x> - b_i)²) + λ ||x||_1

Instance from ``seed`` (in this order): support of x̄, max(1, n // 4) coordinates; their values
~ N(0, 1); A ~ N(0, 1) (m, n); noise ~ N(0, noise²); outlier mask ~ Bernoulli(outliers) with
outlier size ~ N(0, 10²); x0 ~ N(0, I_n). b = A x̄ + noise + outliers (A x̄ with the kernels'
inner product). data rows [a_i (n), b_i]; prm = (λ,); m = 4n by default (a finite sum).

Subgradient (minibatch B): (1/|B|) Σ_{i∈B} 2 r_i/(1 + r_i²) a_i + λ sign(x), sign(0) = 0 (the
regulariser is deterministic). The nonsmooth part is separable: blockwise and Clarke criticality
coincide. Regular, not convex; no known critical points. Dense coupling. Sum-of-max pieces:
group 0 the smooth loss (one piece), group 1+j the pieces ±λ x_j. Torch twin.
"""

from __future__ import annotations

import math

import numpy as np

from asyncconv.problems._base import (
    Instance,
    Param,
    define,
    fraction,
    nonnegative,
    pieces,
    positive_int,
    rng_from_seed,
)
from asyncconv.problems._common import put, row_dot, row_dots, sign0


def value(prm, data, x):
    """f = (1/m) sum_i log(1 + (<a_i,x> - b_i)^2) + lam ||x||_1; data rows [a_i (n), b_i], lam = prm[0]."""
    lam = prm[0]
    m = data.shape[0]
    n = x.shape[0]
    h = 0.0
    for i in range(m):
        r = row_dot(data, i, x) - data[i, n]
        h += math.log1p(r * r)
    s = 0.0
    for j in range(n):
        s += abs(x[j])
    return h / m + lam * s


def grad(prm, data, x, lo, hi, idx, out):
    """(1/|B|) sum_{i in B} 2 r_i/(1 + r_i^2) a_i + lam sign(x), sign(0) = 0 (separable l1)."""
    lam = prm[0]
    n = x.shape[0]
    for j in range(lo, hi):
        out[j - lo] = 0.0
    nb_ = idx.shape[0]
    cnt = nb_ if nb_ > 0 else data.shape[0]
    for k in range(cnt):
        i = idx[k] if nb_ > 0 else k
        r = row_dot(data, i, x) - data[i, n]
        coef = 2.0 * r / (1.0 + r * r)
        for j in range(lo, hi):
            out[j - lo] += coef * data[i, j]
    for j in range(lo, hi):
        out[j - lo] = out[j - lo] / cnt + lam * sign0(x[j])


def group_values(prm, data, x, j, vals):
    """Group 0: the smooth loss (one piece); group 1+j: the pieces +-lam x_j."""
    n = x.shape[0]
    if j == 0:
        m = data.shape[0]
        h = 0.0
        for i in range(m):
            r = row_dot(data, i, x) - data[i, n]
            h += math.log1p(r * r)
        vals[0] = h / m
        return 1
    v = prm[0] * x[j - 1]
    vals[0] = v
    vals[1] = -v
    return 2


def piece_grad(prm, data, x, j, k, idx, val, e):
    n = x.shape[0]
    if j == 0:
        m = data.shape[0]
        start = e
        for q in range(n):
            e = put(idx, val, e, q, 0.0)
        for i in range(m):
            r = row_dot(data, i, x) - data[i, n]
            coef = 2.0 * r / (1.0 + r * r)
            for q in range(n):
                val[start + q] += coef * data[i, q]
        for q in range(n):
            val[start + q] = val[start + q] / m
        return e
    s = 1.0 if k == 0 else -1.0
    return put(idx, val, e, j - 1, s * prm[0])


def torch_value(x, data, prm, idx):
    """The twin: mean log1p loss of the minibatch rows (all rows for idx None) + lam ||x||_1."""
    import torch

    n = x.shape[0]
    rows = data if idx is None else data[idx]
    r = rows[:, :n] @ x - rows[:, n]
    return torch.log1p(r * r).mean() + float(prm[0]) * x.abs().sum()


def build(n, seed, params):
    """Support, values of x̄, A, noise, outlier mask and sizes, x0 drawn from ``seed`` in that order."""
    m = params["m"] if params["m"] is not None else 4 * n
    rng = rng_from_seed(seed)
    k = max(1, n // 4)
    support = rng.choice(n, size=k, replace=False)
    xbar = np.zeros(n)
    xbar[support] = rng.standard_normal(k)
    a = rng.standard_normal((m, n))
    noise = params["noise"] * rng.standard_normal(m)
    out_mask = rng.random(m) < params["outliers"]
    out_size = 10.0 * rng.standard_normal(m)
    x0 = rng.standard_normal(n)
    data = np.empty((m, n + 1))
    data[:, :n] = a
    data[:, n] = row_dots(data, xbar) + noise + np.where(out_mask, out_size, 0.0)
    desc = (
        f"l1-regularised log(1+r^2) regression, n = {n}, m = {m}, lam = {params['lam']}, seed {seed}; "
        "separable nonsmooth part (blockwise = Clarke criticality); critical set unknown"
    )
    return Instance(
        x0=x0,
        f_ref=None,
        f_ref_source="unknown",
        critical_points=np.zeros((0, n)),
        complete=False,
        prm=[params["lam"]],
        data=data,
        n_samples=m,
        description=desc,
        params={**params, "m": m},
    )


L1_NONCONVEX_REGRESSION = define(
    "l1_nonconvex_regression",
    value=value,
    grad=grad,
    build=build,
    title="l1-regularised regression with log(1+r^2) loss",
    coupling="dense",
    halo=-1,
    regular=True,
    convex=False,
    default_n=20,
    n_min=1,
    n_max=None,
    n_rule="n >= 1",
    known="none (critical set unknown)",
    source="problems.md §6.2",
    params={
        "m": Param(None, positive_int, "number of samples (default 4 n)"),
        "lam": Param(0.1, nonnegative, "l1 weight lam >= 0 (default 0.1)"),
        "noise": Param(0.1, nonnegative, "Gaussian label noise std (default 0.1)"),
        "outliers": Param(0.1, fraction, "fraction of gross outliers in [0, 1) (default 0.1)"),
    },
    pieces=pieces(
        group_values,
        piece_grad,
        n_groups=lambda n, prm, data: n + 1,
        max_nnz=lambda n: n,
    ),
    torch=torch_value,
    finite_sum=True,
)
