"""Vectorised twins of :mod:`asyncconv.rng` (NumPy uint64), for the torch backend.

Every random number of a replay is the one the Numba kernel draws (``asyncconv/sim/_kernels.py``):

    U(seed_s, n)       = (mix64(seed_s + (n + 1) GOLDEN) >> 11 + 1/2) 2^-53        in (0, 1)
    N(seed_s, n)       = sqrt(-2 log U(2n)) cos(2 pi U(2n + 1))                      (Box–Muller)
    factor_c           = f_low + (1 - f_low) U(s_factor, c)                          per worker
    idx_j(k)           = min(floor(U(s_batch, k b + j) M), M - 1),  j < b           minibatch of write k
    noise(k, i)        = sigma N(s_noise, k n + i)                                   coordinate i of write k

with ``seed_s = stream_seed(key, s)`` for the streams s = 0 (noise), 1 (batch), 2 (factor). The
integer parts are bit-identical to the jitted functions; the floating-point transcendental
functions (log, cos, pow) are NumPy's, which agree with libm to an ulp.
"""

from __future__ import annotations

import numpy as np

from asyncconv.rng import py_stream_seed

__all__ = [
    "S_BATCH",
    "S_FACTOR",
    "S_NOISE",
    "batch_indices",
    "mix64",
    "normals",
    "stream_seed",
    "uniforms",
    "worker_factors",
]

S_NOISE, S_BATCH, S_FACTOR = 0, 1, 2
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_INV53 = 1.0 / 9007199254740992.0


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def stream_seed(key: int, stream: int) -> int:
    """Seed of stream ``stream`` under the 64-bit ``key`` (as :func:`asyncconv.rng.stream_seed`)."""
    return py_stream_seed(int(key), int(stream))


def uniforms(seed: int, counters: np.ndarray) -> np.ndarray:
    """U(seed, n) for every n in ``counters`` (int64 array, any shape); float64 in (0, 1)."""
    n = np.asarray(counters, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        z = mix64(np.uint64(seed) + (n + np.uint64(1)) * _GOLDEN)
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * _INV53


def normals(seed: int, counters: np.ndarray) -> np.ndarray:
    """Standard normals N(seed, n) for every n in ``counters`` (Box–Muller on 2n, 2n + 1)."""
    n = np.asarray(counters, dtype=np.int64)
    u1 = uniforms(seed, 2 * n)
    u2 = uniforms(seed, 2 * n + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def worker_factors(key: int, n_workers: int, factor_low: float) -> np.ndarray:
    """Per-worker step factors f_c in [factor_low, 1], shape (P,); all ones when factor_low = 1."""
    if factor_low >= 1.0:
        return np.ones(n_workers)
    return factor_low + (1.0 - factor_low) * uniforms(stream_seed(key, S_FACTOR), np.arange(n_workers))


def batch_indices(key: int, k0: int, k1: int, batch: int, n_samples: int) -> np.ndarray:
    """Minibatch indices of writes k0..k1-1: shape (k1 - k0, batch), int64 in [0, n_samples).

    Row r is the minibatch of write k0 + r, a pure function of (key, k): any backend, restart
    point or chunking gives the same indices.
    """
    counters = np.arange(k0 * batch, k1 * batch, dtype=np.int64)
    u = uniforms(stream_seed(key, S_BATCH), counters)
    idx = np.minimum((u * n_samples).astype(np.int64), n_samples - 1)
    return idx.reshape(k1 - k0, batch)
