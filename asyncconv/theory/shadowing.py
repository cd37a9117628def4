"""Asymptotic-pseudotrajectory (shadowing) checks (measures.md §7).

The limit of the asynchronous method is the block-rate inclusion ẋ ∈ −κ Λ ∂f(x) with
Λ = diag(λ_b) (λ_b = the fraction of writes that update block b) and κ the momentum time
stretch (κ = 1/(1−m) for heavy ball and PyTorch Nesterov, 1 otherwise; measures.md §3). The
shadowing error of a run over the window [t_q, t_q + T] is

    e_q(T) = max_{t_q <= t_j <= t_q + T} ||x_j − z^{(q)}(t_j − t_q)||,

with z^{(q)} the inclusion's solution from x(t_q). APT means e_q(T) -> 0 as t_q grows.

Reference solutions: closed forms for the toy problems (problems.md §7: ``weighted_l1``,
``l1_plus_quadratic``), otherwise a fine explicit flow along the minimal-norm element of the
hull of subgradients sampled in a small ball (gradient-sampling direction), n small.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from asyncconv.config import ConfigError
from asyncconv.problems import Problem
from asyncconv.sim.simulate import PROBE_NAMES, SimResult

__all__ = ["block_rates", "flow", "shadowing_errors"]


def block_rates(counts: np.ndarray, block_off: np.ndarray) -> np.ndarray:
    """Per-coordinate rates λ_i (n,) from the update counts per block (B,): λ_b = count_b / total
    writes (each write updates one block), broadcast over the block's coordinates."""
    counts = np.asarray(counts, dtype=np.float64)
    lam_b = counts / max(counts.sum(), 1.0)
    return np.repeat(lam_b, np.diff(block_off))


def _numeric_flow(problem: Problem, x0: np.ndarray, t: np.ndarray, rate: np.ndarray, h: float) -> np.ndarray:
    from asyncconv.theory.qp import min_norm_hull

    rng = np.random.default_rng(0)
    out = np.empty((t.shape[0], problem.n))
    x = np.array(x0, dtype=np.float64)
    s = 0.0
    radius = 4.0 * h
    for j, tj in enumerate(t):
        while s < tj - 1e-15:
            dt = min(h, tj - s)
            ys = x + radius * rng.standard_normal((2 * problem.n, problem.n)) / np.sqrt(problem.n)
            G = np.vstack([problem.subgradient(x)] + [problem.subgradient(y) for y in ys])
            lam, _ = min_norm_hull(G)
            x = x - dt * rate * (G.T @ lam)
            s += dt
        out[j] = x
    return out


def flow(problem: Problem, x0: np.ndarray, t: np.ndarray, rate: np.ndarray, *, h: float = 1e-3) -> np.ndarray:
    """z(t) (len(t), n) for ẋ ∈ −diag(rate) ∂f(x), z(0) = x0; t sorted, >= 0.

    The problem's closed form when it has one (``problem.spec.flow``, e.g. the weighted ℓ1 toys);
    otherwise explicit steps of length
    ``h`` along the minimal-norm element of the hull of subgradients at x and 2n points within
    ~4h of it (n <= 50)."""
    t = np.asarray(t, dtype=np.float64)
    rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), (problem.n,))
    if problem.has_flow:
        return problem.spec.flow(problem, np.asarray(x0, dtype=np.float64), t, rate)
    if problem.n > 50:
        raise ConfigError("problem", f"the numeric reference flow is for n <= 50 (got {problem.n})")
    return _numeric_flow(problem, np.asarray(x0, dtype=np.float64), t, rate, h)


def shadowing_errors(
    problem: Problem,
    result: SimResult,
    r: int,
    *,
    kappa: float,
    block_off: np.ndarray,
    window: float,
    n_windows: int = 8,
    h: float = 1e-3,
) -> dict[str, Any]:
    """e_q(T) over ``n_windows`` windows of ODE length ``window`` starting at probes spread over
    the run of replica ``r`` (needs ``probe_x=True`` and enough probes per window).

    Λ is estimated from the replica's block update counts and scaled by ``kappa``. Returns the
    window start times, the errors and the rates used.
    """
    if result.probe_x.shape[2] != problem.n:
        raise ConfigError(
            "probe_x", "shadowing needs the iterates at the probes (simulate(..., probe_x=True))"
        )
    t = result.probes[r, :, PROBE_NAMES.index("t")]
    xs = result.probe_x[r]
    ok = np.isfinite(t)
    t, xs = t[ok], xs[ok]
    rate = kappa * block_rates(result.block_counts[r], block_off)
    starts = np.linspace(t[0], max(t[-1] - window, t[0]), n_windows)
    t0s, errs = [], []
    for s in starts:
        q = int(np.searchsorted(t, s))
        sel = (t >= t[q]) & (t <= t[q] + window)
        z = flow(problem, xs[q], t[sel] - t[q], rate, h=h)
        t0s.append(float(t[q]))
        errs.append(float(np.max(np.linalg.norm(xs[sel] - z, axis=1))))
    return {"t_start": t0s, "error": errs, "window": window, "rates": rate.tolist()}
