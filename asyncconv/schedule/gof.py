"""Goodness-of-fit tests of a schedule's delays against the law its model declares.

``reference/measures.md`` §8.4 (tests of the delay model) and §9.2 (delay laws of event-driven
workers). Three tests, each returning one JSON-able dict:

:func:`delay_gof`
    Pearson χ² of the observed delays d^k = k - read_lo[k] against the model's law (§8.4.1), with
    tail cells pooled so that every expected count is >= 5. Queue-generated delays are
    autocorrelated (§8.4.2), which makes the i.i.d. χ² p-value invalid, so a parametric-bootstrap
    p-value is computed from schedules redrawn from the model; the report says which p-value is the
    valid one and gives effect sizes (total-variation distance, KS D).
:func:`block_delay_independence`
    χ² test of independence on the block × delay-bin and writer × delay-bin tables (§8.4.3).
    Dependence is expected when workers own blocks and run at different speeds (§9.2).
:func:`delay_homogeneity`
    χ² homogeneity test of the early against the late half of the delays, with TV and KS D effect
    sizes (§8.4.6): with 10^6 samples every test rejects, so judge by the effect sizes.

**Start-up truncation.** Every source draws the read of write k at version max(k - D_k, 0), so the
observed delay is min(D_k, k) (abstract and periodic models by construction; identical exponential
workers because the writer sequence is i.i.d., so the delay of write k is the gap back to its
writer's previous write, capped by k). With D ~ p, S_i = P(D >= i), the expected number of delays
equal to i among writes k = 0..n-1 is therefore exactly

    E_n(i) = p_i · (n - 1 - i)_+ + S_i · 1{i <= n - 1},

which every closed-form reference below uses (it matters for point masses and long delays; for
short-tailed laws at large n it is negligible).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from asyncconv.config import ConfigError

if TYPE_CHECKING:
    from asyncconv.schedule.model import ScheduleModel
    from asyncconv.schedule.schedule import Schedule

__all__ = [
    "BOOT_MAX_EVENTS",
    "block_delay_independence",
    "delay_gof",
    "delay_homogeneity",
    "expected_delay_counts",
]

#: smallest expected count of a χ² cell after pooling (measures.md §8.4.1)
MIN_EXPECTED = 5.0
#: redrawn schedules (bootstrap replicates and Monte Carlo references) have at most this many events
BOOT_MAX_EVENTS = 200_000
#: Monte Carlo reference: at least this many redrawn schedules, and at least REF_MIN_EVENTS events
REF_MIN_DRAWS = 20
REF_MIN_EVENTS = 200_000
#: level of the lag-1 autocorrelation test that decides between the χ² and the bootstrap p-value
AUTOCORR_LEVEL = 0.01
#: lags of the reported delay autocorrelation
GOF_LAGS = 5
#: rows of the block/writer × delay table with fewer writes are dropped (and counted)
MIN_ROW_COUNT = 50
#: schedules shorter than this are not tested
MIN_EVENTS = 20
#: a constant mixed into the bootstrap seeds so that they never coincide with the schedule's own seed
_GOF_TAG = 0x60F


# --- helpers ----------------------------------------------------------------------------------------


def _pool(expected: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy left-to-right pooling of adjacent cells until each group's ``expected`` sum >= threshold.

    A leftover group below the threshold at the right end is merged into the previous group.
    Returns the group index of every cell (non-decreasing, starting at 0).
    """
    e = np.asarray(expected, dtype=float)
    n = e.size
    cum = np.cumsum(e)
    starts = [0]
    base = 0.0
    while True:
        j = int(np.searchsorted(cum, base + threshold * (1.0 - 1e-12), side="left"))
        if j >= n - 1:
            break
        starts.append(j + 1)
        base = cum[j]
    if len(starts) > 1 and cum[-1] - cum[starts[-1] - 1] < threshold * (1.0 - 1e-12):
        starts.pop()  # leftover at the right end: merge into the previous group
    group = np.zeros(n, dtype=np.int64)
    group[np.asarray(starts[1:], dtype=np.int64)] = 1
    return np.cumsum(group)


