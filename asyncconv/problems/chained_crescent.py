"""Chained Crescent I and II (Haarala, Miettinen, Mäkelä 2004; ``tnsunc.f``).

With the two pieces of term i, (u, v) = (x_i, x_{i+1}),

    p1_i = u² + (v - 1)² + v - 1,   p2_i = -u² - (v - 1)² + v + 1:

* ``chained_crescent_1``: f(x) = max{Σ_i p1_i, Σ_i p2_i}. Subgradient: the gradient of the larger sum,
  the first on ties (``tnsunc.f``); cost O(n). Equals S + |Q - (n-1)|; nonconvex, regular, x* = 0,
  f* = 0 the unique minimiser (problems.md §1 note 9; not the soobench port). Global coupling.
  Sum-of-max pieces: 1 group, the two chained sums.
* ``chained_crescent_2``: f(x) = Σ_{i=0}^{n-2} max{p1_i, p2_i}. Subgradient: term i adds
  (2 s x_i, 1 + 2 s (x_{i+1} - 1)), s = +1 iff p1_i >= p2_i (``tnsunc.f``). Nonconvex, regular,
  x* = 0 the unique global minimiser, f* = 0. Chain coupling, halo 1. Sum-of-max pieces: n-1 groups
  {p1_i, p2_i}.

Both: x0 = (-1.5, 2, -1.5, ...); other critical points not catalogued.
"""

from __future__ import annotations

import numpy as np

from asyncconv._jit import jit
from asyncconv.problems._base import Instance, define, pieces
from asyncconv.problems._common import HMM_SOURCE, closed, put


@jit(inline="always")
def _pieces(u, v):
    p1 = u * u + (v - 1.0) * (v - 1.0) + v - 1.0
    p2 = -u * u - (v - 1.0) * (v - 1.0) + v + 1.0
    return p1, p2


@jit
def _sums(x):
    s1 = 0.0
    s2 = 0.0
    for i in range(x.shape[0] - 1):
        p1, p2 = _pieces(x[i], x[i + 1])
        s1 += p1
        s2 += p2
    return s1, s2


# --- chained crescent I ----------------------------------------------------------------------------


def crescent_1_value(prm, data, x):
    """f = max{sum_i x_i^2 + (x_{i+1}-1)^2 + x_{i+1} - 1, sum_i -x_i^2 - (x_{i+1}-1)^2 + x_{i+1} + 1}."""
    s1, s2 = _sums(x)
    return max(s1, s2)


def crescent_1_grad(prm, data, x, lo, hi, idx, out):
    """Gradient of the larger sum, the first on ties (tnsunc.f). Cost O(n)."""
    n = x.shape[0]
    s1, s2 = _sums(x)
    sg = 1.0 if s1 >= s2 else -1.0
    for j in range(lo, hi):
        g = 0.0
        if j >= 1:
            g = sg * 2.0 * (x[j] - 1.0) + 1.0
        if j <= n - 2:
            g = g + sg * 2.0 * x[j]
        out[j - lo] = g


def crescent_1_group_values(prm, data, x, j, vals):
    """The one group: the two chained sums."""
    s1, s2 = _sums(x)
    vals[0] = s1
    vals[1] = s2
    return 2


def crescent_1_piece_grad(prm, data, x, j, k, idx, val, e):
    n = x.shape[0]
    sg = 1.0 if k == 0 else -1.0
    for q in range(n):
        g = 0.0
        if q >= 1:
            g = sg * 2.0 * (x[q] - 1.0) + 1.0
        if q <= n - 2:
            g = g + sg * 2.0 * x[q]
        e = put(idx, val, e, q, g)
    return e


# --- chained crescent II ---------------------------------------------------------------------------


def crescent_2_value(prm, data, x):
    """f = sum_i max{x_i^2 + (x_{i+1}-1)^2 + x_{i+1} - 1, -x_i^2 - (x_{i+1}-1)^2 + x_{i+1} + 1}."""
    f = 0.0
    for i in range(x.shape[0] - 1):
        p1, p2 = _pieces(x[i], x[i + 1])
        f += max(p1, p2)
    return f


def crescent_2_grad(prm, data, x, lo, hi, idx, out):
    """Term i adds (2 s x_i, 1 + 2 s (x_{i+1} - 1)), s = +1 iff the first piece is >= (tnsunc.f)."""
    n = x.shape[0]
    for j in range(lo, hi):
        g = 0.0
        if j >= 1:
            p1, p2 = _pieces(x[j - 1], x[j])
            s = 1.0 if p1 >= p2 else -1.0
            g = s * 2.0 * (x[j] - 1.0) + 1.0
        if j <= n - 2:
            p1, p2 = _pieces(x[j], x[j + 1])
            s = 1.0 if p1 >= p2 else -1.0
            g = g + s * 2.0 * x[j]
        out[j - lo] = g


def crescent_2_group_values(prm, data, x, j, vals):
    """Group j: the two crescent pieces of term j."""
    p1, p2 = _pieces(x[j], x[j + 1])
    vals[0] = p1
    vals[1] = p2
    return 2


def crescent_2_piece_grad(prm, data, x, j, k, idx, val, e):
    sg = 1.0 if k == 0 else -1.0
    e = put(idx, val, e, j, sg * 2.0 * x[j])
    return put(idx, val, e, j + 1, sg * 2.0 * (x[j + 1] - 1.0) + 1.0)


# --- builders and definitions ----------------------------------------------------------------------


def build(n, seed, params):
    """x0 = (-1.5, 2, -1.5, ...); x* = 0, f* = 0 (others not catalogued). Both problems."""
    x0 = np.where(np.arange(n) % 2 == 0, -1.5, 2.0)
    return Instance(
        x0=x0,
        f_ref=0.0,
        f_ref_source=closed(),
        critical_points=np.zeros(n),
        complete=False,
    )


CHAINED_CRESCENT_1 = define(
    "chained_crescent_1",
    value=crescent_1_value,
    grad=crescent_1_grad,
    build=build,
    title="chained crescent I: max of two chained sums",
    coupling="global",
    halo=-1,
    regular=True,
    convex=False,
    default_n=50,
    n_min=2,
    n_rule="n >= 2",
    known="x* = 0, f* = 0 (others not catalogued)",
    source=HMM_SOURCE,
    pieces=pieces(
        crescent_1_group_values,
        crescent_1_piece_grad,
        n_groups=lambda n, prm, data: 1,
        max_nnz=lambda n: n,
    ),
)

CHAINED_CRESCENT_2 = define(
    "chained_crescent_2",
    value=crescent_2_value,
    grad=crescent_2_grad,
    build=build,
    title="chained crescent II: sum of maxima of two pieces",
    coupling="chain",
    halo=1,
    regular=True,
    convex=False,
    default_n=50,
    n_min=2,
    n_rule="n >= 2",
    known="x* = 0, f* = 0 (others not catalogued)",
    source=HMM_SOURCE,
    pieces=pieces(crescent_2_group_values, crescent_2_piece_grad, n_groups=lambda n, prm, data: n - 1),
)
