"""Chained CB3 I and II (Haarala, Miettinen, Mäkelä 2004; ``tnsunc.f``).

With the three pieces of term i, (u, v) = (x_i, x_{i+1}),

    a_i = u⁴ + v²,   b_i = (2 - u)² + (2 - v)²,   c_i = 2 exp(-u + v):

* ``chained_cb3_1``: f(x) = Σ_{i=0}^{n-2} max{a_i, b_i, c_i}. Subgradient: the gradient of the active
  piece of each term, ties resolved first > second > third (``tnsunc.f``). Chain coupling, halo 1.
  Sum-of-max pieces: n-1 groups {a_i, b_i, c_i}. Torch twin with the kernel's tie rule.
* ``chained_cb3_2``: f(x) = max{Σ_i a_i, Σ_i b_i, Σ_i c_i}. Subgradient: the gradient of the largest
  sum, ties first > second > third (``tnsunc.f``); it touches every coordinate, cost O(n). Global
  coupling. Sum-of-max pieces: 1 group, the three chained sums.

Both convex; x0 = 2; x* = 1, f* = 2(n-1), the only critical point (CB3 I is sharp there: 0 is
interior to the hull of the piece gradients at x*).
"""

from __future__ import annotations

import math

import numpy as np

from asyncconv._jit import jit
from asyncconv.problems._base import Instance, define, pieces
from asyncconv.problems._common import HMM_SOURCE, closed, put


@jit(inline="always")
def _pieces(u, v):
    a = u * u * u * u + v * v
    b = (2.0 - u) * (2.0 - u) + (2.0 - v) * (2.0 - v)
    c = 2.0 * math.exp(-u + v)
    return a, b, c


@jit(inline="always")
def _select(a, b, c):
    """0, 1, 2: active piece with tnsunc.f's priority a, then b, then c on ties."""
    y = max(max(a, b), c)
    if y == a:
        return 0
    if y == b:
        return 1
    return 2


@jit
def _sums(x):
    a = 0.0
    b = 0.0
    c = 0.0
    for i in range(x.shape[0] - 1):
        pa, pb, pc = _pieces(x[i], x[i + 1])
        a += pa
        b += pb
        c += pc
    return a, b, c


# --- chained CB3 I ---------------------------------------------------------------------------------


def cb3_1_value(prm, data, x):
    """f = sum_i max{x_i^4 + x_{i+1}^2, (2-x_i)^2 + (2-x_{i+1})^2, 2 exp(-x_i + x_{i+1})}."""
    f = 0.0
    for i in range(x.shape[0] - 1):
        a, b, c = _pieces(x[i], x[i + 1])
        f += max(max(a, b), c)
    return f


def cb3_1_grad(prm, data, x, lo, hi, idx, out):
    """Gradient of the active piece of each term; ties prefer x_i^4 + x_{i+1}^2, then the quadratic."""
    n = x.shape[0]
    for j in range(lo, hi):
        g = 0.0
        if j >= 1:
            u = x[j - 1]
            v = x[j]
            a, b, c = _pieces(u, v)
            k = _select(a, b, c)
            if k == 0:
                g = 2.0 * v
            elif k == 1:
                g = 2.0 * v - 4.0
            else:
                g = c
        if j <= n - 2:
            u = x[j]
            v = x[j + 1]
            a, b, c = _pieces(u, v)
            k = _select(a, b, c)
            if k == 0:
                g = g + 4.0 * u * u * u
            elif k == 1:
                g = g + 2.0 * u - 4.0
            else:
                g = g - c
        out[j - lo] = g


def cb3_1_group_values(prm, data, x, j, vals):
    """Group j: the three pieces of term j."""
    a, b, c = _pieces(x[j], x[j + 1])
    vals[0] = a
    vals[1] = b
    vals[2] = c
    return 3


def cb3_1_piece_grad(prm, data, x, j, k, idx, val, e):
    u = x[j]
    v = x[j + 1]
    if k == 0:
        e = put(idx, val, e, j, 4.0 * u * u * u)
        return put(idx, val, e, j + 1, 2.0 * v)
    if k == 1:
        e = put(idx, val, e, j, 2.0 * u - 4.0)
        return put(idx, val, e, j + 1, 2.0 * v - 4.0)
    c = 2.0 * math.exp(-u + v)
    e = put(idx, val, e, j, -c)
    return put(idx, val, e, j + 1, c)


