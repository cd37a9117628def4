"""Problems: the battery of ``reference/problems.md`` and your own objectives, one module each.

Public API::

    prob = make_problem("chained_cb3_1", n=100)             # a built-in problem
    prob = make_problem("path/to/mine.py:ROBUST", seed=1)    # your own, from a file (or module:NAME)
    prob.value(prob.x0); prob.subgradient(prob.x0, lo=10, hi=20)
    list_problems()          # structure and what is known, one dict per built-in problem

Every problem — built-in or yours — is a module that calls :func:`define` with plain Python
functions of fixed signatures (``value(prm, data, x)``, ``grad(prm, data, x, lo, hi, idx, out)``;
:mod:`asyncconv._jit`), compiled lazily by Numba on first use and passed to every kernel as
first-class functions: a problem compiles alone, its compiled code is cached and reused by later
processes and Dask workers, and no code outside a problem's module names it. A new built-in
problem is one new module here (discovered by :mod:`asyncconv.problems._registry`) and its test.
A problem from a file is checked before it is used (:func:`check_problem`).
"""

from __future__ import annotations

from typing import Any

from asyncconv.config import ConfigError, check_int
from asyncconv.problems._base import (
    COUPLINGS,
    Instance,
    Param,
    PiecesDef,
    Problem,
    ProblemSpec,
    define,
    instantiate,
    pieces,
)
from asyncconv.problems._check import check_problem
from asyncconv.problems._registry import absolute_ref, builtin_specs, get_spec, is_user_ref

__all__ = [
    "COUPLINGS",
    "PROBLEMS",
    "Instance",
    "Param",
    "PiecesDef",
    "Problem",
    "ProblemSpec",
    "absolute_ref",
    "check_problem",
    "define",
    "get_spec",
    "is_user_ref",
    "list_problems",
    "make_problem",
    "pieces",
]

#: name -> spec of every built-in problem (one module each under asyncconv/problems/)
PROBLEMS: dict[str, ProblemSpec] = builtin_specs()

_CHECKED: set[tuple] = set()


def make_problem(name: str, n: int | None = None, *, seed: int = 0, **params: Any) -> Problem:
    """Build a validated problem instance.

    ``name``: a built-in name (:data:`PROBLEMS`), ``path/to/file.py:NAME`` or
    ``package.module:NAME`` (your own problem, see :func:`define`); ``n``: dimension (None = the
    problem's default); ``seed``: non-negative integer for generated instances (ignored by the
    others, but recorded); ``params``: problem parameters (see :func:`list_problems`). Bad input
    raises :class:`~asyncconv.config.ConfigError` naming the field ("name", "n", "seed", the
    parameter, or for your own problem the function at fault: "value", "grad", ...) and what is
    allowed. Your own problem is checked by :func:`check_problem` (once per process and instance).
    """
    spec = get_spec(name, "name")
    if n is None:
        n = spec.default_n
    try:
        n = check_int(n, "n", ge=spec.n_min, le=spec.n_max)
    except ConfigError as err:
        raise ConfigError("n", f"{err.message}; allowed for {spec.name}: {spec.n_rule}") from None
    if n % spec.n_step:
        raise ConfigError(
            "n", f"must be a multiple of {spec.n_step} for {spec.name} (got {n}); allowed: {spec.n_rule}"
        )
    seed = check_int(seed, "seed", ge=0)
    for key in params:
        if key not in spec.params:
            allowed = ", ".join(spec.params) if spec.params else "none"
            raise ConfigError(key, f"unknown parameter of {spec.name}; allowed parameters: {allowed}")
    values: dict[str, Any] = {}
    for key, par in spec.params.items():
        raw = params.get(key, par.default)
        values[key] = raw if raw is None and par.default is None else par.check(raw, key, n)
    problem = instantiate(spec, n, seed, values)
    if is_user_ref(name):
        key = (spec.ref, spec.digest, n, seed, repr(sorted(values.items())))
        if key not in _CHECKED:
            check_problem(problem)
            _CHECKED.add(key)
    return problem


def list_problems() -> list[dict[str, Any]]:
    """One JSON-able dict per built-in problem: structure, sizes, parameters, what is known, and
    which optional parts it has (pieces for the structured measures, a closed-form flow, a torch twin)."""
    out = []
    for spec in PROBLEMS.values():
        out.append(
            {
                "name": spec.name,
                "module": spec.origin,
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
                "pieces": spec.pieces is not None,
                "flow": spec.flow is not None,
                "torch": spec.torch is not None,
            }
        )
    return out
