"""The test-problem battery (asyncconv.problems; reference/problems.md).

Checks, for every problem at a couple of sizes: hand-coded subgradients against central finite
differences away from kinks; block slices concatenating bit for bit to the full subgradient; the
halo contract of chain, pair and separable problems; values at known minimisers; certificates at
every catalogued critical point (an exactly zero selection, or a gradient-sampling min-norm
certificate); finite-sum minibatch estimates; validation; the kernels called from inside njit.
"""

from __future__ import annotations

import itertools
import math
import time

import numba as nb
import numpy as np
import pytest
from scipy.optimize import nnls

from asyncconv.config import ConfigError
from asyncconv.problems import PROBLEMS, Problem, check_problem, list_problems, make_problem
from asyncconv.problems._reference import (
    hald_madsen_reference,
    mifflin2_dual,
    mifflin2_reference,
    shor_reference,
)
from asyncconv.problems.chebyshev_rosenbrock import ns2_critical_points

try:  # tests/ is on sys.path under pytest's rootdir layout
    from reference.sizes import SIZES
except ImportError:  # pragma: no cover - run as a package
    from tests.reference.sizes import SIZES

CASES = [(name, n) for name, sizes in SIZES.items() for n in sizes]

# how far random test points stray from x0 (Hald–Madsen must keep its denominator positive)
SCALE = {"hald_madsen": 0.05}


def _problem(name: str, n: int) -> Problem:
    return make_problem(name, n, seed=3)


def _points(prob: Problem, k: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    s = SCALE.get(prob.name, 0.5)
    return [prob.x0 + s * rng.standard_normal(prob.n) for _ in range(k)]


def _fd(prob: Problem, x: np.ndarray, h: float) -> np.ndarray:
    g = np.empty(prob.n)
    for j in range(prob.n):
        e = np.zeros(prob.n)
        e[j] = h * max(1.0, abs(x[j]))
        g[j] = (prob.value(x + e) - prob.value(x - e)) / (2.0 * e[j])
    return g


def _min_norm_hull(grads: np.ndarray) -> float:
    """min ||sum_k lam_k g_k|| over the simplex (NNLS with a heavily weighted sum-to-one row)."""
    rho = 1e4
    a = np.vstack([grads.T, rho * np.ones(grads.shape[0])])
    b = np.append(np.zeros(grads.shape[1]), rho)
    lam, _ = nnls(a, b, maxiter=50 * grads.shape[0])
    lam = lam / lam.sum()
    return float(np.linalg.norm(grads.T @ lam))


def _gs_measure(prob: Problem, x: np.ndarray, eps: float, k: int = 400, seed: int = 0) -> float:
    """Gradient-sampling estimate: min-norm element of conv{g(x), g(x + eps u_k)}, u_k ~ N(0, I/n)."""
    rng = np.random.default_rng(seed)
    pts = [x] + [x + eps * rng.standard_normal(prob.n) / math.sqrt(prob.n) for _ in range(k)]
    return _min_norm_hull(np.array([prob.subgradient(p) for p in pts]))


def test_sizes_cover_every_problem():
    assert set(SIZES) == set(PROBLEMS)
    # one module per problem (or small family), found by the registry
    assert all(spec.origin.startswith("asyncconv.problems.") for spec in PROBLEMS.values())
    assert len({spec.origin for spec in PROBLEMS.values()}) >= 17


@pytest.mark.parametrize(("name", "n"), CASES)
def test_battery_passes_the_user_problem_checks(name, n):
    # the checks a user's problem gets (compiles, finite, ranges, halo, finite differences)
    check_problem(_problem(name, n))


# --- subgradients ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "n"), CASES)
def test_subgradient_matches_finite_differences(name, n):
    prob = _problem(name, n)
    checked = 0
    for x in _points(prob, 12, seed=n):
        fd1 = _fd(prob, x, 1e-5)
        fd2 = _fd(prob, x, 2.5e-6)
        scale = max(1.0, float(np.max(np.abs(fd1))), abs(prob.value(x)))
        if np.max(np.abs(fd1 - fd2)) > 1e-6 * scale:
            continue  # a kink within the step: the difference quotient is not a derivative here
        g = prob.subgradient(x)
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, fd1, rtol=0, atol=2e-6 * scale, err_msg=f"{name} n={n} x={x}")
        checked += 1
    assert checked >= 6, f"{name}: only {checked} points away from kinks"


