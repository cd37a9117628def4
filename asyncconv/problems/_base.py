"""What a problem is: :func:`define` (the one contract, for built-in and user problems alike),
:class:`ProblemSpec`, :class:`Instance` and :class:`Problem`.

A problem module defines its jitted formulas as plain functions of the fixed signatures of
:mod:`asyncconv._jit` and calls :func:`define` once per problem; the registry
(:mod:`asyncconv.problems._registry`) finds the :class:`ProblemSpec` objects. Nothing outside a
problem's module names the problem: what the theory and torch code need is an attribute here
(``pieces``, ``flow``, ``torch``, ``distance``, ``extras``).

The kernel contract (DESIGN §4.3) for ``grad(prm, data, x, lo, hi, idx, out)``:

* ``out[0:hi-lo]`` holds coordinates ``lo..hi-1`` of ONE element of the Clarke subdifferential of f
  at x (of the minibatch objective ``(1/|idx|) Σ_{i∈idx} f_i`` for finite sums; ``idx`` empty means
  the full sum), with a deterministic selection rule at kinks stated in the module;
* slices agree bit for bit: ``grad(lo, mid) ++ grad(mid, hi) == grad(lo, hi)``;
* reads of x stay inside ``[lo - halo, hi + halo)`` (clipped) when ``halo >= 0``; ``halo = -1``
  reads all of x;
* no Python objects, no exceptions: guard logarithms and divisions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from asyncconv._jit import ProblemFunction, call_grad, call_value
from asyncconv.config import ConfigError, check_int, check_number

__all__ = [
    "COUPLINGS",
    "Instance",
    "Param",
    "PiecesDef",
    "Problem",
    "ProblemSpec",
    "define",
    "evaluate",
    "pieces",
]

COUPLINGS = ("separable", "chain", "pairs", "global", "dense")
_EMPTY_IDX = np.zeros(0, dtype=np.int64)
_EMPTY_IDX.setflags(write=False)


def ro(a: Any, ndim: int | None = None) -> np.ndarray:
    """A private read-only C-contiguous float64 copy (``ndim`` 1 or 2: at least that many dims)."""
    a = np.array(a, dtype=np.float64, order="C")
    if ndim == 1:
        a = np.atleast_1d(a)
    elif ndim == 2:
        a = np.atleast_2d(a)
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


#: read-only dummies for problems without parameters or data (one kernel specialisation)
NO_PRM = ro(np.zeros(1))
NO_DATA = ro(np.zeros((1, 1)))


def evaluate(fn: ProblemFunction, x: Any, prm: np.ndarray = NO_PRM, data: np.ndarray = NO_DATA) -> float:
    """f(x) through a compiled ``value`` function (for builders that need f at a reference point)."""
    return float(call_value(fn.compiled, prm, data, np.array(x, dtype=np.float64, order="C")))


# --- parameters and validators ---------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """A problem parameter: default (None = derived from n) and a validator ``check(value, field, n)``."""

    default: Any
    check: Callable[[Any, str, int], Any]
    doc: str


def positive(value: Any, fld: str, n: int) -> float:
    return check_number(value, fld, gt=0.0)


def nonnegative(value: Any, fld: str, n: int) -> float:
    return check_number(value, fld, ge=0.0)


def real(value: Any, fld: str, n: int) -> float:
    return check_number(value, fld)


def fraction(value: Any, fld: str, n: int) -> float:
    return check_number(value, fld, ge=0.0, lt=1.0)


def positive_int(value: Any, fld: str, n: int) -> int | None:
    return None if value is None else check_int(value, fld, ge=1)


def zero_one(value: Any, fld: str, n: int) -> int:
    v = check_int(value, fld)
    if v not in (0, 1):
        raise ConfigError(fld, f"must be 0 or 1 (got {value!r})")
    return v


def weights(value: Any, fld: str, n: int) -> float | tuple[float, ...] | None:
    """One positive number or a list of n of them."""
    if value is None:
        return None
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
        if len(value) != n:
            raise ConfigError(fld, f"must be one positive number or a list of n = {n} (got {len(value)})")
        return tuple(check_number(v, f"{fld}[{i}]", gt=0.0) for i, v in enumerate(value))
    return check_number(value, fld, gt=0.0)


def rng_from_seed(seed: int) -> np.random.Generator:
    """The generator of a random instance: ``Generator(PCG64(SeedSequence(seed)))``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


