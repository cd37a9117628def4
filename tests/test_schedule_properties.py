"""Properties every drawn schedule has (DESIGN §4.1–4.2), over models drawn by hypothesis.

Causality, prefix stability, relabelling symmetry, the synchronous limit, the models' declared
delay bounds, reproducibility, file and trace round-trips, and ``validate()`` rejecting broken
schedules with an error that names the field.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from asyncconv.rng import key_from_seed
from asyncconv.schedule import (
    Schedule,
    ScheduleError,
    ScheduleModel,
    _kernels,
    draw_schedule,
    load_schedule,
    load_trace_csv,
    schedule_from_trace,
)
from asyncconv.schedule.draw import _owned_tables
from asyncconv.schedule.laws import pack_time_laws

try:
    from reference.strategies import abstract_models, periodic_models, timing_models
except ImportError:  # tests/ imported as a package
    from tests.reference.strategies import abstract_models, periodic_models, timing_models

EXAMPLES = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
WITH_TMP = settings(  # tmp_path is shared by the examples of one test; each overwrites its file
    EXAMPLES, suppress_health_check=[*EXAMPLES.suppress_health_check, HealthCheck.function_scoped_fixture]
)
seeds = st.integers(0, 2**32 - 1)
any_model = timing_models() | abstract_models() | periodic_models()


def draw(data: dict, n: int, seed) -> Schedule:
    return draw_schedule(ScheduleModel.from_dict(data), n, seed)


def rebuild(sched: Schedule, **changes) -> Schedule:
    """A copy of ``sched`` with some event arrays replaced (not validated)."""
    arrays = {name: np.array(arr) for name, arr in sched.arrays().items()}
    arrays.update({name: np.array(arr) for name, arr in changes.items()})  # Schedule freezes its inputs
    return Schedule(**arrays, owners=sched.owners, concurrency=sched.concurrency, source=sched.source)


def rejects(sched: Schedule, field: str) -> ScheduleError:
    with pytest.raises(ScheduleError) as info:
        sched.validate()
    assert info.value.field == field, str(info.value)
    return info.value


# --- the contract ---------------------------------------------------------------------------------


@given(data=any_model, n=st.integers(1, 300), seed=seeds)
@EXAMPLES
def test_drawn_schedules_validate_and_never_read_the_future(data, n, seed):
    model = ScheduleModel.from_dict(data)
    sched = draw_schedule(model, n, seed)
    assert sched.validate() is sched
    assert sched.n_events == n
    assert sched.n_workers == model.n_workers and sched.n_blocks == model.blocks.n_blocks
    np.testing.assert_array_equal(sched.owners, model.owners())
    k = np.arange(n)
    assert (
        (sched.read_lo >= 0).all() and (sched.read_lo <= sched.read_hi).all() and (sched.read_hi <= k).all()
    )
    versions = sched.read_versions()
    assert (versions >= sched.read_lo[:, None]).all()
    assert (versions <= sched.read_hi[:, None]).all() and (versions <= k[:, None]).all()
    assert (np.diff(versions, axis=1) >= 0).all()  # blocks are read in order 0..B-1
    assert (sched.delay() >= 0).all() and (sched.delay_min() >= 0).all()
    assert (sched.delay() >= sched.delay_min()).all()
    assert (sched.t_read <= sched.t_write).all() and (np.diff(sched.t_write) >= 0).all()
    if len(sched.cut):
        assert sched.cut.min() >= 0 and sched.cut.max() <= sched.n_blocks - 1
    if model.reads == "consistent":
        np.testing.assert_array_equal(sched.read_lo, sched.read_hi)
        assert len(sched.cut) == 0
    # every write covers at least one block, and only blocks its writer owns
    owned = sched.owners[sched.writer]
    for j in range(sched.n_blocks):
        assert not (sched.covers(j) & ~owned[:, j]).any()
    assert sched.block_counts().sum() >= n


@given(data=timing_models(), n=st.integers(1, 300), seed=seeds)
@EXAMPLES
def test_timing_worker_sees_its_own_previous_write(data, n, seed):
    """One job in flight: a worker's read starts after its previous write, and sees it."""
    sched = draw(data, n, seed)
    for c in range(sched.n_workers):
        rows = np.flatnonzero(sched.writer == c)
        assert (sched.read_lo[rows[1:]] >= rows[:-1] + 1).all()
        assert (sched.t_read[rows[1:]] >= sched.t_write[rows[:-1]]).all()
        if "pause_prob" not in data["timing"]:  # no pause: the next read starts at the write
            np.testing.assert_array_equal(sched.t_read[rows[1:]], sched.t_write[rows[:-1]])
        if len(rows):
            assert sched.t_read[rows[0]] == 0.0


