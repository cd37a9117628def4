"""The training experiment: the shipped spec (sims/paper/training.toml) parses and validates, a bad
field is one line with exit status 2, and analysis/run_training.py, the figures 7 and 8 and the
training table run end to end on a tiny real experiment (1 epoch of the CNN on digits; the
``asyncconv`` commands run in this process to spare the interpreter start-ups), resume without
rerunning anything, and fail clearly when the results are missing."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "sims" / "paper" / "training.toml"

TINY = """
description = "tiny training experiment of the tests"
[training]
name = "training"
repeats = 2
replay_repeats = 1
model = "cnn"
data = "digits"
epochs = 1
batch = 64
evals_per_epoch = 3
lr_schedule = "cosine"

[[run]]
label = "sgd"
method = "sgd"
workers = 1

[[run]]
label = "passm"
method = "passm"
workers = 2

[[run]]
label = "ddp"
method = "ddp"
workers = 2

[[replay]]
label = "passm_trace"
legend = "PASSM, real trace"
trace = "passm"

[[replay]]
label = "round_robin"
schedule = "sims/schedules/round_robin.toml"
"""


def _load(path: Path, name: str):
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def rt():
    # the name the figure scripts import it under, so that they share this module
    return _load(ROOT / "analysis" / "run_training.py", "_asyncconv_run_training")


def in_process(args: list[str]) -> tuple[int, str, str]:
    """``asyncconv ARGS`` in this process (the runner of ``run_spec``)."""
    from asyncconv.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def test_shipped_spec_parses_at_both_scales(rt):
    full, quick = rt.parse_spec(SPEC, "full"), rt.parse_spec(SPEC, "quick")
    methods = {r["method"] for r in full.runs}
    assert methods == {"passm", "passm+", "hogwild", "assm", "sgd", "ddp"}
    assert all(r["workers"] == (1 if r["method"] == "sgd" else 2) for r in full.runs)
    assert full.training["model"] == "cnn" and full.training["data"] == "digits"
    assert quick.repeats < full.repeats and quick.training["epochs"] <= full.training["epochs"]
    assert {r.get("schedule") for r in full.replays} >= {
        "sims/schedules/passm_exponential.toml", "sims/schedules/round_robin.toml",
        "sims/schedules/hogwild_torn.toml",
    }  # fmt: skip
    assert any(r.get("trace") == "passm" for r in full.replays)
    assert all(r["n_blocks"] <= 8 for r in full.replays)  # the CNN's 8 tensors
    assert full.description.startswith("Training experiment")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("lr = 0.05", "lr = -1", "training.lr"),
        ("epochs = 30 ", "epoch = 30 ", "training.epoch"),
        ('method = "ddp"', 'method = "dp"', "run[5].method"),
        ("workers = 1", "workers = 2", "run[0].workers"),
        ('trace = "passm"', 'trace = "nope"', "replay[1].trace"),
        ("n_blocks = 8 } }", "n_blocks = 64 } }", "replay[6].overrides.blocks.n_blocks"),
        ('write = "owned"', 'write = "all"', "replay[3].overrides.blocks.write"),
        ("[scales.quick]\nrepeats = 3", "[scales.quick]\nrepeats = 0", "training.repeats"),
    ],
)
def test_bad_field_is_one_line_with_exit_2(rt, tmp_path, capsys, old, new, field):
    text = SPEC.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(old, new, 1).replace('"sims/schedules/', f'"{ROOT}/sims/schedules/'))
    assert rt.main([str(bad), "--scale", "quick", "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and f": {field}: " in err


def test_unknown_scale_and_missing_file(rt, tmp_path, capsys):
    assert rt.main([str(SPEC), "--scale", "huge", "--check"]) == 2
    assert "no [scales.huge]" in capsys.readouterr().err
    assert rt.main([str(tmp_path / "none.toml"), "--check"]) == 2
    assert "file not found" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny(rt, tmp_path_factory):
    """A tiny real experiment in ``DIR/tiny/training``."""
    root = tmp_path_factory.mktemp("training")
    spec_file = root / "tiny.toml"
    spec_file.write_text(TINY, encoding="utf-8")
    spec = rt.parse_spec(spec_file, "full")
    out = root / "tiny" / "training"
    rt.run_spec(spec, out, say=lambda _: None, runner=in_process)
    return spec, spec_file, out


def test_run_writes_every_file_and_resumes(rt, tiny):
    spec, _, out = tiny
    man = json.loads((out / "manifest.json").read_text())
    assert len(man["runs"]) == 6 and len(man["replays"]) == 2
    for seed in (0, 1):
        for label in ("sgd", "passm", "ddp"):
            rep = json.loads((out / "runs" / f"{label}_s{seed}.json").read_text())
            assert rep["config"]["method"] == label and rep["config"]["seed"] == seed
            assert len(rep["evals"]) == 4 and (out / "runs" / f"{label}_s{seed}.npz").is_file()
    rep = json.loads((out / "replays" / "round_robin_s0.json").read_text())
    assert rep["writes"] == json.loads((out / "runs" / "sgd_s0.json").read_text())["writes"]
    assert (out / "schedules" / "round_robin_s0.toml").is_file()
    assert not list(out.rglob("*.tmp"))

    def refuse(args):
        raise AssertionError(f"reran {args}")

    rt.run_spec(spec, out, say=lambda _: None, runner=refuse)  # everything is there: nothing reruns


def test_other_spec_in_the_same_directory_is_refused(rt, tiny, tmp_path):
    _, spec_file, out = tiny
    other = tmp_path / "other.toml"
    other.write_text(spec_file.read_text().replace("epochs = 1", "epochs = 2"))
    with pytest.raises(rt.SpecError, match="different spec"):
        rt.run_spec(rt.parse_spec(other), out, runner=in_process)


def test_summary_and_table(rt, tiny, tmp_path):
    _, _, out = tiny
    res = rt.load_results(out.parent)
    s = rt.summarise(res)
    rows = s["rows"]
    assert set(rows) == {"sgd", "passm", "ddp"} and 0.0 < s["target_test_acc"] <= 1.0
    assert rows["sgd"]["speedup_over_sgd"] in (1.0, None) and rows["ddp"]["speedup_time_over_ddp"] == 1.0
    table = _load(ROOT / "analysis" / "training_table.py", "_training_table")
    assert table.main(["--results", str(out.parent), "--out", str(tmp_path)]) == 0
    import pandas as pd

    df = pd.read_csv(tmp_path / "training_table.csv")
    assert list(df["label"]) == ["sgd", "passm", "ddp"] and df["processes"].tolist() == [1, 2, 2]
    md = (tmp_path / "training_table.md").read_text()
    assert "| method | processes | batch |" in md and "32 (2 × 16)" not in md and "64 (2 × 32)" in md


@pytest.mark.parametrize("script", ["fig7_real_networks", "fig8_speed"])
def test_figures(tiny, tmp_path, monkeypatch, script):
    _, _, out = tiny
    path = ROOT / "paper_figures" / f"{script}.py"
    monkeypatch.setattr(sys, "argv", [str(path), "--results", str(out.parent), "--out", str(tmp_path)])
    _load(path, f"_paper_{script}").main()
    png, pdf = tmp_path / f"{script}.png", tmp_path / f"{script}.pdf"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert pdf.read_bytes()[:5] == b"%PDF-"


@pytest.mark.parametrize("script", ["fig7_real_networks", "fig8_speed"])
def test_missing_results_say_how_to_make_them(tmp_path, monkeypatch, script):
    path = ROOT / "paper_figures" / f"{script}.py"
    monkeypatch.setattr(
        sys, "argv", [str(path), "--results", str(tmp_path / "quick"), "--out", str(tmp_path)]
    )
    with pytest.raises(SystemExit) as e:
        _load(path, f"_paper_{script}").main()
    msg = str(e.value)
    assert "holds no finished training experiment" in msg
    assert "python analysis/run_training.py sims/paper/training.toml --scale quick" in msg
