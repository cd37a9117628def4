"""Figure 4 (step sizes and delays): verdict maps over the step exponent p and the delay tail index a.

Reads the study ``fig4_step_delay`` (spec ``sims/paper/fig4_step_delay.toml``): weighted l1
(n = 16), abstract model with 4 workers, 8 shared blocks and Pareto delays P(d > x) ~ x^-a, step
sizes γ_k ~ k^-p. (a) the fraction of replicas converged per cell (colour; the cell text gives the
counts converged out of n, not converging (stalled or drifting) and undecided, from the study
report). (b) the median over replicas of the largest step × delay product γ_k·d_k in the last
window ("age" at the horizon; the theorem needs γ_k·d_k -> 0), on a log colour scale, with the
tolerance of the evidence's assumption check (``age_ok``) marked: it is reported beside the
verdicts, not folded into them, since it bounds how stale the reads are, not where the iterates go. Both panels
draw the theoretical boundary a·p = 1 (above and right of it γ_k·d_k -> 0 almost surely).

Run::

    python paper_figures/fig4_step_delay.py [--results results/paper/quick] [--out DIR]
"""

from __future__ import annotations

import numpy as np

try:
    from paper_figures import common
except ImportError:  # run as a script: paper_figures/ is on sys.path
    import common

STUDY = "fig4_step_delay"
P_KEY, A_KEY = "iteration.p", "schedule.abstract.delay.tail"


def grid(res, rep):
    """Axes values (p, a) and per cell: verdict counts and the median final age."""
    cfgs = res.spec["configs"]
    ps = sorted({float(c["labels"][P_KEY]) for c in cfgs})
    As = sorted({float(c["labels"][A_KEY]) for c in cfgs})
    shape = (len(As), len(ps))
    counts = {v: np.zeros(shape, int) for v in ("converged", "stalled", "drifting", "diverged", "undecided")}
    n = np.zeros(shape, int)
    age = np.full(shape, np.nan)
    entries = {c["id"]: c for c in rep["configs"]}
    s = res.summary
    for c in cfgs:
        i, j = As.index(float(c["labels"][A_KEY])), ps.index(float(c["labels"][P_KEY]))
        fr = entries[c["id"]].get("verdicts", {}).get("fractions", {})
        for v in counts:
            counts[v][i, j] = fr.get(v, {}).get("k", 0)
        n[i, j] = entries[c["id"]].get("replicas", 0)
        a = s.loc[s["config"] == c["id"], "age_final"].to_numpy(np.float64)
        age[i, j] = np.nanmedian(a) if np.isfinite(a).any() else np.nan
    return np.asarray(ps), np.asarray(As), counts, n, age


def _boundary(ax, ps: np.ndarray, As: np.ndarray) -> None:
    """a·p = 1 in cell-index coordinates (both axes piecewise linear between grid values)."""
    pp = np.linspace(ps[0] - 0.5 * (ps[1] - ps[0]), ps[-1] + 0.5 * (ps[-1] - ps[-2]), 200)
    a = 1.0 / pp
    xi = np.interp(pp, ps, np.arange(len(ps)), left=np.nan, right=np.nan)
    xi = np.where(np.isnan(xi), (pp - ps[0]) / (ps[1] - ps[0]), xi)  # linear beyond the edges
    xi = np.where(pp > ps[-1], len(ps) - 1 + (pp - ps[-1]) / (ps[-1] - ps[-2]), xi)
    yi = np.interp(a, As, np.arange(len(As)))
    yi = np.where(a < As[0], (a - As[0]) / (As[1] - As[0]), yi)
    yi = np.where(a > As[-1], len(As) - 1 + (a - As[-1]) / (As[-1] - As[-2]), yi)
    ax.plot(xi, yi, color="k", lw=2.0, ls="--", zorder=2)
    ax.plot(xi, yi, color="w", lw=0.7, ls="--", zorder=2)


def _axes(ax, ps, As) -> None:
    ax.set_xticks(range(len(ps)), [f"{p:g}" for p in ps])
    ax.set_yticks(range(len(As)), [f"{a:g}" for a in As])
    ax.set_xlim(-0.5, len(ps) - 0.5)
    ax.set_ylim(-0.5, len(As) - 0.5)
    ax.set_xlabel(r"step-size exponent p  ($\gamma_k \propto k^{-p}$)", fontsize=8)
    ax.set_ylabel("Pareto delay tail index a", fontsize=8)
    ax.grid(False)
    ax.tick_params(labelsize=7.5)


