"""Numba kernels of the test-problem battery: values and block subgradients, dispatched by problem id.

Two entry points, both callable from Python and from inside other ``@nb.njit`` functions::

    value(pid, prm, data, x) -> float
    grad_range(pid, prm, data, x, lo, hi, idx, out) -> None

Arguments (shapes):

* ``pid``  int: problem id, one of the ``P_*`` constants below (``battery.py`` maps names to ids);
* ``prm``  float64 (p,), p >= 1: scalar parameters of the problem (weights, lambda, sizes);
* ``data`` float64 (m, q), at least (1, 1): finite-sum rows or constants; a dummy when unused;
* ``x``    float64 (n,): the point;
* ``lo, hi`` ints with 0 <= lo <= hi <= n: the coordinate range to fill;
* ``idx``  int64 (b,): sample indices of a minibatch for finite-sum problems; b = 0 means the full
  sum. Ignored by the other problems;
* ``out``  float64 (>= hi - lo,): receives coordinates lo..hi-1 of one subgradient.

Contract of ``grad_range`` (DESIGN §4.3):

* ``out[0:hi-lo]`` holds coordinates ``lo..hi-1`` of ONE element of the Clarke subdifferential of f at
  x (of the minibatch objective for finite sums), hand-coded with a deterministic selection rule at
  kinks. The rules are stated per problem below; for the Haarala–Miettinen–Mäkelä problems they are
  those of ``tnsunc.f`` (Haarala, Miettinen, Mäkelä, Optim. Methods Softw. 19(6), 2004), see
  ``reference/problems.md`` §1.
* Slices agree bit for bit: grad_range(lo, mid) ++ grad_range(mid, hi) == grad_range(lo, hi).
  Every output coordinate is computed by the same floating-point operations whatever the range.
* Reads of x stay inside [lo - halo, hi + halo) (clipped to [0, n)) for problems with halo >= 0
  (halo 0: separable; halo 1: chains and disjoint pairs). Cost O(hi - lo) for those;
  global-max and dense problems read all of x and cost O(n) (O(n^2) MXHILB, O(b n) finite sums).
* No Python objects, no exceptions: logarithms and divisions are guarded as stated per problem.

``sign(0)`` conventions: where a rule below says ``sign(0) = 0`` the function is Clarke regular at
that kink (or separable), so the sum rule makes the chain-rule selection an element of the Clarke
subdifferential; ``NS2`` (not regular) uses ``sign(0) = +1`` throughout, which is the limit of
gradients along a direction that makes every vanishing argument positive (see ``_ns2_grad``).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

# --- problem ids (stable: saved results refer to them) -------------------------------------------
P_MAXQ = 0
P_MXHILB = 1
P_CHAINED_LQ = 2
P_CHAINED_CB3_1 = 3
P_CHAINED_CB3_2 = 4
P_ACTIVE_FACES = 5
P_BROWN2 = 6
P_CHAINED_MIFFLIN2 = 7
P_CHAINED_CRESCENT_1 = 8
P_CHAINED_CRESCENT_2 = 9
P_CHEB_ROSENBROCK = 10
P_NS1 = 11
P_NS2 = 12
P_NS_ROSENBROCK = 13
P_CHAINED_NS_ROSENBROCK = 14
P_HALD_MADSEN = 15
P_SHOR = 16
P_PHASE_RETRIEVAL = 17
P_L1_NONCONVEX_REGRESSION = 18
P_RELU_REGRESSION = 19
P_WEIGHTED_L1 = 20
P_L1_PLUS_QUADRATIC = 21
P_DOUBLE_WELL_ABS = 22
P_DOUBLE_WELL_SQ = 23
P_TRAP = 24
P_TRAP_ND = 25
N_PROBLEMS = 26

#: |D| below this is replaced by +-HALD_D_MIN in Hald–Madsen's rational function (see _hald_madsen_*).
HALD_D_MIN = 1e-12


@nb.njit(cache=True, inline="always")
def _sign0(v):
    """sign with sign(0) = 0 (and 0 for NaN: callers whose other factors are NaN stay NaN)."""
    if v > 0.0:
        return 1.0
    if v < 0.0:
        return -1.0
    return 0.0


@nb.njit(cache=True, inline="always")
def _sign_pos(v):
    """sign with sign(0) = +1 (Fortran SIGN(1, v) for v = +0)."""
    if v < 0.0:
        return -1.0
    return 1.0


# =================================================================================================
# 1. Haarala–Miettinen–Mäkelä scalable set (tnsunc.f). Terms i = 0..n-2 couple (x_i, x_{i+1}).
# =================================================================================================


@nb.njit(cache=True)
def _maxq_value(x):
    """f = max_i x_i^2."""
    f = x[0] * x[0]
    for i in range(1, x.shape[0]):
        y = x[i] * x[i]
        if y > f:
            f = y
    return f


@nb.njit(cache=True)
def _maxq_grad(x, lo, hi, out):
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


@nb.njit(cache=True)
def _mxhilb_residual(x, i):
    """r_i = sum_j x_j / (i + j + 1) (0-based: the Hilbert row i)."""
    s = 0.0
    for j in range(x.shape[0]):
        s += x[j] / (i + j + 1.0)
    return s


@nb.njit(cache=True)
def _mxhilb_value(x):
    """f = max_i |(H x)_i|, H_ij = 1/(i+j-1) (1-based)."""
    f = 0.0
    for i in range(x.shape[0]):
        r = abs(_mxhilb_residual(x, i))
        if r > f:
            f = r
    return f


@nb.njit(cache=True)
def _mxhilb_grad(x, lo, hi, out):
    """g = sign(r_h) H_h., h = first index of max |r_i|, sign(0) = +1 (tnsunc.f). Cost O(n^2)."""
    n = x.shape[0]
    f = abs(_mxhilb_residual(x, 0))
    hit = 0
    for i in range(1, n):
        r = abs(_mxhilb_residual(x, i))
        if r > f:
            f = r
            hit = i
    s = _sign_pos(_mxhilb_residual(x, hit))
    for j in range(lo, hi):
        out[j - lo] = s / (hit + j + 1.0)


@nb.njit(cache=True)
def _chained_lq_value(x):
    """f = sum_i max{-x_i - x_{i+1}, -x_i - x_{i+1} + x_i^2 + x_{i+1}^2 - 1}."""
    f = 0.0
    for i in range(x.shape[0] - 1):
        a = -x[i] - x[i + 1]
        q = x[i] * x[i] + x[i + 1] * x[i + 1] - 1.0
        f += a + q if q > 0.0 else a
    return f


@nb.njit(cache=True)
def _chained_lq_grad(x, lo, hi, out):
    """Term i adds (-1, -1), plus (2x_i, 2x_{i+1}) iff q_i = x_i^2 + x_{i+1}^2 - 1 > 0 (ties: linear)."""
    n = x.shape[0]
    for j in range(lo, hi):
        g = 0.0
        if j >= 1:  # term j-1, second argument
            q = x[j - 1] * x[j - 1] + x[j] * x[j] - 1.0
            g = -1.0 + 2.0 * x[j] if q > 0.0 else -1.0
        if j <= n - 2:  # term j, first argument
            q = x[j] * x[j] + x[j + 1] * x[j + 1] - 1.0
            g = g + (-1.0 + 2.0 * x[j]) if q > 0.0 else g + -1.0
        out[j - lo] = g


@nb.njit(cache=True, inline="always")
def _cb3_pieces(u, v):
    a = u * u * u * u + v * v
    b = (2.0 - u) * (2.0 - u) + (2.0 - v) * (2.0 - v)
    c = 2.0 * math.exp(-u + v)
    return a, b, c


@nb.njit(cache=True, inline="always")
def _cb3_select(a, b, c):
    """0, 1, 2: active piece with tnsunc.f's priority a, then b, then c on ties."""
    y = max(max(a, b), c)
    if y == a:
        return 0
    if y == b:
        return 1
    return 2


