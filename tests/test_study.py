"""Studies: spec validation and expansion, the task function, the Dask runner, the results store,
resume after kill -9, retries, report, and the CLI (end to end)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr

from asyncconv.cli import main
from asyncconv.config import ConfigError
from asyncconv.study import load_spec, open_results, parse_spec, report, run_study, study_status
from asyncconv.study import runner as runner_mod
from asyncconv.study.store import Store, task_name
from asyncconv.study.tasks import run_task
from asyncconv.theory.verdict import OUTCOMES, RULES, VERDICTS

ROOT = Path(__file__).resolve().parents[1]

SPEC = """
description = "two schedules on the trap"
[study]
name = "tiny"
seed = 3
replicas = {replicas}
events = {events}
batch = {batch}
checkpoints = 20
probes = 16

[problem]
name = "trap"

[[schedule]]
label = "random"
n_workers = 2
blocks = {{ n_blocks = 2, ownership = "partitioned" }}
timing = {{ compute = {{ law = "exponential", mean = 1.0 }} }}

[[schedule]]
label = "periodic"
n_workers = 2
blocks = {{ n_blocks = 2, ownership = "partitioned" }}
periodic = {{ delay = 1 }}

[iteration]
momentum = "heavy"
m = 0.5
g0 = 0.05
p = 0.75
factor_low = 1.0
noise = "gaussian"
noise_scale = 0.01