@given(
    data=timing_models(("deterministic",), reads=("inconsistent",)),
    n=st.integers(1, 300),
    seed=seeds,
)
@EXAMPLES
def test_torn_reads_see_the_version_current_at_each_block_read(data, n, seed):
    """With a fixed read time R, block j is read at t_read + R (j + 1) / B (up to rounding at ties)."""
    model = ScheduleModel.from_dict(data)
    R = model.source.read.mean
    sched = draw_schedule(model, n, seed)
    B = sched.n_blocks
    versions = sched.read_versions()
    tw = sched.t_write
    for k in range(n):
        for j in range(B):
            x = sched.t_read[k] + R * (j + 1) / B
            want = int(np.count_nonzero(tw[:k] <= x))
            if versions[k, j] != want:  # only a write within rounding of the instant may differ
                lo, hi = sorted((versions[k, j], want))
                assert np.allclose(tw[lo:hi], x, rtol=1e-12, atol=1e-12), (k, j, versions[k, j], want)


# --- prefixes -----------------------------------------------------------------------------------------


@given(data=any_model, n=st.integers(1, 300), frac=st.floats(0.0, 1.0), seed=seeds)
@EXAMPLES
def test_truncating_a_draw_equals_a_shorter_draw(data, n, frac, seed):
    model = ScheduleModel.from_dict(data)
    m = max(1, int(frac * n))
    long, short = draw_schedule(model, n, seed), draw_schedule(model, m, seed)
    cut = long.truncate(m)
    assert cut.same_events(short)
    assert cut.validate().n_events == m
    assert cut.model == short.model and cut.seed == short.seed and cut.source == short.source
    assert long.truncate(n).same_events(long)
    assert long.truncate(0).n_events == 0
    with pytest.raises(ValueError):
        long.truncate(n + 1)


# --- relabelling workers ------------------------------------------------------------------------------


def _kernel_inputs(model: ScheduleModel, perm: np.ndarray) -> tuple:
    """Arguments of ``_kernels._draw_timing`` with worker c renamed perm[c] (as in ``draw._draw_timing``)."""
    src, P = model.source, model.n_workers
    params, values = pack_time_laws([*src.compute, src.read, src.write, src.pause])
    ptr, blocks, cum = _owned_tables(model, model.owners())
    new = np.empty(P, dtype=np.int64)
    new[perm] = np.arange(P)  # new worker perm[c] is old worker c
    own_ptr = np.concatenate([[0], np.cumsum(np.diff(ptr)[new])]).astype(np.int64)
    own_blocks = np.concatenate([blocks[ptr[c] : ptr[c + 1]] for c in new]).astype(np.int32)
    own_cum = np.concatenate([cum[ptr[c] : ptr[c + 1]] for c in new])
    speeds = np.asarray(src.speeds, dtype=np.float64)
    return (
        new, params, values, new.copy(), P, P + 1, P + 2, src.pause_prob, speeds[new],
        own_ptr, own_blocks, own_cum, model.blocks.selection == "cyclic",
        model.blocks.write == "owned", model.reads == "inconsistent", model.blocks.n_blocks,
    )  # fmt: skip


