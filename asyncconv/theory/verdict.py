"""Per-run verdicts and pooled fractions with intervals (measures.md §8.1–8.2).

The verdict answers the theorem's question, *does the run approach the critical set?*, from the
**late trajectory**: the records (probes, uniform in ODE time, and checkpoints) in the second half
of the run's ODE horizon [T/2, T], split into the quarters Q3 = [T/2, 3T/4) and Q4 = [3T/4, T].
Distances are the one distance D(x) = dist(x, S) / ``problem.dist_scale`` to the catalogued
critical set S (measures.md §5.1; time-to-ε uses the same D and the same ε). A run is

* **diverged** — the kernel flagged |x_i| beyond its bound, or the final iterate is not finite;
* **converged** (*converging*) — either
  (a) D ≤ ``eps`` at the end and D ≤ ``stall_dist`` throughout Q4 (near a catalogued critical
  point and staying near: valid whether or not the catalogue is complete); or
  (b) where the catalogue is not the whole critical set: f has settled (oscillation over the
  second half of the writes ≤ ``settle_tol``) and an upper bound on the Goldstein measure at
  radius ``eps`` (the trajectory certificate TC, or gradient sampling GS) is ≤ ``stat_tol``.
  The critical point reached is named when catalogued (for NS2 also the f-level);
* **not converging** — the late trajectory stays at a certified distance from the critical set,
  and is not still approaching it or
  still descending (the medians of f over the four eighths of [T/2, T] strictly decrease by more
  than ``settle_tol``; ignored once the ODE clock has stopped, Σγ < ∞). The distance is
  certified by
  (c) a complete catalogue: D > ``stall_dist`` somewhere in Q4, so D does not tend to 0 (a run
  that drifts along a non-critical set and passes the critical point is caught by its excursions);
  (d) otherwise, a structured lower bound valid at the claimed radius: s_η > ``stall_tol`` with
  η = 2·L̂·δ, δ = ``stall_dist``·dist_scale and L̂ the largest piece-gradient norm at x, so that
  every piece active anywhere in B(x, δ) is η-active at x and no Clarke-critical point lies
  within δ (up to the pieces' gradient variation over δ; regular sum-of-max problems only).
  "Still approaching": D's maximum shrinks from Q2 = [T/4, T/2) to Q3 and from Q3 to Q4, each time
  to at most min(0.9, (1 + ρ)/2) of the previous one, where ρ (e.g. γ̄(Q4)/γ̄(Q3)) is how much the
  mean step shrank (Δt/Δk from the records; one fall alone is common for a drifting run): chatter
  around a critical point has a size proportional to the step (k^-1/2 steps shrink it slowly, by
  ρ ≈ 0.7 per quarter of ODE time), a run on a non-critical set keeps its distance.
  It is split into **stalled** (f settled) and **drifting** (f still moving), and flagged
  ``blockwise_critical`` where the blockwise measure b_η ≤ ``stat_tol`` at the final point (the
  product field (P) of measures.md §3);
* **undecided** — only where the evidence does not decide: still approaching, still descending,
  within ``stall_dist`` but not within ``eps``, a stationarity certificate that disagrees with a
  complete catalogue (ill conditioning), or no certified distance and no certificate.

Why not the final point alone, or the gradient-sampling floor? The final point of a drifting run
can lie anywhere on the non-critical set it drifts along, including next to the critical point;
and GS is an *upper* bound (measures.md §5.5): its floor on a ladder of radii below the distance to
the nearest kink is the kink's slope, not evidence of non-stationarity. Neither is used to claim
that a run does not converge. The step × delay product (``age``, the theory's α_k τ_k → 0) is
recorded as an assumption check, not a condition: it bounds how stale the read points are, not
where the iterates go.

Each verdict records its ``evidence`` (the window, the distances, the bounds, the thresholds) and
``rules`` (:data:`RULES`, the version of these rules; stores written before version 2 record
none). Thresholds are parameters, fixed before the runs and recorded with every verdict.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from asyncconv.config import ConfigError, check_keys, check_number
from asyncconv.problems import Problem
from asyncconv.schedule import partition
from asyncconv.sim.simulate import METRIC_NAMES, PROBE_NAMES, SimResult
from asyncconv.theory import measures as ms
from asyncconv.theory.stats import fraction, multinomial_ci

__all__ = [
    "NOT_CONVERGING",
    "OUTCOMES",
    "RULES",
    "VERDICTS",
    "Thresholds",
    "evaluate",
    "evaluate_replica",
    "late_distance",
    "outcome",
    "pooled",
]

VERDICTS = ("converged", "stalled", "drifting", "diverged", "undecided")
#: the verdicts that say "the run stays away from the critical set"
NOT_CONVERGING = ("stalled", "drifting")
#: the question each verdict answers: does the run approach the critical set?
OUTCOMES = {
    "converged": "converging",
    "stalled": "not converging",
    "drifting": "not converging",
    "diverged": "diverged",
    "undecided": "undecided",
}
#: version of the verdict rules (1: the horizon-only rules of stores written before it was recorded)
RULES = 2
#: the largest share of Q3's maximum of D that Q4's may keep for the run to count as approaching
#: when the steps do not shrink (constant steps: chatter whose size does not decay)
APPROACH_CAP = 0.9
#: thresholds of earlier rules, refused with what replaced them
_REMOVED = {
    "dist_tol": "removed: converged and time-to-eps share thresholds.eps (one distance everywhere)",
    "slope_tol": "removed: 'still descending' compares the medians of f over the late window "
    "(thresholds.settle_tol)",
}


def outcome(verdict: str) -> str:
    """ "converging", "not converging", "diverged" or "undecided" (:data:`OUTCOMES`)."""
    return OUTCOMES.get(verdict, "undecided")


@dataclass(frozen=True)
class Thresholds:
    """Verdict thresholds (distances in D = dist / dist_scale; f-oscillation relative to 1 + |f|).
    See the module docstring."""

    eps: float = 1e-2
    stat_tol: float = 2e-2
    stall_tol: float = 5e-2
    stall_dist: float = 2.5e-2
    settle_tol: float = 1e-3
    age_tol: float = 0.1
    clock_tol: float = 0.02
    eta: float = 1e-3
    gs: bool = True  # gradient sampling at the final point (n <= measures.GS_MAX_N)
    gs_seed: int = 0

    def __post_init__(self) -> None:
        if self.stall_dist < self.eps:
            raise ConfigError(
                "thresholds.stall_dist",
                f"must be >= thresholds.eps (got {self.stall_dist:g} < {self.eps:g}): a run within eps "
                "cannot also be certified away",
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, path: str = "thresholds") -> Thresholds:
        d = dict(data or {})
        for k in d:
            if k in _REMOVED:
                raise ConfigError(f"{path}.{k}", _REMOVED[k])
        check_keys(d, set(cls.__dataclass_fields__), path)
        base = asdict(cls())
        for k, v in d.items():
            if k == "gs":
                if not isinstance(v, bool):
                    raise ConfigError(f"{path}.gs", f"must be true or false (got {v!r})")
                base[k] = v
            elif k == "gs_seed":
                base[k] = int(check_number(v, f"{path}.{k}", ge=0))
            else:
                base[k] = check_number(v, f"{path}.{k}", gt=0.0)
        if base["stall_dist"] < base["eps"]:
            raise ConfigError(
                f"{path}.stall_dist", f"must be >= {path}.eps (got {base['stall_dist']:g} < {base['eps']:g})"
            )
        return cls(**base)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _col(name: str) -> int:
    return METRIC_NAMES.index(name)


def _settle(metrics: np.ndarray, probes: np.ndarray) -> float | None:
    """Oscillation of f over the records (checkpoints and probes) in the second half of the writes,
    relative to 1 + |f_final|: it vanishes when the iterates have stopped moving per write (which
    also catches a premature stall in finite ODE time, Σγ < ∞)."""
    k = np.concatenate([metrics[:, _col("k")], probes[:, PROBE_NAMES.index("k")]])
    f = np.concatenate([metrics[:, _col("f")], probes[:, PROBE_NAMES.index("f")]])
    ok = np.isfinite(k) & np.isfinite(f)
    if ok.sum() < 2:
        return None
    k, f = k[ok], f[ok]
    sel = f[k >= 0.5 * k.max()]
    return float((sel.max() - sel.min()) / (1.0 + abs(f[np.argmax(k)])))


def _records(metrics: np.ndarray, probes: np.ndarray, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(t, value) of every finite record of ``column`` ("f" or "dist"), checkpoints and probes
    together, sorted by ODE time. Probes without the column (before it was recorded) add none."""
    t = [metrics[:, _col("t")]]
    v = [metrics[:, _col(column)]]
    if column in PROBE_NAMES and probes.shape[-1] > PROBE_NAMES.index(column):
        t.append(probes[:, PROBE_NAMES.index("t")])
        v.append(probes[:, PROBE_NAMES.index(column)])
    t, v = np.concatenate(t), np.concatenate(v)
    ok = np.isfinite(t) & np.isfinite(v)
    order = np.argsort(t[ok], kind="stable")
    return t[ok][order], v[ok][order]


