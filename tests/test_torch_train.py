"""Real asynchronous training: every method trains the MLP on digits, recorded traces validate and
replay, ddp equals sgd at the same global batch, PASSM+ switches, data and models, several hosts."""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from asyncconv.config import ConfigError  # noqa: E402
from asyncconv.schedule import load_schedule  # noqa: E402
from asyncconv.sim import Iteration  # noqa: E402
from asyncconv.torch.data import load_data, write_cifar_binary  # noqa: E402
from asyncconv.torch.models import MODELS, build_model  # noqa: E402
from asyncconv.torch.replay import replay_module  # noqa: E402
from asyncconv.torch.train import TrainConfig, TrainResult, evaluate, train  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]

#: every method reaches this test accuracy on digits with the MLP in 3 epochs (sgd reaches ~0.96)
ACCURACY = 0.85
SHORT = {"model": "mlp", "data": "digits", "epochs": 3, "batch": 32, "lr": 0.05, "momentum": 0.9}


@cache
def _run(method: str, **kw) -> TrainResult:
    workers = 1 if method == "sgd" else 2
    return train(TrainConfig.from_dict({**SHORT, "method": method, "workers": workers, **kw}))


@pytest.mark.parametrize("method", ["passm", "passm+", "assm", "hogwild", "sgd", "ddp"])
def test_each_method_trains_the_mlp_on_digits(method):
    r = _run(method)
    per_epoch = 1437 // 32
    assert (
        r.writes
        == per_epoch // (1 if method in ("sgd", "ddp") else 2) * (1 if method in ("sgd", "ddp") else 2) * 3
    )
    assert len(r.epochs()) == 4 and r.epochs()[0]["writes"] == 0
    assert r.epochs()[-1]["test_acc"] >= ACCURACY, r.epochs()
    assert r.epochs()[-1]["train_loss"] < r.epochs()[0]["train_loss"] / 3
    assert 0 < r.wall_s < 60 and r.setup_s >= 0
    s = r.schedule.validate()
    assert s.n_events == r.writes
    times = [e["time_s"] for e in r.evals]
    assert times == sorted(times)
    # the state returned is the final model
    net = build_model("mlp", (1, 8, 8), 10)
    net.load_state_dict(r.state)
    data = load_data("digits", seed=0)
    assert evaluate(net, data.X_test, data.y_test)[1] == pytest.approx(r.evals[-1]["test_acc"])


def test_recorded_passm_trace_validates_and_replays(tmp_path):
    r = _run("passm")
    s = r.schedule
    assert s.n_workers == 2 and s.n_blocks == 2
    assert np.array_equal(s.owners, np.eye(2, dtype=bool))
    assert np.array_equal(s.block, s.writer)  # each process writes its own group
    assert (s.read_lo <= s.read_hi).all() and (s.read_hi <= np.arange(s.n_events)).all()
    v = s.read_versions()
    assert ((v >= s.read_lo[:, None]) & (v <= s.read_hi[:, None])).all()
    path = s.save(tmp_path / "trace.npz")
    back = load_schedule(path)
    assert back.same_events(s)
    st = back.stats()
    assert st["n_events"] == s.n_events
    # the layout is the balanced split of the model into one group per process
    assert r.layout.n_blocks == 2 and r.layout.names[0] == "1.weight"
    data = load_data("digits", seed=0)
    net = build_model("mlp", data.input_shape, data.n_classes, seed=0)
    it = Iteration(momentum="heavy", m=0.9, g0=0.05, clock="constant", factor_low=1.0, noise="none", batch=32)
    res = replay_module(net, back, data.X_train, data.y_train, it, seed=0)
    assert res.block_counts.tolist() == s.block_counts().tolist()
    assert evaluate(net, data.X_test, data.y_test)[1] >= ACCURACY


def test_ddp_equals_sgd_at_the_same_global_batch():
    """Averaging two half-batch gradients is the full-batch gradient: the curves agree to rounding."""
    a, b = _run("sgd").epochs(), _run("ddp").epochs()
    for x, y in zip(a, b, strict=True):
        assert x["writes"] == y["writes"]
        assert abs(x["train_loss"] - y["train_loss"]) < 1e-3 * max(1.0, x["train_loss"])
        assert abs(x["test_acc"] - y["test_acc"]) <= 0.01
    s = _run("ddp").schedule
    assert s.n_workers == 1 and (s.read_lo == np.arange(s.n_events)).all()  # synchronous


