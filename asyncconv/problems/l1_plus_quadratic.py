"""l1 plus quadratic (problems.md §7).

    f(x) = |x_1| + x_2²/2   (n = 2)

Subgradient: (sign(x_1), x_2), sign(0) = 0. Convex; crit f = {0}, f* = 0 (complete). Separable,
halo 0. x0 = (1.5, -0.7). Closed-form solution of ẋ ∈ -diag(λ) ∂f(x): x_1(t) = sign(x_1(0))
max(|x_1(0)| - λ_1 t, 0), x_2(t) = x_2(0) e^{-λ_2 t} (:func:`flow`). Sum-of-max pieces: group 0
±x_1, group 1 the smooth piece x_2²/2.
"""

from __future__ import annotations

import numpy as np

from asyncconv.problems._base import Instance, define, pieces
from asyncconv.problems._common import closed, put, sign0, toy_x0


def value(prm, data, x):
    """f = |x_1| + x_2^2/2."""
    return abs(x[0]) + 0.5 * x[1] * x[1]


def grad(prm, data, x, lo, hi, idx, out):
    """g = (sign(x_1), x_2), sign(0) = 0."""
    for j in range(lo, hi):
        out[j - lo] = sign0(x[0]) if j == 0 else x[1]


def group_values(prm, data, x, j, vals):
    """Group 0: the pieces +-x_1; group 1: the smooth piece x_2^2/2."""
    if j == 0:
        vals[0] = x[0]
        vals[1] = -x[0]
        return 2
    vals[0] = 0.5 * x[1] * x[1]
    return 1


def piece_grad(prm, data, x, j, k, idx, val, e):
    if j == 0:
        return put(idx, val, e, 0, 1.0 if k == 0 else -1.0)
    return put(idx, val, e, 1, x[1])


def flow(problem, x0, t, rate):
    """x_1(t) = sign(x_1(0)) max(|x_1(0)| - rate_1 t, 0), x_2(t) = x_2(0) e^{-rate_2 t}."""
    z = np.empty((t.shape[0], 2))
    z[:, 0] = np.sign(x0[0]) * np.maximum(abs(x0[0]) - rate[0] * t, 0.0)
    z[:, 1] = x0[1] * np.exp(-rate[1] * t)
    return z


def build(n, seed, params):
    """x0 = (1.5, -0.7); x* = 0, f* = 0 (complete)."""
    return Instance(
        x0=toy_x0(n),
        f_ref=0.0,
        f_ref_source=closed(),
        critical_points=np.zeros(n),
        complete=True,
    )


L1_PLUS_QUADRATIC = define(
    "l1_plus_quadratic",
    value=value,
    grad=grad,
    build=build,
    title="|x_1| + x_2^2/2",
    coupling="separable",
    halo=0,
    regular=True,
    convex=True,
    default_n=2,
    n_min=2,
    n_max=2,
    n_rule="n = 2",
    known="x* = 0, f* = 0 (complete)",
    source="problems.md §7",
    pieces=pieces(group_values, piece_grad, n_groups=lambda n, prm, data: 2),
    flow=flow,
)