def _slice_points(prob: Problem) -> list[np.ndarray]:
    pts = [*_points(prob, 3, seed=7), np.array(prob.x0)]
    pts += list(prob.critical_points[:3])  # kinks: the selection rules matter there
    return pts


@pytest.mark.parametrize(("name", "n"), CASES)
def test_block_slices_concatenate_bit_for_bit(name, n):
    prob = _problem(name, n)
    rng = np.random.default_rng(11)
    for x in _slice_points(prob):
        idx_choices = [None]
        if prob.n_samples:
            idx_choices.append(rng.integers(0, prob.n_samples, size=5))
        for idx in idx_choices:
            full = prob.subgradient(x, idx=idx)
            for _ in range(4):
                cuts = np.sort(rng.integers(0, n + 1, size=rng.integers(1, 4)))
                bounds = [0, *cuts.tolist(), n]
                parts = [prob.subgradient(x, lo, hi, idx=idx) for lo, hi in itertools.pairwise(bounds)]
                joined = np.concatenate(parts)
                assert joined.shape == full.shape
                assert np.array_equal(joined, full, equal_nan=True), f"{name} n={n} cuts={bounds}"


HALO_CASES = [(name, n) for name, n in CASES if PROBLEMS[name].halo >= 0]


@pytest.mark.parametrize(("name", "n"), HALO_CASES)
def test_grad_range_reads_only_its_halo(name, n):
    prob = _problem(name, n)
    rng = np.random.default_rng(5)
    halo = prob.halo
    for x in _slice_points(prob):
        for _ in range(6):
            lo, hi = np.sort(rng.integers(0, n + 1, size=2))
            y = np.array(x)
            y[: max(0, lo - halo)] = np.nan
            y[hi + halo :] = np.nan
            g = prob.subgradient(y, lo, hi)
            assert np.all(np.isfinite(g)), f"{name} [{lo}, {hi}) read outside its halo {halo}"
            assert np.array_equal(g, prob.subgradient(x, lo, hi))


def test_halo_and_coupling_are_declared():
    for spec in PROBLEMS.values():
        expect = {"separable": 0, "chain": 1, "pairs": 1, "global": -1, "dense": -1}[spec.coupling]
        assert spec.halo == expect, spec.name
    for name in PROBLEMS:
        assert make_problem(name).coupling == PROBLEMS[name].coupling


# --- reference values and critical points ------------------------------------------------------


@pytest.mark.parametrize(("name", "n"), CASES)
def test_value_at_known_minimiser_is_f_ref(name, n):
    prob = _problem(name, n)
    if prob.f_ref is None:
        assert prob.f_ref_source
        return
    vals = [prob.value(c) for c in prob.critical_points]
    if name in ("double_well_abs", "double_well_sq") and not vals:
        vals = [prob.value(np.ones(n))]
    assert vals, name
    assert math.isclose(min(vals), prob.f_ref, rel_tol=1e-12, abs_tol=1e-12), (name, min(vals), prob.f_ref)
    if name != "hald_madsen":  # f_ref is a global minimum for all the others
        for x in [*_points(prob, 20, seed=2), np.array(prob.x0)]:
            assert prob.value(x) >= prob.f_ref - 1e-12


EXACT_ZERO = {
    "maxq",
    "chebyshev_rosenbrock",
    "ns1",
    "nonsmooth_rosenbrock",
    "chained_nonsmooth_rosenbrock",
    "phase_retrieval",
    "relu_regression",
    "weighted_l1",
    "l1_plus_quadratic",
    "double_well_abs",
    "double_well_sq",
    "trap",
    "trap_nd",
}