[[compare]]
axis = "schedule"
a = "random"
b = "periodic"
"""


def spec_text(replicas: int = 6, events: int = 20_000, batch: int = 2) -> str:
    return SPEC.format(replicas=replicas, events=events, batch=batch)


def results_equal(a: Path, b: Path) -> None:
    """Bit-identical results: the summary table and every trajectory value."""
    sa, sb = pd.read_parquet(a / "summary.parquet"), pd.read_parquet(b / "summary.parquet")
    pd.testing.assert_frame_equal(sa, sb, check_exact=True)
    ga, gb = (
        zarr.open_group(str(a / "trajectories.zarr"), mode="r"),
        zarr.open_group(str(b / "trajectories.zarr"), mode="r"),
    )
    for name in ("metrics", "probes"):
        np.testing.assert_array_equal(ga[name][:], gb[name][:])
    assert (a / "schedules.json").read_bytes() == (b / "schedules.json").read_bytes()


# --- specs --------------------------------------------------------------------------------------


def test_expansion_labels_and_grid():
    text = spec_text() + '\n[grid]\n"iteration.m" = [0.0, 0.9]\n"events" = [1000, 2000]\n'
    spec = parse_spec(text)
    assert len(spec.configs) == 2 * 2 * 2
    c = spec.configs[-1]
    assert c.labels == {"schedule": "periodic", "iteration.m": "0.9", "events": "2000"}
    assert c.label == "periodic, m=0.9, events=2000"
    assert c.iteration["m"] == 0.9 and c.events == 2000
    assert "periodic" in c.schedule and c.problem["n"] == 2
    # the last grid key varies fastest
    assert [x.events for x in spec.configs[:2]] == [1000, 2000]
    assert spec.n_tasks == 8 * 3 and spec.tasks()[1] == (0, 2, 4)
    assert spec.axes()["schedule"] == ["random", "periodic"]


def test_fingerprint_ignores_name_and_description():
    a = parse_spec(spec_text())
    b = parse_spec(spec_text().replace('name = "tiny"', 'name = "other"').replace("two schedules", "x"))
    c = parse_spec(spec_text().replace("seed = 3", "seed = 4"))
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("replicas = 6", "replicas = -1"), "study.replicas"),
        (('name = "trap"', 'name = "nope"'), "problem.name"),
        (("m = 0.5", "m = 0.5\nmomentm = 1"), "iteration.momentm"),
        (('law = "exponential"', 'law = "expo"'), "schedule.timing.compute.law"),
        (("[study]", "[study]\nbatchh = 2"), "study.batchh"),
        (('b = "periodic"', 'b = "nope"'), "compare[0].b"),
        (('axis = "schedule"', 'axis = "iteration"'), "compare[0].axis"),
        (('label = "periodic"', 'label = "random"'), "schedule"),
        (("events = 20000", "events = 0"), "study.events"),
    ],
)
def test_bad_specs_name_the_field(edit, field):
    with pytest.raises(ConfigError) as e:
        parse_spec(spec_text().replace(*edit))
    assert e.value.field.startswith(field), e.value


def test_bad_grid_and_toml():
    with pytest.raises(ConfigError, match="expand to no configurations") as e:
        parse_spec(spec_text() + '\n[grid]\n"iteration.p" = []\n')
    assert e.value.field == "grid.iteration.p"
    with pytest.raises(ConfigError) as e:
        parse_spec(spec_text() + '\n[grid]\n"momentum" = [1]\n')
    assert e.value.field == "grid.momentum"
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_spec("[study\nreplicas = 1")
    # a grid value that makes a configuration invalid is named with the configuration
    with pytest.raises(ConfigError, match=r"configuration random, p=-1") as e:
        parse_spec(spec_text() + '\n[grid]\n"iteration.p" = [0.75, -1]\n')
    assert e.value.field == "iteration.p"


def test_shipped_specs_validate():
    paths = sorted((ROOT / "sims").glob("*.toml")) + sorted((ROOT / "sims" / "paper").glob("fig*.toml"))
    assert len(paths) >= 8
    for path in paths:
        spec = load_spec(path)
        assert spec.configs and spec.description, path
        if "[scales.quick]" in spec.text:
            assert load_spec(path, scale="quick").total_events < spec.total_events, path


# --- the task function --------------------------------------------------------------------------


def test_task_is_a_pure_function_of_the_replica_range():
    spec = parse_spec(spec_text(replicas=4, events=5000))
    cfg = spec.configs[0].to_dict()
    kw = {"seed": spec.seed, "checkpoints": 20, "probes": 16, "tail": None, "thresholds": spec.thresholds}
    whole = run_task(cfg, 0, 4, **kw)
    parts = [run_task(cfg, 0, 1, **kw), run_task(cfg, 1, 4, **kw, threads=2)]
    np.testing.assert_array_equal(whole.metrics, np.concatenate([p.metrics for p in parts]))
    np.testing.assert_array_equal(whole.probes, np.concatenate([p.probes for p in parts]))
    pd.testing.assert_frame_equal(
        pd.DataFrame(whole.rows), pd.DataFrame(parts[0].rows + parts[1].rows), check_exact=True
    )
    assert whole.metrics.dtype == np.float32 and whole.metrics.shape == (4, 21, 10)
    assert [r["replica"] for r in parts[1].rows] == [1, 2, 3]
    assert whole.schedule_stats is not None and parts[1].schedule_stats is None
    assert whole.delay_hist.sum() == 4 * 5000


def test_diverging_replicas_are_recorded_as_diverged():
    text = spec_text(replicas=2, events=2000).replace("g0 = 0.05", "g0 = 1e9").replace("p = 0.75", "p = 0.0")
    spec = parse_spec(text)
    res = run_task(spec.configs[0].to_dict(), 0, 2, seed=1, checkpoints=20, probes=16, tail=None,
                   thresholds=spec.thresholds)  # fmt: skip
    assert [r["verdict"] for r in res.rows] == ["diverged", "diverged"]


# --- the runner and the store (Dask) --------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The tiny study run once with 1 worker and once with 2."""
    out = {}
    spec = parse_spec(spec_text())
    for w in (1, 2):
        d = tmp_path_factory.mktemp(f"w{w}") / "study"
        out[w] = (d, run_study(spec, d, workers=w))
    return spec, out


def test_same_bits_with_one_or_two_workers(finished):
    spec, runs = finished
    (d1, s1), (d2, s2) = runs[1], runs[2]
    assert s1["complete"] and s2["complete"] and s1["workers"] == 1 and s2["workers"] == 2
    assert s1["tasks_run"] == s2["tasks_run"] == spec.n_tasks
    results_equal(d1, d2)


