"""Shared plumbing of the paper-figure scripts: where results live, where figures go, saving.

Every figure script reads saved study results only (``asyncconv study run sims/paper/NAME.toml``
writes them to ``RESULTS/NAME``) and writes ``OUT/figN_*.png`` and ``.pdf``. Statistics come from
``asyncconv.study.report`` / ``asyncconv.theory``; the scripts only select and draw.

Usage of every script::

    python paper_figures/figN_*.py [--results results/paper/quick] [--out paper_figures/out/quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from asyncconv.plot.style import PALETTE, figure

__all__ = ["PALETTE", "args", "figure", "save", "study_dir"]

ROOT = Path(__file__).resolve().parents[1]


def args(doc: str) -> argparse.Namespace:
    """--results DIR (the studies) and --out DIR (the figures), with the quick scale as default."""
    ap = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    ap.add_argument("--results", type=Path, default=ROOT / "results" / "paper" / "quick")
    ap.add_argument("--out", type=Path, default=None, help="default: paper_figures/out/<scale>")
    ns = ap.parse_args()
    if ns.out is None:
        ns.out = ROOT / "paper_figures" / "out" / ns.results.name
    ns.out.mkdir(parents=True, exist_ok=True)
    return ns


def study_dir(results: Path, name: str) -> Path:
    """The results directory of the study ``name``; a clear error when it has not been run."""
    d = results / name
    if not (d / "summary.parquet").is_file():
        raise SystemExit(
            f"error: {d} holds no finished study; run "
            f"'asyncconv study run sims/paper/{name}.toml --scale {results.name} -o {d}' (or 'make figures')"
        )
    return d


def save(fig, out: Path, stem: str) -> list[Path]:
    """Write ``stem``.png (200 dpi) and .pdf into ``out`` and close the figure."""
    import matplotlib.pyplot as plt

    paths = []
    try:
        for ext in ("png", "pdf"):
            p = out / f"{stem}.{ext}"
            fig.savefig(p, dpi=200, bbox_inches="tight")
            paths.append(p)
    finally:
        plt.close(fig)
    for p in paths:
        print(p)
    return paths
