"""The jitted replay: equivalence with the plain-Python reference, reproducibility, and the
behaviour the theory predicts (synchronous limit, DI tracking, the trap)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncconv.problems import make_problem
from asyncconv.rng import key_from_seed
from asyncconv.schedule import ScheduleModel, draw_schedule, partition
from asyncconv.sim import Iteration, _kernels, replay, simulate

try:
    from reference.sim_reference import replay_reference
except ImportError:  # pragma: no cover
    from tests.reference.sim_reference import replay_reference

PROBLEMS = [
    ("trap", None),
    ("chained_lq", 6),
    ("maxq", 5),
    ("weighted_l1", 6),
    ("l1_nonconvex_regression", 5),
    ("phase_retrieval", 4),
]


@st.composite
def schedule_models(draw, n: int):
    P = draw(st.integers(1, min(3, n)))
    B = draw(st.integers(P, min(n, 4)))
    kind = draw(st.sampled_from(["timing", "timing", "abstract"]))
    ownership = draw(st.sampled_from(["partitioned", "shared"]))
    reads = draw(st.sampled_from(["consistent", "inconsistent"]))
    write = draw(st.sampled_from(["block", "owned"]))
    d = {"n_workers": P, "reads": reads, "blocks": {"n_blocks": B, "ownership": ownership, "write": write}}
    if kind == "timing":
        d["timing"] = {
            "compute": draw(
                st.sampled_from(
                    [{"law": "exponential", "mean": 1.0}, {"law": "uniform", "mean": 1.0, "shape": 0.5}]
                )
            ),
            "read": draw(st.sampled_from([0.0, 0.3])),
        }
    else:
        d["abstract"] = {"delay": {"law": "uniform", "low": 0, "high": draw(st.integers(0, 6))}}
    return ScheduleModel.from_dict(d)


iterations = st.builds(
    lambda mom, buf, clock, noise, m, batch: Iteration.from_dict(
        {
            "momentum": mom,
            "buffers": buf,
            "clock": clock,
            "noise": noise,
            "batch": batch,
            "g0": 0.05,
            "factor_low": 0.9,
            "m": m if mom != "averaging" else 2.0 + 10 * m,
        }  # averaging: m is the rate a, a·γ <= 1
    ),
    st.sampled_from(["heavy", "ema", "nesterov", "averaging", "none"]),
    st.sampled_from(["block", "worker"]),
    st.sampled_from(["writer", "global", "block", "constant"]),
    st.sampled_from(["none", "gaussian", "student"]),
    st.sampled_from([0.0, 0.5, 0.9]),
    st.integers(1, 3),
)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.integers(0, len(PROBLEMS) - 1), it=iterations, seed=st.integers(0, 2**32))
def test_kernel_equals_reference(data, which, it, seed):
    name, n = PROBLEMS[which]
    problem = make_problem(name, n)
    model = data.draw(schedule_models(problem.n))
    sched = draw_schedule(model, data.draw(st.integers(1, 150)), seed)
    n_tail = data.draw(st.integers(0, 12))
    res = replay(problem, sched, it, seed=seed + 1, probes=7, probe_x=True, n_tail=n_tail)
    ref = replay_reference(problem, sched, it, int(key_from_seed(seed + 1)[0]))
    np.testing.assert_allclose(res.x_final[0], ref["x"], rtol=1e-12, atol=1e-12)
    # the tail holds the whole read points of the last writes (torn reads included)
    versions = sched.read_versions()
    block_of = np.repeat(np.arange(sched.n_blocks), np.diff(partition(problem.n, sched.n_blocks)))
    K = sched.n_events
    for q in range(n_tail):
        k = K - n_tail + q
        if k < 0:
            assert np.isnan(res.tail[0, q]).all()
            continue
        xhat = [ref["history"][versions[k, block_of[i]]][i] for i in range(problem.n)]
        np.testing.assert_allclose(res.tail[0, q], xhat, rtol=1e-12, atol=1e-12)
    # probes: the iterate after the first write whose ODE time reaches q/7 of the horizon
    pk = res.probes[0, :, 0]
    assert np.isfinite(pk).all() and (np.diff(pk) >= 0).all() and pk[-1] == K
    for q in range(7):
        np.testing.assert_allclose(res.probe_x[0, q], ref["history"][int(pk[q])], rtol=1e-12, atol=1e-12)
        assert res.probes[0, q, 1] >= (q + 1) / 7 * ref["t"] * (1 - 1e-12)
    assert res.metric("t")[0, -1] == pytest.approx(ref["t"], rel=1e-13)
    np.testing.assert_allclose(res.metric("unorm")[0, -1], np.linalg.norm(ref["u"]), rtol=1e-10, atol=1e-12)
    assert res.metric("f")[0, -1] == pytest.approx(problem.value(ref["x"]), rel=1e-10, abs=1e-12)


def test_one_worker_without_delay_is_synchronous_sgd():
    """P = 1, one block: x_{k+1} = x_k - γ_k u_{k+1}, u_{k+1} = m u_k + g(x_k), bit for bit."""
    problem = make_problem("chained_lq", 8)
    model = ScheduleModel.from_dict(
        {
            "n_workers": 1,
            "blocks": {"n_blocks": 1},
            "timing": {"compute": {"law": "exponential", "mean": 1.0}},
        }
    )
    sched = draw_schedule(model, 500, 3)
    assert (sched.delay() == 0).all()
    it = Iteration(noise="none", factor_low=1.0, clock="global", m=0.7, g0=0.02)
    res = replay(problem, sched, it, seed=0)
    x = problem.x0.copy()
    u = np.zeros_like(x)
    for k in range(500):
        g = problem.subgradient(x)
        u = it.m * u + g
        x = x - (it.g0 / (k + it.nu0) ** it.p) * u
    assert np.array_equal(res.x_final[0], x)


def test_replicas_are_bit_identical_across_batching_threads_and_counts():
    problem = make_problem("chained_lq", 16)
    model = ScheduleModel.timing_preset(n_workers=4, n_blocks=8, reads="inconsistent", read_time=0.3)
    it = Iteration()
    a = simulate(problem, model, it, n_events=3000, n_replicas=6, seed=9)
    b = simulate(problem, model, it, n_events=3000, n_replicas=3, seed=9, max_batch_events=3000)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        c = simulate(problem, model, it, n_events=3000, n_replicas=6, seed=9)
    finally:
        numba.set_num_threads(old)
    assert np.array_equal(a.metrics[:3], b.metrics, equal_nan=True)
    assert np.array_equal(a.x_final, c.x_final) and np.array_equal(a.metrics, c.metrics, equal_nan=True)
    assert not np.array_equal(a.x_final[0], a.x_final[1])  # replicas differ


def test_divergence_is_recorded_not_raised():
    problem = make_problem("chained_cb3_1", 6)
    it = Iteration(clock="constant", g0=10.0, momentum="none", noise="none")
    res = simulate(problem, ScheduleModel.timing_preset(n_workers=2), it, n_events=2000, n_replicas=2, seed=1)
    assert (res.status == "diverged").all()
    assert (res.writes_done < 2000).all()
    assert np.isnan(res.metrics[:, -1, 2]).all()


def test_kernel_compiles_once():
    for name, n in PROBLEMS:
        simulate(
            make_problem(name, n), ScheduleModel.timing_preset(n_workers=2), Iteration(), n_events=50, seed=0
        )
    # one compiled replay for every problem: the problems arrive as first-class functions
    assert len(_kernels.replay_one.signatures) == 1


def _trap_final_distance(model: ScheduleModel, n_events: int, seed: int) -> np.ndarray:
    it = Iteration(noise="gaussian", noise_scale=0.01, g0=0.05, p=0.75, nu0=10.0)
    res = simulate(make_problem("trap"), model, it, n_events=n_events, n_replicas=8, seed=seed)
    return res.metric("dist")[:, -1]


def test_trap_random_schedules_converge_and_periodic_ones_stall():
    """problems.md §8.1: randomised schedules reach x* = (-1/4, -1/4); strict alternation stalls on
    the blockwise-critical diagonal at a phase-dependent point (most replicas), the control failing."""
    random = ScheduleModel.from_dict(
        {
            "n_workers": 2,
            "blocks": {"n_blocks": 2},
            "timing": {"compute": {"law": "exponential", "mean": 1.0}},
        }
    )
    periodic = ScheduleModel.from_dict({"n_workers": 2, "blocks": {"n_blocks": 2}, "periodic": {"delay": 1}})
    d_random = _trap_final_distance(random, 500_000, 1)
    d_periodic = _trap_final_distance(periodic, 500_000, 1)
    assert (d_random < 0.005).all(), d_random
    assert (d_periodic > 0.005).sum() >= 5, d_periodic
    assert np.median(d_periodic) > 10 * np.median(d_random), (d_periodic, d_random)


def test_iterates_follow_the_differential_inclusion_on_weighted_l1():
    """f = Σ c_i |x_i|: x_i(t) = sign(x_i(0)) max(|x_i(0)| - κ λ c_i t, 0), λ = 1/B, κ = 1/(1-m)."""
    problem = make_problem("weighted_l1", 4)
    B = 4
    model = ScheduleModel.from_dict(
        {"n_workers": 1, "blocks": {"n_blocks": B, "ownership": "shared"}, "timing": {"compute": 1.0}}
    )
    errors = []
    # the error is dominated by the random block counts, γ·sd(count) = O(sqrt(γ T)): 100x smaller
    # steps should shrink it about 10x
    for g0 in (1e-3, 1e-5):
        it = Iteration(noise="none", factor_low=1.0, clock="constant", g0=g0, m=0.5)
        T = 1.0  # long enough for some coordinates to reach their kink at 0 and stay there
        K = int(T / g0)
        res = simulate(problem, model, it, n_events=K, seed=2)
        t = res.metric("t")[0, -1]
        exact = np.sign(problem.x0) * np.maximum(
            np.abs(problem.x0) - it.kappa / B * problem.prm[: problem.n] * t, 0
        )
        errors.append(np.abs(res.x_final[0] - exact).max())
    assert errors[1] < errors[0] / 3, errors
    assert errors[1] < 0.02, errors


@pytest.mark.parametrize("reads", ["consistent", "inconsistent"])
def test_pause_and_resume_is_bit_identical(reads):
    problem = make_problem("l1_nonconvex_regression", 12)
    model = ScheduleModel.timing_preset(
        n_workers=3, n_blocks=4, ownership="shared", reads=reads, read_time=0.4
    )
    sched = draw_schedule(model, 4000, 5)
    it = Iteration(momentum="nesterov", m=0.9, noise="student", batch=2, g0=0.01)
    full = replay(problem, sched, it, seed=3, n_ckpt=20)
    first = replay(problem, sched, it, seed=3, n_ckpt=20, stop=1234)
    assert first.writes_done[0] == 1234 and "state" in first.info
    mid = replay(problem, sched, it, seed=3, n_ckpt=20, stop=2500, state=first.info["state"])
    rest = replay(problem, sched, it, seed=3, n_ckpt=20, state=mid.info["state"])
    assert np.array_equal(rest.x_final, full.x_final)
    assert np.array_equal(rest.metrics, full.metrics, equal_nan=True)
    assert np.array_equal(rest.block_counts, full.block_counts)
    # the paused state is not consumed: continuing it twice gives the same answer
    again = replay(problem, sched, it, seed=3, n_ckpt=20, state=first.info["state"])
    assert np.array_equal(again.x_final, full.x_final)


def test_staleness_is_zero_without_delays_and_positive_with_them():
    problem = make_problem("chained_lq", 8)
    sync = draw_schedule(ScheduleModel.timing_preset(n_workers=1), 300, 1)
    res = replay(problem, sync, Iteration(), seed=0, n_ckpt=6)
    assert np.array_equal(res.metric("staleness")[0, 1:], np.zeros(6))
    shared = ScheduleModel.timing_preset(n_workers=4, n_blocks=1, ownership="shared")
    res = simulate(problem, shared, Iteration(), n_events=3000, n_replicas=2, seed=0)
    assert (res.metric("staleness")[:, 1:] > 0).any()


def test_bad_x0_and_mismatched_resume_are_refused():
    from asyncconv.config import ConfigError
    from asyncconv.schedule import schedule_from_trace

    problem = make_problem("chained_lq", 8)
    sched = draw_schedule(ScheduleModel.timing_preset(n_workers=2, n_blocks=4), 400, 1)
    with pytest.raises(ConfigError, match="x0"):
        replay(problem, sched, seed=0, x0=np.ones(3))
    with pytest.raises(ConfigError, match="x0"):
        simulate(problem, ScheduleModel.timing_preset(n_workers=2), n_events=10, x0=np.full(8, np.nan))
    paused = replay(problem, sched, seed=0, n_ckpt=5, stop=100).info["state"]
    for kwargs in ({"n_ckpt": 60}, {"seed": 1}, {"iteration": Iteration(buffers="worker")}):
        with pytest.raises(ConfigError, match="state"):
            replay(problem, sched, **{"seed": 0, "n_ckpt": 5, **kwargs}, state=paused)
    # a trace whose worker 0 writes blocks 0 and 2 (not contiguous) replays: only owned-set writes need ranges
    trace = schedule_from_trace([0, 1, 0, 1], [0, 1, 2, 1], [0, 0, 1, 2], n_blocks=3)
    assert replay(make_problem("chained_lq", 6), trace, seed=0).status[0] == "finished"


def test_noise_of_write_k_depends_only_on_the_key_and_k():
    """Prefix stability of the replay: the first M writes of a long schedule equal a schedule of M."""
    problem = make_problem("chained_lq", 12)
    model = ScheduleModel.timing_preset(
        n_workers=3, n_blocks=6, write="owned", reads="inconsistent", read_time=0.3
    )
    sched = draw_schedule(model, 1000, 2)
    it = Iteration(noise="student")
    a = replay(problem, sched, it, seed=4, stop=400)
    b = replay(problem, sched.truncate(400), it, seed=4)
    assert np.array_equal(a.x_final, b.x_final)
