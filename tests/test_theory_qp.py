"""Minimum-norm QPs of the stationarity measures (asyncconv.theory.qp; measures.md §5.3–5.5).

min_norm_hull (Wolfe) against exhaustive enumeration of faces and SLSQP, on random and degenerate
instances (duplicates, collinear rows, 0 inside the hull, affinely dependent rows, clusters), plus
its optimality conditions; min_norm_product (FISTA + face polish) against min_norm_hull on the
expanded hull (the Minkowski sum of the groups' hulls is the hull of the sums of vertices), on an
ill-conditioned chain and under validation; the simplex projection; calls from inside njit.
"""

from __future__ import annotations

import itertools
import math

import numba as nb
import numpy as np
import pytest
from scipy.optimize import minimize

from asyncconv.config import ConfigError
from asyncconv.theory.qp import (
    _min_norm_hull,
    _min_norm_product,
    min_norm_hull,
    min_norm_product,
    project_simplex_groups,
)

# --- references ----------------------------------------------------------------------------------


def _hull_reference(G: np.ndarray) -> float:
    """Exact min-norm value by enumerating every subset's affine minimiser (tiny m only).

    The optimum is a positive combination of an affinely independent subset S, and then it is the
    affine minimiser of S, which the bordered system gives uniquely.
    """
    m = G.shape[0]
    best = math.inf
    for r in range(1, m + 1):
        for S in itertools.combinations(range(m), r):
            P = G[list(S)]
            K = np.zeros((r + 1, r + 1))
            K[:r, :r] = P @ P.T
            K[:r, r] = 1.0
            K[r, :r] = 1.0
            rhs = np.zeros(r + 1)
            rhs[r] = 1.0
            sol = np.linalg.lstsq(K, rhs, rcond=None)[0][:r]
            if np.all(sol >= -1e-12) and abs(sol.sum() - 1.0) < 1e-9:
                best = min(best, float(np.linalg.norm(P.T @ sol)))
    return best


