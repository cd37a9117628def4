"""Figure 1 (delay laws): empirical delay distributions of event-driven workers, with theory.

Reads the study ``fig1_delay_laws`` (spec ``sims/paper/fig1_delay_laws.toml``): 4 PASSM workers
with exponential, deterministic, lognormal (σ = 1) and Pareto (α = 2.5) compute times of equal mean,
and 8 shared-model workers with inconsistent (torn) reads. Panels (a)–(e) show the pooled pmf of
the delay d_k = k − read_lo[k] (log y) of each schedule with the model's closed-form law where it
has one (the exponential workers' Geometric law, success probability 1/P); panel (f) compares the
tails of all five as survival functions P(d ≥ x) on log–log axes, where a power-law tail is a line.

Run::

    python paper_figures/fig1_delay_laws.py [--results results/paper/quick] [--out DIR]
"""

from __future__ import annotations

import numpy as np

try:
    from paper_figures import common
except ImportError:  # run as a script: paper_figures/ is on sys.path
    import common

STUDY = "fig1_delay_laws"
#: line colours per schedule (Okabe–Ito; black for the fifth)
COLOURS = tuple(common.PALETTE[i] for i in (0, 1, 2, 3, 7))


def _law(schedule: dict, upto: int) -> np.ndarray | None:
    from asyncconv.schedule import ScheduleModel

    return ScheduleModel.from_dict(schedule).delay_pmf(upto)


def _describe(cfg: dict) -> str:
    """A short description of a configuration's schedule for the panel title."""
    s = cfg["schedule"]
    comp = s.get("timing", {}).get("compute", {})
    law = {"exponential": "Exp", "deterministic": "const.", "lognormal": "LogN", "pareto": "Pareto"}.get(
        comp.get("law", "?"), comp.get("law", "?")
    )
    shape = comp.get("shape")
    extra = {"LogN": f"(σ={shape:g})", "Pareto": f"(α={shape:g})"}.get(law, "") if shape else ""
    reads = ", torn reads" if s.get("reads") == "inconsistent" else ""
    own = s["blocks"]["ownership"]
    return f"P = {s['n_workers']}, {law}{extra} times, {own}{reads}"


def draw(res) -> object:
    """The figure (2 x 3 panels, double-column width) of an opened ``fig1_delay_laws`` study."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    configs = res.spec["configs"]
    hists = {int(k): np.asarray(v["delay_hist"], np.int64) for k, v in res.schedules.items()}
    fig, axes = common.figure(2, 3, width=7.2, height=5.6)
    fig.set_layout_engine("constrained")
    axes = np.asarray(axes).ravel()
    surv_ax = axes[5]
    any_law = any_overflow = False
    ylo = 1e-4
    for i, cfg in enumerate(configs[:5]):
        ax = axes[i]
        counts = hists[cfg["id"]]
        total = counts.sum()
        cap = len(counts) - 1  # last bin: delays >= cap
        pmf = counts / total
        d = np.arange(len(counts))
        nz = counts > 0
        dmax = int(d[nz].max())
        # x range: up to the 99.99 % quantile (all the mass a reader can see on a log axis)
        cdf = np.cumsum(pmf)
        xmax = int(min(cap, np.searchsorted(cdf, 1 - 1e-4) + 1))
        xmax = max(xmax, 6)
        body = nz & (d < cap)
        ax.bar(d[body], pmf[body], width=1.0 if xmax > 40 else 0.85, color=COLOURS[i], alpha=0.6, lw=0)
        law = _law(cfg["schedule"], xmax)
        if law is not None:
            any_law = True
            keep = law > 0.1 * pmf[nz].min()
            ax.plot(d[: xmax + 1][keep], law[keep], "--", color="0.1", lw=1.1)
        if counts[cap] > 0:
            any_overflow = True
        lab = cfg["label"]
        stats = res.schedules[str(cfg["id"])].get("replica0") or {}
        mean = float((d * counts).sum() / total)
        ax.set_title(f"({'abcde'[i]}) {lab}\n{_describe(cfg)}", fontsize=8, loc="left")
        note = [f"mean {mean:.2f}, max {'≥ ' if counts[cap] else ''}{dmax}"]
        tail = stats.get("tail_index")
        if tail is not None:
            note.append(f"Hill tail index {tail:.1f} (replica 0)")
        torn = stats.get("torn_fraction")
        if torn:
            note.append(f"torn reads: {torn:.0%} of writes")
        if law is None:
            note.append("no closed-form law")
        ax.text(0.97, 0.97, "\n".join(note), transform=ax.transAxes, ha="right", va="top", fontsize=6.5,
                color="0.2")  # fmt: skip
        ax.set_yscale("log")
        lo = pmf[body & (d <= xmax)].min()
        ylo = min(ylo, lo / 3)
        ax.set_xlim(-0.8, xmax + 0.8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        # survival function P(d >= x) on the shared log-log panel
        surv = counts[::-1].cumsum()[::-1] / total
        x = d[1:][surv[1:] > 0]
        surv_ax.step(x, surv[1:][surv[1:] > 0], where="post", color=COLOURS[i], lw=1.4, label=lab)
    for ax in axes:
        ax.tick_params(labelsize=7.5)
    for ax in axes[:5]:
        ax.set_xlabel("delay d (writes)", fontsize=8.5)
        ax.set_ylim(ylo, 300.0)
    for ax in (axes[0], axes[3]):
        ax.set_ylabel("P(d_k = d)", fontsize=8.5)
    surv_ax.set_xscale("log")
    surv_ax.set_yscale("log")
    surv_ax.set_xlabel("delay d (writes)", fontsize=8.5)
    surv_ax.set_ylabel("P(d_k ≥ d)", fontsize=8.5)
    surv_ax.set_title("(f) tails of all five schedules\n(survival function, log-log)", fontsize=8, loc="left")
    surv_ax.legend(fontsize=6.5, frameon=False, loc="lower left")
    handles = [Patch(color="0.5", alpha=0.55, label="empirical pmf, pooled over replicas")]
    if any_law:
        handles.append(
            Line2D(
                [],
                [],
                color="0.1",
                lw=1.1,
                ls="--",
                label="model's closed-form law (Geometric, success prob. 1/P)",
            )
        )
    if any_overflow:
        handles.append(Patch(color="w", label="(delays ≥ 256 share one bin, not drawn in a–e)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False, fontsize=7.5)
    n_rep = res.summary.groupby("config").size().min()
    writes = int(res.summary["writes"].iloc[0])
    fig.suptitle(
        f"Delay laws of event-driven workers of equal mean speed ({n_rep} replicas x {writes:,} writes each)",
        fontsize=10,
    )
    return fig


def main() -> None:
    from asyncconv.study import open_results

    ns = common.args(__doc__)
    res = open_results(common.study_dir(ns.results, STUDY))
    common.save(draw(res), ns.out, "fig1_delay_laws")


if __name__ == "__main__":
    main()