def late_distance(metrics: np.ndarray, probes: np.ndarray, scale: float) -> dict[str, Any] | None:
    """D = dist / ``scale`` over the late window [T/2, T] of one run (T its final ODE time).

    ``metrics`` (checkpoints, len(METRIC_NAMES)) and ``probes`` (Q, len(PROBE_NAMES)) of one
    replica. Returns None without distances; else ``T``, ``n_q3``, ``n_q4`` (records in
    Q3 = [T/2, 3T/4) and Q4 = [3T/4, T]), ``max_q2`` (over [T/4, T/2)), ``max_q3``, ``max_q4``,
    ``min_q4``, ``min_late``, ``step_ratio`` and ``step_ratio_23`` (mean step Q4/Q3 and Q3/Q2) and
    ``end`` (D at the last record), None where a quarter holds no record.
    """
    t, d = _records(metrics, probes, "dist")
    if not t.size:
        return None
    d = d / scale
    tk = _records(metrics, probes, "k")
    T = float(t[-1])
    q2 = (t >= 0.25 * T) & (t < 0.5 * T)
    q3 = (t >= 0.5 * T) & (t < 0.75 * T)
    q4 = t >= 0.75 * T
    late = t >= 0.5 * T
    return {
        "T": T,
        "step_ratio": _step_ratio(tk, (0.5, 0.75), (0.75, 1.0 + 1e-12)),
        "step_ratio_23": _step_ratio(tk, (0.25, 0.5), (0.5, 0.75)),
        "max_q2": float(d[q2].max()) if q2.any() else None,
        "n_q3": int(q3.sum()),
        "n_q4": int(q4.sum()),
        "max_q3": float(d[q3].max()) if q3.any() else None,
        "max_q4": float(d[q4].max()),
        "min_q4": float(d[q4].min()),
        "min_late": float(d[late].min()),
        "end": float(d[-1]),
    }


