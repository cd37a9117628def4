"""Chained Mifflin 2 (Haarala, Miettinen, Mäkelä 2004; ``tnsunc.f``).

    f(x) = Σ_{i=0}^{n-2} -x_i + 2 y_i + 1.75 |y_i|,   y_i = x_i² + x_{i+1}² - 1

Subgradient: term i adds (-1 + (4 + 3.5 s) x_i, (4 + 3.5 s) x_{i+1}), s = sign(y_i), s = +1 at
y_i = 0 (``tnsunc.f``). Strictly convex as coded (problems.md §1 note 8); x* and f* are computed per
n by :func:`asyncconv.problems._reference.mifflin2_reference` (projected Newton on the Lagrangian
dual, certified duality gap), f* evaluated by this module's ``value`` at x*; x* is the only
critical point. Chain coupling, halo 1. x0 = -1. Sum-of-max pieces: n-1 groups
{-u + 3.75 y, -u + 0.25 y}, (u, v) = (x_i, x_{i+1}), y = u² + v² - 1. Torch twin with the
kernel's sign(0) = +1.
"""

from __future__ import annotations

import numpy as np

from asyncconv.problems._base import Instance, define, evaluate, pieces
from asyncconv.problems._common import HMM_SOURCE, put
from asyncconv.problems._reference import mifflin2_reference


def value(prm, data, x):
    """f = sum_i -x_i + 2 y_i + 1.75 |y_i|, y_i = x_i^2 + x_{i+1}^2 - 1."""
    f = 0.0
    for i in range(x.shape[0] - 1):
        y = x[i] * x[i] + x[i + 1] * x[i + 1] - 1.0
        f += -x[i] + 2.0 * y + 1.75 * abs(y)
    return f


def grad(prm, data, x, lo, hi, idx, out):
    """Term i adds (-1 + (4 + 3.5 s) x_i, (4 + 3.5 s) x_{i+1}), s = sign(y_i), sign(0) = +1 (tnsunc.f)."""
    n = x.shape[0]
    for j in range(lo, hi):
        g = 0.0
        if j >= 1:
            y = x[j - 1] * x[j - 1] + x[j] * x[j] - 1.0
            k = 7.5 if y >= 0.0 else 0.5
            g = k * x[j]
        if j <= n - 2:
            y = x[j] * x[j] + x[j + 1] * x[j + 1] - 1.0
            k = 7.5 if y >= 0.0 else 0.5
            g = g + k * x[j] - 1.0
        out[j - lo] = g


def group_values(prm, data, x, j, vals):
    """Group j: -u + 3.75 y and -u + 0.25 y, y = u^2 + v^2 - 1."""
    u = x[j]
    v = x[j + 1]
    y = u * u + v * v - 1.0
    vals[0] = -u + 3.75 * y
    vals[1] = -u + 0.25 * y
    return 2


def piece_grad(prm, data, x, j, k, idx, val, e):
    kk = 7.5 if k == 0 else 0.5
    e = put(idx, val, e, j, -1.0 + kk * x[j])
    return put(idx, val, e, j + 1, kk * x[j + 1])


def torch_value(x, data, prm, idx):
    """The twin: torch.where on the kernel's test y >= 0 gives sign(0) = +1."""
    import torch

    u, v = x[:-1], x[1:]
    y = u * u + v * v - 1.0
    return (-u + 2.0 * y + 1.75 * torch.where(y >= 0.0, y, -y)).sum()


def build(n, seed, params):
    """x0 = -1; x*, f* project-computed (dual, certified gap; complete: strictly convex)."""
    ref = mifflin2_reference(n)
    f = evaluate(CHAINED_MIFFLIN2.value, ref.x)
    return Instance(
        x0=np.full(n, -1.0),
        f_ref=f,
        f_ref_source=ref.source,
        critical_points=ref.x,
        complete=True,
    )


CHAINED_MIFFLIN2 = define(
    "chained_mifflin2",
    value=value,
    grad=grad,
    build=build,
    title="chained Mifflin 2: sum_i -x_i + 2y_i + 1.75|y_i|, y_i = x_i^2 + x_{i+1}^2 - 1",
    coupling="chain",
    halo=1,
    regular=True,
    convex=True,
    default_n=50,
    n_min=2,
    n_rule="n >= 2",
    known="x*, f* project-computed per n (dual, certified gap; complete: strictly convex)",
    source=HMM_SOURCE,
    pieces=pieces(group_values, piece_grad, n_groups=lambda n, prm, data: n - 1),
    torch=torch_value,
)
