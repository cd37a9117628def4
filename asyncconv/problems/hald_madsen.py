"""Hald–Madsen rational minimax (Hald & Madsen; adagio ``fnHald``; Lukšan–Vlček minimax collection).

    f(x) = max_{i<21} |v_i(x)|,  v_i = (x_0 + x_1 t_i)/(1 + x_2 t_i + x_3 t_i² + x_4 t_i³) - e^{t_i},

t_i = -1 + i/10 (computed as (i - 10)/10, so t_10 = 0 exactly). n = 5, x0 = (0.5, 0, 0, 0, 0).

Subgradient sign(v_h) ∇v_h, h = the first maximiser of |v_i|, sign(0) = 0, with ∇v derived by
hand: (1/D, t/D, -N t/D², -N t²/D², -N t³/D²), N = x_0 + x_1 t, D the denominator. |D| <
:data:`HALD_D_MIN` is replaced by ±HALD_D_MIN (the true f has poles there; keep iterates where
D > 0). Regular, nonconvex. Known: a certified critical point (KKT), f* ≈ 1.2237e-4
(:func:`asyncconv.problems._reference.hald_madsen_reference`); not the whole critical set. Global
coupling (halo -1). Sum-of-max pieces: 1 group ±v_i (k = 2i, 2i+1), i < 21, with the same guarded
denominator as the value.
"""

from __future__ import annotations

import math

import numpy as np

from asyncconv._jit import jit
from asyncconv.problems._base import Instance, define, evaluate, pieces
from asyncconv.problems._common import put, sign0
from asyncconv.problems._reference import hald_madsen_reference

#: |D| below this is replaced by +-HALD_D_MIN in Hald–Madsen's rational function (see _hald_v).
HALD_D_MIN = 1e-12


@jit(inline="always")
def _hald_t(i):
    """t_i = -1 + i/10, i = 0..20 (computed as (i - 10)/10 to keep t_10 = 0 exactly)."""
    return (i - 10.0) / 10.0


@jit
def _hald_v(x, i):
    """v_i = (x_0 + x_1 t)/(1 + x_2 t + x_3 t^2 + x_4 t^3) - exp(t); |D| < HALD_D_MIN -> +-HALD_D_MIN."""
    t = _hald_t(i)
    num = x[0] + x[1] * t
    den = 1.0 + t * (x[2] + t * (x[3] + t * x[4]))
    if abs(den) < HALD_D_MIN:
        den = -HALD_D_MIN if den < 0.0 else HALD_D_MIN
    return num / den - math.exp(t), num, den, t


def value(prm, data, x):
    """f = max_{i<21} |v_i(x)|."""
    f = 0.0
    for i in range(21):
        v, _, _, _ = _hald_v(x, i)
        if abs(v) > f:
            f = abs(v)
    return f


def grad(prm, data, x, lo, hi, idx, out):
    """g = s grad v_h, h = first maximiser of |v_i|, s = sign(v_h) (sign(0) = 0);
    grad v = (1/D, t/D, -N t/D^2, -N t^2/D^2, -N t^3/D^2) with N = x_0 + x_1 t, D guarded."""
    f = -1.0
    hit = 0
    for i in range(21):
        v, _, _, _ = _hald_v(x, i)
        if abs(v) > f:
            f = abs(v)
            hit = i
    v, num, den, t = _hald_v(x, hit)
    s = sign0(v)
    q = num / (den * den)
    for j in range(lo, hi):
        if j == 0:
            g = 1.0 / den
        elif j == 1:
            g = t / den
        elif j == 2:
            g = -q * t
        elif j == 3:
            g = -q * t * t
        else:
            g = -q * t * t * t
        out[j - lo] = s * g


def group_values(prm, data, x, j, vals):
    """The one group: the pieces +-v_i (k = 2i, 2i+1), i < 21."""
    for i in range(21):
        v, _, _, _ = _hald_v(x, i)
        vals[2 * i] = v
        vals[2 * i + 1] = -v
    return 42


def piece_grad(prm, data, x, j, k, idx, val, e):
    i = k // 2
    s = 1.0 if k % 2 == 0 else -1.0
    _, num, den, t = _hald_v(x, i)
    q = num / (den * den)
    e = put(idx, val, e, 0, s / den)
    e = put(idx, val, e, 1, s * t / den)
    e = put(idx, val, e, 2, -s * q * t)
    e = put(idx, val, e, 3, -s * q * t * t)
    return put(idx, val, e, 4, -s * q * t * t * t)


def build(n, seed, params):
    """n = 5, x0 = (0.5, 0, 0, 0, 0); a certified critical point (KKT), not the whole set."""
    ref = hald_madsen_reference()
    f = evaluate(HALD_MADSEN.value, ref.x)
    return Instance(
        x0=np.array([0.5, 0, 0, 0, 0.0]),
        f_ref=f,
        f_ref_source=ref.source,
        critical_points=ref.x,
        complete=False,
    )


HALD_MADSEN = define(
    "hald_madsen",
    value=value,
    grad=grad,
    build=build,
    title="Hald–Madsen rational minimax: max_i |v_i(x)|, 21 points",
    coupling="global",
    halo=-1,
    regular=True,
    convex=False,
    default_n=5,
    n_min=5,
    n_max=5,
    n_rule="n = 5",
    known="f* ~ 1.2237e-4 project-computed (KKT)",
    source="Hald & Madsen; adagio fnHald; Lukšan–Vlček minimax collection",
    pieces=pieces(group_values, piece_grad, n_groups=lambda n, prm, data: 1, max_pieces=42, max_nnz=5),
)
