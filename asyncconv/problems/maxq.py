"""Generalised MAXQ (Haarala, Miettinen, Mäkelä 2004; ``tnsunc.f``).

    f(x) = max_i x_i²

Subgradient: 2 x_h e_h, h the first maximiser of x_i² (``tnsunc.f``: strict '>' keeps the first).
Convex; x* = 0, f* = 0 (not sharp), the only critical point. Cross-block ties are blockwise critical
without being Clarke critical. Global coupling (``grad`` reads all of x). x0_i = i (i <= n/2), -i
otherwise (1-based). Sum-of-max pieces: 1 group, pieces x_k² (k < n).
"""

from __future__ import annotations

import numpy as np

from asyncconv.problems._base import Instance, define, pieces
from asyncconv.problems._common import HMM_SOURCE, closed, put


def value(prm, data, x):
    """f = max_i x_i^2."""
    f = x[0] * x[0]
    for i in range(1, x.shape[0]):
        y = x[i] * x[i]
        if y > f:
            f = y
    return f


def grad(prm, data, x, lo, hi, idx, out):
    """g = 2 x_h e_h, h = first index of max x_i^2 (tnsunc.f: strict '>' keeps the first)."""
    n = x.shape[0]
    f = x[0] * x[0]
    hit = 0
    for i in range(1, n):
        y = x[i] * x[i]
        if y > f:
            f = y
            hit = i
    for j in range(lo, hi):
        out[j - lo] = 0.0
    if lo <= hit < hi:
        out[hit - lo] = 2.0 * x[hit]


def group_values(prm, data, x, j, vals):
    """The one group: pieces x_k^2, k < n."""
    n = x.shape[0]
    for k in range(n):
        vals[k] = x[k] * x[k]
    return n


def piece_grad(prm, data, x, j, k, idx, val, e):
    return put(idx, val, e, k, 2.0 * x[k])


def build(n, seed, params):
    """x0_i = i (i <= n/2), -i otherwise (1-based); x* = 0, f* = 0 (complete)."""
    i = np.arange(1, n + 1, dtype=np.float64)
    x0 = np.where(i <= n // 2, i, -i)
    return Instance(
        x0=x0,
        f_ref=0.0,
        f_ref_source=closed(),
        critical_points=np.zeros(n),
        complete=True,
    )


MAXQ = define(
    "maxq",
    value=value,
    grad=grad,
    build=build,
    title="generalised MAXQ: max_i x_i^2",
    coupling="global",
    halo=-1,
    regular=True,
    convex=True,
    default_n=50,
    n_min=1,
    n_rule="n >= 1",
    known="x* = 0, f* = 0 (complete)",
    source=HMM_SOURCE,
    pieces=pieces(group_values, piece_grad, n_groups=lambda n, prm, data: 1, max_pieces=lambda n: n),
)
