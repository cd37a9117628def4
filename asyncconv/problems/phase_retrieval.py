"""Robust phase retrieval (Duchi & Ruan 2019; Davis, Drusvyatskiy & Paquette, arXiv 1711.03247).

    f(x) = (1/m) Σ_i |<a_i, x>² - b_i|,   b_i = <a_i, x̄>²

Instance from ``seed`` (in this order): x̄ ~ N(0, I_n) normalised to ||x̄|| = 1; A ~ N(0, 1)
(m, n); x0 ~ N(0, I_n) scaled to ||x̄||. b is computed with the kernels' inner product
(:func:`~asyncconv.problems._common.row_dots`), so f(±x̄) = 0 exactly. data rows [a_i (n), b_i];
m = 4n by default (a finite sum: minibatches sample rows).

Subgradient (minibatch B): (1/|B|) Σ_{i∈B} 2 sign(r_i) <a_i, x> a_i, r_i = <a_i, x>² - b_i,
sign(0) = 0. Weakly convex (regular). Known critical points 0, x̄, -x̄ (incomplete: the empirical f
also has critical points near the population sphere {x ⊥ x̄, ||x|| = 0.4416 ||x̄||}, radius
:data:`PHASE_SPHERE_RADIUS`); f* = 0 at ±x̄. Dense coupling. Sum-of-max pieces: m groups
±(<a_i, x>² - b_i)/m.
"""

from __future__ import annotations

import numpy as np

from asyncconv.problems._base import Instance, Param, define, pieces, positive_int, rng_from_seed
from asyncconv.problems._common import closed, put, row_dot, row_dots, sign0

#: the root c of arctan(c) + c/(1+c^2) = pi/4: radius / ||x_bar|| of the population critical sphere (§6.1)
PHASE_SPHERE_RADIUS = 0.44161


def value(prm, data, x):
    """f = (1/m) sum_i |<a_i, x>^2 - b_i|; data rows [a_i (n), b_i]."""
    m = data.shape[0]
    n = x.shape[0]
    f = 0.0
    for i in range(m):
        p = row_dot(data, i, x)
        f += abs(p * p - data[i, n])
    return f / m


def grad(prm, data, x, lo, hi, idx, out):
    """(1/|B|) sum_{i in B} 2 sign(<a_i,x>^2 - b_i) <a_i,x> a_i, sign(0) = 0 (weakly convex, regular)."""
    n = x.shape[0]
    for j in range(lo, hi):
        out[j - lo] = 0.0
    nb_ = idx.shape[0]
    cnt = nb_ if nb_ > 0 else data.shape[0]
    for k in range(cnt):
        i = idx[k] if nb_ > 0 else k
        p = row_dot(data, i, x)
        coef = 2.0 * sign0(p * p - data[i, n]) * p
        for j in range(lo, hi):
            out[j - lo] += coef * data[i, j]
    for j in range(lo, hi):
        out[j - lo] = out[j - lo] / cnt


def group_values(prm, data, x, j, vals):
    """Group j (sample j): the pieces +-(<a_j, x>^2 - b_j)/m."""
    n = x.shape[0]
    p = row_dot(data, j, x)
    r = (p * p - data[j, n]) / data.shape[0]
    vals[0] = r
    vals[1] = -r
    return 2


def piece_grad(prm, data, x, j, k, idx, val, e):
    n = x.shape[0]
    s = 1.0 if k == 0 else -1.0
    p = row_dot(data, j, x)
    coef = s * 2.0 * p / data.shape[0]
    for q in range(n):
        e = put(idx, val, e, q, coef * data[j, q])
    return e


def build(n, seed, params):
    """x̄, A, x0 drawn from ``seed`` in that order; b_i = <a_i, x̄>^2 with the kernels' inner product."""
    m = params["m"] if params["m"] is not None else 4 * n
    rng = rng_from_seed(seed)
    xbar = rng.standard_normal(n)
    xbar /= np.linalg.norm(xbar)
    a = rng.standard_normal((m, n))
    x0 = rng.standard_normal(n)
    x0 *= np.linalg.norm(xbar) / np.linalg.norm(x0)
    data = np.empty((m, n + 1))
    data[:, :n] = a
    p = row_dots(data, xbar)
    data[:, n] = p * p
    desc = (
        f"robust phase retrieval, d = {n}, m = {m} Gaussian measurements, seed {seed}; weakly convex; "
        f"population critical set {{0}} U {{+-x_bar}} U sphere {{x perp x_bar, ||x|| = "
        f"{PHASE_SPHERE_RADIUS} ||x_bar||}}; catalogued rows: 0, x_bar, -x_bar"
    )
    return Instance(
        x0=x0,
        f_ref=0.0,
        f_ref_source=closed("f(+-x_bar) = 0"),
        critical_points=np.stack([np.zeros(n), xbar, -xbar]),
        complete=False,
        data=data,
        n_samples=m,
        description=desc,
        params={**params, "m": m},
    )


PHASE_RETRIEVAL = define(
    "phase_retrieval",
    value=value,
    grad=grad,
    build=build,
    title="robust phase retrieval (1/m) sum |<a_i,x>^2 - b_i|",
    coupling="dense",
    halo=-1,
    regular=True,
    convex=False,
    default_n=20,
    n_min=1,
    n_max=None,
    n_rule="n >= 1 (= d)",
    known="f* = 0 at +-x_bar; critical 0, +-x_bar (incomplete)",
    source="Duchi & Ruan 2019; Davis, Drusvyatskiy, Paquette, arXiv 1711.03247",
    params={"m": Param(None, positive_int, "number of measurements (default 4 n)")},
    pieces=pieces(
        group_values,
        piece_grad,
        n_groups=lambda n, prm, data: data.shape[0],
        max_nnz=lambda n: n,
    ),
    finite_sum=True,
)
