"""Nesterov's Chebyshev–Rosenbrock family (Gürbüzbalaban & Overton 2012; HANSO driver).

With r_i = x_{i+1} - 2 x_i² + 1 (i = 0..n-2):

    chebyshev_rosenbrock  f(x) = (x_0 - 1)²/4 + Σ_i r_i²                          (smooth)
    ns1                   f(x) = (x_0 - 1)²/4 + Σ_i |r_i|                         (regular)
    ns2                   f(x) = |x_0 - 1|/4 + Σ_i |x_{i+1} - 2|x_i| + 1|         (not regular)

x0 = (-1, 1, ..., 1) for all three. Chain coupling, halo 1.

* chebyshev_rosenbrock: the gradient. The only critical point is x* = 1 (back-substitution from
  the last coordinate forces every residual to 0, then x_0 = 1), f* = 0 (complete).
* ns1: subgradient (x_0-1)/2 e_0 + Σ_i s_i (e_{i+1} - 4 x_i e_i), s_i = sign(r_i), sign(0) = 0
  (regular: smooth + |C¹|, so any s_i in [-1, 1] gives a Clarke element; 0 makes the selection
  vanish at x* = 1). Only Clarke-stationary point x* = 1, f* = 0 [HANSO driver] (complete).
* ns2: not regular. Subgradient with every sign(0) = +1 (the limit of gradients along a direction
  that makes every vanishing argument positive; see :func:`ns2_grad`). Critical set: the 2^(n-1)
  tent-map points of :func:`ns2_critical_points`, f = k 2^-n on them; only k = 0 (x* = 1) is a
  minimiser (complete). Use n <= 8 (problems.md §3 warning). The f-level k = round(f 2^n) is
  reported as an extra measure (:func:`ns2_extras`).

Sum-of-max pieces: chebyshev_rosenbrock n-1 one-piece groups r_i² (+ (x_0-1)²/4 in group 0);
ns1 n-1 groups ±r_i (+ (x_0-1)²/4 in both pieces of group 0); none for ns2 (not Clarke regular).
"""

from __future__ import annotations

import numpy as np

from asyncconv.problems._base import Instance, define, pieces
from asyncconv.problems._common import closed, put, sign0, sign_pos

_CR_SRC = "Gürbüzbalaban & Overton, Nonlinear Analysis 75:1282–1289, 2012; HANSO driver"


def _cr_x0(n):
    x0 = np.ones(n)
    x0[0] = -1.0
    return x0


# --- chebyshev_rosenbrock (smooth) ------------------------------------------------------------------


def cheb_value(prm, data, x):
    """f = (x_0 - 1)^2 / 4 + sum_i (x_{i+1} - 2 x_i^2 + 1)^2."""
    f = 0.25 * (x[0] - 1.0) * (x[0] - 1.0)
    for i in range(x.shape[0] - 1):
        r = x[i + 1] - 2.0 * x[i] * x[i] + 1.0
        f += r * r
    return f


def cheb_grad(prm, data, x, lo, hi, idx, out):
    """g_j = [j=0] (x_0-1)/2 + [j>=1] 2 r_{j-1} - [j<=n-2] 8 x_j r_j."""
    n = x.shape[0]
    for j in range(lo, hi):
        g = 0.0
        if j == 0:
            g = 0.5 * (x[0] - 1.0)
        if j >= 1:
            g = g + 2.0 * (x[j] - 2.0 * x[j - 1] * x[j - 1] + 1.0)
        if j <= n - 2:
            g = g - 8.0 * x[j] * (x[j + 1] - 2.0 * x[j] * x[j] + 1.0)
        out[j - lo] = g


def cheb_group_values(prm, data, x, j, vals):
    """Group j: the one piece r_j^2 (+ (x_0-1)^2/4 in group 0)."""
    r = x[j + 1] - 2.0 * x[j] * x[j] + 1.0
    sm = 0.25 * (x[0] - 1.0) * (x[0] - 1.0) if j == 0 else 0.0
    vals[0] = r * r + sm
    return 1


