"""Verdicts across horizons (issue 13): a run's verdict follows what its iterates do, whatever the
horizon. Each test runs the same seeds at several horizons (replica r draws the same schedule and
noise at every horizon, so its late trajectories are comparable)."""

from __future__ import annotations

import numpy as np
import pytest

from asyncconv.config import ConfigError
from asyncconv.problems import make_problem
from asyncconv.schedule import ScheduleModel
from asyncconv.sim import Iteration, simulate
from asyncconv.theory import NOT_CONVERGING, Thresholds, default_tail, evaluate, outcome
from asyncconv.theory.stats import first_passage
from asyncconv.theory.verdict import late_distance

PERIODIC = {"n_workers": 2, "blocks": {"n_blocks": 2, "ownership": "partitioned"}, "periodic": {"delay": 1}}
RANDOM = {
    "n_workers": 2,
    "blocks": {"n_blocks": 2, "ownership": "partitioned"},
    "timing": {"compute": {"law": "exponential", "mean": 1.0}},
}
HORIZONS = (100_000, 200_000, 400_000, 800_000, 1_600_000)


def _trap_iteration(m: float = 0.5, noise: str = "none") -> Iteration:
    """The quickstart's iteration (sims/quickstart.toml)."""
    return Iteration.from_dict(
        dict(momentum="heavy", m=m, g0=0.05, p=0.75, nu0=10.0, factor_low=1.0, noise=noise, noise_scale=0.003)
    )


def _verdicts(problem, model, it, K, R, seed=1, th=None, n_blocks=2):
    res = simulate(problem, ScheduleModel.from_dict(model), it, n_events=K, n_replicas=R, seed=seed,
                   n_tail=default_tail(problem.n))  # fmt: skip
    return res, evaluate(problem, res, th or Thresholds(), n_blocks=n_blocks)


@pytest.mark.parametrize("K", HORIZONS)
def test_periodic_trap_does_not_converge_at_any_horizon(K):
    """Strict alternation with heavy ball (the issue's case): the iterate rests, then drifts, on the
    blockwise-critical segment at distance >= 0.047 from x*; every horizon says so."""
    trap = make_problem("trap")
    _, recs = _verdicts(trap, PERIODIC, _trap_iteration(), K, 2)
    for r in recs:
        assert r["verdict"] in NOT_CONVERGING and r["outcome"] == "not converging", (K, r["reason"])
        assert r["blockwise_critical"] is True
        assert r["evidence"]["rule"] == "c" and r["evidence"]["window"]["max_q4"] > 0.045


def test_random_trap_converges_at_every_horizon_from_2e5():
    trap = make_problem("trap")
    for K in HORIZONS[1:]:
        _, recs = _verdicts(trap, RANDOM, _trap_iteration(), K, 8)
        assert all(r["verdict"] == "converged" and r["critical_point"] == 0 for r in recs), (
            K, [r["reason"] for r in recs if r["verdict"] != "converged"],
        )  # fmt: skip


@pytest.mark.parametrize("m", [0.0, 0.5])
def test_noisy_periodic_quickstart_runs_are_not_converged(m):
    """The quickstart's noisy periodic runs drift along the segment: their final points can lie
    next to x*, but the late window keeps leaving it, so none is called converged; most are
    called not converging (drifting)."""
    trap = make_problem("trap")
    for K in (200_000, 800_000):
        _, recs = _verdicts(trap, PERIODIC, _trap_iteration(m, "gaussian"), K, 12)
        verdicts = [r["verdict"] for r in recs]
        assert "converged" not in verdicts, (K, m)
        assert sum(v in NOT_CONVERGING for v in verdicts) >= 6, (K, m, [r["reason"] for r in recs])