def test_store_layout_and_open_results(finished):
    spec, runs = finished
    d = runs[2][0]
    res = open_results(d)
    assert res.complete
    assert len(res.summary) == 2 * 6 and list(res.summary["config"].unique()) == [0, 1]
    assert set(res.summary["verdict"]) <= set(VERDICTS)
    assert set(res.summary["outcome"]) <= set(OUTCOMES.values()) and set(res.summary["rules"]) == {RULES}
    # per-replica writes per block (the Λ estimates): they add up to the writes
    assert [int(sum(bc)) for bc in res.summary["block_counts"]] == res.summary["writes"].tolist()
    m = res.trajectories["metrics"]
    assert m.dtype == np.float32 and m.shape == (2, 6, 21, 10)
    assert list(res.trajectories["label"].values) == ["random", "periodic"]
    t = m.sel(metric="t").values
    assert np.all(np.diff(t, axis=-1) >= 0) and np.all(t[..., -1] > t[..., 1])  # ODE time grows
    np.testing.assert_allclose(
        m.sel(metric="f_gap").isel(checkpoint=-1).values.ravel(),
        res.summary["f_gap_final"].to_numpy(),
        rtol=1e-6,
    )
    man = res.manifest
    assert man["versions"]["dask"] and man["versions"]["numba"] and man["sessions"][0]["jit_s"]["per_worker"]
    sched = res.schedules["0"]
    assert sum(sched["delay_hist"]) == 6 * 20_000 and sched["replica0"]["n_events"] == 20_000
    # ordinary tools read the files
    assert pd.read_parquet(d / "summary.parquet").shape[0] == 12
    assert (d / "spec.toml").read_text() == spec.text


def test_second_run_does_nothing(finished):
    spec, runs = finished
    d = runs[1][0]
    before = {p: p.stat().st_mtime_ns for p in d.rglob("*") if p.is_file() and p.name != ".lock"}
    again = run_study(spec, d, workers=1)
    assert again["nothing_to_do"] and again["tasks_run"] == 0
    after = {p: p.stat().st_mtime_ns for p in d.rglob("*") if p.is_file() and p.name != ".lock"}
    assert before == after


def test_another_spec_into_the_same_directory_is_refused(finished):
    d = finished[1][1][0]
    with pytest.raises(ConfigError, match="holds a different study"):
        run_study(parse_spec(spec_text().replace("seed = 3", "seed = 9")), d, workers=1)


def test_report_pairs_replicas_and_adjusts(finished):
    d = finished[1][2][0]
    rep = report(d)
    assert [c["label"] for c in rep["configs"]] == ["random", "periodic"]
    c0 = rep["configs"][0]
    fr = c0["verdicts"]["fractions"]
    assert sum(v["k"] for v in fr.values()) == 6
    assert all(0 <= v["lo"] <= v["p"] <= v["hi"] <= 1 for v in fr.values())
    assert set(c0["final"]["dist_rel_final"]) == {"n", "q10", "q50", "q90"}
    assert c0["time_to_eps"]["metric"] == "dist_rel"
    assert rep["verdict_rules"] == [RULES]
    assert sum(v["k"] for v in c0["verdicts"]["outcomes"].values()) == 6
    cmp = rep["comparisons"]
    assert [c["metric"] for c in cmp] == ["converged", "f_gap_final", "time_to_eps"]
    assert all(c["pairs"] == 6 for c in cmp)
    ps = [c["pvalue"] for c in cmp if c["pvalue"] is not None]
    holm = [c["pvalue_holm"] for c in cmp if c["pvalue"] is not None]
    assert all(h >= p for p, h in zip(ps, holm, strict=True))
    json.dumps(rep, allow_nan=False)  # strict JSON