def test_passm_plus_switch_and_interleaving():
    """Full writes for the first half of the batch tickets, then partitioned ones, except every 4th
    write of a process; processes share the batch queue, so their write counts may differ."""
    r = _run("passm+", plus_switch=0.5, plus_every=4, epochs=2)
    s = r.schedule
    assert np.array_equal(s.owners, np.ones((2, 2), dtype=bool))
    total = s.n_events
    assert total == 2 * (1437 // 32)
    n_full = 0
    for c in range(2):
        blocks = s.block[s.writer == c]
        every = np.arange(len(blocks)) % 4 == 0
        assert (blocks[every] == -1).all()
        assert set(np.unique(blocks)) <= {-1, c}
        n_full += int((blocks[~every] == -1).sum())
    # tickets below total/2 are full; of those, the ones at a process's step % 4 == 0 are counted above
    assert (s.block == -1).sum() >= total // 2
    assert n_full <= total // 2


def test_epoch_scope_process_gives_every_process_a_full_pass():
    r = _run("passm", epoch_scope="process", epochs=1)
    s = r.schedule
    per_epoch = 1437 // 32
    assert r.writes == 2 * per_epoch and s.n_events == 2 * per_epoch
    assert [int((s.writer == c).sum()) for c in range(2)] == [per_epoch, per_epoch]
    assert r.epochs()[-1]["epoch"] == 1.0
    assert r.epochs()[-1]["test_acc"] >= 0.8


def test_per_process_step_factors():
    from asyncconv.torch.train import _factor

    cfg = TrainConfig.from_dict({"factor_low": 0.9, "seed": 4})
    f = [_factor(cfg, c) for c in range(8)]
    assert all(0.9 <= v <= 1.0 for v in f) and len(set(f)) == 8
    assert f == [_factor(cfg, c) for c in range(8)]
    assert _factor(TrainConfig(), 3) == 1.0
    # 3 epochs, as ACCURACY is defined: after 2 the asynchronous run reached 0.847 once (flaky)
    r = _run("hogwild", factor_low=0.9)
    assert r.epochs()[-1]["test_acc"] >= ACCURACY


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="method"):
        TrainConfig.from_dict({"method": "adam"})
    with pytest.raises(ConfigError, match="workers"):
        TrainConfig.from_dict({"workers": 0})
    with pytest.raises(ConfigError, match="workers"):
        TrainConfig.from_dict({"method": "sgd", "workers": 2})
    with pytest.raises(ConfigError, match="batch"):
        TrainConfig.from_dict({"method": "ddp", "workers": 2, "batch": 33})
    with pytest.raises(ConfigError, match="epoch_scope"):
        TrainConfig.from_dict({"epoch_scope": "global"})
    with pytest.raises(ConfigError, match="factor_low"):
        TrainConfig.from_dict({"factor_low": 0.0})
    with pytest.raises(ConfigError, match="node_rank"):
        TrainConfig.from_dict({"nnodes": 2, "node_rank": 2})
    with pytest.raises(ConfigError, match="workers"):  # more groups than tensors
        train(TrainConfig.from_dict({**SHORT, "workers": 7}))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device"):
            TrainConfig.from_dict({"device": "cuda"})