def cheb_piece_grad(prm, data, x, j, k, idx, val, e):
    r = x[j + 1] - 2.0 * x[j] * x[j] + 1.0
    g0 = -8.0 * x[j] * r
    if j == 0:
        g0 = g0 + 0.5 * (x[0] - 1.0)
    e = put(idx, val, e, j, g0)
    return put(idx, val, e, j + 1, 2.0 * r)


def cheb_build(n, seed, params):
    """x0 = (-1, 1, ..., 1); x* = 1, f* = 0 (complete)."""
    return Instance(
        x0=_cr_x0(n),
        f_ref=0.0,
        f_ref_source=closed(),
        critical_points=np.ones(n),
        complete=True,
    )


CHEBYSHEV_ROSENBROCK = define(
    "chebyshev_rosenbrock",
    value=cheb_value,
    grad=cheb_grad,
    build=cheb_build,
    title="Nesterov's Chebyshev–Rosenbrock (smooth)",
    coupling="chain",
    halo=1,
    regular=True,
    convex=False,
    default_n=3,
    n_min=2,
    n_rule="n >= 2",
    known="x* = 1, f* = 0 (complete)",
    source=_CR_SRC,
    pieces=pieces(cheb_group_values, cheb_piece_grad, n_groups=lambda n, prm, data: n - 1),
)


# --- ns1 --------------------------------------------------------------------------------------------


def ns1_value(prm, data, x):
    """f = (x_0 - 1)^2 / 4 + sum_i |x_{i+1} - 2 x_i^2 + 1|."""
    f = 0.25 * (x[0] - 1.0) * (x[0] - 1.0)
    for i in range(x.shape[0] - 1):
        f += abs(x[i + 1] - 2.0 * x[i] * x[i] + 1.0)
    return f


def ns1_grad(prm, data, x, lo, hi, idx, out):
    """g_j = [j=0] (x_0-1)/2 + [j>=1] s_{j-1} - [j<=n-2] 4 x_j s_j, s_i = sign(r_i), sign(0) = 0.

    NS1 is regular (smooth + |C^1|), so any s_i in [-1, 1] at r_i = 0 gives a Clarke element; 0 makes
    the selection vanish at the minimiser x* = 1.
    """
    n = x.shape[0]
    for j in range(lo, hi):
        g = 0.0
        if j == 0:
            g = 0.5 * (x[0] - 1.0)
        if j >= 1:
            g = g + sign0(x[j] - 2.0 * x[j - 1] * x[j - 1] + 1.0)
        if j <= n - 2:
            g = g - 4.0 * x[j] * sign0(x[j + 1] - 2.0 * x[j] * x[j] + 1.0)
        out[j - lo] = g


def ns1_group_values(prm, data, x, j, vals):
    """Group j: the pieces +-r_j (+ (x_0-1)^2/4 in both pieces of group 0)."""
    r = x[j + 1] - 2.0 * x[j] * x[j] + 1.0
    sm = 0.25 * (x[0] - 1.0) * (x[0] - 1.0) if j == 0 else 0.0
    vals[0] = r + sm
    vals[1] = -r + sm
    return 2


def ns1_piece_grad(prm, data, x, j, k, idx, val, e):
    s = 1.0 if k == 0 else -1.0
    g0 = -4.0 * x[j] * s
    if j == 0:
        g0 = g0 + 0.5 * (x[0] - 1.0)
    e = put(idx, val, e, j, g0)
    return put(idx, val, e, j + 1, s)


def ns1_build(n, seed, params):
    """x0 = (-1, 1, ..., 1); only Clarke-stationary point x* = 1, f* = 0 (complete)."""
    return Instance(
        x0=_cr_x0(n),
        f_ref=0.0,
        f_ref_source=closed(),
        critical_points=np.ones(n),
        complete=True,
    )


