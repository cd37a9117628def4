"""Stationarity and invariant-set measures at a point and along a run (measures.md §5, §4, §7).

Each measure states its direction and where it is valid (``MEASURES``):

========  =========================================  =========  ===============================
name      what                                       direction  valid for
========  =========================================  =========  ===============================
dk        dist(x, known critical set), f - f_ref     exact      problems with a known set/value
tc        trajectory certificate r_ε (§5.3)          upper      any f (full subgradients)
gs        gradient sampling ρ_ε, ε-ladder (§5.5)     upper      a.e.-differentiable f, n ≲ 10³
sq        structured η-active s_η, b_η (§5.4)        lower*     Clarke-regular sum-of-max only
ly        f oscillation over ODE windows (§5.2)      necessary  any run with probes
momentum  window average of the buffer (§4)          necessary  heavy ball / averaging
========  =========================================  =========  ===============================

(*) s_η ≈ dist(0, ∂_ε f(x)) − O(ε) for η ≈ 2Lε; exact Clarke measure at η = 0.

An *upper* bound that is small certifies (ε, r)-stationarity; a *lower* bound that is large
certifies non-stationarity. Using a measure outside its validity raises :class:`MeasureInvalid`
(an error, not a number). Every certificate is the norm of a convex combination of **full**
subgradient vectors, each computed at one point: block pieces are never stitched (§6).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from asyncconv.config import ConfigError
from asyncconv.problems import Problem

__all__ = [
    "EPS_LADDER",
    "MEASURES",
    "MeasureInvalid",
    "MeasureSpec",
    "distance_known",
    "gradient_sampling",
    "oscillation_windows",
    "trajectory_certificate",
    "window_momentum",
]

EPS_LADDER = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
GS_MAX_N = 2000  # gradient sampling costs O(m² n) with m = 2n samples: small problems and spot checks


class MeasureInvalid(ConfigError):
    """A measure was asked for where it is not valid (e.g. SQ on a non-regular problem)."""

    def __init__(self, measure: str, message: str) -> None:
        super().__init__(f"measure {measure}", message)


@dataclass(frozen=True)
class MeasureSpec:
    """Direction and domain of validity of one measure (recorded with every result)."""

    name: str
    direction: str  # "exact", "upper", "lower", "necessary"
    valid_for: str
    source: str


MEASURES: dict[str, MeasureSpec] = {
    m.name: m
    for m in (
        MeasureSpec(
            "dk", "exact", "problems with a known critical set or reference value", "measures.md §5.1"
        ),
        MeasureSpec("tc", "upper", "any f; full subgradients at the stored read points", "measures.md §5.3"),
        MeasureSpec("gs", "upper", f"a.e.-differentiable f, n <= {GS_MAX_N}", "measures.md §5.5"),
        MeasureSpec("sq", "lower", "Clarke-regular sum-of-max problems (approximate lower bound)", "§5.4"),
        MeasureSpec("ly", "necessary", "any run with probes in ODE time", "measures.md §5.2"),
        MeasureSpec("momentum", "necessary", "heavy ball: window average of u -> 0", "measures.md §4"),
    )
}


def _hull_norm(vectors: np.ndarray) -> float:
    from asyncconv.theory.qp import min_norm_hull

    return float(min_norm_hull(np.ascontiguousarray(vectors, dtype=np.float64))[1])


def distance_known(problem: Problem, x: np.ndarray) -> dict[str, Any]:
    """DK (measures.md §5.1): distance to the catalogued critical points and the f-gap.

    Returns ``dist`` = min_c ||x − c||, ``dist_rel`` = dist / ``problem.dist_scale`` (the one
    distance of the verdicts and time-to-ε: dist / max(1, max_c ||c||)), ``nearest`` (its row index, None when none is catalogued), ``complete``
    (True when the catalogue is the whole Clarke-critical set: only then is a large distance
    evidence of non-criticality), ``f`` and ``f_gap`` = f(x) − f_ref (None without f_ref).
    For NS2 the f-level k = round(f · 2^n) names the critical point reached (problems.md §3).
    """
    x = np.asarray(x, dtype=np.float64)
    f = problem.value(x)
    out: dict[str, Any] = {
        "f": f,
        "f_gap": None if problem.f_ref is None else f - float(problem.f_ref),
        "complete": bool(problem.critical_set_complete),
    }
    crit = problem.critical_points
    if crit.shape[0]:
        d = np.linalg.norm(crit - x, axis=1)
        j = int(np.argmin(d))
        out.update(
            dist=float(problem.distance_to_critical(x)),
            nearest=j,
            dist_rel=float(problem.distance_to_critical(x) / problem.dist_scale),
        )
    else:
        out.update(dist=None, nearest=None, dist_rel=None)
    if problem.spec.extras is not None:  # further known measures of the problem (e.g. NS2's f-level)
        out.update(problem.spec.extras(problem, x, f))
    return out


def trajectory_certificate(problem: Problem, x: np.ndarray, points: np.ndarray, eps: float) -> dict[str, Any]:
    """TC (measures.md §5.3): r_ε(x) = min_{λ∈Δ} ||Σ_{j∈W} λ_j v_j||, W = {j : ||y_j − x|| <= ε}.

    ``points`` (M, n) are the actual read points y_j of recent writes (stale ones included; NaN
    rows, never filled, are skipped); v_j is the exact, full, deterministic subgradient at y_j.
    Every v_j lies in ∂_ε f(x), so r_ε >= dist(0, ∂_ε f(x)): an **upper** bound, valid for any f.
    Returns r (None when no stored point is within ε), the number of points used and ε.
    """
    if not eps > 0:
        raise ConfigError("eps", f"must be > 0 (got {eps})")
    x = np.asarray(x, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, problem.n)
    pts = pts[np.isfinite(pts).all(axis=1)]
    near = pts[np.linalg.norm(pts - x, axis=1) <= eps]
    if near.shape[0] == 0:
        return {"r": None, "points": 0, "eps": eps}
    grads = np.stack([problem.subgradient(y) for y in near])
    return {"r": _hull_norm(grads), "points": int(near.shape[0]), "eps": eps}


def _ball_samples(rng: np.random.Generator, x: np.ndarray, eps: float, m: int) -> np.ndarray:
    """m points uniform in the Euclidean ball B(x, ε) (direction uniform, radius ε·U^{1/n})."""
    n = x.shape[0]
    d = rng.standard_normal((m, n))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    r = eps * rng.random(m) ** (1.0 / n)
    return x + d * r[:, None]


def gradient_sampling(
    problem: Problem,
    x: np.ndarray,
    *,
    ladder: Sequence[float] = EPS_LADDER,
    m: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """GS (measures.md §5.5; Burke–Lewis–Overton 2005): ρ_ε(x) = min_{λ∈Δ_m} ||Gᵀλ|| with the rows
    of G the gradients at x and m points uniform in B(x, ε), for each ε of a decreasing ladder.

    The hull of the samples lies in ∂_ε f(x), so ρ_ε >= dist(0, ∂_ε f(x)): an **upper** bound.
    Clarke criticality shows as ρ_ε -> 0 down the ladder; a floor that persists as ε shrinks
    indicates a non-critical point (weak evidence: thin active regions can be missed).
    m defaults to 2n (at least 8). Valid for n <= GS_MAX_N. Returns the ladder and ρ per rung.
    """
    if problem.n > GS_MAX_N:
        raise MeasureInvalid(
            "gs", f"gradient sampling is for n <= {GS_MAX_N} (got n = {problem.n}); use tc or sq"
        )
    eps = [float(e) for e in ladder]
    if not eps or any(not e > 0 for e in eps):
        raise ConfigError("ladder", "must be positive radii")
    m = max(2 * problem.n, 8) if m is None else int(m)
    if m < 1:
        raise ConfigError("m", f"must be >= 1 (got {m})")
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(seed)
    g0 = problem.subgradient(x)
    rho = []
    for e in eps:
        ys = _ball_samples(rng, x, e, m)
        G = np.vstack([g0[None]] + [problem.subgradient(y)[None] for y in ys])
        rho.append(_hull_norm(G))
    return {"eps": eps, "rho": rho, "m": m, "seed": seed}


def oscillation_windows(t: np.ndarray, f: np.ndarray, n_windows: int = 8) -> dict[str, Any]:
    """LY (measures.md §5.2): max_W f − min_W f over consecutive windows of equal ODE length.

    ``t``, ``f`` (Q,) are probe times and values (NaN rows skipped). The windows split
    [t_0, t_max] into ``n_windows`` equal parts (probes uniform in ODE time give windows of fixed
    ODE length). A necessary condition for convergence is that the oscillation tends to 0: report
    every window, the last one and the ratio last / first (None when undefined).
    """
    t = np.asarray(t, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(f)
    t, f = t[ok], f[ok]
    if t.size < 2:
        return {"windows": [], "last": None, "ratio": None, "length": None}
    edges = np.linspace(t[0], t[-1], n_windows + 1)
    osc: list[float | None] = []
    for a, b in itertools.pairwise(edges):
        sel = f[(t >= a) & (t <= b)]
        osc.append(float(sel.max() - sel.min()) if sel.size else None)
    first = next((o for o in osc if o is not None), None)
    last = osc[-1]
    ratio = None if (first is None or last is None or first == 0) else last / first
    return {"windows": osc, "last": last, "ratio": ratio, "length": float(edges[1] - edges[0])}


def window_momentum(t: np.ndarray, unorm: np.ndarray, velocity: np.ndarray) -> dict[str, Any]:
    """‖m‖ and its window average at the horizon (measures.md §4, item 2).

    For heavy ball at a nonsmooth critical point ‖u‖ need not vanish, but the time-weighted
    window average Σ α_j u_j / Σ α_j — the window's displacement over its ODE length, the
    ``velocity`` metric — must. Inputs are the trajectory columns (T,); returns the final values
    and the ratio of the final window average to its largest value along the run.
    """
    v = np.asarray(velocity, dtype=np.float64)
    u = np.asarray(unorm, dtype=np.float64)
    fin = np.isfinite(v)
    if not fin.any():
        return {"unorm": None, "window_avg": None, "window_avg_rel": None}
    last = int(np.flatnonzero(fin)[-1])
    peak = float(np.nanmax(v[1:])) if v.size > 1 and np.isfinite(v[1:]).any() else 0.0
    return {
        "unorm": float(u[last]) if math.isfinite(u[last]) else None,
        "window_avg": float(v[last]),
        "window_avg_rel": float(v[last] / peak) if peak > 0 else None,
    }


def warm() -> None:
    """Compile (or load) the kernels of the trajectory certificate and gradient sampling (the hull
    QP) on the trap, e.g. while a second process compiles the SQ kernels."""
    from asyncconv.problems import make_problem

    problem = make_problem("trap")
    x = np.array(problem.critical_points[0]) + 1e-3
    pts = x + 1e-4 * np.random.default_rng(0).standard_normal((6, problem.n))
    trajectory_certificate(problem, x, pts, 1e-2)
    gradient_sampling(problem, x, ladder=[1e-2], seed=0)
