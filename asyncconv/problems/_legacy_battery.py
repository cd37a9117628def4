"""The test-problem battery (``reference/problems.md``): registry, validation and :class:`Problem`.

A :class:`Problem` bundles what the jitted kernels need (``pid``, ``prm``, ``data``) with what the
measurements need (reference value, known critical points, structure). The kernels are
:func:`asyncconv.problems._kernels.value` and :func:`asyncconv.problems._kernels.grad_range`;
a simulation kernel calls them directly with ``problem.pid, problem.prm, problem.data``.

=============================  ===  ==========  =====  =======  =======  ===========================
name                           pid  coupling    halo   regular  convex   reference
=============================  ===  ==========  =====  =======  =======  ===========================
maxq                           0    global      -1     yes      yes      x* = 0, f* = 0
mxhilb                         1    dense       -1     yes      yes      x* = 0, f* = 0
chained_lq                     2    chain       1      yes      yes      x* = 2^-1/2 1, -(n-1) sqrt 2
chained_cb3_1                  3    chain       1      yes      yes      x* = 1, f* = 2(n-1)
chained_cb3_2                  4    global      -1     yes      yes      x* = 1, f* = 2(n-1)
active_faces                   5    global      -1     yes      no       x* = 0, f* = 0
brown2                         6    chain       1      yes      no       x* = 0, f* = 0
chained_mifflin2               7    chain       1      yes      yes      computed (dual, certified)
chained_crescent_1             8    global      -1     yes      no       x* = 0, f* = 0
chained_crescent_2             9    chain       1      yes      no       x* = 0, f* = 0
chebyshev_rosenbrock           10   chain       1      yes      no       x* = 1, f* = 0
ns1                            11   chain       1      yes      no       x* = 1, f* = 0
ns2                            12   chain       1      no       no       2^(n-1) critical points
nonsmooth_rosenbrock           13   chain       1      yes      no       x* = (1, 1), f* = 0
chained_nonsmooth_rosenbrock   14   chain       1      yes      no       x* = 1, f* = 0
hald_madsen                    15   global      -1     yes      no       computed (KKT)
shor                           16   global      -1     yes      yes      computed (KKT)
phase_retrieval                17   dense       -1     yes      no       0, +-x_bar; f* = 0
l1_nonconvex_regression        18   dense       -1     yes      no       none
relu_regression                19   dense       -1     no       no       0, teacher (realisable)
weighted_l1                    20   separable   0      yes      yes      x* = 0
l1_plus_quadratic              21   separable   0      yes      yes      x* = 0
double_well_abs                22   separable   0      no       no       3^n points
double_well_sq                 23   separable   0      yes      no       3^n points
trap                           24   pairs       1      yes      yes      x* = (-c/4, -c/4)
trap_nd                        25   pairs       1      yes      yes      x* = -c/4 1
=============================  ===  ==========  =====  =======  =======  ===========================

Random instances (phase retrieval, regressions) are pure functions of ``seed``: one
``numpy.random.Generator(PCG64(SeedSequence(seed)))`` draws, in a documented order, everything.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from asyncconv.config import ConfigError, check_choice, check_int, check_number
from asyncconv.problems import _kernels as K
from asyncconv.problems._reference import (
    SHOR_B,
    SHOR_CENTRES,
    hald_madsen_reference,
    mifflin2_reference,
    shor_reference,
)

__all__ = ["COUPLINGS", "PROBLEMS", "Problem", "ProblemSpec", "list_problems", "make_problem"]

COUPLINGS = ("separable", "chain", "pairs", "global", "dense")

#: the root c of arctan(c) + c/(1+c^2) = pi/4: radius / ||x_bar|| of the population critical sphere (§6.1)
PHASE_SPHERE_RADIUS = 0.44161

_EMPTY_IDX = np.zeros(0, dtype=np.int64)


def _ro(a: Any) -> np.ndarray:
    a = np.array(a, dtype=np.float64, order="C")  # a private copy, then frozen
    a.setflags(write=False)
    return a


# Read-only dummies, so that reference evaluations use the same kernel specialisation as Problem.
_NO_PRM = _ro(np.zeros(1))
_NO_DATA = _ro(np.zeros((1, 1)))


@dataclass(frozen=True, eq=False)
class Problem:
    """One instance of a battery problem.

    Attributes
    ----------
    name, pid, n : the registry name, the kernels' integer id and the dimension.
    prm : float64 (p,), p >= 1 — scalar parameters read by the kernels.
    data : float64 (m, q), at least (1, 1) — finite-sum rows (or constants); a dummy when unused.
    x0 : float64 (n,) — the default start.
    f_ref : optimal (or reference) value when known, else None; ``f_ref_source`` says how it is known.
    critical_points : float64 (C, n) — known Clarke-critical points (C may be 0).
    critical_set_complete : True iff ``critical_points`` is the whole Clarke-critical set.
    coupling : "separable" | "chain" | "pairs" | "global" | "dense".
    halo : ``grad_range(lo, hi)`` reads x only on [lo - halo, hi + halo) (clipped); -1 = all of x.
    regular : Clarke regular everywhere (problems.md: not NS2, ReLU, the ||t|-1| double well).
    n_samples : m for finite sums (minibatches sample rows of ``data``), 0 otherwise.
    convex, description : as named.

    ``prm``, ``data``, ``x0`` and ``critical_points`` are read-only arrays.
    """

    name: str
    pid: int
    n: int
    prm: np.ndarray = field(repr=False)
    data: np.ndarray = field(repr=False)
    x0: np.ndarray = field(repr=False)
    f_ref: float | None
    f_ref_source: str = field(repr=False)
    critical_points: np.ndarray = field(repr=False)
    critical_set_complete: bool
    coupling: str
    halo: int
    regular: bool
    n_samples: int
    convex: bool
    description: str = field(repr=False)
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0

    # --- evaluation (Python side: validates, then calls the kernels) ---------------------------

    def _point(self, x: Any) -> np.ndarray:
        # a writable contiguous copy: one kernel specialisation (read-only prm/data, writable x)
        x = np.array(x, dtype=np.float64, order="C")
        if x.shape != (self.n,):
            raise ValueError(f"x: expected shape ({self.n},), got {x.shape}")
        return x

    def value(self, x: Any) -> float:
        """f(x); x (n,)."""
        return float(K.value(self.pid, self.prm, self.data, self._point(x)))

    def subgradient(self, x: Any, lo: int = 0, hi: int | None = None, idx: Any = None) -> np.ndarray:
        """Coordinates lo..hi-1 (hi - lo,) of the kernel's Clarke subgradient at x.

        ``idx`` (finite sums only): sample indices of a minibatch, the estimate being
        (1/|idx|) sum_{i in idx} grad f_i(x) (plus lam sign(x) for the l1 regulariser); None or
        empty means the full sum.
        """
        x = self._point(x)
        hi = self.n if hi is None else hi
        if not (0 <= lo <= hi <= self.n):
            raise ValueError(f"lo, hi: need 0 <= lo <= hi <= {self.n}, got {lo}, {hi}")
        if idx is None:
            ids = _EMPTY_IDX
        else:
            if self.n_samples == 0:
                raise ValueError(f"idx: {self.name} is not a finite sum")
            ids = np.ascontiguousarray(idx, dtype=np.int64).reshape(-1)
            if ids.size and (ids.min() < 0 or ids.max() >= self.n_samples):
                raise ValueError(f"idx: sample indices must lie in [0, {self.n_samples})")
        out = np.empty(hi - lo)
        K.grad_range(self.pid, self.prm, self.data, x, lo, hi, ids, out)
        return out

    def distance_to_critical(self, x: Any) -> float:
        """min_c ||x - c|| over the rows of ``critical_points`` (nan if there are none).

        The double wells have the product critical set {-1, 0, 1}^n, computed coordinate-wise for
        every n (the rows are only stored for n <= 8).
        """
        x = self._point(x)
        if self.name in ("double_well_abs", "double_well_sq"):
            r = np.minimum(np.minimum(np.abs(x - 1.0), np.abs(x + 1.0)), np.abs(x))
            return float(np.sqrt(np.sum(r * r)))
        if self.critical_points.shape[0] == 0:
            return math.nan
        return float(np.min(np.linalg.norm(self.critical_points - x, axis=1)))

    def summary(self) -> dict[str, Any]:
        """JSON-able description of this instance (no arrays except the small x0 for n <= 20)."""
        return {
            "name": self.name,
            "pid": self.pid,
            "n": self.n,
            "seed": self.seed,
            "params": dict(self.params),
            "f_ref": self.f_ref,
            "f_ref_source": self.f_ref_source,
            "n_critical_points": int(self.critical_points.shape[0]),
            "critical_set_complete": self.critical_set_complete,
            "coupling": self.coupling,
            "halo": self.halo,
            "regular": self.regular,
            "convex": self.convex,
            "n_samples": self.n_samples,
        }


# =================================================================================================
# Registry
# =================================================================================================


@dataclass(frozen=True)
class Param:
    """A problem parameter: default (None = derived from n) and a validator (value, field, n)."""

    default: Any
    check: Callable[[Any, str, int], Any]
    doc: str


@dataclass(frozen=True)
class ProblemSpec:
    """Static facts of a problem and its builder ``build(n, seed, params) -> Problem``."""

    name: str
    pid: int
    title: str
    coupling: str
    halo: int
    regular: bool
    convex: bool
    default_n: int
    n_min: int
    n_max: int | None
    n_rule: str
    known: str
    source: str
    build: Callable[[int, int, dict[str, Any]], Problem] = field(repr=False)
    params: Mapping[str, Param] = field(default_factory=dict)
    n_step: int = 1  # n must be a multiple of this (trap_nd: 2); relu checks d + 1 itself
    finite_sum: bool = False


PROBLEMS: dict[str, ProblemSpec] = {}


def _register(spec: ProblemSpec) -> None:
    assert spec.name not in PROBLEMS and spec.coupling in COUPLINGS
    PROBLEMS[spec.name] = spec


def _problem(spec_name: str, n: int, seed: int, params: dict[str, Any], **kw: Any) -> Problem:
    spec = PROBLEMS[spec_name]
    prm = kw.pop("prm", _NO_PRM)
    data = kw.pop("data", _NO_DATA)
    crit = np.asarray(kw.pop("critical_points"), dtype=np.float64).reshape(-1, n)
    return Problem(
        name=spec.name,
        pid=spec.pid,
        n=n,
        prm=_ro(np.atleast_1d(prm)),
        data=_ro(np.atleast_2d(data)),
        x0=_ro(kw.pop("x0")),
        f_ref=kw.pop("f_ref"),
        f_ref_source=kw.pop("f_ref_source"),
        critical_points=_ro(crit),
        critical_set_complete=kw.pop("complete"),
        coupling=spec.coupling,
        halo=spec.halo,
        regular=spec.regular,
        n_samples=kw.pop("n_samples", 0),
        convex=spec.convex,
        description=kw.pop("description", f"{spec.title}. Known: {spec.known}. Source: {spec.source}"),
        params=dict(params),
        seed=seed,
    )


def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


# --- validators ----------------------------------------------------------------------------------


def _pos(value: Any, fld: str, n: int) -> float:
    return check_number(value, fld, gt=0.0)


def _nonneg(value: Any, fld: str, n: int) -> float:
    return check_number(value, fld, ge=0.0)


def _real(value: Any, fld: str, n: int) -> float:
    return check_number(value, fld)


def _fraction(value: Any, fld: str, n: int) -> float:
    return check_number(value, fld, ge=0.0, lt=1.0)


def _pos_int(value: Any, fld: str, n: int) -> int | None:
    return None if value is None else check_int(value, fld, ge=1)


def _zero_one(value: Any, fld: str, n: int) -> int:
    v = check_int(value, fld)
    if v not in (0, 1):
        raise ConfigError(fld, f"must be 0 or 1 (got {value!r})")
    return v


def _weights(value: Any, fld: str, n: int) -> float | tuple[float, ...] | None:
    if value is None:
        return None
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
        if len(value) != n:
            raise ConfigError(fld, f"must be one positive number or a list of n = {n} (got {len(value)})")
        return tuple(check_number(v, f"{fld}[{i}]", gt=0.0) for i, v in enumerate(value))
    return check_number(value, fld, gt=0.0)


# =================================================================================================
# Builders. Each docstring: formula, source, subgradient selection (the kernel docstrings repeat it).
# =================================================================================================

_HMM = "Haarala, Miettinen, Mäkelä, Optim. Methods Softw. 19(6):673–692, 2004; tnsunc.f (LMBM)"


def _closed(text: str = "") -> str:
    return "closed form" + (f" ({text})" if text else "")


def _build_maxq(n, seed, params):
    """Generalised MAXQ: f = max_i x_i^2. x0_i = i (i <= n/2), -i otherwise (1-based).

    Subgradient 2 x_h e_h, h the first maximiser of x_i^2 (tnsunc.f). Convex, x* = 0, f* = 0
    (not sharp). Cross-block ties are blockwise critical without being Clarke critical.
    """
    i = np.arange(1, n + 1, dtype=np.float64)
    x0 = np.where(i <= n // 2, i, -i)
    return _problem(
        "maxq",
        n,
        seed,
        params,
        x0=x0,
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=np.zeros(n),
        complete=True,
    )


def _build_mxhilb(n, seed, params):
    """Generalised MXHILB: f = max_i |sum_j x_j/(i+j-1)|, x0 = 1.

    Subgradient sign(r_h) H_h. with h the first maximiser of |r_i| and sign(0) = +1 (tnsunc.f).
    Convex, x* = 0, f* = 0 (sharp); H is badly conditioned, so judge by f - f*. Cost O(n^2).
    """
    return _problem(
        "mxhilb",
        n,
        seed,
        params,
        x0=np.ones(n),
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=np.zeros(n),
        complete=True,
    )


def _build_chained_lq(n, seed, params):
    """Chained LQ: f = sum_i max{-x_i - x_{i+1}, -x_i - x_{i+1} + x_i^2 + x_{i+1}^2 - 1}, x0 = -0.5.

    Term i adds (-1, -1), plus (2x_i, 2x_{i+1}) when x_i^2 + x_{i+1}^2 > 1 (ties: linear piece).
    Convex; x* = 2^-1/2 1 (on every kink), f* = -(n-1) sqrt 2.
    """
    return _problem(
        "chained_lq",
        n,
        seed,
        params,
        x0=np.full(n, -0.5),
        f_ref=-(n - 1) * math.sqrt(2.0),
        f_ref_source=_closed("-(n-1) sqrt 2"),
        critical_points=np.full(n, 2.0**-0.5),
        complete=True,
    )


def _build_cb3_1(n, seed, params):
    """Chained CB3 I: f = sum_i max{x_i^4 + x_{i+1}^2, (2-x_i)^2 + (2-x_{i+1})^2, 2 e^{-x_i+x_{i+1}}}.

    x0 = 2. Active-piece gradients, ties resolved first > second > third (tnsunc.f). Convex,
    x* = 1, f* = 2(n-1), sharp (0 interior to the hull at x*).
    """
    return _problem(
        "chained_cb3_1",
        n,
        seed,
        params,
        x0=np.full(n, 2.0),
        f_ref=2.0 * (n - 1),
        f_ref_source=_closed("2(n-1)"),
        critical_points=np.ones(n),
        complete=True,
    )


def _build_cb3_2(n, seed, params):
    """Chained CB3 II: f = max of the three chained sums of CB3 I; x0 = 2.

    Gradient of the largest sum, ties first > second > third (tnsunc.f); touches every coordinate.
    Convex, x* = 1, f* = 2(n-1).
    """
    return _problem(
        "chained_cb3_2",
        n,
        seed,
        params,
        x0=np.full(n, 2.0),
        f_ref=2.0 * (n - 1),
        f_ref_source=_closed("2(n-1)"),
        critical_points=np.ones(n),
        complete=True,
    )


def _build_active_faces(n, seed, params):
    """Number of active faces: f = max{g(-sum_j x_j), max_i g(x_i)}, g(t) = ln(|t| + 1); x0 = 1.

    Sum piece only when strictly larger (tnsunc.f), pieces compared on |.|; sign(0) = +1.
    Nonconvex, regular; x* = 0, f* = 0; other critical points not catalogued.
    """
    return _problem(
        "active_faces",
        n,
        seed,
        params,
        x0=np.ones(n),
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=np.zeros(n),
        complete=False,
    )


def _build_brown2(n, seed, params):
    """Nonsmooth Brown 2: f = sum_i |x_i|^(x_{i+1}^2+1) + |x_{i+1}|^(x_i^2+1); x0 = (-1, 1, -1, ...).

    Hand-coded derivative with ln|b| := 0 at b = 0 (no 0 * -inf); sign(0) = +1 for a term's first
    argument and 0 for its second (tnsunc.f). Nonconvex, regular; x* = 0, f* = 0 (sharp).
    """
    x0 = np.where(np.arange(n) % 2 == 0, -1.0, 1.0)
    return _problem(
        "brown2",
        n,
        seed,
        params,
        x0=x0,
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=np.zeros(n),
        complete=False,
    )


def _build_mifflin2(n, seed, params):
    """Chained Mifflin 2: f = sum_i -x_i + 2 y_i + 1.75 |y_i|, y_i = x_i^2 + x_{i+1}^2 - 1; x0 = -1.

    Term i adds (-1 + (4 + 3.5 s) x_i, (4 + 3.5 s) x_{i+1}), s = sign(y_i), s = +1 at y_i = 0
    (tnsunc.f). Strictly convex as coded (problems.md §1 note 8); x*, f* computed by
    :func:`asyncconv.problems.reference.mifflin2_reference` (dual projected Newton, certified gap).
    """
    ref = mifflin2_reference(n)
    f = float(K.value(K.P_CHAINED_MIFFLIN2, _NO_PRM, _NO_DATA, ref.x))
    return _problem(
        "chained_mifflin2",
        n,
        seed,
        params,
        x0=np.full(n, -1.0),
        f_ref=f,
        f_ref_source=ref.source,
        critical_points=ref.x,
        complete=True,
    )


def _build_crescent_1(n, seed, params):
    """Chained Crescent I: f = max{sum_i x_i^2 + (x_{i+1}-1)^2 + x_{i+1} - 1,
    sum_i -x_i^2 - (x_{i+1}-1)^2 + x_{i+1} + 1}; x0 = (-1.5, 2, -1.5, ...).

    Gradient of the larger sum, the first on ties (tnsunc.f). Equals S + |Q - (n-1)|; nonconvex,
    regular, x* = 0, f* = 0 unique minimiser (problems.md §1 note 9; not the soobench port).
    """
    x0 = np.where(np.arange(n) % 2 == 0, -1.5, 2.0)
    return _problem(
        "chained_crescent_1",
        n,
        seed,
        params,
        x0=x0,
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=np.zeros(n),
        complete=False,
    )


def _build_crescent_2(n, seed, params):
    """Chained Crescent II: f = sum_i max{x_i^2 + (x_{i+1}-1)^2 + x_{i+1} - 1,
    -x_i^2 - (x_{i+1}-1)^2 + x_{i+1} + 1}; x0 as Crescent I.

    Term i adds (2 s x_i, 1 + 2 s (x_{i+1} - 1)), s = +1 iff the first piece is >= the second.
    Nonconvex, regular, x* = 0 unique global minimiser, f* = 0.
    """
    x0 = np.where(np.arange(n) % 2 == 0, -1.5, 2.0)
    return _problem(
        "chained_crescent_2",
        n,
        seed,
        params,
        x0=x0,
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=np.zeros(n),
        complete=False,
    )


_CR_SRC = "Gürbüzbalaban & Overton, Nonlinear Analysis 75:1282–1289, 2012; HANSO driver"


def _cr_x0(n):
    x0 = np.ones(n)
    x0[0] = -1.0
    return x0


def _build_cheb(n, seed, params):
    """Nesterov's Chebyshev–Rosenbrock (smooth): f = (x_1-1)^2/4 + sum_i (x_{i+1} - 2x_i^2 + 1)^2.

    x0 = (-1, 1, ..., 1). Gradient. The only critical point is x* = 1 (back-substitution from the
    last coordinate forces every residual to 0, then x_1 = 1), f* = 0.
    """
    return _problem(
        "chebyshev_rosenbrock",
        n,
        seed,
        params,
        x0=_cr_x0(n),
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=np.ones(n),
        complete=True,
    )


def _build_ns1(n, seed, params):
    """Nesterov's first nonsmooth Chebyshev–Rosenbrock: f = (x_1-1)^2/4 + sum_i |x_{i+1} - 2x_i^2 + 1|.

    Subgradient (x_1-1)/2 e_1 + sum_i s_i (e_{i+1} - 4 x_i e_i), s_i = sign(r_i), sign(0) = 0
    (regular). x0 = (-1, 1, ..., 1). Only Clarke-stationary point x* = 1, f* = 0 [HANSO driver].
    """
    return _problem(
        "ns1",
        n,
        seed,
        params,
        x0=_cr_x0(n),
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=np.ones(n),
        complete=True,
    )


def ns2_critical_points(n: int) -> np.ndarray:
    """(2^(n-1), n): x_1 = 1 - k 2^(2-n), k = 0..2^(n-1)-1, then x_{i+1} = 2|x_i| - 1 (tent map).

    All entries are dyadic rationals with at most n bits, so they are exact in float64, and
    f = k 2^-n exactly on them. Row k is the point with f-level k.
    """
    k = np.arange(2 ** (n - 1), dtype=np.float64)
    pts = np.empty((k.size, n))
    pts[:, 0] = 1.0 - k * 2.0 ** (2 - n)
    for i in range(n - 1):
        pts[:, i + 1] = 2.0 * np.abs(pts[:, i]) - 1.0
    return pts


def _build_ns2(n, seed, params):
    """Nesterov's second nonsmooth Chebyshev–Rosenbrock: f = |x_1-1|/4 + sum_i |x_{i+1} - 2|x_i| + 1|.

    Not regular. Subgradient with every sign(0) = +1, a limit of gradients (see the kernel).
    x0 = (-1, 1, ..., 1). Critical set: the 2^(n-1) tent-map points of :func:`ns2_critical_points`,
    f = k 2^-n on them; only k = 0 (x* = 1) is a minimiser. Use n <= 8 (problems.md §3 warning).
    """
    return _problem(
        "ns2",
        n,
        seed,
        params,
        x0=_cr_x0(n),
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=ns2_critical_points(n),
        complete=True,
    )


def _rosen_x0(n):
    return np.where(np.arange(n) % 2 == 0, -1.2, 1.0)


def _build_ns_rosenbrock(n, seed, params):
    """Nonsmooth Rosenbrock (Curtis–Mitchell–Overton 2017, GRANSO): f = w|x_1^2 - x_2| + (1 - x_1)^2.

    n = 2, w = 8 by default, unconstrained. Subgradient (2 w s x_1 - 2(1 - x_1), -w s),
    s = sign(x_1^2 - x_2), sign(0) = 0. Unique Clarke-critical point (1, 1), f* = 0. x0 = (-1.2, 1).
    """
    return _problem(
        "nonsmooth_rosenbrock",
        n,
        seed,
        params,
        prm=[params["w"]],
        x0=_rosen_x0(n),
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=np.ones(n),
        complete=True,
    )


def _build_chained_ns_rosenbrock(n, seed, params):
    """Chained nonsmooth Rosenbrock (project construction): f = sum_i w|x_i^2 - x_{i+1}| + (1 - x_i)^2.

    Term i adds (2 w s x_i - 2(1 - x_i), -w s), s = sign(x_i^2 - x_{i+1}), sign(0) = 0. Unique
    global minimiser 1, f* = 0; other critical points not established. x0 = (-1.2, 1, -1.2, ...).
    """
    return _problem(
        "chained_nonsmooth_rosenbrock",
        n,
        seed,
        params,
        prm=[params["w"]],
        x0=_rosen_x0(n),
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=np.ones(n),
        complete=False,
    )


def _build_hald_madsen(n, seed, params):
    """Hald–Madsen: f = max_{i<21} |(x_1 + x_2 t_i)/(1 + x_3 t_i + x_4 t_i^2 + x_5 t_i^3) - e^{t_i}|,
    t_i = -1 + i/10 (adagio fnHald). n = 5, x0 = (0.5, 0, 0, 0, 0).

    Subgradient sign(v_h) grad v_h (first maximiser, sign(0) = 0), grad v derived by hand:
    (1/D, t/D, -N t/D^2, -N t^2/D^2, -N t^3/D^2). |D| < 1e-12 is replaced by +-1e-12 (the true f
    has poles there; keep iterates where D > 0). Reference: a certified critical point (KKT).
    """
    ref = hald_madsen_reference()
    f = float(K.value(K.P_HALD_MADSEN, _NO_PRM, _NO_DATA, ref.x))
    return _problem(
        "hald_madsen",
        n,
        seed,
        params,
        x0=np.array([0.5, 0, 0, 0, 0.0]),
        f_ref=f,
        f_ref_source=ref.source,
        critical_points=ref.x,
        complete=False,
    )


def _build_shor(n, seed, params):
    """Shor: f = max_i b_i ||x - a_i||^2 (SolvOpt shorf, Kuntsevich & Kappel), n = 5, x0 = (0,0,0,0,1).

    data rows [a_i (5), b_i]. Subgradient 2 b_h (x - a_h), first maximiser. Strictly convex (each
    piece is), so the computed KKT point is the unique minimiser.
    """
    ref = shor_reference()
    data = _ro(np.hstack([SHOR_CENTRES, SHOR_B[:, None]]))
    f = float(K.value(K.P_SHOR, _NO_PRM, data, ref.x))
    return _problem(
        "shor",
        n,
        seed,
        params,
        data=data,
        x0=np.array([0, 0, 0, 0, 1.0]),
        f_ref=f,
        f_ref_source=ref.source,
        critical_points=ref.x,
        complete=True,
    )


def _build_phase(n, seed, params):
    """Robust phase retrieval (Duchi & Ruan 2019; Davis, Drusvyatskiy & Paquette, arXiv 1711.03247):
    f = (1/m) sum_i |<a_i, x>^2 - b_i|, b_i = <a_i, x_bar>^2.

    Instance from ``seed`` (in this order): x_bar ~ N(0, I_n) normalised to ||x_bar|| = 1;
    A ~ N(0, 1) (m, n); x0 ~ N(0, I_n) scaled to ||x_bar||. b is computed with the kernels' inner
    product, so f(+-x_bar) = 0 exactly. data rows [a_i (n), b_i]. Minibatch subgradient
    (1/|B|) sum 2 sign(r_i) <a_i, x> a_i, sign(0) = 0. Weakly convex (regular).
    Known critical points 0, x_bar, -x_bar (incomplete: the empirical f also has critical points
    near the population sphere {x perp x_bar, ||x|| = 0.4416 ||x_bar||}).
    """
    m = params["m"] if params["m"] is not None else 4 * n
    rng = _rng(seed)
    xbar = rng.standard_normal(n)
    xbar /= np.linalg.norm(xbar)
    a = rng.standard_normal((m, n))
    x0 = rng.standard_normal(n)
    x0 *= np.linalg.norm(xbar) / np.linalg.norm(x0)
    data = np.empty((m, n + 1))
    data[:, :n] = a
    p = K.row_dots(data, xbar)
    data[:, n] = p * p
    desc = (
        f"robust phase retrieval, d = {n}, m = {m} Gaussian measurements, seed {seed}; weakly convex; "
        f"population critical set {{0}} U {{+-x_bar}} U sphere {{x perp x_bar, ||x|| = "
        f"{PHASE_SPHERE_RADIUS} ||x_bar||}}; catalogued rows: 0, x_bar, -x_bar"
    )
    return _problem(
        "phase_retrieval",
        n,
        seed,
        {**params, "m": m},
        data=data,
        x0=x0,
        f_ref=0.0,
        f_ref_source=_closed("f(+-x_bar) = 0"),
        critical_points=np.stack([np.zeros(n), xbar, -xbar]),
        complete=False,
        n_samples=m,
        description=desc,
    )


def _build_l1reg(n, seed, params):
    """l1-regularised nonconvex regression: f = (1/m) sum_i log(1 + (<a_i, x> - b_i)^2) + lam ||x||_1.

    Instance from ``seed`` (in this order): support of x_bar, max(1, n // 4) coordinates; their
    values ~ N(0, 1); A ~ N(0, 1) (m, n); noise ~ N(0, noise^2); outlier mask ~ Bernoulli(outliers)
    with outlier size ~ N(0, 10^2); x0 ~ N(0, I_n). b = A x_bar + noise + outliers.
    Minibatch subgradient (1/|B|) sum 2 r_i/(1 + r_i^2) a_i + lam sign(x), sign(0) = 0 (the
    regulariser is deterministic). The nonsmooth part is separable: blockwise and Clarke
    criticality coincide. No known critical points.
    """
    m = params["m"] if params["m"] is not None else 4 * n
    rng = _rng(seed)
    k = max(1, n // 4)
    support = rng.choice(n, size=k, replace=False)
    xbar = np.zeros(n)
    xbar[support] = rng.standard_normal(k)
    a = rng.standard_normal((m, n))
    noise = params["noise"] * rng.standard_normal(m)
    out_mask = rng.random(m) < params["outliers"]
    out_size = 10.0 * rng.standard_normal(m)
    x0 = rng.standard_normal(n)
    data = np.empty((m, n + 1))
    data[:, :n] = a
    data[:, n] = K.row_dots(data, xbar) + noise + np.where(out_mask, out_size, 0.0)
    desc = (
        f"l1-regularised log(1+r^2) regression, n = {n}, m = {m}, lam = {params['lam']}, seed {seed}; "
        "separable nonsmooth part (blockwise = Clarke criticality); critical set unknown"
    )
    return _problem(
        "l1_nonconvex_regression",
        n,
        seed,
        {**params, "m": m},
        prm=[params["lam"]],
        data=data,
        x0=x0,
        f_ref=None,
        f_ref_source="unknown",
        critical_points=np.zeros((0, n)),
        complete=False,
        n_samples=m,
        description=desc,
    )


def _build_relu(n, seed, params):
    """Two-layer ReLU regression: F(W, a) = (1/2m) sum_i (sum_j a_j relu(<w_j, z_i>) - y_i)^2.

    Parameters ordered neuron by neuron, x = (w_1, a_1, w_2, a_2, ...), each block d + 1 long, so
    n = k (d + 1) for k hidden neurons. Instance from ``seed`` (in this order): z ~ N(0, I_d) (m, d);
    teacher w_j ~ N(0, I_d) and a_j ~ N(0, 1) for j < teacher_width; label noise ~ N(0, noise^2);
    x0: w_j ~ N(0, I_d / d), a_j ~ N(0, 1/k). Labels are the teacher's outputs computed by the
    kernels, so F = 0 exactly at the teacher (padded with zero neurons) when noise = 0 and
    teacher_width <= k. data rows [z_i (d), y_i]; prm = (d, k, relu'(0)).
    Subgradient: chain rule with relu'(0) = ``relu_prime0`` (0 = autodiff-like, 1); the gradient
    off the kinks. Not regular. Known critical points: 0 (where F is differentiable with zero
    gradient) and the teacher; incomplete (dead neurons give non-isolated sets, rescaling
    (w_j, a_j) -> (t w_j, a_j / t) and permutations give orbits of the teacher).
    """
    d = params["d"]
    if n % (d + 1) != 0:
        raise ConfigError("n", f"must be a multiple of d + 1 = {d + 1} (blocks (w_j, a_j) per neuron)")
    k = n // (d + 1)
    kt = params["teacher_width"] if params["teacher_width"] is not None else k
    m = params["m"] if params["m"] is not None else 10 * n
    rng = _rng(seed)
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
    y = K.network_outputs(np.array([d, kk, 0.0]), data, teacher.reshape(-1))
    data[:, d] = y + noise
    realisable = params["noise"] == 0.0 and kt <= k
    crit = [np.zeros(n)] + ([teacher.reshape(-1)] if realisable else [])
    desc = (
        f"two-layer ReLU regression, d = {d}, k = {k} neurons (blocks of {d + 1}), m = {m}, "
        f"teacher width {kt}, noise {params['noise']}, relu'(0) = {params['relu_prime0']}, seed {seed}; "
        "not regular"
    )
    return _problem(
        "relu_regression",
        n,
        seed,
        {**params, "teacher_width": kt, "m": m},
        prm=[float(d), float(k), float(params["relu_prime0"])],
        data=data,
        x0=x0.reshape(-1),
        f_ref=0.0 if realisable else None,
        f_ref_source=_closed("F = 0 at the teacher") if realisable else "unknown",
        critical_points=np.stack(crit),
        complete=False,
        n_samples=m,
        description=desc,
    )


_TOY_X0 = np.array([1.5, -0.7, 0.3, -1.8])


def _toy_x0(n):
    return np.resize(_TOY_X0, n).astype(np.float64)


def _build_weighted_l1(n, seed, params):
    """f = sum_i c_i |x_i| (problems.md §7), c_i > 0; default c_i = 1 + (i mod 4)/4 (0-based i).

    Subgradient c_i sign(x_i), sign(0) = 0. crit f = {0}, f* = 0. x0 = (1.5, -0.7, 0.3, -1.8, ...).
    Closed-form DI solution x_i(t) = sign(x_i(0)) max(|x_i(0)| - lambda_i c_i t, 0).
    """
    c = params["c"]
    if c is None:
        cv = 1.0 + (np.arange(n) % 4) / 4.0
    elif isinstance(c, tuple):
        cv = np.array(c)
    else:
        cv = np.full(n, c)
    return _problem(
        "weighted_l1",
        n,
        seed,
        params,
        prm=cv,
        x0=_toy_x0(n),
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=np.zeros(n),
        complete=True,
    )


def _build_l1_plus_quadratic(n, seed, params):
    """f = |x_1| + x_2^2/2 (n = 2). Subgradient (sign(x_1), x_2), sign(0) = 0; crit f = {0}."""
    return _problem(
        "l1_plus_quadratic",
        n,
        seed,
        params,
        x0=_toy_x0(n),
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=np.zeros(n),
        complete=True,
    )


def _wells(n):
    if n > 8:
        return np.zeros((0, n)), False
    return np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=n))), True


def _build_double_well_abs(n, seed, params):
    """f = sum_i ||x_i| - 1|: minima at x_i = +-1 (sharp), a downward kink (not regular) at 0.

    Subgradient sign(|x_i| - 1) sign(x_i), sign(0) = 0 (Clarke: separable, product of [-1, 1]'s).
    Critical set {-1, 0, 1}^n, stored for n <= 8 (distance_to_critical is exact for every n).
    """
    crit, complete = _wells(n)
    return _problem(
        "double_well_abs",
        n,
        seed,
        params,
        x0=_toy_x0(n),
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=crit,
        complete=complete,
    )


def _build_double_well_sq(n, seed, params):
    """f = sum_i |x_i^2 - 1|: sharp minima at +-1, a smooth local maximum at 0 (regular).

    Subgradient 2 x_i sign(x_i^2 - 1), sign(0) = 0. Critical set {-1, 0, 1}^n, stored for n <= 8.
    """
    crit, complete = _wells(n)
    return _problem(
        "double_well_sq",
        n,
        seed,
        params,
        x0=_toy_x0(n),
        f_ref=0.0,
        f_ref_source=_closed(),
        critical_points=crit,
        complete=complete,
    )


def _build_trap(n, seed, params, name="trap_nd"):
    """Blockwise-critical trap (problems.md §8.1): f = |x_1 - x_2| + (c/2)(x_1 + x_2) + (x_1 + x_2)^2/2.

    n-D version (trap_nd): sum over the disjoint pairs (x_2p, x_2p+1). Subgradient
    (s + c/2 + sg, s + c/2 - sg) per pair, s = sum of the pair, sg = sign(difference), sign(0) = 0.
    Unique Clarke-critical point -c/4 per coordinate, f* = -(n/2) c^2/8; every diagonal pair
    (t, t) with |c/2 + 2t| <= 1 is blockwise critical. x0 = (2, -1.5) per pair.
    """
    c = params["c"]
    x0 = np.resize(np.array([2.0, -1.5]), n)
    f_ref = -(n // 2) * c * c / 8.0
    return _problem(
        name,
        n,
        seed,
        params,
        prm=[c],
        x0=x0,
        f_ref=f_ref,
        f_ref_source=_closed("-(n/2) c^2/8"),
        critical_points=np.full(n, -c / 4.0),
        complete=True,
    )


# --- registration --------------------------------------------------------------------------------

_W = {"w": Param(8.0, _pos, "weight w > 0 of the kink term (default 8)")}
_C = {"c": Param(1.0, _real, "linear coefficient c (default 1)")}


_register(
    ProblemSpec(
        name="maxq",
        pid=K.P_MAXQ,
        title="generalised MAXQ: max_i x_i^2",
        coupling="global",
        halo=-1,
        regular=True,
        convex=True,
        default_n=50,
        n_min=1,
        n_max=None,
        n_rule="n >= 1",
        known="x* = 0, f* = 0 (complete)",
        source=_HMM,
        build=_build_maxq,
    )
)
_register(
    ProblemSpec(
        name="mxhilb",
        pid=K.P_MXHILB,
        title="generalised MXHILB: max_i |(H x)_i|, Hilbert H",
        coupling="dense",
        halo=-1,
        regular=True,
        convex=True,
        default_n=50,
        n_min=1,
        n_max=2000,
        n_rule="1 <= n <= 2000 (O(n^2) per evaluation)",
        known="x* = 0, f* = 0 (complete)",
        source=_HMM,
        build=_build_mxhilb,
    )
)
_register(
    ProblemSpec(
        name="chained_lq",
        pid=K.P_CHAINED_LQ,
        title="chained LQ: sum_i max{-x_i-x_{i+1}, ... + x_i^2+x_{i+1}^2-1}",
        coupling="chain",
        halo=1,
        regular=True,
        convex=True,
        default_n=50,
        n_min=2,
        n_max=None,
        n_rule="n >= 2",
        known="x* = 2^-1/2 1, f* = -(n-1) sqrt 2 (complete)",
        source=_HMM,
        build=_build_chained_lq,
    )
)
_register(
    ProblemSpec(
        name="chained_cb3_1",
        pid=K.P_CHAINED_CB3_1,
        title="chained CB3 I: sum of maxima of three pieces",
        coupling="chain",
        halo=1,
        regular=True,
        convex=True,
        default_n=50,
        n_min=2,
        n_max=None,
        n_rule="n >= 2",
        known="x* = 1, f* = 2(n-1) (complete)",
        source=_HMM,
        build=_build_cb3_1,
    )
)
_register(
    ProblemSpec(
        name="chained_cb3_2",
        pid=K.P_CHAINED_CB3_2,
        title="chained CB3 II: maximum of three chained sums",
        coupling="global",
        halo=-1,
        regular=True,
        convex=True,
        default_n=50,
        n_min=2,
        n_max=None,
        n_rule="n >= 2",
        known="x* = 1, f* = 2(n-1) (complete)",
        source=_HMM,
        build=_build_cb3_2,
    )
)
_register(
    ProblemSpec(
        name="active_faces",
        pid=K.P_ACTIVE_FACES,
        title="number of active faces: max{g(-sum x), max_i g(x_i)}, g = ln(|.|+1)",
        coupling="global",
        halo=-1,
        regular=True,
        convex=False,
        default_n=50,
        n_min=1,
        n_max=None,
        n_rule="n >= 1",
        known="x* = 0, f* = 0 (others not catalogued)",
        source=_HMM,
        build=_build_active_faces,
    )
)
_register(
    ProblemSpec(
        name="brown2",
        pid=K.P_BROWN2,
        title="nonsmooth Brown 2: sum_i |x_i|^(x_{i+1}^2+1) + |x_{i+1}|^(x_i^2+1)",
        coupling="chain",
        halo=1,
        regular=True,
        convex=False,
        default_n=50,
        n_min=2,
        n_max=None,
        n_rule="n >= 2",
        known="x* = 0, f* = 0 (others not catalogued)",
        source=_HMM,
        build=_build_brown2,
    )
)
_register(
    ProblemSpec(
        name="chained_mifflin2",
        pid=K.P_CHAINED_MIFFLIN2,
        title="chained Mifflin 2: sum_i -x_i + 2y_i + 1.75|y_i|, y_i = x_i^2 + x_{i+1}^2 - 1",
        coupling="chain",
        halo=1,
        regular=True,
        convex=True,
        default_n=50,
        n_min=2,
        n_max=None,
        n_rule="n >= 2",
        known="x*, f* project-computed per n (dual, certified gap; complete: strictly convex)",
        source=_HMM,
        build=_build_mifflin2,
    )
)
_register(
    ProblemSpec(
        name="chained_crescent_1",
        pid=K.P_CHAINED_CRESCENT_1,
        title="chained crescent I: max of two chained sums",
        coupling="global",
        halo=-1,
        regular=True,
        convex=False,
        default_n=50,
        n_min=2,
        n_max=None,
        n_rule="n >= 2",
        known="x* = 0, f* = 0 (others not catalogued)",
        source=_HMM,
        build=_build_crescent_1,
    )
)
_register(
    ProblemSpec(
        name="chained_crescent_2",
        pid=K.P_CHAINED_CRESCENT_2,
        title="chained crescent II: sum of maxima of two pieces",
        coupling="chain",
        halo=1,
        regular=True,
        convex=False,
        default_n=50,
        n_min=2,
        n_max=None,
        n_rule="n >= 2",
        known="x* = 0, f* = 0 (others not catalogued)",
        source=_HMM,
        build=_build_crescent_2,
    )
)
_register(
    ProblemSpec(
        name="chebyshev_rosenbrock",
        pid=K.P_CHEB_ROSENBROCK,
        title="Nesterov's Chebyshev–Rosenbrock (smooth)",
        coupling="chain",
        halo=1,
        regular=True,
        convex=False,
        default_n=3,
        n_min=2,
        n_max=None,
        n_rule="n >= 2",
        known="x* = 1, f* = 0 (complete)",
        source=_CR_SRC,
        build=_build_cheb,
    )
)
_register(
    ProblemSpec(
        name="ns1",
        pid=K.P_NS1,
        title="Nesterov's nonsmooth Chebyshev–Rosenbrock 1: (x_1-1)^2/4 + sum |x_{i+1}-2x_i^2+1|",
        coupling="chain",
        halo=1,
        regular=True,
        convex=False,
        default_n=3,
        n_min=2,
        n_max=None,
        n_rule="n >= 2",
        known="x* = 1, f* = 0 (complete)",
        source=_CR_SRC,
        build=_build_ns1,
    )
)
_register(
    ProblemSpec(
        name="ns2",
        pid=K.P_NS2,
        title="Nesterov's nonsmooth Chebyshev–Rosenbrock 2: |x_1-1|/4 + sum |x_{i+1}-2|x_i|+1|",
        coupling="chain",
        halo=1,
        regular=False,
        convex=False,
        default_n=3,
        n_min=2,
        n_max=12,
        n_rule="2 <= n <= 12 (use n <= 8)",
        known="2^(n-1) critical points, f = k 2^-n (complete); x* = 1, f* = 0",
        source=_CR_SRC,
        build=_build_ns2,
    )
)
_register(
    ProblemSpec(
        name="nonsmooth_rosenbrock",
        pid=K.P_NS_ROSENBROCK,
        title="nonsmooth Rosenbrock: w|x_1^2 - x_2| + (1-x_1)^2",
        coupling="chain",
        halo=1,
        regular=True,
        convex=False,
        default_n=2,
        n_min=2,
        n_max=2,
        n_rule="n = 2",
        known="x* = (1, 1), f* = 0 (complete)",
        source="Curtis, Mitchell, Overton 2017; GRANSO/PyGRANSO examples",
        build=_build_ns_rosenbrock,
        params=_W,
    )
)
_register(
    ProblemSpec(
        name="chained_nonsmooth_rosenbrock",
        pid=K.P_CHAINED_NS_ROSENBROCK,
        title="chained nonsmooth Rosenbrock: sum_i w|x_i^2 - x_{i+1}| + (1-x_i)^2",
        coupling="chain",
        halo=1,
        regular=True,
        convex=False,
        default_n=10,
        n_min=2,
        n_max=None,
        n_rule="n >= 2",
        known="x* = 1, f* = 0 (others not established)",
        source="project construction (problems.md §4)",
        build=_build_chained_ns_rosenbrock,
        params=_W,
    )
)
_register(
    ProblemSpec(
        name="hald_madsen",
        pid=K.P_HALD_MADSEN,
        title="Hald–Madsen rational minimax: max_i |v_i(x)|, 21 points",
        coupling="global",
        halo=-1,
        regular=True,
        convex=False,
        default_n=5,
        n_min=5,
        n_max=5,
        n_rule="n = 5",
        known="f* ~ 1.2237e-4 project-computed (KKT)",
        source="Hald & Madsen; adagio fnHald; Lukšan–Vlček minimax collection",
        build=_build_hald_madsen,
    )
)
_register(
    ProblemSpec(
        name="shor",
        pid=K.P_SHOR,
        title="Shor: max_i b_i ||x - a_i||^2, 10 pieces",
        coupling="global",
        halo=-1,
        regular=True,
        convex=True,
        default_n=5,
        n_min=5,
        n_max=5,
        n_rule="n = 5",
        known="f* ~ 22.600162 project-computed (KKT; complete)",
        source="SolvOpt shorf (Kuntsevich & Kappel)",
        build=_build_shor,
    )
)
_register(
    ProblemSpec(
        name="phase_retrieval",
        pid=K.P_PHASE_RETRIEVAL,
        title="robust phase retrieval (1/m) sum |<a_i,x>^2 - b_i|",
        coupling="dense",
        halo=-1,
        regular=True,
        convex=False,
        default_n=20,
        n_min=1,
        n_max=None,
        n_rule="n >= 1 (= d)",
        known="f* = 0 at +-x_bar; critical 0, +-x_bar (incomplete)",
        source="Duchi & Ruan 2019; Davis, Drusvyatskiy, Paquette, arXiv 1711.03247",
        build=_build_phase,
        params={"m": Param(None, _pos_int, "number of measurements (default 4 n)")},
        finite_sum=True,
    )
)
_register(
    ProblemSpec(
        name="l1_nonconvex_regression",
        pid=K.P_L1_NONCONVEX_REGRESSION,
        title="l1-regularised regression with log(1+r^2) loss",
        coupling="dense",
        halo=-1,
        regular=True,
        convex=False,
        default_n=20,
        n_min=1,
        n_max=None,
        n_rule="n >= 1",
        known="none (critical set unknown)",
        source="problems.md §6.2",
        build=_build_l1reg,
        params={
            "m": Param(None, _pos_int, "number of samples (default 4 n)"),
            "lam": Param(0.1, _nonneg, "l1 weight lam >= 0 (default 0.1)"),
            "noise": Param(0.1, _nonneg, "Gaussian label noise std (default 0.1)"),
            "outliers": Param(0.1, _fraction, "fraction of gross outliers in [0, 1) (default 0.1)"),
        },
        finite_sum=True,
    )
)
_register(
    ProblemSpec(
        name="relu_regression",
        pid=K.P_RELU_REGRESSION,
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
        build=_build_relu,
        params={
            "d": Param(4, lambda v, f, n: check_int(v, f, ge=1), "input dimension (default 4)"),
            "m": Param(None, _pos_int, "number of samples (default 10 n)"),
            "teacher_width": Param(None, _pos_int, "teacher neurons (default k = n / (d + 1))"),
            "noise": Param(0.0, _nonneg, "Gaussian label noise std (default 0)"),
            "relu_prime0": Param(0, _zero_one, "relu'(0) used by the subgradient: 0 or 1 (default 0)"),
        },
        finite_sum=True,
    )
)
_register(
    ProblemSpec(
        name="weighted_l1",
        pid=K.P_WEIGHTED_L1,
        title="weighted l1: sum_i c_i |x_i|",
        coupling="separable",
        halo=0,
        regular=True,
        convex=True,
        default_n=10,
        n_min=1,
        n_max=None,
        n_rule="n >= 1",
        known="x* = 0, f* = 0 (complete)",
        source="problems.md §7",
        build=_build_weighted_l1,
        params={"c": Param(None, _weights, "c > 0: a number or a list of n (default 1 + (i mod 4)/4)")},
    )
)
_register(
    ProblemSpec(
        name="l1_plus_quadratic",
        pid=K.P_L1_PLUS_QUADRATIC,
        title="|x_1| + x_2^2/2",
        coupling="separable",
        halo=0,
        regular=True,
        convex=True,
        default_n=2,
        n_min=2,
        n_max=2,
        n_rule="n = 2",
        known="x* = 0, f* = 0 (complete)",
        source="problems.md §7",
        build=_build_l1_plus_quadratic,
    )
)
_register(
    ProblemSpec(
        name="double_well_abs",
        pid=K.P_DOUBLE_WELL_ABS,
        title="double wells sum_i ||x_i| - 1|",
        coupling="separable",
        halo=0,
        regular=False,
        convex=False,
        default_n=4,
        n_min=1,
        n_max=None,
        n_rule="n >= 1 (critical rows stored for n <= 8)",
        known="3^n critical points {-1,0,1}^n, f* = 0 at {-1,1}^n",
        source="problems.md §7",
        build=_build_double_well_abs,
    )
)
_register(
    ProblemSpec(
        name="double_well_sq",
        pid=K.P_DOUBLE_WELL_SQ,
        title="double wells sum_i |x_i^2 - 1|",
        coupling="separable",
        halo=0,
        regular=True,
        convex=False,
        default_n=4,
        n_min=1,
        n_max=None,
        n_rule="n >= 1 (critical rows stored for n <= 8)",
        known="3^n critical points {-1,0,1}^n, f* = 0 at {-1,1}^n",
        source="problems.md §7",
        build=_build_double_well_sq,
    )
)
_register(
    ProblemSpec(
        name="trap",
        pid=K.P_TRAP,
        title="blockwise-critical trap |x_1-x_2| + (c/2)(x_1+x_2) + (x_1+x_2)^2/2",
        coupling="pairs",
        halo=1,
        regular=True,
        convex=True,
        default_n=2,
        n_min=2,
        n_max=2,
        n_rule="n = 2",
        known="x* = (-c/4, -c/4), f* = -c^2/8 (complete)",
        source="problems.md §8.1",
        build=lambda n, s, p: _build_trap(n, s, p, name="trap"),
        params=_C,
    )
)
_register(
    ProblemSpec(
        name="trap_nd",
        pid=K.P_TRAP_ND,
        title="blockwise-critical trap summed over pairs (x_2p, x_2p+1)",
        coupling="pairs",
        halo=1,
        regular=True,
        convex=True,
        default_n=10,
        n_min=2,
        n_max=None,
        n_rule="even n >= 2",
        known="x* = -c/4 1, f* = -(n/2) c^2/8 (complete)",
        source="problems.md §8.1",
        build=_build_trap,
        params=_C,
        n_step=2,
    )
)

assert sorted(s.pid for s in PROBLEMS.values()) == list(range(K.N_PROBLEMS))


# =================================================================================================
# Public functions
# =================================================================================================


def make_problem(name: str, n: int | None = None, *, seed: int = 0, **params: Any) -> Problem:
    """Build a validated problem instance.

    ``name``: a key of :data:`PROBLEMS`; ``n``: dimension (None = the problem's default);
    ``seed``: non-negative integer for generated instances (ignored by the others, but recorded);
    ``params``: problem parameters (see :func:`list_problems`). Bad input raises
    :class:`~asyncconv.config.ConfigError` naming the field ("name", "n", "seed" or the parameter)
    and the allowed values.
    """
    name = check_choice(name, tuple(PROBLEMS), "name")
    spec = PROBLEMS[name]
    if n is None:
        n = spec.default_n
    try:
        n = check_int(n, "n", ge=spec.n_min, le=spec.n_max)
    except ConfigError as err:
        raise ConfigError("n", f"{err.message}; allowed for {name}: {spec.n_rule}") from None
    if n % spec.n_step:
        raise ConfigError(
            "n", f"must be a multiple of {spec.n_step} for {name} (got {n}); allowed: {spec.n_rule}"
        )
    seed = check_int(seed, "seed", ge=0)
    for key in params:
        if key not in spec.params:
            allowed = ", ".join(spec.params) if spec.params else "none"
            raise ConfigError(key, f"unknown parameter of {name}; allowed parameters: {allowed}")
    values: dict[str, Any] = {}
    for key, par in spec.params.items():
        raw = params.get(key, par.default)
        values[key] = raw if raw is None and par.default is None else par.check(raw, key, n)
    return spec.build(n, seed, values)


def list_problems() -> list[dict[str, Any]]:
    """One JSON-able dict per problem (registry order): structure, sizes, parameters, what is known."""
    out = []
    for spec in PROBLEMS.values():
        out.append(
            {
                "name": spec.name,
                "pid": spec.pid,
                "description": spec.title,
                "coupling": spec.coupling,
                "halo": spec.halo,
                "regular": spec.regular,
                "convex": spec.convex,
                "finite_sum": spec.finite_sum,
                "default_n": spec.default_n,
                "allowed_n": spec.n_rule,
                "params": {k: {"default": p.default, "doc": p.doc} for k, p in spec.params.items()},
                "known": spec.known,
                "source": spec.source,
            }
        )
    return out
