"""Figure 5 (momentum): momentum form and ownership against time-to-ε and the averaged momentum.

Reads the study ``fig5_momentum`` (spec ``sims/paper/fig5_momentum.toml``): chained LQ (n = 64,
16 blocks, 8 workers with exponential compute times), momentum none / heavy ball / Nesterov / EMA
(m = 0.9), partitioned (PASSM) and shared ownership. (a) time-to-ε: the first ODE time at which
dist(x, critical set) ≤ ε, Kaplan–Meier median with its 95 % interval from the study report;
configurations where fewer than half the replicas reach ε have no median and are drawn as a
triangle at the horizon with the count reached. (b) the window-averaged momentum ‖m̄‖ at the
horizon (the time-weighted average of the buffer over the last window, which must vanish; for
no momentum it is the window velocity), one dot per replica and the median. (c) the median
distance to the critical set over ODE time (10–90 % band), for context.

Run::

    python paper_figures/fig5_momentum.py [--results results/paper/quick] [--out DIR]
"""

from __future__ import annotations

import numpy as np

try:
    from paper_figures import common
except ImportError:  # run as a script: paper_figures/ is on sys.path
    import common

STUDY = "fig5_momentum"
OWN_COLOURS = {"partitioned": common.PALETTE[0], "shared": common.PALETTE[1]}
OWN_MARKERS = {"partitioned": "o", "shared": "s"}
FORM_STYLES = {"none": ":", "heavy": "-", "nesterov": "--", "ema": "-."}
FORM_NAMES = {"none": "none", "heavy": "heavy ball", "nesterov": "Nesterov", "ema": "EMA"}


def _bands(res, cid: int, metric: str):
    from asyncconv.plot.study import finished_replicas, quantile_band

    reps, div = finished_replicas(res, cid)
    if not len(reps):
        return None
    v = res.trajectories["metrics"].isel(config=cid).sel(metric=["t", metric]).values[reps].astype(np.float64)
    return quantile_band(v[..., 0], v[..., 1], div)


def draw(res, rep) -> object:
    from matplotlib.lines import Line2D

    cfgs = res.spec["configs"]
    forms = list(dict.fromkeys(c["labels"]["iteration"] for c in cfgs))
    owns = list(dict.fromkeys(c["labels"]["schedule"] for c in cfgs))
    entries = {c["id"]: c for c in rep["configs"]}
    eps = float(rep["thresholds"]["eps"])
    fig, (a, b, c) = common.figure(1, 3, width=7.2, height=2.9)
    fig.set_layout_engine("constrained")
    off = {o: (k - (len(owns) - 1) / 2) * 0.22 for k, o in enumerate(owns)}
    y = {f: i for i, f in enumerate(forms)}
    horizon = max(float(e["final"]["t_final"]["q90"]) for e in rep["configs"] if "final" in e)
    s = res.summary
    for cfg in cfgs:
        f, o = cfg["labels"]["iteration"], cfg["labels"]["schedule"]
        e = entries[cfg["id"]]
        yy = y[f] + off[o]
        col = OWN_COLOURS.get(o, "k")
        tte = e.get("time_to_eps", {})
        med, ci = tte.get("median"), tte.get("median_ci") or [None, None]
        if med is not None:
            lo = ci[0] if ci[0] is not None else med
            hi = ci[1] if ci[1] is not None else horizon
            a.errorbar(med, yy, xerr=[[med - lo], [hi - med]], fmt=OWN_MARKERS.get(o, "o"), color=col, ms=4.5,
                       capsize=2.5, lw=1.1)  # fmt: skip
            if ci[1] is None:
                a.annotate("", (horizon, yy), (med, yy), arrowprops={"arrowstyle": "->", "color": col})
        else:
            a.plot(horizon, yy, ">", color=col, ms=5, mfc="none")
            a.text(horizon * 0.93, yy, f"ε not reached ({tte.get('reached', 0)}/{e.get('replicas', 0)})",
                   ha="right", va="center", fontsize=6.3, color=col)  # fmt: skip
        # (b) window-averaged momentum per replica
        v = s.loc[s["config"] == cfg["id"], "momentum_avg"].to_numpy(np.float64)
        v = v[np.isfinite(v) & (v > 0)]
        if v.size:
            jitter = np.random.default_rng(cfg["id"]).uniform(-0.06, 0.06, v.size)
            b.plot(v, yy + jitter, OWN_MARKERS.get(o, "o"), color=col, ms=2.5, alpha=0.5, mew=0)
            b.plot([np.median(v)] * 2, [yy - 0.1, yy + 0.1], color="k", lw=1.6)
        # (c) distance to the critical set
        band = _bands(res, cfg["id"], "dist")
        if band is not None:
            keep = band.t > 0
            t, q = band.t[keep], np.maximum(band.q[:, keep], 1e-12)
            c.fill_between(t, q[0], q[2], color=col, alpha=0.12, lw=0)
            c.plot(t, q[1], color=col, ls=FORM_STYLES.get(f, "-"), lw=1.3)
    a.axvline(horizon, color="0.5", lw=0.7, ls=":")
    a.set_xlim(0, horizon * 1.08)
    a.set_xlabel(f"ODE time to dist ≤ ε = {eps:g}\n(KM median, 95 % CI)", fontsize=7.5)
    a.set_title("(a) time-to-ε", fontsize=8.5, loc="left")
    b.set_xscale("log")
    b.set_xlabel("window-averaged ‖m̄‖ at the horizon\n(dots: replicas, bar: median)", fontsize=7.5)
    b.set_title("(b) averaged momentum", fontsize=8.5, loc="left")
    for ax in (a, b):
        ax.set_yticks(range(len(forms)), [FORM_NAMES.get(f, f) for f in forms])
        ax.set_ylim(len(forms) - 0.5, -0.5)
        ax.grid(False, axis="y")
        ax.tick_params(labelsize=7.5)
    b.tick_params(labelleft=False)
    a.set_ylabel("momentum form (m = 0.9)", fontsize=8)
    c.axhline(eps, color="0.3", lw=0.8, ls=":")
    c.set_xscale("log")
    c.set_yscale("log")
    c.set_xlabel("ODE time t = Σ γ_k", fontsize=7.5)
    c.set_ylabel("dist(x, critical set)", fontsize=7.5)
    c.set_title("(c) distance to the critical set", fontsize=8.5, loc="left")
    c.tick_params(labelsize=7)
    handles = [Line2D([], [], color=OWN_COLOURS.get(o, "k"), marker=OWN_MARKERS.get(o, "o"), ls="", ms=4.5,
                      label=f"{o} ownership") for o in owns]  # fmt: skip
    handles += [Line2D([], [], color="0.3", ls=FORM_STYLES.get(f, "-"), lw=1.3, label=f"(c) {FORM_NAMES.get(f, f)}")
                for f in forms]  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False, fontsize=7)
    n = max(e.get("replicas", 0) for e in rep["configs"])
    fig.suptitle(f"Momentum on chained LQ (n = 64, 16 blocks, 8 workers; {n} replicas per configuration)",
                 fontsize=9)  # fmt: skip
    return fig


def main() -> None:
    from asyncconv.study import open_results, report

    ns = common.args(__doc__)
    res = open_results(common.study_dir(ns.results, STUDY))
    common.save(draw(res, report(res)), ns.out, "fig5_momentum")


if __name__ == "__main__":
    main()