@given(
    data=timing_models(continuous=True, min_workers=2), n=st.integers(1, 300), seed=seeds, rnd=st.randoms()
)
@EXAMPLES
def test_relabelling_workers_permutes_writers_and_nothing_else(data, n, seed, rnd):
    """Kernel level: permute every per-worker input; with continuous laws (no ties) only writers change."""
    model = ScheduleModel.from_dict(data)
    P = model.n_workers
    perm = np.arange(P)
    rnd.shuffle(perm)
    key = key_from_seed(seed)[0]
    base = draw_schedule(model, n, seed)
    out = _kernels._draw_timing(n, key, *_kernel_inputs(model, np.arange(P)))
    assert Schedule(*out, owners=base.owners).same_events(base)  # the harness reproduces draw_schedule
    permuted = Schedule(
        *_kernels._draw_timing(n, key, *_kernel_inputs(model, perm)), owners=base.owners[np.argsort(perm)]
    )
    np.testing.assert_array_equal(permuted.writer, perm[base.writer])
    for name in ("block", "read_lo", "read_hi", "t_read", "t_write", "cut_ptr", "cut"):
        np.testing.assert_array_equal(getattr(permuted, name), getattr(base, name), err_msg=name)
    # ... which is exactly what Schedule.relabel_workers does
    relabelled = base.relabel_workers(perm).validate()
    assert relabelled.same_events(permuted)
    inverse = np.argsort(perm)
    assert relabelled.relabel_workers(inverse).same_events(base)


@given(data=any_model, n=st.integers(1, 100), seed=seeds, rnd=st.randoms())
@EXAMPLES
def test_relabel_workers_round_trip(data, n, seed, rnd):
    sched = draw(data, n, seed)
    perm = list(range(sched.n_workers))
    rnd.shuffle(perm)
    out = sched.relabel_workers(perm).validate()
    np.testing.assert_array_equal(out.writer, np.asarray(perm)[sched.writer])
    for c in range(sched.n_workers):
        np.testing.assert_array_equal(out.owners[perm[c]], sched.owners[c])
    assert out.relabel_workers(np.argsort(perm)).same_events(sched)
    with pytest.raises(ValueError):
        sched.relabel_workers([0] * (sched.n_workers + 1))


# --- synchronous limit ----------------------------------------------------------------------------


@given(data=timing_models(max_workers=1) | periodic_models(max_workers=1), n=st.integers(1, 300), seed=seeds)
@EXAMPLES
def test_one_worker_is_synchronous(data, n, seed):
    """One worker reads exactly what it wrote last: every delay is zero, however long its reads."""
    if "periodic" in data:
        data["periodic"]["delay"] = 0
    model = ScheduleModel.from_dict(data)
    sched = draw_schedule(model, n, seed)
    k = np.arange(n)
    np.testing.assert_array_equal(sched.writer, 0)
    np.testing.assert_array_equal(sched.read_lo, k)
    np.testing.assert_array_equal(sched.read_hi, k)
    assert len(sched.cut) == 0
    assert model.delay_bound() == 0
    for j in range(sched.n_blocks):
        np.testing.assert_array_equal(sched.block_delay(j), 0)


@given(data=timing_models(max_workers=1, read_zero=True), n=st.integers(2, 300), seed=seeds)
@EXAMPLES
def test_one_worker_without_read_time_reads_at_its_last_write(data, n, seed):
    sched = draw(data, n, seed)
    if "pause_prob" not in data["timing"]:
        np.testing.assert_array_equal(sched.t_read[1:], sched.t_write[:-1])
    else:
        assert (sched.t_read[1:] >= sched.t_write[:-1]).all()


@given(data=periodic_models(), n=st.integers(1, 200))
@EXAMPLES
def test_periodic_delay_zero_is_synchronous_round_robin(data, n):
    data["periodic"]["delay"] = 0
    sched = draw(data, n, 0)
    np.testing.assert_array_equal(sched.read_lo, np.arange(n))
    np.testing.assert_array_equal(sched.writer, np.arange(n) % sched.n_workers)


# --- delay bounds ---------------------------------------------------------------------------------------