# --- pieces of Clarke-regular sums of maxima --------------------------------------------------------


@dataclass(frozen=True)
class PiecesDef:
    """f = Σ_j max_{k∈K_j} φ_jk with C¹ pieces (measures.md §5.4), for the structured measures.

    ``group_values(prm, data, x, j, vals) -> K`` writes φ_j0..φ_j(K-1) (``-inf`` marks a piece
    undefined at x); ``piece_grad(prm, data, x, j, k, idx, val, e) -> e'`` appends ∇φ_jk as sparse
    entries ``idx/val[e:e']``. ``n_groups(n, prm, data)``, ``max_pieces(n)`` (≥ every K) and
    ``max_nnz(n)`` (≥ the entries of one piece gradient) size the buffers.
    """

    group_values: ProblemFunction
    piece_grad: ProblemFunction
    n_groups: Callable[[int, np.ndarray, np.ndarray], int]
    max_pieces: Callable[[int], int]
    max_nnz: Callable[[int], int]


def _const(v: int | Callable[[int], int]) -> Callable[[int], int]:
    return v if callable(v) else (lambda n: int(v))


def pieces(
    group_values: Callable,
    piece_grad: Callable,
    *,
    n_groups: Callable[[int, np.ndarray, np.ndarray], int],
    max_pieces: int | Callable[[int], int] = 3,
    max_nnz: int | Callable[[int], int] = 2,
) -> PiecesDef:
    """Declare the sum-of-max pieces of a Clarke-regular problem (see :class:`PiecesDef`)."""
    return PiecesDef(
        ProblemFunction(group_values, "group_values"),
        ProblemFunction(piece_grad, "piece_grad"),
        n_groups,
        _const(max_pieces),
        _const(max_nnz),
    )