def _slsqp(G: np.ndarray) -> float:
    m = G.shape[0]
    res = minimize(
        lambda lam: float(np.sum((G.T @ lam) ** 2)),
        np.full(m, 1.0 / m),
        jac=lambda lam: 2.0 * G @ (G.T @ lam),
        method="SLSQP",
        bounds=[(0.0, 1.0)] * m,
        constraints=[{"type": "eq", "fun": lambda lam: lam.sum() - 1.0}],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    return math.sqrt(max(res.fun, 0.0))


def _check_kkt(G: np.ndarray, lam: np.ndarray, value: float, tol: float = 1e-10) -> None:
    """λ in the simplex, value = ‖Gᵀλ‖, and ⟨x, g_i⟩ ≥ ‖x‖² − tol·max‖g‖² for every row (optimality)."""
    assert lam.shape == (G.shape[0],)
    assert np.all(lam >= 0.0)
    assert lam.sum() == pytest.approx(1.0, abs=1e-12)
    x = G.T @ lam
    assert value == pytest.approx(float(np.linalg.norm(x)), rel=1e-12, abs=1e-14)
    scale = max(1e-300, float(np.max(np.sum(G * G, axis=1))))
    assert float(np.min(G @ x)) >= float(x @ x) - tol * scale


def _instances(seed: int) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(6):
        m, n = int(rng.integers(1, 8)), int(rng.integers(1, 6))
        out.append(("gauss", rng.standard_normal((m, n))))
        out.append(("shifted", rng.standard_normal((m, n)) + 2.0 * rng.standard_normal(n)))
    g = rng.standard_normal((3, 4))
    out.append(("zero_inside", np.vstack([g, -g])))
    out.append(("duplicates", np.vstack([g, g, g[:1]]) + 1.5))
    a, b = rng.standard_normal(3) + 2.0, rng.standard_normal(3)
    out.append(("collinear", np.array([a, b, 0.3 * a + 0.7 * b, 1.4 * a - 0.4 * b, -0.2 * a + 1.2 * b])))
    out.append(("identical", np.tile(rng.standard_normal(5), (4, 1))))
    out.append(("zero_row", np.vstack([rng.standard_normal((3, 3)) + 1.0, np.zeros(3)])))
    out.append(("single_row", rng.standard_normal((1, 4))))
    out.append(("scalars", rng.standard_normal((6, 1))))
    base, d1, d2 = rng.standard_normal(6) + 1.0, rng.standard_normal(6), rng.standard_normal(6)
    coef = rng.standard_normal((7, 2))
    out.append(("affine_2d_in_6d", base + coef @ np.vstack([d1, d2])))
    out.append(("cluster", rng.standard_normal(4) + 1e-7 * rng.standard_normal((6, 4))))
    out.append(("vertex_optimum", np.vstack([[1.0, 0.0], [2.0, 1.0], [1.0, -3.0], [4.0, 4.0]])))
    return out


# --- min_norm_hull -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_min_norm_hull_matches_enumeration(seed):
    for name, G in _instances(seed):
        lam, value = min_norm_hull(G)
        ref = _hull_reference(G)
        scale = float(np.sqrt(np.max(np.sum(G * G, axis=1))))
        assert value == pytest.approx(ref, abs=1e-9 * max(scale, 1.0)), name
        _check_kkt(G, lam, value)


def test_min_norm_hull_known_values():
    lam, v = min_norm_hull(np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert v == pytest.approx(math.sqrt(0.5), rel=1e-14)
    assert lam == pytest.approx([0.5, 0.5], abs=1e-14)
    lam, v = min_norm_hull(np.array([[3.0, 4.0], [6.0, 8.0], [3.0, 4.0]]))  # nearest is the vertex (3, 4)
    assert v == pytest.approx(5.0, rel=1e-14)
    assert lam[1] == 0.0
    _, v = min_norm_hull(np.array([[1.0, 1.0], [-1.0, 1.0], [0.0, -1.0]]))  # 0 interior
    assert v < 1e-14


@pytest.mark.parametrize("seed", [5, 6])
def test_min_norm_hull_matches_slsqp(seed):
    rng = np.random.default_rng(seed)
    for shift in (0.0, 0.7, 3.0):
        G = rng.standard_normal((25, 8)) + shift * rng.standard_normal(8)
        lam, value = min_norm_hull(G)
        _check_kkt(G, lam, value)
        ref = _slsqp(G)
        assert value <= ref + 1e-9  # exact, SLSQP is only approximate
        assert value == pytest.approx(ref, abs=1e-6)


@pytest.mark.parametrize(("m", "n"), [(300, 40), (60, 2000), (2, 100_000)])
def test_min_norm_hull_kkt_larger(m, n):
    rng = np.random.default_rng(m + n)
    G = rng.standard_normal((m, n)) + 0.5
    lam, value = min_norm_hull(G)
    _check_kkt(G, lam, value, tol=1e-9)


def test_min_norm_hull_scale_invariance():
    rng = np.random.default_rng(11)
    G = rng.standard_normal((12, 5)) + 1.0
    lam, v = min_norm_hull(G)
    for s in (1e-8, 1e8):
        lam_s, v_s = min_norm_hull(s * G)
        assert v_s == pytest.approx(s * v, rel=1e-9)
        assert lam_s == pytest.approx(lam, abs=1e-8)


def test_min_norm_hull_callable_from_njit():
    @nb.njit
    def inner(G):
        lam, v = _min_norm_hull(G, 1e-12, 1000)
        return lam, v

    G = np.random.default_rng(2).standard_normal((9, 4)) + 0.8
    lam, v = inner(G)
    lam2, v2 = min_norm_hull(G)
    assert v == v2
    assert np.array_equal(lam, lam2)


def test_min_norm_hull_max_iter_warns():
    G = np.random.default_rng(4).standard_normal((30, 10)) + 0.5
    with pytest.warns(RuntimeWarning, match="max_iter"):
        lam, _ = min_norm_hull(G, max_iter=1)
    assert lam.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("G", "fld"),
    [
        (np.ones(3), "G"),
        (np.ones((0, 3)), "G"),
        (np.ones((3, 0)), "G"),
        (np.array([[1.0, np.nan]]), "G"),
        (np.array([[np.inf, 0.0]]), "G"),
        ([["a", "b"]], "G"),
    ],
)
def test_min_norm_hull_validation(G, fld):
    with pytest.raises(ConfigError) as err:
        min_norm_hull(G)
    assert err.value.field == fld


def test_min_norm_hull_validation_tol():
    with pytest.raises(ConfigError, match="tol"):
        min_norm_hull(np.eye(2), tol=0.0)
    with pytest.raises(ConfigError, match="max_iter"):
        min_norm_hull(np.eye(2), max_iter=0)


# --- simplex projection --------------------------------------------------------------------------


def _project_reference(u: np.ndarray) -> np.ndarray:
    """Projection onto the simplex by bisection on the threshold."""
    lo, hi = u.min() - 1.0, u.max()
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.maximum(u - mid, 0.0).sum() > 1.0:
            lo = mid
        else:
            hi = mid
    return np.maximum(u - 0.5 * (lo + hi), 0.0)


def test_project_simplex_groups():
    rng = np.random.default_rng(3)
    sizes = [1, 2, 2, 3, 5, 17, 40]
    gptr = np.concatenate([[0], np.cumsum(sizes)])
    for _ in range(20):
        u = 3.0 * rng.standard_normal(gptr[-1])
        out = project_simplex_groups(u, gptr)
        for j in range(len(sizes)):
            sl = slice(gptr[j], gptr[j + 1])
            assert out[sl].sum() == pytest.approx(1.0, abs=1e-12)
            assert np.all(out[sl] >= 0.0)
            assert out[sl] == pytest.approx(_project_reference(u[sl]), abs=1e-10)


# --- min_norm_product ----------------------------------------------------------------------------


def _random_product(rng, J, kmax, n, nnz, c_scale=1.0):
    """Random groups of sparse pieces (each piece touches <= nnz coordinates)."""
    gptr, pptr, idx, val = [0], [0], [], []
    for _ in range(J):
        k = int(rng.integers(1, kmax + 1))
        for _ in range(k):
            cols = rng.choice(n, size=int(rng.integers(1, nnz + 1)), replace=False)
            idx.extend(cols.tolist())
            val.extend(rng.standard_normal(cols.size).tolist())
            pptr.append(len(idx))
        gptr.append(len(pptr) - 1)
    c = c_scale * rng.standard_normal(n)
    return c, np.array(gptr), np.array(pptr), np.array(idx, dtype=np.int64), np.array(val)


def _dense_pieces(n, gptr, pptr, idx, val):
    A = np.zeros((n, len(pptr) - 1))
    for p in range(len(pptr) - 1):
        np.add.at(A[:, p], idx[pptr[p] : pptr[p + 1]], val[pptr[p] : pptr[p + 1]])
    return A


def _expanded_hull(c, gptr, pptr, idx, val):
    """Rows c + Σ_j a_{j, k_j} over every choice of one vertex per group (the Minkowski-sum vertices)."""
    A = _dense_pieces(c.size, gptr, pptr, idx, val)
    groups = [range(gptr[j], gptr[j + 1]) for j in range(len(gptr) - 1)]
    return np.array([c + A[:, list(ch)].sum(axis=1) for ch in itertools.product(*groups)])


def _check_product_solution(c, gptr, pptr, idx, val, value, lam):
    A = _dense_pieces(c.size, gptr, pptr, idx, val)
    for j in range(len(gptr) - 1):
        sl = slice(gptr[j], gptr[j + 1])
        assert np.all(lam[sl] >= 0.0)
        assert lam[sl].sum() == pytest.approx(1.0, abs=1e-12)
    assert value == pytest.approx(float(np.linalg.norm(c + A @ lam)), rel=1e-10, abs=1e-13)


@pytest.mark.parametrize("seed", range(6))
def test_min_norm_product_matches_expanded_hull(seed):
    rng = np.random.default_rng(100 + seed)
    for J, kmax, n, nnz, cs in [(3, 3, 4, 2, 1.0), (4, 3, 5, 3, 0.3), (2, 4, 3, 2, 0.0), (5, 2, 6, 2, 2.0)]:
        c, gptr, pptr, idx, val = _random_product(rng, J, kmax, n, nnz, cs)
        value, lam, _it, conv = min_norm_product(c, gptr, pptr, idx, val)
        assert conv
        _check_product_solution(c, gptr, pptr, idx, val, value, lam)
        _, ref = min_norm_hull(_expanded_hull(c, gptr, pptr, idx, val))
        assert value == pytest.approx(ref, abs=1e-8 * (1.0 + ref))


def test_min_norm_product_single_group_is_hull():
    rng = np.random.default_rng(7)
    G = rng.standard_normal((20, 6)) + 0.4  # one group of 20 dense pieces: the sort-based projection
    gptr = np.array([0, 20])
    pptr = np.arange(0, 121, 6)
    idx = np.tile(np.arange(6), 20)
    value, _lam, _, conv = min_norm_product(np.zeros(6), gptr, pptr, idx, G.ravel())
    _, ref = min_norm_hull(G)
    assert conv
    assert value == pytest.approx(ref, rel=1e-7)


def test_min_norm_product_trivial_cases():
    # every group has one piece: the value is ||c + sum of pieces||, no iterations
    c = np.array([1.0, 2.0])
    value, lam, it, conv = min_norm_product(c, [0, 1, 2], [0, 1, 2], [0, 1], [3.0, -1.0])
    assert (value, it, conv) == (pytest.approx(math.hypot(4.0, 1.0)), 0, True)
    assert lam.tolist() == [1.0, 1.0]
    # 0 strictly inside: symmetric pieces
    value, lam, _, conv = min_norm_product(
        np.zeros(2), [0, 2, 4], [0, 1, 2, 3, 4], [0, 0, 1, 1], [1.0, -1.0, 2, -3]
    )
    assert conv and value < 1e-12
    # duplicated pieces and an index repeated within a piece (entries add up)
    value, lam, _, conv = min_norm_product([5.0], [0, 3], [0, 2, 3, 4], [0, 0, 0, 0], [1.0, 1.0, 2.0, -1.0])
    assert conv and value == pytest.approx(4.0, abs=1e-9)


def test_min_norm_product_ill_conditioned_chain():
    """Chained LQ at its minimiser: every term ambiguous, the exact minimum 0 (a chain Laplacian face).

    Pieces (-1, -1) and (-1 + sqrt 2, -1 + sqrt 2) on (x_j, x_j+1); zero needs the weight 1/sqrt 2 on
    the quadratic piece of every term. Plain projected gradient needs O(n) iterations here.
    """
    n = 3000
    s = math.sqrt(2.0) - 1.0
    gptr = np.arange(0, 2 * (n - 1) + 1, 2)
    pptr = np.arange(0, 4 * (n - 1) + 1, 2)
    idx = np.repeat(np.arange(n - 1), 4) + np.tile([0, 1, 0, 1], n - 1)
    val = np.tile([-1.0, -1.0, s, s], n - 1)
    value, lam, _it, conv = min_norm_product(np.zeros(n), gptr, pptr, idx, val, rtol=1e-8)
    assert conv
    assert value < 1e-9
    assert lam[1::2] == pytest.approx(np.full(n - 1, 2.0**-0.5), abs=1e-7)


def test_min_norm_product_callable_from_njit_and_lower_bound():
    rng = np.random.default_rng(9)
    c, gptr, pptr, idx, val = _random_product(rng, 30, 3, 20, 2)

    @nb.njit
    def inner(c, gptr, pptr, idx, val):
        return _min_norm_product(c, gptr, pptr, idx, val, np.zeros(0), 1e-12, 1e-10, 10_000)

    value, _lam, _, conv, lower = inner(c, gptr, pptr, idx, val)
    assert conv and lower <= value <= lower + 1e-12 + 1e-10 * value
    # a truncated run: the value is still achievable and the bracket still holds
    v1, lam1, it1, _ = min_norm_product(c, gptr, pptr, idx, val, max_iter=1)
    _check_product_solution(c, gptr, pptr, idx, val, v1, lam1)
    assert it1 <= 1 and v1 >= value - 1e-12


def test_min_norm_product_warm_start():
    rng = np.random.default_rng(12)
    c, gptr, pptr, idx, val = _random_product(rng, 20, 3, 15, 2)
    value, lam, _, _ = min_norm_product(c, gptr, pptr, idx, val)
    v2, _, it2, conv2 = min_norm_product(c, gptr, pptr, idx, val, lam0=lam)
    assert conv2 and v2 == pytest.approx(value, rel=1e-8) and it2 <= 20


@pytest.mark.parametrize(
    ("args", "fld"),
    [
        (([0.0], [1, 2], [0, 1, 2], [0, 0], [1.0, 2.0]), "gptr"),  # does not start at 0
        (([0.0], [0, 0, 2], [0, 1, 2], [0, 0], [1.0, 2.0]), "gptr"),  # empty group
        (([0.0], [0, 3], [0, 1, 2], [0, 0], [1.0, 2.0]), "gptr"),  # more pieces than pptr holds
        (([0.0], [0, 2], [0, 2, 1], [0, 0], [1.0, 2.0]), "pptr"),  # decreasing
        (([0.0], [0, 2], [0, 1, 2], [0, 1], [1.0, 2.0]), "idx"),  # coordinate out of range
        (([0.0], [0, 2], [0, 1, 2], [0], [1.0, 2.0]), "idx"),  # length mismatch
        (([0.0], [0, 2], [0, 1, 2], [0.0, 0.0], [1.0, 2.0]), "idx"),  # float indices
        (([np.nan], [0, 2], [0, 1, 2], [0, 0], [1.0, 2.0]), "c"),
        (([0.0], [0, 2], [0, 1, 2], [0, 0], [1.0, np.inf]), "val"),
    ],
)
def test_min_norm_product_validation(args, fld):
    with pytest.raises(ConfigError) as err:
        min_norm_product(*args)
    assert err.value.field == fld


def test_min_norm_product_validation_options():
    args = ([0.0], [0, 2], [0, 1, 2], [0, 0], [1.0, 2.0])
    with pytest.raises(ConfigError, match="lam0"):
        min_norm_product(*args, lam0=[1.0])
    with pytest.raises(ConfigError, match="rtol"):
        min_norm_product(*args, rtol=-1.0)
    with pytest.raises(ConfigError, match="max_iter"):
        min_norm_product(*args, max_iter=0)