@nb.njit(cache=True)
def _chained_cb3_1_value(x):
    """f = sum_i max{x_i^4 + x_{i+1}^2, (2-x_i)^2 + (2-x_{i+1})^2, 2 exp(-x_i + x_{i+1})}."""
    f = 0.0
    for i in range(x.shape[0] - 1):
        a, b, c = _cb3_pieces(x[i], x[i + 1])
        f += max(max(a, b), c)
    return f


@nb.njit(cache=True)
def _chained_cb3_1_grad(x, lo, hi, out):
    """Gradient of the active piece of each term; ties prefer x_i^4 + x_{i+1}^2, then the quadratic."""
    n = x.shape[0]
    for j in range(lo, hi):
        g = 0.0
        if j >= 1:
            u = x[j - 1]
            v = x[j]
            a, b, c = _cb3_pieces(u, v)
            k = _cb3_select(a, b, c)
            if k == 0:
                g = 2.0 * v
            elif k == 1:
                g = 2.0 * v - 4.0
            else:
                g = c
        if j <= n - 2:
            u = x[j]
            v = x[j + 1]
            a, b, c = _cb3_pieces(u, v)
            k = _cb3_select(a, b, c)
            if k == 0:
                g = g + 4.0 * u * u * u
            elif k == 1:
                g = g + 2.0 * u - 4.0
            else:
                g = g - c
        out[j - lo] = g


@nb.njit(cache=True)
def _cb3_2_sums(x):
    a = 0.0
    b = 0.0
    c = 0.0
    for i in range(x.shape[0] - 1):
        pa, pb, pc = _cb3_pieces(x[i], x[i + 1])
        a += pa
        b += pb
        c += pc
    return a, b, c


@nb.njit(cache=True)
def _chained_cb3_2_value(x):
    """f = max{sum_i (x_i^4 + x_{i+1}^2), sum_i ((2-x_i)^2 + (2-x_{i+1})^2), sum_i 2 exp(-x_i + x_{i+1})}."""
    a, b, c = _cb3_2_sums(x)
    return max(max(a, b), c)


@nb.njit(cache=True)
def _chained_cb3_2_grad(x, lo, hi, out):
    """Gradient of the largest of the three chained sums (ties: first, then second). Cost O(n)."""
    n = x.shape[0]
    a, b, c = _cb3_2_sums(x)
    k = _cb3_select(a, b, c)
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


@nb.njit(cache=True)
def _active_faces_scan(x):
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


@nb.njit(cache=True)
def _active_faces_value(x):
    """f = max{g(-sum_j x_j), max_i g(x_i)}, g(t) = ln(|t| + 1) (computed as log1p)."""
    _, m, y = _active_faces_scan(x)
    return math.log1p(max(m, abs(y)))


@nb.njit(cache=True)
def _active_faces_grad(x, lo, hi, out):
    """tnsunc.f: the sum piece only if strictly larger; pieces compared on |.| (g is increasing).

    Sum piece: g = -sign(y)/(1+|y|) 1 with y = -sum x and sign(0) = +1 (tnsunc.f);
    coordinate piece h (first maximiser): g = sign(x_h)/(1+|x_h|) e_h, sign(0) = +1. Cost O(n).
    """
    hit, m, y = _active_faces_scan(x)
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


@nb.njit(cache=True)
def _brown2_value(x):
    """f = sum_i |x_i|^(x_{i+1}^2 + 1) + |x_{i+1}|^(x_i^2 + 1), with 0^0 = 1."""
    f = 0.0
    for i in range(x.shape[0] - 1):
        a = abs(x[i])
        b = abs(x[i + 1])
        c = x[i] * x[i] + 1.0
        d = x[i + 1] * x[i + 1] + 1.0
        f += b**c + a**d
    return f


@nb.njit(cache=True)
def _brown2_grad(x, lo, hi, out):
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


@nb.njit(cache=True)
def _mifflin2_value(x):
    """f = sum_i -x_i + 2 y_i + 1.75 |y_i|, y_i = x_i^2 + x_{i+1}^2 - 1."""
    f = 0.0
    for i in range(x.shape[0] - 1):
        y = x[i] * x[i] + x[i + 1] * x[i + 1] - 1.0
        f += -x[i] + 2.0 * y + 1.75 * abs(y)
    return f


@nb.njit(cache=True)
def _mifflin2_grad(x, lo, hi, out):
    """Term i adds (-1 + (4 + 3.5 s) x_i, (4 + 3.5 s) x_{i+1}), s = sign(y_i), sign(0) = +1 (tnsunc.f)."""
    n = x.shape[0]
    for j in range(lo, hi):
        g = 0.0
        if j >= 1:
            y = x[j - 1] * x[j - 1] + x[j] * x[j] - 1.0
            k = 7.5 if y >= 0.0 else 0.5
            g = k * x[j]
        if j <= n - 2:
            y = x[j] * x[j] + x[j + 1] * x[j + 1] - 1.0
            k = 7.5 if y >= 0.0 else 0.5
            g = g + k * x[j] - 1.0
        out[j - lo] = g


@nb.njit(cache=True, inline="always")
def _crescent_pieces(u, v):
    p1 = u * u + (v - 1.0) * (v - 1.0) + v - 1.0
    p2 = -u * u - (v - 1.0) * (v - 1.0) + v + 1.0
    return p1, p2


@nb.njit(cache=True)
def _crescent_1_sums(x):
    s1 = 0.0
    s2 = 0.0
    for i in range(x.shape[0] - 1):
        p1, p2 = _crescent_pieces(x[i], x[i + 1])
        s1 += p1
        s2 += p2
    return s1, s2


@nb.njit(cache=True)
def _crescent_1_value(x):
    """f = max{sum_i x_i^2 + (x_{i+1}-1)^2 + x_{i+1} - 1, sum_i -x_i^2 - (x_{i+1}-1)^2 + x_{i+1} + 1}."""
    s1, s2 = _crescent_1_sums(x)
    return max(s1, s2)


@nb.njit(cache=True)
def _crescent_1_grad(x, lo, hi, out):
    """Gradient of the larger sum, the first on ties (tnsunc.f). Cost O(n)."""
    n = x.shape[0]
    s1, s2 = _crescent_1_sums(x)
    sg = 1.0 if s1 >= s2 else -1.0
    for j in range(lo, hi):
        g = 0.0
        if j >= 1:
            g = sg * 2.0 * (x[j] - 1.0) + 1.0
        if j <= n - 2:
            g = g + sg * 2.0 * x[j]
        out[j - lo] = g


