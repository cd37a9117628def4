"""Numba kernels of the structured η-active measure SQ (``reference/measures.md`` §5.4).

Private: call :func:`asyncconv.theory.structured.s_eta` / ``b_eta``. Numba code may call
:func:`s_eta_kernel` and :func:`b_eta_kernel` directly with the arguments
``asyncconv.theory.structured.piece_args(problem)`` returns (bare loops, no validation: pass a
finite x of the problem's dimension and eta >= 0).

Pipeline: :func:`pieces` lists the η-active pieces of every group of
f = Σ_j max_k φ_jk; :func:`fold` adds the gradient of every group with a single active piece into a
constant vector c and keeps only the ambiguous groups, so the QP has Σ_{ambiguous j} |A_j^η|
variables; :func:`split_blocks` gives every (ambiguous group, block it touches) pair its own copy of
the group, restricted to the block's coordinates, so that one product QP computes the blockwise
measure b_η² = Σ_b min_{λ^{(b)}} ‖π_b(c + Aλ^{(b)})‖²; the QP is
:func:`asyncconv.theory.qp._min_norm_product`.
"""

from __future__ import annotations

import math

import numpy as np

from asyncconv._jit import jit
from asyncconv.theory.qp import _min_norm_product, _product_scale

# status codes of the kernels
SQ_OK = 0
SQ_NAN = 2  # a group had no comparable piece value (NaN at x)