def _flaky_task(*args, **kwargs):
    """Fails (raises) on the first attempt of each task; later attempts run the real task."""
    marker = Path(os.environ["ASYNCCONV_TEST_MARKERS"]) / f"{args[0]['id']}-{args[1]}"
    if not marker.exists():
        marker.touch()
        raise RuntimeError("transient failure")
    return run_task(*args, **kwargs)


def _always_fails_for_r0_2(*args, **kwargs):
    if args[1] == 2:
        raise RuntimeError("this batch always fails")
    return run_task(*args, **kwargs)


def test_retries_and_recorded_failures(tmp_path, monkeypatch, finished):
    """Errors are retried; a task that keeps failing is recorded and the study goes on; resume
    then finishes it to the same bits."""
    from distributed import LocalCluster

    monkeypatch.setenv("ASYNCCONV_TEST_MARKERS", str(tmp_path))
    spec = parse_spec(spec_text())
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        monkeypatch.setattr(runner_mod, "run_task", _flaky_task)
        s = run_study(spec, tmp_path / "a", scheduler=cluster.scheduler_address)
        assert s["complete"] and s["tasks_failed"] == 0
        monkeypatch.setattr(runner_mod, "run_task", _always_fails_for_r0_2)
        s = run_study(spec, tmp_path / "b", scheduler=cluster.scheduler_address, retries=1)
        assert not s["complete"] and s["tasks_failed"] == 2 and s["tasks_run"] == spec.n_tasks - 2
        st = study_status(tmp_path / "b")
        assert st["tasks"]["failed"] == 2 and st["replicas"]["remaining"] == 4
        assert "always fails" in st["failures"][task_name(0, 2)]
        assert not (tmp_path / "b" / "summary.parquet").exists()
        assert len(open_results(tmp_path / "b").summary) == 8  # the finished batches are readable
        monkeypatch.setattr(runner_mod, "run_task", run_task)
        s = run_study(spec, tmp_path / "b", scheduler=cluster.scheduler_address)
        assert s["complete"] and s["tasks_run"] == 2
    assert study_status(tmp_path / "b")["tasks"]["failed"] == 0
    results_equal(tmp_path / "a", finished[1][1][0])
    results_equal(tmp_path / "b", finished[1][1][0])


def _dies_once(*args, **kwargs):
    """Kills its worker process the first time it runs (a lost worker)."""
    marker = Path(os.environ["ASYNCCONV_TEST_MARKERS"]) / "died"
    if not marker.exists():
        marker.touch()
        os._exit(1)
    return run_task(*args, **kwargs)


def test_a_lost_worker_is_not_fatal(tmp_path, monkeypatch, finished):
    monkeypatch.setenv("ASYNCCONV_TEST_MARKERS", str(tmp_path))
    monkeypatch.setattr(runner_mod, "run_task", _dies_once)
    spec = parse_spec(spec_text())
    s = run_study(spec, tmp_path / "s", workers=2)
    assert (tmp_path / "died").exists()
    assert s["complete"] and s["tasks_failed"] == 0
    results_equal(tmp_path / "s", finished[1][1][0])


def test_kill_9_then_resume_gives_the_same_bits(tmp_path, finished):
    """Interrupt a study with SIGKILL (driver, cluster and workers) mid-run, resume it, and compare
    with an uninterrupted run: no batch lost, none duplicated, same bits."""
    text = spec_text(replicas=12, events=150_000, batch=1)
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(text)
    d = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "asyncconv", "study", "run", str(spec_file), "-o", str(d), "-q", "--workers", "2"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((d / "parts").glob("*.json"))) >= 4 if (d / "parts").is_dir() else False:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    spec = parse_spec(text)
    done = len(Store(d).done())
    assert 4 <= done < spec.n_tasks, f"the kill landed after {done} of {spec.n_tasks} tasks"
    assert not (d / "summary.parquet").exists()
    assert main_exit(["study", "status", str(d)]) == 0
    s = run_study(Store(d).spec(), d, workers=1)
    assert s["tasks_run"] == spec.n_tasks - done and s["complete"]
    ref = tmp_path / "ref"
    run_study(spec, ref, workers=2)
    results_equal(d, ref)
    summ = pd.read_parquet(d / "summary.parquet")
    assert len(summ) == 24 and not summ.duplicated(["config", "replica"]).any()


