"""Two-layer ReLU regression, teacher-student (problems.md §6.3; Safran & Shamir, ICML 2018).

    F(W, a) = (1/2m) Σ_i (Σ_j a_j relu(<w_j, z_i>) - y_i)²

Parameters ordered neuron by neuron, x = (w_1, a_1, w_2, a_2, ...), each block d + 1 long, so
n = k (d + 1) for k hidden neurons. Instance from ``seed`` (in this order): z ~ N(0, I_d) (m, d);
teacher w_j ~ N(0, I_d) and a_j ~ N(0, 1) for j < teacher_width; label noise ~ N(0, noise²);
x0: w_j ~ N(0, I_d / d), a_j ~ N(0, 1/k). Labels are the teacher's outputs computed by the
kernels (:func:`network_outputs`), so F = 0 exactly at the teacher (padded with zero neurons) when
noise = 0 and teacher_width <= k. data rows [z_i (d), y_i]; prm = (d, k, relu'(0)); m = 10n by
default (a finite sum).

Subgradient (minibatch B): (1/|B|) Σ_{i∈B} e_i (relu(u_ij) for a_j; a_j relu'(u_ij) z_i for w_j),
the chain rule with relu'(0) = ``relu_prime0`` (0 = autodiff-like, 1); the gradient off the kinks
u_ij = 0, the conservative-field selection on them. Not regular (problems.md §6.3 and §8.3): no
sum-of-max pieces. Known critical points: 0 (where F is differentiable with zero gradient) and the
teacher; incomplete (dead neurons give non-isolated sets, rescaling (w_j, a_j) -> (t w_j, a_j / t)
and permutations give orbits of the teacher). Dense coupling.
"""

from __future__ import annotations

import math

import numpy as np

from asyncconv._jit import jit
from asyncconv.config import ConfigError, check_int
from asyncconv.problems._base import (
    Instance,
    Param,
    define,
    nonnegative,
    positive_int,
    rng_from_seed,
    zero_one,
)
from asyncconv.problems._common import closed


@jit
def _relu_pre(data, x, i, j, d):
    """u_ij = <w_j, z_i>; neuron j's parameters are x[j (d+1) : j (d+1) + d], a_j = x[j (d+1) + d]."""
    base = j * (d + 1)
    s = 0.0
    for p in range(d):
        s += x[base + p] * data[i, p]
    return s


@jit
def _relu_output(data, x, i, d, k):
    """N(z_i) = sum_j a_j relu(u_ij), summed over neurons in index order."""
    out = 0.0
    for j in range(k):
        u = _relu_pre(data, x, i, j, d)
        if u > 0.0:
            out += x[j * (d + 1) + d] * u
    return out


@jit(inline="always")
def _relu_residual(data, x, i, d, k):
    """e_i = N(z_i) - y_i; data rows [z_i (d), y_i]."""
    return _relu_output(data, x, i, d, k) - data[i, d]


@jit
def network_outputs(prm, data, x):
    """(m,) outputs sum_j a_j relu(<w_j, z_i>) of the ReLU network, used to generate exact labels."""
    d = int(prm[0])
    k = int(prm[1])
    out = np.empty(data.shape[0])
    for i in range(data.shape[0]):
        out[i] = _relu_output(data, x, i, d, k)
    return out


def value(prm, data, x):
    """F = (1/2m) sum_i (sum_j a_j relu(<w_j, z_i>) - y_i)^2."""
    d = int(prm[0])
    k = int(prm[1])
    m = data.shape[0]
    f = 0.0
    for i in range(m):
        e = _relu_residual(data, x, i, d, k)
        f += e * e
    return 0.5 * f / m


