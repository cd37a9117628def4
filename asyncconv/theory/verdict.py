"""Per-run verdicts at the horizon and pooled fractions with intervals (measures.md §8.1–8.2).

A run is

* **diverged** — the kernel flagged |x_i| beyond its bound, or a metric is not finite;
* **converged** — it has *settled* (f varies by at most ``settle_tol`` over the second half of
  the writes), the step × delay product has vanished (``age`` <= ``age_tol``, the theory's
  α_k τ_k -> 0), and stationarity is *certified*: an upper bound (TC or GS at radius ``eps``) is
  <= ``stat_tol``, or the point is within ``dist_tol`` of a catalogued critical point of a
  problem whose catalogue is the whole critical set. The critical point reached is named when one
  is catalogued (for NS2 also the f-level k of f = k·2^{-n});
* **stalled** — settled, not converged, no longer descending in ODE time (−df/dt over the last
  quarter of the horizon <= ``slope_tol``, unless the ODE clock itself has stopped: the second
  half of the writes added less than ``clock_tol`` of T, as when Σγ < ∞), and there is evidence
  of non-criticality: the SQ lower
  bound s_η > ``stall_tol`` (regular problems), or the distance to a complete catalogue exceeds
  ``stall_dist``, or the GS ladder keeps a floor ρ_ε > ``stall_tol`` on every rung ε <= ``eps``.
  When the blockwise measure b_η is <= ``stat_tol`` there, the stall is at a blockwise-critical
  point (the product field (P) of measures.md §3);
* **undecided** — anything else (still moving, a violated step × delay condition, or no measure
  decisive at this horizon).

Thresholds are parameters, fixed before the runs and recorded with every verdict.
"""

from __future__ import annotations

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

__all__ = ["VERDICTS", "Thresholds", "evaluate", "evaluate_replica", "pooled"]

VERDICTS = ("converged", "stalled", "diverged", "undecided")


@dataclass(frozen=True)
class Thresholds:
    """Verdict thresholds (absolute; f-oscillation relative to 1 + |f|). See the module docstring."""

    eps: float = 1e-2
    stat_tol: float = 2e-2
    stall_tol: float = 5e-2
    dist_tol: float = 1e-2
    stall_dist: float = 5e-2
    settle_tol: float = 1e-3
    age_tol: float = 0.1
    slope_tol: float = 1e-3
    clock_tol: float = 0.02
    eta: float = 1e-3
    gs: bool = True  # gradient sampling at the final point (n <= measures.GS_MAX_N)
    gs_seed: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, path: str = "thresholds") -> Thresholds:
        d = dict(data or {})
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


