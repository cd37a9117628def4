"""Figure 3 (the invariant set): phase portraits on the blockwise-critical trap, and jitter.

Reads the studies ``fig3a_trap_phase`` and ``fig3b_trap_jitter`` (specs
``sims/paper/fig3a_trap_phase.toml``, ``sims/paper/fig3b_trap_jitter.toml``); the trap is
f(x) = |x1 − x2| + (x1 + x2)/2 + (x1 + x2)²/2 with blocks {x1}, {x2}, started at x0 = (2, −1.5).

(a)–(d) one panel per schedule: level sets of f, the blockwise-critical segment
{(t, t) : t ∈ [−3/4, 1/4]}, the Clarke-critical point x* = (−1/4, −1/4), and the paths of a few
replicas through the iterates stored at probes uniform in ODE time (``probe_x``); the row below
zooms on x* with the same axes in every panel, and the verdict counts come from the study report.
(e) the fraction of replicas converged to x* (and not converging: stalled or drifting on the
segment, and undecided) against the compute-time jitter h of
two PASSM workers with compute times uniform on [1 − h, 1 + h], with 95 % Clopper–Pearson
intervals from the report; h = 0 (exactly equal compute times) is drawn left of the break in the
log axis. (f) the final distance D
to x* against h (median and 10–90 % range over replicas), with the verdicts' ε and stall distance.

Run::

    python paper_figures/fig3_invariant_set.py [--results results/paper/quick] [--out DIR]
"""

from __future__ import annotations

import numpy as np

try:
    from paper_figures import common
except ImportError:  # run as a script: paper_figures/ is on sys.path
    import common

PHASE, JITTER = "fig3a_trap_phase", "fig3b_trap_jitter"
X_STAR = np.array([-0.25, -0.25])
SEGMENT = (-0.75, 0.25)
X0 = np.array([2.0, -1.5])
#: replicas drawn per phase portrait
N_PATHS = 3
PATH_COLOURS = (common.PALETTE[0], common.PALETTE[1], common.PALETTE[3])
CONV, STALL = common.PALETTE[2], common.PALETTE[4]
JITTER_KEY = "schedule.timing.compute.shape"


def trap_f(x1, x2):
    s = x1 + x2
    return np.abs(x1 - x2) + 0.5 * s + 0.5 * s**2


def _landscape(ax, lim: tuple[float, float, float, float], levels) -> None:
    """Level sets of f, the blockwise-critical segment and x*."""
    x1, x2 = np.meshgrid(np.linspace(lim[0], lim[1], 300), np.linspace(lim[2], lim[3], 300))
    ax.contour(
        x1, x2, trap_f(x1, x2), levels=levels, colors="0.75", linewidths=0.5, linestyles="solid", zorder=0
    )
    ax.plot(SEGMENT, SEGMENT, color="k", lw=2.2, alpha=0.35, solid_capstyle="butt", zorder=1)
    ax.plot(*X_STAR, marker="*", ms=11, color="k", mec="w", mew=0.6, zorder=5)
    ax.set_xlim(lim[0], lim[1])
    ax.set_ylim(lim[2], lim[3])
    ax.set_aspect("equal")


def _verdicts(rep: dict, cid: int) -> str:
    fr = next(c for c in rep["configs"] if c["id"] == cid).get("verdicts", {}).get("fractions", {})
    parts = [
        f"{v} {fr[v]['k']}/{fr[v]['n']}"
        for v in ("converged", "stalled", "drifting", "undecided")
        if fr.get(v, {}).get("k")
    ]
    return ", ".join(parts) or "no finished replicas"


