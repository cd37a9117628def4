"""Separable double wells (problems.md §7): two problems with the critical set {-1, 0, 1}^n.

``double_well_abs``:

    f(x) = Σ_i ||x_i| - 1|

Minima at x_i = ±1 (sharp), a downward kink at 0 (not regular). Subgradient
sign(|x_i| - 1) sign(x_i), sign(0) = 0: zero at the 3 critical values -1, 0, 1. At 0 the Clarke
subdifferential of ||t| - 1| is [-1, 1]; f is separable, so the Clarke subdifferential is the
product of the coordinate ones. Not regular: no sum-of-max pieces.

``double_well_sq``:

    f(x) = Σ_i |x_i² - 1|

Sharp minima at ±1, a smooth local maximum at 0 (regular). Subgradient 2 x_i sign(x_i² - 1),
sign(0) = 0. Sum-of-max pieces: n groups ±(x_i² - 1).

Both: critical set {-1, 0, 1}^n (3^n points, f* = 0 at {-1, 1}^n), stored as rows for n <= 8
(complete there); :func:`double_well_distance` is exact for every n. Separable, halo 0.
x0 = (1.5, -0.7, 0.3, -1.8, ...) (repeated).
"""

from __future__ import annotations

import itertools

import numpy as np

from asyncconv.problems._base import Instance, define, pieces
from asyncconv.problems._common import closed, put, sign0, toy_x0


def _wells(n):
    if n > 8:
        return np.zeros((0, n)), False
    return np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=n))), True


def double_well_distance(problem, x):
    """Distance from x to the product critical set {-1, 0, 1}^n, coordinate-wise for every n."""
    r = np.minimum(np.minimum(np.abs(x - 1.0), np.abs(x + 1.0)), np.abs(x))
    return float(np.sqrt(np.sum(r * r)))


# --- double_well_abs ----------------------------------------------------------------------------------


def abs_value(prm, data, x):
    """f = sum_i ||x_i| - 1|."""
    f = 0.0
    for i in range(x.shape[0]):
        f += abs(abs(x[i]) - 1.0)
    return f


def abs_grad(prm, data, x, lo, hi, idx, out):
    """g_i = sign(|x_i| - 1) sign(x_i), sign(0) = 0: zero at the 3 critical values -1, 0, 1.

    At 0 the Clarke subdifferential of ||t| - 1| is [-1, 1] (a downward kink, not regular); f is
    separable, so the Clarke subdifferential is the product of the coordinate ones.
    """
    for j in range(lo, hi):
        out[j - lo] = sign0(abs(x[j]) - 1.0) * sign0(x[j])


# --- double_well_sq -----------------------------------------------------------------------------------


def sq_value(prm, data, x):
    """f = sum_i |x_i^2 - 1|."""
    f = 0.0
    for i in range(x.shape[0]):
        f += abs(x[i] * x[i] - 1.0)
    return f


def sq_grad(prm, data, x, lo, hi, idx, out):
    """g_i = 2 x_i sign(x_i^2 - 1), sign(0) = 0."""
    for j in range(lo, hi):
        out[j - lo] = 2.0 * x[j] * sign0(x[j] * x[j] - 1.0)


def sq_group_values(prm, data, x, j, vals):
    """Group j: the pieces +-(x_j^2 - 1)."""
    q = x[j] * x[j] - 1.0
    vals[0] = q
    vals[1] = -q
    return 2


def sq_piece_grad(prm, data, x, j, k, idx, val, e):
    s = 1.0 if k == 0 else -1.0
    return put(idx, val, e, j, s * 2.0 * x[j])


def build(n, seed, params):
    """x0 = (1.5, -0.7, 0.3, -1.8, ...); the 3^n critical points as rows for n <= 8."""
    crit, complete = _wells(n)
    return Instance(
        x0=toy_x0(n),
        f_ref=0.0,
        f_ref_source=closed(),
        critical_points=crit,
        complete=complete,
    )


DOUBLE_WELL_ABS = define(
    "double_well_abs",
    value=abs_value,
    grad=abs_grad,
    build=build,
    title="double wells sum_i ||x_i| - 1|",
    coupling="separable",
    halo=0,
    regular=False,
    convex=False,
    default_n=4,
    n_min=1,
    n_max=None,
    n_rule="n >= 1 (critical rows stored for n <= 8)",
    known="3^n critical points {-1,0,1}^n, f* = 0 at {-1,1}^n",
    source="problems.md §7",
    distance=double_well_distance,
)

DOUBLE_WELL_SQ = define(
    "double_well_sq",
    value=sq_value,
    grad=sq_grad,
    build=build,
    title="double wells sum_i |x_i^2 - 1|",
    coupling="separable",
    halo=0,
    regular=True,
    convex=False,
    default_n=4,
    n_min=1,
    n_max=None,
    n_rule="n >= 1 (critical rows stored for n <= 8)",
    known="3^n critical points {-1,0,1}^n, f* = 0 at {-1,1}^n",
    source="problems.md §7",
    pieces=pieces(sq_group_values, sq_piece_grad, n_groups=lambda n, prm, data: n),
    distance=double_well_distance,
)