def test_large_minimiser_converged_and_time_to_eps_agree():
    """Chained Mifflin 2 (|x*| = 4.95) under 4 ASSM workers (fig2's configuration): the absolute
    distance at the end exceeds eps while D = dist / max(1, |x*|) does not; the verdict and the
    first passage use the same D and the same eps, so every converged run has reached eps."""
    prob = make_problem("chained_mifflin2", 64)
    model = {
        "n_workers": 4,
        "blocks": {"n_blocks": 16, "ownership": "shared", "write": "owned"},
        "timing": {"compute": {"law": "exponential", "mean": 1.0}},
    }
    it = Iteration.from_dict(dict(momentum="heavy", m=0.5, g0=0.02, p=0.75, nu0=10.0, noise="gaussian",
                                  noise_scale=0.01))  # fmt: skip
    th = Thresholds(gs=False)
    assert prob.dist_scale == pytest.approx(np.linalg.norm(prob.critical_points[0]))
    absolute_above = 0
    for K in (100_000, 200_000):
        res, recs = _verdicts(prob, model, it, K, 3, th=th, n_blocks=16)
        assert all(r["verdict"] == "converged" for r in recs), [r["reason"] for r in recs]
        for r, rec in enumerate(recs):
            absolute_above += rec["measures"]["dk"]["dist"] > th.eps
            t = np.concatenate([res.metrics[r, :, 1], res.probes[r, :, 1]])
            d = np.concatenate([res.metrics[r, :, 3], res.probes[r, :, 4]]) / prob.dist_scale
            o = np.argsort(t)
            _, observed = first_passage(t[o][None], d[o][None], th.eps)
            assert observed[0]
    assert absolute_above >= 3  # the case the old rules split: "converged" but eps "not reached"


def test_a_run_near_the_minimiser_is_never_stalled():
    """fig4's corner (weighted l1, Pareto delays, k^-1/2 steps): runs 1e-2 from the minimiser
    whose chatter shrinks with the steps are "approaching" (undecided), not stalled; the gradient
    sampling floor of radii below the distance to the kink is no evidence of non-stationarity."""
    prob = make_problem("weighted_l1", 16)
    model = {
        "n_workers": 4,
        "blocks": {"n_blocks": 8, "ownership": "shared"},
        "abstract": {"delay": {"law": "pareto", "tail": 0.8, "scale": 2.0}},
    }
    it = Iteration.from_dict(dict(momentum="heavy", m=0.5, g0=0.5, p=0.5, nu0=10.0, noise="none"))
    _, recs = _verdicts(prob, model, it, 200_000, 4, seed=41, th=Thresholds(settle_tol=0.01), n_blocks=8)
    for r in recs:
        assert r["verdict"] not in NOT_CONVERGING, r["reason"]
        assert "GS floor" not in r["reason"]
    assert any("still approaching" in r["reason"] for r in recs)


def test_late_distance_window():
    """Q3/Q4 maxima and the step ratio read off checkpoints and probes (columns k, t, dist)."""
    from asyncconv.sim.simulate import METRIC_NAMES, PROBE_NAMES

    t = np.linspace(0.0, 8.0, 17)
    k = (t / 8.0) ** 2 * 1000  # steps shrinking: Δt/Δk falls
    metrics = np.full((2, len(METRIC_NAMES)), np.nan)
    metrics[:, 0], metrics[:, 1], metrics[:, 3] = [0, 1000], [0.0, 8.0], [1.0, 0.5]
    probes = np.full((17, len(PROBE_NAMES)), np.nan)
    probes[:, 0], probes[:, 1] = k, t
    probes[:, 4] = np.where(t >= 6.0, 0.5, 2.0)
    w = late_distance(metrics, probes, 2.0)
    assert w["max_q4"] == 0.25 and w["max_q3"] == 1.0 and w["end"] == 0.25
    assert w["n_q4"] == 5 + 1 and 0 < w["step_ratio"] < 1


def test_thresholds_removed_and_inconsistent():
    with pytest.raises(ConfigError, match=r"thresholds\.dist_tol: removed: converged and time-to-eps share"):
        Thresholds.from_dict({"dist_tol": 0.02})
    with pytest.raises(ConfigError, match=r"thresholds\.stall_dist: must be >= thresholds\.eps"):
        Thresholds.from_dict({"eps": 0.05, "stall_dist": 0.02})
    assert outcome("drifting") == outcome("stalled") == "not converging"