def _step_ratio(tk: tuple[np.ndarray, np.ndarray], first: tuple, second: tuple) -> float | None:
    """γ̄(second) / γ̄(first): how much the mean step (ODE time per write, Δt/Δk between the first
    and the last record of a window, given as fractions of T) shrank from one quarter of [0, T] to
    the next; None without two records in each. Chatter around a critical point has a size
    proportional to the step, so its D shrinks by about this ratio; a run resting or drifting on a
    non-critical set does not. ``tk`` = (t, k) of the run's records (:func:`_records`)."""
    t, k = tk
    if not t.size:
        return None
    T = float(t[-1])
    mean = []
    for a, b in (first, second):
        sel = (t >= a * T) & (t < b * T)
        if sel.sum() < 2 or k[sel][-1] <= k[sel][0]:
            return None
        mean.append((t[sel][-1] - t[sel][0]) / (k[sel][-1] - k[sel][0]))
    return float(mean[1] / mean[0]) if mean[0] > 0 else None


def _allowed(rho: float | None) -> float:
    return APPROACH_CAP if rho is None else min(APPROACH_CAP, 0.5 * (1.0 + rho))


def _approaching(late: dict[str, Any]) -> tuple[bool, float | None]:
    """(still approaching, the ratio allowed from Q3 to Q4): D's maximum shrinks from quarter to
    quarter, Q2 -> Q3 -> Q4, each time to at most min(APPROACH_CAP, (1 + ρ) / 2) of the previous
    one, ρ the mean step's shrinkage: at least halfway towards what the shrinking steps alone would
    give chatter around a critical point. Two consecutive shrinkages, because a run drifting on a
    non-critical set has quarter maxima that rise and fall at random (one fall alone is common)."""
    q3 = late["max_q3"]
    if q3 is None or not q3 > 0:
        return False, None
    allowed = _allowed(late.get("step_ratio"))
    approaching = late["max_q4"] <= allowed * q3
    q2 = late.get("max_q2")
    if approaching and q2 is not None:
        approaching = q3 <= _allowed(late.get("step_ratio_23")) * q2
    return bool(approaching), allowed


