"""Jitted helpers shared by several problem modules (sign conventions, sparse appends, row dots).

Every problem module imports its helpers from here or defines them itself; the kernels never see
this module directly. Editing it changes the Numba cache key (:mod:`asyncconv._jit`).
"""

from __future__ import annotations

import numpy as np

from asyncconv._jit import jit

HMM_SOURCE = "Haarala, Miettinen, Mäkelä, Optim. Methods Softw. 19(6):673–692, 2004; tnsunc.f (LMBM)"


def closed(text: str = "") -> str:
    """The ``f_ref_source`` of a value known in closed form."""
    return "closed form" + (f" ({text})" if text else "")


@jit(inline="always")
def sign0(v):
    """sign with sign(0) = 0 (and 0 for NaN: callers whose other factors are NaN stay NaN)."""
    if v > 0.0:
        return 1.0
    if v < 0.0:
        return -1.0
    return 0.0


@jit(inline="always")
def sign_pos(v):
    """sign with sign(0) = +1 (Fortran SIGN(1, v) for v = +0)."""
    if v < 0.0:
        return -1.0
    return 1.0


@jit(inline="always")
def put(idx, val, e, i, v):
    """Append the sparse entry (i, v) at position e of ``idx``/``val``; returns e + 1."""
    idx[e] = i
    val[e] = v
    return e + 1


@jit
def row_dot(data, i, x):
    """<a_i, x> for data row i = [a_i (n), b_i], summed in index order (the kernels' order)."""
    s = 0.0
    for j in range(x.shape[0]):
        s += data[i, j] * x[j]
    return s


@jit
def row_dots(data, x):
    """(m,) inner products <a_i, x> summed in the kernels' order, used to generate exact targets."""
    out = np.empty(data.shape[0])
    for i in range(data.shape[0]):
        out[i] = row_dot(data, i, x)
    return out


def toy_x0(n: int) -> np.ndarray:
    """The toys' start (1.5, -0.7, 0.3, -1.8) repeated to length n."""
    return np.resize(np.array([1.5, -0.7, 0.3, -1.8]), n).astype(np.float64)
