"""Torch schedule replay: equivalence with the Numba simulation (torn reads included), the counter
RNG twins, block layouts, history memory, and replay of a real network."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from asyncconv.config import ConfigError  # noqa: E402
from asyncconv.problems import make_problem  # noqa: E402
from asyncconv.rng import key_from_seed, py_stream_seed, py_uniform  # noqa: E402
from asyncconv.schedule import Schedule, ScheduleModel, draw_schedule, schedule_from_trace  # noqa: E402
from asyncconv.sim import Iteration  # noqa: E402
from asyncconv.sim import replay as nb_replay  # noqa: E402
from asyncconv.torch.blocks import balanced_split, make_layout  # noqa: E402
from asyncconv.torch.counter import batch_indices, normals, stream_seed, uniforms  # noqa: E402
from asyncconv.torch.problems import torch_problem  # noqa: E402
from asyncconv.torch.replay import replay, replay_module, step_sizes  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]


TOL = 1e-10

ITERATIONS = [
    Iteration(noise="gaussian", batch=4),
    Iteration(momentum="nesterov", m=0.9, buffers="worker", clock="global", noise="student", batch=3),
    Iteration(momentum="ema", m=0.7, clock="block", noise="none"),
    Iteration(momentum="averaging", m=0.5, clock="constant", g0=0.01, noise="none"),
    Iteration(momentum="heavy", m=0.9, g0=0.01, buffers="shared", noise_scale=0.3, factor_low=0.5),
    Iteration(momentum="none"),
]
SCHEDULES = [
    ("partitioned", "inconsistent", "block"),
    ("shared", "inconsistent", "owned"),
    ("partitioned", "consistent", "owned"),
]


def _schedule(ownership: str, reads: str, write: str, n_events: int = 250, seed: int = 2) -> Schedule:
    model = ScheduleModel.timing_preset(
        n_workers=3, n_blocks=6, ownership=ownership, reads=reads,
        read_time=0.5 if reads == "inconsistent" else 0.0, write=write,
    )  # fmt: skip
    return draw_schedule(model, n_events, seed=seed)


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(1.0, np.abs(b).max()))


def test_counter_twins_match_the_python_rng():
    key, _ = key_from_seed(11)
    for stream in range(3):
        s = stream_seed(int(key), stream)
        assert s == py_stream_seed(int(key), stream)
        ctr = np.array([0, 1, 7, 2**40 + 3])
        assert uniforms(s, ctr).tolist() == [py_uniform(s, int(c)) for c in ctr]
    z = normals(stream_seed(int(key), 0), np.arange(20_000))
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
    idx = batch_indices(int(key), 5, 9, 3, 17)
    assert idx.shape == (4, 3) and idx.min() >= 0 and idx.max() < 17
    assert np.array_equal(idx[1:], batch_indices(int(key), 6, 9, 3, 17))  # a function of (key, k) only


def test_balanced_split_is_optimal_and_contiguous():
    sizes = [100, 10, 200, 20, 5, 300, 3]
    for parts in range(1, len(sizes) + 1):
        off = balanced_split(sizes, parts)
        assert off[0] == 0 and off[-1] == len(sizes) and (np.diff(off) >= 1).all()
        worst = max(sum(sizes[off[i] : off[i + 1]]) for i in range(parts))
        # brute force over all cut sets
        from itertools import combinations

        best = min(
            max(sum(sizes[a:b]) for a, b in zip((0, *cuts), (*cuts, len(sizes)), strict=True))
            for cuts in combinations(range(1, len(sizes)), parts - 1)
        )
        assert worst == best
    with pytest.raises(ConfigError):
        make_layout([("a", 3), ("b", 4)], "balanced", 3)
    lay = make_layout([("a", 3), ("b", 4), ("c", 5)], "tensor")
    assert lay.n_blocks == 3 and lay.offsets.tolist() == [0, 3, 7, 12]


@pytest.mark.parametrize(
    "name", ["chained_lq", "chained_cb3_1", "chained_mifflin2", "l1_nonconvex_regression"]
)
def test_torch_subgradient_selection_matches_the_kernel_at_kinks(name):
    p = make_problem(name, n=10, seed=3)
    tp = torch_problem(p, 2)
    rng = np.random.default_rng(0)
    # kinks: q = 0 for chained_lq at 2^-1/2, y = 0 for mifflin2, ties of cb3 pieces at 1, x = 0 for l1
    for x in (p.x0, rng.normal(size=10), np.zeros(10), np.full(10, 2**-0.5), np.ones(10)):
        xt = torch.tensor(x, requires_grad=True)
        (g,) = torch.autograd.grad(tp.loss(list(torch.split(xt, list(tp.layout.numels))), None), xt)
        assert np.abs(g.numpy() - p.subgradient(x)).max() <= 1e-13
        assert abs(tp.value(x) - p.value(x)) <= 1e-12 * max(1.0, abs(p.value(x)))


@pytest.mark.parametrize("sched", SCHEDULES, ids=["-".join(s) for s in SCHEDULES])
@pytest.mark.parametrize(
    "name", ["chained_lq", "chained_cb3_1", "chained_mifflin2", "l1_nonconvex_regression"]
)
def test_float64_replay_matches_numba(name, sched):
    p = make_problem(name, n=24 if name.startswith("chained") else 12, seed=1)
    s = _schedule(*sched)
    tp = torch_problem(p, s.n_blocks)
    for it in ITERATIONS:
        ref = nb_replay(p, s, it, seed=5).x_final[0]
        res = replay(tp.params, tp.layout, tp.loss, s, it, seed=5, n_samples=tp.n_samples)
        assert _rel_err(res.flat().numpy(), ref) <= TOL, (name, sched, it)
        assert res.block_counts.tolist() == s.block_counts().tolist()


def test_torn_reads_and_delays_matter():
    """The equivalence is sensitive: treating torn reads as consistent, or delays as zero, changes x."""
    p = make_problem("l1_nonconvex_regression", n=12, seed=1)
    s = _schedule("partitioned", "inconsistent", "block")
    assert (s.read_hi > s.read_lo).sum() > 50
    tp = torch_problem(p, s.n_blocks)
    it = Iteration(noise="none", m=0.9, batch=4)
    x = replay(tp.params, tp.layout, tp.loss, s, it, seed=5, n_samples=tp.n_samples).flat().numpy()
    consistent = schedule_from_trace(s.writer, s.block, s.read_lo, owners=s.owners)
    synchronous = schedule_from_trace(s.writer, s.block, np.arange(s.n_events), owners=s.owners)
    for other in (consistent, synchronous):
        ref = nb_replay(p, other, it, seed=5).x_final[0]
        y = replay(tp.params, tp.layout, tp.loss, other, it, seed=5, n_samples=tp.n_samples).flat().numpy()
        assert _rel_err(y, ref) <= TOL
        assert _rel_err(x, y) > 1e-6


def test_history_memory_is_bounded_by_writes_in_flight():
    p = make_problem("chained_lq", n=24, seed=1)
    s = _schedule("partitioned", "inconsistent", "block", n_events=3000)
    tp = torch_problem(p, s.n_blocks)
    res = replay(tp.params, tp.layout, tp.loss, s, Iteration(noise="none"), seed=0)
    assert res.peak_versions <= s.n_blocks + 4 * (int(s.delay().max()) + 1)


def test_step_sizes_match_the_kernel():
    from asyncconv.schedule.blocks import ALL_OWNED  # noqa: F401
    from asyncconv.sim import _kernels
    from asyncconv.sim.simulate import _layout

    p = make_problem("chained_lq", n=24, seed=1)
    s = _schedule("partitioned", "consistent", "owned")
    key, _ = key_from_seed(3)
    bo, _cb, o0, o1 = _layout(p, s.n_blocks, s.owners, s.block, s.writer)
    for clock in ("writer", "global", "block", "constant"):
        it = Iteration(clock=clock, factor_low=0.7)
        ref = _kernels.prepare(key, s.writer, s.block, bo, o0, o1, it.factor_low, it.g0, it.p, it.nu0,
                               ("writer", "global", "block", "constant").index(clock), 5)[0]  # fmt: skip
        assert np.allclose(step_sizes(s, it, int(key)), ref, rtol=1e-15, atol=0)


def test_linear_module_replay_matches_numba():
    """``replay_module`` on an nn.Linear (bias-free) = the l1_nonconvex_regression kernel with lam = 0."""
    p = make_problem("l1_nonconvex_regression", n=8, seed=4, lam=0.0)
    data = torch.tensor(np.array(p.data))
    X, y = data[:, :8], data[:, 8]
    lin = torch.nn.Linear(8, 1, bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(np.array(p.x0))[None])
    model = ScheduleModel.timing_preset(n_workers=2, n_blocks=1, ownership="shared", reads="consistent")
    s = draw_schedule(model, 300, seed=1)
    it = Iteration(momentum="heavy", m=0.9, noise="none", batch=5)

    def loss_fn(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        r = out[:, 0] - target
        return torch.log1p(r * r).mean()

    replay_module(lin, s, X, y, it, seed=9, loss_fn=loss_fn)
    ref = nb_replay(p, s, it, seed=9).x_final[0]
    assert _rel_err(lin.weight.detach().numpy()[0], ref) <= TOL


def test_replay_trains_a_network_and_calls_back():
    from asyncconv.torch.data import load_data
    from asyncconv.torch.models import build_model

    torch.manual_seed(0)
    data = load_data("digits", seed=0)
    net = build_model("mlp", data.input_shape, data.n_classes, seed=0)
    model = ScheduleModel.timing_preset(n_workers=2, n_blocks=2, ownership="partitioned", reads="inconsistent",
                                        read_time=0.3, write="owned")  # fmt: skip
    s = draw_schedule(model, 600, seed=0)
    seen = []
    it = Iteration(
        momentum="heavy", m=0.9, g0=0.1, p=0.0, clock="constant", factor_low=1.0, noise="none", batch=32
    )
    res = replay_module(net, s, data.X_train, data.y_train, it, seed=1, callback=lambda k, _p: seen.append(k),
                        every=200)  # fmt: skip
    assert seen == [200, 400, 600]
    with torch.no_grad():
        acc = (net(data.X_test).argmax(1) == data.y_test).float().mean().item()
    assert acc > 0.85
    assert res.block_counts.sum() == 600


def test_one_worker_replay_is_torch_sgd():
    """A one-block, zero-delay schedule replays exactly torch.optim.SGD(momentum) on the same minibatches."""
    import torch.nn.functional as F

    from asyncconv.torch.counter import batch_indices
    from asyncconv.torch.data import load_data
    from asyncconv.torch.models import build_model

    data = load_data("digits", seed=0).to("cpu", torch.float64)
    n, b = 100, 16
    idx = torch.from_numpy(batch_indices(int(key_from_seed(3)[0]), 0, n, b, data.n_train))
    plain = build_model("cnn", data.input_shape, 10, seed=0).double()
    opt = torch.optim.SGD(plain.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    for k in range(n):
        opt.zero_grad()
        F.cross_entropy(plain(data.X_train[idx[k]]), data.y_train[idx[k]]).backward()
        opt.step()
    net = build_model("cnn", data.input_shape, 10, seed=0).double()
    s = schedule_from_trace(np.zeros(n, int), np.zeros(n, int), np.arange(n))
    it = Iteration(momentum="heavy", m=0.9, g0=0.05, clock="constant", factor_low=1.0, noise="none", batch=b)
    replay_module(net, s, data.X_train, data.y_train, it, seed=3, weight_decay=1e-3)
    for a, c in zip(plain.parameters(), net.parameters(), strict=True):
        assert float((a - c).detach().abs().max()) <= 1e-10


def test_bad_layout_is_a_config_error():
    p = make_problem("chained_lq", n=24, seed=1)
    s = _schedule("partitioned", "consistent", "block")
    tp = torch_problem(p, 3)
    with pytest.raises(ConfigError, match="blocks"):
        replay(tp.params, tp.layout, tp.loss, s)
