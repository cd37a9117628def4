"""Checks of a problem's code before anything runs: it compiles, has the right shapes, is finite, its
block subgradient is consistent across coordinate ranges, respects its halo, and agrees with
central finite differences of its value away from kinks.

:func:`check_problem` runs on every problem from a file or a module when it is instantiated
(:func:`asyncconv.problems.make_problem`), and on the built-in battery in the tests. Every
failure is a :class:`~asyncconv.config.ConfigError` whose field names the function at fault
(``value``, ``grad``, ``pieces``, ``x0``, ...) and whose message says what is wrong, in one line.

Tolerances (stated so that a user knows what "agrees" means):

* ranges: ``grad(lo, hi)`` equals ``grad(0, n)[lo:hi]`` to ``1e-12 (1 + |g|)`` at every tested
  range (the built-ins agree bit for bit);
* halo (``halo >= 0``): changing x outside ``[lo - halo, hi + halo)`` leaves ``grad(lo, hi)`` unchanged;
* finite differences: at :data:`FD_POINTS` random points x and unit directions d,
  ``|g·d − (f(x + h d) − f(x − h d)) / 2h| <= FD_RTOL · max(1, |g|, |f(x)|)`` with
  ``h = 1e-6 · max(1, |x|)``; a random point lies within h of a kink only rarely, so at least
  ``FD_POINTS - FD_SLACK`` of the points must agree.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from asyncconv._jit import ROLES, CompileError, ProblemFunction
from asyncconv.config import ConfigError
from asyncconv.problems._base import Problem

__all__ = ["FD_POINTS", "FD_RTOL", "FD_SLACK", "check_problem"]

FD_POINTS = 8
FD_SLACK = 2
FD_RTOL = 1e-4
RANGE_RTOL = 1e-12

_ARGS = {
    "value": ("prm", "data", "x"),
    "grad": ("prm", "data", "x", "lo", "hi", "idx", "out"),
    "group_values": ("prm", "data", "x", "j", "vals"),
    "piece_grad": ("prm", "data", "x", "j", "k", "idx", "val", "e"),
}


def _arity(fn: ProblemFunction, field: str) -> None:
    try:
        params = inspect.signature(fn.py_func).parameters.values()
    except (TypeError, ValueError):  # a builtin or C function: let the compiler say
        return
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) != len(_ARGS[fn.role]) or any(p.kind is p.VAR_POSITIONAL for p in params):
        got = ", ".join(p.name for p in params)
        raise ConfigError(
            field, f"{fn.name} must take ({', '.join(_ARGS[fn.role])}) (got ({got})); {ROLES[fn.role][1]}"
        )


def _compile(fn: ProblemFunction, field: str):
    _arity(fn, field)
    try:
        return fn.compiled
    except CompileError as err:
        raise ConfigError(field, str(err)) from None


def _finite(v: float | np.ndarray) -> bool:
    return bool(np.all(np.isfinite(v)))


def _points(problem: Problem, rng: np.random.Generator, k: int) -> list[np.ndarray]:
    """x0 and k - 1 random points around it (scale max(1, |x0|_inf))."""
    x0 = np.array(problem.x0)
    scale = max(1.0, float(np.max(np.abs(x0))) if x0.size else 1.0)
    return [x0] + [x0 + 0.5 * scale * rng.standard_normal(problem.n) for _ in range(k - 1)]


def check_problem(problem: Problem, *, prefix: str = "", seed: int = 0) -> None:
    """Check ``problem``'s code (see the module docstring); raise ConfigError naming the function.

    ``prefix`` is prepended to the field (e.g. ``"problem."`` in a study spec). Cost: about
    ``4 FD_POINTS`` evaluations of f and ``3 FD_POINTS`` of the full subgradient.
    """
    spec = problem.spec
    n = problem.n
    fv = f"{prefix}value"
    fg = f"{prefix}grad"
    # --- shapes of the instance --------------------------------------------------------------
    if problem.x0.shape != (n,):
        raise ConfigError(f"{prefix}x0", f"must have shape (n,) = ({n},) (got {problem.x0.shape})")
    if not _finite(problem.x0):
        raise ConfigError(f"{prefix}x0", "must be finite (found NaN or inf)")
    if problem.critical_points.ndim != 2 or problem.critical_points.shape[1] != n:
        raise ConfigError(f"{prefix}critical_points", f"must be rows of length n = {n}")
    if problem.n_samples < 0 or problem.n_samples > problem.data.shape[0]:
        raise ConfigError(f"{prefix}n_samples", f"must be in [0, rows of data = {problem.data.shape[0]}]")
    # --- it compiles ---------------------------------------------------------------------------
    _compile(spec.value, fv)
    _compile(spec.grad, fg)
    if spec.pieces is not None:
        _compile(spec.pieces.group_values, f"{prefix}pieces.group_values")
        _compile(spec.pieces.piece_grad, f"{prefix}pieces.piece_grad")
    rng = np.random.default_rng(seed)
    pts = _points(problem, rng, FD_POINTS)
    # --- finite, ranges, halo ------------------------------------------------------------------
    for q, x in enumerate(pts):
        where = "x0" if q == 0 else f"random point {q}"
        f = problem.value(x)
        if not math.isfinite(f):
            raise ConfigError(fv, f"{spec.value.name} is not finite at {where} (got {f})")
        g = problem.subgradient(x)
        if not _finite(g):
            raise ConfigError(fg, f"{spec.grad.name} is not finite at {where} (got {g[~np.isfinite(g)][:1]})")
        for _ in range(3):
            lo, hi = sorted(int(v) for v in rng.integers(0, n + 1, size=2))
            if hi == lo:
                continue
            part = problem.subgradient(x, lo, hi)
            if not np.allclose(part, g[lo:hi], rtol=RANGE_RTOL, atol=RANGE_RTOL):
                raise ConfigError(
                    fg,
                    f"{spec.grad.name} on the range [{lo}, {hi}) differs from the full subgradient "
                    f"sliced (at {where}): out[0:hi-lo] must hold coordinates lo..hi-1",
                )
            if problem.halo >= 0:
                y = np.array(x)
                far = np.ones(n, dtype=bool)
                far[max(lo - problem.halo, 0) : min(hi + problem.halo, n)] = False
                if far.any():
                    y[far] += 1.0 + rng.random(int(far.sum()))
                    if not np.array_equal(problem.subgradient(y, lo, hi), part):
                        raise ConfigError(
                            fg,
                            f"{spec.grad.name} on [{lo}, {hi}) reads x outside [lo - halo, hi + halo) "
                            f"with halo = {problem.halo}: declare a larger halo (or -1: reads all of x)",
                        )
    # --- finite differences --------------------------------------------------------------------
    bad = []
    for x in pts:
        d = rng.standard_normal(n)
        d /= np.linalg.norm(d)
        h = 1e-6 * max(1.0, float(np.linalg.norm(x)))
        fd = (problem.value(x + h * d) - problem.value(x - h * d)) / (2.0 * h)
        g = problem.subgradient(x)
        gd = float(g @ d)
        tol = FD_RTOL * max(1.0, float(np.linalg.norm(g)), abs(problem.value(x)))
        if not abs(gd - fd) <= tol:
            bad.append((gd, fd))
    if len(bad) > FD_SLACK:
        gd, fd = bad[0]
        raise ConfigError(
            fg,
            f"{spec.grad.name} is inconsistent with {spec.value.name}: the directional derivative "
            f"g·d = {gd:.6g} differs from the central difference {fd:.6g} at {len(bad)} of {FD_POINTS} "
            "random points (a subgradient must match the gradient of value away from kinks)",
        )
    # --- finite sums: single-sample minibatches --------------------------------------------------
    if problem.n_samples > 0:
        for i in rng.integers(0, problem.n_samples, size=3):
            g = problem.subgradient(pts[0], idx=[int(i)])
            if not _finite(g):
                raise ConfigError(
                    fg, f"{spec.grad.name} is not finite for the minibatch idx = [{int(i)}] at x0"
                )