@given(
    data=timing_models(bounded=True) | abstract_models(bounded=True) | periodic_models(),
    n=st.integers(1, 300),
    seed=seeds,
)
@EXAMPLES
def test_delays_within_declared_bound(data, n, seed):
    model = ScheduleModel.from_dict(data)
    bound = model.delay_bound()
    assert bound is not None
    sched = draw_schedule(model, n, seed)
    assert sched.delay().max() <= bound
    for j in range(sched.n_blocks):
        assert sched.block_delay(j).max() <= bound


def test_unbounded_models_declare_no_bound():
    timing = {"n_workers": 2, "blocks": {"n_blocks": 2}, "timing": {"compute": {"law": "exponential"}}}
    assert ScheduleModel.from_dict(timing).delay_bound() is None
    abstract = {
        "n_workers": 2,
        "blocks": {"n_blocks": 2},
        "abstract": {"delay": {"law": "geometric", "mean": 2.0}},
    }
    assert ScheduleModel.from_dict(abstract).delay_bound() is None


# --- reproducibility ------------------------------------------------------------------------------------


@given(data=any_model, n=st.integers(1, 200), seed=seeds)
@EXAMPLES
def test_same_seed_same_arrays(data, n, seed):
    model = ScheduleModel.from_dict(data)
    a, b = draw_schedule(model, n, seed), draw_schedule(model, n, seed)
    assert a.same_events(b) and a.seed == b.seed and a.model == b.model
    c = draw_schedule(model, n, np.random.SeedSequence(seed))  # an int seed is SeedSequence(seed)
    assert c.same_events(a) and c.seed == a.seed
    for x, y in zip(a.arrays().values(), b.arrays().values(), strict=True):
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()


@given(data=timing_models(continuous=True), n=st.integers(1, 100), s1=seeds, gap=st.integers(1, 2**20))
@EXAMPLES
def test_different_seeds_differ_timing(data, n, s1, gap):
    s2 = s1 + gap
    model = ScheduleModel.from_dict(data)
    a, b = draw_schedule(model, n, s1), draw_schedule(model, n, s2)
    assert not a.same_events(b)
    assert not np.array_equal(a.t_write, b.t_write)  # continuous job times: equal with probability 0


@given(s1=seeds, gap=st.integers(1, 2**20), reads=st.sampled_from(["consistent", "inconsistent"]))
@EXAMPLES
def test_different_seeds_differ_abstract(s1, gap, reads):
    s2 = s1 + gap
    data = {
        "n_workers": 3,
        "reads": reads,
        "blocks": {"n_blocks": 4, "ownership": "shared"},
        "abstract": {"delay": {"law": "geometric", "mean": 2.0}},
    }
    assert not draw(data, 64, s1).same_events(draw(data, 64, s2))


def test_spawned_seeds_differ_and_are_recorded():
    model = ScheduleModel.timing_preset(n_workers=3, n_blocks=6)
    children = np.random.SeedSequence(7).spawn(3)
    scheds = [draw_schedule(model, 50, c) for c in children]
    assert not scheds[0].same_events(scheds[1]) and not scheds[1].same_events(scheds[2])
    assert [s.seed["spawn_key"] for s in scheds] == [[0], [1], [2]]
    assert all(s.seed["entropy"] == 7 for s in scheds)


@given(data=periodic_models(), s1=seeds, s2=seeds)
@EXAMPLES
def test_periodic_ignores_the_seed(data, s1, s2):
    assert draw(data, 50, s1).same_events(draw(data, 50, s2))


def test_draw_rejects_bad_arguments():
    from asyncconv.config import ConfigError

    model = ScheduleModel.timing_preset(n_workers=2)
    for n, seed, field in [(0, 1, "n_events"), (5, -1, "seed"), (5, True, "seed"), (5, 1.5, "seed")]:
        with pytest.raises(ConfigError) as info:
            draw_schedule(model, n, seed)
        assert info.value.field == field
    with pytest.raises(TypeError):
        draw_schedule(model.to_dict(), 5, 1)


# --- files and traces ---------------------------------------------------------------------------------


