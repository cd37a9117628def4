"""Blockwise-critical trap (problems.md §8.1): ``trap`` (n = 2) and ``trap_nd`` (even n).

    f(x) = Σ_p |u_p - v_p| + (c/2)(u_p + v_p) + (u_p + v_p)²/2,   (u_p, v_p) = (x_2p, x_2p+1)

``trap`` is the single pair f = |x_1 - x_2| + (c/2)(x_1 + x_2) + (x_1 + x_2)²/2; ``trap_nd`` sums
it over the disjoint pairs. Both share the formulas below (prm = (c,)).

Subgradient: (s + c/2 + sg, s + c/2 - sg) per pair, s = u + v, sg = sign(u - v), sign(0) = 0.
Convex; unique Clarke-critical point -c/4 per coordinate, f* = -(n/2) c²/8 (complete); every
diagonal pair (t, t) with |c/2 + 2t| <= 1 is blockwise critical. x0 = (2, -1.5) per pair. Pairs
coupling, halo 1. Sum-of-max pieces: n/2 groups (pairs) ±(u - v) + (c/2)(u + v) + (u + v)²/2.
"""

from __future__ import annotations

import numpy as np

from asyncconv.problems._base import Instance, Param, define, pieces, real
from asyncconv.problems._common import closed, put, sign0


def value(prm, data, x):
    """f = sum_p |u - v| + (c/2)(u + v) + (u + v)^2 / 2 over pairs (u, v) = (x_2p, x_2p+1), c = prm[0]."""
    c = prm[0]
    f = 0.0
    for p in range(x.shape[0] // 2):
        u = x[2 * p]
        v = x[2 * p + 1]
        s = u + v
        f += abs(u - v) + 0.5 * c * s + 0.5 * s * s
    return f


def grad(prm, data, x, lo, hi, idx, out):
    """(s + c/2 + sg, s + c/2 - sg) per pair, s = u + v, sg = sign(u - v), sign(0) = 0."""
    c = prm[0]
    for j in range(lo, hi):
        p = j // 2
        u = x[2 * p]
        v = x[2 * p + 1]
        sg = sign0(u - v)
        base = (u + v) + 0.5 * c
        out[j - lo] = base + sg if j == 2 * p else base - sg


def group_values(prm, data, x, j, vals):
    """Group j (pair (u, v) = (x_2j, x_2j+1)): the pieces +-(u - v) + (c/2)(u + v) + (u + v)^2/2."""
    u = x[2 * j]
    v = x[2 * j + 1]
    s = u + v
    sm = 0.5 * prm[0] * s + 0.5 * s * s
    vals[0] = (u - v) + sm
    vals[1] = (v - u) + sm
    return 2


def piece_grad(prm, data, x, j, k, idx, val, e):
    u = x[2 * j]
    v = x[2 * j + 1]
    base = (u + v) + 0.5 * prm[0]
    s = 1.0 if k == 0 else -1.0
    e = put(idx, val, e, 2 * j, base + s)
    return put(idx, val, e, 2 * j + 1, base - s)


def build(n, seed, params):
    """x0 = (2, -1.5) per pair; x* = -c/4 1, f* = -(n/2) c^2/8 (complete)."""
    c = params["c"]
    x0 = np.resize(np.array([2.0, -1.5]), n)
    f_ref = -(n // 2) * c * c / 8.0
    return Instance(
        x0=x0,
        f_ref=f_ref,
        f_ref_source=closed("-(n/2) c^2/8"),
        critical_points=np.full(n, -c / 4.0),
        complete=True,
        prm=[c],
    )


_C = {"c": Param(1.0, real, "linear coefficient c (default 1)")}

TRAP = define(
    "trap",
    value=value,
    grad=grad,
    build=build,
    title="blockwise-critical trap |x_1-x_2| + (c/2)(x_1+x_2) + (x_1+x_2)^2/2",
    coupling="pairs",
    halo=1,
    regular=True,
    convex=True,
    default_n=2,
    n_min=2,
    n_max=2,
    n_rule="n = 2",
    known="x* = (-c/4, -c/4), f* = -c^2/8 (complete)",
    source="problems.md §8.1",
    params=_C,
    pieces=pieces(group_values, piece_grad, n_groups=lambda n, prm, data: n // 2),
)

TRAP_ND = define(
    "trap_nd",
    value=value,
    grad=grad,
    build=build,
    title="blockwise-critical trap summed over pairs (x_2p, x_2p+1)",
    coupling="pairs",
    halo=1,
    regular=True,
    convex=True,
    default_n=10,
    n_min=2,
    n_max=None,
    n_step=2,
    n_rule="even n >= 2",
    known="x* = -c/4 1, f* = -(n/2) c^2/8 (complete)",
    source="problems.md §8.1",
    params=_C,
    pieces=pieces(group_values, piece_grad, n_groups=lambda n, prm, data: n // 2),
)
