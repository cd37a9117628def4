"""The project's plotting style: a colour-blind-safe palette and figure factory (no global rcParams)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are written to files; never need a display

import matplotlib.pyplot as plt

__all__ = ["PALETTE", "figure"]

#: Okabe & Ito (2008) colour-blind-safe palette.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

_RC = {
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "savefig.bbox": "tight",
}


def figure(nrows: int = 1, ncols: int = 1, *, width: float = 6.0, height: float = 4.0):
    """A figure and its axes drawn with the project style (applied locally, not globally)."""
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=True)
    for ax in fig.axes:
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, axes