def _bin_counts(delays: np.ndarray, top: int) -> np.ndarray:
    """Counts of delays 0..top-1 and of the tail cell ``>= top``; shape (top + 1,)."""
    return np.bincount(np.minimum(delays, top), minlength=top + 1)


def _pearson(observed: np.ndarray, expected: np.ndarray) -> float:
    return float((((observed - expected) ** 2) / expected).sum())


def _pearson_two_sample(observed: np.ndarray, reference: np.ndarray) -> float:
    """Pearson χ² of the 2 × J table [observed; reference]: Σ_j (M O_j - n R_j)² / (n M (O_j + R_j))."""
    n, m = float(observed.sum()), float(reference.sum())
    tot = observed + reference
    keep = tot > 0
    return float(((m * observed[keep] - n * reference[keep]) ** 2 / (n * m * tot[keep])).sum())


def _effect_sizes(p: np.ndarray, q: np.ndarray) -> tuple[float, float]:
    """Total-variation distance ½Σ|p - q| and KS D = max |F_p - F_q| of two pmfs on the same cells."""
    return float(0.5 * np.abs(p - q).sum()), float(np.abs(np.cumsum(p) - np.cumsum(q)).max())


def _model_of(schedule: Schedule) -> tuple[ScheduleModel | None, str | None]:
    """The schedule's model, or ``None`` with the reason why none can be used."""
    from asyncconv.schedule.model import ScheduleModel

    if schedule.model is None:
        return None, "no model recorded with the schedule (an imported trace): no declared law to test"
    try:
        model = ScheduleModel.from_dict(schedule.model)
    except ValueError as e:
        return None, f"the recorded model is not valid ({e})"
    return model, None


def _seed_sequence(schedule: Schedule, seed: int | None) -> np.random.SeedSequence:
    """Seeds of redrawn schedules: a pure function of (schedule.seed, seed)."""
    rec = schedule.seed or {}
    ent = rec.get("entropy", 0)
    ent = [int(e) for e in ent] if isinstance(ent, list | tuple) else [int(ent)]
    spawn_key = tuple(int(s) for s in rec.get("spawn_key", []))
    return np.random.SeedSequence([_GOF_TAG, *ent, int(seed or 0)], spawn_key=spawn_key)


def _lag1_z(acf: list[float], n: int) -> float:
    return float(acf[0] * math.sqrt(n)) if acf else 0.0


# --- closed-form delay laws ---------------------------------------------------------------------


def _closed_form(model: ScheduleModel, upto: int) -> tuple[list[tuple[float, np.ndarray]], str] | None:
    """The delay law as a mixture [(weight, pmf[0..upto])], with a description, when known exactly.

    * ``ScheduleModel.delay_pmf`` when it gives one: abstract models with a single delay law
      (``DelayLaw.pmf``), periodic models (a point mass at the fixed delay), identical exponential
      workers with no read, write or pause time (Geometric(1/P), mean P - 1; measures.md §9.2).
    * Exponential workers with unequal rates μ_w = speed_w / mean_w (no read, write or pause time):
      by memorylessness the writer of each write is i.i.d. with P(w) = π_w = μ_w / Σ_v μ_v, and
      the delay of a write by w is Geometric(π_w) (measures.md §9.2), so the law is the mixture
      Σ_w π_w · Geometric(π_w), mean Σ_w π_w (1 - π_w) / π_w.

    Deterministic equal compute times have no closed form here: with exact ties, the simulator's
    rule (a read at time t sees every write completing at t) gives the cycle d_k = k mod P, not the
    constant P - 1 of measures.md §9.2; the Monte Carlo reference reproduces whatever the kernel does.
    """
    from asyncconv.schedule.model import AbstractModel, PeriodicModel, TimingModel

    src = model.source
    pmf = model.delay_pmf(upto)
    if pmf is not None:
        P = model.n_workers
        if isinstance(src, PeriodicModel):
            what = f"point mass at {src.delay} (periodic model)"
        elif isinstance(src, AbstractModel):
            what = f"abstract delay law {src.delay[0].to_dict()}"
        else:
            what = f"Geometric(1/P), P = {P}, mean {P - 1} (identical exponential workers)"
        return [(1.0, pmf)], what
    if (
        isinstance(src, TimingModel)
        and all(c.law == "exponential" for c in src.compute)
        and src.read.is_zero
        and src.write.is_zero
        and src.pause_prob == 0.0
    ):
        rates = np.array([s / c.mean for c, s in zip(src.compute, src.speeds, strict=True)])
        pi = rates / rates.sum()
        i = np.arange(upto + 1)
        comps = [(float(w), (1.0 - w) ** i * w) for w in pi]
        return comps, "mixture of Geometric(π_w), π_w = μ_w / Σμ (exponential workers, unequal rates)"
    return None


