"""Reliability of studies (issue 15): a store that checks what it reads and repairs what is
damaged, inputs tied to the study by their checksums, a spec validated before anything is created,
and exit statuses that say when a run is incomplete.

The damage cases run on copies of one finished store. Repair is checked end to end: the store is
reopened for a run (``Store.create``, which verifies and removes what is damaged), the missing
tasks are recomputed with :func:`run_task` (in process: the runner's Dask layer is covered by
``tests/test_study.py``) and consolidated, and the result is compared bit for bit with the
undamaged store. One case goes through the real ``study resume`` command.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr

from asyncconv.cli import main
from asyncconv.config import ConfigError
from asyncconv.schedule import ScheduleModel, draw_schedule
from asyncconv.study import open_results, parse_spec, run_study
from asyncconv.study.runner import _task_kwargs, check_scheduler
from asyncconv.study.store import Store, task_name
from asyncconv.study.tasks import run_task
from asyncconv.study.verify import verify

SPEC = """
[study]
name = "tiny"
seed = 5
replicas = 4
events = 4000
batch = 2
checkpoints = 12
probes = 8

[problem]
name = "trap"

[[schedule]]
label = "random"
n_workers = 2
blocks = {{ n_blocks = 2, ownership = "partitioned" }}
timing = {{ compute = {{ law = "exponential", mean = 1.0 }} }}

[[schedule]]
label = "other"
n_workers = 2
blocks = {{ n_blocks = 2, ownership = "partitioned" }}
{second}

