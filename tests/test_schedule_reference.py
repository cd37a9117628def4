"""The Numba schedule kernels equal slow plain-Python references, bit for bit.

The references (``tests/reference/timing_reference.py``) use ``heapq`` and the pure-Python RNG
twins, so these tests check the event-driven kernel, the abstract kernel, the periodic generator,
the per-block version decoding *and* the jitted SplitMix64 against independent code.

Times are compared exactly (``rtol=0``): the kernels and the references do the same IEEE operations
in the same order, and the only libm calls (``log``, ``pow``) are the platform's in both.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncconv.rng import key_from_seed, py_stream_seed, py_uniform, stream_seed, uniform
from asyncconv.schedule import ScheduleModel, draw_schedule

try:
    from reference.strategies import abstract_models, periodic_models, timing_models
    from reference.timing_reference import (
        EXACT_TIME_LAWS,
        abstract_reference,
        block_versions_reference,
        periodic_reference,
        read_versions_reference,
        timing_reference,
    )
except ImportError:  # tests/ imported as a package
    from tests.reference.strategies import abstract_models, periodic_models, timing_models
    from tests.reference.timing_reference import (
        EXACT_TIME_LAWS,
        abstract_reference,
        block_versions_reference,
        periodic_reference,
        read_versions_reference,
        timing_reference,
    )

EXAMPLES = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
seeds = st.integers(0, 2**32 - 1)


def assert_same(sched, ref: dict) -> None:
    """Integer arrays equal; times equal exactly."""
    for name, arr in sched.arrays().items():
        want = np.asarray(ref[name], dtype=arr.dtype)
        assert arr.shape == want.shape, name
        if arr.dtype.kind == "f":
            np.testing.assert_allclose(arr, want, rtol=0, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(arr, want, err_msg=name)


def _key(seed: int) -> int:
    return int(key_from_seed(seed)[0])


# --- the RNG twins -----------------------------------------------------------------------------


@given(key=st.integers(0, 2**64 - 1), stream=st.integers(0, 2**20), counter=st.integers(0, 2**40))
@EXAMPLES
def test_jitted_rng_equals_python_twin(key, stream, counter):
    s = stream_seed(np.uint64(key), stream)
    assert int(s) == py_stream_seed(key, stream)
    assert uniform(np.uint64(s), counter) == py_uniform(int(s), counter)
    assert 0.0 < py_uniform(int(s), counter) < 1.0


# --- event-driven timing model --------------------------------------------------------------------


@given(data=timing_models(EXACT_TIME_LAWS), n=st.integers(1, 300), seed=seeds)
@EXAMPLES
def test_timing_kernel_equals_reference(data, n, seed):
    model = ScheduleModel.from_dict(data)
    sched = draw_schedule(model, n, seed)
    assert_same(sched, timing_reference(model, n, _key(seed)))


@given(
    data=timing_models(EXACT_TIME_LAWS, min_workers=2, reads=("inconsistent",), read_positive=True),
    n=st.integers(1, 300),
    seed=seeds,
)
@EXAMPLES
def test_timing_kernel_equals_reference_torn_reads(data, n, seed):
    model = ScheduleModel.from_dict(data)
    sched = draw_schedule(model, n, seed)
    assert_same(sched, timing_reference(model, n, _key(seed)))


@pytest.mark.parametrize(
    "data",
    [
        # identical deterministic workers: every write ties with P - 1 others (broken by worker id)
        {"n_workers": 4, "blocks": {"n_blocks": 4}, "timing": {"compute": 1.0}},
        # ... with torn reads whose end coincides with other workers' writes
        {
            "n_workers": 3,
            "reads": "inconsistent",
            "blocks": {"n_blocks": 6, "ownership": "shared", "selection": "cyclic"},
            "timing": {"compute": 1.0, "read": 1.0, "write": 0.5},
        },
        # zero-duration jobs (empirical values of 0) complete at the instant they start
        {
            "n_workers": 3,
            "reads": "inconsistent",
            "blocks": {"n_blocks": 3, "ownership": "shared", "write": "owned"},
            "timing": {"compute": {"law": "empirical", "values": [0.0, 0.0, 1.0]}},
        },
        # stragglers, pauses, weighted selection, every exact law at once
        {
            "n_workers": 5,
            "reads": "inconsistent",
            "blocks": {"n_blocks": 8, "selection": "weighted", "weights": [1, 2, 3, 4, 5, 6, 7, 8]},
            "timing": {
                "compute": [
                    {"law": "exponential", "mean": 1.0},
                    {"law": "pareto", "mean": 1.0, "shape": 1.5},
                    {"law": "uniform", "mean": 1.0, "shape": 0.9},
                    {"law": "empirical", "values": [0.2, 3.0]},
                    1.0,
                ],
                "speeds": [1.0, 1.0, 0.1, 4.0, 1.0],
                "read": {"law": "exponential", "mean": 0.3},
                "write": {"law": "uniform", "mean": 0.1, "shape": 0.5},
                "pause_prob": 0.2,
                "pause": {"law": "pareto", "mean": 5.0, "shape": 1.2},
            },
        },
    ],
    ids=["ties", "torn-ties", "zero-jobs", "everything"],
)
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_timing_kernel_equals_reference_examples(data, seed):
    model = ScheduleModel.from_dict(data)
    n = 2000
    sched = draw_schedule(model, n, seed)
    assert_same(sched, timing_reference(model, n, _key(seed)))


def test_timing_ties_are_broken_by_worker_id():
    model = ScheduleModel.from_dict({"n_workers": 4, "blocks": {"n_blocks": 4}, "timing": {"compute": 1.0}})
    sched = draw_schedule(model, 12, 0)
    np.testing.assert_array_equal(sched.writer, np.arange(12) % 4)
    np.testing.assert_array_equal(sched.t_write, np.arange(12) // 4 + 1.0)
    # a job started at t = 1 sees every write completed at t <= 1, including later-numbered ones
    np.testing.assert_array_equal(sched.read_lo, (np.arange(12) // 4) * 4)


# --- abstract delay-law model ------------------------------------------------------------------------


@given(data=abstract_models(), n=st.integers(1, 300), seed=seeds)
@EXAMPLES
def test_abstract_kernel_equals_reference(data, n, seed):
    model = ScheduleModel.from_dict(data)
    sched = draw_schedule(model, n, seed)
    assert_same(sched, abstract_reference(model, n, _key(seed)))


# --- periodic model ------------------------------------------------------------------------------------


@given(data=periodic_models(), n=st.integers(1, 200), seed=seeds)
@EXAMPLES
def test_periodic_equals_reference(data, n, seed):
    model = ScheduleModel.from_dict(data)
    assert_same(draw_schedule(model, n, seed), periodic_reference(model, n))


# --- per-block versions ------------------------------------------------------------------------------


@given(
    data=timing_models(EXACT_TIME_LAWS, reads=("inconsistent",)) | abstract_models(),
    n=st.integers(1, 200),
    seed=seeds,
)
@EXAMPLES
def test_block_versions_equal_definition(data, n, seed):
    sched = draw_schedule(ScheduleModel.from_dict(data), n, seed)
    args = (sched.read_lo, sched.read_hi, sched.cut_ptr, sched.cut)
    want = np.asarray(read_versions_reference(*args, sched.n_blocks), dtype=np.int64).reshape(
        n, sched.n_blocks
    )
    np.testing.assert_array_equal(sched.read_versions(), want)
    for j in range(sched.n_blocks):
        np.testing.assert_array_equal(sched.block_versions(j), want[:, j])
        np.testing.assert_array_equal(sched.block_delay(j), np.arange(n) - want[:, j])
    # slices of rows
    start = n // 3
    stop = start + (n - start) // 2
    np.testing.assert_array_equal(sched.read_versions(start, stop), want[start:stop])


def test_block_versions_hand_example():
    """Rows by hand: B = 3; write 2 read versions [0, 2) torn at blocks 1 and 2."""
    from asyncconv.schedule import Schedule

    sched = Schedule(
        writer=[0, 1, 0],
        block=[0, 1, 2],
        read_lo=[0, 0, 0],
        read_hi=[0, 1, 2],
        t_read=[0.0, 0.0, 0.5],
        t_write=[1.0, 2.0, 3.0],
        cut_ptr=[0, 0, 1, 3],
        cut=[0, 1, 2],
        owners=np.ones((2, 3), dtype=bool),
        concurrency=0,
    ).validate()
    want = [[0, 0, 0], [1, 1, 1], [0, 1, 2]]
    np.testing.assert_array_equal(sched.read_versions(), want)
    args = (sched.read_lo, sched.read_hi, sched.cut_ptr, sched.cut)
    assert read_versions_reference(*args, 3) == want
    assert block_versions_reference(*args, 1) == [0, 1, 1]
