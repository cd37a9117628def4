"""Figure 2 (convergence on the battery): f − f_ref and the distance to the critical set over ODE time.

Reads the study ``fig2_battery`` (spec ``sims/paper/fig2_battery.toml``; its description names the
problems, e.g. chained LQ, chained CB3 I and chained Mifflin 2, n = 64, 16 blocks) under 1, 2, 4, 8
and 16 workers with exponential compute times, with partitioned ownership (PASSM; 1 worker = the
synchronous method) and shared ownership. One row per problem; columns: f − f_ref and the DK
stationarity measure dist(x, critical set), each for partitioned and for shared ownership. Lines
are the median over replicas, bands the 10–90 % quantiles (``asyncconv.plot.study``), both against
ODE time t = Σ γ_k; the dotted line is the verdict threshold ε. The corner note gives the number
of replicas converged per worker count, in the legend's order (the report's verdicts; intervals
are in ``analysis/verdict_tables.py``). ODE time counts writes: under partitioned ownership a write
updates only the writer's 16/P blocks (block rate λ = 1/P), so the curves of more workers shift
right, as the block-rate inclusion predicts; the horizon grows with P because every worker keeps
its own step counter.

Run::

    python paper_figures/fig2_battery.py [--results results/paper/quick] [--out DIR]
"""

from __future__ import annotations

import numpy as np

try:
    from paper_figures import common
except ImportError:  # run as a script: paper_figures/ is on sys.path
    import common

STUDY = "fig2_battery"
#: colour per worker count (Okabe–Ito): 1 worker in black
WORKER_COLOURS = {1: "#000000", 2: common.PALETTE[5], 4: common.PALETTE[0], 8: common.PALETTE[2],
                  16: common.PALETTE[1]}  # fmt: skip
METRICS = (("f_gap", "f − f_ref"), ("dist", "dist(x, critical set)"))
OWNERSHIP = ("partitioned", "shared")


def _colour(p: int, i: int) -> str:
    return WORKER_COLOURS.get(p, common.PALETTE[i % len(common.PALETTE)])


def bands(res, config: int, metrics: tuple[str, ...]):
    """Median / 10–90 % bands of ``metrics`` of one configuration (``asyncconv.plot.study``)."""
    from asyncconv.plot.study import finished_replicas, quantile_band

    reps, div = finished_replicas(res, config)
    if not len(reps):
        return dict.fromkeys(metrics)
    arr = res.trajectories["metrics"].isel(config=config).sel(metric=["t", *metrics]).values
    vals = arr[reps].astype(np.float64)
    return {m: quantile_band(vals[..., 0], vals[..., i], div) for i, m in enumerate(metrics, start=1)}


def draw(res, rep) -> object:
    """The figure (problems x [f-gap, dist] x ownership) of an opened ``fig2_battery`` study."""
    from matplotlib.lines import Line2D

    cfgs = res.spec["configs"]
    problems = list(dict.fromkeys(c["labels"]["problem"] for c in cfgs))
    workers = sorted({int(c["labels"]["schedule.n_workers"]) for c in cfgs})
    entries = {c["id"]: c for c in rep["configs"]}
    eps = float(rep["thresholds"]["eps"])
    nrow = len(problems)
    fig, axes = common.figure(nrow, 4, width=7.2, height=1.95 * nrow + 0.9)
    fig.set_layout_engine("constrained")
    axes = np.asarray(axes).reshape(nrow, 4)
    for r, prob in enumerate(problems):
        for j, (metric, ylabel) in enumerate(METRICS):
            lo, hi = np.inf, 0.0
            for o, own in enumerate(OWNERSHIP):
                ax = axes[r, 2 * j + o]
                conv = {}
                # most workers first: the shorter horizons of fewer workers are drawn on top
                for i, p in reversed(list(enumerate(workers))):
                    c = next(
                        (c for c in cfgs if c["labels"]["problem"] == prob and c["labels"]["schedule"] == own
                         and int(c["labels"]["schedule.n_workers"]) == p),
                        None,
                    )  # fmt: skip
                    if c is None:
                        continue
                    b = bands(res, c["id"], (metric,))[metric]
                    fr = entries[c["id"]].get("verdicts", {}).get("fractions", {}).get("converged")
                    conv[p] = f"{fr['k']}" if fr else "–"
                    if b is None:
                        continue
                    keep = b.t > 0
                    t, q = b.t[keep], np.where(np.isfinite(b.q[:, keep]), b.q[:, keep], np.nan)
                    q = np.maximum(q, 1e-12)
                    ax.fill_between(t, q[0], q[2], color=_colour(p, i), alpha=0.18, lw=0)
                    ax.plot(t, q[1], color=_colour(p, i), lw=1.3)
                    lo, hi = min(lo, np.nanmin(q)), max(hi, np.nanmax(q))
                if metric == "dist":
                    ax.axhline(eps, color="0.3", lw=0.8, ls=":")
                n_rep = entries[cfgs[0]["id"]].get("replicas", res.spec["replicas"])
                if metric == "dist":
                    ax.text(0.03, 0.03, f"conv. {'/'.join(conv[p] for p in workers if p in conv)} of {n_rep}", transform=ax.transAxes,
                            fontsize=6, color="0.2", va="bottom")  # fmt: skip
                ax.set_xscale("log")
                ax.set_yscale("log")
                if r == 0:
                    ax.set_title(f"{ylabel}\n{own}", fontsize=8)
                if r == nrow - 1:
                    ax.set_xlabel("ODE time t = Σ γ_k", fontsize=8)
                ax.tick_params(labelsize=7)
            # one y range per (problem, metric) so partitioned and shared compare directly
            if metric == "dist":
                lo = min(lo, eps)
            for o in range(2):
                axes[r, 2 * j + o].set_ylim(lo / 3, hi * 3)
            axes[r, 2 * j + 1].tick_params(labelleft=False)
        axes[r, 0].set_ylabel(prob.replace("_", " "), fontsize=9, fontweight="bold")
    handles = [
        Line2D([], [], color=_colour(p, i), lw=2, label=f"{p} worker{'s' if p > 1 else ''}"
               + (" (synchronous if partitioned)" if p == 1 else ""))
        for i, p in enumerate(workers)
    ]  # fmt: skip
    handles.append(Line2D([], [], color="0.3", lw=0.8, ls=":", label=f"ε = {eps:g}"))
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False, fontsize=7.5)
    fig.suptitle(
        "Battery (n = 64, 16 blocks, exponential compute times): median and 10–90 % band over replicas",
        fontsize=9.5,
    )
    return fig


def main() -> None:
    from asyncconv.study import open_results, report

    ns = common.args(__doc__)
    res = open_results(common.study_dir(ns.results, STUDY))
    common.save(draw(res, report(res)), ns.out, "fig2_battery")


if __name__ == "__main__":
    main()