def _write_cifar(root: Path, kind: str, n_train: int = 24, n_test: int = 8) -> Path:
    rng = np.random.default_rng(0)
    classes = 10 if kind == "cifar10" else 100
    d = root / ("cifar-10-batches-bin" if kind == "cifar10" else "cifar-100-binary")
    d.mkdir(parents=True)
    parts = [
        ("data_batch_1.bin", n_train // 2),
        ("data_batch_2.bin", n_train - n_train // 2),
        ("test_batch.bin", n_test),
    ]
    if kind == "cifar100":
        parts = [("train.bin", n_train), ("test.bin", n_test)]
    for name, n in parts:
        imgs = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, classes, n)
        write_cifar_binary(d / name, imgs, labels, coarse=labels // 5 if kind == "cifar100" else None)
    return root


@pytest.mark.parametrize("kind", ["cifar10", "cifar100"])
def test_cifar_binary_format(tmp_path, kind):
    root = _write_cifar(tmp_path, kind)
    data = load_data(kind, data_dir=root)
    assert data.X_train.shape == (24, 3, 32, 32) and data.X_test.shape == (8, 3, 32, 32)
    assert data.n_classes == (10 if kind == "cifar10" else 100)
    # labels and pixels are read back exactly (the fine label for CIFAR-100)
    sub = root / ("cifar-10-batches-bin" if kind == "cifar10" else "cifar-100-binary")
    raw = np.fromfile(sub / ("test_batch.bin" if kind == "cifar10" else "test.bin"), dtype=np.uint8)
    rec = raw.reshape(8, -1)
    assert data.y_test.tolist() == rec[:, 0 if kind == "cifar10" else 1].tolist()
    assert load_data(kind, data_dir=sub).X_train.shape == (24, 3, 32, 32)  # the folder itself works too
    with pytest.raises(ConfigError, match="data_dir"):
        load_data(kind, data_dir=tmp_path / "missing")
    with pytest.raises(ConfigError, match="data_dir"):
        load_data(kind)
    (sub / ("test_batch.bin" if kind == "cifar10" else "test.bin")).write_bytes(b"\x00" * 10)
    with pytest.raises(ConfigError, match="not a CIFAR binary"):
        load_data(kind, data_dir=root)


def test_data_and_models():
    d = load_data("digits", seed=1)
    assert d.X_train.shape[1:] == (1, 8, 8) and d.n_train + len(d.y_test) == 1797
    assert load_data("digits", seed=1).y_train.tolist() == d.y_train.tolist()
    s = load_data("synthetic", seed=0, n_synthetic=500)
    assert s.X_train.shape == (400, 1, 8, 8) and len(np.unique(s.y_train.numpy())) >= 5
    for name in MODELS:
        for shape in ((1, 8, 8), (3, 32, 32)):
            net = build_model(name, shape, 10, seed=3)
            assert net(torch.zeros(2, *shape)).shape == (2, 10)
            again = build_model(name, shape, 10, seed=3)
            assert all(torch.equal(a, b) for a, b in zip(net.parameters(), again.parameters(), strict=True))
    # the initialisation draws from its own generator: torch's global one is neither read nor moved
    state = torch.random.get_rng_state()
    a, b = build_model("cnn", (1, 8, 8), 10, seed=3), build_model("cnn", (1, 8, 8), 10, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert not torch.equal(a[0].weight, b[0].weight)
    bound = 1.0 / (1 * 3 * 3) ** 0.5  # default Conv2d law: U(±1/√fan_in)
    w_max = float(a[0].weight.detach().abs().max())
    assert 0.5 * bound < w_max <= bound
    r20 = build_model("resnet20", (3, 32, 32), 10)
    assert 0.26e6 < sum(p.numel() for p in r20.parameters()) < 0.3e6
    with pytest.raises(ConfigError, match="model"):
        build_model("vgg", (1, 8, 8), 10)


def test_cnn_on_synthetic_data_trains():
    data = load_data("synthetic", seed=0, n_synthetic=1000)
    r = train(TrainConfig.from_dict({"method": "sgd", "workers": 1, "model": "cnn", "data": "synthetic", "epochs": 4,
                                     "batch": 32, "lr": 0.05}), data=data)  # fmt: skip
    assert r.epochs()[-1]["train_acc"] > r.epochs()[0]["train_acc"] + 0.2


def _two_hosts(tmp_path: Path, method: str) -> list[dict]:
    """Run two `asyncconv train` hosts on localhost (gloo rendezvous on a free port); their JSON reports."""
    import json
    import socket

    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    base = [sys.executable, "-m", "asyncconv", "train", "--method", method, "-P", "1", "--model", "mlp",
            "--epochs", "2", "--batch", "32", "--nnodes", "2", "--master-port", str(port), "--average-every", "5",
            "--json"]  # fmt: skip
    procs = [
        subprocess.Popen(
            [*base, "--node-rank", str(r), "--save-model", str(tmp_path / f"m{r}.pt")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in range(2)
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    return [json.loads(o) for o, _ in outs]


def test_two_hosts_average_their_models(tmp_path):
    """Two process groups on localhost (one per host, gloo): hogwild with periodic model averaging;
    both hosts end with the same averaged model."""
    res = _two_hosts(tmp_path, "hogwild")
    assert res[0]["writes"] == res[1]["writes"] == (1437 // 32 // 2) * 2
    assert res[0]["averaged_test_acc"] == res[1]["averaged_test_acc"] >= 0.8
    m0, m1 = (torch.load(tmp_path / f"m{r}.pt") for r in range(2))
    for k in m0:
        assert torch.equal(m0[k], m1[k]), k
    data = load_data("digits", seed=0)
    net = build_model("mlp", data.input_shape, data.n_classes)
    net.load_state_dict(m0)
    assert evaluate(net, data.X_test, data.y_test)[1] == res[0]["averaged_test_acc"]


@pytest.mark.slow
def test_ddp_over_two_hosts(tmp_path):
    """ddp with one rank per host: one DDP group of two ranks; both hosts end with the same model."""
    res = _two_hosts(tmp_path, "ddp")
    assert res[0]["writes"] == res[1]["writes"] == (1437 // 32 // 2) * 2
    m0, m1 = (torch.load(tmp_path / f"m{r}.pt") for r in range(2))
    for k in m0:
        assert torch.allclose(m0[k], m1[k], atol=1e-6), k
    assert res[0]["epochs"][-1]["test_acc"] >= ACCURACY


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("method", ["passm", "hogwild", "ddp"])
def test_cuda_training(method):
    r = _run(method, device="cuda")
    assert r.epochs()[-1]["test_acc"] >= ACCURACY
    r.schedule.validate()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_replay_matches_cpu():
    from asyncconv.problems import make_problem
    from asyncconv.schedule import ScheduleModel, draw_schedule
    from asyncconv.sim import replay as nb_replay
    from asyncconv.torch.problems import torch_problem
    from asyncconv.torch.replay import replay

    p = make_problem("chained_cb3_1", n=24, seed=1)
    s = draw_schedule(
        ScheduleModel.timing_preset(n_workers=3, n_blocks=6, reads="inconsistent", read_time=0.5), 200, 2
    )
    tp = torch_problem(p, 6, device="cuda")
    it = Iteration(momentum="nesterov", m=0.9)
    x = replay(tp.params, tp.layout, tp.loss, s, it, seed=5).flat().cpu().numpy()
    ref = nb_replay(p, s, it, seed=5).x_final[0]
    assert np.abs(x - ref).max() <= 1e-10 * max(1.0, np.abs(ref).max())