# --- instances and specs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """What a builder returns for one (n, seed, params): the arrays and what is known.

    ``prm`` (p,) and ``data`` (m, q) are read by the kernels (None: dummies); ``critical_points``
    (C, n) are known Clarke-critical points, ``complete`` says whether they are the whole critical
    set; ``n_samples`` is m for finite sums (minibatches sample rows of ``data``), else 0.
    ``params`` overrides the recorded parameters (e.g. a derived default such as m = 4n).
    """

    x0: Any
    f_ref: float | None = None
    f_ref_source: str = "unknown"
    critical_points: Any = None
    complete: bool = False
    prm: Any = None
    data: Any = None
    n_samples: int = 0
    description: str | None = None
    params: Mapping[str, Any] | None = None


@dataclass(frozen=True, eq=False)
class ProblemSpec:
    """Static facts of a problem, its jitted formulas and its builder ``build(n, seed, params)``.

    See :func:`define` for the fields. ``origin`` is the defining module (``asyncconv.problems.X``)
    or ``path/to/file.py``; ``ref`` is what :func:`~asyncconv.problems.make_problem` accepts to
    find it again (the name for built-ins, ``file.py:NAME`` or ``module:NAME`` otherwise) and
    ``digest`` the sha256 of the defining file (recorded by studies; empty for built-ins).
    """

    name: str
    value: ProblemFunction
    grad: ProblemFunction
    build: Callable[[int, int, dict[str, Any]], Instance] = field(repr=False)
    title: str = ""
    coupling: str = "dense"
    halo: int = -1
    regular: bool = False
    convex: bool = False
    default_n: int = 1
    n_min: int = 1
    n_max: int | None = None
    n_step: int = 1
    n_rule: str = "n >= 1"
    known: str = "nothing"
    source: str = ""
    params: Mapping[str, Param] = field(default_factory=dict)
    finite_sum: bool = False
    pieces: PiecesDef | None = None
    distance: Callable[[Problem, np.ndarray], float] | None = None
    extras: Callable[[Problem, np.ndarray, float], dict[str, Any]] | None = None
    flow: Callable[[Problem, np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None
    torch: Callable | None = None
    origin: str = ""
    ref: str = ""
    digest: str = ""

    def __reduce__(self):  # pickled by reference: the functions are found again by name
        from asyncconv.problems._registry import get_spec

        return get_spec, (self.ref or self.name,)


def define(
    name: str,
    *,
    value: Callable,
    grad: Callable,
    build: Callable[[int, int, dict[str, Any]], Instance] | None = None,
    n: int | None = None,
    x0: Any = None,
    prm: Any = None,
    data: Any = None,
    f_ref: float | None = None,
    f_ref_source: str | None = None,
    critical_points: Any = None,
    critical_set_complete: bool = False,
    n_samples: int = 0,
    title: str = "",
    coupling: str = "dense",
    halo: int = -1,
    regular: bool = False,
    convex: bool = False,
    default_n: int | None = None,
    n_min: int = 1,
    n_max: int | None = None,
    n_step: int = 1,
    n_rule: str | None = None,
    known: str | None = None,
    source: str = "",
    params: Mapping[str, Param] | None = None,
    finite_sum: bool | None = None,
    pieces: PiecesDef | None = None,
    distance: Callable | None = None,
    extras: Callable | None = None,
    flow: Callable | None = None,
    torch: Callable | None = None,
) -> ProblemSpec:
    """Define a problem. The one contract of every problem, built-in or a user's own.

    Required: ``name``, ``value(prm, data, x) -> float`` and ``grad(prm, data, x, lo, hi, idx, out)``
    (plain Python functions Numba can compile; see :mod:`asyncconv._jit` for the signatures and
    the module docstring for the kernel contract), and either

    * a fixed instance: ``n`` and ``x0`` (n,), optionally ``prm`` (p,), ``data`` (m, q),
      ``f_ref``, ``critical_points`` (C, n), ``critical_set_complete``, ``n_samples``; or
    * ``build(n, seed, params) -> Instance`` for a scalable family, with ``default_n``,
      ``n_min``/``n_max``/``n_step``/``n_rule`` and ``params`` (name -> :class:`Param`);
      ``finite_sum=True`` when its instances are finite sums (``Instance.n_samples`` > 0; a fixed
      instance says so by its ``n_samples``).

    Optional structure: ``coupling`` (one of :data:`COUPLINGS`) and ``halo`` (``grad`` reads x on
    ``[lo - halo, hi + halo)``; -1 = all of x, the safe default), ``regular`` (Clarke regular
    everywhere), ``convex``; ``pieces`` (:func:`pieces`, for the structured measures; needs
    ``regular``); ``distance(problem, x)`` when the critical set is not a list of points;
    ``extras(problem, x, f) -> dict`` of further known measures; ``flow(problem, x0, t, rate)``
    the closed-form solution of ẋ ∈ −diag(rate) ∂f(x); ``torch(x, data, prm, idx) -> tensor``, the
    objective written in torch with autograd selecting ``grad``'s subgradient (its twin).
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("name", f"must be a non-empty string (got {name!r})")
    if coupling not in COUPLINGS:
        raise ConfigError("coupling", f"one of {', '.join(COUPLINGS)} (got {coupling!r})")
    if not isinstance(halo, int) or halo < -1:
        raise ConfigError("halo", f"must be an integer >= -1 (got {halo!r})")
    if pieces is not None and not regular:
        raise ConfigError(
            "pieces", "sum-of-max pieces are only valid for a Clarke-regular problem (regular=True)"
        )
    if build is None:
        if n is None or x0 is None:
            raise ConfigError(
                "n", "a problem needs either n and x0 (a fixed instance) or build(n, seed, params)"
            )
        n = check_int(n, "n", ge=1)
        fixed = Instance(
            x0=x0,
            f_ref=None if f_ref is None else float(f_ref),
            f_ref_source=f_ref_source or ("given" if f_ref is not None else "unknown"),
            critical_points=critical_points,
            complete=bool(critical_set_complete),
            prm=prm,
            data=data,
            n_samples=int(n_samples),
        )

        def build(n_: int, seed: int, params_: dict[str, Any]) -> Instance:
            return fixed

        default_n, n_min, n_max = n, n, n
        n_rule = n_rule or f"n = {n}"
    else:
        default_n = default_n if default_n is not None else (n if n is not None else n_min)
        n_rule = n_rule or (f"n >= {n_min}" if n_max is None else f"{n_min} <= n <= {n_max}")
    return ProblemSpec(
        name=name,
        value=ProblemFunction(value, "value"),
        grad=ProblemFunction(grad, "grad"),
        build=build,
        title=title or name,
        coupling=coupling,
        halo=halo,
        regular=bool(regular),
        convex=bool(convex),
        default_n=int(default_n),
        n_min=int(n_min),
        n_max=n_max,
        n_step=int(n_step),
        n_rule=n_rule,
        known=known or ("nothing catalogued" if critical_points is None else "catalogued points"),
        source=source,
        params=dict(params or {}),
        finite_sum=bool(n_samples) if finite_sum is None else bool(finite_sum),
        pieces=pieces,
        distance=distance,
        extras=extras,
        flow=flow,
        torch=torch,
    )


