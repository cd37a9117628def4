"""``asyncconv train`` end to end: JSON report, recorded schedule (stats, replay), CIFAR from a
local directory, and bad flags as one line with exit status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from asyncconv.schedule import load_schedule  # noqa: E402
from asyncconv.torch.data import write_cifar_binary  # noqa: E402

try:  # the CLI runner of test_cli (tests/ is on sys.path under pytest's rootdir layout)
    from test_cli import run
except ImportError:  # pragma: no cover - run as a package
    from tests.test_cli import run

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]


MLP = ("--model", "mlp", "--epochs", "2", "--batch", "32")


def test_train_json_record_stats_and_replay(tmp_path, capsys):
    f = tmp_path / "passm.npz"
    code, out, err = run(
        capsys, "train", "--method", "passm", "-P", "2", *MLP, "--json", "--record-schedule", f
    )
    assert code == 0, err
    rep = json.loads(out)
    assert rep["config"]["method"] == "passm" and rep["writes"] == 2 * 2 * (1437 // 32 // 2)
    assert [e["epoch"] for e in rep["epochs"]] == [0, 1, 2]
    assert rep["epochs"][-1]["test_acc"] > 0.75
    assert rep["schedule"]["n_workers"] == 2 and rep["schedule_file"] == str(f)
    sched = load_schedule(f)
    assert sched.n_events == rep["writes"]
    code, out, err = run(capsys, "schedule", "stats", f, "--json")
    assert code == 0, err
    assert json.loads(out)["n_events"] == rep["writes"]
    code, out, err = run(capsys, "train", "--replay", f, *MLP, "--json", "-P", "2")
    assert code == 0, err
    rr = json.loads(out)
    assert rr["writes"] == rep["writes"] and len(rr["epochs"]) == 3
    assert rr["epochs"][-1]["test_acc"] > 0.75


def test_train_table_and_saved_model(tmp_path, capsys):
    m = tmp_path / "m.pt"
    code, out, err = run(capsys, "train", "--method", "sgd", "-P", "1", *MLP, "-q", "--save-model", m)
    assert code == 0, err
    assert "test acc" in out and "training" in out and "writes" in out
    state = torch.load(m)
    assert "0.weight" not in state and "1.weight" in state  # the MLP's first layer is a Flatten


def test_train_on_cifar_binaries(tmp_path, capsys):
    d = tmp_path / "cifar"
    d.mkdir()
    rng = np.random.default_rng(1)
    for name, n in (("data_batch_1.bin", 32), ("test_batch.bin", 16)):
        write_cifar_binary(d / name, rng.integers(0, 256, (n, 3, 32, 32)), rng.integers(0, 10, n))
    code, out, err = run(capsys, "train", "--method", "sgd", "-P", "1", "--model", "cnn", "--data", "cifar10",
                         "--data-dir", d, "--epochs", "1", "--batch", "8", "--json")  # fmt: skip
    assert code == 0, err
    rep = json.loads(out)
    assert rep["writes"] == 4 and len(rep["epochs"]) == 2


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--method", "adam"], "--method"),
        (["-P", "0"], "--workers"),
        (["--method", "sgd", "-P", "2"], "--workers"),
        (["--epochs", "0"], "--epochs"),
        (["--lr", "-1"], "--lr"),
        (["--momentum", "1.5"], "--momentum"),
        (["--data", "cifar10", "--data-dir", "missing-dir"], "--data-dir"),
        (["--data", "cifar100"], "--data-dir"),
        (["--replay", "missing.npz"], "--replay"),
        (["--model", "vgg"], "--model"),
        (["--epoch-scope", "global"], "--epoch-scope"),
        (["--method", "ddp", "-P", "2", "--batch", "33"], "--batch"),
        (["--device", "cuda"], "--device"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(tmp_path, capsys, monkeypatch, args, needle):
    if args == ["--device", "cuda"] and torch.cuda.is_available():
        pytest.skip("a CUDA device exists")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "train", *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
    assert "Traceback" not in err + out