# --- CLI -----------------------------------------------------------------------------------------


def main_exit(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def test_cli_run_status_report_and_errors(tmp_path, capsys):
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(spec_text(replicas=2, events=5000))
    d = tmp_path / "out"
    assert main_exit(["study", "run", str(spec_file), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "random" in out and "periodic" in out and "estimated" in out
    assert main_exit(["study", "run", str(spec_file), "-o", str(d), "--json", "--workers", "1"]) == 0
    sess = json.loads(capsys.readouterr().out)
    assert sess["complete"] and sess["tasks_run"] == 2 and 0 < sess["kernel_share"] <= 1
    assert main_exit(["study", "run", str(spec_file), "-o", str(d)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main_exit(["study", "status", str(d), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["complete"] and st["replicas"]["done"] == 4
    assert main_exit(["study", "report", str(d)]) == 0
    out = capsys.readouterr().out
    assert "converged" in out and "paired comparisons" in out
    assert main_exit(["study", "report", str(d), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["configs"][1]["label"] == "periodic"
    # bad input: one line, exit 2, the finished study untouched
    bad = tmp_path / "bad.toml"
    for text, needle in (
        (spec_text().replace("replicas = 6", "replicas = -3"), "study.replicas"),
        (spec_text().replace('name = "trap"', 'name = "trapp"'), "problem.name"),
        ("[study\n", "not valid TOML"),
        (spec_text() + '\n[grid]\n"iteration.p" = []\n', "grid.iteration.p"),
    ):
        bad.write_text(text)
        assert main_exit(["study", "run", str(bad), "-o", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and needle in err and "\n" not in err
    assert main_exit(["study", "run", str(tmp_path / "missing.toml")]) == 2
    assert "file not found" in capsys.readouterr().err
    bad.write_text(spec_text().replace("seed = 3", "seed = 5"))
    assert main_exit(["study", "run", str(bad), "-o", str(d)]) == 2
    assert "holds a different study" in capsys.readouterr().err
    assert main_exit(["study", "status", str(tmp_path)]) == 2
    assert "not a study directory" in capsys.readouterr().err
    assert main_exit(["study", "run", str(spec_file), "-o", str(tmp_path / "y"), "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert pd.read_parquet(d / "summary.parquet").shape[0] == 4


def test_probe_iterates_are_stored_when_asked(tmp_path):
    """``probe_x = true``: the iterates at the probes go to trajectories.zarr (phase portraits)."""
    spec = parse_spec(
        spec_text(replicas=2, events=3000).replace("probes = 16", "probes = 16\nprobe_x = true")
    )
    store = Store(tmp_path / "s")
    store.create(spec)
    kw = {"seed": spec.seed, "checkpoints": 20, "probes": 16, "tail": None, "thresholds": spec.thresholds}
    res = run_task(spec.configs[1].to_dict(), 0, 2, **kw, probe_x=True)
    assert res.probe_x.shape == (2, 16, 2) and res.probe_x.dtype == np.float32
    store.write_task(spec, res)
    ds = open_results(tmp_path / "s").trajectories
    px = ds["probe_x"].isel(config=1).values
    np.testing.assert_array_equal(px, res.probe_x)
    assert np.isnan(ds["probe_x"].isel(config=0).values).all()
    # each stored iterate is where the probe's f was taken
    from asyncconv.problems import make_problem

    trap = make_problem("trap")
    f = [[trap.value(px[r, q].astype(np.float64)) for q in range(16)] for r in range(2)]
    np.testing.assert_allclose(f, res.probes[:, :, 2], rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match=r"study\.probe_x"):
        parse_spec(spec_text().replace("probes = 16", "probes = 16\nprobe_x = 1"))


def test_named_scales_override_the_sizes(tmp_path):
    text = spec_text(replicas=6, events=20_000, batch=4) + "\n[scales.quick]\nreplicas = 2\nevents = 1000\n"
    full, quick = parse_spec(text), parse_spec(text, scale="quick")
    assert (full.replicas, full.batch, full.configs[0].events) == (6, 4, 20_000)
    assert (quick.replicas, quick.batch, quick.configs[0].events, quick.scale) == (2, 2, 1000, "quick")
    assert quick.fingerprint() != full.fingerprint()
    with pytest.raises(ConfigError, match="not defined") as e:
        parse_spec(text, scale="huge")
    assert e.value.field == "--scale"
    with pytest.raises(ConfigError) as e:
        parse_spec(text + "horizon = 3\n")
    assert e.value.field == "scales.quick.horizon"
    # the store remembers the scale: resume reruns the same study
    store = Store(tmp_path / "q")
    store.create(quick)
    assert store.spec().fingerprint() == quick.fingerprint()


def test_incomplete_study_pools_the_finished_schedules(tmp_path, finished):
    """Before consolidation, open_results pools the delay histograms of the finished tasks."""
    import shutil

    src = finished[1][1][0]
    d = tmp_path / "partial"
    shutil.copytree(src, d)
    for f in ("summary.parquet", "schedules.json", "complete.json"):
        (d / f).unlink()
    for ext in ("json", "parquet"):
        (d / "parts" / f"{task_name(0, 2)}.{ext}").unlink()
    res, full = open_results(d), open_results(src)
    assert not res.complete and len(res.summary) == 10
    s0, f0 = res.schedules["0"], full.schedules["0"]
    assert s0["replicas"] == 4 and sum(s0["delay_hist"]) == 4 * 20_000
    np.testing.assert_array_equal(res.schedules["1"]["delay_hist"], full.schedules["1"]["delay_hist"])
    assert res.schedules["1"]["replicas"] == 6
    assert s0["replica0"]["delay"]["mean"] == f0["replica0"]["delay"]["mean"]


def test_converged_runs_have_reached_eps(finished):
    """One distance and one eps: every converged replica's time-to-eps is observed (issue 13)."""
    d = finished[1][2][0]
    res = open_results(d)
    from asyncconv.study.report import time_to_eps

    for c in res.spec["configs"]:
        rows = res.summary[res.summary["config"] == c["id"]].sort_values("replica")
        _, observed, metric = time_to_eps(res, c["id"], res.spec["thresholds"]["eps"])
        assert metric == "dist_rel"
        assert observed[(rows["verdict"] == "converged").to_numpy()].all()
        ev = [json.loads(e) for e in rows["evidence"]]
        assert all(e["rule"] in ("a", "b", "c", "d", None) for e in ev)


def test_store_of_earlier_format_reads_but_does_not_resume(finished, tmp_path):
    """A store written before verdict rules 2 (format 1: no probe distances, no outcome/evidence
    columns) is still reported and plotted; resuming it is refused with one line."""
    import shutil

    src = finished[1][2][0]
    old = tmp_path / "old"
    shutil.copytree(src, old)
    man = json.loads((old / "manifest.json").read_text())
    man["format"] = 1
    (old / "manifest.json").write_text(json.dumps(man))
    summ = pd.read_parquet(old / "summary.parquet")
    summ = summ.drop(columns=["outcome", "rules", "evidence", "dist_rel_final", "dist_scale"])
    summ["verdict"] = summ["verdict"].replace({"drifting": "undecided"})
    summ.to_parquet(old / "summary.parquet")
    rep = report(old)
    assert rep["verdict_rules"] == [1]
    assert rep["configs"][0]["time_to_eps"]["metric"] == "dist"  # the scale was not recorded
    assert sum(v["k"] for v in rep["configs"][0]["verdicts"]["outcomes"].values()) == 6
    with pytest.raises(ConfigError, match=r"store format 1.*not resumed"):
        Store(old).create(Store(old).spec())
    assert main(["study", "report", str(old)]) in (0, None)