def expected_delay_counts(components: list[tuple[float, np.ndarray]], n: int) -> np.ndarray:
    """Expected counts of delays 0..U-1 and of the tail cell >= U among writes 0..n-1.

    ``components`` is a mixture [(weight, pmf[0..U-1])] of the delay law D (each component with the
    writer drawn i.i.d. with probability ``weight``). The observed delay of write k is min(D_k, k),
    so, with S(i) = P(D >= i),

        E_n(i) = Σ_c w_c [p_c(i) (n - 1 - i)_+ + S_c(i) 1{i <= n - 1}]    (i < U),
        E_n(>= U) = Σ_c w_c S_c(U) (n - U)_+,

    which sum to n. S is the reverse cumulative sum of the pmf plus the mass beyond U - 1 (set to 0
    when below 1e-12, so that S is exactly 0 beyond a bounded support). Returns shape (U + 1,).
    """
    U = components[0][1].size
    i = np.arange(U)
    e = np.zeros(U + 1)
    for w, p in components:
        beyond = max(1.0 - float(p.sum()), 0.0)
        beyond = 0.0 if beyond < 1e-12 else beyond
        surv = np.cumsum(p[::-1])[::-1] + beyond  # S(i), i = 0..U-1
        e[:U] += w * (p * np.maximum(n - 1 - i, 0) + surv * (i <= n - 1))
        e[U] += w * beyond * max(n - U, 0)
    return e


# --- 1. goodness of fit of the marginal delay law ----------------------------------------------------