@given(data=any_model, n=st.integers(1, 200), seed=seeds)
@WITH_TMP
def test_save_load_round_trip(tmp_path, data, n, seed):
    model = ScheduleModel.from_dict(data)
    sched = draw_schedule(model, n, seed)
    path = sched.save(tmp_path / "sub" / "s.npz")
    loaded = load_schedule(path)
    assert loaded.same_events(sched)
    for x, y in zip(loaded.arrays().values(), sched.arrays().values(), strict=True):
        assert x.dtype == y.dtype
    assert loaded.model == sched.model == model.to_dict()
    assert loaded.seed == sched.seed
    assert (
        (loaded.concurrency, loaded.source)
        == (sched.concurrency, sched.source)
        == (sched.concurrency, model.kind)
    )
    assert loaded.metadata() == sched.metadata()
    # the metadata alone reproduces the schedule (the model up to its canonical dict form: see
    # test_model_dict_round_trip_keeps_inert_fields for fields that to_dict drops)
    again = ScheduleModel.from_dict(loaded.model)
    assert again.to_dict() == model.to_dict()
    ss = np.random.SeedSequence(loaded.seed["entropy"], spawn_key=loaded.seed["spawn_key"])
    assert draw_schedule(again, n, ss).same_events(sched)
    assert not list(path.parent.glob("*.tmp"))


def test_save_load_empty_prefix(tmp_path):
    sched = draw(TORN, 20, 1).truncate(0)
    loaded = load_schedule(sched.save(tmp_path / "empty.npz"))
    assert loaded.n_events == 0 and loaded.same_events(sched) and loaded.seed == sched.seed
    assert loaded.read_versions().shape == (0, sched.n_blocks)


@given(data=any_model)
@EXAMPLES
def test_model_dict_round_trip(data):
    model = ScheduleModel.from_dict(data)
    assert ScheduleModel.from_dict(model.to_dict()).to_dict() == model.to_dict()


_INERT = {
    # a pause law without pause_prob: to_dict drops the law, from_dict restores the zero default
    "pause-law-without-pause-prob": {
        "n_workers": 1,
        "blocks": {"n_blocks": 1},
        "timing": {"compute": 1.0, "pause": {"law": "exponential", "mean": 2.0}},
    },
    # starvation of block 2 with exponent 0: to_dict drops it, from_dict restores starve_block = 0
    "starve-exponent-zero": {
        "n_workers": 1,
        "blocks": {"n_blocks": 3},
        "abstract": {"delay": 1, "starve": {"block": 2, "exponent": 0.0}},
    },
}


@pytest.mark.parametrize("name", sorted(_INERT))
def test_model_dict_round_trip_keeps_inert_fields(name):
    model = ScheduleModel.from_dict(_INERT[name])
    assert ScheduleModel.from_dict(model.to_dict()) == model


@given(data=any_model, n=st.integers(1, 200), seed=seeds)
@EXAMPLES
def test_schedule_from_trace_with_read_versions_reproduces_events(data, n, seed):
    sched = draw(data, n, seed)
    out = schedule_from_trace(
        sched.writer, sched.block, sched.read_lo, sched.read_hi, sched.t_read, sched.t_write,
        owners=sched.owners, block_versions=sched.read_versions(), concurrency=sched.concurrency,
    )  # fmt: skip
    assert out.same_events(sched)
    assert out.source == "trace"


def test_trace_model_replays_a_saved_schedule(tmp_path):
    from asyncconv.config import ConfigError

    sched = draw(TORN, 60, 5)
    path = str(sched.save(tmp_path / "s.npz"))
    trace = {"n_workers": 4, "reads": "inconsistent", "blocks": {"n_blocks": 6, "ownership": "shared"}}
    replay = draw_schedule(ScheduleModel.from_dict({**trace, "trace": {"path": path}}), 40, 123)
    assert replay.same_events(sched.truncate(40))
    with pytest.raises(ConfigError) as info:
        draw_schedule(ScheduleModel.from_dict({**trace, "trace": {"path": path}}), 61, 0)
    assert info.value.field == "n_events"
    wrong = {**trace, "n_workers": 3, "trace": {"path": path}}
    with pytest.raises(ConfigError) as info:
        draw_schedule(ScheduleModel.from_dict(wrong), 10, 0)
    assert info.value.field == "trace.path"


