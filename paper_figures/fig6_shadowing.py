"""Figure 6 (shadowing): the error between the iterates and the block-rate differential inclusion.

Reads the study ``fig6_shadowing`` (spec ``sims/paper/fig6_shadowing.toml``): f = |x1| + x2²/2
(``l1_plus_quadratic``, one block per coordinate) under two PASSM workers with exponential
compute times, heavy ball with m = 0 and m = 0.5. For every replica and every window start t_q
(probes uniform in ODE time, ``probe_x``), ``asyncconv.theory.shadowing.shadowing_errors``
integrates the inclusion ẋ ∈ −κ Λ ∂f(x) in closed form from x(t_q) and returns
e_q(T) = max over the window [t_q, t_q + T] (T = 1 ODE unit) of ‖x_j − z(t_j − t_q)‖, with Λ from
the block update fractions and κ = 1/(1 − m) the heavy-ball time stretch. One panel per momentum
setting: the median over replicas and the 10–90 % band against t_q, log y; for m > 0 the grey
line is the same with κ = 1 (the wrong time scale; measures.md §7.6), which must shadow worse.

Λ of each replica comes from its own writes per block (``block_counts`` in the summary); stores
written before that column existed fall back to replica 0's block fractions (``schedules.json``).

Run::

    python paper_figures/fig6_shadowing.py [--results results/paper/quick] [--out DIR]
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

try:
    from paper_figures import common
except ImportError:  # run as a script: paper_figures/ is on sys.path
    import common

STUDY = "fig6_shadowing"
WINDOW = 1.0
N_WINDOWS = 40


def kappa(iteration: dict) -> float:
    """The momentum time stretch (measures.md §3): 1/(1 − m) for heavy ball and Nesterov, else 1."""
    m = float(iteration.get("m", 0.0))
    return 1.0 / (1.0 - m) if iteration.get("momentum") in ("heavy", "nesterov") else 1.0


def errors(res, config: dict, *, kappa_value: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Window starts (Q,) (median over replicas) and errors (R, Q) of one configuration."""
    from asyncconv.schedule.blocks import partition
    from asyncconv.study.tasks import build
    from asyncconv.theory.shadowing import shadowing_errors

    problem, model, _, _ = build(config)
    block_off = partition(problem.n, model.blocks.n_blocks)
    cid = config["id"]
    stats = res.schedules.get(str(cid), {}).get("replica0") or {}
    freq = np.asarray(stats.get("block_freq", np.full(model.blocks.n_blocks, 1.0 / model.blocks.n_blocks)))
    k = kappa(config["iteration"]) if kappa_value is None else kappa_value
    px = res.trajectories["probe_x"].isel(config=cid).values.astype(np.float64)[..., : problem.n]
    pr = res.trajectories["probes"].isel(config=cid).values.astype(np.float64)
    reps = np.sort(res.summary.loc[res.summary["config"] == cid, "replica"].to_numpy())
    rows = res.summary[res.summary["config"] == cid].set_index("replica")
    starts, errs = [], []
    for r in reps:
        # each replica's own block counts (the store's summary), else replica 0's block frequencies
        counts = rows.at[r, "block_counts"] if "block_counts" in rows else None
        counts = np.asarray(counts, dtype=np.float64) if counts is not None else freq * 1e6
        fake = SimpleNamespace(probe_x=px[r][None], probes=pr[r][None], block_counts=counts[None])
        out = shadowing_errors(problem, fake, 0, kappa=k, block_off=block_off, window=WINDOW,
                               n_windows=N_WINDOWS)  # fmt: skip
        starts.append(out["t_start"])
        errs.append(out["error"])
    return np.median(np.asarray(starts), axis=0), np.asarray(errs)


def draw(res) -> object:
    cfgs = res.spec["configs"]
    fig, axes = common.figure(1, len(cfgs), width=7.2 if len(cfgs) > 1 else 3.5, height=2.9)
    fig.set_layout_engine("constrained")
    axes = np.atleast_1d(axes)
    lo, hi = np.inf, 0.0
    colours = (common.PALETTE[0], common.PALETTE[1], common.PALETTE[2])
    for i, (ax, cfg) in enumerate(zip(axes, cfgs, strict=True)):
        k = kappa(cfg["iteration"])
        curves = [(k, colours[i % 3], "-", f"κ = 1/(1 − m) = {k:g}")]
        if k != 1.0:
            curves.append((1.0, "0.45", "--", "κ = 1 (no time stretch)"))
        for kv, col, ls, lab in curves:
            t, e = errors(res, cfg, kappa_value=kv)
            q = np.nanquantile(e, (0.1, 0.5, 0.9), axis=0)
            ax.fill_between(t, q[0], q[2], color=col, alpha=0.18, lw=0)
            ax.plot(t, q[1], color=col, ls=ls, lw=1.5, label=lab)
            pos = q[q > 0]
            if pos.size:
                lo, hi = min(lo, pos.min()), max(hi, pos.max())
        m = cfg["iteration"].get("m", 0.0)
        name = "no momentum (m = 0)" if not m else f"heavy ball, m = {m:g}"
        ax.set_title(f"({'abcd'[i]}) {name}: {len(e)} replicas", fontsize=8.5, loc="left")
        ax.set_yscale("log")
        ax.set_xlabel("window start t_q (ODE time)", fontsize=8)
        ax.legend(fontsize=7, frameon=False, loc="upper right")
        ax.tick_params(labelsize=7.5)
    for ax in axes:
        ax.set_ylim(lo / 2, hi * 3)
    axes[0].set_ylabel(f"shadowing error e_q(T), T = {WINDOW:g}\n(median, 10–90 % band)", fontsize=8)
    for ax in axes[1:]:
        ax.sharey(axes[0])
        ax.tick_params(labelleft=False)
    fig.suptitle(
        "Shadowing of f = |x1| + x2²/2 by the block-rate inclusion ẋ ∈ −κΛ∂f(x) (2 PASSM workers)", fontsize=9
    )
    return fig


def main() -> None:
    from asyncconv.study import open_results

    ns = common.args(__doc__)
    res = open_results(common.study_dir(ns.results, STUDY))
    common.save(draw(res), ns.out, "fig6_shadowing")


if __name__ == "__main__":
    main()
