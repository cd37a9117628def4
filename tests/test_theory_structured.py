"""Structured η-active measure SQ and its blockwise variant (asyncconv.theory.structured; measures.md §5.4).

For every covered problem: off the kinks at η = 0 the measure is the norm of the gradient; the
pieces reproduce f (Σ_j max_k φ_jk = f) and their gradients match finite differences; s_η is
nonincreasing in η and b_η ≤ s_η. Exact values at kinks: the trap's diagonal (s_0 = √2|a|, b_0 = 0,
measures.md §6) and its minimiser, MAXQ's cross-block tie, separable toys, the chained minimisers.
SQ on non-regular problems raises. Validation; the kernels from inside njit; n = 1e5.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import pytest

from asyncconv.config import ConfigError
from asyncconv.problems import PROBLEMS, list_problems, make_problem
from asyncconv.theory import _sq_kernels as SK
from asyncconv.theory.structured import (
    SQUnavailableError,
    active_pieces,
    b_eta,
    piece_args,
    s_eta,
    sq_available,
)

try:  # tests/ is on sys.path under pytest's rootdir layout
    from reference.sizes import SIZES as ALL_SIZES
except ImportError:  # pragma: no cover - run as a package
    from tests.reference.sizes import SIZES as ALL_SIZES

# the regular problems (the structured measure's domain), by the battery's own flag
SIZES = {name: sizes for name, sizes in ALL_SIZES.items() if PROBLEMS[name].regular}
CASES = [(name, n) for name, sizes in SIZES.items() for n in sizes]
SMALL = [(name, sizes[0]) for name, sizes in SIZES.items()]
NOT_REGULAR = ("ns2", "relu_regression", "double_well_abs")
SCALE = {"hald_madsen": 0.05}


def _points(prob, k: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    s = SCALE.get(prob.name, 0.5)
    return [prob.x0 + s * rng.standard_normal(prob.n) for _ in range(k)]


def _group_max_sum(pc) -> float:
    return sum(float(np.max(pc.value[pc.gptr[j] : pc.gptr[j + 1]])) for j in range(len(pc.gptr) - 1))


def test_coverage_is_every_regular_problem():
    regular = {d["name"] for d in list_problems() if d["regular"]}
    with_pieces = {d["name"] for d in list_problems() if d["pieces"]}
    assert with_pieces == regular == set(SIZES)
    for d in list_problems():
        prob = make_problem(d["name"], seed=1)
        assert sq_available(prob) == d["regular"] == prob.has_pieces, d["name"]


@pytest.mark.parametrize(("name", "n"), CASES)
def test_eta0_off_kinks_is_gradient_norm(name, n):
    prob = make_problem(name, n, seed=3)
    for x in _points(prob, 3, seed=n):
        g = prob.subgradient(x)
        r = s_eta(prob, x, 0.0)
        # (active faces at n = 1: the sum piece ln(1 + |x_0|) duplicates the coordinate piece)
        assert r["n_ambiguous"] == (1 if (name, n) == ("active_faces", 1) else 0)
        assert r["converged"] and r["measure"] == "s_eta"
        assert r["value"] == pytest.approx(float(np.linalg.norm(g)), rel=1e-10, abs=1e-12)
        b = b_eta(prob, x, 0.0, np.array([0, n // 2, n]) if n >= 2 else np.array([0, n]))
        assert b["value"] == pytest.approx(r["value"], rel=1e-10, abs=1e-12)


@pytest.mark.parametrize(("name", "n"), CASES)
def test_pieces_reproduce_value(name, n):
    prob = make_problem(name, n, seed=3)
    J = piece_args(prob)[2]
    for x in _points(prob, 2, seed=7 + n):
        f = prob.value(x)
        for eta in (0.0, 0.3, np.inf):
            pc = active_pieces(prob, x, eta)
            assert len(pc.gptr) == J + 1
            assert np.all(np.diff(pc.gptr) >= 1)  # every group has its maximal piece
            assert _group_max_sum(pc) == pytest.approx(f, rel=1e-12, abs=1e-12)
            if eta == 0.0 and (name, n) != ("active_faces", 1):
                assert np.all(np.diff(pc.gptr) == 1)  # off the kinks


@pytest.mark.parametrize(("name", "n"), SMALL)
def test_piece_gradients_match_finite_differences(name, n):
    prob = make_problem(name, n, seed=3)
    for x in _points(prob, 2, seed=11):
        pc = active_pieces(prob, x, np.inf)
        keyed = {}
        for j in range(len(pc.gptr) - 1):
            for p in range(pc.gptr[j], pc.gptr[j + 1]):
                keyed[(j, int(pc.key[p]))] = p
        fd = {key: np.zeros(n) for key in keyed}
        for i in range(n):
            h = 1e-6 * max(1.0, abs(x[i]))
            vals = []
            for sgn in (1.0, -1.0):
                xe = x.copy()
                xe[i] += sgn * h
                q = active_pieces(prob, xe, np.inf)
                d = {}
                for j in range(len(q.gptr) - 1):
                    for p in range(q.gptr[j], q.gptr[j + 1]):
                        d[(j, int(q.key[p]))] = q.value[p]
                vals.append(d)
            for key in keyed:
                if key in vals[0] and key in vals[1]:
                    fd[key][i] = (vals[0][key] - vals[1][key]) / (2.0 * h)
                else:
                    fd[key][i] = np.nan
        for key, p in keyed.items():
            g = pc.gradient(p, n)
            ok = np.isfinite(fd[key])
            assert ok.any()
            scale = max(1.0, float(np.max(np.abs(g))))
            assert g[ok] == pytest.approx(fd[key][ok], rel=1e-5, abs=1e-5 * scale), (key, g, fd[key])


@pytest.mark.parametrize(("name", "n"), SMALL)
def test_eta_monotone_and_blockwise_below(name, n):
    prob = make_problem(name, n, seed=3)
    off = np.array([0, (n + 1) // 2, n]) if n >= 2 else np.array([0, 1])
    for x in _points(prob, 2, seed=5):
        prev = math.inf
        prev_amb = -1
        for eta in (0.0, 1e-3, 1e-2, 0.1, 1.0, 10.0):
            r = s_eta(prob, x, eta, rtol=1e-9, atol=1e-12)
            b = b_eta(prob, x, eta, off, rtol=1e-9, atol=1e-12)
            assert r["value"] <= prev * (1 + 1e-7) + 1e-10
            assert r["n_ambiguous"] >= prev_amb
            assert b["value"] <= r["value"] * (1 + 1e-7) + 1e-10
            assert b["lower"] <= b["value"] and r["lower"] <= r["value"]
            assert math.sqrt(sum(v * v for v in b["per_block"])) == pytest.approx(
                b["value"], rel=1e-9, abs=1e-12
            )
            prev, prev_amb = r["value"], r["n_ambiguous"]


# --- exact values at kinks -----------------------------------------------------------------------


@pytest.mark.parametrize("t", [-0.75, -0.6, -0.25, 0.0, 0.1, 0.25, 0.4, 0.9, -1.3])
def test_trap_diagonal(t):
    """(t, t): ∂f = {(σ + a, −σ + a)}, a = 1/2 + 2t, so s_0 = √2|a|; blockwise min |a ± σ| per block."""
    prob = make_problem("trap")
    a = 0.5 + 2.0 * t
    x = np.array([t, t])
    r = s_eta(prob, x, 0.0)
    b = b_eta(prob, x, 0.0, np.array([0, 1, 2]))
    assert r["n_ambiguous"] == 1
    assert r["value"] == pytest.approx(math.sqrt(2.0) * abs(a), abs=1e-12)
    assert b["value"] == pytest.approx(math.sqrt(2.0) * max(abs(a) - 1.0, 0.0), abs=1e-12)
    assert b["measure"] == "b_eta" and b["n_blocks"] == 2
    # one block holding both coordinates: no freedom, b = s
    b1 = b_eta(prob, x, 0.0, np.array([0, 2]))
    assert b1["value"] == pytest.approx(r["value"], abs=1e-12)


def test_trap_minimiser_and_off_diagonal():
    prob = make_problem("trap")
    xs = np.array([-0.25, -0.25])
    assert s_eta(prob, xs, 0.0)["value"] == pytest.approx(0.0, abs=1e-14)
    assert b_eta(prob, xs, 0.0, [0, 1, 2])["value"] == pytest.approx(0.0, abs=1e-14)
    # near the diagonal with eta covering the kink: the eta-hull is the diagonal's hull
    x = np.array([0.1 + 1e-4, 0.1])
    assert s_eta(prob, x, 0.0)["n_ambiguous"] == 0
    r = s_eta(prob, x, 1e-3)
    assert r["n_ambiguous"] == 1
    assert r["value"] == pytest.approx(math.sqrt(2.0) * (0.5 + 0.2001), abs=1e-12)  # a = c/2 + x1 + x2
    assert b_eta(prob, x, 1e-3, [0, 1, 2])["value"] == pytest.approx(0.0, abs=1e-12)


def test_trap_nd_blocks():
    prob = make_problem("trap_nd", 6)
    ts = np.array([0.1, -0.25, -0.6])
    x = np.repeat(ts, 2)
    a = 0.5 + 2.0 * ts
    r = s_eta(prob, x, 0.0)
    assert r["value"] == pytest.approx(math.sqrt(2.0 * np.sum(a * a)), abs=1e-12)
    # pair members in different blocks (interleaved): a blockwise-critical trap
    bi = b_eta(prob, x, 0.0, block_of=np.array([0, 1, 0, 1, 0, 1]))
    assert bi["value"] == pytest.approx(0.0, abs=1e-12)
    # pairs inside blocks: no blockwise freedom
    bc = b_eta(prob, x, 0.0, np.array([0, 2, 4, 6]))
    assert bc["value"] == pytest.approx(r["value"], abs=1e-12)
    assert bc["per_block"] == pytest.approx(np.sqrt(2.0) * np.abs(a), abs=1e-12)


def test_maxq_cross_block_tie():
    """x = (1, −1, .3, .2): ∂f = conv{2e_0, −2e_1}, s_0 = √2; split 0 | 1 it is blockwise critical."""
    prob = make_problem("maxq", 4)
    x = np.array([1.0, -1.0, 0.3, 0.2])
    assert s_eta(prob, x, 0.0)["value"] == pytest.approx(math.sqrt(2.0), abs=1e-9)
    assert b_eta(prob, x, 0.0, [0, 2, 4])["value"] == pytest.approx(math.sqrt(2.0), abs=1e-9)
    assert b_eta(prob, x, 0.0, [0, 1, 4])["value"] == pytest.approx(0.0, abs=1e-9)


def test_separable_kinks():
    prob = make_problem("weighted_l1", 5)
    c = prob.prm
    x = np.array([0.0, 0.4, 0.0, -1.0, 0.0])
    assert s_eta(prob, x, 0.0)["value"] == pytest.approx(math.hypot(c[1], c[3]), abs=1e-12)
    prob = make_problem("l1_plus_quadratic")
    assert s_eta(prob, [0.0, 0.7], 0.0)["value"] == pytest.approx(0.7, abs=1e-12)
    assert s_eta(prob, [0.2, 0.7], 0.0)["value"] == pytest.approx(math.hypot(1.0, 0.7), abs=1e-12)
    prob = make_problem("double_well_sq", 3)
    assert s_eta(prob, [1.0, -1.0, 0.5], 0.0)["value"] == pytest.approx(1.0, abs=1e-12)
    assert s_eta(prob, [1.0, -1.0, 0.0], 0.0)["value"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("name", "n"),
    [
        ("chained_lq", 50),
        ("chained_lq", 2000),
        ("chained_cb3_1", 50),
        ("chained_cb3_2", 20),
        ("chained_crescent_1", 20),
        ("chained_crescent_2", 50),
        ("ns1", 5),
        ("chained_nonsmooth_rosenbrock", 50),
        ("maxq", 10),
        ("mxhilb", 10),
        ("active_faces", 10),
        ("brown2", 20),
        ("trap_nd", 20),
        ("weighted_l1", 9),
    ],
)
def test_zero_at_known_minimisers(name, n):
    """x* lies on the kinks; s_0(x*) = 0 needs the right mixture of pieces (the QP, not a selection)."""
    prob = make_problem(name, n)
    xs = prob.critical_points[0]
    r = s_eta(prob, xs, 1e-12, rtol=1e-9, atol=1e-12)
    assert r["converged"]
    assert r["value"] <= 1e-9 * max(1.0, float(np.linalg.norm(prob.subgradient(prob.x0))))
    assert r["n_ambiguous"] >= 1


def test_mifflin2_reference_minimiser():
    prob = make_problem("chained_mifflin2", 30)
    r = s_eta(prob, prob.critical_points[0], 1e-9, rtol=1e-9, atol=1e-12)
    assert r["converged"]
    assert r["value"] <= 1e-6  # the reference is certified to a duality gap, not exactly
    assert s_eta(prob, prob.x0, 0.0)["value"] > 1.0


# --- validity ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NOT_REGULAR)
def test_not_regular_raises(name):
    prob = make_problem(name, seed=1)
    assert not prob.regular and not sq_available(prob)
    for call in (
        lambda: s_eta(prob, prob.x0, 0.0),
        lambda: b_eta(prob, prob.x0, 0.0, [0, prob.n]),
        lambda: active_pieces(prob, prob.x0, 0.0),
    ):
        with pytest.raises(SQUnavailableError) as err:
            call()
        assert isinstance(err.value, ValueError) and isinstance(err.value, ConfigError)
        assert name in str(err.value) and "invalid" in str(err.value)


def test_pieces_need_a_regular_problem():
    from asyncconv.problems import define, pieces
    from asyncconv.problems.trap import group_values, piece_grad, value

    with pytest.raises(ConfigError) as err:
        define(
            "x",
            value=value,
            grad=value,
            n=2,
            x0=[0, 0],
            pieces=pieces(group_values, piece_grad, n_groups=len),
        )
    assert err.value.field == "pieces" and "regular" in err.value.message
    assert not make_problem("ns2", 3).has_pieces


def test_validation():
    prob = make_problem("chained_lq", 5)
    x = prob.x0
    bad = [
        (lambda: s_eta(prob, np.zeros(4), 0.0), "x"),
        (lambda: s_eta(prob, np.full(5, np.nan), 0.0), "x"),
        (lambda: s_eta(prob, x, -1.0), "eta"),
        (lambda: s_eta(prob, x, np.inf), "eta"),
        (lambda: s_eta(prob, x, "0"), "eta"),
        (lambda: s_eta(prob, x, 0.0, rtol=2.0), "rtol"),
        (lambda: s_eta(prob, x, 0.0, max_iter=0), "max_iter"),
        (lambda: s_eta("chained_lq", x, 0.0), "problem"),
        (lambda: b_eta(prob, x, 0.0), "block_off"),
        (lambda: b_eta(prob, x, 0.0, [1, 5]), "block_off"),
        (lambda: b_eta(prob, x, 0.0, [0, 3, 3, 5]), "block_off"),
        (lambda: b_eta(prob, x, 0.0, [0, 4]), "block_off"),
        (lambda: b_eta(prob, x, 0.0, [0.0, 5.0]), "block_off"),
        (lambda: b_eta(prob, x, 0.0, [0, 5], block_of=np.zeros(5, dtype=int)), "block_off"),
        (lambda: b_eta(prob, x, 0.0, block_of=np.array([0, 0, 2, 2, 2])), "block_of"),
        (lambda: b_eta(prob, x, 0.0, block_of=np.zeros(4, dtype=int)), "block_of"),
    ]
    for call, fld in bad:
        with pytest.raises(ConfigError) as err:
            call()
        assert err.value.field == fld


def test_kernels_callable_from_njit():
    prob = make_problem("chained_cb3_1", 12)
    x = np.ones(12) + 1e-3 * np.random.default_rng(1).standard_normal(12)

    @nb.njit
    def inner(fv, fg, J, kmax, nnz, prm, data, x, lab):
        a = SK.s_eta_kernel(fv, fg, J, kmax, nnz, prm, data, x, 1e-2, 1e-9, 1e-6, 5000)
        b = SK.b_eta_kernel(fv, fg, J, kmax, nnz, prm, data, x, 1e-2, lab, 2, 1e-9, 1e-6, 5000)
        return a[1], b[1]

    lab = np.repeat(np.arange(2), 6)
    s, b = inner(*piece_args(prob), x, lab)
    assert s == pytest.approx(s_eta(prob, x, 1e-2, rtol=1e-6)["value"], rel=1e-6)
    assert b == pytest.approx(b_eta(prob, x, 1e-2, block_of=lab, rtol=1e-6)["value"], rel=1e-6)


def test_scale_n_1e5():
    """n = 1e5 chained problem: off the kinks and at the minimiser (every term ambiguous)."""
    n = 100_000
    prob = make_problem("chained_lq", n)
    rng = np.random.default_rng(0)
    x = prob.x0 + 0.1 * rng.standard_normal(n)
    r = s_eta(prob, x, 0.0)
    assert r["value"] == pytest.approx(float(np.linalg.norm(prob.subgradient(x))), rel=1e-10)
    r = s_eta(prob, prob.critical_points[0], 1e-9)
    assert r["converged"] and r["n_ambiguous"] == n - 1
    assert r["value"] < 1e-6


def test_registry_covers_battery():
    assert set(SIZES) | set(NOT_REGULAR) == set(PROBLEMS)
