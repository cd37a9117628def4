"""Shor's function (SolvOpt ``shorf``, Kuntsevich & Kappel).

    f(x) = max_{i<10} b_i ||x - a_i||²

with the centres a_i and weights b_i of :data:`asyncconv.problems._reference.SHOR_CENTRES` and
``SHOR_B``; ``data`` rows [a_i (5), b_i]. n = 5, x0 = (0, 0, 0, 0, 1).

Subgradient 2 b_h (x - a_h), h = the first maximiser. Strictly convex (each piece is), so the
computed KKT point (:func:`asyncconv.problems._reference.shor_reference`, f* ≈ 22.600162) is the
unique minimiser (complete). Global coupling (halo -1). Sum-of-max pieces: 1 group, the 10 pieces
b_i ||x - a_i||².
"""

from __future__ import annotations

import numpy as np

from asyncconv._jit import jit
from asyncconv.problems._base import Instance, define, evaluate, pieces, ro
from asyncconv.problems._common import put
from asyncconv.problems._reference import SHOR_B, SHOR_CENTRES, shor_reference


@jit
def _shor_piece(data, x, i):
    s = 0.0
    for j in range(x.shape[0]):
        d = x[j] - data[i, j]
        s += d * d
    return data[i, x.shape[0]] * s


def value(prm, data, x):
    """f = max_i b_i ||x - a_i||^2; data rows [a_i (5), b_i]."""
    f = _shor_piece(data, x, 0)
    for i in range(1, data.shape[0]):
        v = _shor_piece(data, x, i)
        if v > f:
            f = v
    return f


def grad(prm, data, x, lo, hi, idx, out):
    """g = 2 b_h (x - a_h), h = first maximiser."""
    n = x.shape[0]
    f = _shor_piece(data, x, 0)
    hit = 0
    for i in range(1, data.shape[0]):
        v = _shor_piece(data, x, i)
        if v > f:
            f = v
            hit = i
    for j in range(lo, hi):
        out[j - lo] = 2.0 * data[hit, n] * (x[j] - data[hit, j])


def group_values(prm, data, x, j, vals):
    """The one group: the pieces b_i ||x - a_i||^2."""
    for i in range(data.shape[0]):
        vals[i] = _shor_piece(data, x, i)
    return data.shape[0]


def piece_grad(prm, data, x, j, k, idx, val, e):
    n = x.shape[0]
    for q in range(n):
        e = put(idx, val, e, q, 2.0 * data[k, n] * (x[q] - data[k, q]))
    return e


def build(n, seed, params):
    """n = 5, x0 = (0, 0, 0, 0, 1); the unique minimiser computed by KKT (complete)."""
    ref = shor_reference()
    data = ro(np.hstack([SHOR_CENTRES, SHOR_B[:, None]]), 2)
    f = evaluate(SHOR.value, ref.x, data=data)
    return Instance(
        x0=np.array([0, 0, 0, 0, 1.0]),
        f_ref=f,
        f_ref_source=ref.source,
        critical_points=ref.x,
        complete=True,
        data=data,
    )


SHOR = define(
    "shor",
    value=value,
    grad=grad,
    build=build,
    title="Shor: max_i b_i ||x - a_i||^2, 10 pieces",
    coupling="global",
    halo=-1,
    regular=True,
    convex=True,
    default_n=5,
    n_min=5,
    n_max=5,
    n_rule="n = 5",
    known="f* ~ 22.600162 project-computed (KKT; complete)",
    source="SolvOpt shorf (Kuntsevich & Kappel)",
    pieces=pieces(
        group_values, piece_grad, n_groups=lambda n, prm, data: 1, max_pieces=10, max_nnz=lambda n: n
    ),
)
