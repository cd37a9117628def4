"""Statistical methodology for convergence studies (measures.md §8.1–8.3).

Intervals for the fraction of runs that converged, simultaneous intervals for "which critical point
was reached", quantile bands over replicas, time-to-ε with right censoring (Kaplan–Meier, log-rank),
paired comparisons of step-size schedules under common random numbers (exact McNemar, Wilcoxon
signed-rank), unpaired alternatives (Fisher, Mann–Whitney) and the Holm–Bonferroni adjustment.

Everything is computed with numpy and scipy (≥ 1.11 for ``ecdf``/``logrank``). Every function except
:func:`proportion_ci` and :func:`first_passage` returns plain JSON-serialisable Python values (dicts
of ``int``/``float``/``str``/``bool``/lists). A value that is undefined (NaN) — or infinite, which
strict JSON cannot hold — is reported as ``None``. Bad arguments raise
:class:`asyncconv.config.ConfigError` naming the offending argument.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.stats as st

from asyncconv.config import ConfigError, check_choice, check_int, check_number

__all__ = [
    "PROPORTION_METHODS",
    "first_passage",
    "fisher_exact",
    "fraction",
    "holm",
    "kaplan_meier",
    "logrank",
    "mann_whitney",
    "mcnemar_exact",
    "multinomial_ci",
    "proportion_ci",
    "quantile_bands",
    "wilcoxon_paired",
]

#: Interval methods for a binomial proportion, mapped to scipy's ``proportion_ci`` method names.
PROPORTION_METHODS: dict[str, str] = {"clopper-pearson": "exact", "wilson": "wilson", "wilsoncc": "wilsoncc"}
_MULTINOMIAL_METHODS = ("goodman", "bonferroni-wilson")
_KM_CI_METHODS = ("log-log", "linear")
# Relative tolerance when testing Ŝ(t) <= 1 - q: Kaplan–Meier products such as (3/4)(2/3) are not
# exactly 1/2 in floating point, and the quantile must not jump to the next event because of that.
_SF_TOL = 1e-10


# --------------------------------------------------------------------------------------------------
# helpers


def _f(x: Any) -> float | None:
    """A float, or ``None`` where it is NaN or infinite (strict JSON)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _flist(a: Any) -> list[float | None]:
    return [_f(v) for v in np.asarray(a, dtype=float).ravel()]


def _level(level: Any, field: str = "level") -> float:
    return check_number(level, field, gt=0.0, lt=1.0)


def _array(x: Any, field: str, ndim: int | None = None, dtype: Any = float) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError):
        raise ConfigError(field, f"must be an array of numbers (got {type(x).__name__})") from None
    if ndim is not None and a.ndim != ndim:
        raise ConfigError(field, f"must be {ndim}-dimensional (got shape {a.shape})")
    return a


