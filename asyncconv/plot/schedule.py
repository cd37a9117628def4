"""Figures of one schedule: the delay distribution (with the model's law where known) and the
per-block / per-writer update counts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from asyncconv.plot.style import PALETTE, figure

if TYPE_CHECKING:
    from asyncconv.schedule.schedule import Schedule

__all__ = ["plot_schedule"]


def plot_schedule(schedule: Schedule, path: str | Path, *, title: str | None = None) -> list[Path]:
    """Draw the delay histogram and update counts of ``schedule`` into ``path`` (PNG, and PDF beside it).

    The theoretical delay law is overlaid when the schedule's model gives it in closed form
    (:meth:`ScheduleModel.delay_pmf`). Returns the files written.
    """
    from asyncconv.schedule.stats import _model_of

    d = schedule.delay()
    K = schedule.n_events
    fig, (ax_d, ax_b) = figure(ncols=2, width=10.0, height=3.8)

    model = _model_of(schedule)
    dmax = int(d.max()) if K else 0
    if dmax <= 100:  # unit bins, linear delay axis
        counts = np.bincount(d, minlength=dmax + 1) / max(K, 1)
        x = np.arange(dmax + 1)
        ax_d.bar(x, counts, width=1.0, color=PALETTE[0], alpha=0.75, label="empirical", linewidth=0)
        pmf = model.delay_pmf(dmax) if model is not None else None
        if pmf is not None:
            ax_d.plot(x, pmf, "o-", color=PALETTE[1], ms=3, lw=1.2, label="theoretical law")
        if K and counts[counts > 0].min() < 1e-2 * counts.max():
            ax_d.set_yscale("log")
        ax_d.set_xlabel("delay k − read version (writes)")
        ax_d.set_ylabel("fraction of writes")
    else:  # heavy or long tails: log-spaced bins, density per unit delay, log-log axes
        edges = np.unique(np.round(np.geomspace(1, dmax + 2, 50)).astype(np.int64))
        counts, _ = np.histogram(d + 1, bins=edges)
        dens = counts / (max(K, 1) * np.diff(edges))
        ax_d.stairs(np.where(dens > 0, dens, np.nan), edges, color=PALETTE[0], lw=1.5, label="empirical")
        pmf = model.delay_pmf(dmax) if model is not None else None
        if pmf is not None:
            x = np.arange(1, dmax + 2)
            keep = pmf > 0
            ax_d.plot(x[keep], pmf[keep], color=PALETTE[1], lw=1.2, label="theoretical law")
        ax_d.set_xscale("log")
        ax_d.set_yscale("log")
        ax_d.set_xlabel("delay + 1 (writes)")
        ax_d.set_ylabel("fraction of writes per unit delay")
    ax_d.set_title(f"delays: mean {d.mean():.3g}, max {dmax}")
    ax_d.legend(frameon=False)

    bc = schedule.block_counts()
    blocks = np.arange(schedule.n_blocks)
    owner = np.argmax(schedule.owners, axis=0) if schedule.owners.sum(axis=0).max() == 1 else None
    colors = [PALETTE[int(o) % len(PALETTE)] for o in owner] if owner is not None else PALETTE[0]
    ax_b.bar(blocks, bc, color=colors, linewidth=0)
    ax_b.axhline(bc.mean(), color="0.3", lw=1, ls="--", label="mean")
    ax_b.set_xlabel("block" + (" (colour: owning worker)" if owner is not None else ""))
    ax_b.set_ylabel("writes updating the block")
    ax_b.set_title(f"{K} writes by {schedule.n_workers} workers on {schedule.n_blocks} blocks")
    ax_b.legend(frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = [path]
    fig.savefig(path, dpi=150)
    if path.suffix.lower() == ".png":
        fig.savefig(path.with_suffix(".pdf"))
        out.append(path.with_suffix(".pdf"))
    import matplotlib.pyplot as plt

    plt.close(fig)
    return out