@jit
def _grow_f(a, size):
    b = np.empty(size, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@jit
def _grow_i(a, size):
    b = np.empty(size, dtype=np.int64)
    b[: a.shape[0]] = a
    return b


@jit
def pieces(fvals, fpgrad, J, kmax, nnz, prm, data, x, eta):
    """The eta-active pieces of every group of a problem at x, in a CSR-of-sparse-vectors layout.

    The problem's pieces arrive as first-class functions (``asyncconv._jit``):
    ``fvals(prm, data, x, j, vals) -> K`` (values of group j's pieces) and
    ``fpgrad(prm, data, x, j, k, idx, val, e) -> e'`` (gradient of piece k of group j as sparse
    entries); ``J`` groups, ``kmax`` >= every K, ``nnz`` >= the entries of one piece gradient
    (``PiecesDef.n_groups / max_pieces / max_nnz``).

    Returns ``(gptr, pptr, idx, val, pval, pkey)``:

    * ``gptr`` int64 (J+1,): group j owns pieces gptr[j]..gptr[j+1]-1 (its eta-active pieces,
      k with phi_jk(x) >= max_l phi_jl(x) - eta, in increasing k; a group is empty only when its
      values are NaN);
    * ``pptr`` int64 (P+1,): piece p owns entries pptr[p]..pptr[p+1]-1 of ``idx``/``val``, its
      gradient sum_e val[e] e_{idx[e]} (at most 2 entries for chains and pairs, n for global
      pieces; coordinates distinct within a piece);
    * ``pval`` float64 (P,): phi_jk(x); ``pkey`` int64 (P,): k, the index of the piece in K_j.

    ``eta`` >= 0; eta = inf gives every (defined) piece. sum_j max_k phi_jk(x) = f(x) up to rounding.
    Cost: J calls of each function (O(n) for chains and pairs and the global maxima, O(n^2) for
    MXHILB, O(m n) for the finite sums).
    """
    vals = np.empty(kmax)
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
        K = fvals(prm, data, x, j, vals)
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
                E = fpgrad(prm, data, x, j, k, idx, val, E)
                pval[P] = vk
                pkey[P] = k
                P += 1
                pptr[P] = E
        gptr[j + 1] = P
    return gptr, pptr[: P + 1].copy(), idx[:E].copy(), val[:E].copy(), pval[:P].copy(), pkey[:P].copy()


@jit
def fold(n, gptr, pptr, idx, val):
    """Split the pieces into a constant c (n,) (groups with one active piece) and the ambiguous groups.

    Returns (c, gptr2, pptr2, idx2, val2, groups, ok): the reduced CSR holds only groups with >= 2
    pieces, ``groups`` (J2,) their original indices; ok is False when some group is empty.
    """
    J = gptr.shape[0] - 1
    c = np.zeros(n)
    J2 = 0
    P2 = 0
    E2 = 0
    ok = True
    for j in range(J):
        k = gptr[j + 1] - gptr[j]
        if k == 0:
            ok = False
        elif k == 1:
            p = gptr[j]
            for e in range(pptr[p], pptr[p + 1]):
                c[idx[e]] += val[e]
        else:
            J2 += 1
            P2 += k
            E2 += pptr[gptr[j + 1]] - pptr[gptr[j]]
    gptr2 = np.empty(J2 + 1, dtype=np.int64)
    pptr2 = np.empty(P2 + 1, dtype=np.int64)
    idx2 = np.empty(E2, dtype=np.int64)
    val2 = np.empty(E2)
    groups = np.empty(J2, dtype=np.int64)
    gptr2[0] = 0
    pptr2[0] = 0
    jj = 0
    pp = 0
    ee = 0
    for j in range(J):
        if gptr[j + 1] - gptr[j] < 2:
            continue
        groups[jj] = j
        for p in range(gptr[j], gptr[j + 1]):
            for e in range(pptr[p], pptr[p + 1]):
                idx2[ee] = idx[e]
                val2[ee] = val[e]
                ee += 1
            pp += 1
            pptr2[pp] = ee
        jj += 1
        gptr2[jj] = pp
    return c, gptr2, pptr2, idx2, val2, groups, ok


@jit
def split_blocks(block_of, nblocks, gptr, pptr, idx, val):
    """One copy of every group per block it touches, each piece restricted to that block.

    ``block_of`` (n,) int64: the block of each coordinate (0..nblocks-1). A piece with no entry in
    the block stays as the zero vector (it still widens that block's hull). Returns the expanded
    (gptr, pptr, idx, val) and ``gblock`` (the block of each copy).
    """
    J = gptr.shape[0] - 1
    mark = np.full(nblocks, -1, dtype=np.int64)
    touched = np.empty(nblocks, dtype=np.int64)
    # pass 1: sizes
    Jx = 0
    Px = 0
    for j in range(J):
        nt = 0
        for e in range(pptr[gptr[j]], pptr[gptr[j + 1]]):
            b = block_of[idx[e]]
            if mark[b] != j:
                mark[b] = j
                nt += 1
        Jx += nt
        Px += nt * (gptr[j + 1] - gptr[j])
    Ex = idx.shape[0]
    gx = np.empty(Jx + 1, dtype=np.int64)
    px = np.empty(Px + 1, dtype=np.int64)
    ix = np.empty(Ex, dtype=np.int64)
    vx = np.empty(Ex)
    gblock = np.empty(Jx, dtype=np.int64)
    mark[:] = -1
    gx[0] = 0
    px[0] = 0
    jj = 0
    pp = 0
    ee = 0
    for j in range(J):
        nt = 0
        for e in range(pptr[gptr[j]], pptr[gptr[j + 1]]):
            b = block_of[idx[e]]
            if mark[b] != j:
                mark[b] = j
                touched[nt] = b
                nt += 1
        touched[:nt].sort()
        for t in range(nt):
            b = touched[t]
            gblock[jj] = b
            for p in range(gptr[j], gptr[j + 1]):
                for e in range(pptr[p], pptr[p + 1]):
                    if block_of[idx[e]] == b:
                        ix[ee] = idx[e]
                        vx[ee] = val[e]
                        ee += 1
                pp += 1
                px[pp] = ee
            jj += 1
            gx[jj] = pp
    return gx, px, ix, vx, gblock


@jit
def _solve(c, gptr, pptr, idx, val, atol_rel, rtol, max_iter):
    """The product QP with atol = atol_rel * scale: (value, lam, iterations, converged, lower, vector)."""
    scale = _product_scale(c, gptr, pptr, val)
    value, lam, it, conv, lower = _min_norm_product(
        c, gptr, pptr, idx, val, np.zeros(0), atol_rel * scale, rtol, max_iter
    )
    v = c.copy()
    for p in range(pptr.shape[0] - 1):
        w = lam[p]
        for e in range(pptr[p], pptr[p + 1]):
            v[idx[e]] += w * val[e]
    return value, lam, it, conv, lower, v


@jit
def sq_kernel(fvals, fpgrad, J, kmax, nnz, prm, data, x, eta, block_of, nblocks, atol_rel, rtol, max_iter):
    """s_η (``nblocks == 0``) or the blockwise b_η (``nblocks >= 1``, labels ``block_of``) at x.

    One kernel for both, so that a cold start compiles the pieces and the product QP once (two
    kernels would each link and generate the whole QP). Returns (status, value, lower, iterations,
    converged, n_groups, n_ambiguous, n_pieces, per_block) as :func:`b_eta_kernel`; ``per_block``
    is empty for s_η.
    """
    n = x.shape[0]
    per = np.full(nblocks, np.nan)
    gptr, pptr, idx, val, _, _ = pieces(fvals, fpgrad, J, kmax, nnz, prm, data, x, eta)
    c, g2, p2, i2, v2, groups, ok = fold(n, gptr, pptr, idx, val)
    J = gptr.shape[0] - 1
    if not ok:
        return SQ_NAN, np.nan, np.nan, 0, False, J, groups.shape[0], p2.shape[0] - 1, per
    if nblocks == 0:
        value, _, it, conv, lower, _ = _solve(c, g2, p2, i2, v2, atol_rel, rtol, max_iter)
        return SQ_OK, value, lower, it, conv, J, groups.shape[0], p2.shape[0] - 1, per
    gx, px, ix, vx, _ = split_blocks(block_of, nblocks, g2, p2, i2, v2)
    value, _, it, conv, lower, v = _solve(c, gx, px, ix, vx, atol_rel, rtol, max_iter)
    per[:] = 0.0
    for q in range(n):
        per[block_of[q]] += v[q] * v[q]
    for b in range(nblocks):
        per[b] = math.sqrt(per[b])
    return SQ_OK, value, lower, it, conv, J, groups.shape[0], px.shape[0] - 1, per


@jit
def s_eta_kernel(fvals, fpgrad, J, kmax, nnz, prm, data, x, eta, atol_rel, rtol, max_iter):
    """s_η(x) = min ‖Σ_j Σ_{k ∈ A_j^η} λ_jk ∇φ_jk(x)‖ over λ_j ∈ Δ (measures.md §5.4).

    Returns (status, value, lower, iterations, converged, n_groups, n_ambiguous, n_pieces) with
    n_pieces the active pieces of the ambiguous groups (the QP size); value = lower = NaN unless
    status == SQ_OK. Tolerances: value − lower <= atol_rel·scale + rtol·value (``qp``).
    """
    out = sq_kernel(fvals, fpgrad, J, kmax, nnz, prm, data, x, eta, np.zeros(0, dtype=np.int64), 0,
                    atol_rel, rtol, max_iter)  # fmt: skip
    return out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7]


@jit
def b_eta_kernel(fvals, fpgrad, J, kmax, nnz, prm, data, x, eta, block_of, nblocks, atol_rel, rtol, max_iter):
    """Blockwise b_η(x) = (Σ_b min_{λ^{(b)}} ‖π_b(Σ_j Σ_k λ^{(b)}_jk ∇φ_jk(x))‖²)^{1/2} (§5.4, §6).

    ``block_of`` (n,) int64 in [0, nblocks), nblocks >= 1. Returns (status, value, lower,
    iterations, converged, n_groups, n_ambiguous, n_pieces, per_block) with per_block (nblocks,) the
    norms ‖π_b v‖ of the minimising combination v (their root sum of squares is ``value``).
    """
    return sq_kernel(
        fvals, fpgrad, J, kmax, nnz, prm, data, x, eta, block_of, nblocks, atol_rel, rtol, max_iter
    )
