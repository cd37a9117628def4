"""Figure 7 (real networks): schedules replayed by torch on the CNN, and the delays of real runs.

Reads the training experiment (spec ``sims/paper/training.toml``, run by ``analysis/run_training.py``
into ``RESULTS/training``).

(a) The same network, data, batch and step driven by different schedules in one process
(``asyncconv train --replay``): the real traces recorded by the sgd, PASSM and Hogwild runs (solid)
and schedules drawn from the scheduler models of ``sims/schedules/`` (dashed; PASSM with exponential
compute times for 2 workers writing their half of the tensors, and for 4 workers writing one of 8
blocks, the periodic round robin, Hogwild with torn reads on 8 shared blocks). Training loss of the
evaluated snapshots (mean over the replayed seeds, log scale) over ODE time t = Σ γ_k: the replay
runs a constant step γ (the CLI replays with the constant clock and no per-worker factors), so
t = γ · writes (top axis). A write that updates a part of the tensors advances t as much as one that
updates all, so the schedules whose writes cover fewer tensors lag, as the block-rate inclusion
predicts (block rate λ = covered fraction).

(b) Delay distributions d_k = k − read_lo[k] of the real asynchronous runs, from the schedules they
recorded (pooled over repeats; pmf, log scale), with the Geometric law, success probability 1/P,
of P identical workers with exponential compute times (``ScheduleModel.delay_pmf``) for reference.
The legend gives each method's mean delay and the share of torn reads (a write during the forward
pass: blocks read at different versions).

Run::

    python paper_figures/fig7_real_networks.py [--results results/paper/quick] [--out DIR]
"""

from __future__ import annotations

import numpy as np

try:
    from paper_figures import common
except ImportError:  # run as a script: paper_figures/ is on sys.path
    import common

try:
    from paper_figures.fig8_speed import STYLE, training_module
except ImportError:
    from fig8_speed import STYLE, training_module

#: replay colours in spec order (Okabe–Ito without yellow), black first
REPLAY_COLOURS = tuple(common.PALETTE[i] for i in (7, 1, 0, 4, 3, 2, 5))
ASYNC = ("passm", "passm+", "hogwild", "assm")
#: dash patterns of the drawn schedules (in spec order), so that lines lying on one another stay visible
DASHES = ((0, (5, 2)), (0, (1.5, 1.5)), (0, (7, 2, 1.5, 2)), (0, (3, 1.5, 1, 1.5, 1, 1.5)), (0, (9, 3)))


def _replay_panel(ax, res) -> None:
    drawn = 0
    for i, rp in enumerate(res.spec["replays"]):
        reps = res.replays.get(rp["label"]) or []
        if not reps:
            continue
        lr = float(reps[0][1]["config"]["lr"])
        writes, loss = training_module().mean_curve(reps, key="train_loss", x="writes")
        acc = float(np.mean([j["epochs"][-1]["test_acc"] for _, j in reps]))
        trace = "trace" in rp
        ls = "-" if trace else DASHES[drawn % len(DASHES)]
        drawn += 0 if trace else 1
        ax.plot(lr * writes, loss, color=REPLAY_COLOURS[i % len(REPLAY_COLOURS)], lw=1.4 if trace else 1.6,
                ls=ls, marker="o" if trace else None, ms=2.2, mew=0,
                label=f"{rp['legend']}; final test acc {acc:.3f}")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("ODE time t = Σ γ_k = γ · writes", fontsize=8.5)
    ax.set_ylabel("training loss (cross-entropy)", fontsize=8.5)
    if res.spec["replays"]:
        lr = float(res.spec["training"]["lr"])
        top = ax.secondary_xaxis("top", functions=(lambda t: t / lr, lambda w: w * lr))
        top.set_xlabel("writes", fontsize=7.5)
        top.tick_params(labelsize=7)
    seeds = sorted({s for v in res.replays.values() for s, _ in v})
    which = f"seed {seeds[0]}" if len(seeds) == 1 else f"mean over {len(seeds)} seeds"
    ax.set_title(f"(a) schedules replayed on the CNN ({which};\nsolid: real traces, dashed: drawn from models)",
                 fontsize=8, loc="left")  # fmt: skip
    ax.legend(fontsize=6.2, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=1)


def _delay_panel(ax, res) -> None:
    from asyncconv.schedule import ScheduleModel, load_schedule

    dmax, n_workers, floor = 1, set(), 1.0
    labels = [r["label"] for r in res.spec["runs"] if r["method"] in ASYNC]
    for i, lb in enumerate(labels):
        files = res.run_schedules.get(lb) or []
        if not files:
            continue
        scheds = [load_schedule(f) for f in files]
        d = np.concatenate([s.delay() for s in scheds])
        torn = float(np.mean(np.concatenate([s.read_hi > s.read_lo for s in scheds])))
        n_workers.update(s.n_workers for s in scheds)
        pmf = np.bincount(d) / len(d)
        floor = min(floor, 1.0 / len(d))
        method = next(r["method"] for r in res.spec["runs"] if r["label"] == lb)
        colour, marker = STYLE.get(method, (common.PALETTE[i], "o"))
        y = np.where(pmf > 0, pmf, np.nan)  # lines join observed neighbours only, not across gaps
        ax.plot(np.arange(len(y)), y, color=colour, marker=marker, ms=3.2, lw=1.1, alpha=0.9,
                label=f"{lb}: mean {d.mean():.2f}, max {d.max()}, torn reads {torn:.0%}")  # fmt: skip
        dmax = max(dmax, int(d.max()))
    for P in sorted(n_workers):
        model = ScheduleModel.timing_preset(n_workers=P, n_blocks=P)
        law = model.delay_pmf(dmax)
        if law is not None:
            keep = law >= floor / 3
            ax.plot(np.arange(dmax + 1)[keep], law[keep], color="0.25", ls="--", lw=1.0,
                    label=f"Geometric(1/P), P = {P}: exponential-model law (reference)")  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylim(floor / 3, 1.5)
    ax.axhline(floor, color="0.6", lw=0.7, ls=":")
    ax.text(
        dmax, floor * 1.25, "one write of the pooled trace", ha="right", va="bottom", fontsize=6, color="0.4"
    )
    ax.set_xlabel("delay d = k − read_lo[k] (writes)", fontsize=8.5)
    ax.set_ylabel("P(d_k = d)", fontsize=8.5)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    n = max((len(v) for v in res.run_schedules.values()), default=0)
    ax.set_title(f"(b) delays of the real runs (recorded schedules,\npooled over {n} repeats)", fontsize=8,
                 loc="left")  # fmt: skip
    ax.legend(fontsize=6.2, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=1)


def draw(res) -> object:
    fig, axes = common.figure(1, 2, width=7.2, height=4.4)
    fig.set_layout_engine("constrained")
    _replay_panel(axes[0], res)
    _delay_panel(axes[1], res)
    for ax in axes:
        ax.tick_params(labelsize=7.5)
    cfg = res.spec["training"]
    fig.suptitle(
        f"{cfg['model'].upper()} on {cfg['data']}, batch {cfg['batch']}, momentum {cfg['momentum']:g}: replayed "
        f"schedules and real delays ({res.spec['scale']} scale)",
        fontsize=9,
    )
    return fig


def main() -> None:
    ns = common.args(__doc__)
    res = training_module().load_results(ns.results)
    common.save(draw(res), ns.out, "fig7_real_networks")


if __name__ == "__main__":
    main()