def _descending(metrics: np.ndarray, probes: np.ndarray, tol: float) -> dict[str, Any]:
    """Whether f is still descending over the late window: the medians of f over the four eighths
    of [T/2, T] (ODE time) strictly decrease and fall by more than ``tol``·(1 + |f|) in all.
    A Lyapunov descent under the Clarke field (measures.md §3) shows this way; a run resting or
    drifting on a non-critical set (f up and down, or flat) does not."""
    t, f = _records(metrics, probes, "f")
    out: dict[str, Any] = {"medians": None, "descending": None}
    if not t.size:
        return out
    T = float(t[-1])
    edges = T * np.array([0.5, 0.625, 0.75, 0.875, 1.0 + 1e-12])
    med = []
    for a, b in itertools.pairwise(edges):
        sel = (t >= a) & (t < b)
        if not sel.any():
            return out
        med.append(float(np.median(f[sel])))
    drop = (med[0] - med[-1]) / (1.0 + abs(med[-1]))
    out["medians"] = med
    out["drop"] = float(drop)
    out["descending"] = bool(all(a > b for a, b in itertools.pairwise(med)) and drop > tol)
    return out


def _descent(probes: np.ndarray, clock: np.ndarray) -> tuple[float | None, float | None]:
    """(ODE-time slope −df/dt over the last quarter of the horizon, from the probes; the share of
    the ODE clock T that the second half of the writes added). A share near 0 means Σγ has
    (numerically) converged: the run can no longer move, whatever its slope."""
    T, t_half = float(clock[0]), float(clock[1])
    share = (T - t_half) / T if np.isfinite(T) and np.isfinite(t_half) and T > 0 else None
    t = probes[:, PROBE_NAMES.index("t")]
    f = probes[:, PROBE_NAMES.index("f")]
    ok = np.isfinite(t) & np.isfinite(f)
    if ok.sum() < 2:
        return None, share
    t, f = t[ok], f[ok]
    sel = t >= t[-1] - 0.25 * (t[-1] - 0.0)
    if sel.sum() < 2 or t[sel][-1] <= t[sel][0]:
        return None, share
    return float((f[sel][0] - f[sel][-1]) / (t[sel][-1] - t[sel][0])), share


def _sq_at_radius(sq, problem: Problem, x: np.ndarray, delta: float) -> dict[str, Any]:
    """s_η at η = 2·L̂·δ (see the module docstring, rule (d)); L̂ = the largest piece-gradient norm
    at x, a local Lipschitz estimate of the pieces."""
    pcs = sq.active_pieces(problem, x, np.inf)
    sq_norms = np.zeros(pcs.pptr.size - 1)
    if pcs.val.size:
        owner = np.repeat(np.arange(pcs.pptr.size - 1), np.diff(pcs.pptr))
        np.add.at(sq_norms, owner, pcs.val**2)
    lip = float(np.sqrt(sq_norms.max())) if sq_norms.size else 0.0
    eta = 2.0 * lip * delta
    return {"radius": delta, "lipschitz": lip, "eta": eta, "s": _scalar(sq.s_eta(problem, x, eta))}


