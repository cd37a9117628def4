"""Number of active faces (Haarala, Miettinen, Mäkelä 2004; ``tnsunc.f``).

    f(x) = max{ g(-Σ_j x_j), max_i g(x_i) },   g(t) = ln(|t| + 1)   (computed as log1p)

Subgradient (``tnsunc.f``): the pieces are compared on |.| (g is increasing) and the sum piece is
taken only when strictly larger. Sum piece: -sign(y)/(1 + |y|) 1 with y = -Σ x; coordinate piece
h (the first maximiser of |x_i|): sign(x_h)/(1 + |x_h|) e_h; sign(0) = +1 in both. Cost O(n).
Nonconvex, Clarke regular; x* = 0, f* = 0; other critical points not catalogued. Global coupling.
x0 = 1. Sum-of-max pieces: 1 group, ln(1 + s x_i) (k = 2i, 2i+1, s = ±1) and ln(1 + s y)
(k = 2n, 2n+1); a piece whose argument is <= -1 is undefined there (-inf) and never active.
"""

from __future__ import annotations

import math

import numpy as np

from asyncconv._jit import jit
from asyncconv.problems._base import Instance, define, pieces
from asyncconv.problems._common import HMM_SOURCE, closed, put


@jit
def _scan(x):
    """(first argmax |x_i|, max |x_i|, y = -sum x)."""
    hit = 0
    m = abs(x[0])
    y = -x[0]
    for i in range(1, x.shape[0]):
        y = y - x[i]
        if abs(x[i]) > m:
            m = abs(x[i])
            hit = i
    return hit, m, y


def value(prm, data, x):
    """f = max{g(-sum_j x_j), max_i g(x_i)}, g(t) = ln(|t| + 1) (computed as log1p)."""
    _, m, y = _scan(x)
    return math.log1p(max(m, abs(y)))


def grad(prm, data, x, lo, hi, idx, out):
    """tnsunc.f: the sum piece only if strictly larger; pieces compared on |.| (g is increasing).

    Sum piece: g = -sign(y)/(1+|y|) 1 with y = -sum x and sign(0) = +1 (tnsunc.f);
    coordinate piece h (first maximiser): g = sign(x_h)/(1+|x_h|) e_h, sign(0) = +1. Cost O(n).
    """
    hit, m, y = _scan(x)
    if abs(y) > m:
        s = -1.0 if y >= 0.0 else 1.0
        v = s * (1.0 / (abs(y) + 1.0))
        for j in range(lo, hi):
            out[j - lo] = v
    else:
        for j in range(lo, hi):
            out[j - lo] = 0.0
        if lo <= hit < hi:
            s = -1.0 if x[hit] < 0.0 else 1.0
            out[hit - lo] = s * (1.0 / (abs(x[hit]) + 1.0))


def group_values(prm, data, x, j, vals):
    """The one group: ln(1 +- x_i) (k = 2i, 2i+1), ln(1 +- y) (k = 2n, 2n+1); -inf where undefined."""
    n = x.shape[0]
    y = 0.0
    for i in range(n):
        y = y - x[i]
        for t in range(2):
            arg = x[i] if t == 0 else -x[i]
            vals[2 * i + t] = math.log1p(arg) if arg > -1.0 else -np.inf
    for t in range(2):
        arg = y if t == 0 else -y
        vals[2 * n + t] = math.log1p(arg) if arg > -1.0 else -np.inf
    return 2 * n + 2


def piece_grad(prm, data, x, j, k, idx, val, e):
    n = x.shape[0]
    s = 1.0 if k % 2 == 0 else -1.0
    if k < 2 * n:
        i = k // 2
        return put(idx, val, e, i, s / (1.0 + s * x[i]))
    y = 0.0
    for q in range(n):
        y = y - x[q]
    g = -s / (1.0 + s * y)
    for q in range(n):
        e = put(idx, val, e, q, g)
    return e


def build(n, seed, params):
    """x0 = 1; x* = 0, f* = 0 (other critical points not catalogued)."""
    return Instance(
        x0=np.ones(n),
        f_ref=0.0,
        f_ref_source=closed(),
        critical_points=np.zeros(n),
        complete=False,
    )


ACTIVE_FACES = define(
    "active_faces",
    value=value,
    grad=grad,
    build=build,
    title="number of active faces: max{g(-sum x), max_i g(x_i)}, g = ln(|.|+1)",
    coupling="global",
    halo=-1,
    regular=True,
    convex=False,
    default_n=50,
    n_min=1,
    n_rule="n >= 1",
    known="x* = 0, f* = 0 (others not catalogued)",
    source=HMM_SOURCE,
    pieces=pieces(
        group_values,
        piece_grad,
        n_groups=lambda n, prm, data: 1,
        max_pieces=lambda n: 2 * n + 2,
        max_nnz=lambda n: n,
    ),
)