def cb3_1_torch_value(x, data, prm, idx):
    """The twin: torch.where on the kernel's first-maximal-piece rule routes the gradient."""
    import torch

    u, v = x[:-1], x[1:]
    a = u * u * u * u + v * v
    b = (2.0 - u) * (2.0 - u) + (2.0 - v) * (2.0 - v)
    c = 2.0 * torch.exp(-u + v)
    first = (a >= b) & (a >= c)  # y == a in the kernel's max(max(a, b), c)
    second = ~first & (b >= c)
    return torch.where(first, a, torch.where(second, b, c)).sum()


# --- chained CB3 II --------------------------------------------------------------------------------


def cb3_2_value(prm, data, x):
    """f = max{sum_i (x_i^4 + x_{i+1}^2), sum_i ((2-x_i)^2 + (2-x_{i+1})^2), sum_i 2 exp(-x_i + x_{i+1})}."""
    a, b, c = _sums(x)
    return max(max(a, b), c)


def cb3_2_grad(prm, data, x, lo, hi, idx, out):
    """Gradient of the largest of the three chained sums (ties: first, then second). Cost O(n)."""
    n = x.shape[0]
    a, b, c = _sums(x)
    k = _select(a, b, c)
    for j in range(lo, hi):
        g = 0.0
        if j >= 1:
            if k == 0:
                g = 2.0 * x[j]
            elif k == 1:
                g = 2.0 * x[j] - 4.0
            else:
                g = 2.0 * math.exp(-x[j - 1] + x[j])
        if j <= n - 2:
            if k == 0:
                g = g + 4.0 * x[j] * x[j] * x[j]
            elif k == 1:
                g = g + 2.0 * x[j] - 4.0
            else:
                g = g - 2.0 * math.exp(-x[j] + x[j + 1])
        out[j - lo] = g


def cb3_2_group_values(prm, data, x, j, vals):
    """The one group: the three chained sums."""
    a, b, c = _sums(x)
    vals[0] = a
    vals[1] = b
    vals[2] = c
    return 3


def cb3_2_piece_grad(prm, data, x, j, k, idx, val, e):
    n = x.shape[0]
    for q in range(n):
        g = 0.0
        if q >= 1:
            if k == 0:
                g = 2.0 * x[q]
            elif k == 1:
                g = 2.0 * x[q] - 4.0
            else:
                g = 2.0 * math.exp(-x[q - 1] + x[q])
        if q <= n - 2:
            if k == 0:
                g = g + 4.0 * x[q] * x[q] * x[q]
            elif k == 1:
                g = g + 2.0 * x[q] - 4.0
            else:
                g = g - 2.0 * math.exp(-x[q] + x[q + 1])
        e = put(idx, val, e, q, g)
    return e


# --- builders and definitions ----------------------------------------------------------------------


def build(n, seed, params):
    """x0 = 2; x* = 1, f* = 2(n-1) (complete). Both problems."""
    return Instance(
        x0=np.full(n, 2.0),
        f_ref=2.0 * (n - 1),
        f_ref_source=closed("2(n-1)"),
        critical_points=np.ones(n),
        complete=True,
    )


CHAINED_CB3_1 = define(
    "chained_cb3_1",
    value=cb3_1_value,
    grad=cb3_1_grad,
    build=build,
    title="chained CB3 I: sum of maxima of three pieces",
    coupling="chain",
    halo=1,
    regular=True,
    convex=True,
    default_n=50,
    n_min=2,
    n_rule="n >= 2",
    known="x* = 1, f* = 2(n-1) (complete)",
    source=HMM_SOURCE,
    pieces=pieces(cb3_1_group_values, cb3_1_piece_grad, n_groups=lambda n, prm, data: n - 1),
    torch=cb3_1_torch_value,
)

CHAINED_CB3_2 = define(
    "chained_cb3_2",
    value=cb3_2_value,
    grad=cb3_2_grad,
    build=build,
    title="chained CB3 II: maximum of three chained sums",
    coupling="global",
    halo=-1,
    regular=True,
    convex=True,
    default_n=50,
    n_min=2,
    n_rule="n >= 2",
    known="x* = 1, f* = 2(n-1) (complete)",
    source=HMM_SOURCE,
    pieces=pieces(cb3_2_group_values, cb3_2_piece_grad, n_groups=lambda n, prm, data: 1, max_nnz=lambda n: n),
)
