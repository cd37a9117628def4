"""Generalised MXHILB (Haarala, Miettinen, Mäkelä 2004; ``tnsunc.f``).

    f(x) = max_i |r_i|,   r_i = (H x)_i = Σ_j x_j / (i + j - 1)   (1-based; H the Hilbert matrix)

Subgradient: sign(r_h) H_h., h the first maximiser of |r_i|, sign(0) = +1 (``tnsunc.f``). Cost
O(n²) per evaluation. Convex; x* = 0, f* = 0 (sharp), the only critical point; H is badly
conditioned, so judge by f - f*. Dense coupling. x0 = 1. Sum-of-max pieces: 1 group, pieces
s r_i, s = ±1 (k = 2i, 2i+1).
"""

from __future__ import annotations

import numpy as np

from asyncconv._jit import jit
from asyncconv.problems._base import Instance, define, pieces
from asyncconv.problems._common import HMM_SOURCE, closed, put, sign_pos


@jit
def _residual(x, i):
    """r_i = sum_j x_j / (i + j + 1) (0-based: the Hilbert row i)."""
    s = 0.0
    for j in range(x.shape[0]):
        s += x[j] / (i + j + 1.0)
    return s


def value(prm, data, x):
    """f = max_i |(H x)_i|, H_ij = 1/(i+j-1) (1-based)."""
    f = 0.0
    for i in range(x.shape[0]):
        r = abs(_residual(x, i))
        if r > f:
            f = r
    return f


def grad(prm, data, x, lo, hi, idx, out):
    """g = sign(r_h) H_h., h = first index of max |r_i|, sign(0) = +1 (tnsunc.f). Cost O(n^2)."""
    n = x.shape[0]
    f = abs(_residual(x, 0))
    hit = 0
    for i in range(1, n):
        r = abs(_residual(x, i))
        if r > f:
            f = r
            hit = i
    s = sign_pos(_residual(x, hit))
    for j in range(lo, hi):
        out[j - lo] = s / (hit + j + 1.0)


def group_values(prm, data, x, j, vals):
    """The one group: pieces r_i (k = 2i) and -r_i (k = 2i + 1)."""
    n = x.shape[0]
    for i in range(n):
        r = _residual(x, i)
        vals[2 * i] = r
        vals[2 * i + 1] = -r
    return 2 * n


def piece_grad(prm, data, x, j, k, idx, val, e):
    n = x.shape[0]
    i = k // 2
    s = 1.0 if k % 2 == 0 else -1.0
    for q in range(n):
        e = put(idx, val, e, q, s / (i + q + 1.0))
    return e


def build(n, seed, params):
    """x0 = 1; x* = 0, f* = 0 (complete)."""
    return Instance(
        x0=np.ones(n),
        f_ref=0.0,
        f_ref_source=closed(),
        critical_points=np.zeros(n),
        complete=True,
    )


MXHILB = define(
    "mxhilb",
    value=value,
    grad=grad,
    build=build,
    title="generalised MXHILB: max_i |(H x)_i|, Hilbert H",
    coupling="dense",
    halo=-1,
    regular=True,
    convex=True,
    default_n=50,
    n_min=1,
    n_max=2000,
    n_rule="1 <= n <= 2000 (O(n^2) per evaluation)",
    known="x* = 0, f* = 0 (complete)",
    source=HMM_SOURCE,
    pieces=pieces(
        group_values,
        piece_grad,
        n_groups=lambda n, prm, data: 1,
        max_pieces=lambda n: 2 * n + 2,
        max_nnz=lambda n: n,
    ),
)