def _skip(test: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {"test": test, "skipped": reason, "pvalue": None, **extra}


def delay_gof(
    schedule: Schedule,
    *,
    n_boot: int = 199,
    seed: int | None = None,
    model: ScheduleModel | None = None,
    max_boot_events: int = BOOT_MAX_EVENTS,
) -> dict[str, Any]:
    """χ² goodness of fit of the delays ``schedule.delay()`` to the law of ``model``.

    Parameters
    ----------
    schedule : Schedule
    n_boot : int
        Number B of parametric-bootstrap replicates (0 skips the bootstrap).
    seed : int, optional
        Mixed with ``schedule.seed`` into the ``SeedSequence`` whose spawned children seed every
        redrawn schedule, so the result is a pure function of (schedule, seed, n_boot); ``None``
        means 0.
    model : ScheduleModel, optional
        The hypothesised model; default the schedule's own (``schedule.model``).
    max_boot_events : int
        Redrawn schedules (bootstrap replicates and Monte Carlo references) have
        n_b = min(N, ``max_boot_events``) events (default 200 000), which bounds the cost at about
        B · n_b / (5·10^6 events/s). The χ² statistic has a null distribution that does not depend
        on the length once the cells are fixed (asymptotically a weighted sum of χ²_1 for mixing
        sequences), so the replicates stay comparable with the observed statistic; the cells are
        pooled so that every expected count is >= 5 at length n_b (hence also at N).

    Returns
    -------
    dict
        ``statistic``, ``dof``, ``pvalue_chi2`` (i.i.d. χ²), ``autocorrelation`` (lags 1..5),
        ``lag1_z`` = r_1 √N, ``pvalue_boot``, ``pvalue_boot_scaled``, ``method``, ``pvalue`` (the
        valid one), ``tv_distance``, ``ks_d``, ``reference`` ("closed-form" or "monte-carlo"),
        ``law``, ``support_violations``, the pooled ``bins``; or ``skipped`` with a reason.

    Notes
    -----
    Expected law (measures.md §8.4.1, §9.2): the closed form of :func:`_closed_form` when the model
    has one, with the start-up truncation of :func:`expected_delay_counts`; otherwise a Monte Carlo
    reference pooled from R = max(20, ⌈2·10^5 / n_b⌉) schedules redrawn from the model. Adjacent
    cells are pooled left to right until each expects >= 5 (the tail cell included).

    Statistic: closed form, T = Σ_j (O_j - E_j)² / E_j over J pooled cells; Monte Carlo, the
    two-sample Pearson χ² of the 2 × J table [observed; reference] (reference noise included, so the
    i.i.d. p-value stays valid however small R is). Under i.i.d. delays T ~ χ²(J - 1).

    Queue-generated delays are autocorrelated (measures.md §8.4.2) and T is then not χ²(J - 1).
    Parametric bootstrap: B schedules of length n_b are redrawn from the model with seeds spawned
    from (schedule.seed, seed), T_b is computed against the same expected counts (rescaled to n_b),
    and p = (1 + #{T_b >= T_obs}) / (1 + B) (Davison & Hinkley 1997, eq. 4.11). Under H0 the
    observed and redrawn schedules are exchangeable, so this p-value is exact in finite samples
    (up to the length cap). It cannot go below 1/(1 + B); ``pvalue_boot_scaled`` extrapolates with
    the moment-matched scaled χ² c·χ²_ν, c = Var T_b / (2 E T_b), ν = 2 (E T_b)² / Var T_b
    (Satterthwaite 1946), and is used as ``pvalue`` when T_obs exceeds every T_b.

    ``method`` is "chi2" when |r_1| √N < z_{0.995} (lag-1 autocorrelation not significant at 1%,
    since r_1 ≈ N(0, 1/N) for i.i.d. data), else "parametric-bootstrap"; "support" when delays
    fall where the closed-form law has probability zero (then p = 0: impossible under H0), or when
    a single cell remains after pooling (a point mass; then only the support is testable, p = 1);
    "none" when the bootstrap was needed but skipped (n_boot = 0).

    Effect sizes on the unpooled cells: TV = ½ Σ_i |p̂_i - q_i| and KS D = max_i |F̂(i) - F(i)|
    (q: expected proportions, truncation included; for Monte Carlo, the reference proportions).
    """
    from asyncconv.schedule.draw import draw_schedule
    from asyncconv.schedule.stats import autocorrelation

    test = "delay_gof"
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise ConfigError("n_boot", f"must be an integer >= 0 (got {n_boot!r})")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0):
        raise ConfigError("seed", f"must be a non-negative integer or None (got {seed!r})")
    n_boot = int(n_boot)
    if model is None:
        model, why = _model_of(schedule)
        if model is None:
            return _skip(test, why)
    if model.kind == "trace":
        return _skip(test, "the model replays a recorded trace: it declares no delay law")
    N = schedule.n_events
    if N < MIN_EVENTS:
        return _skip(test, f"too few writes ({N} < {MIN_EVENTS})")
    d = schedule.delay()
    n_b = min(N, int(max_boot_events))
    acf = autocorrelation(d, GOF_LAGS)
    z = _lag1_z(acf, N)
    z_crit = float(stats.norm.isf(AUTOCORR_LEVEL / 2))
    lag1_sig = abs(z) > z_crit
    ss_ref, ss_boot = _seed_sequence(schedule, seed).spawn(2)

    top = int(d.max())
    closed = _closed_form(model, max(top - 1, 0)) if top > 0 else _closed_form(model, 0)
    violations = 0
    if closed is not None:
        comps, law = closed
        if top == 0:  # a single cell "delay >= 0"
            comps = [(w, p[:0]) for w, p in comps]
        reference = "closed-form"
        e_full = expected_delay_counts(comps, N)
        e_b = expected_delay_counts(comps, n_b)
        obs = _bin_counts(d, top)
        impossible = e_full == 0.0
        violations = int(obs[impossible].sum())
        group = _pool(e_b, MIN_EXPECTED)
        n_groups = int(group[-1]) + 1
        E_obs = np.bincount(group, weights=e_full, minlength=n_groups)
        E_b = np.bincount(group, weights=e_b, minlength=n_groups)
        obs_g = np.bincount(group, weights=obs, minlength=n_groups)

        def statistic(counts: np.ndarray, expected: np.ndarray) -> float:
            return _pearson(np.bincount(group, weights=counts, minlength=n_groups), expected)

        T_obs = _pearson(obs_g, E_obs)
        q = e_full / N
        n_ref_draws = 0
    else:
        reference = "monte-carlo"
        n_ref_draws = max(REF_MIN_DRAWS, math.ceil(REF_MIN_EVENTS / n_b))
        ref_delays = [draw_schedule(model, n_b, s).delay() for s in ss_ref.spawn(n_ref_draws)]
        top = max(top, *(int(r.max()) for r in ref_delays))
        ref = np.zeros(top + 1, dtype=np.int64)
        for r in ref_delays:
            ref += _bin_counts(r, top)
        M = int(ref.sum())
        law = f"Monte Carlo reference: {n_ref_draws} schedules of {n_b} writes redrawn from the model"
        obs = _bin_counts(d, top)
        q = ref / M
        group = _pool(n_b * q, MIN_EXPECTED)
        n_groups = int(group[-1]) + 1
        R = np.bincount(group, weights=ref, minlength=n_groups)
        obs_g = np.bincount(group, weights=obs, minlength=n_groups)
        E_obs = N * R / M

        def statistic(counts: np.ndarray, expected: np.ndarray) -> float:
            return _pearson_two_sample(np.bincount(group, weights=counts, minlength=n_groups), R)

        E_b = R  # unused by the two-sample statistic
        T_obs = _pearson_two_sample(obs_g, R)

    dof = n_groups - 1
    p_chi2 = float(stats.chi2.sf(T_obs, dof)) if dof > 0 else None
    tv, ks = _effect_sizes(obs / N, q)

    p_boot = p_scaled = boot_mean = boot_var = None
    if n_boot > 0 and dof > 0:
        T_b = np.empty(n_boot)
        for b, s in enumerate(ss_boot.spawn(n_boot)):
            T_b[b] = statistic(_bin_counts(draw_schedule(model, n_b, s).delay(), top), E_b)
        tol = 1e-9 * max(1.0, abs(T_obs))
        p_boot = float((1 + np.count_nonzero(T_b >= T_obs - tol)) / (1 + n_boot))
        boot_mean = float(T_b.mean())
        boot_var = float(T_b.var(ddof=1)) if n_boot > 1 else 0.0
        if boot_var > 0 and boot_mean > 0:
            c = boot_var / (2.0 * boot_mean)
            nu = 2.0 * boot_mean**2 / boot_var
            p_scaled = float(stats.chi2.sf(T_obs / c, nu))
        elif T_obs <= boot_mean + tol:
            p_scaled = 1.0

    note = None
    if violations > 0:
        method, pvalue = "support", 0.0
        note = f"{violations} delays where the law has probability 0"
    elif dof == 0 and reference == "closed-form":
        method, pvalue = "support", 1.0
        note = "one cell after pooling (the law is nearly a point mass): only the support is tested"
    elif dof == 0:
        method, pvalue = "none", None
        note = "one cell after pooling (the delays are nearly constant): no χ² test"
    elif not lag1_sig:
        method, pvalue = "chi2", p_chi2
    elif p_boot is None:
        method, pvalue = "none", None
        note = "delays are autocorrelated, so the χ² p-value is invalid, and the bootstrap was skipped"
    else:
        method, pvalue = "parametric-bootstrap", p_boot
        if p_boot <= 1.0 / (1 + n_boot) and p_scaled is not None:
            pvalue = min(p_boot, p_scaled)
            note = f"T beyond all {n_boot} replicates: p from the moment-matched scaled χ²"

    lo = np.flatnonzero(np.diff(np.concatenate([[-1], group])))  # first cell of each group
    return {
        "test": test,
        "skipped": None,
        "reference": reference,
        "law": law,
        "n": N,
        "statistic": float(T_obs),
        "dof": int(dof),
        "pvalue_chi2": p_chi2,
        "autocorrelation": [float(a) for a in acf],
        "lag1_z": z,
        "lag1_significant": bool(lag1_sig),
        "n_boot": n_boot,
        "boot_events": n_b,
        "seed": int(seed or 0),
        "reference_draws": n_ref_draws,
        "pvalue_boot": p_boot,
        "pvalue_boot_scaled": p_scaled,
        "boot_mean": boot_mean,
        "boot_var": boot_var,
        "method": method,
        "pvalue": pvalue,
        "note": note,
        "tv_distance": tv,
        "ks_d": ks,
        "support_violations": violations,
        "bins": {
            "lo": lo.tolist(),  # cell top = delays >= top
            "observed": obs_g.astype(np.int64).tolist(),
            "expected": E_obs.tolist(),
        },
    }


