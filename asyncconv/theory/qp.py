"""Minimum-norm quadratic programs of the stationarity measures (``reference/measures.md`` §5.3–5.5).

Two problems, each a validated Python wrapper in front of a jitted kernel that other Numba code may
call directly:

* :func:`min_norm_hull` — min_{λ ∈ Δ_m} ‖Gᵀλ‖ over the convex hull of the rows of G (trajectory
  certificate TC, gradient sampling GS). Wolfe's minimum-norm-point algorithm (P. Wolfe, "Finding
  the nearest point in a polytope", Math. Programming 11:128–149, 1976) on the Gram matrix G Gᵀ
  (one BLAS product, O(m² n), then O(m k) per iteration): finite termination, the corral's lifted
  Gram matrix held as a Cholesky factor, updated by one column on insertion and by Givens rotations
  on deletion. Kernels: ``_min_norm_hull(G, tol, max_iter) -> (lam, norm)``;
  ``_min_norm_hull_info`` also returns the iteration count and a convergence flag;
  ``_min_norm_hull_gram(M, tol, max_iter)`` works on a given Gram matrix.
* :func:`min_norm_product` — min ‖c + Σ_j Σ_k λ_jk a_jk‖ over a product of simplices λ_j ∈ Δ
  (structured η-active measure SQ, §5.4). Accelerated projected gradient (FISTA with backtracking
  and gradient-based adaptive restart, O'Donoghue & Candès 2015), sort-based simplex projection per
  group, stopped by a duality-gap bracket. Each iteration costs O(total nnz + n). Chained problems
  near their minimisers give faces whose Hessian is a chain Laplacian (condition number ~ n²), where
  FISTA alone stalls; every few checks the exact solution on the current face (a skyline LDLᵀ of
  the face's KKT system, O(n) for chains) is tried as a safeguarded polish step.
  Kernel: ``_min_norm_product(c, gptr, pptr, idx, val, lam0, atol, rtol, max_iter)
  -> (value, lam, iterations, converged, lower)``.

Sparse layout of :func:`min_norm_product` ("CSR of sparse vectors"), for J groups, P pieces and E
stored entries in R^n:

* ``gptr`` int64 (J+1,): group j owns pieces ``gptr[j]..gptr[j+1]-1`` (every group non-empty);
* ``pptr`` int64 (P+1,): piece p owns entries ``pptr[p]..pptr[p+1]-1``;
* ``idx`` int64 (E,), ``val`` float64 (E,): piece p is the vector with ``val[e]`` at coordinate
  ``idx[e]`` (indices in [0, n); an index may repeat within a piece, entries are then added).

A chained problem's term touches two coordinates, so E = O(n) and an iteration is O(n).

Duality bracket of the product QP: for v = c + Aλ and g = Aᵀv,
gap = Σ_j (Σ_k λ_jk g_jk − min_k g_jk) ≥ 0, and every unit u gives
min ‖c + Aμ‖ ≥ ⟨u, c⟩ + Σ_j min_k ⟨u, a_jk⟩; with u = v/‖v‖ this is ‖v‖ − gap/‖v‖. The kernel
returns the best upper bound ``value`` (the norm at the returned λ) and the best lower bound
``lower``; ``converged`` means value − lower ≤ atol + rtol·value.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from asyncconv._jit import jit
from asyncconv.config import ConfigError, check_int, check_number

__all__ = ["min_norm_hull", "min_norm_product", "project_simplex_groups"]

#: weights at or below this are dropped from Wolfe's corral (Wolfe's Z2)
_WOLFE_ZERO = 1e-10
#: a point whose squared distance to the lifted affine hull of the corral is below this (relative,
#: data scaled to max row norm 1) is treated as affinely dependent and ends the run (Wolfe's Z3)
_WOLFE_DEP = 1e-13


# =================================================================================================
# Wolfe's minimum-norm point
# =================================================================================================


@jit
def _affine_minimizer(R, k, z, alpha):
    """alpha[0:k] = Q^-1 e / (e^T Q^-1 e), Q = R^T R (the affine minimiser of the corral)."""
    for i in range(k):
        s = 1.0
        for q in range(i):
            s -= R[q, i] * z[q]
        z[i] = s / R[i, i]
    tot = 0.0
    for i in range(k - 1, -1, -1):
        s = z[i]
        for q in range(i + 1, k):
            s -= R[i, q] * alpha[q]
        alpha[i] = s / R[i, i]
    for i in range(k):
        tot += alpha[i]
    for i in range(k):
        alpha[i] = alpha[i] / tot


@jit
def _delete_from_corral(R, S, lam, k, t):
    """Remove corral member t: drop column t of R and restore triangularity with Givens rotations."""
    for c in range(t, k - 1):
        for r in range(k):
            R[r, c] = R[r, c + 1]
        S[c] = S[c + 1]
        lam[c] = lam[c + 1]
    for r in range(k):
        R[r, k - 1] = 0.0
    for c in range(t, k - 1):
        a = R[c, c]
        b = R[c + 1, c]
        h = math.hypot(a, b)
        if h == 0.0:
            continue
        cs = a / h
        sn = b / h
        for col in range(c, k - 1):
            u = R[c, col]
            w = R[c + 1, col]
            R[c, col] = cs * u + sn * w
            R[c + 1, col] = -sn * u + cs * w
        R[c + 1, c] = 0.0
    for col in range(k):
        R[k - 1, col] = 0.0
    return k - 1


@jit
def _min_norm_hull_gram(M, tol, max_iter):
    """Wolfe's algorithm on a Gram matrix M = G G^T (m, m): (lam (m,), ||x||^2 from M, iterations, converged).

    ``tol``: stop when min_i <x, g_i> >= ||x||^2 - tol * max_i M_ii (Wolfe's Z1); ``max_iter`` bounds
    the major iterations (each adds one point to the corral). The corral's lifted Gram matrix
    ee^T + P P^T is held as a Cholesky factor (rows normalised to max norm 1 internally). A point that
    is affinely dependent on the corral to within rounding ends the run (converged).
    """
    m = M.shape[0]
    lam_out = np.zeros(m)
    if m == 0:
        return lam_out, np.nan, 0, False
    big = 0.0
    j0 = 0
    for i in range(m):
        if M[i, i] > big:
            big = M[i, i]
        if M[i, i] < M[j0, j0]:
            j0 = i
    if not big > 0.0:
        lam_out[j0] = 1.0
        return lam_out, 0.0, 0, True
    s2 = 1.0 / big  # M * s2: rows scaled to max norm 1
    kmax = m + 1
    S = np.empty(kmax, dtype=np.int64)
    lam = np.empty(kmax)
    alpha = np.empty(kmax)
    z = np.empty(kmax)
    rcol = np.empty(kmax)
    R = np.zeros((kmax, kmax))
    y = np.empty(m)
    S[0] = j0
    lam[0] = 1.0
    R[0, 0] = math.sqrt(1.0 + M[j0, j0] * s2)
    k = 1
    it = 0
    converged = False
    while it < max_iter:
        it += 1
        for r in range(m):
            y[r] = 0.0
        for t in range(k):
            w = lam[t] * s2
            st = S[t]
            for r in range(m):
                y[r] += w * M[st, r]  # M symmetric: read row st (contiguous)
        xx = 0.0
        for t in range(k):
            xx += lam[t] * y[S[t]]
        jmin = 0
        for r in range(1, m):
            if y[r] < y[jmin]:
                jmin = r
        if y[jmin] >= xx - tol:
            converged = True
            break
        dup = False
        for t in range(k):
            if S[t] == jmin:
                dup = True
        if dup or k >= kmax:
            converged = True
            break
        # new column of R: R^T r = 1 + <p_S, p_j>
        nr = 0.0
        for i in range(k):
            s = 1.0 + M[jmin, S[i]] * s2
            for q in range(i):
                s -= R[q, i] * rcol[q]
            rcol[i] = s / R[i, i]
            nr += rcol[i] * rcol[i]
        sqj = M[jmin, jmin] * s2
        rho2 = 1.0 + sqj - nr
        if rho2 <= _WOLFE_DEP * (1.0 + sqj):
            converged = True
            break
        for i in range(k):
            R[i, k] = rcol[i]
        R[k, k] = math.sqrt(rho2)
        S[k] = jmin
        lam[k] = 0.0
        k += 1
        first = True
        stop = False
        while True:  # minor cycles
            _affine_minimizer(R, k, z, alpha)
            ok = True
            for t in range(k):
                if alpha[t] <= _WOLFE_ZERO:
                    ok = False
            if ok:
                for t in range(k):
                    lam[t] = alpha[t]
                break
            theta = 1.0
            tmin = -1
            for t in range(k):
                if alpha[t] <= _WOLFE_ZERO:
                    d = lam[t] - alpha[t]
                    th = lam[t] / d if d > 0.0 else 0.0
                    if tmin < 0 or th < theta:
                        theta = th
                        tmin = t
            if theta < 0.0:
                theta = 0.0
            elif theta > 1.0:
                theta = 1.0
            if first and tmin == k - 1 and theta <= 0.0:
                # the new point is dropped at once: no descent is possible within rounding
                k = _delete_from_corral(R, S, lam, k, k - 1)
                stop = True
                break
            first = False
            for t in range(k):
                lam[t] = theta * alpha[t] + (1.0 - theta) * lam[t]
            lam[tmin] = 0.0
            t = k - 1
            while t >= 0:
                if lam[t] <= _WOLFE_ZERO:
                    k = _delete_from_corral(R, S, lam, k, t)
                t -= 1
            tot = 0.0
            for t in range(k):
                tot += lam[t]
            for t in range(k):
                lam[t] = lam[t] / tot
        if stop:
            converged = True
            break
    xx = 0.0
    for t in range(k):
        lam_out[S[t]] = lam[t]
    for t in range(k):
        for q in range(k):
            xx += lam[t] * lam[q] * M[S[t], S[q]]
    return lam_out, max(xx, 0.0), it, converged


@jit
def _min_norm_hull_info(G, tol, max_iter):
    """Wolfe's minimum-norm point of conv{rows of G}: (lam (m,), ||G^T lam||, major iterations, converged).

    G (m, n) float64, C-contiguous. Forms the Gram matrix G G^T once (BLAS, O(m^2 n)) and runs
    :func:`_min_norm_hull_gram` (O(m k) per iteration, k = corral size <= min(m, n + 1)); the
    returned norm is recomputed from G. ``tol`` and ``max_iter`` as there.
    """
    m, n = G.shape
    if m == 0:
        return np.zeros(0), np.nan, 0, False
    M = np.dot(G, G.T)
    lam, _, it, conv = _min_norm_hull_gram(M, tol, max_iter)
    x = np.zeros(n)
    for i in range(m):
        w = lam[i]
        if w != 0.0:
            for q in range(n):
                x[q] += w * G[i, q]
    nrm = 0.0
    for q in range(n):
        nrm += x[q] * x[q]
    return lam, math.sqrt(nrm), it, conv


@jit
def _min_norm_hull(G, tol, max_iter):
    """(lam (m,), ||G^T lam||): Wolfe's minimum-norm point of the rows of G (see ``_min_norm_hull_info``)."""
    lam, nrm, _, _ = _min_norm_hull_info(G, tol, max_iter)
    return lam, nrm


def _as_matrix(G: Any, fld: str) -> np.ndarray:
    try:
        a = np.array(G, dtype=np.float64, order="C")
    except (TypeError, ValueError):
        raise ConfigError(fld, "must be a 2-D array of real numbers") from None
    if a.ndim != 2:
        raise ConfigError(fld, f"must be 2-D (m, n), rows = vectors (got shape {a.shape})")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ConfigError(fld, f"needs m >= 1 rows and n >= 1 columns (got shape {a.shape})")
    if not np.all(np.isfinite(a)):
        raise ConfigError(fld, "must be finite (found NaN or inf)")
    return a


def min_norm_hull(G: Any, *, tol: float = 1e-12, max_iter: int | None = None) -> tuple[np.ndarray, float]:
    """Minimum-norm point of the convex hull of the rows of G: (λ ∈ Δ_m, ‖Gᵀλ‖).

    ``G`` (m, n): rows are the vectors, m >= 1. ``tol``: relative optimality tolerance, the run stops
    when ⟨x, g_i⟩ ≥ ‖x‖² − tol·max_i‖g_i‖² for every row i (x = Gᵀλ), which is the optimality
    condition up to tol. ``max_iter``: major iterations (default 50 (m + 1)); if it is reached, a
    RuntimeWarning is issued and the current (feasible, not optimal) point is returned.
    Robust to duplicated, collinear and affinely dependent rows. Cost O(m² n) once (the Gram matrix,
    BLAS) plus O(m k) per iteration (k = corral size <= min(m, n + 1)); memory O(m²).
    """
    a = _as_matrix(G, "G")
    tol = check_number(tol, "tol", gt=0.0, lt=1.0)
    m = a.shape[0]
    max_iter = 50 * (m + 1) if max_iter is None else check_int(max_iter, "max_iter", ge=1)
    lam, nrm, _, conv = _min_norm_hull_info(a, tol, max_iter)
    if not conv:
        warnings.warn(
            f"min_norm_hull: max_iter = {max_iter} reached before optimality", RuntimeWarning, stacklevel=2
        )
    return lam, float(nrm)


# =================================================================================================
# Product of simplices: FISTA
# =================================================================================================


@jit
def _project_groups(u, gptr, out, buf):
    """out = Euclidean projection of u onto the product of the simplices of the groups (sort-based)."""
    J = gptr.shape[0] - 1
    for j in range(J):
        lo = gptr[j]
        hi = gptr[j + 1]
        k = hi - lo
        if k == 1:
            out[lo] = 1.0
        elif k == 2:
            d = 0.5 * (1.0 + u[lo] - u[lo + 1])
            if d < 0.0:
                d = 0.0
            elif d > 1.0:
                d = 1.0
            out[lo] = d
            out[lo + 1] = 1.0 - d
        else:
            if k <= 16:  # insertion sort, ascending (small groups: no call overhead)
                for q in range(k):
                    w = u[lo + q]
                    r = q
                    while r > 0 and buf[r - 1] > w:
                        buf[r] = buf[r - 1]
                        r -= 1
                    buf[r] = w
            else:
                for q in range(k):
                    buf[q] = u[lo + q]
                buf[:k].sort()
            cum = 0.0
            theta = 0.0
            for r in range(k):  # walk down from the largest
                v = buf[k - 1 - r]
                cum += v
                th = (cum - 1.0) / (r + 1.0)
                if v - th > 0.0:
                    theta = th
            for q in range(k):
                w = u[lo + q] - theta
                out[lo + q] = w if w > 0.0 else 0.0


@jit
def _apply(c, pptr, idx, val, lam, out):
    """out = c + A lam."""
    for q in range(c.shape[0]):
        out[q] = c[q]
    P = pptr.shape[0] - 1
    for p in range(P):
        w = lam[p]
        if w != 0.0:
            for e in range(pptr[p], pptr[p + 1]):
                out[idx[e]] += w * val[e]


@jit
def _apply_t(pptr, idx, val, v, out):
    """out = A^T v."""
    P = pptr.shape[0] - 1
    for p in range(P):
        s = 0.0
        for e in range(pptr[p], pptr[p + 1]):
            s += val[e] * v[idx[e]]
        out[p] = s


@jit
def _gap(gptr, lam, g):
    """Frank–Wolfe gap sum_j (sum_k lam_jk g_jk - min_k g_jk) >= F(lam) - F*, F = ||c + A lam||^2 / 2."""
    gap = 0.0
    for j in range(gptr.shape[0] - 1):
        lo = gptr[j]
        mn = g[lo]
        s = 0.0
        for p in range(lo, gptr[j + 1]):
            s += lam[p] * g[p]
            if g[p] < mn:
                mn = g[p]
        gap += s - mn
    return gap


@jit
def _norm(v):
    s = 0.0
    for q in range(v.shape[0]):
        s += v[q] * v[q]
    return math.sqrt(s)


@jit
def _product_scale(c, gptr, pptr, val):
    """sqrt(||c||^2 + sum_j max_k ||a_jk||^2): the size of a typical element of the feasible set."""
    s = 0.0
    for q in range(c.shape[0]):
        s += c[q] * c[q]
    for j in range(gptr.shape[0] - 1):
        mx = 0.0
        for p in range(gptr[j], gptr[j + 1]):
            t = 0.0
            for e in range(pptr[p], pptr[p + 1]):
                t += val[e] * val[e]
            if t > mx:
                mx = t
        s += mx
    return math.sqrt(s)


@jit
def _center_groups(gptr, d):
    """Subtract each group's mean: the projection onto the directions that keep sum_k lam_jk fixed."""
    for j in range(gptr.shape[0] - 1):
        lo = gptr[j]
        hi = gptr[j + 1]
        s = 0.0
        for p in range(lo, hi):
            s += d[p]
        s /= hi - lo
        for p in range(lo, hi):
            d[p] -= s


@jit
def _lipschitz_bound(n, pptr, idx, val):
    """||A||_1 ||A||_inf >= ||A||_2^2: a rigorous cap for the backtracking constant."""
    rows = np.zeros(n)
    c1 = 0.0
    for p in range(pptr.shape[0] - 1):
        s = 0.0
        for e in range(pptr[p], pptr[p + 1]):
            s += abs(val[e])
            rows[idx[e]] += abs(val[e])
        if s > c1:
            c1 = s
    r1 = 0.0
    for q in range(n):
        if rows[q] > r1:
            r1 = rows[q]
    return c1 * r1


@jit
def _lipschitz_estimate(n, gptr, pptr, idx, val, iters):
    """Power-iteration estimate of ||A||^2 on the group-centred directions (0 if A is constant there)."""
    P = pptr.shape[0] - 1
    d = np.empty(P)
    for p in range(P):
        d[p] = math.sin(1.0 + 0.7 * p) + 0.1
    _center_groups(gptr, d)
    w = np.empty(n)
    zero = np.zeros(n)
    est = 0.0
    for _ in range(iters):
        nd = _norm(d)
        if nd == 0.0:
            return est
        for p in range(P):
            d[p] /= nd
        _apply(zero, pptr, idx, val, d, w)
        _apply_t(pptr, idx, val, w, d)
        _center_groups(gptr, d)
        est = _norm(d)
    return est


@jit
def _skyline_ldl(first, sp, sky, D, tmp):
    """In-place LDL^T of a symmetric matrix in skyline (profile) storage, no pivoting.

    Row r stores columns first[r]..r at sky[sp[r] : sp[r] + r - first[r] + 1]. On return the strict
    lower part holds L, D the pivots. False if a pivot vanishes.
    """
    N = first.shape[0]
    for r in range(N):
        f = first[r]
        base = sp[r] - f
        for c in range(f, r):
            fc = first[c]
            basec = sp[c] - fc
            k0 = f if f > fc else fc
            s = sky[base + c]
            for k in range(k0, c):
                s -= tmp[k - f] * sky[basec + k]
            tmp[c - f] = s
        d = sky[base + r]
        for c in range(f, r):
            lrc = tmp[c - f] / D[c]
            sky[base + c] = lrc
            d -= tmp[c - f] * lrc
        if d == 0.0 or not math.isfinite(d):
            return False
        D[r] = d
    return True


@jit
def _skyline_solve(first, sp, sky, D, b):
    """Solve L D L^T x = b in place (factor from :func:`_skyline_ldl`)."""
    N = first.shape[0]
    for r in range(N):
        f = first[r]
        base = sp[r] - f
        s = b[r]
        for c in range(f, r):
            s -= sky[base + c] * b[c]
        b[r] = s
    for r in range(N):
        b[r] = b[r] / D[r]
    for r in range(N - 1, -1, -1):
        f = first[r]
        base = sp[r] - f
        xr = b[r]
        for c in range(f, r):
            b[c] -= sky[base + c] * xr


@jit
def _face_solve(c, gptr, pptr, idx, val, face, lam_ref, delta, budget, out):
    """Minimiser of ||c + A lam||^2 / 2 + delta/2 ||lam - lam_ref||^2 over the affine hull of a face.

    The face is ``face`` (P,) bool, at least one piece per group: lam = 0 off the face, lam = 1 on
    a group's only face piece, and sum_k lam_jk = 1 over a group's face pieces otherwise. The KKT
    system [H + delta I, E^T; E, 0] (H = A_F^T A_F) is ordered group by group (pieces, then the
    group's multiplier) and factorised in skyline storage, which stays narrow for chained and
    separable problems. ``out`` (P,) receives the solution (it may leave the simplices). Returns
    False when the factorisation would cost more than ``budget`` multiply-adds or a pivot vanishes.
    """
    n = c.shape[0]
    J = gptr.shape[0] - 1
    P = pptr.shape[0] - 1
    var = np.full(P, -1, dtype=np.int64)
    N = 0
    ceff = c.copy()
    for p in range(P):
        out[p] = 0.0
    for j in range(J):
        cnt = 0
        for p in range(gptr[j], gptr[j + 1]):
            if face[p]:
                cnt += 1
        if cnt >= 2:
            for p in range(gptr[j], gptr[j + 1]):
                if face[p]:
                    var[p] = N
                    N += 1
            N += 1  # the multiplier
        else:
            for p in range(gptr[j], gptr[j + 1]):
                if face[p]:
                    out[p] = 1.0
                    for e in range(pptr[p], pptr[p + 1]):
                        ceff[idx[e]] += val[e]
    if N == 0:
        return True
    # coordinate -> face pieces incidence
    rc = np.zeros(n + 1, dtype=np.int64)
    for p in range(P):
        if var[p] >= 0:
            for e in range(pptr[p], pptr[p + 1]):
                rc[idx[e] + 1] += 1
    for i in range(n):
        rc[i + 1] += rc[i]
    fill = rc[:n].copy()
    inc_p = np.empty(rc[n], dtype=np.int64)
    inc_v = np.empty(rc[n])
    for p in range(P):
        if var[p] >= 0:
            for e in range(pptr[p], pptr[p + 1]):
                i = idx[e]
                inc_p[fill[i]] = var[p]
                inc_v[fill[i]] = val[e]
                fill[i] += 1
    first = np.arange(N)
    for i in range(n):
        mv = N
        for t in range(rc[i], rc[i + 1]):
            if inc_p[t] < mv:
                mv = inc_p[t]
        for t in range(rc[i], rc[i + 1]):
            r = inc_p[t]
            if mv < first[r]:
                first[r] = mv
    for j in range(J):  # a multiplier row reaches back to its group's first face piece
        fv = -1
        lv = -1
        for p in range(gptr[j], gptr[j + 1]):
            if var[p] >= 0:
                if fv < 0:
                    fv = var[p]
                lv = var[p]
        if fv >= 0:
            first[lv + 1] = fv
    sp = np.empty(N + 1, dtype=np.int64)
    sp[0] = 0
    work = 0.0
    for r in range(N):
        ln = r - first[r] + 1
        sp[r + 1] = sp[r] + ln
        work += float(ln) * float(ln)
    if work > budget:
        return False
    sky = np.zeros(sp[N])
    rhs = np.zeros(N)
    for i in range(n):
        for t in range(rc[i], rc[i + 1]):
            r = inc_p[t]
            a = inc_v[t]
            rhs[r] -= a * ceff[i]
            for s in range(rc[i], rc[i + 1]):
                q = inc_p[s]
                if q <= r:
                    sky[sp[r] + q - first[r]] += a * inc_v[s]
    for j in range(J):
        last = -1
        for p in range(gptr[j], gptr[j + 1]):
            if var[p] >= 0:
                r = var[p]
                sky[sp[r] + r - first[r]] += delta
                rhs[r] += delta * lam_ref[p]
                last = r
        if last >= 0:
            m = last + 1  # the multiplier row
            for p in range(gptr[j], gptr[j + 1]):
                if var[p] >= 0:
                    sky[sp[m] + var[p] - first[m]] = 1.0
            rhs[m] = 1.0
    D = np.empty(N)
    tmp = np.empty(N)
    if not _skyline_ldl(first, sp, sky, D, tmp):
        return False
    _skyline_solve(first, sp, sky, D, rhs)
    for p in range(P):
        if var[p] >= 0:
            out[p] = rhs[var[p]]
    return True


@jit
def _polish(c, gptr, pptr, idx, val, z, nz, delta, budget, best, face, sol, cand, w):
    """Active-set polish from the feasible z (norm nz): a better feasible point in ``best``.

    Solves the problem on the affine hull of z's face (the support of z, :func:`_face_solve`) and
    tries two candidates: the solution projected onto the product of simplices, and the step from z
    towards it stopped where a weight reaches 0 (feasible, and no worse than z in exact arithmetic).
    Returns (status, norm of ``best``): -1 when the face system is too costly (no candidate), 0 when
    no candidate beats nz, 1 otherwise. (Block pivoting on top of this was tried and cycles on
    degenerate faces such as chained CB3 near its minimiser; FISTA does that part.)
    """
    J = gptr.shape[0] - 1
    P = pptr.shape[0] - 1
    kmax = 1
    for j in range(J):
        if gptr[j + 1] - gptr[j] > kmax:
            kmax = gptr[j + 1] - gptr[j]
    buf = np.empty(kmax)
    for p in range(P):
        face[p] = z[p] > 0.0
    if not _face_solve(c, gptr, pptr, idx, val, face, z, delta, budget, sol):
        return -1, nz
    # candidate 1: the face solution projected onto the product of simplices
    bestn = _keep_better(sol, nz, c, gptr, pptr, idx, val, best, cand, w, buf)
    # candidate 2: the step from z towards it, stopped where a weight reaches 0
    tm = 1.0
    for p in range(P):
        d = sol[p] - z[p]
        if d < 0.0 and z[p] + tm * d < 0.0:
            tm = z[p] / -d
    for p in range(P):
        q = z[p] + tm * (sol[p] - z[p])
        sol[p] = q if q > 0.0 else 0.0
    bestn = _keep_better(sol, bestn, c, gptr, pptr, idx, val, best, cand, w, buf)
    return (1 if bestn < nz else 0), bestn


@jit
def _keep_better(sol, bestn, c, gptr, pptr, idx, val, best, cand, w, buf):
    """Project ``sol`` onto the product of simplices (into ``cand``); if ||c + A cand|| beats
    ``bestn``, copy it into ``best``. Returns the best norm."""
    _project_groups(sol, gptr, cand, buf)
    _apply(c, pptr, idx, val, cand, w)
    nc = _norm(w)
    if nc < bestn:
        best[:] = cand
        return nc
    return bestn


@jit
def _min_norm_product(c, gptr, pptr, idx, val, lam0, atol, rtol, max_iter):
    """min ||c + sum_j sum_k lam_jk a_jk|| over lam_j in the simplex, by FISTA with adaptive restart.

    Arguments as in the module docstring; ``lam0`` (P,) is a start (projected first) or empty for the
    group centroids. Returns (value, lam, iterations, converged, lower): value = ||c + A lam|| at the
    returned lam (the best iterate checked), lower a certified lower bound of the minimum,
    converged iff value - lower <= atol + rtol * value. The gap is checked every 10 iterations; the
    run also stops (not converged) when the bracket has not moved by 1e-12 value in 500 iterations.

    Face polish: at a check that does not converge, an active-set polish from the current iterate
    (:func:`_polish`: the exact solution on the iterate's face by skyline LDL^T, used while one
    factorisation costs less than ~20 FISTA iterations) is tried; its candidate is kept only if it
    lowers the objective, and FISTA restarts from it. This removes the slow tail of FISTA on the
    ill-conditioned (chain-Laplacian) faces of chained problems near their minimisers. The interval
    between polishes doubles after each rejected one.
    """
    n = c.shape[0]
    J = gptr.shape[0] - 1
    P = pptr.shape[0] - 1
    E = idx.shape[0]
    lam = np.empty(P)
    kmax = 1
    for j in range(J):
        if gptr[j + 1] - gptr[j] > kmax:
            kmax = gptr[j + 1] - gptr[j]
    buf = np.empty(kmax)
    if lam0.shape[0] == P:
        _project_groups(lam0, gptr, lam, buf)
    else:
        for j in range(J):
            k = gptr[j + 1] - gptr[j]
            for p in range(gptr[j], gptr[j + 1]):
                lam[p] = 1.0 / k
    v = np.empty(n)
    g = np.empty(P)
    _apply(c, pptr, idx, val, lam, v)
    _apply_t(pptr, idx, val, v, g)
    upper = _norm(v)
    gap = _gap(gptr, lam, g)
    lower = 0.0
    if upper > 0.0:
        lower = max(0.0, upper - gap / upper)
    if upper - lower <= atol + rtol * upper:
        return upper, lam, 0, True, min(lower, upper)
    L = _lipschitz_estimate(n, gptr, pptr, idx, val, 20)
    if not L > 0.0:  # A is constant on every group: every feasible lam is optimal
        return upper, lam, 0, True, upper
    Lmax = _lipschitz_bound(n, pptr, idx, val)
    if L > Lmax:
        L = Lmax
    best = lam.copy()
    z = lam.copy()
    zprev = lam.copy()
    y = lam.copy()
    u = np.empty(P)
    wz = v.copy()  # c + A z
    wprev = v.copy()  # c + A zprev
    wy = v.copy()  # c + A y
    cand = np.empty(P)
    cand2 = np.empty(P)
    sol = np.empty(P)
    face = np.zeros(P, dtype=np.bool_)
    wc = np.empty(n)
    budget = 20.0 * (2.0 * E + 4.0 * P + 4.0 * n) + 1e4
    polish = True
    interval = 10
    next_polish = 10
    t = 1.0
    it = 0
    converged = False
    last_gain = 0  # iteration of the last real change of the bracket (stagnation stop after 500)
    while it < max_iter:
        it += 1
        _apply_t(pptr, idx, val, wy, g)
        while True:
            for p in range(P):
                u[p] = y[p] - g[p] / L
            _project_groups(u, gptr, z, buf)
            _apply(c, pptr, idx, val, z, wz)
            # F quadratic: F(z) <= F(y) + <g, z-y> + L/2 ||z-y||^2  iff  ||A(z-y)||^2 <= L ||z-y||^2
            # (the floor absorbs the rounding of wz - wy; L never exceeds the bound Lmax)
            ad = 0.0
            floor = 0.0
            for q in range(n):
                dq = wz[q] - wy[q]
                ad += dq * dq
                fq = abs(wz[q]) + abs(wy[q])
                floor += fq * fq
            dd = 0.0
            for p in range(P):
                dp = z[p] - y[p]
                dd += dp * dp
            if ad <= L * dd * (1.0 + 1e-9) + 1e-29 * floor or dd == 0.0 or L >= Lmax:
                break
            L = min(2.0 * L, Lmax)
        restart = 0.0
        for p in range(P):
            restart += (y[p] - z[p]) * (z[p] - zprev[p])
        if restart > 0.0:
            t = 1.0
            for p in range(P):
                y[p] = z[p]
            for q in range(n):
                wy[q] = wz[q]
        else:
            tn = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
            beta = (t - 1.0) / tn
            for p in range(P):
                y[p] = z[p] + beta * (z[p] - zprev[p])
            for q in range(n):
                wy[q] = wz[q] + beta * (wz[q] - wprev[q])
            t = tn
        for p in range(P):
            zprev[p] = z[p]
        for q in range(n):
            wprev[q] = wz[q]
        if it % 10 != 0 and it != max_iter:
            continue
        for rep in range(2):
            _apply_t(pptr, idx, val, wz, g)
            nz = _norm(wz)
            gp = _gap(gptr, z, g)
            if nz > 0.0:
                lb = nz - gp / nz
                if lb > lower:
                    if lb - lower > 1e-12 * upper:
                        last_gain = it
                    lower = lb
            if nz < upper:
                if upper - nz > 1e-12 * upper:
                    last_gain = it
                upper = nz
                for p in range(P):
                    best[p] = z[p]
            if upper - lower <= atol + rtol * upper:
                converged = True
                break
            if rep == 1 or not polish or it < next_polish:
                break
            # face polish
            st, _ = _polish(c, gptr, pptr, idx, val, z, nz, 1e-13 * L, budget, cand2, face, sol, cand, wc)
            if st < 0:
                polish = False
                break
            ok = st > 0
            if ok:
                _apply(c, pptr, idx, val, cand2, wc)
                interval = 10
                t = 1.0
                for p in range(P):
                    z[p] = cand2[p]
                    zprev[p] = cand2[p]
                    y[p] = cand2[p]
                for q in range(n):
                    wz[q] = wc[q]
                    wprev[q] = wc[q]
                    wy[q] = wc[q]
            else:
                interval *= 2
            next_polish = it + interval
            if not ok:
                break
        if converged or it - last_gain >= 500:
            break
    return upper, best, it, converged, min(lower, upper)


def _as_index(a: Any, fld: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise ConfigError(fld, f"must be a 1-D integer array (got dtype {arr.dtype}, shape {arr.shape})")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _as_vector(a: Any, fld: str) -> np.ndarray:
    try:
        arr = np.array(a, dtype=np.float64, order="C")
    except (TypeError, ValueError):
        raise ConfigError(fld, "must be a 1-D array of real numbers") from None
    if arr.ndim != 1:
        raise ConfigError(fld, f"must be 1-D (got shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(fld, "must be finite (found NaN or inf)")
    return arr


def _check_groups(
    c: Any, gptr: Any, pptr: Any, idx: Any, val: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate the product-of-simplices layout; return contiguous (c, gptr, pptr, idx, val)."""
    c = _as_vector(c, "c")
    gptr = _as_index(gptr, "gptr")
    pptr = _as_index(pptr, "pptr")
    idx = _as_index(idx, "idx")
    val = _as_vector(val, "val")
    n = c.shape[0]
    if gptr.size < 1 or gptr[0] != 0 or np.any(np.diff(gptr) < 1):
        raise ConfigError("gptr", "must start at 0 and strictly increase (every group needs a piece)")
    if pptr.size < 1 or pptr[0] != 0 or np.any(np.diff(pptr) < 0):
        raise ConfigError("pptr", "must start at 0 and be non-decreasing")
    if gptr[-1] != pptr.size - 1:
        raise ConfigError("gptr", f"last entry must be the number of pieces len(pptr) - 1 = {pptr.size - 1}")
    if idx.size != val.size or pptr[-1] != idx.size:
        raise ConfigError("idx", f"idx and val must both have pptr[-1] = {pptr[-1]} entries")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ConfigError("idx", f"coordinates must lie in [0, {n}) (n = len(c))")
    return c, gptr, pptr, idx, val


def min_norm_product(
    c: Any,
    gptr: Any,
    pptr: Any,
    idx: Any,
    val: Any,
    *,
    lam0: Any = None,
    rtol: float = 1e-9,
    atol: float | None = None,
    max_iter: int = 20_000,
) -> tuple[float, np.ndarray, int, bool]:
    """min ‖c + Σ_j Σ_k λ_jk a_jk‖ over λ_j ∈ Δ for every group j: (value, λ, iterations, converged).

    Layout (module docstring): ``c`` (n,); groups ``gptr`` (J+1,) over pieces, ``pptr`` (P+1,) over
    entries ``idx``/``val`` (E,), piece p = Σ_{e} val[e] e_{idx[e]}. FISTA with sort-based simplex
    projections; stops when value − lower ≤ atol + rtol·value for the duality lower bound
    ``lower`` (module docstring). ``atol`` defaults to 1e-10·sqrt(‖c‖² + Σ_j max_k ‖a_jk‖²).
    ``value`` is ‖c + Aλ‖ at the returned λ (an upper bound on the minimum, exact to the tolerance
    when ``converged``); ``lam0``: optional start (P,).
    """
    c, gptr, pptr, idx, val = _check_groups(c, gptr, pptr, idx, val)
    rtol = check_number(rtol, "rtol", ge=0.0, lt=1.0)
    max_iter = check_int(max_iter, "max_iter", ge=1)
    if atol is None:
        atol = 1e-10 * float(_product_scale(c, gptr, pptr, val))
    else:
        atol = check_number(atol, "atol", ge=0.0)
    P = pptr.size - 1
    if lam0 is None:
        l0 = np.zeros(0)
    else:
        l0 = _as_vector(lam0, "lam0")
        if l0.size != P:
            raise ConfigError("lam0", f"must have one weight per piece ({P}), got {l0.size}")
    value, lam, it, conv, _ = _min_norm_product(c, gptr, pptr, idx, val, l0, atol, rtol, max_iter)
    return float(value), lam, int(it), bool(conv)


def project_simplex_groups(u: Any, gptr: Any) -> np.ndarray:
    """Euclidean projection of u (P,) onto the product of the simplices of the groups ``gptr``."""
    u = _as_vector(u, "u")
    gptr = _as_index(gptr, "gptr")
    if gptr.size < 1 or gptr[0] != 0 or np.any(np.diff(gptr) < 1) or gptr[-1] != u.size:
        raise ConfigError("gptr", f"must start at 0, strictly increase and end at len(u) = {u.size}")
    out = np.empty_like(u)
    kmax = int(np.max(np.diff(gptr))) if gptr.size > 1 else 1
    _project_groups(u, gptr, out, np.empty(kmax))
    return out
