"""Statistics for convergence studies (``asyncconv.theory.stats``, measures.md §8.1–8.3)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.stats as st

from asyncconv.config import ConfigError
from asyncconv.theory.stats import (
    first_passage,
    fisher_exact,
    fraction,
    holm,
    kaplan_meier,
    logrank,
    mann_whitney,
    mcnemar_exact,
    multinomial_ci,
    proportion_ci,
    quantile_bands,
    wilcoxon_paired,
)


def _strict_json(obj) -> None:
    json.dumps(obj, allow_nan=False)


# ------------------------------------------------------------------------------------------------
# §8.1 proportions

# measures.md §8.1: two-sided 95% lower bounds when all N runs converge.
_TABLE = {
    30: (0.884, 0.887),
    50: (0.929, 0.929),
    100: (0.964, 0.963),
    200: (0.982, 0.981),
    300: (0.988, 0.987),
    500: (0.993, 0.992),
    1000: (0.996, 0.996),
}


@pytest.mark.parametrize("n", sorted(_TABLE))
def test_all_converged_lower_bounds_match_measures_table(n):
    cp, wilson = _TABLE[n]
    lo, hi = proportion_ci(n, n)
    assert round(lo, 3) == cp and hi == 1.0
    lo_w, hi_w = proportion_ci(n, n, method="wilson")
    z2 = st.norm.ppf(0.975) ** 2
    assert lo_w == pytest.approx(n / (n + z2), rel=1e-12) and hi_w == pytest.approx(1.0)
    # The table's Wilson entry for N = 30 reads 0.887 but n/(n + z²) = 0.88649 (a rounding slip in
    # the table), hence a tolerance of 0.6e-3 rather than exact rounding for the Wilson row.
    assert lo_w == pytest.approx(wilson, abs=6e-4)
    if n != 30:
        assert round(lo_w, 3) == wilson
    # The Clopper–Pearson lower bound at k = n is (α/2)^{1/n}.
    assert lo == pytest.approx(0.025 ** (1.0 / n), rel=1e-9)


def test_clopper_pearson_matches_beta_quantiles():
    rng = np.random.default_rng(20240611)
    cases = [(0, 7), (7, 7), (0, 1), (1, 1)]
    for _ in range(40):
        n = int(rng.integers(1, 400))
        cases.append((int(rng.integers(0, n + 1)), n))
    for level in (0.9, 0.95, 0.99):
        a = 1.0 - level
        for k, n in cases:
            lo, hi = proportion_ci(k, n, level=level)
            exp_lo = 0.0 if k == 0 else st.beta.ppf(a / 2, k, n - k + 1)
            exp_hi = 1.0 if k == n else st.beta.ppf(1 - a / 2, k + 1, n - k)
            assert lo == pytest.approx(exp_lo, abs=1e-9), (k, n, level)
            assert hi == pytest.approx(exp_hi, abs=1e-9), (k, n, level)


def test_wilson_closed_form():
    z = st.norm.ppf(0.975)
    for k, n in [(0, 10), (3, 10), (17, 40), (40, 40)]:
        p = k / n
        c = (p + z * z / (2 * n)) / (1 + z * z / n)
        h = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        lo, hi = proportion_ci(k, n, method="wilson")
        assert lo == pytest.approx(max(c - h, 0.0), abs=1e-12)
        assert hi == pytest.approx(min(c + h, 1.0), abs=1e-12)


@pytest.mark.statistical
@pytest.mark.parametrize("method", ["clopper-pearson", "wilson"])
def test_proportion_ci_coverage(method):
    n, p, reps, level = 50, 0.3, 2000, 0.95
    ks = np.random.default_rng(12345).binomial(n, p, size=reps)
    table = np.array([proportion_ci(k, n, level, method) for k in range(n + 1)])
    covered = (table[ks, 0] <= p) & (p <= table[ks, 1])
    se = math.sqrt(level * (1 - level) / reps)
    assert covered.mean() >= level - 3 * se


def test_proportion_ci_n_zero_and_fraction_dict():
    assert proportion_ci(0, 0) == (0.0, 1.0)
    f = fraction(0, 0)
    assert f["p"] is None and (f["lo"], f["hi"]) == (0.0, 1.0)
    f = fraction(np.int64(27), 30, level=0.9, method="wilson")
    assert f["k"] == 27 and f["n"] == 30 and f["p"] == pytest.approx(0.9)
    assert (f["lo"], f["hi"]) == proportion_ci(27, 30, 0.9, "wilson")
    assert f["lo"] < 0.9 < f["hi"] and f["method"] == "wilson" and f["level"] == 0.9
    _strict_json(f)


# ------------------------------------------------------------------------------------------------
# §8.2 multinomial


def test_goodman_formula_and_equivalence_with_bonferroni_wilson():
    counts = [10, 20, 70]
    out = multinomial_ci(counts)
    a = st.chi2.ppf(1 - 0.05 / 3, 1)
    n = sum(counts)
    for c, row in zip(counts, out, strict=True):
        half = math.sqrt(a * (a + 4 * c * (n - c) / n))
        assert row["count"] == c and row["p"] == pytest.approx(c / n)
        assert row["lo"] == pytest.approx((a + 2 * c - half) / (2 * (n + a)))
        assert row["hi"] == pytest.approx((a + 2 * c + half) / (2 * (n + a)))
    bw = multinomial_ci(counts, method="bonferroni-wilson")
    for g, w in zip(out, bw, strict=True):
        assert g["lo"] == pytest.approx(w["lo"], abs=1e-12) and g["hi"] == pytest.approx(w["hi"], abs=1e-12)
    # Simultaneous intervals are wider than the unadjusted 95% Wilson interval.
    lo1, hi1 = proportion_ci(20, 100, method="wilson")
    assert out[1]["lo"] < lo1 and out[1]["hi"] > hi1
    _strict_json(out)


def test_multinomial_edge_cases():
    out = multinomial_ci([0, 0, 0])
    assert all(r["p"] is None and (r["lo"], r["hi"]) == (0.0, 1.0) for r in out)
    out = multinomial_ci([0, 5])
    assert out[0]["lo"] == 0.0 and out[1]["hi"] == 1.0


@pytest.mark.statistical
@pytest.mark.parametrize("method", ["goodman", "bonferroni-wilson"])
def test_multinomial_simultaneous_coverage(method):
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    reps, level = 1000, 0.95
    draws = np.random.default_rng(777).multinomial(100, probs, size=reps)
    hits = 0
    for row in draws:
        ci = multinomial_ci(row.tolist(), level, method)
        hits += all(c["lo"] <= p <= c["hi"] for c, p in zip(ci, probs, strict=True))
    se = math.sqrt(level * (1 - level) / reps)
    assert hits / reps >= level - 3 * se


# ------------------------------------------------------------------------------------------------
# §8.2 bands and first passage


def test_quantile_bands():
    v = np.array(
        [
            [1.0, np.nan, 3.0, np.nan],
            [2.0, 5.0, np.nan, np.nan],
            [3.0, np.nan, 1.0, np.nan],
        ]
    )
    out = quantile_bands(v, q=(0.0, 0.5, 1.0))
    _strict_json(out)
    assert out["q"] == [0.0, 0.5, 1.0]
    assert out["n"] == [3, 1, 2, 0]
    assert out["bands"][0] == [1.0, 5.0, 1.0, None]
    assert out["bands"][1] == [2.0, 5.0, 2.0, None]
    assert out["bands"][2] == [3.0, 5.0, 3.0, None]
    out = quantile_bands(np.arange(12.0).reshape(4, 3))
    assert out["bands"][1] == pytest.approx([4.5, 5.5, 6.5])


def test_first_passage_hand_made():
    nan = np.nan
    t = np.array(
        [
            [1.0, 2.0, 4.0, 8.0],
            [1.0, 2.0, 4.0, 8.0],
            [1.0, 2.0, 4.0, 8.0],
            [1.0, 2.0, nan, nan],  # checkpoints 3-4 never reached
            [1.0, 2.0, 4.0, 8.0],
            [nan, nan, nan, nan],
        ]
    )
    v = np.array(
        [
            [5.0, 0.5, 0.05, 0.01],  # passes at t = 4
            [5.0, 1.0, 0.5, 0.2],  # censored at the budget t = 8
            [5.0, 0.5, nan, nan],  # diverged: NaN never counts, censored at t = 8
            [5.0, 0.1, 0.0, 0.0],  # ε reached exactly at t = 2 (≤); later checkpoints not reached
            [0.01, 0.5, nan, 0.0],  # passes at the first checkpoint
            [0.0, 0.0, 0.0, 0.0],  # no finite time: not observed, time NaN
        ]
    )
    time, obs = first_passage(t, v, eps=0.1)
    np.testing.assert_array_equal(obs, [True, False, False, True, True, False])
    np.testing.assert_array_equal(time[:5], [4.0, 8.0, 8.0, 2.0, 1.0])
    assert np.isnan(time[5])
    # 1-D checkpoint times are shared by all replicas.
    time1, obs1 = first_passage(t[0], v[:3], eps=0.1)
    np.testing.assert_array_equal(time1, [4.0, 8.0, 8.0])
    np.testing.assert_array_equal(obs1, [True, False, False])


# ------------------------------------------------------------------------------------------------
# §8.2 Kaplan–Meier and log-rank


def test_km_without_censoring_matches_empirical_quantiles():
    rng = np.random.default_rng(3)
    x = np.round(rng.exponential(2.0, size=37), 1)  # rounding makes ties
    q = (0.1, 0.25, 0.5, 0.75, 0.9)
    km = kaplan_meier(x, np.ones(x.size, dtype=bool), q=q)
    _strict_json(km)
    assert km["n"] == 37 and km["events"] == 37
    expected = np.quantile(x, q, method="inverted_cdf")
    assert km["quantiles"] == pytest.approx(expected.tolist())
    assert km["median"] == pytest.approx(float(np.quantile(x, 0.5, method="inverted_cdf")))
    ts = np.array(km["times"])
    np.testing.assert_allclose(km["survival"], [np.mean(x > s) for s in ts], atol=1e-12)
    # Ŝ hitting 1 − q exactly (n = 4, two events) takes that time, as the inverted ECDF does.
    km4 = kaplan_meier([1.0, 2.0, 3.0, 4.0], [True] * 4, q=(0.25, 0.5, 0.75))
    assert km4["quantiles"] == [1.0, 2.0, 3.0]
    # With censoring Ŝ is a product: at the 12th of 24 events it is 1/2 mathematically but
    # 0.5000000000000001 in floating point, which must not push the median to the 13th event.
    t24 = np.arange(1.0, 25.0)
    km24 = kaplan_meier(t24, t24 < 24)
    assert km24["median"] == 12.0


def test_km_median_with_censoring_by_hand():
    # events at 1, 3, 4, 6, 7; censored at 2, 5, 8.
    time = [1, 2, 3, 4, 5, 6, 7, 8]
    obs = [True, False, True, True, False, True, True, False]
    km = kaplan_meier(time, obs, q=(0.25, 0.5, 0.75, 0.9))
    # Ŝ: 1 → 7/8; 3 → 7/8·5/6; 4 → ·4/5 = 0.5833; 6 → ·2/3 = 0.3889; 7 → ·1/2 = 0.1944.
    s = {1: 7 / 8, 3: 7 / 8 * 5 / 6, 4: 7 / 8 * 5 / 6 * 4 / 5}
    s[6] = s[4] * 2 / 3
    s[7] = s[6] / 2
    surv = dict(zip(km["times"], km["survival"], strict=True))
    for tt, val in s.items():
        assert surv[tt] == pytest.approx(val)
    assert km["n"] == 8 and km["events"] == 5
    assert km["median"] == 6.0
    assert km["quantiles"] == [3.0, 6.0, 7.0, None]  # Ŝ never drops to 0.1
    lo, hi = km["median_ci"]
    assert lo is not None and lo <= km["median"]
    assert hi is None or hi >= km["median"]
    assert all(a <= b + 1e-12 for a, b in zip(km["survival_lo"], km["survival"], strict=True))
    _strict_json(km)


def test_km_all_censored_and_empty():
    km = kaplan_meier([2.0, 5.0, 8.0], [False, False, False])
    assert km["events"] == 0 and km["median"] is None and km["quantiles"] == [None, None, None]
    assert km["survival"] == [1.0, 1.0, 1.0] and km["median_ci"] == [None, None]
    _strict_json(km)
    km = kaplan_meier([], [])
    assert km["n"] == 0 and km["times"] == [] and km["median"] is None


@pytest.mark.statistical
def test_km_median_ci_coverage():
    # Exponential(1) event times, independent Exponential(0.3) censoring: true median ln 2.
    rng = np.random.default_rng(99)
    reps, n, level = 300, 60, 0.95
    hits = 0
    for _ in range(reps):
        ev = rng.exponential(1.0, n)
        ce = rng.exponential(1 / 0.3, n)
        km = kaplan_meier(np.minimum(ev, ce), ev <= ce, level=level)
        lo, hi = km["median_ci"]
        hits += lo is not None and hi is not None and lo <= math.log(2) <= hi
    se = math.sqrt(level * (1 - level) / reps)
    assert hits / reps >= level - 3 * se


@pytest.mark.statistical
def test_logrank_detects_rate_difference_and_holds_level():
    rng = np.random.default_rng(2024)
    a = rng.exponential(1.0, 200)
    b = rng.exponential(1 / 3.0, 200)
    budget = 2.0
    res = logrank(np.minimum(a, budget), a <= budget, np.minimum(b, budget), b <= budget)
    _strict_json(res)
    assert res["pvalue"] < 1e-3
    assert res["statistic"] < 0  # sample a (rate 1) has fewer events than expected
    assert res["n_a"] == 200 and res["events_b"] == int(np.sum(b <= budget))
    # Same law: rejections at 5% in about 5% of replications.
    reps = 200
    rejections = 0
    for _ in range(reps):
        x, y = rng.exponential(1.0, 50), rng.exponential(1.0, 50)
        p = logrank(np.minimum(x, budget), x <= budget, np.minimum(y, budget), y <= budget)["pvalue"]
        rejections += p < 0.05
    assert rejections / reps <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / reps)


def test_logrank_no_events():
    res = logrank([1.0, 2.0], [False, False], [1.0, 3.0], [False, False])
    assert res["pvalue"] is None and res["statistic"] is None


# ------------------------------------------------------------------------------------------------
# §8.3 paired and unpaired comparisons


def test_mcnemar_exact_by_hand():
    # 8 pairs with only a converging, 2 with only b, 5 both, 3 neither.
    a = [True] * 8 + [False] * 2 + [True] * 5 + [False] * 3
    b = [False] * 8 + [True] * 2 + [True] * 5 + [False] * 3
    res = mcnemar_exact(np.array(a), np.array(b))
    _strict_json(res)
    assert res == {
        "n": 18,
        "both": 5,
        "neither": 3,
        "a_only": 8,
        "b_only": 2,
        "pvalue": pytest.approx(2 * (1 + 10 + 45) / 1024),
    }
    assert mcnemar_exact([1, 0, 1], [1, 0, 1])["pvalue"] == 1.0
    assert mcnemar_exact([True] * 6, [False] * 6)["pvalue"] == pytest.approx(2 / 64)


def test_wilcoxon_paired():
    same = wilcoxon_paired([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert same["pvalue"] == 1.0 and same["statistic"] is None and same["median_diff"] == 0.0
    _strict_json(same)
    rng = np.random.default_rng(5)
    x = rng.normal(size=30)
    y = x - 0.8 + 0.3 * rng.normal(size=30)
    xn, yn = x.copy(), y.copy()
    xn[3] = np.nan
    yn[7] = np.nan
    res = wilcoxon_paired(xn, yn)
    keep = np.ones(30, dtype=bool)
    keep[[3, 7]] = False
    ref = st.wilcoxon(x[keep], y[keep])
    assert res["n"] == 28 and res["n_dropped"] == 2
    assert res["pvalue"] == pytest.approx(ref.pvalue) and res["statistic"] == pytest.approx(ref.statistic)
    assert res["pvalue"] < 1e-4
    assert res["median_diff"] == pytest.approx(np.median(x[keep] - y[keep]))
    empty = wilcoxon_paired([np.nan], [1.0])
    assert empty["n"] == 0 and empty["pvalue"] is None


def test_holm():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.4, 0.9]) == pytest.approx([1.0, 1.0, 1.0])
    assert holm([]) == []
    out = holm([0.02, None, float("nan"), 0.01])
    assert out[1] is None and out[2] is None
    assert out[0] == pytest.approx(0.02) and out[3] == pytest.approx(0.02)
    # Monotone in the raw p-values, never below them, capped at 1.
    p = np.random.default_rng(1).uniform(size=25) ** 3
    adj = np.array(holm(p.tolist()))
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= 0) and np.all(adj >= p) and np.all(adj <= 1.0)


def test_mann_whitney_and_fisher():
    rng = np.random.default_rng(8)
    a = np.append(rng.normal(1.0, 1.0, 40), np.nan)
    b = rng.normal(0.0, 1.0, 35)
    res = mann_whitney(a, b)
    _strict_json(res)
    ref = st.mannwhitneyu(a[:-1], b)
    assert res["n_a"] == 40 and res["n_b"] == 35
    assert res["pvalue"] == pytest.approx(ref.pvalue) and res["effect"] == pytest.approx(ref.statistic / 1400)
    assert res["effect"] > 0.5
    f = fisher_exact(3, 3, 0, 3)
    _strict_json(f)
    assert f["pvalue"] == pytest.approx(0.1) and f["odds_ratio"] is None and f["diff"] == 1.0
    f = fisher_exact(10, 20, 4, 20)
    assert f["odds_ratio"] == pytest.approx((10 * 16) / (10 * 4))
    assert f["pvalue"] == pytest.approx(st.fisher_exact([[10, 10], [4, 16]]).pvalue)


# ------------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: proportion_ci(5, 4), "k"),
        (lambda: proportion_ci(-1, 4), "k"),
        (lambda: proportion_ci(1, -4), "n"),
        (lambda: proportion_ci(1.5, 4), "k"),
        (lambda: proportion_ci(1, 4, level=1.0), "level"),
        (lambda: proportion_ci(1, 4, level=0.0), "level"),
        (lambda: proportion_ci(1, 4, method="jeffreys"), "method"),
        (lambda: fraction(1, 4, method="exact"), "method"),
        (lambda: multinomial_ci([]), "counts"),
        (lambda: multinomial_ci([1, -2]), "counts[1]"),
        (lambda: multinomial_ci([1, 2], method="sison-glaz"), "method"),
        (lambda: quantile_bands(np.ones(3)), "values"),
        (lambda: quantile_bands(np.ones((2, 3)), q=(0.5, 1.5)), "q"),
        (lambda: first_passage(np.ones((2, 2)), np.ones((2, 3)), 0.1), "t"),
        (lambda: first_passage(np.ones((2, 3)), np.ones((2, 3)), float("nan")), "eps"),
        (lambda: kaplan_meier([1.0, 2.0], [True]), "observed"),
        (lambda: kaplan_meier([1.0, np.nan], [True, True]), "time"),
        (lambda: kaplan_meier([1.0, 2.0], [2, 1]), "observed"),
        (lambda: kaplan_meier([1.0], [True], q=(0.0,)), "q"),
        (lambda: logrank([1.0], [True], [1.0, 2.0], [True]), "observed_b"),
        (lambda: mcnemar_exact([True, False], [True]), "b"),
        (lambda: wilcoxon_paired([1.0], [1.0, 2.0]), "b"),
        (lambda: wilcoxon_paired([1.0], [2.0], alternative="bigger"), "alternative"),
        (lambda: holm([0.1, 1.2]), "pvalues"),
        (lambda: fisher_exact(3, 2, 0, 1), "k_a"),
        (lambda: fisher_exact(0, 2, 0, -1), "n_b"),
    ],
)
def test_bad_input_raises_config_error_naming_field(call, field):
    with pytest.raises(ConfigError) as exc:
        call()
    assert exc.value.field == field