@nb.njit(cache=True)
def _crescent_2_value(x):
    """f = sum_i max{x_i^2 + (x_{i+1}-1)^2 + x_{i+1} - 1, -x_i^2 - (x_{i+1}-1)^2 + x_{i+1} + 1}."""
    f = 0.0
    for i in range(x.shape[0] - 1):
        p1, p2 = _crescent_pieces(x[i], x[i + 1])
        f += max(p1, p2)
    return f


@nb.njit(cache=True)
def _crescent_2_grad(x, lo, hi, out):
    """Term i adds (2 s x_i, 1 + 2 s (x_{i+1} - 1)), s = +1 iff the first piece is >= (tnsunc.f)."""
    n = x.shape[0]
    for j in range(lo, hi):
        g = 0.0
        if j >= 1:
            p1, p2 = _crescent_pieces(x[j - 1], x[j])
            s = 1.0 if p1 >= p2 else -1.0
            g = s * 2.0 * (x[j] - 1.0) + 1.0
        if j <= n - 2:
            p1, p2 = _crescent_pieces(x[j], x[j + 1])
            s = 1.0 if p1 >= p2 else -1.0
            g = g + s * 2.0 * x[j]
        out[j - lo] = g


# =================================================================================================
# 3. Nesterov's Chebyshev–Rosenbrock family: r_i = x_{i+1} - 2 x_i^2 + 1 (smooth, NS1),
#    r_i = x_{i+1} - 2|x_i| + 1 (NS2).
# =================================================================================================


@nb.njit(cache=True)
def _cheb_value(x):
    """f = (x_0 - 1)^2 / 4 + sum_i (x_{i+1} - 2 x_i^2 + 1)^2."""
    f = 0.25 * (x[0] - 1.0) * (x[0] - 1.0)
    for i in range(x.shape[0] - 1):
        r = x[i + 1] - 2.0 * x[i] * x[i] + 1.0
        f += r * r
    return f


@nb.njit(cache=True)
def _cheb_grad(x, lo, hi, out):
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


@nb.njit(cache=True)
def _ns1_value(x):
    """f = (x_0 - 1)^2 / 4 + sum_i |x_{i+1} - 2 x_i^2 + 1|."""
    f = 0.25 * (x[0] - 1.0) * (x[0] - 1.0)
    for i in range(x.shape[0] - 1):
        f += abs(x[i + 1] - 2.0 * x[i] * x[i] + 1.0)
    return f


@nb.njit(cache=True)
def _ns1_grad(x, lo, hi, out):
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
            g = g + _sign0(x[j] - 2.0 * x[j - 1] * x[j - 1] + 1.0)
        if j <= n - 2:
            g = g - 4.0 * x[j] * _sign0(x[j + 1] - 2.0 * x[j] * x[j] + 1.0)
        out[j - lo] = g


@nb.njit(cache=True)
def _ns2_value(x):
    """f = |x_0 - 1| / 4 + sum_i |x_{i+1} - 2|x_i| + 1|."""
    f = 0.25 * abs(x[0] - 1.0)
    for i in range(x.shape[0] - 1):
        f += abs(x[i + 1] - 2.0 * abs(x[i]) + 1.0)
    return f


@nb.njit(cache=True)
def _ns2_grad(x, lo, hi, out):
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
            g = 0.25 * _sign_pos(x[0] - 1.0)
        if j >= 1:
            g = g + _sign_pos(x[j] - 2.0 * abs(x[j - 1]) + 1.0)
        if j <= n - 2:
            g = g - 2.0 * _sign_pos(x[j]) * _sign_pos(x[j + 1] - 2.0 * abs(x[j]) + 1.0)
        out[j - lo] = g


# =================================================================================================
# 4. Nonsmooth Rosenbrock: f = sum_i w |x_i^2 - x_{i+1}| + (1 - x_i)^2 (n = 2: the GRANSO example).
# =================================================================================================


@nb.njit(cache=True)
def _ns_rosenbrock_value(w, x):
    f = 0.0
    for i in range(x.shape[0] - 1):
        f += w * abs(x[i] * x[i] - x[i + 1]) + (1.0 - x[i]) * (1.0 - x[i])
    return f


@nb.njit(cache=True)
def _ns_rosenbrock_grad(w, x, lo, hi, out):
    """Term i adds (2 w s x_i - 2 (1 - x_i), -w s), s = sign(x_i^2 - x_{i+1}), sign(0) = 0 (regular)."""
    n = x.shape[0]
    for j in range(lo, hi):
        g = 0.0
        if j >= 1:
            g = -w * _sign0(x[j - 1] * x[j - 1] - x[j])
        if j <= n - 2:
            s = _sign0(x[j] * x[j] - x[j + 1])
            g = g + (2.0 * w * s * x[j] - 2.0 * (1.0 - x[j]))
        out[j - lo] = g


# =================================================================================================
# 5. Small classics: Hald–Madsen and Shor (n = 5).
# =================================================================================================


@nb.njit(cache=True, inline="always")
def _hald_t(i):
    """t_i = -1 + i/10, i = 0..20 (computed as (i - 10)/10 to keep t_10 = 0 exactly)."""
    return (i - 10.0) / 10.0


@nb.njit(cache=True)
def _hald_v(x, i):
    """v_i = (x_0 + x_1 t)/(1 + x_2 t + x_3 t^2 + x_4 t^3) - exp(t); |D| < HALD_D_MIN -> +-HALD_D_MIN."""
    t = _hald_t(i)
    num = x[0] + x[1] * t
    den = 1.0 + t * (x[2] + t * (x[3] + t * x[4]))
    if abs(den) < HALD_D_MIN:
        den = -HALD_D_MIN if den < 0.0 else HALD_D_MIN
    return num / den - math.exp(t), num, den, t


@nb.njit(cache=True)
def _hald_madsen_value(x):
    """f = max_{i<21} |v_i(x)|."""
    f = 0.0
    for i in range(21):
        v, _, _, _ = _hald_v(x, i)
        if abs(v) > f:
            f = abs(v)
    return f


@nb.njit(cache=True)
def _hald_madsen_grad(x, lo, hi, out):
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
    s = _sign0(v)
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


@nb.njit(cache=True)
def _shor_piece(data, x, i):
    s = 0.0
    for j in range(x.shape[0]):
        d = x[j] - data[i, j]
        s += d * d
    return data[i, x.shape[0]] * s


@nb.njit(cache=True)
def _shor_value(data, x):
    """f = max_i b_i ||x - a_i||^2; data rows [a_i (5), b_i]."""
    f = _shor_piece(data, x, 0)
    for i in range(1, data.shape[0]):
        v = _shor_piece(data, x, i)
        if v > f:
            f = v
    return f


@nb.njit(cache=True)
def _shor_grad(data, x, lo, hi, out):
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


# =================================================================================================
# 6. Statistical objectives (finite sums; data rows are samples).
# =================================================================================================


@nb.njit(cache=True)
def _row_dot(data, i, x):
    """<a_i, x> with a_i = data[i, :n], summed in index order (the generator uses this too)."""
    s = 0.0
    for j in range(x.shape[0]):
        s += data[i, j] * x[j]
    return s


