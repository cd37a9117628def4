"""Weighted l1 (problems.md §7).

    f(x) = Σ_i c_i |x_i|,   c_i > 0; default c_i = 1 + (i mod 4)/4 (0-based i)

Subgradient: c_i sign(x_i), sign(0) = 0. Convex; crit f = {0}, f* = 0 (complete). Separable,
halo 0. x0 = (1.5, -0.7, 0.3, -1.8, ...) (repeated). prm = c (n,). Closed-form solution of
ẋ ∈ -diag(λ) ∂f(x): x_i(t) = sign(x_i(0)) max(|x_i(0)| - λ_i c_i t, 0) (:func:`flow`).
Sum-of-max pieces: n groups ±c_i x_i.
"""

from __future__ import annotations

import numpy as np

from asyncconv.problems._base import Instance, Param, define, pieces, weights
from asyncconv.problems._common import closed, put, sign0, toy_x0


def value(prm, data, x):
    """f = sum_i c_i |x_i|, c = prm (n,)."""
    f = 0.0
    for i in range(x.shape[0]):
        f += prm[i] * abs(x[i])
    return f


def grad(prm, data, x, lo, hi, idx, out):
    """g_i = c_i sign(x_i), sign(0) = 0."""
    for j in range(lo, hi):
        out[j - lo] = prm[j] * sign0(x[j])


def group_values(prm, data, x, j, vals):
    """Group j: the pieces +-c_j x_j."""
    v = prm[j] * x[j]
    vals[0] = v
    vals[1] = -v
    return 2


def piece_grad(prm, data, x, j, k, idx, val, e):
    s = 1.0 if k == 0 else -1.0
    return put(idx, val, e, j, s * prm[j])


def flow(problem, x0, t, rate):
    """x_i(t) = sign(x_i(0)) max(|x_i(0)| - rate_i c_i t, 0), c_i the problem's weights."""
    c = np.asarray(problem.prm[: problem.n], dtype=np.float64)
    mag = np.maximum(np.abs(x0)[None] - (rate * c)[None] * t[:, None], 0.0)
    return np.sign(x0)[None] * mag


def build(n, seed, params):
    """c from the parameter (default 1 + (i mod 4)/4); x0 = (1.5, -0.7, 0.3, -1.8, ...); x* = 0."""
    c = params["c"]
    if c is None:
        cv = 1.0 + (np.arange(n) % 4) / 4.0
    elif isinstance(c, tuple):
        cv = np.array(c)
    else:
        cv = np.full(n, c)
    return Instance(
        x0=toy_x0(n),
        f_ref=0.0,
        f_ref_source=closed(),
        critical_points=np.zeros(n),
        complete=True,
        prm=cv,
    )


WEIGHTED_L1 = define(
    "weighted_l1",
    value=value,
    grad=grad,
    build=build,
    title="weighted l1: sum_i c_i |x_i|",
    coupling="separable",
    halo=0,
    regular=True,
    convex=True,
    default_n=10,
    n_min=1,
    n_max=None,
    n_rule="n >= 1",
    known="x* = 0, f* = 0 (complete)",
    source="problems.md §7",
    params={"c": Param(None, weights, "c > 0: a number or a list of n (default 1 + (i mod 4)/4)")},
    pieces=pieces(group_values, piece_grad, n_groups=lambda n, prm, data: n),
    flow=flow,
)