def test_schedule_from_trace_rejects_bad_versions():
    sched = draw(TORN, 60, 5)
    cols = (sched.writer, sched.block, sched.read_lo, sched.read_hi, sched.t_read, sched.t_write)
    with pytest.raises(ScheduleError) as info:  # torn reads need the per-block versions
        schedule_from_trace(*cols, owners=sched.owners)
    assert info.value.field == "block_versions"
    v = np.array(sched.read_versions())
    k = int(np.flatnonzero(v[:, 0] < v[:, -1])[0])  # a read torn between two versions
    bad = v.copy()
    bad[k, -1] = sched.read_hi[k] + 1  # outside [read_lo, read_hi]
    with pytest.raises(ScheduleError) as info:
        schedule_from_trace(*cols, owners=sched.owners, block_versions=bad)
    assert info.value.field == "block_versions"
    bad = v.copy()
    bad[k] = bad[k][::-1]  # decreasing in block read order
    with pytest.raises(ScheduleError) as info:
        schedule_from_trace(*cols, owners=sched.owners, block_versions=bad)
    assert info.value.field == "block_versions"


@given(data=timing_models(), n=st.integers(1, 100), seed=seeds)
@WITH_TMP
def test_csv_trace_round_trip(tmp_path, data, n, seed):
    sched = draw(data, n, seed)
    B = sched.n_blocks
    cols = ["writer", "block", "read_lo", "read_hi", "t_read", "t_write"]
    table = np.column_stack([*(sched.arrays()[c] for c in cols), sched.read_versions()])
    path = tmp_path / "trace.csv"
    header = ",".join([*cols, *(f"v{j}" for j in range(B))])
    np.savetxt(path, table, delimiter=",", header=header, comments="", fmt="%.17g")
    out = load_trace_csv(path)
    for name in sched.arrays():
        np.testing.assert_array_equal(out.arrays()[name], sched.arrays()[name], err_msg=name)


# --- validate() rejects broken schedules -----------------------------------------------------------------

TORN = {
    "n_workers": 4,
    "reads": "inconsistent",
    "blocks": {"n_blocks": 6, "ownership": "shared"},
    "timing": {"compute": {"law": "exponential"}, "read": {"law": "exponential", "mean": 2.0}},
}
PARTITIONED = {"n_workers": 3, "blocks": {"n_blocks": 6}, "timing": {"compute": {"law": "exponential"}}}


@given(data=any_model, seed=seeds, where=st.floats(0.0, 0.999))
@EXAMPLES
def test_validate_rejects_reading_the_future(data, seed, where):
    sched = draw(data, 50, seed)
    k = int(where * 50)
    read_hi = np.array(sched.read_hi)
    read_hi[k] = k + 1
    rejects(rebuild(sched, read_hi=read_hi), f"read_hi[{k}]")
    read_lo = np.array(sched.read_lo)
    read_lo[k] = -1
    rejects(rebuild(sched, read_lo=read_lo), f"read_lo[{k}]")


@given(seed=seeds, where=st.floats(0.0, 0.999), shift=st.integers(1, 2))
@EXAMPLES
def test_validate_rejects_writes_to_unowned_blocks(seed, where, shift):
    sched = draw(PARTITIONED, 50, seed)
    k = int(where * 50)
    block = np.array(sched.block)
    block[k] = (block[k] + 2 * shift) % 6  # partition of 6 blocks into 3 runs of 2
    rejects(rebuild(sched, block=block), f"block[{k}]")
    block[k] = 6
    rejects(rebuild(sched, block=block), f"block[{k}]")
    writer = np.array(sched.writer)
    writer[k] = 3
    rejects(rebuild(sched, writer=writer), f"writer[{k}]")