@nb.njit(cache=True)
def _phase_value(data, x):
    """f = (1/m) sum_i |<a_i, x>^2 - b_i|; data rows [a_i (n), b_i]."""
    m = data.shape[0]
    n = x.shape[0]
    f = 0.0
    for i in range(m):
        p = _row_dot(data, i, x)
        f += abs(p * p - data[i, n])
    return f / m


@nb.njit(cache=True)
def _phase_grad(data, x, lo, hi, idx, out):
    """(1/|B|) sum_{i in B} 2 sign(<a_i,x>^2 - b_i) <a_i,x> a_i, sign(0) = 0 (weakly convex, regular)."""
    n = x.shape[0]
    for j in range(lo, hi):
        out[j - lo] = 0.0
    nb_ = idx.shape[0]
    cnt = nb_ if nb_ > 0 else data.shape[0]
    for k in range(cnt):
        i = idx[k] if nb_ > 0 else k
        p = _row_dot(data, i, x)
        coef = 2.0 * _sign0(p * p - data[i, n]) * p
        for j in range(lo, hi):
            out[j - lo] += coef * data[i, j]
    for j in range(lo, hi):
        out[j - lo] = out[j - lo] / cnt


@nb.njit(cache=True)
def _l1reg_value(lam, data, x):
    """f = (1/m) sum_i log(1 + (<a_i,x> - b_i)^2) + lam ||x||_1; data rows [a_i (n), b_i]."""
    m = data.shape[0]
    n = x.shape[0]
    h = 0.0
    for i in range(m):
        r = _row_dot(data, i, x) - data[i, n]
        h += math.log1p(r * r)
    s = 0.0
    for j in range(n):
        s += abs(x[j])
    return h / m + lam * s


@nb.njit(cache=True)
def _l1reg_grad(lam, data, x, lo, hi, idx, out):
    """(1/|B|) sum_{i in B} 2 r_i/(1 + r_i^2) a_i + lam sign(x), sign(0) = 0 (separable l1)."""
    n = x.shape[0]
    for j in range(lo, hi):
        out[j - lo] = 0.0
    nb_ = idx.shape[0]
    cnt = nb_ if nb_ > 0 else data.shape[0]
    for k in range(cnt):
        i = idx[k] if nb_ > 0 else k
        r = _row_dot(data, i, x) - data[i, n]
        coef = 2.0 * r / (1.0 + r * r)
        for j in range(lo, hi):
            out[j - lo] += coef * data[i, j]
    for j in range(lo, hi):
        out[j - lo] = out[j - lo] / cnt + lam * _sign0(x[j])


@nb.njit(cache=True)
def _relu_pre(data, x, i, j, d):
    """u_ij = <w_j, z_i>; neuron j's parameters are x[j (d+1) : j (d+1) + d], a_j = x[j (d+1) + d]."""
    base = j * (d + 1)
    s = 0.0
    for p in range(d):
        s += x[base + p] * data[i, p]
    return s


@nb.njit(cache=True)
def _relu_output(data, x, i, d, k):
    """N(z_i) = sum_j a_j relu(u_ij), summed over neurons in index order."""
    out = 0.0
    for j in range(k):
        u = _relu_pre(data, x, i, j, d)
        if u > 0.0:
            out += x[j * (d + 1) + d] * u
    return out


@nb.njit(cache=True, inline="always")
def _relu_residual(data, x, i, d, k):
    """e_i = N(z_i) - y_i; data rows [z_i (d), y_i]."""
    return _relu_output(data, x, i, d, k) - data[i, d]


@nb.njit(cache=True)
def _relu_value(prm, data, x):
    """F = (1/2m) sum_i (sum_j a_j relu(<w_j, z_i>) - y_i)^2."""
    d = int(prm[0])
    k = int(prm[1])
    m = data.shape[0]
    f = 0.0
    for i in range(m):
        e = _relu_residual(data, x, i, d, k)
        f += e * e
    return 0.5 * f / m


@nb.njit(cache=True)
def _relu_grad(prm, data, x, lo, hi, idx, out):
    """(1/|B|) sum_{i in B} e_i (relu(u_ij) for a_j;  a_j relu'(u_ij) z_i for w_j), relu'(0) = prm[2].

    Off the kinks u_ij = 0 this is the gradient; on them it is the chain-rule (conservative-field)
    selection with the stated relu'(0) (F is not regular, see problems.md §6.3 and §8.3).
    """
    d = int(prm[0])
    k = int(prm[1])
    rp0 = prm[2]
    for c in range(lo, hi):
        out[c - lo] = 0.0
    nb_ = idx.shape[0]
    cnt = nb_ if nb_ > 0 else data.shape[0]
    j_lo = lo // (d + 1)
    j_hi = (hi + d) // (d + 1)  # neurons touched by [lo, hi)
    for t in range(cnt):
        i = idx[t] if nb_ > 0 else t
        e = _relu_residual(data, x, i, d, k)
        for j in range(j_lo, j_hi):
            base = j * (d + 1)
            u = _relu_pre(data, x, i, j, d)
            if u > 0.0:
                act = u
                der = 1.0
            else:
                act = 0.0
                der = rp0 if u == 0.0 else 0.0
            ea = e * x[base + d] * der
            for p in range(d + 1):
                c = base + p
                if c < lo or c >= hi:
                    continue
                if p < d:
                    out[c - lo] += ea * data[i, p]
                else:
                    out[c - lo] += e * act
    for c in range(lo, hi):
        out[c - lo] = out[c - lo] / cnt


# =================================================================================================
# 7./8. Toys and the blockwise-critical trap.
# =================================================================================================


@nb.njit(cache=True)
def _weighted_l1_value(prm, x):
    """f = sum_i c_i |x_i|, c = prm (n,)."""
    f = 0.0
    for i in range(x.shape[0]):
        f += prm[i] * abs(x[i])
    return f


@nb.njit(cache=True)
def _weighted_l1_grad(prm, x, lo, hi, out):
    """g_i = c_i sign(x_i), sign(0) = 0."""
    for j in range(lo, hi):
        out[j - lo] = prm[j] * _sign0(x[j])


@nb.njit(cache=True)
def _double_well_abs_value(x):
    """f = sum_i ||x_i| - 1|."""
    f = 0.0
    for i in range(x.shape[0]):
        f += abs(abs(x[i]) - 1.0)
    return f


@nb.njit(cache=True)
def _double_well_abs_grad(x, lo, hi, out):
    """g_i = sign(|x_i| - 1) sign(x_i), sign(0) = 0: zero at the 3 critical values -1, 0, 1.

    At 0 the Clarke subdifferential of ||t| - 1| is [-1, 1] (a downward kink, not regular); f is
    separable, so the Clarke subdifferential is the product of the coordinate ones.
    """
    for j in range(lo, hi):
        out[j - lo] = _sign0(abs(x[j]) - 1.0) * _sign0(x[j])


@nb.njit(cache=True)
def _double_well_sq_value(x):
    """f = sum_i |x_i^2 - 1|."""
    f = 0.0
    for i in range(x.shape[0]):
        f += abs(x[i] * x[i] - 1.0)
    return f