[iteration]
momentum = "heavy"
m = 0.5
g0 = 0.05
p = 0.75
factor_low = 1.0
noise = "none"
"""
PERIODIC = "periodic = { delay = 1 }"


def _spec(second: str = PERIODIC, base: Path | None = None):
    return parse_spec(SPEC.format(second=second), base_dir=base)


def _finish(spec, d: Path) -> list[str]:
    """Reopen ``d`` for a run (verify, remove the damage), recompute what is missing in process,
    consolidate. Returns the problems the repair found."""
    store = Store(d)
    problems = store.create(spec)
    done = store.done()
    kw = _task_kwargs(spec)
    configs = {c.id: c.to_dict() for c in spec.configs}
    for c, r0, r1 in spec.tasks():
        if task_name(c, r0) not in done:
            store.write_task(spec, run_task(configs[c], r0, r1, **kw))
    store.consolidate(spec)
    return problems


def _same(a: Path, b: Path) -> None:
    """Bit-identical results: summary table, every trajectory value, pooled schedules."""
    pd.testing.assert_frame_equal(
        pd.read_parquet(a / "summary.parquet"), pd.read_parquet(b / "summary.parquet"), check_exact=True
    )
    ga, gb = (
        zarr.open_group(str(a / "trajectories.zarr"), mode="r"),
        zarr.open_group(str(b / "trajectories.zarr"), mode="r"),
    )
    for name in ("metrics", "probes"):
        np.testing.assert_array_equal(ga[name][:], gb[name][:])
    assert (a / "schedules.json").read_bytes() == (b / "schedules.json").read_bytes()
    assert (a / "complete.json").read_bytes() == (b / "complete.json").read_bytes()


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[object, Path]:
    spec = _spec()
    d = tmp_path_factory.mktemp("base") / "store"
    Store(d).create(spec)
    _finish(spec, d)
    assert verify(d).ok
    return spec, d


def _truncate(p: Path, keep: int | None = None) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2 if keep is None else keep])


def _garble(p: Path) -> None:
    data = bytearray(p.read_bytes())
    for i in range(min(64, len(data) // 4), min(len(data), 1064)):
        data[i] ^= 0x5A
    p.write_bytes(bytes(data))


def _half_summary(d: Path) -> None:
    s = pd.read_parquet(d / "summary.parquet")
    s[s["config"] == 0].to_parquet(d / "summary.parquet")


def _chunk(d: Path, arr: str, c: int, j: int) -> Path:
    return d / "trajectories.zarr" / arr / "c" / str(c) / str(j) / "0" / "0"


def _edit_spec(d: Path) -> None:
    p = d / "spec.toml"
    p.write_text(p.read_text().replace("replicas = 4", "replicas = 8"))


DAMAGE = {
    "summary truncated": (lambda d: _truncate(d / "summary.parquet", 200), "summary.parquet is damaged"),
    "summary garbled": (lambda d: _garble(d / "summary.parquet"), "summary.parquet is damaged"),
    "summary half the rows": (_half_summary, "summary.parquet is damaged"),
    "metrics chunk deleted": (lambda d: _chunk(d, "metrics", 0, 1).unlink(), "trajectories.zarr/metrics"),
    "metrics chunk truncated": (lambda d: _truncate(_chunk(d, "metrics", 0, 0)), "trajectories.zarr/metrics"),
    "probes chunk deleted": (lambda d: _chunk(d, "probes", 1, 0).unlink(), "trajectories.zarr/probes"),
    "study.json truncated": (lambda d: _truncate(d / "study.json", 100), "study.json is not valid JSON"),
    "manifest deleted": (lambda d: (d / "manifest.json").unlink(), "manifest.json is missing"),
    "manifest garbled": (lambda d: (d / "manifest.json").write_text("{not json"), "manifest.json is not valid"),
    "parts deleted": (lambda d: shutil.rmtree(d / "parts"), "parts/ is missing"),
    "spec.toml edited": (_edit_spec, "spec.toml was edited or damaged"),
    "part truncated": (lambda d: _truncate(d / "parts" / "c0000-r000000.parquet"), "c0000-r000000.parquet is damaged"),
    "marker deleted": (lambda d: (d / "parts" / "c0000-r000002.json").unlink(), "tasks are missing"),
    "marker garbled": (lambda d: (d / "parts" / "c0001-r000002.json").write_text("["), "c0001-r000002.json"),
    "schedules.json deleted": (lambda d: (d / "schedules.json").unlink(), "schedules.json is missing"),
    "complete.json garbled": (lambda d: (d / "complete.json").write_text("{"), "complete.json"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_is_named_then_repaired_bit_identically(case, base, tmp_path):
    spec, src = base
    d = tmp_path / "store"
    shutil.copytree(src, d)
    damage, words = DAMAGE[case]
    damage(d)
    chk = verify(d)
    assert not chk.ok and chk.fatal is None
    assert any(words in p for p in chk.problems), chk.problems
    with pytest.raises(ConfigError) as err:  # every reader refuses with one line naming the damage
        open_results(d)
    assert words.split(" is ")[0].split(" are ")[0] in str(err.value) and "\n" not in str(err.value)
    problems = _finish(spec, d)
    assert problems
    assert verify(d).ok
    _same(src, d)


def test_status_report_and_verify_commands_name_the_damage(base, tmp_path, capsys):
    _, src = base
    d = tmp_path / "store"
    shutil.copytree(src, d)
    _truncate(_chunk(d, "metrics", 1, 1))
    for argv in (["study", "verify", str(d)], ["study", "status", str(d)], ["study", "report", str(d)],
                 ["plot", str(d), "-o", str(tmp_path / "fig")]):  # fmt: skip
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "trajectories.zarr/metrics of task c0001-r000002" in err[0], (argv, err)
    assert main(["study", "verify", str(src)]) in (None, 0)
    assert "ok (4 tasks verified" in capsys.readouterr().out


@pytest.mark.slow
def test_resume_command_repairs(base, tmp_path):
    """The real command (Dask cluster included) on a store that lost a chunk and its summary."""
    _, src = base
    d = tmp_path / "store"
    shutil.copytree(src, d)
    _chunk(d, "probes", 0, 0).unlink()
    _truncate(d / "summary.parquet")
    assert main(["study", "resume", str(d), "-w", "1", "-q"]) in (None, 0)
    _same(src, d)


# --- inputs tied to the study ------------------------------------------------------------------


def _trace(path: Path, seed: int, n: int = 6000) -> Path:
    model = ScheduleModel.from_dict(
        {
            "n_workers": 2,
            "blocks": {"n_blocks": 2},
            "timing": {"compute": {"law": "exponential", "mean": 1.0}},
        }
    )
    return draw_schedule(model, n, seed).save(path)


def test_trace_is_resolved_against_the_spec_and_tied_by_its_checksum(tmp_path, monkeypatch):
    _trace(tmp_path / "trace.npz", 1)
    second = 'trace = { path = "trace.npz" }'
    monkeypatch.chdir(tmp_path.parent)  # not the spec's folder
    spec = _spec(second, base=tmp_path)
    tr = spec.configs[1].schedule["trace"]
    assert tr["path"] == str((tmp_path / "trace.npz").resolve()) and len(tr["digest"]) == 64
    d = tmp_path / "store"
    Store(d).create(spec)
    (d / "spec.toml").write_text(SPEC.format(second=second))
    _trace(tmp_path / "trace.npz", 2)  # replaced by another valid trace
    with pytest.raises(ConfigError) as err:
        Store(d).spec(repair=True)
    assert err.value.field == "schedule.trace.path" and "changed since the study" in err.value.message


@pytest.mark.parametrize(
    "second, words",
    [
        ('trace = { path = "missing.npz" }', "file not found"),
        ('trace = { path = "short.npz" }', "has only 1000 events"),
        ('trace = { path = "text.npz" }', "not an asyncconv schedule"),
    ],
)
def test_bad_traces_are_refused_before_anything_exists(second, words, tmp_path):
    _trace(tmp_path / "short.npz", 1, n=1000)
    (tmp_path / "text.npz").write_text("not a schedule\n")
    with pytest.raises(ConfigError) as err:
        _spec(second, base=tmp_path)
    assert err.value.field == "schedule.trace.path" and words in err.value.message
    assert not (tmp_path / "store").exists()


def test_spec_is_validated_before_the_store(tmp_path, capsys):
    bad = SPEC.format(second=PERIODIC).replace('name = "trap"', 'name = "trap"\nx0 = [0.5, nan]')
    (tmp_path / "x0.toml").write_text(bad)
    name = SPEC.format(second=PERIODIC).replace('name = "tiny"', 'name = "../escape"')
    (tmp_path / "name.toml").write_text(name)
    for spec, field in (("x0.toml", "problem.x0"), ("name.toml", "study.name")):
        with pytest.raises(SystemExit) as e:
            main(["study", "run", str(tmp_path / spec), "-o", str(tmp_path / "store")])
        assert e.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {field}:"), err
        assert not (tmp_path / "store").exists()
    (tmp_path / "ok.toml").write_text(SPEC.format(second=PERIODIC))
    with pytest.raises(SystemExit) as e:
        main(
            [
                "study",
                "run",
                str(tmp_path / "ok.toml"),
                "-o",
                str(tmp_path / "store"),
                "--scheduler",
                "not a url",
            ]
        )
    assert e.value.code == 2 and "error: --scheduler:" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()
    check_scheduler("tcp://127.0.0.1:8786")
    check_scheduler("localhost:8786")


def test_interrupted_creation_is_started_afresh(base, tmp_path):
    spec, src = base
    d = tmp_path / "store"
    (d / "parts").mkdir(parents=True)
    (d / "trajectories.zarr").mkdir()
    with pytest.raises(ConfigError, match="creation was interrupted"):
        Store(d).spec(repair=True)
    _finish(spec, d)
    _same(src, d)


def test_json_run_exits_nonzero_when_incomplete(tmp_path, monkeypatch, capsys):
    import asyncconv.study as study_pkg

    monkeypatch.setattr(
        study_pkg, "run_study", lambda *a, **k: {"complete": False, "tasks_run": 1, "tasks_failed": 3}
    )
    (tmp_path / "ok.toml").write_text(SPEC.format(second=PERIODIC))
    with pytest.raises(SystemExit) as e:
        main(["study", "run", str(tmp_path / "ok.toml"), "-o", str(tmp_path / "s"), "--json"])
    assert e.value.code == 1
    assert json.loads(capsys.readouterr().out)["complete"] is False


def test_format_of_a_fresh_store_records_its_checksums(base):
    _, d = base
    man = json.loads((d / "manifest.json").read_text())
    info = json.loads((d / "study.json").read_text())
    assert (
        man["format"] == 2
        and man["spec_sha256"] == info["spec_sha256"]
        and man["fingerprint"] == info["fingerprint"]
    )
    marker = json.loads((d / "parts" / "c0000-r000000.json").read_text())
    assert set(marker["sha256"]) == {"parquet", "metrics", "probes"}
    assert set(json.loads((d / "complete.json").read_text())) == {
        "summary.parquet",
        "schedules.json",
        "tasks",
    }
    assert run_study is not None  # the runner writes the same layout (tests/test_study.py)


# --- limits --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, field",
    [
        (["simulate", "--problem", "trap", "--replicas", "1000000000"], "--replicas"),
        (["simulate", "--problem", "trap", "--workers", "100000000"], "--workers"),
        (["simulate", "--problem", "trap", "--events", "1500000000", "--max-memory", "1"], "--events"),
    ],
)
def test_oversize_simulate_is_refused_at_once(argv, field, capsys):
    import time

    t0 = time.perf_counter()
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and time.perf_counter() - t0 < 10
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {field}:"), err


def test_oversize_study_is_refused_before_the_store(tmp_path, capsys):
    workers = SPEC.format(second=PERIODIC).replace("n_workers = 2\nblocks = { n_blocks = 2, ownership = \"partitioned\" }\ntiming",
                                                   "n_workers = 100000000\nblocks = { n_blocks = 2, ownership = \"shared\" }\ntiming")  # fmt: skip
    events = SPEC.format(second=PERIODIC).replace("events = 4000", "events = 2000000000")
    for text, field in ((workers, "schedule.n_workers"), (events, "study.events")):
        (tmp_path / "s.toml").write_text(text)
        for extra in (["--dry-run"], []):
            with pytest.raises(SystemExit) as e:
                main(["study", "run", str(tmp_path / "s.toml"), "-o", str(tmp_path / "store"), *extra])
            assert e.value.code == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and err[0].startswith(f"error: {field}:"), err
            assert not (tmp_path / "store").exists()