# --- 2. block (writer) × delay independence -----------------------------------------------------


def _independence(labels: np.ndarray, delays: np.ndarray, what: str) -> dict[str, Any]:
    """χ² test of independence of ``labels`` and the (binned) delays; Cramér's V effect size."""
    test = f"{what}_delay_independence"
    names, rows = np.unique(labels, return_inverse=True)
    totals = np.bincount(rows, minlength=names.size)
    keep = totals >= MIN_ROW_COUNT
    dropped = int((~keep).sum())
    if keep.sum() < 2:
        return _skip(test, f"fewer than 2 {what}s with >= {MIN_ROW_COUNT} writes", dropped_rows=dropped)
    sel = keep[rows]
    rows = np.cumsum(keep)[rows[sel]] - 1
    d = delays[sel]
    n = d.size
    n_min = int(np.bincount(rows).min())
    top = int(d.max())
    marg = np.bincount(d, minlength=top + 1)
    # expected cell count = row total × column total / n >= 5 for the smallest row
    threshold = MIN_EXPECTED * n / n_min
    group = _pool(marg, threshold)
    n_cols = int(group[-1]) + 1
    if n_cols < 2:
        return _skip(test, "the delays fill one bin: nothing to test", dropped_rows=dropped)
    n_rows = int(rows.max()) + 1
    table = np.bincount(rows * n_cols + group[d], minlength=n_rows * n_cols).reshape(n_rows, n_cols)
    table = table[:, table.sum(axis=0) > 0]
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
    k = min(table.shape) - 1
    v = math.sqrt(chi2 / (n * k)) if k > 0 else 0.0
    sums = np.bincount(rows, weights=d)
    means = sums / np.bincount(rows)
    return {
        "test": test,
        "skipped": None,
        "statistic": float(chi2),
        "dof": int(dof),
        "pvalue": float(p),
        "cramers_v": float(v),
        "n": int(n),
        "shape": list(table.shape),
        "dropped_rows": dropped,
        "mean_delay_range": [float(means.min()), float(means.max())],
        "method": "chi2",
    }


