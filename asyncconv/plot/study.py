"""Figures of a study's results store (``asyncconv study run``): trajectories, verdicts, delays.

:func:`plot_study` writes three figures into ``DIR/figures`` (or any folder):

* ``trajectories`` — f − f_ref, the distance to the critical set and the momentum buffer norm
  against ODE time, per configuration: the median over replicas and a 10–90 % band;
* ``verdicts`` — the verdict fractions of each configuration with the intervals of
  :func:`asyncconv.study.report` (Clopper–Pearson by default; never recomputed here);
* ``delays`` — the pooled delay distribution of each distinct schedule model, with the model's
  law where it is known in closed form (:meth:`ScheduleModel.delay_pmf`).

Incomplete studies are drawn from the replicas that finished (the rows of ``Results.summary``).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from asyncconv.plot.style import PALETTE, figure
from asyncconv.study.report import report
from asyncconv.study.store import Results, open_results

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Band", "finished_replicas", "plot_study", "quantile_band"]

#: verdicts in display order, and their colours (Okabe–Ito; undecided in neutral grey)
VERDICT_ORDER = ("converged", "stalled", "drifting", "diverged", "undecided")
VERDICT_COLOURS = {
    "converged": PALETTE[2],
    "stalled": PALETTE[4],
    "drifting": PALETTE[3],
    "diverged": PALETTE[1],
    "undecided": "0.55",
}
#: line colours of the configurations: the palette with black before the (pale) yellow
LINE_COLOURS = tuple(PALETTE[i] for i in (0, 1, 2, 3, 4, 5, 7, 6))
#: configurations per row of the trajectory figure (more are faceted into further rows)
PER_ROW = len(LINE_COLOURS)
QUANTILES = (0.1, 0.5, 0.9)
X_LABEL = "ODE time t = Σ γ_k"
DELAY_LABEL = "delay d_k = k − read_lo[k] (writes)"
#: stand-in for +∞ (a diverged replica) inside quantile computations; larger results map back to +∞
_BIG = 1e300
_INF_CUT = 1e290


@dataclass(frozen=True)
class _Panel:
    """One metric of the trajectory figure."""

    metric: str
    title: str
    ylabel: str


PANELS = (
    _Panel("f_gap", "objective gap", "f − f_ref"),
    _Panel("dist", "distance D to the critical set", "D = dist(x, crit) / max(1, ‖x*‖)"),
)
MOMENTUM_PANELS = (
    _Panel("unorm", "momentum", "‖u‖ (momentum buffer)"),
    _Panel("velocity", "velocity", "‖Δx‖ / Δt (window average)"),
)


@dataclass(frozen=True)
class Band:
    """Median and 10–90 % band of one metric of one configuration over its finished replicas."""

    t: np.ndarray  # (J,) median ODE time of each kept checkpoint
    q: np.ndarray  # (3, J) quantiles; +inf where diverged replicas dominate


def plot_study(
    root: str | Path | Results, outdir: str | Path | None = None, *, formats: tuple[str, ...] = ("png", "pdf")
) -> list[Path]:
    """Draw the trajectory, verdict and delay figures of the study in ``root``.

    ``root`` is a study directory or opened :class:`Results`; ``outdir`` defaults to
    ``<root>/figures``. Each figure is written once per format (``trajectories.png``,
    ``trajectories.pdf``, ...). Works on incomplete studies (the finished replicas are drawn) and
    on studies with a single configuration. Returns the files written.
    """
    res = root if isinstance(root, Results) else open_results(root)
    out = Path(outdir) if outdir is not None else res.root / "figures"
    out.mkdir(parents=True, exist_ok=True)
    rep = report(res)
    written: list[Path] = []
    for name, draw in (
        ("trajectories", lambda: trajectories_figure(res, rep)),
        ("verdicts", lambda: verdicts_figure(rep)),
        ("delays", lambda: delays_figure(res)),
    ):
        written += _save(draw(), out / name, formats)
    return written


def _save(fig: Figure, stem: Path, formats: tuple[str, ...]) -> list[Path]:
    """Write ``fig`` as ``stem.<fmt>`` for each format, then close it."""
    import matplotlib.pyplot as plt

    paths = []
    try:
        for fmt in formats:
            path = stem.with_suffix(f".{fmt.lstrip('.')}")
            fig.savefig(path, dpi=200, bbox_inches="tight")
            paths.append(path)
    finally:
        plt.close(fig)
    return paths


def _title(rep: dict[str, Any], what: str) -> str:
    done = "" if rep["complete"] else " (incomplete study)"
    return f"{rep['study']}{done}: {what}"


# --- trajectories ------------------------------------------------------------------------------


def finished_replicas(res: Results, config: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted finished replicas of ``config`` and whether each diverged."""
    s = res.summary
    if not len(s):
        return np.zeros(0, np.int64), np.zeros(0, bool)
    rows = s[s["config"] == config].sort_values("replica")
    status = rows["status"] if "status" in rows else rows["verdict"]
    return rows["replica"].to_numpy(np.int64), (status == "diverged").to_numpy(bool)


