"""Nonsmooth generalisation of Brown function 2 (Haarala, Miettinen, Mäkelä 2004; ``tnsunc.f``).

    f(x) = Σ_{i=0}^{n-2} T(x_i, x_{i+1}),   T(a, b) = |a|^(b² + 1) + |b|^(a² + 1)   (0^0 = 1)

Subgradient: the hand-coded derivative
∂T/∂a = (b² + 1)|a|^(b²) sign(a) + 2a |b|^(a² + 1) ln|b|, with ``tnsunc.f``'s selection sign(0) = +1
for the first argument of a term and 0 for the second; the logarithm is guarded (ln|b| := 0 at
b = 0, the limit of the product, which avoids 0 · -inf = NaN). Nonconvex, Clarke regular;
x* = 0, f* = 0 (sharp); other critical points not catalogued. Chain coupling, halo 1.
x0 = (-1, 1, -1, ...). Sum-of-max pieces: 2(n-1) groups; group 2i: ±a|a|^(b²) with
(a, b) = (x_i, x_{i+1}) (= |a|^(b²+1) for the sign of a), group 2i+1 the same with
(a, b) = (x_{i+1}, x_i). Heuristic near a = 0, where these pieces are not C¹ (problems.md §1 note 7).
"""

from __future__ import annotations

import math

import numpy as np

from asyncconv._jit import jit
from asyncconv.problems._base import Instance, define, pieces
from asyncconv.problems._common import HMM_SOURCE, closed, put


def value(prm, data, x):
    """f = sum_i |x_i|^(x_{i+1}^2 + 1) + |x_{i+1}|^(x_i^2 + 1), with 0^0 = 1."""
    f = 0.0
    for i in range(x.shape[0] - 1):
        a = abs(x[i])
        b = abs(x[i + 1])
        c = x[i] * x[i] + 1.0
        d = x[i + 1] * x[i + 1] + 1.0
        f += b**c + a**d
    return f


def grad(prm, data, x, lo, hi, idx, out):
    """dT/da = (b^2+1)|a|^(b^2) sign(a) + 2a |b|^(a^2+1) ln|b| for T(a, b) = |a|^(b^2+1) + |b|^(a^2+1).

    tnsunc.f's selection: sign(0) = +1 for the first argument of a term, 0 for the second; the
    logarithm is guarded (ln|b| := 0 at b = 0, the limit of the product, which avoids 0 * -inf = NaN).
    """
    n = x.shape[0]
    for j in range(lo, hi):
        g = 0.0
        if j >= 1:  # term j-1 = T(x_{j-1}, x_j), derivative in its second argument
            xi = x[j - 1]
            xj = x[j]
            if xj != 0.0:
                a = abs(xi)
                b = abs(xj)
                c = xi * xi + 1.0
                d = xj * xj + 1.0
                q = math.log(a) if a > 0.0 else 0.0
                g = (-1.0 if xj < 0.0 else 1.0) * c * b ** (c - 1.0) + 2.0 * xj * q * a**d
        if j <= n - 2:  # term j = T(x_j, x_{j+1}), first argument
            xi = x[j]
            xk = x[j + 1]
            a = abs(xi)
            b = abs(xk)
            c = xi * xi + 1.0
            d = xk * xk + 1.0
            p = math.log(b) if b > 0.0 else 0.0
            s = -1.0 if xi < 0.0 else 1.0
            g = g + s * d * a ** (d - 1.0) + 2.0 * xi * p * b**c
        out[j - lo] = g


@jit(inline="always")
def _ab(x, j):
    """Group j: (index of a, index of b) with the piece s a |a|^(b^2)."""
    i = j // 2
    if j % 2 == 0:
        return i, i + 1
    return i + 1, i


def group_values(prm, data, x, j, vals):
    """Group j: the pieces +-a |a|^(b^2), (a, b) from :func:`_ab`."""
    ia, ib = _ab(x, j)
    a = x[ia]
    b = x[ib]
    h = a * abs(a) ** (b * b)
    vals[0] = h
    vals[1] = -h
    return 2


def piece_grad(prm, data, x, j, k, idx, val, e):
    ia, ib = _ab(x, j)
    a = x[ia]
    b = x[ib]
    s = 1.0 if k == 0 else -1.0
    pw = abs(a) ** (b * b)
    la = math.log(abs(a)) if a != 0.0 else 0.0
    ga = s * (b * b + 1.0) * pw
    gb = s * a * pw * 2.0 * b * la
    if ia < ib:
        e = put(idx, val, e, ia, ga)
        return put(idx, val, e, ib, gb)
    e = put(idx, val, e, ib, gb)
    return put(idx, val, e, ia, ga)


def build(n, seed, params):
    """x0 = (-1, 1, -1, ...); x* = 0, f* = 0 (other critical points not catalogued)."""
    x0 = np.where(np.arange(n) % 2 == 0, -1.0, 1.0)
    return Instance(
        x0=x0,
        f_ref=0.0,
        f_ref_source=closed(),
        critical_points=np.zeros(n),
        complete=False,
    )


BROWN2 = define(
    "brown2",
    value=value,
    grad=grad,
    build=build,
    title="nonsmooth Brown 2: sum_i |x_i|^(x_{i+1}^2+1) + |x_{i+1}|^(x_i^2+1)",
    coupling="chain",
    halo=1,
    regular=True,
    convex=False,
    default_n=50,
    n_min=2,
    n_rule="n >= 2",
    known="x* = 0, f* = 0 (others not catalogued)",
    source=HMM_SOURCE,
    pieces=pieces(group_values, piece_grad, n_groups=lambda n, prm, data: 2 * (n - 1)),
)