def block_delay_independence(schedule: Schedule) -> dict[str, Any]:
    """χ² tests of independence of the delay from the block and from the writer (measures.md §8.4.3).

    Table: rows = blocks written (a write of a whole owned set, block -1, is its own row "owned set
    of worker c"), columns = delay bins. Rows with fewer than 50 writes are dropped (counted in
    ``dropped_rows``); adjacent delay values are pooled left to right until each column total is at
    least 5 N / n_min, so that every expected count n_r n_j / N is >= 5 (n_min the smallest row
    total); empty rows and columns are dropped.
    ``scipy.stats.chi2_contingency`` (no continuity correction) gives the statistic, dof and
    p-value; Cramér's V = sqrt(χ² / (N (min(r, c) - 1))) is the effect size.

    Some analyses assume block ⊥ delay (Liu–Wright, ARock); others drop it (Sun–Hannah–Yin,
    Cannelli et al.). With heterogeneous worker rates μ_w the delay of w is Geometric(μ_w / Σμ)
    (measures.md §9.2), so when workers own blocks the delay depends on the block. The p-value
    assumes independent writes; with autocorrelated (queue-generated) delays, judge by Cramér's V.

    Returns ``{"block": {...}, "writer": {...}}``, each with ``statistic``, ``dof``, ``pvalue``,
    ``cramers_v``, ``shape``, ``mean_delay_range`` (smallest and largest row mean), or ``skipped``.
    """
    d = schedule.delay()
    if schedule.n_events < MIN_EVENTS:
        why = f"too few writes ({schedule.n_events} < {MIN_EVENTS})"
        return {
            "block": _skip("block_delay_independence", why),
            "writer": _skip("writer_delay_independence", why),
        }
    block_label = np.where(schedule.block >= 0, schedule.block, schedule.n_blocks + schedule.writer)
    return {
        "block": _independence(block_label, d, "block"),
        "writer": _independence(schedule.writer.astype(np.int64), d, "writer"),
    }