@nb.njit(cache=True)
def _double_well_sq_grad(x, lo, hi, out):
    """g_i = 2 x_i sign(x_i^2 - 1), sign(0) = 0."""
    for j in range(lo, hi):
        out[j - lo] = 2.0 * x[j] * _sign0(x[j] * x[j] - 1.0)


@nb.njit(cache=True)
def _trap_value(c, x):
    """f = sum_p |u - v| + (c/2)(u + v) + (u + v)^2 / 2 over pairs (u, v) = (x_2p, x_2p+1)."""
    f = 0.0
    for p in range(x.shape[0] // 2):
        u = x[2 * p]
        v = x[2 * p + 1]
        s = u + v
        f += abs(u - v) + 0.5 * c * s + 0.5 * s * s
    return f


@nb.njit(cache=True)
def _trap_grad(c, x, lo, hi, out):
    """(s + c/2 + sg, s + c/2 - sg) per pair, s = u + v, sg = sign(u - v), sign(0) = 0."""
    for j in range(lo, hi):
        p = j // 2
        u = x[2 * p]
        v = x[2 * p + 1]
        sg = _sign0(u - v)
        base = (u + v) + 0.5 * c
        out[j - lo] = base + sg if j == 2 * p else base - sg


# =================================================================================================
# Dispatch.
# =================================================================================================


@nb.njit(cache=True)
def value(pid, prm, data, x):
    """f(x) of problem ``pid``; see the module docstring for the argument shapes."""
    if pid == P_MAXQ:
        return _maxq_value(x)
    elif pid == P_MXHILB:
        return _mxhilb_value(x)
    elif pid == P_CHAINED_LQ:
        return _chained_lq_value(x)
    elif pid == P_CHAINED_CB3_1:
        return _chained_cb3_1_value(x)
    elif pid == P_CHAINED_CB3_2:
        return _chained_cb3_2_value(x)
    elif pid == P_ACTIVE_FACES:
        return _active_faces_value(x)
    elif pid == P_BROWN2:
        return _brown2_value(x)
    elif pid == P_CHAINED_MIFFLIN2:
        return _mifflin2_value(x)
    elif pid == P_CHAINED_CRESCENT_1:
        return _crescent_1_value(x)
    elif pid == P_CHAINED_CRESCENT_2:
        return _crescent_2_value(x)
    elif pid == P_CHEB_ROSENBROCK:
        return _cheb_value(x)
    elif pid == P_NS1:
        return _ns1_value(x)
    elif pid == P_NS2:
        return _ns2_value(x)
    elif pid == P_NS_ROSENBROCK or pid == P_CHAINED_NS_ROSENBROCK:
        return _ns_rosenbrock_value(prm[0], x)
    elif pid == P_HALD_MADSEN:
        return _hald_madsen_value(x)
    elif pid == P_SHOR:
        return _shor_value(data, x)
    elif pid == P_PHASE_RETRIEVAL:
        return _phase_value(data, x)
    elif pid == P_L1_NONCONVEX_REGRESSION:
        return _l1reg_value(prm[0], data, x)
    elif pid == P_RELU_REGRESSION:
        return _relu_value(prm, data, x)
    elif pid == P_WEIGHTED_L1:
        return _weighted_l1_value(prm, x)
    elif pid == P_L1_PLUS_QUADRATIC:
        return abs(x[0]) + 0.5 * x[1] * x[1]
    elif pid == P_DOUBLE_WELL_ABS:
        return _double_well_abs_value(x)
    elif pid == P_DOUBLE_WELL_SQ:
        return _double_well_sq_value(x)
    elif pid == P_TRAP or pid == P_TRAP_ND:
        return _trap_value(prm[0], x)
    return np.nan


@nb.njit(cache=True)
def grad_range(pid, prm, data, x, lo, hi, idx, out):
    """Write coordinates lo..hi-1 of one Clarke subgradient of problem ``pid`` at x into out[0:hi-lo].

    See the module docstring for the contract (selection, slice agreement, halo, cost). An unknown
    ``pid`` writes NaN.
    """
    if hi <= lo:
        return
    if pid == P_MAXQ:
        _maxq_grad(x, lo, hi, out)
    elif pid == P_MXHILB:
        _mxhilb_grad(x, lo, hi, out)
    elif pid == P_CHAINED_LQ:
        _chained_lq_grad(x, lo, hi, out)
    elif pid == P_CHAINED_CB3_1:
        _chained_cb3_1_grad(x, lo, hi, out)
    elif pid == P_CHAINED_CB3_2:
        _chained_cb3_2_grad(x, lo, hi, out)
    elif pid == P_ACTIVE_FACES:
        _active_faces_grad(x, lo, hi, out)
    elif pid == P_BROWN2:
        _brown2_grad(x, lo, hi, out)
    elif pid == P_CHAINED_MIFFLIN2:
        _mifflin2_grad(x, lo, hi, out)
    elif pid == P_CHAINED_CRESCENT_1:
        _crescent_1_grad(x, lo, hi, out)
    elif pid == P_CHAINED_CRESCENT_2:
        _crescent_2_grad(x, lo, hi, out)
    elif pid == P_CHEB_ROSENBROCK:
        _cheb_grad(x, lo, hi, out)
    elif pid == P_NS1:
        _ns1_grad(x, lo, hi, out)
    elif pid == P_NS2:
        _ns2_grad(x, lo, hi, out)
    elif pid == P_NS_ROSENBROCK or pid == P_CHAINED_NS_ROSENBROCK:
        _ns_rosenbrock_grad(prm[0], x, lo, hi, out)
    elif pid == P_HALD_MADSEN:
        _hald_madsen_grad(x, lo, hi, out)
    elif pid == P_SHOR:
        _shor_grad(data, x, lo, hi, out)
    elif pid == P_PHASE_RETRIEVAL:
        _phase_grad(data, x, lo, hi, idx, out)
    elif pid == P_L1_NONCONVEX_REGRESSION:
        _l1reg_grad(prm[0], data, x, lo, hi, idx, out)
    elif pid == P_RELU_REGRESSION:
        _relu_grad(prm, data, x, lo, hi, idx, out)
    elif pid == P_WEIGHTED_L1:
        _weighted_l1_grad(prm, x, lo, hi, out)
    elif pid == P_L1_PLUS_QUADRATIC:
        for j in range(lo, hi):
            out[j - lo] = _sign0(x[0]) if j == 0 else x[1]
    elif pid == P_DOUBLE_WELL_ABS:
        _double_well_abs_grad(x, lo, hi, out)
    elif pid == P_DOUBLE_WELL_SQ:
        _double_well_sq_grad(x, lo, hi, out)
    elif pid == P_TRAP or pid == P_TRAP_ND:
        _trap_grad(prm[0], x, lo, hi, out)
    else:
        for j in range(lo, hi):
            out[j - lo] = np.nan


@nb.njit(cache=True)
def network_outputs(prm, data, x):
    """(m,) outputs sum_j a_j relu(<w_j, z_i>) of the ReLU network, used to generate exact labels."""
    d = int(prm[0])
    k = int(prm[1])
    out = np.empty(data.shape[0])
    for i in range(data.shape[0]):
        out[i] = _relu_output(data, x, i, d, k)
    return out


@nb.njit(cache=True)
def row_dots(data, x):
    """(m,) inner products <a_i, x> summed in the kernels' order, used to generate exact targets."""
    out = np.empty(data.shape[0])
    for i in range(data.shape[0]):
        out[i] = _row_dot(data, i, x)
    return out


# =================================================================================================
# Sum-of-max pieces for the structured eta-active measure SQ (measures.md §5.4).
#
# A Clarke-regular problem is written f = sum_j max_{k in K_j} phi_jk with C^1 pieces phi_jk
# (|z| = max(z, -z); a smooth part is a group with one piece, or is added to every piece of a group,
# which leaves the max and the hull of the piece gradients unchanged). ``pieces`` emits, for every
# group j in order, its eta-active pieces {k : phi_jk(x) >= max_l phi_jl(x) - eta} with their values
# and sparse gradients. Groups by problem (0-based; term i couples (u, v) = (x_i, x_i+1)):
#
#   maxq             1 group, pieces x_k^2 (k < n)
#   mxhilb           1 group, pieces s r_i, s = +-1 (k = 2i, 2i+1)
#   chained_lq       n-1 groups: -u-v, -u-v+u^2+v^2-1
#   chained_cb3_1    n-1 groups: u^4+v^2, (2-u)^2+(2-v)^2, 2 exp(-u+v)
#   chained_cb3_2    1 group: the three chained sums
#   active_faces     1 group: ln(1 + s x_i) (k = 2i, 2i+1), ln(1 + s y), y = -sum x (k = 2n, 2n+1);
#                    a piece whose argument is <= -1 is undefined there and never active
#   brown2           2(n-1) groups: group 2i: s a |a|^(b^2), (a, b) = (x_i, x_i+1) (= |a|^(b^2+1) for
#                    s = sign a); group 2i+1 the same with (a, b) = (x_i+1, x_i). Heuristic near
#                    a = 0, where these pieces are not C^1 (problems.md §1 note 7)
#   chained_mifflin2 n-1 groups: -u + 3.75 y, -u + 0.25 y, y = u^2+v^2-1
#   chained_crescent_1  1 group: the two chained sums
#   chained_crescent_2  n-1 groups: the two crescent pieces
#   chebyshev_rosenbrock  n-1 one-piece groups r_i^2 (+ (x_0-1)^2/4 in group 0)
#   ns1              n-1 groups: +-r_i (+ (x_0-1)^2/4 in both pieces of group 0)
#   (chained_)nonsmooth_rosenbrock  n-1 groups: +-w(u^2 - v) + (1-u)^2
#   hald_madsen      1 group: +-v_i (k = 2i, 2i+1), i < 21, same guarded denominator as the value
#   shor             1 group: b_i ||x - a_i||^2
#   phase_retrieval  m groups: +-(<a_i,x>^2 - b_i)/m
#   l1_nonconvex_regression  group 0: the smooth loss (one piece); group 1+j: +-lam x_j
#   weighted_l1      n groups: +-c_i x_i;   l1_plus_quadratic: +-x_0 | x_1^2/2
#   double_well_sq   n groups: +-(x_i^2 - 1)
#   trap, trap_nd    n/2 groups (pairs): +-(u - v) + (c/2)(u + v) + (u + v)^2/2
#
# Not covered (not Clarke regular, SQ invalid): ns2, relu_regression, double_well_abs.
# =================================================================================================


@nb.njit(cache=True)
def pieces_n_groups(pid, prm, data, n):
    """Number of groups J of problem ``pid`` at dimension n; -1 when SQ pieces are not available."""
    if (
        pid == P_MAXQ
        or pid == P_MXHILB
        or pid == P_CHAINED_CB3_2
        or pid == P_ACTIVE_FACES
        or pid == P_CHAINED_CRESCENT_1
        or pid == P_HALD_MADSEN
        or pid == P_SHOR
    ):
        return 1
    if (
        pid == P_CHAINED_LQ
        or pid == P_CHAINED_CB3_1
        or pid == P_CHAINED_MIFFLIN2
        or pid == P_CHAINED_CRESCENT_2
        or pid == P_CHEB_ROSENBROCK
        or pid == P_NS1
        or pid == P_NS_ROSENBROCK
        or pid == P_CHAINED_NS_ROSENBROCK
    ):
        return n - 1
    if pid == P_BROWN2:
        return 2 * (n - 1)
    if pid == P_PHASE_RETRIEVAL:
        return data.shape[0]
    if pid == P_L1_NONCONVEX_REGRESSION:
        return n + 1
    if pid == P_WEIGHTED_L1 or pid == P_DOUBLE_WELL_SQ:
        return n
    if pid == P_L1_PLUS_QUADRATIC:
        return 2
    if pid == P_TRAP or pid == P_TRAP_ND:
        return n // 2
    return -1


@nb.njit(cache=True)
def _pc_max_pieces(pid, n):
    """An upper bound on |K_j| over the groups (size of the value buffer)."""
    if pid == P_MAXQ:
        return n
    if pid == P_MXHILB or pid == P_ACTIVE_FACES:
        return 2 * n + 2
    if pid == P_HALD_MADSEN:
        return 42
    if pid == P_SHOR:
        return 10
    return 3


@nb.njit(cache=True)
def _pc_max_nnz(pid, n):
    """An upper bound on the stored entries of one piece gradient."""
    if (
        pid == P_MXHILB
        or pid == P_CHAINED_CB3_2
        or pid == P_ACTIVE_FACES
        or pid == P_CHAINED_CRESCENT_1
        or pid == P_SHOR
        or pid == P_PHASE_RETRIEVAL
        or pid == P_L1_NONCONVEX_REGRESSION
    ):
        return n
    if pid == P_HALD_MADSEN:
        return 5
    return 2


@nb.njit(cache=True, inline="always")
def _brown2_ab(x, j):
    """Group j of Brown 2: (index of a, index of b) with the piece s a |a|^(b^2)."""
    i = j // 2
    if j % 2 == 0:
        return i, i + 1
    return i + 1, i


@nb.njit(cache=True)
def _pc_values(pid, prm, data, x, j, vals):
    """Values of all pieces of group j into vals[0:K]; returns K (-inf marks an undefined piece)."""
    n = x.shape[0]
    if pid == P_MAXQ:
        for k in range(n):
            vals[k] = x[k] * x[k]
        return n
    if pid == P_MXHILB:
        for i in range(n):
            r = _mxhilb_residual(x, i)
            vals[2 * i] = r
            vals[2 * i + 1] = -r
        return 2 * n
    if pid == P_CHAINED_LQ:
        u = x[j]
        v = x[j + 1]
        a = -u - v
        vals[0] = a
        vals[1] = a + (u * u + v * v - 1.0)
        return 2
    if pid == P_CHAINED_CB3_1:
        a, b, c = _cb3_pieces(x[j], x[j + 1])
        vals[0] = a
        vals[1] = b
        vals[2] = c
        return 3
    if pid == P_CHAINED_CB3_2:
        a, b, c = _cb3_2_sums(x)
        vals[0] = a
        vals[1] = b
        vals[2] = c
        return 3
    if pid == P_ACTIVE_FACES:
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
    if pid == P_BROWN2:
        ia, ib = _brown2_ab(x, j)
        a = x[ia]
        b = x[ib]
        h = a * abs(a) ** (b * b)
        vals[0] = h
        vals[1] = -h
        return 2
    if pid == P_CHAINED_MIFFLIN2:
        u = x[j]
        v = x[j + 1]
        y = u * u + v * v - 1.0
        vals[0] = -u + 3.75 * y
        vals[1] = -u + 0.25 * y
        return 2
    if pid == P_CHAINED_CRESCENT_1:
        s1, s2 = _crescent_1_sums(x)
        vals[0] = s1
        vals[1] = s2
        return 2
    if pid == P_CHAINED_CRESCENT_2:
        p1, p2 = _crescent_pieces(x[j], x[j + 1])
        vals[0] = p1
        vals[1] = p2
        return 2
    if pid == P_CHEB_ROSENBROCK:
        r = x[j + 1] - 2.0 * x[j] * x[j] + 1.0
        sm = 0.25 * (x[0] - 1.0) * (x[0] - 1.0) if j == 0 else 0.0
        vals[0] = r * r + sm
        return 1
    if pid == P_NS1:
        r = x[j + 1] - 2.0 * x[j] * x[j] + 1.0
        sm = 0.25 * (x[0] - 1.0) * (x[0] - 1.0) if j == 0 else 0.0
        vals[0] = r + sm
        vals[1] = -r + sm
        return 2
    if pid == P_NS_ROSENBROCK or pid == P_CHAINED_NS_ROSENBROCK:
        w = prm[0]
        d = x[j] * x[j] - x[j + 1]
        sm = (1.0 - x[j]) * (1.0 - x[j])
        vals[0] = w * d + sm
        vals[1] = -w * d + sm
        return 2
    if pid == P_HALD_MADSEN:
        for i in range(21):
            v, _, _, _ = _hald_v(x, i)
            vals[2 * i] = v
            vals[2 * i + 1] = -v
        return 42
    if pid == P_SHOR:
        for i in range(data.shape[0]):
            vals[i] = _shor_piece(data, x, i)
        return data.shape[0]
    if pid == P_PHASE_RETRIEVAL:
        p = _row_dot(data, j, x)
        r = (p * p - data[j, n]) / data.shape[0]
        vals[0] = r
        vals[1] = -r
        return 2
    if pid == P_L1_NONCONVEX_REGRESSION:
        if j == 0:
            m = data.shape[0]
            h = 0.0
            for i in range(m):
                r = _row_dot(data, i, x) - data[i, n]
                h += math.log1p(r * r)
            vals[0] = h / m
            return 1
        v = prm[0] * x[j - 1]
        vals[0] = v
        vals[1] = -v
        return 2
    if pid == P_WEIGHTED_L1:
        v = prm[j] * x[j]
        vals[0] = v
        vals[1] = -v
        return 2
    if pid == P_L1_PLUS_QUADRATIC:
        if j == 0:
            vals[0] = x[0]
            vals[1] = -x[0]
            return 2
        vals[0] = 0.5 * x[1] * x[1]
        return 1
    if pid == P_DOUBLE_WELL_SQ:
        q = x[j] * x[j] - 1.0
        vals[0] = q
        vals[1] = -q
        return 2
    if pid == P_TRAP or pid == P_TRAP_ND:
        u = x[2 * j]
        v = x[2 * j + 1]
        s = u + v
        sm = 0.5 * prm[0] * s + 0.5 * s * s
        vals[0] = (u - v) + sm
        vals[1] = (v - u) + sm
        return 2
    return 0


@nb.njit(cache=True, inline="always")
def _put(idx, val, e, i, v):
    idx[e] = i
    val[e] = v
    return e + 1


@nb.njit(cache=True)
def _pc_grad(pid, prm, data, x, j, k, idx, val, e):
    """Append the gradient of piece k of group j as entries idx/val[e:]; returns the new end."""
    n = x.shape[0]
    if pid == P_MAXQ:
        return _put(idx, val, e, k, 2.0 * x[k])
    if pid == P_MXHILB:
        i = k // 2
        s = 1.0 if k % 2 == 0 else -1.0
        for q in range(n):
            e = _put(idx, val, e, q, s / (i + q + 1.0))
        return e
    if pid == P_CHAINED_LQ:
        if k == 0:
            e = _put(idx, val, e, j, -1.0)
            return _put(idx, val, e, j + 1, -1.0)
        e = _put(idx, val, e, j, -1.0 + 2.0 * x[j])
        return _put(idx, val, e, j + 1, -1.0 + 2.0 * x[j + 1])
    if pid == P_CHAINED_CB3_1:
        u = x[j]
        v = x[j + 1]
        if k == 0:
            e = _put(idx, val, e, j, 4.0 * u * u * u)
            return _put(idx, val, e, j + 1, 2.0 * v)
        if k == 1:
            e = _put(idx, val, e, j, 2.0 * u - 4.0)
            return _put(idx, val, e, j + 1, 2.0 * v - 4.0)
        c = 2.0 * math.exp(-u + v)
        e = _put(idx, val, e, j, -c)
        return _put(idx, val, e, j + 1, c)
    if pid == P_CHAINED_CB3_2:
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
            e = _put(idx, val, e, q, g)
        return e
    if pid == P_ACTIVE_FACES:
        s = 1.0 if k % 2 == 0 else -1.0
        if k < 2 * n:
            i = k // 2
            return _put(idx, val, e, i, s / (1.0 + s * x[i]))
        y = 0.0
        for q in range(n):
            y = y - x[q]
        g = -s / (1.0 + s * y)
        for q in range(n):
            e = _put(idx, val, e, q, g)
        return e
    if pid == P_BROWN2:
        ia, ib = _brown2_ab(x, j)
        a = x[ia]
        b = x[ib]
        s = 1.0 if k == 0 else -1.0
        pw = abs(a) ** (b * b)
        la = math.log(abs(a)) if a != 0.0 else 0.0
        ga = s * (b * b + 1.0) * pw
        gb = s * a * pw * 2.0 * b * la
        if ia < ib:
            e = _put(idx, val, e, ia, ga)
            return _put(idx, val, e, ib, gb)
        e = _put(idx, val, e, ib, gb)
        return _put(idx, val, e, ia, ga)
    if pid == P_CHAINED_MIFFLIN2:
        kk = 7.5 if k == 0 else 0.5
        e = _put(idx, val, e, j, -1.0 + kk * x[j])
        return _put(idx, val, e, j + 1, kk * x[j + 1])
    if pid == P_CHAINED_CRESCENT_1:
        sg = 1.0 if k == 0 else -1.0
        for q in range(n):
            g = 0.0
            if q >= 1:
                g = sg * 2.0 * (x[q] - 1.0) + 1.0
            if q <= n - 2:
                g = g + sg * 2.0 * x[q]
            e = _put(idx, val, e, q, g)
        return e
    if pid == P_CHAINED_CRESCENT_2:
        sg = 1.0 if k == 0 else -1.0
        e = _put(idx, val, e, j, sg * 2.0 * x[j])
        return _put(idx, val, e, j + 1, sg * 2.0 * (x[j + 1] - 1.0) + 1.0)
    if pid == P_CHEB_ROSENBROCK:
        r = x[j + 1] - 2.0 * x[j] * x[j] + 1.0
        g0 = -8.0 * x[j] * r
        if j == 0:
            g0 = g0 + 0.5 * (x[0] - 1.0)
        e = _put(idx, val, e, j, g0)
        return _put(idx, val, e, j + 1, 2.0 * r)
    if pid == P_NS1:
        s = 1.0 if k == 0 else -1.0
        g0 = -4.0 * x[j] * s
        if j == 0:
            g0 = g0 + 0.5 * (x[0] - 1.0)
        e = _put(idx, val, e, j, g0)
        return _put(idx, val, e, j + 1, s)
    if pid == P_NS_ROSENBROCK or pid == P_CHAINED_NS_ROSENBROCK:
        w = prm[0]
        s = 1.0 if k == 0 else -1.0
        e = _put(idx, val, e, j, 2.0 * w * s * x[j] - 2.0 * (1.0 - x[j]))
        return _put(idx, val, e, j + 1, -w * s)
    if pid == P_HALD_MADSEN:
        i = k // 2
        s = 1.0 if k % 2 == 0 else -1.0
        _, num, den, t = _hald_v(x, i)
        q = num / (den * den)
        e = _put(idx, val, e, 0, s / den)
        e = _put(idx, val, e, 1, s * t / den)
        e = _put(idx, val, e, 2, -s * q * t)
        e = _put(idx, val, e, 3, -s * q * t * t)
        return _put(idx, val, e, 4, -s * q * t * t * t)
    if pid == P_SHOR:
        for q in range(n):
            e = _put(idx, val, e, q, 2.0 * data[k, n] * (x[q] - data[k, q]))
        return e
    if pid == P_PHASE_RETRIEVAL:
        s = 1.0 if k == 0 else -1.0
        p = _row_dot(data, j, x)
        coef = s * 2.0 * p / data.shape[0]
        for q in range(n):
            e = _put(idx, val, e, q, coef * data[j, q])
        return e
    if pid == P_L1_NONCONVEX_REGRESSION:
        if j == 0:
            m = data.shape[0]
            start = e
            for q in range(n):
                e = _put(idx, val, e, q, 0.0)
            for i in range(m):
                r = _row_dot(data, i, x) - data[i, n]
                coef = 2.0 * r / (1.0 + r * r)
                for q in range(n):
                    val[start + q] += coef * data[i, q]
            for q in range(n):
                val[start + q] = val[start + q] / m
            return e
        s = 1.0 if k == 0 else -1.0
        return _put(idx, val, e, j - 1, s * prm[0])
    if pid == P_WEIGHTED_L1:
        s = 1.0 if k == 0 else -1.0
        return _put(idx, val, e, j, s * prm[j])
    if pid == P_L1_PLUS_QUADRATIC:
        if j == 0:
            return _put(idx, val, e, 0, 1.0 if k == 0 else -1.0)
        return _put(idx, val, e, 1, x[1])
    if pid == P_DOUBLE_WELL_SQ:
        s = 1.0 if k == 0 else -1.0
        return _put(idx, val, e, j, s * 2.0 * x[j])
    if pid == P_TRAP or pid == P_TRAP_ND:
        u = x[2 * j]
        v = x[2 * j + 1]
        base = (u + v) + 0.5 * prm[0]
        s = 1.0 if k == 0 else -1.0
        e = _put(idx, val, e, 2 * j, base + s)
        return _put(idx, val, e, 2 * j + 1, base - s)
    return e


@nb.njit(cache=True)
def _grow_f(a, size):
    b = np.empty(size, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@nb.njit(cache=True)
def _grow_i(a, size):
    b = np.empty(size, dtype=np.int64)
    b[: a.shape[0]] = a
    return b


@nb.njit(cache=True)
def pieces(pid, prm, data, x, eta):
    """The eta-active pieces of every group of problem ``pid`` at x, in a CSR-of-sparse-vectors layout.

    Returns ``(gptr, pptr, idx, val, pval, pkey)``:

    * ``gptr`` int64 (J+1,): group j owns pieces gptr[j]..gptr[j+1]-1 (its eta-active pieces,
      k with phi_jk(x) >= max_l phi_jl(x) - eta, in increasing k; a group is empty only when its
      values are NaN);
    * ``pptr`` int64 (P+1,): piece p owns entries pptr[p]..pptr[p+1]-1 of ``idx``/``val``, its
      gradient sum_e val[e] e_{idx[e]} (at most 2 entries for chains and pairs, n for global
      pieces; coordinates distinct within a piece);
    * ``pval`` float64 (P,): phi_jk(x); ``pkey`` int64 (P,): k, the index of the piece in K_j.

    ``eta`` >= 0; eta = inf gives every (defined) piece. sum_j max_k phi_jk(x) = f(x) up to rounding.
    A problem without pieces (not regular, see the section comment) returns gptr = [-1] and
    empty arrays. Cost O(n) for chains and pairs, O(n) for the global maxima, O(n^2) for MXHILB,
    O(m n) for the finite sums.
    """
    n = x.shape[0]
    J = pieces_n_groups(pid, prm, data, n)
    if J < 0:
        e0 = np.zeros(0, dtype=np.int64)
        return np.full(1, -1, dtype=np.int64), np.zeros(1, dtype=np.int64), e0, np.zeros(0), np.zeros(0), e0
    vals = np.empty(_pc_max_pieces(pid, n))
    nnz = _pc_max_nnz(pid, n)
    gptr = np.empty(J + 1, dtype=np.int64)
    cap_p = 2 * J + 8
    cap_e = 2 * cap_p + nnz
    pptr = np.empty(cap_p + 1, dtype=np.int64)
    pval = np.empty(cap_p)
    pkey = np.empty(cap_p, dtype=np.int64)
    idx = np.empty(cap_e, dtype=np.int64)
    val = np.empty(cap_e)
    gptr[0] = 0
    pptr[0] = 0
    P = 0
    E = 0
    for j in range(J):
        K = _pc_values(pid, prm, data, x, j, vals)
        mx = -np.inf
        for k in range(K):
            if vals[k] > mx:
                mx = vals[k]
        thr = mx - eta
        for k in range(K):
            vk = vals[k]
            if vk >= thr and vk > -np.inf:
                if P + 1 > cap_p:
                    cap_p = 2 * cap_p
                    pptr = _grow_i(pptr, cap_p + 1)
                    pval = _grow_f(pval, cap_p)
                    pkey = _grow_i(pkey, cap_p)
                if E + nnz > cap_e:
                    cap_e = 2 * cap_e + nnz
                    idx = _grow_i(idx, cap_e)
                    val = _grow_f(val, cap_e)
                E = _pc_grad(pid, prm, data, x, j, k, idx, val, E)
                pval[P] = vk
                pkey[P] = k
                P += 1
                pptr[P] = E
        gptr[j + 1] = P
    return gptr, pptr[: P + 1].copy(), idx[:E].copy(), val[:E].copy(), pval[:P].copy(), pkey[:P].copy()