def phase_panels(fig, res, rep) -> None:
    """Two rows (whole path, zoom on x*) of one column per schedule."""
    from matplotlib.ticker import MaxNLocator

    cfgs = res.spec["configs"]
    axes = np.asarray(fig.subplots(2, len(cfgs), squeeze=False))
    px = res.trajectories["probe_x"].values.astype(np.float64)  # (config, replica, probe, 2)
    full = (-1.0, 2.3, -1.8, 1.0)
    fmin = trap_f(*X_STAR)
    levels_full = fmin + np.array([0.02, 0.1, 0.3, 0.6, 1.0, 1.5, 2.2, 3.0, 4.0])
    # one zoom window for all schedules: x* and every replica's last iterate, at least ±0.06
    last = px[:, :, -1, :]
    half = max(0.06, 1.3 * float(np.nanmax(np.abs(last - X_STAR)))) if np.isfinite(last).any() else 0.06
    zoom = (X_STAR[0] - half, X_STAR[0] + half, X_STAR[1] - half, X_STAR[1] + half)
    levels_zoom = fmin + np.linspace(0.0, 2 * half, 9)[1:] ** 1 * 1.0
    for j, c in enumerate(cfgs):
        cid = c["id"]
        reps = np.sort(res.summary.loc[res.summary["config"] == cid, "replica"].to_numpy())[:N_PATHS]
        paths = [np.vstack([X0, px[cid, r][np.isfinite(px[cid, r]).all(axis=1)]]) for r in reps]
        identical = len(paths) > 1 and all(
            p.shape == paths[0].shape and np.allclose(p, paths[0]) for p in paths[1:]
        )
        for row, (lim, lev) in enumerate(((full, levels_full), (zoom, levels_zoom))):
            ax = axes[row, j]
            _landscape(ax, lim, lev)
            for i, p in enumerate(paths[:1] if identical else paths):
                ax.plot(p[:, 0], p[:, 1], "-", color=PATH_COLOURS[i], lw=0.8 if row == 0 else 0.6,
                        alpha=0.9, zorder=3)  # fmt: skip
                if row == 1:
                    ax.plot(p[:, 0], p[:, 1], ".", color=PATH_COLOURS[i], ms=2.0, zorder=3)
                ax.plot(*p[-1], "o", color=PATH_COLOURS[i], ms=4, mec="k", mew=0.5, zorder=6)
            if row == 0:
                ax.plot(*X0, "s", color="0.3", ms=4, zorder=6)
                ax.set_title(f"({'abcd'[j]}) {c['label']}", fontsize=8, loc="left")
                note = _verdicts(rep, cid)
                if identical:
                    note += f"\n{len(reps)} shown replicas identical"
                ax.text(0.98, 0.98, note, transform=ax.transAxes, ha="right", va="top", fontsize=6.2, color="0.15",
                        bbox={"fc": "white", "ec": "none", "alpha": 0.85, "pad": 1.0})  # fmt: skip
            else:
                d = np.linalg.norm(np.asarray([p[-1] for p in paths]) - X_STAR, axis=1)
                ax.text(0.03, 0.97, f"final ‖x − x*‖ ≤ {d.max():.1e}" if len(d) else "", transform=ax.transAxes,
                        ha="left", va="top", fontsize=6.2, color="0.15",
                        bbox={"fc": "white", "ec": "none", "alpha": 0.85, "pad": 1.0})  # fmt: skip
            ax.tick_params(labelsize=6.5)
            ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.set_xlabel("x1", fontsize=7.5, labelpad=1)
            if j == 0:
                ax.set_ylabel("x2" if row == 0 else "x2 (zoom on x*)", fontsize=7.5)
            else:
                ax.tick_params(labelleft=False)


def _fractions(rep: dict, verdict: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    h, p, lo, hi = [], [], [], []
    for c in rep["configs"]:
        v = c.get("verdicts", {})
        fr = (
            v.get("outcomes", {}).get(verdict)
            if verdict == "not converging"
            else v.get("fractions", {}).get(verdict)
        )
        if fr is None:
            continue
        h.append(float(c["labels"][JITTER_KEY]))
        p.append(fr["p"])
        lo.append(fr["lo"])
        hi.append(fr["hi"])
    o = np.argsort(h)
    return tuple(np.asarray(v)[o] for v in (h, p, lo, hi))


def _h_positions(h: np.ndarray) -> tuple[np.ndarray, float]:
    """x positions on a log axis: h > 0 as is, h = 0 at a stand-in 1.5 decades left of the smallest h."""
    pos = h[h > 0]
    zero = float(pos.min()) / 10**1.5 if pos.size else 1e-4
    return np.where(h > 0, h, zero), zero


def _h_axis(ax, zero: float, hmax: float) -> None:
    """Log h axis whose leftmost tick is the stand-in for h = 0, with a break mark after it."""
    from matplotlib.ticker import LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.set_xlim(zero / 10**0.4, hmax * 10**0.3)
    ticks = [zero] + [10.0**e for e in range(int(np.ceil(np.log10(zero * 10**0.8))), int(np.log10(hmax)) + 1)]
    ax.set_xticks(ticks, ["0"] + [f"$10^{{{round(np.log10(t))}}}$" for t in ticks[1:]])
    minor = LogLocator(subs=np.arange(2, 10), numticks=30).tick_values(ticks[1], hmax)
    ax.set_xticks([m for m in minor if ticks[1] < m < hmax * 10**0.3], minor=True)
    ax.xaxis.set_minor_formatter(NullFormatter())
    # break: hide the minor ticks between h = 0 and the first decade, draw // on the axis
    brk = zero * 10**0.6
    ax.plot([brk / 1.12, brk * 1.0], [-0.025, 0.025], transform=ax.get_xaxis_transform(), color="k", lw=0.8,
            clip_on=False)  # fmt: skip
    ax.plot([brk * 1.0, brk * 1.12], [-0.025, 0.025], transform=ax.get_xaxis_transform(), color="k", lw=0.8,
            clip_on=False)  # fmt: skip
    ax.axvline(brk, color="0.6", lw=0.6, ls=(0, (2, 2)))


def _errorbar(ax, x, y, lo, hi, pos, *, fmt: str, color, label=None) -> None:
    """Points with intervals; the h > 0 points joined by a line, the h = 0 point left apart."""
    ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt=fmt, color=color, ms=3.5, capsize=2.0, lw=1.0, label=label)
    ax.plot(x[pos], y[pos], "-", color=color, lw=1.0)