# --- 3. stationarity: early against late ---------------------------------------------------------


def delay_homogeneity(schedule: Schedule) -> dict[str, Any]:
    """χ² homogeneity test of the delays of the first half against the second (measures.md §8.4.6).

    The 2 × J table counts delays of writes k < ⌊N/2⌋ and k >= ⌊N/2⌋ in delay bins pooled left to
    right until each column total is at least 5 N / min(n_1, n_2) (every expected count >= 5);
    ``scipy.stats.chi2_contingency`` without continuity correction.
    Effect sizes on the unpooled integer cells: TV = ½ Σ_i |p̂_1(i) - p̂_2(i)| and the KS statistic
    D = max_i |F̂_1(i) - F̂_2(i)| (its p-value is not reported: for integer data it is conservative).
    With 10^6 or more samples every test rejects, so judge by the effect sizes; the p-value also
    assumes independent writes (autocorrelated delays make it anti-conservative).
    """
    test = "delay_homogeneity"
    N = schedule.n_events
    if N < MIN_EVENTS:
        return _skip(test, f"too few writes ({N} < {MIN_EVENTS})")
    d = schedule.delay()
    half = N // 2
    a, b = d[:half], d[half:]
    top = int(d.max())
    ca = np.bincount(a, minlength=top + 1)
    cb = np.bincount(b, minlength=top + 1)
    tv, ks = _effect_sizes(ca / a.size, cb / b.size)
    base = {
        "test": test,
        "n_early": int(a.size),
        "n_late": int(b.size),
        "mean_early": float(a.mean()),
        "mean_late": float(b.mean()),
        "tv_distance": tv,
        "ks_d": ks,
        "method": "chi2",
    }
    group = _pool(ca + cb, MIN_EXPECTED * N / min(a.size, b.size))
    n_cols = int(group[-1]) + 1
    if n_cols < 2:
        return {**base, **_skip(test, "the delays fill one bin: nothing to test"), "statistic": 0.0, "dof": 0}
    table = np.stack(
        [np.bincount(group, weights=ca, minlength=n_cols), np.bincount(group, weights=cb, minlength=n_cols)]
    )
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
    return {**base, "skipped": None, "statistic": float(chi2), "dof": int(dof), "pvalue": float(p)}
