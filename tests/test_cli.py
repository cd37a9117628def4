"""End-to-end CLI runs: draw, stats, plot, import; bad input gives one line and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from asyncconv.cli import main
from asyncconv.schedule import load_schedule
from asyncconv.theory.verdict import OUTCOMES, VERDICTS

SIMS = Path(__file__).resolve().parents[1] / "sims" / "schedules"


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def test_draw_stats_plot_round_trip(tmp_path, capsys):
    f = tmp_path / "s.npz"
    code, out, _ = run(
        capsys, "schedule", "draw", "--workers", 4, "--compute", "gamma", "--shape", 2, "--blocks", 8,
        "--ownership", "partitioned", "--reads", "inconsistent", "--read-time", 0.3, "--events", 20000,
        "--seed", 3, "-o", f,
    )  # fmt: skip
    assert code == 0, out
    assert "theorem assumptions" in out
    sched = load_schedule(f)
    assert sched.n_events == 20000 and sched.n_workers == 4 and sched.n_blocks == 8
    assert (sched.read_hi > sched.read_lo).any()  # torn reads happened

    code, out, _ = run(capsys, "schedule", "stats", f, "--json")
    assert code == 0
    st = json.loads(out)
    for key in ("n_events", "n_workers", "n_blocks", "block_freq", "writer_freq", "p_min_hat", "tail_index"):
        assert key in st
    assert set(st["delay"]) >= {"mean", "max", "quantiles", "histogram"}
    assert set(st["assumptions"]) >= {"bounded_delay", "p_min_positive"}
    assert all(isinstance(v, bool) for v in st["assumptions"].values())
    assert st["delay"]["mean"] == pytest.approx(float(sched.delay().mean()))
    assert sum(st["delay"]["histogram"]["counts"]) == 20000

    png = tmp_path / "fig" / "s.png"
    code, out, _ = run(capsys, "schedule", "plot", f, "-o", png)
    assert code == 0 and png.stat().st_size > 10_000 and png.with_suffix(".pdf").exists()


def test_draw_from_model_file_is_reproducible(tmp_path, capsys):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    for f in (a, b):
        code, _, _ = run(
            capsys,
            "schedule",
            "draw",
            "--model",
            SIMS / "hogwild_torn.toml",
            "-n",
            5000,
            "--seed",
            7,
            "-o",
            f,
            "-q",
        )
        assert code == 0
    assert load_schedule(a).same_events(load_schedule(b))
    assert load_schedule(a).model["n_workers"] == 8


def test_import_csv_trace(tmp_path, capsys):
    csv = tmp_path / "trace.csv"
    csv.write_text(
        "writer,block,read_lo,read_hi,t_read,t_write,v0,v1\n"
        "0,0,0,0,0.0,1.0,0,0\n"
        "1,1,0,1,0.0,1.5,0,1\n"
        "0,0,1,2,1.0,2.0,1,2\n"
    )
    out_file = tmp_path / "t.npz"
    code, out, err = run(capsys, "schedule", "import", csv, "-o", out_file)
    assert code == 0, err
    s = load_schedule(out_file)
    assert s.read_versions().tolist() == [[0, 0], [0, 1], [1, 2]]
    code, out, _ = run(capsys, "schedule", "stats", csv, "--json")
    assert code == 0 and json.loads(out)["n_events"] == 3


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["schedule", "draw", "--workers", "8", "--blocks", "4"], "blocks.n_blocks"),
        (["schedule", "draw", "--compute", "weibull"], "--compute"),
        (["schedule", "draw", "--mean", "-1"], "timing.compute.mean"),
        (["schedule", "draw", "--compute", "pareto", "--shape", "0.5"], "timing.compute.shape"),
        (["schedule", "draw", "--workers", "0"], "n_workers"),
        (["schedule", "draw", "--events", "0"], "--events"),
        (["schedule", "draw", "--reads", "inconsistent"], "--read-time"),
        (["schedule", "draw", "--nonsense"], "--nonsense"),
        (["schedule", "stats", "missing.npz"], "not found"),
        (["schedule", "stats", "s.npz", "--step-exponent", "2"], "--step-exponent"),
        (["schedule", "plot", "s.npz", "-o", "fig.txt"], "--output"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    run(capsys, "schedule", "draw", "-n", 100, "-o", "s.npz", "-q")
    if "-o" not in args and args[1] == "draw":
        args = [*args, "-o", "out.npz"]
    code, out, err = run(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
    assert "Traceback" not in err + out


def test_bad_model_file_and_corrupt_schedule(tmp_path, capsys):
    toml = tmp_path / "m.toml"
    toml.write_text(
        'n_workers = 2\n[blocks]\nn_blocks = 2\n[timing]\ncompute = { law = "exponential", mean = 1.0, shpe = 2 }\n'
    )
    code, _, err = run(capsys, "schedule", "draw", "--model", toml, "-o", tmp_path / "x.npz")
    assert code == 2 and "timing.compute.shpe" in err and "unknown field" in err
    assert not (tmp_path / "x.npz").exists()

    # a schedule that reads the future is refused with the offending row named
    good = tmp_path / "g.npz"
    run(capsys, "schedule", "draw", "-n", 50, "-o", good, "-q")
    with np.load(good) as z:
        arrays = dict(z)
    arrays["read_hi"] = arrays["read_hi"].copy()
    arrays["read_lo"] = arrays["read_lo"].copy()
    arrays["read_lo"][10] = arrays["read_hi"][10] = 11
    bad = tmp_path / "future.npz"
    with open(bad, "wb") as fh:
        np.savez(fh, **arrays)
    code, _, err = run(capsys, "schedule", "stats", bad)
    assert code == 2 and "read_hi[10]" in err and "future" in err

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    code, _, err = run(capsys, "schedule", "stats", garbage)
    assert code == 2 and "not an asyncconv schedule" in err


def test_console_script_subprocess(tmp_path):
    """The installed entry point: no traceback and exit status 2 on bad input, help on --help."""
    r = subprocess.run(
        [sys.executable, "-m", "asyncconv", "schedule", "draw", "--mean", "-2", "-o", str(tmp_path / "x.npz")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "timing.compute.mean" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "asyncconv", "schedule", "draw", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0 and "--workers" in r.stdout


def test_simulate_flags_and_spec(tmp_path, capsys):
    code, out, err = run(
        capsys, "simulate", "--problem", "chained_lq", "--n", 20, "--workers", 2, "--blocks", 4,
        "--events", 5000, "--replicas", 3, "--seed", 2, "--momentum", "nesterov:0.8", "--buffers", "worker", "--json",
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    assert len(res["replicas"]) == 3
    assert res["iteration"]["momentum"] == "nesterov" and res["iteration"]["m"] == 0.8
    assert res["iteration"]["buffers"] == "worker"
    assert {"f_final", "f_gap_final", "status", "dist_final"} <= set(res["replicas"][0])
    assert all(r["status"] == "finished" for r in res["replicas"])
    code2, out2, _ = run(capsys, "simulate", "--problem", "chained_lq", "--n", 20, "--workers", 2, "--blocks", 4,
                         "--events", 5000, "--replicas", 3, "--seed", 2, "--momentum", "nesterov:0.8",
                         "--buffers", "worker", "--json")  # fmt: skip
    assert code2 == 0 and json.loads(out2)["replicas"] == res["replicas"]  # same seed, same numbers

    spec = Path(__file__).resolve().parents[1] / "sims" / "simulate" / "trap_random_vs_periodic.toml"
    text = (
        spec.read_text().replace("events = 500000", "events = 20000").replace("replicas = 8", "replicas = 2")
    )
    small = tmp_path / "spec.toml"
    small.write_text(text)
    code, out, err = run(capsys, "simulate", small, "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["problem"] == "trap"
    # measures, verdict per replica, pooled fractions with intervals, thresholds recorded
    assert res["thresholds"]["eps"] == 0.01
    assert all(r["verdict"] in VERDICTS and r["outcome"] == OUTCOMES[r["verdict"]] for r in res["replicas"])
    assert {"dk", "tc", "gs", "ly", "momentum"} <= set(res["replicas"][0]["measures"])
    conv = res["verdicts"]["fractions"]["converged"]
    assert conv["n"] == 2 and 0.0 <= conv["lo"] <= conv["hi"] <= 1.0
    bad = tmp_path / "bad.toml"
    bad.write_text(text + "stat_tl = 0.1\n")
    code, _, err = run(capsys, "simulate", bad, "--json")
    assert code == 2 and "thresholds.stat_tl" in err and len(err.strip().splitlines()) == 1

    code, out, _ = run(capsys, "problems", "list", "--json")
    assert code == 0 and any(p["name"] == "trap" for p in json.loads(out)["problems"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["simulate", "--problem", "nonexistent"], "problem"),
        (["simulate", "--step", "0.1"], "--step"),
        (["simulate", "--momentum", "adam"], "--momentum"),
        (["simulate", "--momentum", "nesterov:x"], "--momentum"),
        (["simulate", "--momentum", "1.5"], "iteration.m"),
        (["simulate", "--problem", "trap", "--blocks", "3", "--ownership", "shared"], "--blocks"),
        (["simulate", "missing_spec.toml"], "not found"),
    ],
)
def test_simulate_bad_input(capsys, args, needle):
    code, out, err = run(capsys, *args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err