def jitter_panels(fig, res, rep) -> None:
    """(e) verdict fractions vs h; (f) final distance to x* vs h."""
    a, b = fig.subplots(1, 2)
    for ax in (a, b):
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    n = rep["configs"][0].get("replicas", 0)
    hmax = 1.0
    zero = 1e-4
    for verdict, colour, marker, dx in (
        ("converged", CONV, "o", 1.0), ("not converging", STALL, "s", 1.12), ("undecided", "0.55", "^", 0.89)
    ):  # fmt: skip
        h, p, lo, hi = _fractions(rep, verdict)
        if not h.size:
            continue
        x, zero = _h_positions(h)
        hmax = max(hmax, float(h.max()))
        _errorbar(a, x * dx, p, lo, hi, h > 0, fmt=marker, color=colour, label=verdict)
    _h_axis(a, zero, hmax)
    a.set_ylim(-0.04, 1.04)
    a.set_ylabel("fraction of replicas", fontsize=8)
    a.set_xlabel("compute-time jitter h (times uniform on [1 − h, 1 + h])", fontsize=7.5)
    a.legend(fontsize=7, frameon=False, loc="center right", bbox_to_anchor=(1.0, 0.45))
    a.set_title(f"(e) verdicts vs jitter ({n} replicas per h, 95 % CP intervals)", fontsize=8, loc="left")
    # (f): final distance to x*
    s = res.summary
    key = {c["id"]: float(c["labels"][JITTER_KEY]) for c in res.spec["configs"]}
    hs = np.asarray(sorted(set(key.values())))
    q = []
    for hv in hs:
        ids = [i for i, v in key.items() if v == hv]
        d = s.loc[s["config"].isin(ids), "dist_rel_final"].to_numpy(np.float64)
        d = d[np.isfinite(d)]
        q.append(np.quantile(d, (0.1, 0.5, 0.9)) if d.size else (np.nan,) * 3)
    q = np.asarray(q)
    x, zero = _h_positions(hs)
    _errorbar(b, x, q[:, 1], q[:, 0], q[:, 2], hs > 0, fmt="o", color="k")
    _h_axis(b, zero, max(1.0, float(hs.max())))
    b.set_yscale("log")
    for key, what in (("eps", "converged: D ≤ ε"), ("stall_dist", "not converging: D > this late")):
        tol = rep["thresholds"].get(key)
        if tol:
            b.axhline(float(tol), color="0.35", ls=":", lw=0.8)
            b.text(0.02, float(tol), f"{what} ({float(tol):g})", transform=b.get_yaxis_transform(),
                   ha="left", va="bottom", fontsize=6.5, color="0.35")  # fmt: skip
    b.set_ylabel("final D = ‖x − x*‖ / max(1, ‖x*‖)\n(median, 10–90 % over replicas)", fontsize=7.5)
    b.set_xlabel("compute-time jitter h", fontsize=7.5)
    b.set_title("(f) distance to x* at the horizon", fontsize=8, loc="left")
    for ax in (a, b):
        ax.tick_params(labelsize=7)


def draw(phase_res, phase_rep, jitter_res, jitter_rep) -> object:
    """The whole figure: phase portraits (top) and the jitter sweep (bottom)."""
    from matplotlib.lines import Line2D

    fig, _ = common.figure(1, 1, width=7.2, height=6.6)
    fig.clf()
    fig.set_layout_engine("constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(1.9, 1.0), hspace=0.04)
    phase_panels(top, phase_res, phase_rep)
    handles = [
        Line2D([], [], color="k", lw=2.2, alpha=0.35, label="blockwise-critical segment"),
        Line2D([], [], color="k", marker="*", ls="", ms=9, label="Clarke-critical x* = (−¼, −¼)"),
        Line2D([], [], color="0.3", marker="s", ls="", ms=4, label="x0 = (2, −1.5)"),
        Line2D([], [], color="0.75", lw=0.6, label="level sets of f"),
        Line2D([], [], color=PATH_COLOURS[0], marker="o", ms=3.5, mec="k", mew=0.5, lw=0.8,
               label="replica paths (probes), ● = last iterate"),
    ]  # fmt: skip
    top.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False, fontsize=6.8)
    top.suptitle("Trap: phase portraits per schedule (heavy ball m = 0.5, exact subgradients)", fontsize=9)
    jitter_panels(bottom, jitter_res, jitter_rep)
    return fig


def main() -> None:
    from asyncconv.study import open_results, report

    ns = common.args(__doc__)
    pa = open_results(common.study_dir(ns.results, PHASE))
    ji = open_results(common.study_dir(ns.results, JITTER))
    common.save(draw(pa, report(pa), ji, report(ji)), ns.out, "fig3_invariant_set")


if __name__ == "__main__":
    main()