def _measures(problem: Problem, result: SimResult, r: int, th: Thresholds, n_blocks: int | None) -> dict:
    """Every measure the verdict reads, at the final point and along run ``r`` (JSON-able)."""
    x = result.x_final[r]
    metrics, probes = result.metrics[r], result.probes[r]
    meas: dict[str, Any] = {"dk": ms.distance_known(problem, x)}
    meas["age"] = float(metrics[-1][_col("age")])
    meas["settle"] = _settle(metrics, probes)
    meas["slope"], meas["clock_share"] = _descent(probes, result.clock[r])
    meas["descent"] = _descending(metrics, probes, th.settle_tol)
    meas["late"] = late_distance(metrics, probes, problem.dist_scale)
    meas["momentum"] = ms.window_momentum(
        metrics[:, _col("t")], metrics[:, _col("unorm")], metrics[:, _col("velocity")]
    )
    meas["ly"] = ms.oscillation_windows(probes[:, PROBE_NAMES.index("t")], probes[:, PROBE_NAMES.index("f")])
    if result.tail.shape[1]:
        meas["tc"] = ms.trajectory_certificate(problem, x, result.tail[r], th.eps)
    if th.gs and problem.n <= ms.GS_MAX_N:
        ladder = [e for e in ms.EPS_LADDER if e <= th.eps * (1 + 1e-12)] or [th.eps]
        meas["gs"] = ms.gradient_sampling(problem, x, ladder=ladder, seed=th.gs_seed)
    try:
        from asyncconv.theory import structured as sq
    except ImportError:  # pragma: no cover - structured measure not built
        sq = None
    if sq is not None and sq.sq_available(problem):
        meas["sq"] = {"eta": th.eta, "s": _scalar(sq.s_eta(problem, x, th.eta))}
        if n_blocks is not None and n_blocks > 1:
            meas["sq"]["b"] = _scalar(sq.b_eta(problem, x, th.eta, partition(problem.n, n_blocks)))
        if not problem.critical_set_complete:
            meas["sq_radius"] = _sq_at_radius(sq, problem, x, th.stall_dist * problem.dist_scale)
    return meas


def _upper(meas: dict[str, Any]) -> tuple[float | None, str | None]:
    """The smallest upper bound on the Goldstein measure at radius eps (TC, GS) and its name."""
    best: tuple[float | None, str | None] = (None, None)
    tc = meas.get("tc")
    if tc is not None and tc.get("r") is not None:
        best = (float(tc["r"]), "TC")
    gs = meas.get("gs")
    if gs is not None and (best[0] is None or gs["rho"][0] < best[0]):
        best = (float(gs["rho"][0]), "GS")
    return best


