"""Statistics of a schedule and checks of the theorem's scheduling assumptions.

The assumptions (``reference/model.md`` §3, after Cannelli et al., arXiv 1607.04818) are

* **bounded delay**: d_j^k <= δ for all k, j;
* **step-delay condition** (the weaker variant): γ_k · d^k -> 0. With γ_k ∝ k^-p and delays whose
  tail has index a (P(d >= x) ~ x^-a), the running maximum of d^k grows like k^(1/a), so the
  condition holds iff a p > 1;
* **p_min > 0**: P(block j is updated at k | past) >= p_min > 0 for every j and every history.

Only the model can guarantee a bound; a finite sample can only fail to refute one. The p_min check
is empirical: the smallest block-update frequency over windows long enough that the rarest block
is expected 30 times per window (a zero is then evidence, not chance: e^-30), and over histories
summarised by the previous write's block (or writer, for whole-owned-set writes). p_min > 0 is
reported as holding only when that minimum is positive over at least two such windows and no
block's update frequency falls significantly from the first half of the schedule to the second
(conditional binomial test, Bonferroni over blocks, level 1e-6): a frequency that decays to zero
(p_min = 0 with every block still updated infinitely often) is a violation.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from asyncconv.schedule.schedule import Schedule

__all__ = [
    "autocorrelation",
    "block_frequencies",
    "delay_histogram",
    "delay_summary",
    "hill_tail_index",
    "p_min_estimate",
    "schedule_stats",
    "writer_frequencies",
]

QUANTILES = (0.5, 0.9, 0.99, 0.999)
#: expected count of the rarest block per window in the p_min estimate
WINDOW_EXPECTED_COUNT = 30
#: significance (Bonferroni over blocks) of the decaying-frequency test in the p_min check
DECAY_ALPHA = 1e-6
#: default number of parametric-bootstrap replicates of the delay goodness-of-fit test in
#: ``schedule_stats`` (about 10 ms each at 100k events; replicates are capped at 200k events)
STATS_N_BOOT = 99


def delay_histogram(delays: np.ndarray, max_bins: int = 60) -> dict[str, list]:
    """Histogram of integer delays: unit bins up to ``max_bins``, log-spaced integer edges beyond.

    Returns ``{"edges": [...], "counts": [...]}`` with bins [edges[i], edges[i + 1]).
    """
    d = np.asarray(delays)
    top = int(d.max()) if d.size else 0
    if top < max_bins:
        edges = np.arange(top + 2)
    else:
        edges = np.unique(np.round(np.geomspace(1, top + 1, max_bins)).astype(np.int64))
        edges = np.concatenate([[0], edges])
        if edges[-1] <= top:
            edges = np.append(edges, top + 1)
    counts, _ = np.histogram(d, bins=edges)
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def delay_summary(delays: np.ndarray, quantiles: tuple[float, ...] = QUANTILES) -> dict[str, Any]:
    """Mean, standard deviation, max, quantiles and histogram of integer delays."""
    d = np.asarray(delays)
    if d.size == 0:
        return {"mean": None, "std": None, "max": None, "quantiles": {}, "histogram": delay_histogram(d)}
    q = np.quantile(d, quantiles, method="inverted_cdf")
    return {
        "mean": float(d.mean()),
        "std": float(d.std()),
        "max": int(d.max()),
        "quantiles": {f"{p:g}": int(v) for p, v in zip(quantiles, q, strict=True)},
        "histogram": delay_histogram(d),
    }


def hill_tail_index(x: np.ndarray, k: int | None = None) -> dict[str, Any]:
    """Hill estimator of the tail index a of positive data (P(X > x) ~ x^-a).

    a_hat = k / Σ_{i<k} log(X_(i) / X_(k)) over the k + 1 largest values X_(0) >= ... >= X_(k)
    (Hill, Ann. Statist. 3(5), 1975); standard error a_hat / sqrt(k). Default k = ceil(sqrt(n)).
    Returns ``{"tail_index": a_hat or None, "k": k, "stderr": ...}``; ``None`` when the top
    values are all equal (no tail to speak of, e.g. bounded delays).
    """
    x = np.asarray(x, dtype=float)
    x = x[x > 0]
    n = x.size
    if n < 20:
        return {"tail_index": None, "k": 0, "stderr": None}
    if k is None:
        k = math.ceil(math.sqrt(n))
    k = int(min(max(k, 5), n - 1))
    top = -np.partition(-x, k)[: k + 1]
    top.sort()
    top = top[::-1]
    s = float(np.log(top[:k] / top[k]).sum())
    if s <= 0.0:
        return {"tail_index": None, "k": k, "stderr": None}
    a = k / s
    return {"tail_index": a, "k": k, "stderr": a / math.sqrt(k)}


def autocorrelation(x: np.ndarray, max_lag: int = 10) -> list[float]:
    """Sample autocorrelation at lags 1..max_lag (0 for a constant series)."""
    x = np.asarray(x, dtype=float)
    x = x - x.mean()
    # np.sum of products, not np.dot: BLAS splits long dot products across its threads, which
    # changes the last bits with the thread count (results must not depend on it)
    var = float(np.sum(x * x))
    if var == 0.0 or x.size < 2:
        return [0.0] * max_lag
    return [float(np.sum(x[:-lag] * x[lag:]) / var) if lag < x.size else 0.0 for lag in range(1, max_lag + 1)]


def block_frequencies(schedule: Schedule) -> np.ndarray:
    """Fraction of writes that update each block; shape (B,)."""
    return schedule.block_counts() / max(schedule.n_events, 1)


def writer_frequencies(schedule: Schedule) -> np.ndarray:
    """Fraction of writes by each worker; shape (P,)."""
    return np.bincount(schedule.writer, minlength=schedule.n_workers) / max(schedule.n_events, 1)


def p_min_estimate(schedule: Schedule) -> dict[str, Any]:
    """Empirical p_min: smallest conditional block-update frequency over windows and histories.

    * windows: non-overlapping windows of W = ceil(30 / f_min) writes, f_min the smallest overall
      block frequency; the minimum over windows and blocks of the window frequency;
    * histories: for each context (the previous write's block, or its writer when it covered the
      owned set) seen at least W times, the frequency with which each block is updated next.

    Returns ``{"p_min_hat", "window", "p_min_window", "p_min_context", "worst_block", ...}``.
    """
    K, B = schedule.n_events, schedule.n_blocks
    freq = block_frequencies(schedule)
    f_min = float(freq.min()) if K else 0.0
    if f_min == 0.0:
        worst = int(np.argmin(freq))
        return {
            "p_min_hat": 0.0, "n_windows": 0, "decay_block": None, "decay_pvalue": None,
            "window": K, "p_min_window": 0.0, "p_min_context": 0.0,
            "worst_block": worst, "worst_context": None, "n_contexts": 0,
        }  # fmt: skip
    W = min(K, math.ceil(WINDOW_EXPECTED_COUNT / f_min))
    n_win = max(K // W, 1)
    context = np.where(schedule.block >= 0, schedule.block, B + schedule.writer)[:-1]
    n_ctx = B + schedule.n_workers
    ctx_total = np.bincount(context, minlength=n_ctx)
    usable = ctx_total >= W
    p_win, p_ctx = 1.0, 1.0
    worst_block, worst_ctx = 0, None
    half = K // 2
    counts1 = np.zeros(B, dtype=np.int64)  # updates of each block in the first half
    for j in range(B):
        cov = schedule.covers(j)
        counts1[j] = cov[:half].sum()
        w = cov[: n_win * W].reshape(n_win, W).sum(axis=1).min() / W
        if w < p_win:
            p_win, worst_block = float(w), j
        if usable.any() and K > 1:
            cnt = np.bincount(context[cov[1:]], minlength=n_ctx)
            ratio = cnt[usable] / ctx_total[usable]
            i = int(np.argmin(ratio))
            if ratio[i] < p_ctx:
                p_ctx = float(ratio[i])
                worst_ctx = int(np.flatnonzero(usable)[i])
                if p_ctx < p_win:
                    worst_block = j
    ctx_desc = None
    if worst_ctx is not None:
        ctx_desc = f"after block {worst_ctx}" if worst_ctx < B else f"after worker {worst_ctx - B}"
    # decay: is some block updated significantly less often in the second half than in the first?
    # Under a constant rate, n2 | n1 + n2 ~ Binomial(n1 + n2, 1/2); Bonferroni over blocks.
    counts2 = schedule.block_counts() - counts1
    n2_expected = (K - half) / max(half, 1)
    pvals = stats.binom.cdf(counts2, counts1 + counts2, n2_expected / (1.0 + n2_expected))
    decay_block = int(np.argmin(pvals))
    decay_p = float(min(1.0, pvals[decay_block] * B))
    return {
        "p_min_hat": min(p_win, p_ctx),
        "n_windows": int(K // W),
        "decay_block": decay_block,
        "decay_pvalue": decay_p,
        "window": int(W),
        "p_min_window": p_win,
        "p_min_context": p_ctx if usable.any() else None,
        "worst_block": worst_block,
        "worst_context": ctx_desc,
        "n_contexts": int(usable.sum()),
    }


def _p_min_detail(pm: dict[str, Any]) -> str:
    where = f"block {pm['worst_block']}" + (f", {pm['worst_context']}" if pm["worst_context"] else "")
    text = f"smallest conditional update frequency {pm['p_min_hat']:.4g} ({where}; windows of {pm['window']} writes)"
    if pm["n_windows"] < 2:
        text += "; too few writes to see the rarest block 30 times in each of 2 windows"
    if pm["decay_pvalue"] is not None and pm["decay_pvalue"] < DECAY_ALPHA:
        text += f"; block {pm['decay_block']} is updated less and less (p = {pm['decay_pvalue']:.2g})"
    return text


def _model_of(schedule: Schedule):
    from asyncconv.schedule.model import ScheduleModel

    if schedule.model is None:
        return None
    try:
        return ScheduleModel.from_dict(schedule.model)
    except ValueError:
        return None


def schedule_stats(
    schedule: Schedule,
    *,
    step_exponent: float = 0.75,
    max_lag: int = 10,
    n_boot: int = STATS_N_BOOT,
    seed: int | None = None,
) -> dict[str, Any]:
    """All statistics of ``schedule`` as one JSON-able dict.

    Keys: ``n_events``, ``n_workers``, ``n_blocks``, ``source``, ``delay`` (of the oldest block,
    k - read_lo: mean, std, max, quantiles, histogram), ``delay_min`` (k - read_hi), ``torn_fraction``,
    ``block_freq``, ``writer_freq``, ``p_min_hat`` (with ``p_min`` details), ``tail_index`` (Hill,
    with ``tail``), ``delay_autocorrelation`` (lags 1..max_lag), ``declared_delay_bound``,
    ``assumptions`` {name: bool}, ``assumption_details`` {name: text} and ``tests``, the tests of
    the delay model (:mod:`asyncconv.schedule.gof`, measures.md §8.4): ``delay_gof`` (χ² goodness
    of fit to the model's delay law, with a parametric-bootstrap p-value from ``n_boot`` redrawn
    schedules seeded by (schedule.seed, ``seed``); ``n_boot = 0`` skips the bootstrap),
    ``block_delay_independence`` ({"block", "writer"} × delay-bin χ² tests) and
    ``delay_homogeneity`` (early against late half).

    ``step_exponent`` p is that of the step sizes γ_k ∝ k^-p used in the step-delay condition
    (default 0.75, ``reference/model.md`` §4).
    """
    from asyncconv.schedule.gof import block_delay_independence, delay_gof, delay_homogeneity

    d = schedule.delay()
    dmin = schedule.delay_min()
    bf = block_frequencies(schedule)
    pm = p_min_estimate(schedule)
    tail = hill_tail_index(d)
    model = _model_of(schedule)
    bound = model.delay_bound() if model is not None else None
    dmax = int(d.max()) if d.size else 0

    bounded = bound is not None and dmax <= bound
    a = tail["tail_index"]
    if bounded:
        step_ok, step_why = True, "bounded delays"
    elif a is None:
        step_ok, step_why = True, "no delay tail (top delays all equal)"
    else:
        step_ok = a * step_exponent > 1.0
        step_why = f"Hill tail index a = {a:.3g} (k = {tail['k']}), p = {step_exponent:g}: a·p = {a * step_exponent:.3g}"
    assumptions = {
        "bounded_delay": bool(bounded),
        "step_delay_condition": bool(step_ok),
        "p_min_positive": bool(
            pm["p_min_hat"] > 0.0 and pm["n_windows"] >= 2 and (pm["decay_pvalue"] or 0.0) >= DECAY_ALPHA
        ),
        "every_block_updated": bool((bf > 0).all()),
    }
    details = {
        "bounded_delay": (
            f"declared bound {bound}, observed max {dmax}"
            if bound is not None
            else f"the model declares no bound (observed max {dmax})"
        ),
        "step_delay_condition": f"γ_k·d_k -> 0 needs a·p > 1: {step_why}",
        "p_min_positive": _p_min_detail(pm),
        "every_block_updated": f"least-updated block has frequency {bf.min():.4g}",
    }
    return {
        "n_events": schedule.n_events,
        "n_workers": schedule.n_workers,
        "n_blocks": schedule.n_blocks,
        "source": schedule.source,
        "delay": delay_summary(d),
        "delay_min": {
            "mean": float(dmin.mean()) if dmin.size else None,
            "max": int(dmin.max()) if dmin.size else None,
        },
        "torn_fraction": float(np.mean(schedule.read_hi > schedule.read_lo)) if schedule.n_events else 0.0,
        "block_freq": bf.tolist(),
        "writer_freq": writer_frequencies(schedule).tolist(),
        "p_min_hat": pm["p_min_hat"],
        "p_min": pm,
        "tail_index": a,
        "tail": tail,
        "delay_autocorrelation": autocorrelation(d, max_lag),
        "declared_delay_bound": bound,
        "step_exponent": step_exponent,
        "assumptions": assumptions,
        "assumption_details": details,
        "tests": {
            "delay_gof": delay_gof(schedule, n_boot=n_boot, seed=seed),
            "block_delay_independence": block_delay_independence(schedule),
            "delay_homogeneity": delay_homogeneity(schedule),
        },
    }