def quantile_band(t: np.ndarray, v: np.ndarray, diverged: np.ndarray) -> Band | None:
    """Quantiles over replicas (rows) at each checkpoint (columns); ``None`` if nothing is finite.

    NaN entries of diverged replicas count as +∞ (they left every bound); other NaN (not reached,
    not computed) are left out. Checkpoints whose median time does not increase (several
    checkpoints hit by one write) are dropped."""
    if not np.isfinite(v).any():
        return None
    v = np.where(np.isnan(v) & diverged[:, None], _BIG, v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, as wanted
        tm = np.nanmedian(t, axis=0)
        q = np.nanquantile(v, QUANTILES, axis=0)
    q = np.where(q > _INF_CUT, np.inf, q)
    keep = np.zeros(tm.shape, bool)
    last = -np.inf
    for j, x in enumerate(tm):
        if np.isfinite(x) and x > last:
            keep[j], last = True, x
    keep &= ~np.isnan(q).all(axis=0)
    return Band(tm[keep], q[:, keep]) if keep.any() else None


def _bands(res: Results, metrics: list[str]) -> tuple[dict[str, list[Band | None]], list[tuple[int, int]]]:
    """Per metric, the band of each configuration; and per configuration (finished, diverged)."""
    out: dict[str, list[Band | None]] = {m: [] for m in metrics}
    counts = []
    arr = res.trajectories["metrics"]
    for c in range(arr.sizes["config"]):
        reps, div = finished_replicas(res, c)
        counts.append((len(reps), int(div.sum())))
        if not len(reps):
            for m in metrics:
                out[m].append(None)
            continue
        vals = arr.isel(config=c).sel(metric=["t", *metrics]).values[reps].astype(np.float64)
        if "dist" in metrics:  # the one distance of the verdicts: D = dist / dist_scale
            scale = _dist_scale(res, c)
            if scale is not None:
                vals[..., 1 + metrics.index("dist")] /= scale
        for i, m in enumerate(metrics, start=1):
            out[m].append(quantile_band(vals[..., 0], vals[..., i], div))
    return out, counts


def _dist_scale(res: Results, config: int) -> float | None:
    """The problem's distance scale of ``config`` (None in a store written before it was recorded)."""
    s = res.summary
    if not len(s) or "dist_scale" not in s:
        return None
    v = s.loc[s["config"] == config, "dist_scale"].to_numpy(np.float64)
    return float(v[0]) if v.size and np.isfinite(v[0]) else None


def _finite_values(bands: list[Band | None]) -> np.ndarray:
    vals = [b.q[np.isfinite(b.q)] for b in bands if b is not None]
    return np.concatenate(vals) if vals else np.zeros(0)


def _momentum_panel(bands: dict[str, list[Band | None]]) -> _Panel | None:
    """The buffer norm where it is ever positive (a momentum iteration), else the velocity."""
    for p in MOMENTUM_PANELS:
        v = _finite_values(bands[p.metric])
        if (v > 0).any():
            return p
    return None


@dataclass(frozen=True)
class _YScale:
    """How a panel maps its values onto a log axis."""

    scale: str  # "log" or "symlog"
    floor: float  # values <= floor are drawn at floor (log), or the linear threshold (symlog)
    clipped: bool
    lo: float
    hi: float


def _yscale(bands: list[Band | None], include: float | None = None) -> _YScale:
    """Log axis with a floor a decade below the smallest positive value when some values are
    exactly 0 (or a symlog axis when some are clearly negative); its range covers ``include``."""
    v = _finite_values(bands)
    if include is not None and include > 0:
        v = np.append(v, include)
    pos = v[v > 0]
    lo = float(pos.min()) if pos.size else 1e-12
    hi = float(pos.max()) if pos.size else 1.0
    floor = 10.0 ** np.floor(np.log10(lo) - 1.0) if (v <= 0).any() else lo
    neg = -v[v < -floor]
    if neg.size:  # clearly negative values (f below f_ref): linear near 0 down to their decade
        linthresh = max(floor, 10.0 ** np.floor(np.log10(neg.min())))
        return _YScale("symlog", linthresh, False, float(v.min()), hi)
    return _YScale("log", floor, bool((v <= 0).any()), min(lo, floor), hi)


def trajectories_figure(res: Results, rep: dict[str, Any]) -> Figure:
    """Median and 10–90 % band over replicas of each metric against ODE time, per configuration."""
    bands, counts = _bands(res, [p.metric for p in (*PANELS, *MOMENTUM_PANELS)])
    panels = [p for p in PANELS if _finite_values(bands[p.metric]).size]
    mom = _momentum_panel(bands)
    panels += [mom] if mom is not None else []
    labels = [c["label"] for c in res.spec["configs"]]
    n_cfg = len(labels)
    n_rows = max(1, -(-n_cfg // PER_ROW))
    n_cols = max(1, len(panels))
    fig, axes = figure(
        n_rows, n_cols, width=3.4 * n_cols + (2.4 if n_rows > 1 else 0.2), height=2.7 * n_rows + 0.9
    )
    fig.set_layout_engine("constrained")
    axes = np.asarray(axes, dtype=object).reshape(n_rows, n_cols)
    _share(axes)
    fig.suptitle(_title(rep, "trajectories over replicas (median, 10–90 % band)"))
    if not panels:
        for ax in axes.ravel():
            ax.text(0.5, 0.5, "no finished replicas", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
        return fig
    logx = _log_time(bands, panels)
    eps, eps_metric = _eps_line(rep)
    eps_metric = "dist" if eps_metric == "dist_rel" else eps_metric  # D is drawn on the distance panel
    for j, p in enumerate(panels):
        ys = _yscale(bands[p.metric], eps if p.metric == eps_metric else None)
        for r in range(n_rows):
            ax = axes[r, j]
            ids = range(r * PER_ROW, min(n_cfg, (r + 1) * PER_ROW))
            for i, c in enumerate(ids):
                b = bands[p.metric][c]
                if b is not None:
                    _draw_band(ax, b, ys, logx, LINE_COLOURS[i])
            _format_axis(ax, p, ys, logx, bottom=r == n_rows - 1, top=r == 0)
            if p.metric == eps_metric and eps is not None:
                ax.axhline(eps, color="0.25", lw=0.9, ls=":", zorder=1)
                ax.annotate(f"ε = {eps:g}", (0.0, eps), xycoords=("axes fraction", "data"), xytext=(3, -3),
                            textcoords="offset points", ha="left", va="top", fontsize=8, color="0.25")  # fmt: skip
    _trajectory_legends(fig, axes, labels, counts, res.spec["replicas"])
    return fig


def _share(axes: np.ndarray) -> None:
    """One time axis for all panels; one value axis per metric column across facet rows."""
    for (r, j), ax in np.ndenumerate(axes):
        if (r, j) != (0, 0):
            ax.sharex(axes[0, 0])
        if r:
            ax.sharey(axes[0, j])
        if r < axes.shape[0] - 1:
            ax.tick_params(labelbottom=False)


def _log_time(bands: dict[str, list[Band | None]], panels: list[_Panel]) -> bool:
    """Log time axis when the checkpoint times span more than two decades."""
    ts = [b.t for p in panels for b in bands[p.metric] if b is not None]
    t = np.concatenate(ts) if ts else np.zeros(0)
    t = t[t > 0]
    return bool(t.size) and t.max() / t.min() > 100.0


def _eps_line(rep: dict[str, Any]) -> tuple[float | None, str | None]:
    """The verdict threshold ε and the metric the report's time-to-ε uses."""
    eps = rep.get("thresholds", {}).get("eps")
    metric = next((c["time_to_eps"]["metric"] for c in rep["configs"] if "time_to_eps" in c), None)
    return (float(eps) if eps is not None else None), metric


def _draw_band(ax: Axes, b: Band, ys: _YScale, logx: bool, colour: str) -> None:
    t, q = b.t, b.q
    if logx:
        keep = t > 0
        t, q = t[keep], q[:, keep]
    if ys.scale == "log":
        q = np.maximum(q, ys.floor)
    q = np.where(np.isposinf(q), ys.hi * 1e6, q)  # diverged: off the top of the axis
    ax.fill_between(t, q[0], q[2], color=colour, alpha=0.18, linewidth=0)
    ax.plot(t, q[1], color=colour, lw=1.6)


def _format_axis(ax: Axes, p: _Panel, ys: _YScale, logx: bool, *, bottom: bool, top: bool) -> None:
    if logx:
        ax.set_xscale("log")
    if ys.scale == "symlog":
        ax.set_yscale("symlog", linthresh=ys.floor)
        ax.set_ylim(ys.lo * 1.5, ys.hi * 1.5)
    else:
        ax.set_yscale("log")
        ax.set_ylim(ys.lo / 2.0, ys.hi * 2.0)
        if ys.hi / ys.lo < 100.0:  # under two decades: label 1-2-5 ticks in plain numbers
            from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.yaxis.set_minor_formatter(NullFormatter())
    ylabel = p.ylabel
    if ys.clipped:
        ylabel += f"\n(values ≤ 0 drawn at {_power(ys.floor)})"
    elif ys.scale == "symlog":
        ylabel += f"\n(symlog: linear within ±{_power(ys.floor)})"
    ax.set_ylabel(ylabel)
    if top:
        ax.set_title(p.title)
    if bottom:
        ax.set_xlabel(X_LABEL)


def _power(x: float) -> str:
    """``x`` as a power of ten in mathtext when it is one, else in short scientific notation."""
    e = float(np.log10(x))
    return f"$10^{{{round(e)}}}$" if abs(e - round(e)) < 1e-9 else f"{x:.1e}"


def _legend_label(label: str, n: int, diverged: int, replicas: int) -> str:
    notes = []
    if n < replicas:
        notes.append(f"{n}/{replicas} replicas")
    if diverged:
        notes.append(f"{diverged} diverged, counted as +∞")
    return label + (f" ({'; '.join(notes)})" if notes else "")


def _trajectory_legends(fig: Figure, axes: np.ndarray, labels: list[str], counts, replicas: int) -> None:
    """One legend below the axes (one row of configurations) or one right of each facet row."""
    from matplotlib.lines import Line2D

    n_rows = axes.shape[0]
    for r in range(n_rows):
        ids = range(r * PER_ROW, min(len(labels), (r + 1) * PER_ROW))
        handles = [
            Line2D(
                [], [], color=LINE_COLOURS[i], lw=2.0, label=_legend_label(labels[c], *counts[c], replicas)
            )
            for i, c in enumerate(ids)
        ]
        if n_rows == 1:
            fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3), frameon=False)
        else:
            axes[r, -1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False,
                               fontsize=8)  # fmt: skip


# --- verdicts ----------------------------------------------------------------------------------


def _verdict_names(rep: dict[str, Any]) -> list[str]:
    seen = [v for c in rep["configs"] if "verdicts" in c for v in c["verdicts"]["fractions"]]
    return [v for v in VERDICT_ORDER if v in seen or not seen] + [
        v for v in dict.fromkeys(seen) if v not in VERDICT_ORDER
    ]


def _interval_name(rep: dict[str, Any]) -> str:
    for c in rep["configs"]:
        for fr in c.get("verdicts", {}).get("fractions", {}).values():
            method = str(fr.get("method", "")).replace("clopper-pearson", "Clopper–Pearson")
            return f"{float(fr.get('level', rep['level'])):.0%} {method} intervals".replace("  ", " ")
    return f"{rep['level']:.0%} intervals"


def verdicts_figure(rep: dict[str, Any]) -> Figure:
    """Horizontal bars of each verdict's fraction per configuration, with the report's intervals."""
    verdicts = _verdict_names(rep)
    configs = rep["configs"]
    n = len(configs)
    fig, axes = figure(1, len(verdicts), width=1.9 * len(verdicts) + 1.6, height=0.32 * n + 1.5)
    fig.set_layout_engine("constrained")
    axes = np.atleast_1d(axes)
    y = np.arange(n)
    for ax, v in zip(axes, verdicts, strict=True):
        for i, c in enumerate(configs):
            fr = c.get("verdicts", {}).get("fractions", {}).get(v)
            if fr is None:
                if v == verdicts[0]:
                    ax.text(0.02, i, "no finished replicas", va="center", fontsize=8, color="0.4")
                continue
            _verdict_bar(ax, i, fr, VERDICT_COLOURS.get(v, PALETTE[5]))
        ax.set_title(v, color=VERDICT_COLOURS.get(v, "k"), fontweight="bold")
        ax.set_xlim(0.0, 1.32)
        ax.set_xticks([0, 0.5, 1.0])
        ax.set_xlabel("fraction of replicas")
        ax.grid(False, axis="y")
        if ax is not axes[0]:
            ax.sharey(axes[0])
            ax.tick_params(labelleft=False)
    axes[0].set_yticks(y, [c["label"] for c in configs])
    axes[0].set_ylim(n - 0.5, -0.5)  # first configuration on top
    fig.suptitle(_title(rep, f"verdict fractions ({_interval_name(rep)})"))
    return fig


def _verdict_bar(ax: Axes, i: int, fr: dict[str, Any], colour: str) -> None:
    p, lo, hi = float(fr["p"]), float(fr["lo"]), float(fr["hi"])
    ax.barh(i, p, height=0.7, color=colour, alpha=0.85, linewidth=0)
    ax.errorbar(p, i, xerr=[[p - lo], [hi - p]], fmt="none", ecolor="0.1", elinewidth=1.0, capsize=2.5)
    ax.text(hi + 0.03, i, f"{fr['k']}/{fr['n']}", va="center", fontsize=7.5, color="0.2")


# --- delays ------------------------------------------------------------------------------------


def _delay_hists(res: Results) -> dict[int, np.ndarray]:
    """Pooled delay histogram of each configuration with finished replicas (``res.schedules``
    pools the finished tasks, complete study or not)."""
    return {
        int(k): np.asarray(v["delay_hist"], np.int64)
        for k, v in res.schedules.items()
        if v.get("delay_hist") is not None
    }


def _schedule_groups(spec: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Configurations grouped by identical schedule model (and horizon), named by their schedule
    labels (the ``schedule`` axis and ``schedule.*`` grid keys)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in spec["configs"]:
        key = json.dumps([c["schedule"], c["events"]], sort_keys=True)
        groups.setdefault(key, []).append(c)
    out = []
    for members in groups.values():
        lab = members[0]["labels"]
        parts = [lab["schedule"]] if "schedule" in lab else []
        parts += [f"{k.split('.', 1)[1]}={v}" for k, v in lab.items() if k.startswith("schedule.")]
        if not parts:
            parts = ["all configurations"] if len(groups) == 1 else [members[0]["label"]]
        out.append((", ".join(parts), members))
    return out


def delays_figure(res: Results) -> Figure:
    """Pooled delay pmf (log y) of each distinct schedule model, with its closed-form law if known."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    hists = _delay_hists(res)
    groups = _schedule_groups(res.spec)
    n_cols = min(3, len(groups))
    n_rows = -(-len(groups) // n_cols)
    fig, axes = figure(n_rows, n_cols, width=3.5 * n_cols + 0.4, height=2.7 * n_rows + 1.0)
    fig.set_layout_engine("constrained")
    axes = np.atleast_1d(axes).ravel()
    theory = overflow = False
    for ax, (name, members) in zip(axes, groups, strict=False):
        h = [hists[c["id"]] for c in members if c["id"] in hists]
        if not h:
            ax.text(0.5, 0.5, "no finished replicas", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(name)
            continue
        t, o = _delay_panel(ax, name, np.sum(h, axis=0), members)
        theory, overflow = theory or t, overflow or o
    for ax in axes[len(groups) :]:
        ax.set_axis_off()
    handles = [Patch(color=PALETTE[0], alpha=0.8, label="empirical (pooled over replicas)")]
    if theory:
        handles.append(Line2D([], [], color=PALETTE[1], marker="o", ms=3, lw=1.2, label="model's delay law"))
    if overflow:
        handles.append(
            Patch(facecolor="0.6", hatch="///", edgecolor="0.3", label="overflow bin (delay ≥ cap)")
        )
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    fig.suptitle(
        _title({"study": res.spec["name"], "complete": res.complete}, "delay distributions per schedule")
    )
    return fig


def _delay_panel(ax: Axes, name: str, counts: np.ndarray, members: list[dict[str, Any]]) -> tuple[bool, bool]:
    """Draw one schedule's pmf; returns (law drawn, overflow bin non-empty)."""
    from matplotlib.ticker import MaxNLocator

    total = int(counts.sum())
    cap = len(counts) - 1  # the last bin counts delays >= cap
    pmf = counts / max(total, 1)
    d = np.arange(len(counts))
    body = (d < cap) & (counts > 0)
    dmax = int(d[counts > 0].max()) if total else 0
    ax.bar(d[body], pmf[body], width=0.9 if dmax <= 60 else 1.0, color=PALETTE[0], alpha=0.8, linewidth=0)
    has_overflow = bool(counts[cap] > 0)
    if has_overflow:
        ax.bar(
            [cap], [pmf[cap]], width=max(1.0, cap / 60), facecolor="0.6", hatch="///", edgecolor="0.3", lw=0.5
        )
        ax.annotate(
            f"≥ {cap}", (cap, pmf[cap]), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8
        )
    lo = float(pmf[counts > 0].min()) if total else 1e-3
    law = _delay_law(members[0]["schedule"], min(dmax, cap - 1))
    if law is not None:
        keep = law >= lo / 10.0
        x = np.arange(len(law))
        ax.plot(x[keep], law[keep], "o-", color=PALETTE[1], ms=3, lw=1.2)
    ax.set_yscale("log")
    ax.set_ylim(min(lo / 3.0, 1e-3), 1.6)
    ax.set_xlim(-0.7, max(dmax, 5) + 0.7 + (cap / 30 if has_overflow else 0))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(DELAY_LABEL)
    ax.set_ylabel("fraction of writes")
    mean = float((d * counts).sum() / max(total, 1))
    stats = f"mean {'≥ ' if has_overflow else ''}{mean:.3g}, max {'≥ ' if has_overflow else ''}{dmax}"
    shared = f", {len(members)} configs" if len(members) > 1 else ""
    ax.set_title(f"{name}\n{stats} ({total:,} writes{shared})", fontsize=9)
    return law is not None, has_overflow


def _delay_law(schedule: dict[str, Any], upto: int) -> np.ndarray | None:
    """The schedule model's delay pmf on 0..upto when known in closed form, else None."""
    from asyncconv.schedule import ScheduleModel

    try:
        return ScheduleModel.from_dict(schedule).delay_pmf(max(upto, 1))
    except Exception:  # a model this version cannot rebuild: draw the data alone
        return None
