"""Goodness-of-fit tests of the delay model (``asyncconv.schedule.gof``; measures.md §8.4, §9.2).

Every test uses fixed seeds, so each is deterministic. Acceptance: a valid p-value > 1e-3 (a fresh
seed would fail with probability 1e-3); rejection: p < 1e-6. Each test can fail: the controls
check that wrong laws, dependent blocks and drifting delays are rejected.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from asyncconv.config import ConfigError
from asyncconv.schedule import DelayLaw, ScheduleModel, draw_schedule

try:
    from test_cli import run
except ImportError:  # pragma: no cover
    from tests.test_cli import run

from asyncconv.schedule.gof import (
    block_delay_independence,
    delay_gof,
    delay_homogeneity,
    expected_delay_counts,
)

pytestmark = pytest.mark.statistical

ACCEPT = 1e-3
REJECT = 1e-6


def abstract_model(delay, *, n_workers: int = 3, n_blocks: int = 6, ownership: str = "shared", **extra):
    return ScheduleModel.from_dict(
        {
            "n_workers": n_workers,
            "blocks": {"n_blocks": n_blocks, "ownership": ownership},
            "abstract": {"delay": delay, **extra},
        }
    )


# --- the expected counts ---------------------------------------------------------------------------


def test_expected_counts_match_brute_force_truncation():
    # The observed delay of write k is min(D, k): enumerate it for a small n and compare.
    law = DelayLaw.from_dict({"law": "geometric", "mean": 2.0}, "d")
    n, U = 7, 5
    p = law.pmf(U - 1)
    e = expected_delay_counts([(1.0, p)], n)
    full = law.pmf(400)  # mass beyond 400 is ~1e-70
    brute = np.zeros(U + 1)
    for k in range(n):
        for i, pi in enumerate(full):
            brute[min(i, k, U)] += pi
    np.testing.assert_allclose(e, brute, rtol=1e-12, atol=1e-12)
    assert e.sum() == pytest.approx(n)
    # a point mass at 3: writes 0, 1, 2 have delays 0, 1, 2; nothing lands above 3
    e = expected_delay_counts([(1.0, np.array([0.0, 0.0, 0.0, 1.0, 0.0]))], 10)
    np.testing.assert_array_equal(e, [1, 1, 1, 7, 0, 0])


# --- 1. goodness of fit of the marginal law ---------------------------------------------------------


@pytest.mark.parametrize("P", [2, 4])
def test_exponential_workers_fit_geometric(P):
    sched = draw_schedule(ScheduleModel.timing_preset(n_workers=P), 50_000, seed=10 + P)
    r = delay_gof(sched, n_boot=49, seed=0)
    assert r["reference"] == "closed-form" and "Geometric(1/P)" in r["law"], r["law"]
    # queue-generated delays are autocorrelated (lag 1 about -0.25 for P = 2): the bootstrap decides
    assert r["lag1_significant"] and r["method"] == "parametric-bootstrap"
    assert r["pvalue"] == r["pvalue_boot"] > ACCEPT, r
    assert r["pvalue_chi2"] > ACCEPT
    assert r["support_violations"] == 0 and r["tv_distance"] < 0.02
    assert all(e >= 5 for e in r["bins"]["expected"])
    assert sum(r["bins"]["observed"]) == 50_000


@pytest.mark.parametrize("wrong_P", [3, 5])
def test_exponential_workers_against_wrong_law_reject(wrong_P):
    sched = draw_schedule(ScheduleModel.timing_preset(n_workers=4), 50_000, seed=14)
    r = delay_gof(sched, n_boot=49, seed=0, model=ScheduleModel.timing_preset(n_workers=wrong_P))
    assert f"P = {wrong_P}" in r["law"]
    assert r["pvalue_boot"] == pytest.approx(1 / 50)  # beyond every replicate
    assert r["pvalue"] < REJECT and r["pvalue_chi2"] < REJECT, r
    assert r["tv_distance"] > 0.05


@pytest.mark.parametrize(
    "delay",
    [
        {"law": "uniform", "low": 2, "high": 9},
        {"law": "geometric", "mean": 5.0},
        {"law": "pareto", "tail": 1.5, "scale": 3.0, "max": 400},
    ],
)
def test_abstract_delay_laws_not_rejected(delay):
    sched = draw_schedule(abstract_model(delay), 50_000, seed=3)
    r = delay_gof(sched, n_boot=19, seed=0)
    assert r["reference"] == "closed-form"
    assert r["method"] == "chi2", r  # i.i.d. delays: the lag-1 autocorrelation is not significant
    assert r["pvalue"] == r["pvalue_chi2"] > ACCEPT, r
    assert r["pvalue_boot"] > ACCEPT


def test_abstract_wrong_law_rejected_and_support_violation():
    sched = draw_schedule(abstract_model({"law": "uniform", "low": 2, "high": 9}), 50_000, seed=3)
    wider = abstract_model({"law": "uniform", "low": 2, "high": 11})
    r = delay_gof(sched, n_boot=0, model=wider)
    assert r["support_violations"] == 0 and r["pvalue"] < REJECT, r
    narrower = abstract_model({"law": "uniform", "low": 2, "high": 8})  # observed 9 is impossible
    r = delay_gof(sched, n_boot=0, model=narrower)
    assert r["method"] == "support" and r["pvalue"] == 0.0 and r["support_violations"] > 5000


def test_periodic_point_mass_with_startup_is_exact():
    # delays min(7, k): the first 7 writes are not violations of the point mass at 7
    model = ScheduleModel.from_dict({"n_workers": 4, "blocks": {"n_blocks": 4}, "periodic": {"delay": 7}})
    r = delay_gof(draw_schedule(model, 10_000, seed=1), n_boot=9)
    assert r["support_violations"] == 0 and r["statistic"] == 0.0 and r["tv_distance"] == 0.0
    assert r["pvalue"] == 1.0
    # delay 3: a single cell after pooling; only the support is testable
    short = ScheduleModel.from_dict({"n_workers": 4, "blocks": {"n_blocks": 4}, "periodic": {"delay": 3}})
    sched = draw_schedule(short, 10_000, seed=1)
    r = delay_gof(sched, n_boot=0)
    assert r["dof"] == 0 and r["method"] == "support" and r["pvalue"] == 1.0
    wrong = ScheduleModel.from_dict({"n_workers": 4, "blocks": {"n_blocks": 4}, "periodic": {"delay": 2}})
    r = delay_gof(sched, n_boot=0, model=wrong)
    assert r["method"] == "support" and r["pvalue"] == 0.0 and r["support_violations"] == 10_000 - 3


def test_monte_carlo_reference_and_heterogeneous_closed_form():
    # gamma compute times: no closed form, a Monte Carlo reference; not rejected
    gamma = ScheduleModel.timing_preset(n_workers=4, compute="gamma", shape=2.0)
    r = delay_gof(draw_schedule(gamma, 30_000, seed=2), n_boot=29, seed=1)
    assert r["reference"] == "monte-carlo" and r["reference_draws"] >= 20
    assert r["pvalue"] > ACCEPT, r
    # ... and a wrong reference (exponential workers, geometric delays) is rejected by the same data
    r = delay_gof(
        draw_schedule(gamma, 30_000, seed=2), n_boot=29, model=ScheduleModel.timing_preset(n_workers=4)
    )
    assert r["pvalue"] < REJECT, r
    # exponential workers at unequal rates: mixture of Geometric(π_w) (measures.md §9.2)
    het = ScheduleModel.timing_preset(n_workers=4, speeds=[1.0, 2.0, 4.0, 8.0], n_blocks=8)
    r = delay_gof(draw_schedule(het, 50_000, seed=5), n_boot=29, seed=1)
    assert r["reference"] == "closed-form" and "mixture" in r["law"]
    assert r["pvalue"] > ACCEPT, r


def test_deterministic_equal_workers_cycle():
    # With exact ties a read at time t sees every write completing at t, so d_k = k mod P (not the
    # constant P - 1 of measures.md §9.2); the Monte Carlo reference reproduces the kernel exactly.
    sched = draw_schedule(ScheduleModel.timing_preset(n_workers=4, compute="deterministic"), 10_000, seed=1)
    assert np.array_equal(sched.delay()[:8], [0, 1, 2, 3, 0, 1, 2, 3])
    r = delay_gof(sched, n_boot=9)
    assert r["reference"] == "monte-carlo" and r["statistic"] == 0.0 and r["pvalue"] == 1.0


def test_bootstrap_is_reproducible():
    sched = draw_schedule(ScheduleModel.timing_preset(n_workers=4), 20_000, seed=7)
    a = delay_gof(sched, n_boot=39, seed=5)
    b = delay_gof(sched, n_boot=39, seed=5)
    assert a == b
    c = delay_gof(sched, n_boot=19, seed=5)  # replicate b uses child b whatever n_boot is
    assert c["statistic"] == a["statistic"] and c["pvalue_chi2"] == a["pvalue_chi2"]
    d = delay_gof(sched, n_boot=39, seed=6)
    assert d["boot_mean"] != a["boot_mean"] and d["statistic"] == a["statistic"]


def test_gof_skipped_without_model_and_bad_arguments():
    sched = draw_schedule(ScheduleModel.timing_preset(n_workers=2), 1000, seed=1)
    r = delay_gof(sched.relabel_workers([1, 0]))  # relabelled: no model any more
    assert r["skipped"] and "no model" in r["skipped"] and r["pvalue"] is None
    with pytest.raises(ConfigError, match="n_boot"):
        delay_gof(sched, n_boot=-1)
    r = delay_gof(sched, n_boot=0)  # autocorrelated and no bootstrap: no valid p-value
    assert r["method"] == "none" and r["pvalue"] is None and r["pvalue_chi2"] is not None


# --- 2. block / writer × delay independence ---------------------------------------------------------


def test_heterogeneous_speeds_make_delay_depend_on_block():
    # τ_w ~ Geometric(μ_w / Σμ): the slow worker's blocks see long delays (mean 14 vs 0.9)
    model = ScheduleModel.timing_preset(n_workers=4, speeds=[1.0, 2.0, 4.0, 8.0], n_blocks=8)
    r = block_delay_independence(draw_schedule(model, 50_000, seed=1))
    for key in ("block", "writer"):
        assert r[key]["pvalue"] < REJECT and r[key]["cramers_v"] > 0.1, r[key]
    assert r["block"]["shape"][0] == 8 and r["writer"]["shape"][0] == 4
    lo, hi = r["writer"]["mean_delay_range"]
    assert lo < 1.5 and hi > 10


def test_uniform_blocks_with_iid_delays_are_independent():
    sched = draw_schedule(abstract_model({"law": "geometric", "mean": 4.0}), 50_000, seed=2)
    r = block_delay_independence(sched)
    for key in ("block", "writer"):
        assert r[key]["pvalue"] > ACCEPT and r[key]["cramers_v"] < 0.03, r[key]
    assert r["block"]["shape"][0] == 6 and r["writer"]["shape"][0] == 3


def test_owned_set_writes_are_rows_of_their_own():
    model = ScheduleModel.timing_preset(n_workers=3, n_blocks=6, write="owned", speeds=[1.0, 1.0, 5.0])
    r = block_delay_independence(draw_schedule(model, 20_000, seed=1))
    assert r["block"]["shape"][0] == 3 and r["block"]["pvalue"] < REJECT


# --- 3. stationarity -------------------------------------------------------------------------------


def test_homogeneity_stationary_and_drifting():
    sched = draw_schedule(abstract_model({"law": "geometric", "mean": 4.0}), 100_000, seed=4)
    r = delay_homogeneity(sched)
    assert r["pvalue"] > ACCEPT and r["tv_distance"] < 0.02 and r["ks_d"] < 0.01, r
    # block 0 (delay 50) is starved, P(block 0 at k) ~ (k + 1)^-1/2: about 630 delays of 50 in the
    # first half against 260 in the second, a shift of 12 standard deviations
    drift = abstract_model(
        [50, {"law": "geometric", "mean": 1.0}], n_workers=2, n_blocks=2, starve={"block": 0, "exponent": 0.5}
    )
    r = delay_homogeneity(draw_schedule(drift, 200_000, seed=4))
    assert r["pvalue"] < REJECT and r["mean_early"] > r["mean_late"], r


# --- wiring: schedule_stats and the CLI ------------------------------------------------------------


def test_schedule_stats_has_tests():
    sched = draw_schedule(abstract_model({"law": "geometric", "mean": 4.0}), 20_000, seed=1)
    st = sched.stats(n_boot=0)
    t = st["tests"]
    assert set(t) == {"delay_gof", "block_delay_independence", "delay_homogeneity"}
    assert t["delay_gof"]["method"] == "chi2" and t["delay_gof"]["pvalue_boot"] is None
    json.dumps(st, allow_nan=False)


def test_cli_stats_tests_and_boot_option(tmp_path, capsys):
    f = tmp_path / "s.npz"
    code, _, _ = run(capsys, "schedule", "draw", "-P", 4, "-n", 20_000, "--seed", 2, "-o", f, "-q")
    assert code == 0
    code, out, _ = run(capsys, "schedule", "stats", f, "--json", "--boot", 19)
    assert code == 0
    t = json.loads(out)["tests"]
    g = t["delay_gof"]
    assert g["n_boot"] == 19 and g["method"] == "parametric-bootstrap" and g["pvalue"] > ACCEPT
    assert t["block_delay_independence"]["block"]["pvalue"] is not None
    assert t["delay_homogeneity"]["pvalue"] is not None
    code, out, _ = run(capsys, "schedule", "stats", f, "--boot", 0)
    assert code == 0 and "tests of the delay model" in out and "block × delay" in out
    code, out, err = run(capsys, "schedule", "stats", f, "--boot", -1)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: --boot"), err