def _colorbar(fig, im, ax, label: str) -> None:
    cb = fig.colorbar(im, ax=ax, shrink=0.9, pad=0.02)
    cb.set_label(label, fontsize=7.5)
    cb.ax.tick_params(labelsize=7)


def _text(ax, x, y, s, **kw) -> None:
    """Cell text above the boundary line, with a thin halo in the cell's opposite colour."""
    import matplotlib.patheffects as pe

    halo = "k" if kw.get("color") == "w" else "w"
    ax.text(x, y, s, ha="center", va="center", zorder=3,
            path_effects=[pe.withStroke(linewidth=1.2, foreground=halo, alpha=0.6)], **kw)  # fmt: skip


def draw(res, rep) -> object:
    from matplotlib.colors import LinearSegmentedColormap, LogNorm
    from matplotlib.lines import Line2D

    ps, As, counts, n, age = grid(res, rep)
    fig, (a0, a1) = common.figure(1, 2, width=7.2, height=3.4)
    fig.set_layout_engine("constrained")
    # (a) fraction converged: white -> the palette's green (colour-blind safe, monotone in lightness)
    cmap = LinearSegmentedColormap.from_list("conv", ["#ffffff", common.PALETTE[2], "#00402c"])
    frac = np.where(n > 0, counts["converged"] / np.maximum(n, 1), np.nan)
    im = a0.imshow(frac, origin="lower", cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for (i, j), f in np.ndenumerate(frac):
        dark = np.isfinite(f) and f > 0.6
        col = "w" if dark else "k"
        _text(
            a0,
            j,
            i + 0.12,
            f"{counts['converged'][i, j]}/{n[i, j]}",
            fontsize=8,
            color=col,
            fontweight="bold",
        )
        rest = f"n {counts['stalled'][i, j] + counts['drifting'][i, j]}  u {counts['undecided'][i, j]}"
        if counts["diverged"][i, j]:
            rest += f"  d {counts['diverged'][i, j]}"
        _text(a0, j, i - 0.2, rest, fontsize=6, color=col)
    _boundary(a0, ps, As)
    _axes(a0, ps, As)
    _colorbar(fig, im, a0, "fraction converged")
    a0.set_title("(a) verdicts: converged / n  (n = not converging, u = undecided)", fontsize=8, loc="left")
    # (b) median final age max γ·d on a log scale
    ok = np.isfinite(age) & (age > 0)
    norm = LogNorm(vmin=float(age[ok].min()), vmax=float(age[ok].max())) if ok.any() else None
    im2 = a1.imshow(np.where(ok, age, np.nan), origin="lower", cmap="cividis", norm=norm, aspect="auto")
    tol = float(rep["thresholds"].get("age_tol", np.nan))
    for (i, j), v in np.ndenumerate(age):
        if not np.isfinite(v):
            continue
        bright = norm is not None and norm(v) > 0.55
        txt = f"{v:.2g}" if v < 100 else f"{v:.0f}"
        _text(
            a1,
            j,
            i,
            txt,
            fontsize=7,
            color="k" if bright else "w",
            fontweight="bold" if v <= tol else "normal",
        )
    _boundary(a1, ps, As)
    _axes(a1, ps, As)
    _colorbar(fig, im2, a1, "median of max γ_k·d_k, last window")
    a1.set_title(f"(b) step × delay at the horizon (bold: ≤ tolerance {tol:g})", fontsize=8, loc="left")
    fig.legend(
        handles=[Line2D([], [], color="k", lw=2.0, ls="--", label="a·p = 1 (theory: γ_k·d_k → 0 a.s. when a·p > 1)")],
        loc="outside lower center", frameon=False, fontsize=7.5,
    )  # fmt: skip
    reps = int(n.max()) if n.size else 0
    events = res.spec["configs"][0]["events"]
    fig.suptitle(
        f"Step sizes vs Pareto delays, weighted ℓ1 (n = 16, 4 workers, 8 shared blocks; {reps} replicas x "
        f"{events:,} writes per cell)",
        fontsize=9,
    )
    return fig


def main() -> None:
    from asyncconv.study import open_results, report

    ns = common.args(__doc__)
    res = open_results(common.study_dir(ns.results, STUDY))
    common.save(draw(res, report(res)), ns.out, "fig4_step_delay")


if __name__ == "__main__":
    main()