@pytest.mark.parametrize(("name", "n"), [c for c in CASES if c[0] in EXACT_ZERO])
def test_selection_vanishes_at_catalogued_critical_points(name, n):
    prob = _problem(name, n)
    assert prob.critical_points.shape[0] >= 1
    for c in prob.critical_points:
        assert np.array_equal(prob.subgradient(c), np.zeros(n)), (name, c)
        if prob.n_samples:
            for i in range(0, prob.n_samples, max(1, prob.n_samples // 5)):
                assert np.array_equal(prob.subgradient(c, idx=[i]), np.zeros(n))


GS_CASES = [
    ("mxhilb", 3),
    ("mxhilb", 5),
    ("chained_lq", 3),
    ("chained_lq", 4),
    ("chained_cb3_1", 2),
    ("chained_cb3_1", 3),
    ("chained_cb3_2", 3),
    ("chained_cb3_2", 5),
    ("active_faces", 3),
    ("active_faces", 5),
    ("brown2", 3),
    ("brown2", 4),
    ("chained_mifflin2", 3),
    ("chained_mifflin2", 5),
    ("chained_crescent_1", 3),
    ("chained_crescent_1", 5),
    ("chained_crescent_2", 3),
    ("chained_crescent_2", 4),
    ("hald_madsen", 5),
    ("shor", 5),
    ("ns2", 3),
    ("ns2", 4),
]


@pytest.mark.parametrize(("name", "n"), GS_CASES)
def test_gradient_sampling_certificate_at_catalogued_critical_points(name, n):
    """0 is (numerically) in the convex hull of subgradients sampled in a small ball around each point."""
    prob = _problem(name, n)
    assert prob.critical_points.shape[0] >= 1
    for c in prob.critical_points:
        g0 = prob.subgradient(c)
        scale = max(1.0, float(np.linalg.norm(g0)))
        gs = _gs_measure(prob, c, eps=1e-7)
        assert gs <= 1e-8 * scale, (name, c, gs)


def test_ns2_critical_points_tent_map_and_levels():
    for n in range(2, 9):
        prob = make_problem("ns2", n)
        pts = prob.critical_points
        assert pts.shape == (2 ** (n - 1), n) and prob.critical_set_complete and not prob.regular
        assert np.array_equal(pts[:, 1:], 2.0 * np.abs(pts[:, :-1]) - 1.0)  # tent map, exactly
        for k, c in enumerate(pts):
            assert prob.value(c) == k * 2.0**-n  # exact dyadic levels
    assert sorted(ns2_critical_points(3)[:, 0].tolist()) == [-0.5, 0.0, 0.5, 1.0]
    # the Clarke-measure estimate separates critical from non-critical points of the manifold
    prob = make_problem("ns2", 3)
    x = np.array([0.3, 0.0, 0.0])
    x[1] = 2 * abs(x[0]) - 1
    x[2] = 2 * abs(x[1]) - 1
    assert _gs_measure(prob, x, eps=1e-7) > 1e-2


def test_trap_critical_point_and_blockwise_critical_diagonal():
    prob = make_problem("trap")
    assert prob.n == 2 and np.array_equal(prob.x0, [2.0, -1.5])
    xs = np.array([-0.25, -0.25])
    assert np.array_equal(prob.critical_points, [xs]) and prob.critical_set_complete
    assert prob.value(xs) == -0.125 == prob.f_ref
    assert np.array_equal(prob.subgradient(xs), [0.0, 0.0])
    # diagonal points (t, t), t in [-3/4, 1/4]: each block can pick its own sign and vanish, yet
    # f decreases along +-(1, 1) (c + 4t != 0) unless t = -1/4
    for t in (-0.75, -0.5, 0.0, 0.25):
        for blk in (0, 1):
            sigma = -(0.5 + 2 * t) * (1 if blk == 0 else -1)
            assert -1 <= sigma <= 1
        assert abs(1.0 + 4 * t) > 0
        h = 1e-6
        d = (prob.value(np.array([t + h, t + h])) - prob.value(np.array([t - h, t - h]))) / (2 * h)
        assert abs(d - (1 + 4 * t)) < 1e-6
    nd = make_problem("trap_nd", 6, c=2.0)
    assert nd.f_ref == -3 * 4 / 8 and np.array_equal(nd.critical_points[0], np.full(6, -0.5))


def test_double_well_critical_sets():
    for name in ("double_well_abs", "double_well_sq"):
        prob = make_problem(name, 3)
        assert prob.critical_points.shape == (27, 3) and prob.critical_set_complete
        big = make_problem(name, 12)
        assert big.critical_points.shape == (0, 12) and not big.critical_set_complete
        x = np.array([0.9, -0.2, 0.55] * 4)
        r = np.array([0.1, 0.2, 0.45] * 4)
        assert math.isclose(big.distance_to_critical(x), float(np.linalg.norm(r)), rel_tol=1e-12)
        assert math.isclose(prob.distance_to_critical(x[:3]), float(np.linalg.norm(r[:3])), rel_tol=1e-12)
    assert not make_problem("double_well_abs").regular and make_problem("double_well_sq").regular


def test_distance_to_critical():
    prob = make_problem("chained_cb3_1", 4)
    assert prob.distance_to_critical(np.array([1.0, 1.0, 1.0, 3.0])) == 2.0
    assert math.isnan(make_problem("l1_nonconvex_regression", 5).distance_to_critical(np.zeros(5)))


def test_mifflin2_reference_is_certified_and_fast():
    t0 = time.perf_counter()
    for n in (2, 3, 10, 100, 1000):
        ref = mifflin2_reference(n)
        prob = make_problem("chained_mifflin2", n)
        assert prob.f_ref == prob.value(ref.x)
        assert 0.0 <= ref.f - ref.bound + 1e-12 * n and ref.f - ref.bound <= 1e-10 * max(1.0, abs(ref.f))
        assert "duality gap" in prob.f_ref_source and prob.critical_set_complete
    assert time.perf_counter() - t0 < 5.0
    assert mifflin2_reference(2).f == -1.0 and np.array_equal(mifflin2_reference(2).x, [1.0, 0.0])
    # HMM report f* ~ -706.55 at n = 1000
    assert abs(mifflin2_reference(1000).f - (-706.55)) < 0.01
    # weak duality at arbitrary multipliers
    rng = np.random.default_rng(0)
    c = rng.uniform(0.25, 3.75, size=9)
    q, dq, _ = mifflin2_dual(c)
    assert q <= mifflin2_reference(10).f + 1e-12
    h = 1e-6
    e = np.zeros(9)
    e[4] = h
    assert abs((mifflin2_dual(c + e)[0] - mifflin2_dual(c - e)[0]) / (2 * h) - dq[4]) < 1e-6


def test_hald_madsen_and_shor_references():
    hald = hald_madsen_reference()
    shor = shor_reference()
    assert math.isclose(hald.f, 1.22371e-4, rel_tol=1e-5)  # Lukšan–Vlček minimax collection
    assert math.isclose(shor.f, 22.600162, rel_tol=1e-7)
    assert hald.residual < 1e-12 and shor.residual < 1e-12
    for name, ref in (("hald_madsen", hald), ("shor", shor)):
        prob = make_problem(name)
        assert math.isclose(prob.f_ref, ref.f, rel_tol=1e-12)
        assert "KKT" in prob.f_ref_source


# --- finite sums ----------------------------------------------------------------------------------

FINITE_SUMS = [(name, n) for name, n in CASES if PROBLEMS[name].finite_sum]


@pytest.mark.parametrize(("name", "n"), FINITE_SUMS)
def test_single_sample_minibatches_average_to_the_full_subgradient(name, n):
    prob = _problem(name, n)
    assert prob.n_samples == prob.data.shape[0] > 0
    for x in _points(prob, 3, seed=1):
        full = prob.subgradient(x)
        singles = np.array([prob.subgradient(x, idx=[i]) for i in range(prob.n_samples)])
        np.testing.assert_allclose(singles.mean(axis=0), full, rtol=1e-10, atol=1e-13)
        assert np.array_equal(prob.subgradient(x, idx=np.arange(prob.n_samples)), full)
        assert np.array_equal(prob.subgradient(x, idx=[]), full)
        idx = np.array([2, 0, 2])
        expect = np.mean([prob.subgradient(x, idx=[i]) for i in idx], axis=0)
        np.testing.assert_allclose(prob.subgradient(x, idx=idx), expect, rtol=1e-12, atol=1e-14)


def test_non_finite_sums_reject_minibatches():
    with pytest.raises(ValueError, match="idx"):
        make_problem("maxq", 3).subgradient(np.ones(3), idx=[0])
    prob = make_problem("phase_retrieval", 4)
    with pytest.raises(ValueError, match="idx"):
        prob.subgradient(np.ones(4), idx=[prob.n_samples])


def test_generated_instances_are_reproducible():
    for name in ("phase_retrieval", "l1_nonconvex_regression", "relu_regression"):
        a, b, c = make_problem(name, seed=4), make_problem(name, seed=4), make_problem(name, seed=5)
        assert np.array_equal(a.data, b.data) and np.array_equal(a.x0, b.x0)
        assert not np.array_equal(a.data, c.data)
    pr = make_problem("phase_retrieval", 6, seed=1, m=30)
    xbar = pr.critical_points[1]
    assert pr.data.shape == (30, 7) and pr.n_samples == 30
    assert math.isclose(np.linalg.norm(xbar), 1.0) and math.isclose(np.linalg.norm(pr.x0), 1.0)
    assert pr.value(xbar) == 0.0 == pr.value(-xbar)
    assert "0.4416" in pr.description


def test_relu_prime0_switch():
    base = make_problem("relu_regression", 10, seed=2)
    one = make_problem("relu_regression", 10, seed=2, relu_prime0=1)
    assert np.array_equal(base.data, one.data) and base.prm[2] == 0.0 and one.prm[2] == 1.0
    x = np.array(base.x0)
    x[0:4] = 0.0  # neuron 0: w = 0, so every pre-activation is exactly 0 (a kink)
    x[4] = 1.0
    g0, g1 = base.subgradient(x), one.subgradient(x)
    assert np.all(g0[:4] == 0.0) and np.any(g1[:4] != 0.0)
    assert np.array_equal(g0[4:], g1[4:])


# --- validation and listing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "fld"),
    [
        (("nope",), {}, "name"),
        ((3,), {}, "name"),
        (("hald_madsen", 4), {}, "n"),
        (("ns2", 13), {}, "n"),
        (("maxq", 0), {}, "n"),
        (("maxq", 2.0), {}, "n"),
        (("maxq", True), {}, "n"),
        (("trap_nd", 5), {}, "n"),
        (("relu_regression", 7), {}, "n"),
        (("mxhilb", 3000), {}, "n"),
        (("maxq", 3), {"seed": -1}, "seed"),
        (("maxq", 3), {"foo": 1}, "foo"),
        (("nonsmooth_rosenbrock",), {"w": -1.0}, "w"),
        (("relu_regression",), {"relu_prime0": 2}, "relu_prime0"),
        (("weighted_l1", 3), {"c": [1.0, 2.0]}, "c"),
        (("weighted_l1", 3), {"c": 0.0}, "c"),
        (("phase_retrieval", 3), {"m": 0}, "m"),
        (("l1_nonconvex_regression", 3), {"lam": -0.1}, "lam"),
        (("l1_nonconvex_regression", 3), {"outliers": 1.0}, "outliers"),
        (("trap",), {"c": "x"}, "c"),
    ],
)
def test_make_problem_validation_names_the_field(args, kwargs, fld):
    with pytest.raises(ConfigError) as err:
        make_problem(*args, **kwargs)
    assert err.value.field == fld
    assert str(err.value).startswith(f"{fld}:")


def test_validation_lists_allowed_values():
    with pytest.raises(ConfigError, match="chained_mifflin2"):
        make_problem("nope")
    with pytest.raises(ConfigError, match="allowed parameters: w"):
        make_problem("nonsmooth_rosenbrock", foo=1)
    with pytest.raises(ConfigError, match="none"):
        make_problem("maxq", foo=1)


def test_list_problems_covers_every_name():
    rows = list_problems()
    assert [r["name"] for r in rows] == list(PROBLEMS)
    keys = {
        "name",
        "module",
        "description",
        "coupling",
        "regular",
        "convex",
        "default_n",
        "allowed_n",
        "known",
    }
    for r in rows:
        assert keys <= set(r)
        prob = make_problem(r["name"])  # defaults are valid
        assert prob.n == r["default_n"] and prob.regular == r["regular"] and prob.convex == r["convex"]
    assert {r["name"] for r in rows if not r["regular"]} == {"ns2", "relu_regression", "double_well_abs"}


def test_problem_arrays_are_read_only_and_well_shaped():
    for name in PROBLEMS:
        prob = make_problem(name)
        for arr in (prob.prm, prob.data, prob.x0, prob.critical_points):
            assert arr.dtype == np.float64 and not arr.flags.writeable
        assert prob.prm.ndim == 1 and prob.prm.size >= 1
        assert prob.data.ndim == 2 and min(prob.data.shape) >= 1
        assert prob.x0.shape == (prob.n,) and prob.critical_points.shape[1] == prob.n
        assert prob.coupling in ("separable", "chain", "pairs", "global", "dense")
        assert np.isfinite(prob.value(prob.x0)) and np.all(np.isfinite(prob.subgradient(prob.x0)))


def test_kernel_guards():
    # Brown 2 at the minimiser: the guarded logarithm gives no NaN
    b = make_problem("brown2", 4)
    assert np.all(np.isfinite(b.subgradient(np.zeros(4)))) and b.value(np.zeros(4)) == 0.0
    assert np.array_equal(b.subgradient(np.zeros(4)), [1.0, 1.0, 1.0, 0.0])  # tnsunc.f's signs
    # Hald–Madsen where the denominator vanishes (x = 1, t = -1): finite, huge
    h = make_problem("hald_madsen")
    assert np.isfinite(h.value(np.ones(5))) and np.all(np.isfinite(h.subgradient(np.ones(5))))


# --- the kernels inside another jitted function -------------------------------------------------


@nb.njit
def _jitted_caller(fvalue, fgrad, prm, data, x, idx):
    out = np.empty(x.shape[0])
    half = x.shape[0] // 2
    fgrad(prm, data, x, 0, half, idx, out[:half])
    fgrad(prm, data, x, half, x.shape[0], idx, out[half:])
    return fvalue(prm, data, x), out


def test_kernels_callable_from_njit():
    for name in ("chained_cb3_1", "ns2", "phase_retrieval", "relu_regression", "trap_nd"):
        prob = make_problem(name)
        x = prob.x0 + 0.1
        idx = np.arange(3, dtype=np.int64) if prob.n_samples else np.zeros(0, dtype=np.int64)
        # the compiled functions are first-class: one caller compiles for every problem
        f, g = _jitted_caller(prob.spec.value.compiled, prob.spec.grad.compiled, prob.prm, prob.data, x, idx)
        assert f == prob.value(x)
        assert np.array_equal(g, prob.subgradient(x, idx=idx if prob.n_samples else None))
