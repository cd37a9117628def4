"""Chained LQ (Haarala, Miettinen, Mäkelä 2004; ``tnsunc.f``).

    f(x) = Σ_{i=0}^{n-2} max{ -x_i - x_{i+1},  -x_i - x_{i+1} + x_i² + x_{i+1}² - 1 }

Subgradient: term i adds (-1, -1), plus (2x_i, 2x_{i+1}) iff q_i = x_i² + x_{i+1}² - 1 > 0 (ties:
the linear piece, as ``tnsunc.f``). Convex; x* = 2^{-1/2}·1 (on every kink), f* = -(n-1)√2,
the only critical point. Chain coupling, halo 1. Sum-of-max pieces: n-1 groups
{-u-v, -u-v+u²+v²-1}, (u, v) = (x_i, x_{i+1}). Torch twin with the kernel's kink rule.
"""

from __future__ import annotations

import math

import numpy as np

from asyncconv.problems._base import Instance, define, pieces
from asyncconv.problems._common import HMM_SOURCE, closed, put


def value(prm, data, x):
    """f = sum_i max{-x_i - x_{i+1}, -x_i - x_{i+1} + x_i^2 + x_{i+1}^2 - 1}."""
    f = 0.0
    for i in range(x.shape[0] - 1):
        a = -x[i] - x[i + 1]
        q = x[i] * x[i] + x[i + 1] * x[i + 1] - 1.0
        f += a + q if q > 0.0 else a
    return f


def grad(prm, data, x, lo, hi, idx, out):
    """Term i adds (-1, -1), plus (2x_i, 2x_{i+1}) iff q_i = x_i^2 + x_{i+1}^2 - 1 > 0 (ties: linear)."""
    n = x.shape[0]
    for j in range(lo, hi):
        g = 0.0
        if j >= 1:  # term j-1, second argument
            q = x[j - 1] * x[j - 1] + x[j] * x[j] - 1.0
            g = -1.0 + 2.0 * x[j] if q > 0.0 else -1.0
        if j <= n - 2:  # term j, first argument
            q = x[j] * x[j] + x[j + 1] * x[j + 1] - 1.0
            g = g + (-1.0 + 2.0 * x[j]) if q > 0.0 else g + -1.0
        out[j - lo] = g


def group_values(prm, data, x, j, vals):
    """Group j: the linear piece -u-v and the quadratic piece -u-v+u^2+v^2-1."""
    u = x[j]
    v = x[j + 1]
    a = -u - v
    vals[0] = a
    vals[1] = a + (u * u + v * v - 1.0)
    return 2


def piece_grad(prm, data, x, j, k, idx, val, e):
    if k == 0:
        e = put(idx, val, e, j, -1.0)
        return put(idx, val, e, j + 1, -1.0)
    e = put(idx, val, e, j, -1.0 + 2.0 * x[j])
    return put(idx, val, e, j + 1, -1.0 + 2.0 * x[j + 1])


def torch_value(x, data, prm, idx):
    """The twin: torch.where on the kernel's test q > 0 routes the gradient to the selected piece."""
    import torch

    u, v = x[:-1], x[1:]
    a = -u - v
    q = u * u + v * v - 1.0
    return torch.where(q > 0.0, a + q, a).sum()


def build(n, seed, params):
    """x0 = -0.5·1; x* = 2^-1/2·1, f* = -(n-1)√2 (complete)."""
    return Instance(
        x0=np.full(n, -0.5),
        f_ref=-(n - 1) * math.sqrt(2.0),
        f_ref_source=closed("-(n-1) sqrt 2"),
        critical_points=np.full(n, 2.0**-0.5),
        complete=True,
    )


CHAINED_LQ = define(
    "chained_lq",
    value=value,
    grad=grad,
    build=build,
    title="chained LQ: sum_i max{-x_i-x_{i+1}, ... + x_i^2+x_{i+1}^2-1}",
    coupling="chain",
    halo=1,
    regular=True,
    convex=True,
    default_n=50,
    n_min=2,
    n_rule="n >= 2",
    known="x* = 2^-1/2 1, f* = -(n-1) sqrt 2 (complete)",
    source=HMM_SOURCE,
    pieces=pieces(group_values, piece_grad, n_groups=lambda n, prm, data: n - 1),
    torch=torch_value,
)
