"""Statistical tests of drawn schedules against the laws the models declare.

Every test uses a fixed seed, so each is deterministic; the tolerances are what a fresh seed would
need: goodness-of-fit tests at level 1e-4 (p-value > 1e-4), means within 4 standard errors (two
sided, P(|Z| > 4) = 6.3e-5), tail indices within 4 standard errors plus a stated bias allowance.
Each tolerance is justified in a comment next to its assertion.

Covered: Geometric delays of identical exponential workers (reference/model.md §3), the abstract
delay laws (pmf and mean), Hill tail indices, block and writer frequencies, the assumption checks
of ``Schedule.stats()``, ``stats.autocorrelation``, and the duration laws ``TimeLaw``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special
from scipy import stats as sps
from scipy.signal import lfilter

from asyncconv.schedule import DelayLaw, Schedule, ScheduleModel, TimeLaw, draw_schedule
from asyncconv.schedule.stats import (
    autocorrelation,
    block_frequencies,
    hill_tail_index,
    writer_frequencies,
)

pytestmark = pytest.mark.statistical

#: level of every goodness-of-fit test (chi-square, KS, exact gamma test)
LEVEL = 1e-4
#: half-width of every mean / estimate check in standard errors: P(|N(0,1)| > 4) = 6.3e-5
Z = 4.0


# --- helpers -----------------------------------------------------------------------------------


def abstract_model(delay, *, n_workers: int = 2, n_blocks: int = 2, ownership: str = "shared", **extra):
    return ScheduleModel.from_dict(
        {
            "n_workers": n_workers,
            "blocks": {"n_blocks": n_blocks, "ownership": ownership},
            "abstract": {"delay": delay, **extra},
        }
    )


def chisquare_counts(observed: np.ndarray, expected: np.ndarray, min_expected: float = 5.0, ddof: int = 0):
    """Pearson chi-square of counts, merging adjacent cells until each expects >= ``min_expected``.

    Returns ``(pvalue, statistic, degrees of freedom)``; df = cells - 1 - ddof.
    """
    observed = np.asarray(observed, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert np.isclose(observed.sum(), expected.sum(), rtol=1e-9), (observed.sum(), expected.sum())
    obs_cells, exp_cells = [], []
    o_acc = e_acc = 0.0
    for o, e in zip(observed, expected, strict=True):
        o_acc += o
        e_acc += e
        if e_acc >= min_expected:
            obs_cells.append(o_acc)
            exp_cells.append(e_acc)
            o_acc = e_acc = 0.0
    if e_acc > 0 or o_acc > 0:  # leftover: merge into the last cell
        obs_cells[-1] += o_acc
        exp_cells[-1] += e_acc
    o, e = np.asarray(obs_cells), np.asarray(exp_cells)
    stat = float(((o - e) ** 2 / e).sum())
    df = len(o) - 1 - ddof
    return float(sps.chi2.sf(stat, df)), stat, df


def chisquare_pmf(x: np.ndarray, pmf: np.ndarray):
    """Chi-square of integer samples ``x >= 0`` against ``pmf[0..upto]``; mass beyond ``upto`` is one
    pooled tail cell. Also checks that no sample falls where the pmf is zero."""
    x = np.asarray(x)
    upto = len(pmf) - 1
    inside = x[x <= upto]
    assert np.all(pmf[inside] > 0), f"samples outside the support: {np.unique(inside[pmf[inside] == 0])}"
    observed = np.bincount(np.minimum(x, upto + 1), minlength=upto + 2)
    tail = max(1.0 - float(pmf.sum()), 0.0)
    expected = x.size * np.append(pmf, tail)
    expected *= x.size / expected.sum()  # absorb rounding of pmf.sum() ~ 1 - 1e-16
    return chisquare_counts(observed, expected)


def job_times(model: ScheduleModel, n: int, seed: int) -> np.ndarray:
    """Durations of the jobs of a one-worker timing model with no read or write time.

    With P = 1 the k-th write completes at the sum of the first k + 1 compute times, so the
    differences of t_write are the i.i.d. compute times (up to float rounding of the cumulative
    sum, ~1e-11 here, irrelevant to every test below).
    """
    assert model.n_workers == 1
    sched = draw_schedule(model, n, seed)
    return np.diff(np.concatenate([[0.0], sched.t_write]))


def pearson(counts: np.ndarray, expected: np.ndarray) -> float:
    return float(((counts - expected) ** 2 / expected).sum())


# --- 1. identical exponential workers: Geometric delays with mean P - 1 ------------------------------

# With exponential compute times and no read/write time, memorylessness makes the writer of every
# write i.i.d. uniform over the P workers (competing exponential clocks). The delay of write k is the
# number of writes since its writer's previous write: D_k = min(G_k, k) with G_k ~ Geometric(1/P),
# determined by the writers in (k - G_k - 1, k]. Delays of consecutive writes are dependent (they
# share writers; lag-1 autocorrelation is -0.25 for P = 2), so we THIN: keep writes k_r = r m,
# r = 1..R. On the event G_{k_r} < m - 1 every kept delay is a function of its own block of m writers,
# so the thinned sample is within total variation 2 R (1 - 1/P)^(m-1) of an i.i.d. Geometric sample.
# With (1 - 1/P)^(m-1) <= 1e-9 and R = 20 000 that is <= 4e-5: the chi-square test of level 1e-4 has
# true level <= 1.4e-4, and the first kept write (k = m >= 31) is past the start-up transient.
THIN_R = 20_000


def _thinning(P: int) -> int:
    return 1 + math.ceil(math.log(1e-9) / math.log(1.0 - 1.0 / P))


@pytest.mark.parametrize("P", [2, 4, 8])
def test_identical_exponential_workers_have_geometric_delays(P):
    model = ScheduleModel.timing_preset(n_workers=P, compute="exponential", mean=1.0)
    m = _thinning(P)
    sched = draw_schedule(model, m * (THIN_R + 1), seed=100 + P)
    d = sched.delay()[m::m][:THIN_R]
    assert d.size == THIN_R

    pmf = model.delay_pmf(40 * P)
    assert np.allclose(pmf, (1 - 1 / P) ** np.arange(40 * P + 1) / P)
    p, stat, df = chisquare_pmf(d, pmf)
    # Thinned series is (TV <= 4e-5) an i.i.d. Geometric(1/P) sample: exact chi-square at level 1e-4.
    assert p > LEVEL, f"P={P}: chi-square {stat:.1f} on {df} df, p = {p:.2g}"

    # Mean of the thinned sample: Geometric(1/P) has mean P - 1 and variance P (P - 1) (exact SE).
    se = math.sqrt(P * (P - 1) / d.size)
    assert abs(d.mean() - (P - 1)) < Z * se, (d.mean(), P - 1, se)

    # Mean of the whole series (first 100 writes dropped). Consecutive delays are negatively
    # correlated (the sum of delays telescopes to (P - 1) K up to boundary terms), so the i.i.d.
    # standard error sqrt(P (P - 1) / n) over-states the true one: a conservative 4-SE check.
    full = sched.delay()[100:]
    se_full = math.sqrt(P * (P - 1) / full.size)
    assert abs(full.mean() - (P - 1)) < Z * se_full, (full.mean(), P - 1, se_full)


# --- 2. abstract delay laws -------------------------------------------------------------------------

# In the abstract model the delay of write k is an i.i.d. draw d^k (own counter-based stream), read
# at version max(k - d^k, 0): sched.delay()[k] = min(d^k, k). From write k0 on, with P(d > k0)
# negligible (0 for bounded laws), the delays are exactly an i.i.d. sample of the declared law.
ABSTRACT_LAWS = [
    pytest.param({"law": "geometric", "mean": 3.0}, 2_000, id="geometric"),
    pytest.param({"law": "geometric", "mean": 3.0, "max": 12}, 12, id="geometric-truncated"),
    pytest.param({"law": "poisson", "mean": 7.0}, 2_000, id="poisson"),
    pytest.param({"law": "poisson", "mean": 300.0}, 2_000, id="poisson-large-mean"),
    pytest.param({"law": "uniform", "low": 2, "high": 9}, 9, id="uniform"),
    pytest.param({"law": "pareto", "tail": 1.5, "scale": 5.0, "max": 300}, 300, id="pareto-truncated"),
    # untruncated, tail 3.5: finite variance, and P(d > 20000) = (4001)^-3.5 = 2.5e-13 per write
    pytest.param({"law": "pareto", "tail": 3.5, "scale": 5.0}, 20_000, id="pareto"),
]
N_ABSTRACT = 200_000


@pytest.mark.parametrize(("delay", "k0"), ABSTRACT_LAWS)
def test_abstract_delay_law_matches_pmf_and_mean(delay, k0):
    model = abstract_model(delay)
    law = DelayLaw.from_dict(delay, "delay")
    sched = draw_schedule(model, k0 + N_ABSTRACT, seed=7)
    d = sched.delay()[k0:]

    upto = law.bound() if law.bound() is not None else 2_000
    pmf = law.pmf(upto)
    assert np.allclose(model.delay_pmf(upto), pmf)
    p, stat, df = chisquare_pmf(d, pmf)
    # i.i.d. sample of the declared law (see above): exact chi-square test at level 1e-4.
    assert p > LEVEL, f"chi-square {stat:.1f} on {df} df, p = {p:.2g}"

    # The sample mean of n i.i.d. draws with finite variance: within 4 SE of E d. The SE uses the
    # law's own variance (from its pmf; the pmf mass beyond `upto` is < 1e-9 here).
    big = law.pmf(law.bound() if law.bound() is not None else 200_000)
    i = np.arange(big.size)
    var = float(np.dot(i**2, big) - np.dot(i, big) ** 2)
    se = math.sqrt(var / d.size)
    assert abs(d.mean() - law.mean_value()) < Z * se, (d.mean(), law.mean_value(), se)


@pytest.mark.parametrize(
    ("delay", "value"),
    [
        pytest.param({"law": "fixed", "value": 4}, 4, id="fixed"),
        pytest.param(4, 4, id="bare-int"),
        pytest.param({"law": "geometric", "mean": 0.0}, 0, id="geometric-mean-0"),
        pytest.param({"law": "uniform", "low": 5, "high": 5}, 5, id="uniform-point"),
    ],
)
def test_abstract_degenerate_delay_laws_are_point_masses(delay, value):
    # A point mass has no chi-square: every delay past the start must equal it, exactly.
    model = abstract_model(delay)
    d = draw_schedule(model, 20_000, seed=3).delay()
    assert np.array_equal(d[value:], np.full(d.size - value, value))
    assert np.array_equal(d[:value], np.arange(value))  # read version max(k - d, 0) = 0
    law = DelayLaw.from_dict(delay, "delay")
    assert np.array_equal(law.pmf(10), (np.arange(11) == value).astype(float))
    assert law.mean_value() == value


@pytest.mark.parametrize(
    ("tail", "scale"),
    [
        pytest.param(3.5, 5.0, id="tail-3.5"),
        pytest.param(2.5, 5.0, id="tail-2.5"),
        pytest.param(1.2, 5.0, id="tail-1.2"),
        pytest.param(1.05, 1.0, id="tail-1.05"),
    ],
)
def test_pareto_delay_mean_value_matches_closed_form(tail, scale):
    # Deterministic. For the discretised Lomax d = floor(X), E d = sum_{i >= 1} P(X >= i)
    # = sum_{i >= 1} (1 + i / s)^-a = s^a zeta(a, s + 1) (Hurwitz zeta), finite for every a > 1.
    law = DelayLaw("pareto", tail=tail, scale=scale)
    exact = scale**tail * special.zeta(tail, scale + 1.0)
    assert law.mean_value() == pytest.approx(exact, rel=1e-6)


# --- 3. tail indices --------------------------------------------------------------------------------


def _hill_bias_allowance(a: float, scale: float, x_k: float) -> float:
    """Upper bound on |E a_hat - a| of the Hill estimator on discretised Lomax delays.

    d = floor(Y - s) with Y ~ Pareto(a, scale s). Over the top order statistics, the shift by s
    and the floor (a further shift in [0, 1)) raise the mean log-excess by about
    (s + 1) / Y_(k) * 1 / (a + 1), i.e. lower a_hat by the relative amount a (s + 1) / ((a + 1) Y_(k)).
    Using the observed threshold X_(k) <= Y_(k) makes the allowance an over-estimate. (20-seed runs
    give bias -0.16 for a = 2.5 at n = 2e5; this allowance there is ~0.17.)
    """
    return a * a / (a + 1.0) * (scale + 1.0) / x_k


def _threshold(x: np.ndarray, k: int) -> float:
    """X_(k), the (k + 1)-th largest positive value (the Hill threshold)."""
    x = np.sort(x[x > 0])
    return float(x[-(k + 1)])


@pytest.mark.parametrize("a", [1.5, 2.5])
def test_hill_recovers_abstract_pareto_tail(a):
    scale = 5.0
    n = 1_000_000
    sched = draw_schedule(abstract_model({"law": "pareto", "tail": a, "scale": scale}), n, seed=11)
    # keep the second half: a delay is cut to k only if d > k >= 5e5, P = (1e5 + 1)^-a <= 3e-8
    d = sched.delay()[n // 2 :]
    h = hill_tail_index(d)
    assert h["k"] == math.ceil(math.sqrt(np.count_nonzero(d)))
    allowance = _hill_bias_allowance(a, scale, _threshold(d, h["k"]))
    # Hill SE a / sqrt(k) (asymptotic normality), plus the discretisation/shift bias bound.
    assert abs(h["tail_index"] - a) < Z * h["stderr"] + allowance, (h, a, allowance)


@pytest.mark.parametrize("a", [1.5, 2.5])
def test_hill_on_exact_numpy_pareto_samples(a):
    rng = np.random.default_rng(20_000 + int(10 * a))
    # numpy's Generator.pareto draws the Lomax (Pareto II) law X = U^(-1/a) - 1; 1 + X is the
    # classical Pareto with x_m = 1, for which the Hill estimator is exact: with the k + 1 top values,
    # a k / a_hat = sum of k i.i.d. Exp(1) log-spacings ~ Gamma(k, 1) (Rényi representation).
    x = 1.0 + rng.pareto(a, 200_000)
    h = hill_tail_index(x)
    k = h["k"]
    assert h["stderr"] == pytest.approx(h["tail_index"] / math.sqrt(k))
    # asymptotic 4-SE check (the bias a / (k - 1) ~ 0.004 a is 0.1 SE)
    assert abs(h["tail_index"] - a) < Z * h["stderr"], (h, a)
    # exact two-sided test of the Gamma(k, 1) law of a k / a_hat at level 1e-4
    g = a * k / h["tail_index"]
    p = 2 * min(sps.gamma(k).cdf(g), sps.gamma(k).sf(g))
    assert p > LEVEL, (g, k, p)


def test_hill_of_pareto_compute_times_tracks_alpha():
    alpha, P, n = 1.8, 4, 200_000
    par = draw_schedule(
        ScheduleModel.timing_preset(n_workers=P, compute="pareto", mean=1.0, shape=alpha), n, seed=5
    )
    exp = draw_schedule(ScheduleModel.timing_preset(n_workers=P, compute="exponential", mean=1.0), n, seed=5)
    h_par = hill_tail_index(par.delay()[100:])
    h_exp = hill_tail_index(exp.delay()[100:])
    # A write whose job took time T has delay ~ (P - 1) T / mean (the others' writes during it) plus
    # counting noise, so P(delay > x) ~ c x^-alpha: the delay tail inherits the index alpha of the
    # compute time. The Hill estimate at k ~ sqrt(n) is biased by the counting noise and the Pareto
    # floor x_m (no closed form), so we only ask for the right order: within [alpha / 2, 2 alpha]
    # (observed 1.76-2.02 over seeds 0..2, 1.99 for seed 5, vs SE ~0.09).
    assert alpha / 2 <= h_par["tail_index"] <= 2 * alpha, h_par
    # Exponential compute times give Geometric delays: an exponential tail, whose Hill estimate at
    # k ~ sqrt(n) is ~ x_k log(P / (P - 1)) (6-8 here) and grows with n. The two must be separated by
    # more than their 4-SE bands.
    assert h_par["tail_index"] + Z * h_par["stderr"] < h_exp["tail_index"] - Z * h_exp["stderr"], (
        h_par,
        h_exp,
    )


def test_hill_without_tail_returns_none():
    # Bounded, constant top values: no tail to estimate (deterministic, not statistical).
    assert hill_tail_index(np.full(1000, 3.0))["tail_index"] is None
    assert hill_tail_index(np.arange(10.0))["tail_index"] is None  # fewer than 20 positive values


# --- 4. block and writer frequencies ------------------------------------------------------------------

# In the timing model a worker's block choice for job j uses its own stream (counter j), independent
# of the compute-time streams that decide who writes when. Given the writer sequence, the blocks of
# worker c's n_c writes are therefore i.i.d. draws from row c of selection_probabilities: the block
# counts are a sum of independent multinomials, with expected counts n_writer @ probs. A Pearson
# chi-square on them has (number of blocks) - (number of distinct owned sets) degrees of freedom:
# B - P for disjoint owned sets (partitioned), B - 1 when every worker uses the same row (shared).
TIMING_SELECTION = [
    pytest.param(
        3, 7, "partitioned", "weighted", [1, 2, 3, 4, 5, 6, 7], "exponential", None, id="passm-weighted"
    ),
    pytest.param(3, 5, "shared", "weighted", [0.5, 1, 2, 4, 8], "lognormal", 1.0, id="shared-weighted"),
    pytest.param(4, 6, "shared", "uniform", None, "gamma", 0.5, id="shared-uniform"),
    pytest.param(2, 5, "partitioned", "uniform", None, "exponential", None, id="passm-uniform"),
]


@pytest.mark.parametrize(
    ("P", "B", "ownership", "selection", "weights", "compute", "shape"), TIMING_SELECTION
)
def test_timing_block_counts_match_selection_probabilities(
    P, B, ownership, selection, weights, compute, shape
):
    law = {"law": compute, "mean": 1.0}
    if shape is not None:
        law["shape"] = shape
    blocks = {"n_blocks": B, "ownership": ownership, "selection": selection}
    if weights is not None:
        blocks["weights"] = weights
    model = ScheduleModel.from_dict({"n_workers": P, "blocks": blocks, "timing": {"compute": law}})
    n = 200_000
    sched = draw_schedule(model, n, seed=31)
    probs = model.blocks.selection_probabilities(P)
    n_writer = np.bincount(sched.writer, minlength=P)
    expected = n_writer @ probs  # conditions on the writer sequence
    counts = sched.block_counts()
    assert counts.sum() == n
    stat = pearson(counts, expected)
    df = B - P if ownership == "partitioned" else B - 1
    p = float(sps.chi2.sf(stat, df))
    # Sum of independent multinomials given the writers (see above): chi-square test at level 1e-4.
    assert p > LEVEL, f"chi-square {stat:.1f} on {df} df, p = {p:.2g}; counts {counts}, expected {expected}"
    assert np.allclose(block_frequencies(sched), counts / n)


def test_timing_whole_owned_set_writes_cover_every_owned_block():
    # write = "owned": every write covers its writer's owned set, so block counts are exactly the
    # writer counts pushed through the ownership matrix (deterministic given the writers).
    model = ScheduleModel.timing_preset(n_workers=3, n_blocks=7, write="owned")
    sched = draw_schedule(model, 50_000, seed=2)
    n_writer = np.bincount(sched.writer, minlength=3)
    assert np.array_equal(sched.block_counts(), n_writer @ model.owners().astype(np.int64))
    assert np.array_equal(model.blocks.selection_probabilities(3), model.owners().astype(float))


def test_abstract_block_and_writer_probabilities():
    block_probs = [0.1, 0.2, 0.3, 0.4]
    writer_probs = [0.2, 0.3, 0.5]
    model = abstract_model(
        {"law": "geometric", "mean": 2.0},
        n_workers=3,
        n_blocks=4,
        block_probs=block_probs,
        writer_probs=writer_probs,
    )
    n = 200_000
    sched = draw_schedule(model, n, seed=41)
    # Blocks and writers are i.i.d. draws (own streams): multinomial counts, exact chi-square tests.
    p_block, stat, df = chisquare_counts(sched.block_counts(), n * np.asarray(block_probs))
    assert p_block > LEVEL, (stat, df, p_block)
    p_writer, stat, df = chisquare_counts(
        np.bincount(sched.writer, minlength=3), n * np.asarray(writer_probs)
    )
    assert p_writer > LEVEL, (stat, df, p_writer)
    assert np.allclose(writer_frequencies(sched), np.bincount(sched.writer, minlength=3) / n)


def test_abstract_partitioned_writer_is_the_owner():
    block_probs = [0.4, 0.1, 0.3, 0.2]
    model = abstract_model(
        {"law": "geometric", "mean": 2.0},
        n_workers=2,
        n_blocks=4,
        ownership="partitioned",
        block_probs=block_probs,
    )
    n = 100_000
    sched = draw_schedule(model, n, seed=43)
    counts = sched.block_counts()
    # exact: the writer of every write is its block's owner
    assert np.array_equal(np.bincount(sched.writer, minlength=2), model.owners().astype(np.int64) @ counts)
    p, stat, df = chisquare_counts(counts, n * np.asarray(block_probs))
    assert p > LEVEL, (stat, df, p)  # i.i.d. block draws: multinomial, exact chi-square at 1e-4


@pytest.mark.parametrize(
    ("compute", "shape", "cv2"),
    [
        pytest.param("exponential", None, 1.0, id="exponential"),
        pytest.param("gamma", 3.0, 1 / 3, id="gamma-3"),
        pytest.param("gamma", 0.5, 2.0, id="gamma-0.5"),
    ],
)
def test_identical_workers_write_equally_often(compute, shape, cv2):
    P, n = 4, 200_000
    model = ScheduleModel.timing_preset(n_workers=P, compute=compute, mean=1.0, shape=shape)
    sched = draw_schedule(model, n, seed=53)
    counts = np.bincount(sched.writer, minlength=P)
    stat = pearson(counts, np.full(P, n / P))
    # Exponential: writers are i.i.d. uniform (memorylessness), counts multinomial, Pearson ~ chi2(P-1).
    # Otherwise each worker is an independent renewal process with squared coefficient of variation
    # cv2 = Var T / (E T)^2 = 1 / shape (gamma); by the renewal CLT its count is ~ N(t/mu, cv2 t/mu), so
    # Pearson / cv2 ~ chi2(P - 1) asymptotically (checked over 200 seeds: mean 3.01, var 6.0-6.1).
    p = float(sps.chi2.sf(stat / cv2, P - 1))
    assert p > LEVEL, (counts, stat, p)


# --- 5. assumption checks -----------------------------------------------------------------------------


def assumptions(sched: Schedule, **options) -> dict[str, bool]:
    return sched.stats(n_boot=0, **options)["assumptions"]


def test_assumptions_exponential_passm():
    sched = draw_schedule(ScheduleModel.timing_preset(n_workers=4, compute="exponential"), 200_000, seed=1)
    a = assumptions(sched)
    assert a["p_min_positive"] and a["step_delay_condition"] and a["every_block_updated"], a
    assert not a["bounded_delay"]  # Geometric delays: the model declares no bound


def test_assumptions_deterministic_round_robin():
    # Identical deterministic workers write in a fixed cycle: after block b comes block b + 1 for sure,
    # so P(block j | previous block) = 0 for the others: p_min = 0 (a history-dependent violation).
    sched = draw_schedule(ScheduleModel.timing_preset(n_workers=4, compute="deterministic"), 100_000, seed=1)
    assert np.array_equal(sched.writer[:8], [0, 1, 2, 3, 0, 1, 2, 3])
    a = assumptions(sched)
    assert not a["p_min_positive"], a
    assert a["bounded_delay"]


def test_assumptions_periodic():
    model = ScheduleModel.from_dict({"n_workers": 4, "blocks": {"n_blocks": 4}, "periodic": {"delay": 3}})
    a = assumptions(draw_schedule(model, 100_000, seed=1))
    assert a["bounded_delay"] and a["step_delay_condition"], a
    assert not a["p_min_positive"]  # deterministic cycle


def test_assumptions_step_delay_condition_heavy_tail():
    # Pareto delays with tail a: gamma_k d_k -> 0 iff a p > 1. With p = 0.75 the boundary is a = 4/3.
    # Tail 1.2: a p = 0.9. The Hill estimate has SE 1.2 / sqrt(k), k = sqrt(n) = 2000 at n = 4e6, so
    # SE = 0.027 and the boundary 4/3 is 5 SE away; the discretisation bias only lowers a_hat further.
    sched = draw_schedule(abstract_model({"law": "pareto", "tail": 1.2, "scale": 5.0}), 4_000_000, seed=1)
    st = sched.stats(step_exponent=0.75)
    assert not st["assumptions"]["step_delay_condition"], st["tail"]
    # Tail 3: a p = 2.25; a_hat ~ 2.7 +- 0.13 (bias-lowered) is far above 4/3.
    sched = draw_schedule(abstract_model({"law": "pareto", "tail": 3.0, "scale": 5.0}), 200_000, seed=1)
    st = sched.stats(step_exponent=0.75)
    assert st["assumptions"]["step_delay_condition"], st["tail"]


def test_assumptions_starved_block():
    # P(block 0) ~ (k + 1)^-1/2 -> 0: block 0 is still updated infinitely often (sum diverges), but
    # its frequency decays; the decay test (binomial, level 1e-6) sees it over 2e5 writes.
    model = abstract_model({"law": "geometric", "mean": 3.0}, starve={"block": 0, "exponent": 0.5})
    st = draw_schedule(model, 200_000, seed=1).stats()
    assert not st["assumptions"]["p_min_positive"], st["assumption_details"]["p_min_positive"]
    assert st["assumptions"]["every_block_updated"]


def test_assumptions_markov_alternation():
    # Deterministic alternation 0, 1, 0, 1: each block never follows itself, p_min = 0 given history.
    model = abstract_model({"law": "geometric", "mean": 3.0}, block_transition=[[0, 1], [1, 0]])
    sched = draw_schedule(model, 100_000, seed=1)
    assert np.array_equal(sched.block[:6], [0, 1, 0, 1, 0, 1]) or np.array_equal(
        sched.block[:6], [1, 0, 1, 0, 1, 0]
    )
    a = assumptions(sched)
    assert not a["p_min_positive"], a


RANDOM_MODELS = {
    "timing-passm-exponential": lambda: ScheduleModel.timing_preset(n_workers=4, compute="exponential"),
    "timing-shared-lognormal": lambda: ScheduleModel.timing_preset(
        n_workers=3, compute="lognormal", shape=1.0, n_blocks=5, ownership="shared"
    ),
    "abstract-uniform-blocks": lambda: abstract_model(
        {"law": "poisson", "mean": 4.0}, n_workers=3, n_blocks=6
    ),
    "abstract-markov-mixing": lambda: abstract_model(
        {"law": "geometric", "mean": 3.0}, block_transition=[[0.3, 0.7], [0.6, 0.4]]
    ),
}


@pytest.mark.parametrize("name", list(RANDOM_MODELS))
def test_p_min_check_has_no_false_alarms(name):
    # For a model with p_min > 0 the check can fail only by chance: a block absent from a window where
    # it is expected >= 30 times (probability <= e^-30 per window and block) or a decay p-value < 1e-6
    # (Bonferroni over blocks). Over 5 seeds the false-alarm probability is < 1e-5.
    model = RANDOM_MODELS[name]()
    for seed in range(5):
        a = assumptions(draw_schedule(model, 100_000, seed=seed))
        assert a["p_min_positive"] and a["every_block_updated"], (name, seed, a)


# --- 6. autocorrelation -------------------------------------------------------------------------------


def test_autocorrelation_of_iid_sequence_is_near_zero():
    n = 100_000
    x = np.random.default_rng(61).standard_normal(n)
    r = np.asarray(autocorrelation(x, max_lag=10))
    # i.i.d. data: r_h is approximately N(-1/n, 1/n) (Bartlett), so |r_h| < 4 / sqrt(n) at each lag.
    assert r.shape == (10,)
    assert np.all(np.abs(r) < Z / math.sqrt(n)), r


def test_autocorrelation_of_abstract_delays_is_near_zero():
    # Abstract-model delays are i.i.d. draws: same bound as for any i.i.d. sequence.
    sched = draw_schedule(abstract_model({"law": "geometric", "mean": 3.0}), 100_200, seed=62)
    d = sched.delay()[200:]
    r = np.asarray(autocorrelation(d, max_lag=5))
    assert np.all(np.abs(r) < Z / math.sqrt(d.size)), r


def test_autocorrelation_of_ar1():
    phi, n, max_lag = 0.7, 200_000, 10
    rng = np.random.default_rng(63)
    e = rng.standard_normal(n)
    e[0] /= math.sqrt(1 - phi**2)  # stationary start: x_0 ~ N(0, 1 / (1 - phi^2))
    x = lfilter([1.0], [1.0, -phi], e)  # x_t = phi x_{t-1} + e_t
    r = np.asarray(autocorrelation(x, max_lag=max_lag))
    h = np.arange(1, max_lag + 1)
    # Bartlett's formula for an AR(1): n Var r_h = (1 + phi^2)(1 - phi^(2h)) / (1 - phi^2) - 2 h phi^(2h).
    # The estimator's bias is O(1/n), far below the SE (~0.003).
    var = ((1 + phi**2) * (1 - phi ** (2 * h)) / (1 - phi**2) - 2 * h * phi ** (2 * h)) / n
    assert np.all(np.abs(r - phi**h) < Z * np.sqrt(var)), (r, phi**h)


def test_autocorrelation_of_constant_series_is_zero():
    assert autocorrelation(np.full(50, 2.0), max_lag=3) == [0.0, 0.0, 0.0]


# --- 7. duration laws ---------------------------------------------------------------------------------

MEAN = 2.0


def _scipy_law(law: str, shape: float | None):
    """The frozen scipy distribution of the module table in laws.py, with mean MEAN."""
    m, s = MEAN, shape
    if law == "exponential":
        return sps.expon(scale=m)
    if law == "gamma":
        return sps.gamma(s, scale=m / s)
    if law == "lognormal":
        return sps.lognorm(s, scale=math.exp(math.log(m) - s * s / 2))
    if law == "uniform":
        return sps.uniform(loc=m * (1 - s), scale=2 * m * s)
    if law == "pareto":
        return sps.pareto(s, scale=m * (s - 1) / s)
    raise AssertionError(law)


TIME_LAW_CASES = [
    pytest.param("exponential", None, 1, id="exponential"),
    pytest.param("gamma", 0.5, 2, id="gamma-0.5"),
    pytest.param("gamma", 3.0, 3, id="gamma-3"),
    pytest.param("lognormal", 0.8, 4, id="lognormal"),
    pytest.param("uniform", 0.5, 5, id="uniform"),
    pytest.param("pareto", 3.0, 6, id="pareto-3"),
]


@pytest.mark.parametrize(("law", "shape", "seed"), TIME_LAW_CASES)
def test_time_law_mean_and_distribution(law, shape, seed):
    model = ScheduleModel.timing_preset(n_workers=1, compute=law, mean=MEAN, shape=shape)
    tl = model.source.compute[0]
    assert tl == TimeLaw(law, MEAN, shape)
    x = job_times(model, 200_000, seed=70 + seed)
    dist = _scipy_law(law, shape)
    assert dist.mean() == pytest.approx(MEAN)

    # Mean of n i.i.d. durations within 4 SE, SE from the law's exact variance (finite for all six;
    # Pareto with shape 3 has variance mean^2 / 3).
    se = dist.std() / math.sqrt(x.size)
    assert abs(x.mean() - MEAN) < Z * se, (x.mean(), MEAN, se)

    # One-sample KS against the law of the table, level 1e-4 (exact for i.i.d. continuous data).
    ks = sps.kstest(x, dist.cdf)
    assert ks.pvalue > LEVEL, ks

    # TimeLaw.sample_numpy maps uniforms to the same law: on a grid symmetric under q -> 1 - q its
    # values are the quantiles of the law (deterministic; whether it is the inverse CDF or the inverse
    # survival function is checked in test_time_law_sample_numpy_is_inverse_cdf).
    q = np.linspace(0.001, 0.999, 999)
    assert np.allclose(np.sort(tl.sample_numpy(q)), dist.ppf(q), rtol=1e-9, atol=1e-12)
    assert tl.support()[0] == pytest.approx(dist.support()[0])
    assert tl.support()[1] == pytest.approx(dist.support()[1])


@pytest.mark.parametrize(
    ("law", "shape"),
    [
        pytest.param("exponential", None, id="exponential"),
        pytest.param("gamma", 0.5, id="gamma-0.5"),
        pytest.param("lognormal", 0.8, id="lognormal"),
        pytest.param("uniform", 0.5, id="uniform"),
        pytest.param("pareto", 3.0, id="pareto-3"),
    ],
)
def test_time_law_sample_numpy_is_inverse_cdf(law, shape):
    # Deterministic contract of the docstring: sample_numpy(u) = F^-1(u), increasing in u.
    tl = TimeLaw(law, MEAN, shape)
    q = np.linspace(0.001, 0.999, 999)
    assert np.allclose(tl.sample_numpy(q), _scipy_law(law, shape).ppf(q), rtol=1e-9, atol=1e-12)


def test_time_law_speed_scales_durations():
    # speed s divides every compute time: the mean is MEAN / s (4-SE check, exponential SD = mean).
    model = ScheduleModel.timing_preset(n_workers=1, compute="exponential", mean=MEAN, speeds=[2.5])
    x = job_times(model, 100_000, seed=81)
    se = (MEAN / 2.5) / math.sqrt(x.size)
    assert abs(x.mean() - MEAN / 2.5) < Z * se, (x.mean(), se)


def test_time_law_empirical():
    values = [0.5, 1.0, 4.0, 4.0]
    model = ScheduleModel.from_dict(
        {
            "n_workers": 1,
            "blocks": {"n_blocks": 1},
            "timing": {"compute": {"law": "empirical", "values": values}},
        }
    )
    x = job_times(model, 100_000, seed=82)
    # durations are drawn uniformly from the recorded list: multinomial on {0.5, 1, 4} with
    # probabilities (1/4, 1/4, 1/2); exact chi-square at level 1e-4. t_write differences carry
    # rounding ~1e-11, hence the rounding to 6 decimals.
    support, counts = np.unique(np.round(x, 6), return_counts=True)
    assert np.array_equal(support, [0.5, 1.0, 4.0])
    p, stat, df = chisquare_counts(counts, x.size * np.array([0.25, 0.25, 0.5]))
    assert p > LEVEL, (counts, stat, df, p)
    assert model.source.compute[0].mean == pytest.approx(np.mean(values))