def evaluate_replica(
    problem: Problem,
    result: SimResult,
    r: int,
    thresholds: Thresholds | None = None,
    *,
    n_blocks: int | None = None,
) -> dict[str, Any]:
    """The measures, the verdict and its evidence for replica ``r`` of ``result`` (JSON-able dict).

    Keys: ``replica``, ``status``, ``writes``, ``rules``, ``verdict`` (:data:`VERDICTS`),
    ``outcome`` (:data:`OUTCOMES`), ``reason`` (one line), ``evidence`` (``rule`` "a".."d" of the
    module docstring or None, the late window's distances, the descent test, the bounds used and
    the thresholds they were compared with), ``measures`` (everything measured),
    ``stationarity_upper`` / ``stationarity_lower``, and where they apply ``critical_point``,
    ``f_level`` (converged) and ``blockwise_critical`` (not converging). ``n_blocks`` (the
    schedule's block count) enables the blockwise measure b_η.
    """
    th = thresholds or Thresholds()
    out: dict[str, Any] = {
        "replica": r,
        "status": str(result.status[r]),
        "writes": int(result.writes_done[r]),
        "rules": RULES,
    }
    if out["status"] == "diverged" or not np.isfinite(result.x_final[r]).all():
        return _decide(
            out, "diverged", "iterates left the bounded region", {"rule": None, "status": out["status"]}
        )
    meas = _measures(problem, result, r, th, n_blocks)
    out["measures"] = meas
    upper, upper_name = _upper(meas)
    lower = meas["sq"]["s"] if "sq" in meas else None
    out["stationarity_upper"] = upper
    out["stationarity_lower"] = lower
    dk, late, desc = meas["dk"], meas["late"], meas["descent"]
    settled = meas["settle"] is not None and meas["settle"] <= th.settle_tol
    exhausted = meas["clock_share"] is not None and meas["clock_share"] < th.clock_tol
    descending = bool(desc["descending"]) and not exhausted
    d_end = dk["dist_rel"]
    if late is not None and d_end is not None:
        late["end"] = d_end  # the final point's own D (a problem's exact distance where it has one)
    ev: dict[str, Any] = {
        "rule": None,
        "window": late,
        "settled": settled,
        "settle": meas["settle"],
        "descending": descending,
        "clock_exhausted": exhausted,
        "age_ok": math.isfinite(meas["age"]) and meas["age"] <= th.age_tol,
        "upper": upper,
        "upper_measure": upper_name,
        "catalogue_complete": dk["complete"],
        "thresholds": {
            k: getattr(th, k) for k in ("eps", "stall_dist", "stat_tol", "stall_tol", "settle_tol")
        },
    }
    # (a) near a catalogued critical point and staying near
    if late is not None and d_end is not None and d_end <= th.eps and late["max_q4"] <= th.stall_dist:
        ev["rule"] = "a"
        out["critical_point"] = dk["nearest"]
        if "f_level" in dk:
            out["f_level"] = dk["f_level"]
        return _decide(
            out, "converged",
            f"D = {d_end:.3g} <= eps = {th.eps:g} at the end, <= {th.stall_dist:g} over the last quarter "
            f"(max {late['max_q4']:.3g})", ev,
        )  # fmt: skip
    # (b) an uncatalogued critical point, certified from above
    if not dk["complete"] and settled and upper is not None and upper <= th.stat_tol:
        ev["rule"] = "b"
        out["critical_point"] = None
        return _decide(
            out, "converged",
            f"f settled ({meas['settle']:.2g}) and {upper_name} upper bound {upper:.3g} <= {th.stat_tol:g} at "
            f"radius {th.eps:g}", ev,
        )  # fmt: skip
    away = None
    approaching = False
    if dk["complete"] and late is not None and late["max_q4"] > th.stall_dist:
        approaching, allowed = _approaching(late)
        late["approach_allowed"] = allowed
        if upper is not None and upper <= th.stat_tol and d_end is not None and d_end > th.stall_dist:
            return _decide(
                out, "undecided",
                f"{upper_name} certifies stationarity ({upper:.3g} <= {th.stat_tol:g}) at D = {d_end:.3g} "
                f"> {th.stall_dist:g} from the complete catalogue: ill-conditioned at this radius", ev,
            )  # fmt: skip
        ev["rule"] = "c"
        away = (
            f"D reaches {late['max_q4']:.3g} > {th.stall_dist:g} over the last quarter "
            f"(complete catalogue; D = {d_end:.3g} at the end)"
        )
    elif not dk["complete"] and "sq_radius" in meas and meas["sq_radius"]["s"] > th.stall_tol:
        sr = meas["sq_radius"]
        ev["rule"] = "d"
        ev["sq_radius"] = sr
        away = (
            f"SQ lower bound {sr['s']:.3g} > {th.stall_tol:g} at radius {sr['radius']:.3g} "
            f"(eta = {sr['eta']:.3g}): no critical point within it"
        )
    if away is not None and approaching:
        ev["rule"] = None
        return _decide(
            out, "undecided",
            f"still approaching: D's maximum fell from {late['max_q3']:.3g} (third quarter) to "
            f"{late['max_q4']:.3g} (last quarter; <= {late['approach_allowed']:.2g} x: the steps shrank "
            f"by {late['step_ratio'] or 1:.2g})", ev,
        )  # fmt: skip
    if away is not None and descending:
        ev["rule"] = None
        return _decide(out, "undecided", f"still descending: {_medians(desc)}", ev)
    if away is not None:
        b = meas.get("sq", {}).get("b")
        out["blockwise_critical"] = None if b is None else bool(b <= th.stat_tol)
        if exhausted:
            away += f"; the ODE clock stopped (the second half of the writes added {meas['clock_share']:.2g} of T)"
        if out["blockwise_critical"]:
            away += f"; blockwise-critical (b_eta = {b:.2g})"
        if settled:
            return _decide(out, "stalled", f"settled; {away}", ev)
        return _decide(out, "drifting", f"f still moves ({meas['settle']:.2g}); {away}", ev)
    # undecided: say what is missing
    if descending:
        reason = f"still descending: {_medians(desc)}"
    elif dk["complete"] and late is not None:
        reason = (
            f"within {th.stall_dist:g} over the last quarter (max D {late['max_q4']:.3g}) but D = "
            f"{d_end:.3g} > eps = {th.eps:g} at the end"
        )
    elif not settled:
        reason = "still moving: f oscillates over the second half of the writes, and no certified distance"
    elif upper is not None:
        reason = f"no certified distance, and {upper_name} upper bound {upper:.3g} > {th.stat_tol:g}"
    else:
        reason = "no measure decisive: no complete catalogue, no lower bound, no certificate"
    return _decide(out, "undecided", reason, ev)


