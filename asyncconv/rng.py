"""Counter-based random numbers, usable inside Numba kernels.

Every random number in asyncconv is a pure function of ``(key, stream, counter)``: there is no
generator state to carry, so any backend, thread count or restart point reproduces the same bits
(DESIGN §2). The construction is SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom
number generators", OOPSLA 2014):

    seed_s   = mix64(key XOR mix64(stream + 1))          one 64-bit seed per stream
    bits(n)  = mix64(seed_s + (n + 1) * GOLDEN)          the n-th output of that stream
    U(n)     = (bits(n) >> 11 + 1/2) * 2^-53              in the open interval (0, 1)

``mix64`` is the SplitMix64 / MurmurHash3 finaliser. Streams are separated by hashing their id into
the seed; ``key`` comes from a :class:`numpy.random.SeedSequence`, so user seeds are spread over
all 64 bits before they reach the kernel.

The pure-Python functions ``py_*`` compute exactly the same values and exist so that tests and
reference simulators can check the jitted ones bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from asyncconv._jit import jit

__all__ = [
    "key_from_seed",
    "mix64",
    "normal",
    "py_stream_seed",
    "py_uniform",
    "stream_seed",
    "uniform",
]

_MASK = (1 << 64) - 1
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_GOLDEN = 0x9E3779B97F4A7C15

_U_M1 = np.uint64(_M1)
_U_M2 = np.uint64(_M2)
_U_GOLDEN = np.uint64(_GOLDEN)
_U30 = np.uint64(30)
_U27 = np.uint64(27)
_U31 = np.uint64(31)
_U11 = np.uint64(11)
_U1 = np.uint64(1)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


def key_from_seed(seed: int | np.random.SeedSequence) -> tuple[np.uint64, dict]:
    """Derive the 64-bit kernel key from a user seed.

    Returns the key and a JSON-able record ``{"entropy": ..., "spawn_key": [...]}`` that
    reproduces it (``np.random.SeedSequence(entropy, spawn_key=spawn_key)``).
    """
    if isinstance(seed, np.random.SeedSequence):
        ss = seed
    else:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or int(seed) < 0:
            raise ValueError(f"seed: must be a non-negative integer (got {seed!r})")
        ss = np.random.SeedSequence(int(seed))
    key = ss.generate_state(1, np.uint64)[0]
    entropy = ss.entropy
    record = {
        "entropy": int(entropy) if not isinstance(entropy, list | tuple) else [int(e) for e in entropy],
        "spawn_key": [int(s) for s in ss.spawn_key],
    }
    return np.uint64(key), record


@jit(inline="always")
def mix64(z):
    """SplitMix64 finaliser: a bijective avalanche mix of a uint64."""
    z = (z ^ (z >> _U30)) * _U_M1
    z = (z ^ (z >> _U27)) * _U_M2
    return z ^ (z >> _U31)


@jit(inline="always")
def stream_seed(key, stream):
    """Seed of stream ``stream`` (int >= 0) under ``key`` (uint64)."""
    return mix64(np.uint64(key) ^ mix64(np.uint64(stream) + _U1))


@jit(inline="always")
def uniform(seed, counter):
    """The ``counter``-th uniform of the stream with seed ``seed``; a float64 in (0, 1)."""
    z = mix64(np.uint64(seed) + (np.uint64(counter) + _U1) * _U_GOLDEN)
    return (float(z >> _U11) + 0.5) * _INV53


@jit(inline="always")
def normal(seed, counter):
    """A standard normal from uniforms ``2*counter`` and ``2*counter + 1`` (Box–Muller)."""
    u1 = uniform(seed, 2 * counter)
    u2 = uniform(seed, 2 * counter + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


# --- pure-Python twins, for tests and reference simulators -------------------------------------


def _py_mix64(z: int) -> int:
    z &= _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def py_stream_seed(key: int, stream: int) -> int:
    """Pure-Python :func:`stream_seed`."""
    return _py_mix64(int(key) ^ _py_mix64(int(stream) + 1))


def py_uniform(seed: int, counter: int) -> float:
    """Pure-Python :func:`uniform`."""
    z = _py_mix64(int(seed) + ((int(counter) + 1) * _GOLDEN & _MASK))
    return (float(z >> 11) + 0.5) * _INV53