# --- the instance ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Problem:
    """One instance of a problem.

    Attributes
    ----------
    spec : the :class:`ProblemSpec` (formulas, structure, optional attributes).
    name, n : the problem's name (``spec.ref`` for problems from a file or module) and dimension.
    prm : float64 (p,), p >= 1 — scalar parameters read by the kernels.
    data : float64 (m, q), at least (1, 1) — finite-sum rows (or constants); a dummy when unused.
    x0 : float64 (n,) — the default start.
    f_ref : optimal (or reference) value when known, else None; ``f_ref_source`` says how it is known.
    critical_points : float64 (C, n) — known Clarke-critical points (C may be 0).
    critical_set_complete : True iff ``critical_points`` is the whole Clarke-critical set.
    coupling, halo, regular, convex : from the spec (``halo`` -1: ``grad`` reads all of x).
    n_samples : m for finite sums (minibatches sample rows of ``data``), 0 otherwise.

    ``prm``, ``data``, ``x0`` and ``critical_points`` are read-only arrays. Pickles by reference
    to its spec (workers find the functions again).
    """

    spec: ProblemSpec = field(repr=False)
    name: str
    n: int
    prm: np.ndarray = field(repr=False)
    data: np.ndarray = field(repr=False)
    x0: np.ndarray = field(repr=False)
    f_ref: float | None
    f_ref_source: str = field(repr=False)
    critical_points: np.ndarray = field(repr=False)
    critical_set_complete: bool
    n_samples: int
    description: str = field(repr=False)
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0

    # --- structure (from the spec) -------------------------------------------------------------
    coupling = property(lambda self: self.spec.coupling)
    halo = property(lambda self: self.spec.halo)
    regular = property(lambda self: self.spec.regular)
    convex = property(lambda self: self.spec.convex)

    @property
    def has_pieces(self) -> bool:
        """Sum-of-max pieces are implemented (the structured measures are available)."""
        return self.spec.pieces is not None

    @property
    def has_flow(self) -> bool:
        """The block-rate inclusion has a closed-form solution (``spec.flow``)."""
        return self.spec.flow is not None

    @property
    def has_torch(self) -> bool:
        """A torch twin exists (``spec.torch``): the problem can be replayed with torch."""
        return self.spec.torch is not None

    # --- evaluation (Python side: validates, then calls the compiled functions) ----------------

    def _point(self, x: Any) -> np.ndarray:
        # a writable contiguous copy: one kernel specialisation (read-only prm/data, writable x)
        x = np.array(x, dtype=np.float64, order="C")
        if x.shape != (self.n,):
            raise ValueError(f"x: expected shape ({self.n},), got {x.shape}")
        return x

    def value(self, x: Any) -> float:
        """f(x); x (n,)."""
        return float(call_value(self.spec.value.compiled, self.prm, self.data, self._point(x)))

    def subgradient(self, x: Any, lo: int = 0, hi: int | None = None, idx: Any = None) -> np.ndarray:
        """Coordinates lo..hi-1 (hi - lo,) of the kernel's Clarke subgradient at x.

        ``idx`` (finite sums only): sample indices of a minibatch, the estimate being
        (1/|idx|) sum_{i in idx} grad f_i(x) (plus the deterministic part); None or empty means
        the full sum.
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
        if hi > lo:
            call_grad(self.spec.grad.compiled, self.prm, self.data, x, lo, hi, ids, out)
        return out

    @property
    def dist_scale(self) -> float:
        """s in the one distance that verdicts, time-to-ε and reports use, D(x) = dist(x, S) / s with
        s = max(1, max_c ||c||) over the catalogued critical points (1 when none is catalogued).

        measures.md §5.1 divides by max(1, ||x*||). A per-problem constant (the largest catalogued
        norm rather than the nearest point's) keeps D a scaled distance to the set, monotone in the
        absolute distance the kernels record, so the same D can be read off every checkpoint and
        probe. It differs from the nearest point's norm only for catalogues of unequal norms (the
        double wells: 2 instead of 0..2)."""
        c = self.critical_points
        return max(1.0, float(np.linalg.norm(c, axis=1).max())) if c.shape[0] else 1.0

    def distance_to_critical(self, x: Any) -> float:
        """Distance from x to the known critical set: ``spec.distance`` when the problem gives one
        (e.g. a product set too large to list), else min_c ||x - c|| over ``critical_points``
        (nan if there are none)."""
        x = self._point(x)
        if self.spec.distance is not None:
            return float(self.spec.distance(self, x))
        if self.critical_points.shape[0] == 0:
            return math.nan
        return float(np.min(np.linalg.norm(self.critical_points - x, axis=1)))

    def summary(self) -> dict[str, Any]:
        """JSON-able description of this instance (no arrays)."""
        return {
            "name": self.name,
            "origin": self.spec.origin,
            "digest": self.spec.digest,
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


def instantiate(spec: ProblemSpec, n: int, seed: int, params: dict[str, Any]) -> Problem:
    """The :class:`Problem` of ``spec`` built for (n, seed, validated params)."""
    inst = spec.build(n, seed, params)
    if not isinstance(inst, Instance):
        raise ConfigError("build", f"{spec.name}: build(n, seed, params) must return an Instance")
    crit = np.zeros((0, n)) if inst.critical_points is None else inst.critical_points
    crit = np.asarray(crit, dtype=np.float64)
    if crit.size and crit.reshape(-1).shape[0] % n:
        raise ConfigError("critical_points", f"{spec.name}: must have rows of length n = {n}")
    desc = inst.description or f"{spec.title}. Known: {spec.known}. Source: {spec.source or spec.origin}"
    return Problem(
        spec=spec,
        name=spec.ref or spec.name,
        n=n,
        prm=NO_PRM if inst.prm is None else ro(inst.prm, 1),
        data=NO_DATA if inst.data is None else ro(inst.data, 2),
        x0=ro(inst.x0),
        f_ref=inst.f_ref,
        f_ref_source=inst.f_ref_source,
        critical_points=ro(crit.reshape(-1, n)),
        critical_set_complete=bool(inst.complete),
        n_samples=int(inst.n_samples),
        description=desc,
        params=dict(params if inst.params is None else inst.params),
        seed=seed,
    )