def _medians(desc: dict[str, Any]) -> str:
    med = ", ".join(f"{m:.4g}" for m in desc["medians"])
    return f"the medians of f over the eighths of [T/2, T] fall ({med})"


def _decide(out: dict[str, Any], verdict: str, reason: str, evidence: dict[str, Any]) -> dict[str, Any]:
    out.update(verdict=verdict, outcome=outcome(verdict), reason=reason, evidence=evidence)
    return out


def _scalar(v: Any) -> float:
    if isinstance(v, dict):
        for key in ("value", "s", "b", "norm"):
            if key in v:
                return float(v[key])
    if isinstance(v, tuple):
        return float(v[0])
    return float(v)


def evaluate(
    problem: Problem, result: SimResult, thresholds: Thresholds | None = None, *, n_blocks: int | None = None
) -> list[dict[str, Any]]:
    """:func:`evaluate_replica` for every replica."""
    return [
        evaluate_replica(problem, result, r, thresholds, n_blocks=n_blocks) for r in range(result.n_replicas)
    ]


def pooled(
    records: list[dict[str, Any]], level: float = 0.95, method: str = "clopper-pearson"
) -> dict[str, Any]:
    """Verdict fractions with intervals (Clopper–Pearson by default), the same for the outcomes
    (``outcomes``: converging / not converging / diverged / undecided), and, among converged runs,
    the critical points reached with simultaneous (Goodman) intervals (measures.md §8.1–8.2).
    Verdicts of earlier rules (no "drifting") are counted as they are."""
    n = len(records)
    counts = {v: sum(rec["verdict"] == v for rec in records) for v in VERDICTS}
    out: dict[str, Any] = {
        "n": n,
        "fractions": {v: fraction(counts[v], n, level, method) for v in VERDICTS},
        "outcomes": {
            o: fraction(sum(counts[v] for v in VERDICTS if OUTCOMES[v] == o), n, level, method)
            for o in dict.fromkeys(OUTCOMES.values())
        },
    }
    reached = [rec.get("critical_point") for rec in records if rec["verdict"] == "converged"]
    labels = sorted({c for c in reached if c is not None})
    if labels:
        cnt = [sum(c == lab for c in reached) for lab in labels]
        out["critical_points"] = {
            str(lab): iv for lab, iv in zip(labels, multinomial_ci(cnt, level), strict=True)
        }
    return out
