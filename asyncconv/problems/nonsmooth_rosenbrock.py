"""Nonsmooth Rosenbrock (Curtis, Mitchell, Overton 2017; GRANSO) and its chained version.

    nonsmooth_rosenbrock          f(x) = w |x_0² - x_1| + (1 - x_0)²                  (n = 2)
    chained_nonsmooth_rosenbrock  f(x) = Σ_{i=0}^{n-2} w |x_i² - x_{i+1}| + (1 - x_i)²

Parameter w > 0 (default 8), passed to the kernels as ``prm[0]``. x0 = (-1.2, 1, -1.2, ...).

Subgradient: term i adds (2 w s x_i - 2 (1 - x_i), -w s), s = sign(x_i² - x_{i+1}), sign(0) = 0
(regular: smooth + w |C¹|). Nonconvex. nonsmooth_rosenbrock (the GRANSO example, unconstrained):
unique Clarke-critical point (1, 1), f* = 0 (complete). chained_nonsmooth_rosenbrock (project
construction, problems.md §4): unique global minimiser 1, f* = 0; other critical points not
established. Chain coupling, halo 1. Sum-of-max pieces: n-1 groups ±w(u² - v) + (1 - u)²,
(u, v) = (x_i, x_{i+1}).
"""

from __future__ import annotations

import numpy as np

from asyncconv.problems._base import Instance, Param, define, pieces, positive
from asyncconv.problems._common import closed, put, sign0

_W = {"w": Param(8.0, positive, "weight w > 0 of the kink term (default 8)")}


def value(prm, data, x):
    """f = sum_i w |x_i^2 - x_{i+1}| + (1 - x_i)^2, w = prm[0]."""
    w = prm[0]
    f = 0.0
    for i in range(x.shape[0] - 1):
        f += w * abs(x[i] * x[i] - x[i + 1]) + (1.0 - x[i]) * (1.0 - x[i])
    return f


def grad(prm, data, x, lo, hi, idx, out):
    """Term i adds (2 w s x_i - 2 (1 - x_i), -w s), s = sign(x_i^2 - x_{i+1}), sign(0) = 0 (regular)."""
    w = prm[0]
    n = x.shape[0]
    for j in range(lo, hi):
        g = 0.0
        if j >= 1:
            g = -w * sign0(x[j - 1] * x[j - 1] - x[j])
        if j <= n - 2:
            s = sign0(x[j] * x[j] - x[j + 1])
            g = g + (2.0 * w * s * x[j] - 2.0 * (1.0 - x[j]))
        out[j - lo] = g


def group_values(prm, data, x, j, vals):
    """Group j: the pieces +-w (u^2 - v) + (1 - u)^2, (u, v) = (x_j, x_{j+1})."""
    w = prm[0]
    d = x[j] * x[j] - x[j + 1]
    sm = (1.0 - x[j]) * (1.0 - x[j])
    vals[0] = w * d + sm
    vals[1] = -w * d + sm
    return 2


def piece_grad(prm, data, x, j, k, idx, val, e):
    w = prm[0]
    s = 1.0 if k == 0 else -1.0
    e = put(idx, val, e, j, 2.0 * w * s * x[j] - 2.0 * (1.0 - x[j]))
    return put(idx, val, e, j + 1, -w * s)


_PIECES = pieces(group_values, piece_grad, n_groups=lambda n, prm, data: n - 1)


def _rosen_x0(n):
    return np.where(np.arange(n) % 2 == 0, -1.2, 1.0)


def nonsmooth_rosenbrock_build(n, seed, params):
    """n = 2, x0 = (-1.2, 1); unique Clarke-critical point (1, 1), f* = 0 (complete)."""
    return Instance(
        x0=_rosen_x0(n),
        f_ref=0.0,
        f_ref_source=closed(),
        critical_points=np.ones(n),
        complete=True,
        prm=[params["w"]],
    )


def chained_nonsmooth_rosenbrock_build(n, seed, params):
    """x0 = (-1.2, 1, -1.2, ...); global minimiser 1, f* = 0 (other critical points not established)."""
    return Instance(
        x0=_rosen_x0(n),
        f_ref=0.0,
        f_ref_source=closed(),
        critical_points=np.ones(n),
        complete=False,
        prm=[params["w"]],
    )


NONSMOOTH_ROSENBROCK = define(
    "nonsmooth_rosenbrock",
    value=value,
    grad=grad,
    build=nonsmooth_rosenbrock_build,
    title="nonsmooth Rosenbrock: w|x_1^2 - x_2| + (1-x_1)^2",
    coupling="chain",
    halo=1,
    regular=True,
    convex=False,
    default_n=2,
    n_min=2,
    n_max=2,
    n_rule="n = 2",
    known="x* = (1, 1), f* = 0 (complete)",
    source="Curtis, Mitchell, Overton 2017; GRANSO/PyGRANSO examples",
    params=_W,
    pieces=_PIECES,
)

CHAINED_NONSMOOTH_ROSENBROCK = define(
    "chained_nonsmooth_rosenbrock",
    value=value,
    grad=grad,
    build=chained_nonsmooth_rosenbrock_build,
    title="chained nonsmooth Rosenbrock: sum_i w|x_i^2 - x_{i+1}| + (1-x_i)^2",
    coupling="chain",
    halo=1,
    regular=True,
    convex=False,
    default_n=10,
    n_min=2,
    n_rule="n >= 2",
    known="x* = 1, f* = 0 (others not established)",
    source="project construction (problems.md §4)",
    params=_W,
    pieces=_PIECES,
)