def evaluate_replica(
    problem: Problem,
    result: SimResult,
    r: int,
    thresholds: Thresholds | None = None,
    *,
    n_blocks: int | None = None,
) -> dict[str, Any]:
    """The measures and the verdict of replica ``r`` of ``result`` (JSON-able dict).

    ``n_blocks`` (the schedule's block count) enables the blockwise measure b_η.
    """
    th = thresholds or Thresholds()
    out: dict[str, Any] = {
        "replica": r,
        "status": str(result.status[r]),
        "writes": int(result.writes_done[r]),
    }
    x = result.x_final[r]
    metrics = result.metrics[r]
    if out["status"] == "diverged" or not np.isfinite(x).all():
        out.update(verdict="diverged", reason="iterates left the bounded region")
        return out
    meas: dict[str, Any] = {"dk": ms.distance_known(problem, x)}
    last = metrics[-1]
    meas["age"] = float(last[_col("age")])
    meas["settle"] = _settle(metrics, result.probes[r])
    meas["slope"], meas["clock_share"] = _descent(result.probes[r], result.clock[r])
    meas["momentum"] = ms.window_momentum(
        metrics[:, _col("t")], metrics[:, _col("unorm")], metrics[:, _col("velocity")]
    )
    pr = result.probes[r]
    meas["ly"] = ms.oscillation_windows(pr[:, PROBE_NAMES.index("t")], pr[:, PROBE_NAMES.index("f")])
    upper: list[float] = []
    if result.tail.shape[1]:
        tc = ms.trajectory_certificate(problem, x, result.tail[r], th.eps)
        meas["tc"] = tc
        if tc["r"] is not None:
            upper.append(tc["r"])
    gs_floor = None
    if th.gs and problem.n <= ms.GS_MAX_N:
        ladder = [e for e in ms.EPS_LADDER if e <= th.eps * (1 + 1e-12)] or [th.eps]
        gs = ms.gradient_sampling(problem, x, ladder=ladder, seed=th.gs_seed)
        meas["gs"] = gs
        upper.append(gs["rho"][0])
        gs_floor = min(gs["rho"])
    lower = None
    try:
        from asyncconv.theory import structured as sq
    except ImportError:  # pragma: no cover - structured measure not built
        sq = None
    if sq is not None and problem.regular and sq.sq_available(problem):
        s = sq.s_eta(problem, x, th.eta)
        meas["sq"] = {"eta": th.eta, "s": _scalar(s)}
        lower = meas["sq"]["s"]
        if n_blocks is not None and n_blocks > 1:
            meas["sq"]["b"] = _scalar(sq.b_eta(problem, x, th.eta, partition(problem.n, n_blocks)))
    out["measures"] = meas
    stat_upper = min(upper) if upper else None
    out["stationarity_upper"] = stat_upper
    out["stationarity_lower"] = lower
    dk = meas["dk"]
    settled = meas["settle"] is not None and meas["settle"] <= th.settle_tol
    age_ok = math.isfinite(meas["age"]) and meas["age"] <= th.age_tol
    near_known = dk["dist_rel"] is not None and dk["dist_rel"] <= th.dist_tol
    certified = (stat_upper is not None and stat_upper <= th.stat_tol) or (near_known and dk["complete"])
    if settled and age_ok and certified:
        out["verdict"] = "converged"
        out["critical_point"] = dk["nearest"] if near_known else None
        if "f_level" in dk:
            out["f_level"] = dk["f_level"]
        out["reason"] = "settled, step x delay vanished, stationarity certified"
        return out
    evidence = []
    if lower is not None and lower > th.stall_tol:
        evidence.append(f"SQ lower bound {lower:.3g} > {th.stall_tol:g}")
    if dk["complete"] and dk["dist_rel"] is not None and dk["dist_rel"] > th.stall_dist:
        evidence.append(f"distance {dk['dist_rel']:.3g} to the complete critical set > {th.stall_dist:g}")
    if gs_floor is not None and gs_floor > th.stall_tol:
        evidence.append(f"GS floor {gs_floor:.3g} > {th.stall_tol:g} on every rung")
    exhausted = meas["clock_share"] is not None and meas["clock_share"] < th.clock_tol
    descending = meas["slope"] is not None and meas["slope"] > th.slope_tol and not exhausted
    if exhausted:
        evidence.append(
            f"the ODE clock stopped: the second half of the writes added {meas['clock_share']:.2g} of T"
        )
    if settled and evidence and not descending:
        out["verdict"] = "stalled"
        b = meas.get("sq", {}).get("b")
        out["blockwise_critical"] = None if b is None else bool(b <= th.stat_tol)
        out["reason"] = "; ".join(evidence)
        return out
    out["verdict"] = "undecided"
    if not settled:
        out["reason"] = "still moving: f oscillates over the second half of the writes"
    elif descending:
        out["reason"] = f"still descending in ODE time: -df/dt = {meas['slope']:.3g} > {th.slope_tol:g}"
    elif not age_ok:
        out["reason"] = f"step x delay max {meas['age']:.3g} > {th.age_tol:g} at the horizon"
    else:
        out["reason"] = "no measure decisive at this horizon"
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
    """Verdict fractions with intervals (Clopper–Pearson by default), and, among converged runs,
    the critical points reached with simultaneous (Goodman) intervals (measures.md §8.1–8.2)."""
    n = len(records)
    counts = {v: sum(rec["verdict"] == v for rec in records) for v in VERDICTS}
    out: dict[str, Any] = {
        "n": n,
        "fractions": {v: fraction(counts[v], n, level, method) for v in VERDICTS},
    }
    reached = [rec.get("critical_point") for rec in records if rec["verdict"] == "converged"]
    labels = sorted({c for c in reached if c is not None})
    if labels:
        cnt = [sum(c == lab for c in reached) for lab in labels]
        out["critical_points"] = {
            str(lab): iv for lab, iv in zip(labels, multinomial_ci(cnt, level), strict=True)
        }
    return out