def grad(prm, data, x, lo, hi, idx, out):
    """(1/|B|) sum_{i in B} e_i (relu(u_ij) for a_j;  a_j relu'(u_ij) z_i for w_j), relu'(0) = prm[2].

    Off the kinks u_ij = 0 this is the gradient; on them it is the chain-rule (conservative-field)
    selection with the stated relu'(0) (F is not regular, see problems.md §6.3 and §8.3).
    """
    d = int(prm[0])
    k = int(prm[1])
    rp0 = prm[2]
    for c in range(lo, hi):
        out[c - lo] = 0.0
    nb_ = idx.shape[0]
    cnt = nb_ if nb_ > 0 else data.shape[0]
    j_lo = lo // (d + 1)
    j_hi = (hi + d) // (d + 1)  # neurons touched by [lo, hi)
    for t in range(cnt):
        i = idx[t] if nb_ > 0 else t
        e = _relu_residual(data, x, i, d, k)
        for j in range(j_lo, j_hi):
            base = j * (d + 1)
            u = _relu_pre(data, x, i, j, d)
            if u > 0.0:
                act = u
                der = 1.0
            else:
                act = 0.0
                der = rp0 if u == 0.0 else 0.0
            ea = e * x[base + d] * der
            for p in range(d + 1):
                c = base + p
                if c < lo or c >= hi:
                    continue
                if p < d:
                    out[c - lo] += ea * data[i, p]
                else:
                    out[c - lo] += e * act
    for c in range(lo, hi):
        out[c - lo] = out[c - lo] / cnt


def build(n, seed, params):
    """z, teacher (w, a), noise, x0 drawn from ``seed`` in that order; labels from the teacher."""
    d = params["d"]
    if n % (d + 1) != 0:
        raise ConfigError("n", f"must be a multiple of d + 1 = {d + 1} (blocks (w_j, a_j) per neuron)")
    k = n // (d + 1)
    kt = params["teacher_width"] if params["teacher_width"] is not None else k
    m = params["m"] if params["m"] is not None else 10 * n
    rng = rng_from_seed(seed)
    z = rng.standard_normal((m, d))
    tw = rng.standard_normal((kt, d))
    ta = rng.standard_normal(kt)
    noise = params["noise"] * rng.standard_normal(m)
    x0 = np.empty((k, d + 1))
    x0[:, :d] = rng.standard_normal((k, d)) / math.sqrt(d)
    x0[:, d] = rng.standard_normal(k) / math.sqrt(k)
    kk = max(k, kt)
    teacher = np.zeros((kk, d + 1))
    teacher[:kt, :d] = tw
    teacher[:kt, d] = ta
    data = np.zeros((m, d + 1))
    data[:, :d] = z
    y = network_outputs(np.array([d, kk, 0.0]), data, teacher.reshape(-1))
    data[:, d] = y + noise
    realisable = params["noise"] == 0.0 and kt <= k
    crit = [np.zeros(n)] + ([teacher.reshape(-1)] if realisable else [])
    desc = (
        f"two-layer ReLU regression, d = {d}, k = {k} neurons (blocks of {d + 1}), m = {m}, "
        f"teacher width {kt}, noise {params['noise']}, relu'(0) = {params['relu_prime0']}, seed {seed}; "
        "not regular"
    )
    return Instance(
        x0=x0.reshape(-1),
        f_ref=0.0 if realisable else None,
        f_ref_source=closed("F = 0 at the teacher") if realisable else "unknown",
        critical_points=np.stack(crit),
        complete=False,
        prm=[float(d), float(k), float(params["relu_prime0"])],
        data=data,
        n_samples=m,
        description=desc,
        params={**params, "teacher_width": kt, "m": m},
    )


RELU_REGRESSION = define(
    "relu_regression",
    value=value,
    grad=grad,
    build=build,
    title="two-layer ReLU regression, teacher-student",
    coupling="dense",
    halo=-1,
    regular=False,
    convex=False,
    default_n=30,
    n_min=2,
    n_max=None,
    n_rule="n = k (d + 1), k >= 1 neurons",
    known="0 and the teacher (f* = 0 when realisable; incomplete)",
    source="problems.md §6.3; Safran & Shamir, ICML 2018",
    params={
        "d": Param(4, lambda v, f, n: check_int(v, f, ge=1), "input dimension (default 4)"),
        "m": Param(None, positive_int, "number of samples (default 10 n)"),
        "teacher_width": Param(None, positive_int, "teacher neurons (default k = n / (d + 1))"),
        "noise": Param(0.0, nonnegative, "Gaussian label noise std (default 0)"),
        "relu_prime0": Param(0, zero_one, "relu'(0) used by the subgradient: 0 or 1 (default 0)"),
    },
    finite_sum=True,
)