NS1 = define(
    "ns1",
    value=ns1_value,
    grad=ns1_grad,
    build=ns1_build,
    title="Nesterov's nonsmooth Chebyshev–Rosenbrock 1: (x_1-1)^2/4 + sum |x_{i+1}-2x_i^2+1|",
    coupling="chain",
    halo=1,
    regular=True,
    convex=False,
    default_n=3,
    n_min=2,
    n_rule="n >= 2",
    known="x* = 1, f* = 0 (complete)",
    source=_CR_SRC,
    pieces=pieces(ns1_group_values, ns1_piece_grad, n_groups=lambda n, prm, data: n - 1),
)


# --- ns2 (not regular) ------------------------------------------------------------------------------


def ns2_value(prm, data, x):
    """f = |x_0 - 1| / 4 + sum_i |x_{i+1} - 2|x_i| + 1|."""
    f = 0.25 * abs(x[0] - 1.0)
    for i in range(x.shape[0] - 1):
        f += abs(x[i + 1] - 2.0 * abs(x[i]) + 1.0)
    return f


def ns2_grad(prm, data, x, lo, hi, idx, out):
    """g = sign(x_0 - 1)/4 e_0 + sum_i s_i (e_{i+1} - 2 sign(x_i) e_i), s_i = sign(r_i), every sign(0) = +1.

    NS2 is not regular, so the sum rule does not justify arbitrary selections at kinks. With all
    sign(0) = +1 the formula is the limit of gradients at x + t d, t -> 0+, for d_0 = 1,
    d_{i+1} = 2 d_i + 1: along d every vanishing argument (x_0 - 1, x_i, r_i) becomes positive to
    first order while the others keep their sign, so it is an element of the Clarke subdifferential.
    """
    n = x.shape[0]
    for j in range(lo, hi):
        g = 0.0
        if j == 0:
            g = 0.25 * sign_pos(x[0] - 1.0)
        if j >= 1:
            g = g + sign_pos(x[j] - 2.0 * abs(x[j - 1]) + 1.0)
        if j <= n - 2:
            g = g - 2.0 * sign_pos(x[j]) * sign_pos(x[j + 1] - 2.0 * abs(x[j]) + 1.0)
        out[j - lo] = g


def ns2_critical_points(n: int) -> np.ndarray:
    """(2^(n-1), n): x_1 = 1 - k 2^(2-n), k = 0..2^(n-1)-1, then x_{i+1} = 2|x_i| - 1 (tent map).

    All entries are dyadic rationals with at most n bits, so they are exact in float64, and
    f = k 2^-n exactly on them. Row k is the point with f-level k.
    """
    k = np.arange(2 ** (n - 1), dtype=np.float64)
    pts = np.empty((k.size, n))
    pts[:, 0] = 1.0 - k * 2.0 ** (2 - n)
    for i in range(n - 1):
        pts[:, i + 1] = 2.0 * np.abs(pts[:, i]) - 1.0
    return pts


def ns2_extras(problem, x, f):
    """The critical points have f = k 2^-n; the level k names the one reached."""
    return {"f_level": round(f * 2.0**problem.n)}


def ns2_build(n, seed, params):
    """x0 = (-1, 1, ..., 1); the 2^(n-1) tent-map points, f = k 2^-n (complete); f* = 0 at x* = 1."""
    return Instance(
        x0=_cr_x0(n),
        f_ref=0.0,
        f_ref_source=closed(),
        critical_points=ns2_critical_points(n),
        complete=True,
    )


NS2 = define(
    "ns2",
    value=ns2_value,
    grad=ns2_grad,
    build=ns2_build,
    title="Nesterov's nonsmooth Chebyshev–Rosenbrock 2: |x_1-1|/4 + sum |x_{i+1}-2|x_i|+1|",
    coupling="chain",
    halo=1,
    regular=False,
    convex=False,
    default_n=3,
    n_min=2,
    n_max=12,
    n_rule="2 <= n <= 12 (use n <= 8)",
    known="2^(n-1) critical points, f = k 2^-n (complete); x* = 1, f* = 0",
    source=_CR_SRC,
    extras=ns2_extras,
)