def _bool_array(x: Any, field: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ConfigError(field, f"must be 1-dimensional (got shape {a.shape})")
    if a.dtype == bool:
        return a
    if a.size and (a.dtype.kind not in "iuf" or not np.all((a == 0) | (a == 1))):
        raise ConfigError(field, "must contain booleans (or 0/1)")
    return a.astype(bool)


def _finite_1d(x: Any, field: str) -> np.ndarray:
    """A 1-D float array with non-finite entries dropped."""
    a = _array(x, field, ndim=1)
    return a[np.isfinite(a)]


def _censored(time: Any, observed: Any, ftime: str, fobs: str) -> tuple[np.ndarray, np.ndarray]:
    t = _array(time, ftime, ndim=1)
    o = _bool_array(observed, fobs)
    if t.shape != o.shape:
        raise ConfigError(fobs, f"must have the same length as {ftime} ({o.size} != {t.size})")
    if not np.all(np.isfinite(t)):
        raise ConfigError(ftime, "must be finite (censor a run at its last finite checkpoint)")
    return t, o


def _censored_data(t: np.ndarray, o: np.ndarray) -> st.CensoredData:
    return st.CensoredData(uncensored=t[o], right=t[~o])


# --------------------------------------------------------------------------------------------------
# §8.1 fraction converged


def proportion_ci(
    k: int, n: int, level: float = 0.95, method: str = "clopper-pearson"
) -> tuple[float, float]:
    """Two-sided confidence interval for a binomial proportion k/n (measures.md §8.1).

    ``"clopper-pearson"`` is the exact interval (Clopper & Pearson 1934),
    ``[B(α/2; k, n−k+1), B(1−α/2; k+1, n−k)]`` with ``B(·; a, b)`` the Beta quantile and the bounds 0
    at k = 0 and 1 at k = n; it guarantees coverage ≥ ``level``. ``"wilson"`` is the score interval
    (Wilson 1927), ``(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)``; ``"wilsoncc"`` adds the
    continuity correction. Computed with ``scipy.stats.binomtest(k, n).proportion_ci``. With all N
    runs converged the 95% lower bounds are 0.884 (N = 30), 0.964 (100), 0.996 (1000) for
    Clopper–Pearson (table in §8.1). ``n = 0`` gives the uninformative ``(0.0, 1.0)``.
    """
    n = check_int(n, "n", ge=0)
    k = check_int(k, "k", ge=0, le=n)
    level = _level(level)
    method = check_choice(method, tuple(PROPORTION_METHODS), "method")
    if n == 0:
        return (0.0, 1.0)
    ci = st.binomtest(k, n).proportion_ci(confidence_level=level, method=PROPORTION_METHODS[method])
    return (float(min(max(ci.low, 0.0), 1.0)), float(min(max(ci.high, 0.0), 1.0)))


def fraction(k: int, n: int, level: float = 0.95, method: str = "clopper-pearson") -> dict[str, Any]:
    """The fraction k/n with its confidence interval (:func:`proportion_ci`), as a JSON-able dict.

    Keys: ``k``, ``n``, ``p`` (k/n, ``None`` when n = 0), ``lo``, ``hi``, ``method``, ``level``.
    """
    lo, hi = proportion_ci(k, n, level, method)
    k, n = int(k), int(n)
    return {
        "k": k,
        "n": n,
        "p": k / n if n else None,
        "lo": lo,
        "hi": hi,
        "method": method,
        "level": float(level),
    }


# --------------------------------------------------------------------------------------------------
# §8.2 which critical point was reached; quantile bands; time-to-ε


def multinomial_ci(
    counts: Sequence[int], level: float = 0.95, method: str = "goodman"
) -> list[dict[str, Any]]:
    """Simultaneous confidence intervals for multinomial cell probabilities (measures.md §8.2).

    With K categories, counts n_i and N = Σ n_i, the K intervals hold jointly with probability
    ≈ ``level`` (α = 1 − level):

    * ``"goodman"`` (Goodman 1965, Technometrics 7:247): with A = χ²₁ quantile at 1 − α/K,
      ``p_i^± = (A + 2n_i ± √(A·(A + 4 n_i (N − n_i)/N))) / (2(N + A))``;
    * ``"bonferroni-wilson"``: a Wilson interval per category at level 1 − α/K (scipy).

    The two coincide algebraically — Goodman's interval is the Wilson score interval with z² = A — so
    the second serves as a check of the first. (Quesenberry–Hurst's wider intervals use χ²_{K−1}.)

    Returns one dict per category, in order: ``count``, ``p`` (n_i/N, ``None`` when N = 0), ``lo``,
    ``hi``. With N = 0 every interval is (0, 1).
    """
    level = _level(level)
    method = check_choice(method, _MULTINOMIAL_METHODS, "method")
    if isinstance(counts, str | bytes) or np.ndim(counts) != 1 or len(counts) == 0:
        raise ConfigError("counts", "must be a non-empty 1-D sequence of non-negative integers")
    c = [check_int(v, f"counts[{i}]", ge=0) for i, v in enumerate(counts)]
    n_tot, n_cat = sum(c), len(c)
    alpha_k = (1.0 - level) / n_cat
    out: list[dict[str, Any]] = []
    if method == "goodman":
        a = float(st.chi2.ppf(1.0 - alpha_k, 1))
    for ni in c:
        if n_tot == 0:
            lo, hi = 0.0, 1.0
        elif method == "goodman":
            half = math.sqrt(a * (a + 4.0 * ni * (n_tot - ni) / n_tot))
            lo = max(0.0, (a + 2.0 * ni - half) / (2.0 * (n_tot + a)))
            hi = min(1.0, (a + 2.0 * ni + half) / (2.0 * (n_tot + a)))
        else:
            lo, hi = proportion_ci(ni, n_tot, 1.0 - alpha_k, "wilson")
        out.append({"count": ni, "p": ni / n_tot if n_tot else None, "lo": lo, "hi": hi})
    return out


def quantile_bands(values: np.ndarray, q: Sequence[float] = (0.1, 0.5, 0.9)) -> dict[str, Any]:
    """Per-checkpoint quantiles across replicas, ignoring NaN (quantile-versus-t curves, §8.2).

    ``values`` has shape (R, T): replica × checkpoint. For each column the NaN-ignoring quantiles
    (``numpy.nanquantile``, linear interpolation) at the levels ``q`` are computed. Returns
    ``{"q": [...], "bands": [[...T] per level], "n": [non-NaN replicas per column]}``; a column with
    no finite value gives ``None`` in every band (as does an infinite quantile).
    """
    v = _array(values, "values", ndim=2)
    qs = _array(q, "q", ndim=1)
    if qs.size == 0 or not np.all((qs >= 0.0) & (qs <= 1.0)):
        raise ConfigError("q", "must be a non-empty list of levels in [0, 1]")
    n = np.sum(~np.isnan(v), axis=0)
    bands = np.full((qs.size, v.shape[1]), np.nan)
    ok = n > 0
    if np.any(ok):
        bands[:, ok] = np.nanquantile(v[:, ok], qs, axis=0)
    return {
        "q": [float(x) for x in qs],
        "bands": [_flist(row) for row in bands],
        "n": [int(x) for x in n],
    }


def first_passage(t: np.ndarray, values: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """First checkpoint time at which a metric is ≤ ε, right-censored at the budget (§8.2).

    ``t`` and ``values`` have shape (R, T) (``t`` may also be 1-D of length T, shared by all
    replicas): the ODE time t_k = Σ_{i<k} α_i of each checkpoint and the metric logged there. For
    replica r the time is ``t[r, j*]`` with j* = min{j : values[r, j] ≤ ε and t[r, j] finite} and
    ``observed = True``; if there is no such j the replica is right-censored at its last finite
    checkpoint time (``observed = False``; time NaN if no checkpoint time is finite). NaN metric
    values — a run that diverged — never count as passage, so a diverged run is censored at the
    budget, i.e. counted as "not reached within the budget". Returns ``(time, observed)``, float and
    bool arrays of length R.
    """
    v = _array(values, "values", ndim=2)
    tt = _array(t, "t")
    if tt.ndim == 1 and tt.shape[0] == v.shape[1]:
        tt = np.broadcast_to(tt, v.shape)
    if tt.shape != v.shape:
        raise ConfigError("t", f"must have the shape of values {v.shape} (got {tt.shape})")
    eps = check_number(eps, "eps")
    finite_t = np.isfinite(tt)
    hit = (v <= eps) & finite_t  # NaN <= eps is False
    observed = hit.any(axis=1)
    first = np.argmax(hit, axis=1)
    r = np.arange(v.shape[0])
    time = np.full(v.shape[0], np.nan)
    time[observed] = tt[r[observed], first[observed]]
    has_t = finite_t.any(axis=1)
    last = v.shape[1] - 1 - np.argmax(finite_t[:, ::-1], axis=1)
    cens = ~observed & has_t
    time[cens] = tt[r[cens], last[cens]]
    return time, observed


def _sf_quantile(times: np.ndarray, sf: np.ndarray, q: float) -> float | None:
    """inf{t : S(t) ≤ 1 − q} over the step function (times, sf); ``None`` if S never gets there."""
    target = 1.0 - q
    with np.errstate(invalid="ignore"):
        hit = sf <= target + _SF_TOL * max(target, _SF_TOL)
    if not np.any(hit):
        return None
    return float(times[np.argmax(hit)])


def kaplan_meier(
    time: np.ndarray,
    observed: np.ndarray,
    q: Sequence[float] = (0.25, 0.5, 0.75),
    level: float = 0.95,
    ci_method: str = "log-log",
) -> dict[str, Any]:
    """Kaplan–Meier estimate of the time-to-ε distribution under right censoring (§8.2).

    Ŝ(t) = Π_{t_i ≤ t} (1 − d_i / n_i) (Kaplan & Meier 1958), computed with
    ``scipy.stats.ecdf(scipy.stats.CensoredData(uncensored=time[observed], right=time[~observed]))``.
    The q-quantile of the time to event is the left-continuous inverse
    ``t_q = inf{t : Ŝ(t) ≤ 1 − q}``, ``None`` where Ŝ never drops to 1 − q (too much censoring);
    without censoring this is ``numpy.quantile(time, q, method="inverted_cdf")``. (R's ``survfit``
    would instead take the midpoint where Ŝ equals 1 − q exactly on an interval.)

    Pointwise bands for S come from ``res.sf.confidence_interval(level, method=ci_method)``
    (Greenwood variance; ``"log-log"`` — the default — or ``"linear"`` transform). The confidence
    interval of the median inverts these bands (Brookmeyer & Crowley 1982, as in R's ``survfit``):
    the lower limit is inf{t : S_lo(t) ≤ ½}, the upper limit inf{t : S_hi(t) ≤ ½} (``None`` if the
    upper band never drops to ½). Where the band formula is undefined, the band is set to 1 where
    Ŝ = 1 (no events yet) and the lower band to 0 where Ŝ = 0; other undefined values are ``None``
    and never count as crossing ½ (conservative).

    Returns ``n``, ``events``, ``times`` and ``survival`` (the step function: Ŝ just after each
    distinct time), ``survival_lo``/``survival_hi`` (the bands), ``q``, ``quantiles``, ``median``,
    ``median_ci`` ([lo, hi]), ``level`` and ``ci_method``.
    """
    t, o = _censored(time, observed, "time", "observed")
    qs = _array(q, "q", ndim=1)
    if not np.all((qs > 0.0) & (qs < 1.0)):
        raise ConfigError("q", "levels must lie in (0, 1)")
    level = _level(level)
    ci_method = check_choice(ci_method, _KM_CI_METHODS, "ci_method")
    out: dict[str, Any] = {
        "n": int(t.size),
        "events": int(o.sum()),
        "times": [],
        "survival": [],
        "survival_lo": [],
        "survival_hi": [],
        "q": [float(x) for x in qs],
        "quantiles": [None] * qs.size,
        "median": None,
        "median_ci": [None, None],
        "level": level,
        "ci_method": ci_method,
    }
    if t.size == 0:
        return out
    res = st.ecdf(_censored_data(t, o))
    times = np.asarray(res.sf.quantiles, dtype=float)
    sf = np.asarray(res.sf.probabilities, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "undefined at some observations"
        ci = res.sf.confidence_interval(confidence_level=level, method=ci_method)
    lo = np.array(ci.low.probabilities, dtype=float)
    hi = np.array(ci.high.probabilities, dtype=float)
    one = sf >= 1.0
    lo[one & np.isnan(lo)] = 1.0
    hi[one & np.isnan(hi)] = 1.0
    lo[(sf <= 0.0) & np.isnan(lo)] = 0.0
    out["times"] = _flist(times)
    out["survival"] = _flist(sf)
    out["survival_lo"] = _flist(lo)
    out["survival_hi"] = _flist(hi)
    out["quantiles"] = [_sf_quantile(times, sf, float(x)) for x in qs]
    out["median"] = _sf_quantile(times, sf, 0.5)
    out["median_ci"] = [_sf_quantile(times, lo, 0.5), _sf_quantile(times, hi, 0.5)]
    return out


def logrank(
    time_a: np.ndarray, observed_a: np.ndarray, time_b: np.ndarray, observed_b: np.ndarray
) -> dict[str, Any]:
    """Two-sided log-rank test that two right-censored samples share one survival law (§8.2–8.3).

    Mantel (1966) / Peto: Z = Σ (O_a − E_a) / √V over the distinct event times, computed with
    ``scipy.stats.logrank``. The statistic is the signed Z_a = (O_a − E_a)/√V, positive when sample a
    has more events than expected under equal hazards (it reaches ε sooner); Z_a² is the usual χ²₁
    log-rank statistic. The p-value is two-sided. Returns
    ``n_a``, ``n_b``, ``events_a``, ``events_b``, ``statistic``, ``pvalue`` (``None`` when undefined,
    e.g. no events at all).
    """
    ta, oa = _censored(time_a, observed_a, "time_a", "observed_a")
    tb, ob = _censored(time_b, observed_b, "time_b", "observed_b")
    out: dict[str, Any] = {
        "n_a": int(ta.size),
        "n_b": int(tb.size),
        "events_a": int(oa.sum()),
        "events_b": int(ob.sum()),
        "statistic": None,
        "pvalue": None,
    }
    if ta.size == 0 or tb.size == 0 or not (oa.any() or ob.any()):
        return out
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        res = st.logrank(_censored_data(ta, oa), _censored_data(tb, ob))
    out["statistic"] = _f(res.statistic)
    out["pvalue"] = _f(res.pvalue)
    return out


# --------------------------------------------------------------------------------------------------
# §8.3 comparing schedules


def mcnemar_exact(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Exact McNemar test for paired binary outcomes (common random numbers, §8.3).

    ``a[r]`` and ``b[r]`` are the outcomes (e.g. "converged") of two schedules run with the same seed
    r. Only the discordant pairs carry information: with b10 = #{a True, b False} and
    b01 = #{a False, b True}, under H0 (equal marginal success probabilities) b10 | b01 + b10 ~
    Binomial(b01 + b10, ½). The two-sided p-value is ``scipy.stats.binomtest(b10, b01 + b10, 0.5)``
    (McNemar 1947; the exact form of statsmodels' ``mcnemar(exact=True)``); it is 1 with no
    discordant pairs. Returns ``n``, ``both``, ``neither``, ``a_only`` (b10), ``b_only`` (b01),
    ``pvalue``.
    """
    x = _bool_array(a, "a")
    y = _bool_array(b, "b")
    if x.shape != y.shape:
        raise ConfigError("b", f"must have the same length as a ({y.size} != {x.size})")
    b10 = int(np.sum(x & ~y))
    b01 = int(np.sum(~x & y))
    p = 1.0 if b01 + b10 == 0 else float(st.binomtest(b10, b01 + b10, 0.5).pvalue)
    return {
        "n": int(x.size),
        "both": int(np.sum(x & y)),
        "neither": int(np.sum(~x & ~y)),
        "a_only": b10,
        "b_only": b01,
        "pvalue": min(p, 1.0),
    }


def wilcoxon_paired(a: np.ndarray, b: np.ndarray, alternative: str = "two-sided") -> dict[str, Any]:
    """Wilcoxon signed-rank test on paired continuous measures (§8.3).

    Pairs where either value is NaN (or infinite) are dropped; ``n`` is the number of pairs used and
    ``n_dropped`` the number dropped. The test (Wilcoxon 1945) is ``scipy.stats.wilcoxon(a, b)`` with
    its defaults (zero differences discarded, "wilcox"; exact null for small n without ties, normal
    approximation otherwise). When every difference is zero the test is undefined: ``pvalue`` is 1.0
    and ``statistic`` is ``None``; with no usable pair both are ``None``. ``median_diff`` is the
    median of a − b over the used pairs.
    """
    x = _array(a, "a", ndim=1)
    y = _array(b, "b", ndim=1)
    if x.shape != y.shape:
        raise ConfigError("b", f"must have the same length as a ({y.size} != {x.size})")
    alternative = check_choice(alternative, ("two-sided", "less", "greater"), "alternative")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    d = x - y
    out: dict[str, Any] = {
        "n": int(d.size),
        "n_dropped": int((~keep).sum()),
        "statistic": None,
        "pvalue": None,
        "median_diff": _f(np.median(d)) if d.size else None,
    }
    if d.size == 0:
        return out
    if np.all(d == 0.0):
        out["pvalue"] = 1.0
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # small-sample / ties notices
        res = st.wilcoxon(x, y, alternative=alternative)
    out["statistic"] = _f(res.statistic)
    out["pvalue"] = _f(res.pvalue)
    return out


def mann_whitney(a: np.ndarray, b: np.ndarray, alternative: str = "two-sided") -> dict[str, Any]:
    """Mann–Whitney U test for two independent samples (unpaired alternative, §8.3).

    Non-finite values are dropped. ``statistic`` is U for sample a (``scipy.stats.mannwhitneyu``),
    ``effect`` the common-language effect size U/(n_a n_b) = P(A > B) + ½P(A = B). Returns ``n_a``,
    ``n_b``, ``statistic``, ``pvalue``, ``effect``, ``median_a``, ``median_b`` (``None`` where a
    sample is empty).
    """
    x = _finite_1d(a, "a")
    y = _finite_1d(b, "b")
    alternative = check_choice(alternative, ("two-sided", "less", "greater"), "alternative")
    out: dict[str, Any] = {
        "n_a": int(x.size),
        "n_b": int(y.size),
        "statistic": None,
        "pvalue": None,
        "effect": None,
        "median_a": _f(np.median(x)) if x.size else None,
        "median_b": _f(np.median(y)) if y.size else None,
    }
    if x.size == 0 or y.size == 0:
        return out
    res = st.mannwhitneyu(x, y, alternative=alternative)
    out["statistic"] = _f(res.statistic)
    out["pvalue"] = _f(res.pvalue)
    out["effect"] = _f(res.statistic / (x.size * y.size))
    return out


def fisher_exact(k_a: int, n_a: int, k_b: int, n_b: int, alternative: str = "two-sided") -> dict[str, Any]:
    """Fisher's exact test that two independent binomial proportions are equal (unpaired, §8.3).

    The 2×2 table is [[k_a, n_a − k_a], [k_b, n_b − k_b]], tested with ``scipy.stats.fisher_exact``
    (conditional on both margins). Returns ``p_a``, ``p_b``, ``diff`` (p_a − p_b), ``odds_ratio``
    (the sample odds ratio; ``None`` when it is infinite or undefined because of a zero cell) and
    ``pvalue``, plus the inputs.
    """
    n_a = check_int(n_a, "n_a", ge=0)
    k_a = check_int(k_a, "k_a", ge=0, le=n_a)
    n_b = check_int(n_b, "n_b", ge=0)
    k_b = check_int(k_b, "k_b", ge=0, le=n_b)
    alternative = check_choice(alternative, ("two-sided", "less", "greater"), "alternative")
    p_a = k_a / n_a if n_a else None
    p_b = k_b / n_b if n_b else None
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = st.fisher_exact([[k_a, n_a - k_a], [k_b, n_b - k_b]], alternative=alternative)
    return {
        "k_a": k_a,
        "n_a": n_a,
        "k_b": k_b,
        "n_b": n_b,
        "p_a": p_a,
        "p_b": p_b,
        "diff": p_a - p_b if p_a is not None and p_b is not None else None,
        "odds_ratio": _f(res.statistic),
        "pvalue": _f(min(float(res.pvalue), 1.0)),
    }


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p-values, in the input order (§8.3; Holm 1979).

    With the m p-values sorted, p_(1) ≤ … ≤ p_(m), the adjusted values are
    ``p̃_(i) = max_{j ≤ i} min(1, (m − j + 1)·p_(j))`` — monotone in the order of the raw values and
    capped at 1. Rejecting every hypothesis with p̃ ≤ α controls the family-wise error rate at α.
    ``None``/NaN entries (untestable comparisons) are kept as ``None`` and not counted in m.
    Example: [0.01, 0.04, 0.03, 0.005] → [0.03, 0.06, 0.06, 0.02].
    """
    if isinstance(pvalues, str | bytes) or np.ndim(pvalues) != 1:
        raise ConfigError("pvalues", "must be a 1-D sequence of p-values")
    raw = np.array([np.nan if v is None else v for v in pvalues], dtype=float)
    ok = ~np.isnan(raw)
    if np.any((raw[ok] < 0.0) | (raw[ok] > 1.0)):
        raise ConfigError("pvalues", "p-values must lie in [0, 1]")
    idx = np.flatnonzero(ok)
    m = idx.size
    out: list[float | None] = [None] * raw.size
    if m == 0:
        return out
    order = idx[np.argsort(raw[idx], kind="stable")]
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * raw[order]))
    for i, v in zip(order, adj, strict=True):
        out[int(i)] = float(v)
    return out