@given(data=timing_models(min_workers=2), seed=seeds, where=st.floats(0.0, 0.999))
@EXAMPLES
def test_validate_rejects_two_jobs_in_flight(data, seed, where):
    data["blocks"] = {**data["blocks"], "ownership": "shared", "selection": "uniform"}
    data["blocks"].pop("weights", None)
    sched = draw(data, 100, seed)
    k = np.flatnonzero((sched.read_lo[1:] < np.arange(1, 100)) & (sched.writer[1:] != sched.writer[:-1])) + 1
    assume(len(k))
    k = int(k[int(where * len(k))])
    writer = np.array(sched.writer)
    writer[k] = writer[k - 1]  # k's read started before write k - 1 (now by the same worker) completed
    err = rejects(rebuild(sched, writer=writer), f"read_lo[{k}]")
    assert f"write {k - 1}" in err.message


def test_validate_rejects_overlap_in_time():
    """Versions allow it, but the read started (t = 0.5) before the worker's last write (t = 1)."""
    sched = Schedule(
        writer=[0, 0], block=[0, 0], read_lo=[0, 1], read_hi=[0, 1], t_read=[0.0, 0.5],
        t_write=[1.0, 2.0], cut_ptr=[0, 0, 0], cut=[], owners=[[True]],
    )  # fmt: skip
    rejects(sched, "read_lo[1]")
    assert Schedule(**{**sched.arrays(), "t_read": [0.0, 1.0]}, owners=[[True]]).validate()
    # with two jobs allowed in flight it is fine
    assert Schedule(**sched.arrays(), owners=[[True]], concurrency=2).validate()


@given(data=any_model, seed=seeds, where=st.floats(0.0, 0.999))
@EXAMPLES
def test_validate_rejects_decreasing_write_times(data, seed, where):
    sched = draw(data, 50, seed)
    k = 1 + int(where * 49)
    t_write = np.array(sched.t_write)
    t_write[k] = t_write[k - 1] - 1.0
    rejects(rebuild(sched, t_write=t_write), f"t_write[{k}]")
    t_write = np.array(sched.t_write)
    t_write[k] = np.nan
    rejects(rebuild(sched, t_write=t_write), f"t_write[{k}]")
    t_read = np.array(sched.t_read)
    t_read[k] = sched.t_write[k] + 1.0
    rejects(rebuild(sched, t_read=t_read), f"t_read[{k}]")


@given(data=st.just(TORN) | abstract_models(), seed=seeds, which=st.floats(0.0, 0.999))
@EXAMPLES
def test_validate_rejects_non_monotone_cuts(data, seed, which):
    if "abstract" in data:
        data = {**data, "reads": "inconsistent"}
    sched = draw(data, 200, seed)
    rows = [k for k in range(200) if len(set(sched.cut[sched.cut_ptr[k] : sched.cut_ptr[k + 1]])) > 1]
    assume(rows)
    k = rows[int(which * len(rows))]
    a, b = int(sched.cut_ptr[k]), int(sched.cut_ptr[k + 1])
    cut = np.array(sched.cut)
    cut[a:b] = cut[a:b][::-1]  # a decreasing row
    first = a + int(np.flatnonzero(np.diff(cut[a:b]) < 0)[0]) + 1
    rejects(rebuild(sched, cut=cut), f"cut[{first}]")
    cut = np.array(sched.cut)
    cut[a] = sched.n_blocks + 1
    rejects(rebuild(sched, cut=cut), f"cut[{a}]")
    # a row whose length is not read_hi - read_lo
    read_hi = np.array(sched.read_hi)
    read_hi[k] -= 1
    rejects(rebuild(sched, read_hi=read_hi), f"cut_ptr[{k}]")


def test_a_cut_between_rows_may_decrease():
    """Cuts are monotone within a read only: a new row may start lower."""
    sched = draw(TORN, 200, 3)
    starts = sched.cut_ptr[1:-1]
    inside = (starts > 0) & (starts < len(sched.cut))
    assert (sched.cut[starts[inside]] < sched.cut[starts[inside] - 1]).any()
