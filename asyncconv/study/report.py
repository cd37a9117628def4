"""A study's report: per configuration, verdict fractions with intervals, final-metric quantiles,
time-to-ε, and the paired comparisons the spec asks for (reference/measures.md §8).

All statistics come from ``theory`` (``pooled``, ``kaplan_meier``, ``mcnemar_exact``,
``wilcoxon_paired``, ``logrank``, ``holm``); this module only selects the data. Comparisons pair
replica r of configuration A with replica r of configuration B: both used the same seeds (common
random numbers, ``study.spec``), which is what the paired tests need.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from asyncconv.study.spec import VERDICT_METRICS
from asyncconv.study.store import Results, open_results

__all__ = ["FINAL_METRICS", "report", "time_to_eps"]

#: final metrics summarised by quantiles in the report
FINAL_METRICS = ("f_gap_final", "dist_rel_final", "stationarity_upper", "unorm_final", "age_final", "t_final")
QUANTILES = (0.1, 0.5, 0.9)


def _records(df) -> list[dict[str, Any]]:
    """Verdict records for ``theory.pooled`` (a missing critical point reads back as NaN or None)."""
    return [
        {"verdict": v, "critical_point": cp if isinstance(cp, str) else None}
        for v, cp in zip(df["verdict"].tolist(), df["critical_point"].tolist(), strict=True)
    ]


def time_to_eps(res: Results, config: int, eps: float) -> tuple[np.ndarray, np.ndarray, str]:
    """First ODE time at which the distance D = dist / dist_scale to the critical set is <= ``eps``
    (the one distance and the one ε of the verdicts: a converged run has reached it), read from the
    checkpoints and the probes together; where no critical point is catalogued, f − f_ref. Per
    finished replica of ``config``, right-censored at the horizon.

    Returns (time (R,), observed (R,), metric name: "dist_rel", "dist" (a store written before the
    scale was recorded) or "f_gap")."""
    from asyncconv.theory.stats import first_passage

    m = res.trajectories["metrics"].isel(config=config)
    rows = res.summary.loc[res.summary["config"] == config].sort_values("replica")
    done = rows["replica"].to_numpy()
    t = m.sel(metric="t").values[done].astype(np.float64)
    vals = m.sel(metric="dist").values[done].astype(np.float64)
    metric = "dist"
    if np.isfinite(vals).any():
        pr = res.trajectories["probes"].isel(config=config)
        if "dist" in list(pr["field"].values):
            t = np.concatenate([t, pr.sel(field="t").values[done].astype(np.float64)], axis=1)
            vals = np.concatenate([vals, pr.sel(field="dist").values[done].astype(np.float64)], axis=1)
        scale = rows["dist_scale"].to_numpy(dtype=np.float64)
        if np.isfinite(scale).all():
            vals = vals / scale[:, None]
            metric = "dist_rel"
    else:
        metric = "f_gap"
        vals = m.sel(metric="f_gap").values[done].astype(np.float64)
    order = np.argsort(t, axis=1, kind="stable")  # NaN times last
    t, vals = np.take_along_axis(t, order, axis=1), np.take_along_axis(vals, order, axis=1)
    time, observed = first_passage(t, vals, eps)
    return time, observed, metric


def _quantiles(x: np.ndarray) -> dict[str, Any]:
    x = x[np.isfinite(x)]
    if not x.size:
        return {"n": 0, **{f"q{int(q * 100)}": None for q in QUANTILES}}
    qs = np.quantile(x, QUANTILES)
    return {"n": int(x.size), **{f"q{int(q * 100)}": float(v) for q, v in zip(QUANTILES, qs, strict=True)}}


def report(root: str | Path | Results, level: float = 0.95) -> dict[str, Any]:
    """The report of a (possibly incomplete) study as a JSON-able dict."""
    from asyncconv.theory import pooled
    from asyncconv.theory.stats import holm, kaplan_meier

    res = root if isinstance(root, Results) else open_results(root)
    spec = res.spec
    eps = float(spec["thresholds"]["eps"])
    summ = res.summary
    configs = []
    tte: dict[int, tuple[np.ndarray, np.ndarray, str]] = {}
    for c in spec["configs"]:
        df = summ[summ["config"] == c["id"]] if len(summ) else summ
        entry: dict[str, Any] = {
            "id": c["id"],
            "label": c["label"],
            "labels": c["labels"],
            "problem": c["problem"]["name"],
            "n": c["problem"]["n"],
            "events": c["events"],
            "replicas": len(df),
        }
        if len(df):
            entry["verdicts"] = pooled(_records(df), level)
            entry["final"] = {m: _quantiles(df[m].to_numpy(dtype=np.float64)) for m in FINAL_METRICS}
            tte[c["id"]] = time_to_eps(res, c["id"], eps)
            t, o, metric = tte[c["id"]]
            km = kaplan_meier(t, o, level=level)
            entry["time_to_eps"] = {
                "metric": metric,
                "eps": eps,
                "reached": int(o.sum()),
                "median": km["median"],
                "median_ci": km["median_ci"],
                "quantiles": dict(zip(("q25", "q50", "q75"), km["quantiles"], strict=True)),
            }
        configs.append(entry)
    comparisons = _comparisons(res, spec, tte)
    adj = holm([c["pvalue"] for c in comparisons])
    for c, p in zip(comparisons, adj, strict=True):
        c["pvalue_holm"] = p
    rules = sorted({int(r) for r in summ["rules"]}) if len(summ) else []
    return {
        "study": spec["name"],
        "verdict_rules": rules,
        "description": spec["description"],
        "dir": str(res.root),
        "complete": res.complete,
        "replicas_per_config": spec["replicas"],
        "thresholds": spec["thresholds"],
        "level": level,
        "configs": configs,
        "comparisons": comparisons,
    }


def _indicator(df, metric: str) -> np.ndarray:
    """Per replica: is the verdict ``metric`` (or, for "not_converging", stalled or drifting)?"""
    from asyncconv.theory.verdict import NOT_CONVERGING

    want = NOT_CONVERGING if metric == "not_converging" else (metric,)
    return df["verdict"].isin(want).to_numpy()


def _partner(configs: list[dict[str, Any]], c: dict[str, Any], axis: str, b: str) -> dict[str, Any] | None:
    want = {**c["labels"], axis: b}
    for d in configs:
        if d["labels"] == want:
            return d
    return None


def _comparisons(res: Results, spec: dict[str, Any], tte) -> list[dict[str, Any]]:
    from asyncconv.theory.stats import logrank, mcnemar_exact, wilcoxon_paired

    out = []
    summ = res.summary
    if not len(summ):
        return out
    for cmp in spec["compare"]:
        axis, a, b = cmp["axis"], cmp["a"], cmp["b"]
        for ca in spec["configs"]:
            if ca["labels"].get(axis) != a:
                continue
            cb = _partner(spec["configs"], ca, axis, b)
            if cb is None:
                continue
            da = summ[summ["config"] == ca["id"]].set_index("replica")
            db = summ[summ["config"] == cb["id"]].set_index("replica")
            common = da.index.intersection(db.index)
            if not len(common):
                continue
            da, db = da.loc[common], db.loc[common]
            context = {k: v for k, v in ca["labels"].items() if k != axis}
            for metric in cmp["metrics"]:
                row: dict[str, Any] = {
                    "axis": axis, "a": a, "b": b, "context": context, "config_a": ca["id"], "config_b": cb["id"],
                    "metric": metric, "pairs": len(common),
                }  # fmt: skip
                if metric in VERDICT_METRICS:
                    ia, ib = _indicator(da, metric), _indicator(db, metric)
                    r = mcnemar_exact(ia, ib)
                    row.update(test="exact McNemar (paired)", result=r, pvalue=r.get("pvalue"))
                    row["a_value"] = float(ia.mean())
                    row["b_value"] = float(ib.mean())
                elif metric == "time_to_eps":
                    ta, oa, _ = tte[ca["id"]]
                    tb, ob, _ = tte[cb["id"]]
                    r = logrank(ta, oa, tb, ob)
                    row.update(test="log-rank", result=r, pvalue=r.get("pvalue"))
                    row["a_value"], row["b_value"] = int(oa.sum()), int(ob.sum())
                else:
                    xa, xb = da[metric].to_numpy(np.float64), db[metric].to_numpy(np.float64)
                    r = wilcoxon_paired(xa, xb)
                    row.update(test="Wilcoxon signed-rank (paired)", result=r, pvalue=r.get("pvalue"))
                    row["a_value"] = float(np.nanmedian(xa)) if np.isfinite(xa).any() else None
                    row["b_value"] = float(np.nanmedian(xb)) if np.isfinite(xb).any() else None
                out.append(row)
    return out
