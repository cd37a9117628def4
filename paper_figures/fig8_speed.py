"""Figure 8 (speed): test accuracy against training wall time, asynchronous methods vs sgd and ddp.

Reads the training experiment (spec ``sims/paper/training.toml``, run by ``analysis/run_training.py``
into ``RESULTS/training``): the CNN on digits trained by PASSM, PASSM+, Hogwild, ASSM (2 processes
sharing one model), sgd (1 process) and ddp (2 ranks), the same epochs, global batch and step
schedule. One line per method: the test accuracy of the evaluated snapshots (markers) against the
wall time at which they were taken, averaged over repeats at every evaluation (thin lines: the
single repeats, in panel a). Wall time counts training only (from the start barrier of the processes; start-up
and the evaluations, done after training, are excluded). The dashed line is the target, sgd's final
test accuracy (median over repeats); a star marks the median time at which each method first
reaches it (``analysis/run_training.summarise``, the convention of ``benchmarks/bench_torch.py``),
and the legend gives that time and its ratio to ddp's and sgd's. Panel (b) enlarges the region near
the target.

Run::

    python paper_figures/fig8_speed.py [--results results/paper/quick] [--out DIR]
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np

try:
    from paper_figures import common
except ImportError:  # run as a script: paper_figures/ is on sys.path
    import common

#: colour and marker per method (Okabe–Ito; the baselines sgd in black, ddp in purple)
STYLE = {
    "passm": (common.PALETTE[1], "o"),
    "passm+": (common.PALETTE[4], "D"),
    "hogwild": (common.PALETTE[0], "s"),
    "assm": (common.PALETTE[5], "^"),
    "sgd": (common.PALETTE[7], "v"),
    "ddp": (common.PALETTE[3], "P"),
}


def training_module():
    """``analysis/run_training.py`` (the results layout and the statistics), imported by path."""
    name = "_asyncconv_run_training"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, common.ROOT / "analysis" / "run_training.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _style(method: str, i: int) -> tuple[str, str]:
    return STYLE.get(method, (common.PALETTE[i % len(common.PALETTE)], "o"))


def _fmt_ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}×"


def draw(res, summary: dict) -> object:
    """The figure (two panels: the whole run, and the region near the target)."""
    from matplotlib.lines import Line2D

    rt = training_module()
    target = summary["target_test_acc"]
    rows = summary["rows"]
    labels = [r["label"] for r in res.spec["runs"] if res.runs[r["label"]]]
    fig, axes = common.figure(1, 2, width=7.2, height=3.3)
    fig.set_layout_engine("constrained")
    t_min, t_max, acc_lo = np.inf, 0.0, 1.0
    handles, curves = [], []
    for i, lb in enumerate(labels):
        row = rows[lb]
        colour, marker = _style(row["method"], i)
        runs = res.runs[lb]
        t, acc = rt.mean_curve(runs)
        for _, j in runs:  # single repeats, thin, in (a) only
            tt = np.array([e["time_s"] for e in j["evals"]])[1:]
            aa = np.array([e["test_acc"] for e in j["evals"]])[1:]
            axes[0].plot(tt, aa, color=colour, lw=0.5, alpha=0.3)
        for ax in axes:
            ax.plot(t[1:], acc[1:], color=colour, lw=1.4, marker=marker, ms=3.2, mew=0)
        curves.append((t, acc))
        t_min, t_max = min(t_min, t[1]), max(t_max, t[-1])
        hit = row["time_to_target_s"]
        if hit is not None:
            for ax in axes:
                ax.plot([hit], [target], marker="*", ms=10, color=colour, mec="white", mew=0.6, zorder=5)
            axes[1].vlines(hit, 0, target, color=colour, lw=0.8, ls=":", zorder=1)
            acc_lo = min(acc_lo, float(np.interp(hit, t, acc)))
        note = (
            f"{hit:.2f} s to target ({_fmt_ratio(row.get('speedup_over_ddp'))} ddp, "
            f"{_fmt_ratio(row.get('speedup_over_sgd'))} sgd)"
            if hit is not None
            else f"target not reached ({row['reached_target']}/{row['repeats']})"
        )
        procs = f"{row['processes']} proc." if row["processes"] > 1 else "1 proc."
        handles.append(
            Line2D([], [], color=colour, marker=marker, lw=1.4, ms=4,
                   label=f"{lb} ({procs}): final {row['test_acc']:.3f}, {note}")
        )  # fmt: skip
    for ax in axes:
        if target is not None:
            ax.axhline(target, color="0.35", lw=0.9, ls="--", zorder=1)
        ax.set_xscale("log")
        ax.set_xlim(t_min / 1.5, t_max * 1.5)
        ax.set_xlabel("training wall time (s, log scale)", fontsize=8.5)
        ax.tick_params(labelsize=7.5)
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for ax in axes:  # plain seconds at 1-2-5 steps (a log axis shorter than a decade labels its minor ticks)
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    axes[0].set_ylim(0.0, 1.0)
    axes[0].set_ylabel("test accuracy", fontsize=8.5)
    axes[0].set_title("(a) test accuracy of the snapshots\n(mean over repeats; thin: single repeats)",
                      fontsize=8, loc="left")  # fmt: skip
    if target is not None:
        lo = min(target - 0.05, acc_lo - 0.01)
        lo = max(lo, 0.0)
        axes[1].set_ylim(lo, min(1.0, target + 0.5 * (1.0 - target) + 0.01))
        # x range of (b): from the first mean snapshot inside the y range
        first = [t[np.argmax(acc >= lo)] for t, acc in curves if (acc >= lo).any()]
        if first:
            axes[1].set_xlim(max(min(first), t_min) / 1.3, t_max * 1.3)
        axes[1].set_title("(b) near the target (means only): ★ median time at which\na method first reaches sgd's final accuracy",
                          fontsize=8, loc="left")  # fmt: skip
        handles.append(Line2D([], [], color="0.35", lw=0.9, ls="--",
                              label=f"target: sgd's final test accuracy, {target:.4f} (median over repeats)"))  # fmt: skip
    cfg = res.spec["training"]
    n_rep = min(r["repeats"] for r in rows.values())
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False, fontsize=6.6)
    fig.suptitle(
        f"{cfg['model'].upper()} on {cfg['data']}: {cfg['epochs']} epochs, global batch {cfg['batch']}, "
        f"lr {cfg['lr']:g} ({cfg['lr_schedule']}), momentum {cfg['momentum']:g}; {n_rep} repeats "
        f"({res.spec['scale']} scale)",
        fontsize=9,
    )
    return fig


def main() -> None:
    ns = common.args(__doc__)
    rt = training_module()
    res = rt.load_results(ns.results)
    summary = rt.summarise(res)
    if summary["target_test_acc"] is None:
        raise SystemExit(f"error: {res.dir} has no sgd run, whose final accuracy is the target")
    common.save(draw(res, summary), ns.out, "fig8_speed")


if __name__ == "__main__":
    main()
