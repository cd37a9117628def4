"""The counter-based generator: jitted = pure Python bit for bit; uniform; streams independent."""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from asyncconv import rng


@nb.njit
def _uniforms(key, stream, n):
    s = rng.stream_seed(key, stream)
    out = np.empty(n)
    for i in range(n):
        out[i] = rng.uniform(s, i)
    return out


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    key=st.integers(0, 2**64 - 1),
    stream=st.integers(0, 2**40),
    counter=st.integers(0, 2**62),
)
def test_jitted_equals_pure_python(key, stream, counter):
    s = rng.stream_seed(np.uint64(key), stream)
    assert int(s) == rng.py_stream_seed(key, stream)
    # from Python, pass seeds as np.uint64 (a bare int above 2**63 would be typed int64)
    assert rng.uniform(np.uint64(s), counter) == rng.py_uniform(int(s), counter)


def test_uniforms_are_in_open_unit_interval_and_uniform():
    key, _ = rng.key_from_seed(11)
    u = _uniforms(key, 0, 200_000)
    assert u.min() > 0.0 and u.max() < 1.0
    # Kolmogorov–Smirnov at level 1e-4: a false alarm once in 10^4 seeds
    assert stats.kstest(u, "uniform").pvalue > 1e-4


def test_streams_and_keys_are_uncorrelated():
    n = 100_000
    k1, _ = rng.key_from_seed(1)
    k2, _ = rng.key_from_seed(2)
    a, b, c = _uniforms(k1, 0, n), _uniforms(k1, 1, n), _uniforms(k2, 0, n)
    # the sample correlation of independent uniforms has standard error 1/sqrt(n)
    for x, y in ((a, b), (a, c), (a[:-1], a[1:])):
        assert abs(np.corrcoef(x, y)[0, 1]) < 4.5 / np.sqrt(n)


def test_key_from_seed_records_how_to_reproduce():
    key, rec = rng.key_from_seed(123)
    ss = np.random.SeedSequence(rec["entropy"], spawn_key=rec["spawn_key"])
    assert rng.key_from_seed(ss)[0] == key
    with pytest.raises(ValueError, match="seed"):
        rng.key_from_seed(-3)
    with pytest.raises(ValueError, match="seed"):
        rng.key_from_seed(1.5)
