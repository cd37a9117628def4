"""Figures of a study store (asyncconv.plot.study) on small studies run here once per module."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from asyncconv.plot.study import plot_study, quantile_band, trajectories_figure
from asyncconv.study import open_results, parse_spec, report, run_study

SPEC = """
[study]
name = "plot-test"
seed = 3
replicas = 4
events = 2000
batch = 2
checkpoints = 20
probes = 8

[problem]
name = "trap"

[[schedule]]
label = "random"
n_workers = 2
blocks = { n_blocks = 2, ownership = "partitioned" }
timing = { compute = { law = "exponential", mean = 1.0 } }

[[schedule]]
label = "periodic"
n_workers = 2
blocks = { n_blocks = 2, ownership = "partitioned" }
periodic = { delay = 1 }

[iteration]
momentum = "heavy"
m = 0.5
factor_low = 1.0
noise = "none"
"""

FIGURES = ("trajectories", "verdicts", "delays")


def _one_schedule(text: str) -> str:
    """The spec with its second [[schedule]] table removed: a single configuration."""
    head, rest = text.split('label = "periodic"')
    return head.rsplit("[[schedule]]", 1)[0] + rest.split("\n\n", 1)[1]


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("study") / "store"
    run_study(parse_spec(SPEC), root, workers=1)
    return root


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("single") / "store"
    run_study(parse_spec(_one_schedule(SPEC)), root, workers=1)
    return root


def _check_files(paths: list[Path], outdir: Path, formats=("png", "pdf")) -> None:
    assert sorted(paths) == sorted(outdir / f"{f}.{x}" for f in FIGURES for x in formats)
    for p in paths:
        data = p.read_bytes()
        assert len(data) > 5_000, p
        if p.suffix == ".png":
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            img = plt.imread(p)
            assert img.shape[0] > 300 and img.shape[1] > 500, (p, img.shape)
        else:
            assert data[:5] == b"%PDF-" and b"%%EOF" in data[-64:]
    assert not plt.get_fignums(), "figures left open"


def _panel_titles(root: Path, check: bool = True) -> list[str]:
    res = open_results(root, check=check)
    fig = trajectories_figure(res, report(res))
    try:
        return [ax.get_title() for ax in fig.axes if ax.get_title()]
    finally:
        plt.close(fig)


def test_all_figures_default_outdir(study):
    paths = plot_study(study)
    _check_files(paths, study / "figures")
    assert _panel_titles(study) == ["objective gap", "distance D to the critical set", "momentum"]


def test_single_configuration(single, tmp_path):
    assert len(open_results(single).configs) == 1
    _check_files(plot_study(open_results(single), tmp_path / "fig"), tmp_path / "fig")


def test_incomplete_study(study, tmp_path):
    root = tmp_path / "store"
    shutil.copytree(study, root, ignore=shutil.ignore_patterns("figures"))
    for name in (
        "parts/c0001-r000002.json",
        "parts/c0001-r000002.parquet",
        "summary.parquet",
        "schedules.json",
        "complete.json",
    ):
        (root / name).unlink()
    res = open_results(root)
    assert not res.complete and len(res.summary) == 6
    # the delay histograms are pooled over the finished tasks only
    assert res.schedules["0"]["replicas"] == 4 and res.schedules["1"]["replicas"] == 2
    _check_files(plot_study(res, tmp_path / "fig", formats=("png",)), tmp_path / "fig", ("png",))


def test_all_nan_distance_skips_its_panel(study, tmp_path):
    import zarr

    root = tmp_path / "store"
    shutil.copytree(study, root, ignore=shutil.ignore_patterns("figures"))
    arr = zarr.open_array(str(root / "trajectories.zarr" / "metrics"), mode="r+")
    dist = list(arr.attrs["fields"]).index("dist")
    arr[..., dist] = np.nan  # as for a problem with no catalogue (the checksums see an edited store)
    assert _panel_titles(root, check=False) == ["objective gap", "momentum"]
    res = open_results(root, check=False)
    _check_files(plot_study(res, tmp_path / "fig"), tmp_path / "fig")


def test_band_counts_diverged_as_infinite_and_skips_unreached():
    t = np.tile(np.array([0.0, 1.0, 1.0, 2.0, 4.0]), (4, 1))
    v = np.array([[3.0, 2.0, 2.0, 1.0, 0.5]] * 4)
    v[0, 3:] = np.nan  # diverged replica: +inf from then on
    v[1, 4] = np.nan  # not reached (finished replica): left out
    b = quantile_band(t, v, np.array([True, False, False, False]))
    assert b is not None
    np.testing.assert_array_equal(b.t, [0.0, 1.0, 2.0, 4.0])  # the repeated checkpoint is dropped
    assert np.isposinf(b.q[2, 2:]).all() and np.isfinite(b.q[:2, :]).all()
    assert b.q[1, 3] == 0.5  # median of (0.5, 0.5, +inf): the unreached value is left out
    assert quantile_band(t, np.full_like(v, np.nan), np.zeros(4, bool)) is None
