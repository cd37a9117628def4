"""The paper-figure scripts (paper_figures/fig*.py) and the verdict tables (analysis/verdict_tables.py)
run end to end on tiny studies made from the shipped specs, write valid PNG/PDF/CSV/Markdown, and
fail clearly when a study is missing."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "paper_figures"
SPECS = ROOT / "sims" / "paper"
TINY = "\n[scales.tiny]\nreplicas = 2\nevents = 3000\nbatch = 2\n"

#: script -> (studies it reads, files it writes)
SCRIPTS = {
    "fig1_delay_laws": (("fig1_delay_laws",), "fig1_delay_laws"),
    "fig2_battery": (("fig2_battery",), "fig2_battery"),
    "fig3_invariant_set": (("fig3a_trap_phase", "fig3b_trap_jitter"), "fig3_invariant_set"),
    "fig4_step_delay": (("fig4_step_delay",), "fig4_step_delay"),
    "fig5_momentum": (("fig5_momentum",), "fig5_momentum"),
    "fig6_shadowing": (("fig6_shadowing",), "fig6_shadowing"),
}
TABLE_STUDIES = ("fig2_battery", "fig3a_trap_phase", "fig3b_trap_jitter", "fig4_step_delay", "fig5_momentum")


def _tiny_text(name: str) -> str:
    """The shipped spec with a [scales.tiny] table (2 replicas, 3000 writes)."""
    return (SPECS / f"{name}.toml").read_text(encoding="utf-8") + TINY


class TinyResults:
    """``DIR/tiny/<study>`` built on first use (the scale directory is named like the scale)."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "tiny"
        self.dir.mkdir(parents=True)

    def need(self, *names: str) -> Path:
        from asyncconv.study import parse_spec, run_study

        for name in names:
            out = self.dir / name
            if not (out / "summary.parquet").is_file():
                run_study(parse_spec(_tiny_text(name), default_name=name, scale="tiny"), out, workers=1)
        return self.dir


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> TinyResults:
    return TinyResults(tmp_path_factory.mktemp("paper"))


def _load(path: Path):
    """Import a script as a module (paper_figures/ on sys.path for its ``import common``)."""
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"_paper_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run_main(monkeypatch, path: Path, *argv: str) -> None:
    monkeypatch.setattr(sys, "argv", [str(path), *argv])
    _load(path).main()


def _check_figure(out: Path, stem: str) -> None:
    png, pdf = out / f"{stem}.png", out / f"{stem}.pdf"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert png.stat().st_size > 10_000 and pdf.stat().st_size > 5_000


def test_every_spec_has_a_script():
    specs = {p.stem for p in SPECS.glob("fig*.toml")}
    read = {s for studies, _ in SCRIPTS.values() for s in studies}
    assert specs <= read, f"specs without a figure script: {sorted(specs - read)}"
    for script in SCRIPTS:
        mod = _load(FIGURES / f"{script}.py")
        assert mod.__doc__ and "Run::" in mod.__doc__ and callable(mod.main)


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s != "fig6_shadowing"])
def test_figure_script(script, tiny, tmp_path, monkeypatch):
    studies, stem = SCRIPTS[script]
    results = tiny.need(*studies)
    _run_main(monkeypatch, FIGURES / f"{script}.py", "--results", str(results), "--out", str(tmp_path))
    _check_figure(tmp_path, stem)


def test_figure_script_command_line(tiny, tmp_path):
    """One script as a subprocess, exactly as documented."""
    results = tiny.need("fig6_shadowing")
    out = tmp_path / "figs"
    proc = subprocess.run(
        [sys.executable, str(FIGURES / "fig6_shadowing.py"), "--results", str(results), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    _check_figure(out, "fig6_shadowing")
    assert "fig6_shadowing.png" in proc.stdout


def test_shadowing_errors_from_saved_probes(tiny):
    """Figure 6's errors come from the theory module: finite, one per window and replica."""
    import numpy as np

    from asyncconv.study import open_results

    mod = _load(FIGURES / "fig6_shadowing.py")
    res = open_results(tiny.need("fig6_shadowing") / "fig6_shadowing")
    for cfg in res.spec["configs"]:
        t, e = mod.errors(res, cfg)
        assert e.shape == (res.spec["replicas"], mod.N_WINDOWS) and t.shape == (mod.N_WINDOWS,)
        assert np.isfinite(e).all() and (e >= 0).all() and np.all(np.diff(t) >= 0)
    assert mod.kappa({"momentum": "heavy", "m": 0.5}) == 2.0
    assert mod.kappa({"momentum": "ema", "m": 0.9}) == 1.0


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_missing_study_is_a_clear_error(script, tmp_path, monkeypatch):
    empty = tmp_path / "quick"
    empty.mkdir()
    with pytest.raises(SystemExit) as exc:
        _run_main(
            monkeypatch, FIGURES / f"{script}.py", "--results", str(empty), "--out", str(tmp_path / "o")
        )
    msg = str(exc.value)
    assert "holds no finished study" in msg and "asyncconv study run sims/paper/" in msg
    assert "--scale quick" in msg


def test_verdict_tables(tiny, tmp_path):
    import pandas as pd

    results = tiny.need(*TABLE_STUDIES)
    mod = _load(ROOT / "analysis" / "verdict_tables.py")
    assert mod.main(["--results", str(results), "--out", str(tmp_path)]) == 0
    for name in TABLE_STUDIES:
        df = pd.read_csv(tmp_path / f"verdicts_{name}.csv")
        assert len(df) == len(df["config"].unique()) > 0
        assert {"converged_k", "converged_p", "converged_lo", "converged_hi", "tte_median"} <= set(df.columns)
        ok = df["converged_p"].notna()
        assert ((df.loc[ok, "converged_lo"] <= df.loc[ok, "converged_p"])
                & (df.loc[ok, "converged_p"] <= df.loc[ok, "converged_hi"])).all()  # fmt: skip
    md = (tmp_path / "verdict_tables.md").read_text(encoding="utf-8")
    for name in TABLE_STUDIES:
        assert f"## {name}" in md
    assert re.search(r"\d+/2 = [01]\.\d\d \[\d\.\d\d, \d\.\d\d\]", md)


def test_verdict_tables_without_studies(tmp_path, capsys):
    mod = _load(ROOT / "analysis" / "verdict_tables.py")
    assert mod.main(["--results", str(tmp_path / "quick"), "--out", str(tmp_path / "o")]) == 1
    assert "no finished study" in capsys.readouterr().err
