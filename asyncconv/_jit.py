"""All Numba plumbing of asyncconv: jit options, a cache that cannot go stale, problem functions.

**The cache.** Numba's on-disk cache checks only the stamp of a cached function's *own* file: a
kernel that calls a helper from another file (``rng.py``, a problem's formula, a shared kernel
helper) keeps the old machine code when only the helper changes, with no warning. Importing this
module (every module with jitted code imports :func:`jit` from here, so this happens before any
decorator runs) points Numba's cache at a folder keyed by a hash of every package source that can
hold kernel code::

    ${NUMBA_CACHE_DIR or ${XDG_CACHE_HOME:-~/.cache}/asyncconv}/numba-<sha256[:16]>

so any edit of such a source starts a fresh cache in the next process. The hashed sources are all
``.py`` files of the package except :data:`NO_KERNELS` (folders that never hold jitted code; a test
checks that they do not). Folders of older hashes unused for :data:`PRUNE_DAYS` are removed.

**Kernels** use :func:`jit` (``numba.njit`` with ``cache=True``), never ``numba.njit`` directly.

**Problem functions** (one fixed signature each, so that every kernel compiles once for all
problems and receives a problem's functions as first-class function arguments):

====================  ====================================================================  ========
role                  signature (``ro``: read-only array; arrays C-contiguous float64)     returns
====================  ====================================================================  ========
``value``             ``value(prm ro (p,), data ro (m, q), x ro (n,))``                    float64
``grad``              ``grad(prm, data, x, lo, hi, idx ro int64 (b,), out (>= hi-lo,))``  none
``group_values``      ``group_values(prm, data, x, j, vals (K_max,))``                     int64 K
``piece_grad``        ``piece_grad(prm, data, x, j, k, idx int64 (E,), val (E,), e)``      int64 e'
====================  ====================================================================  ========

:class:`ProblemFunction` wraps a plain Python function of that form and compiles it **lazily**, on
first use, to a Numba ``cfunc`` of the fixed signature (cached on disk like every kernel): a
process pays only for the problems it uses, and a user's function from a file compiles exactly like
a built-in one. Inside kernels the compiled function is an argument of type
``types.FunctionType(signature)``; Numba does not inline across that call (measured in
``benchmarks/bench_dispatch.py``).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import numba
from numba import types
from numba.core.errors import NumbaExperimentalFeatureWarning

__all__ = [
    "GRAD_SIG",
    "GROUP_VALUES_SIG",
    "PIECE_GRAD_SIG",
    "VALUE_SIG",
    "Background",
    "CompileError",
    "ProblemFunction",
    "cache_dir",
    "call_grad",
    "call_value",
    "jit",
    "source_hash",
]

PACKAGE = pathlib.Path(__file__).resolve().parent
#: package folders (and files) that never hold jitted code: left out of the cache key
NO_KERNELS = ("cli.py", "limits.py", "plot", "study", "torch", "__main__.py")
PRUNE_DAYS = 14


def kernel_sources() -> list[pathlib.Path]:
    """The package sources whose text keys the cache (sorted)."""
    out = []
    for p in sorted(PACKAGE.rglob("*.py")):
        rel = p.relative_to(PACKAGE)
        if rel.parts[0] in NO_KERNELS:
            continue
        out.append(p)
    return out


def source_hash() -> str:
    """sha256 (16 hex digits) of the kernel sources' relative paths and bytes, and of Numba's version."""
    h = hashlib.sha256(numba.__version__.encode())
    for p in kernel_sources():
        h.update(str(p.relative_to(PACKAGE)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _cache_root() -> pathlib.Path:
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return pathlib.Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "asyncconv"


def _prune(root: pathlib.Path, keep: pathlib.Path) -> None:
    """Remove ``numba-*`` folders of other source hashes not modified for PRUNE_DAYS days."""
    cutoff = time.time() - PRUNE_DAYS * 86400
    try:
        for d in root.glob("numba-*"):
            if d != keep and d.is_dir() and d.stat().st_mtime < cutoff:
                shutil.rmtree(d, ignore_errors=True)
    except OSError:  # a read-only or vanished root: nothing to prune
        pass


def cache_dir() -> pathlib.Path:
    """This source tree's Numba cache folder (see the module docstring)."""
    return _cache_root() / f"numba-{source_hash()}"


# First-class function types are marked experimental (numba 0.68); they are the mechanism of
# per-problem kernels here, tested bit for bit against the first phase's inlined kernel.
warnings.filterwarnings("ignore", "First-class function type", NumbaExperimentalFeatureWarning)

_CACHE_DIR = cache_dir()
numba.config.CACHE_DIR = str(_CACHE_DIR)  # read by every cache=True decorator at decoration time
_prune(_CACHE_DIR.parent, _CACHE_DIR)


def jit(fn: Callable | None = None, **options: Any):
    """``numba.njit(cache=True, **options)``, usable as ``@jit`` or ``@jit(inline="always")``.

    No ``fastmath``: it would let LLVM drop NaN/Inf checks and reassociate sums (bits change).
    """
    options.setdefault("cache", True)
    if fn is None:
        return numba.njit(**options)
    return numba.njit(**options)(fn)


class Background:
    """Compile a group of kernels in a second process while this one compiles others.

    A cold start is dominated by Numba's compilation, which holds a process-wide lock: one process
    compiles on one core. ``Background("pkg.module:fn")`` runs ``fn()`` (which calls the group's
    kernels on tiny inputs, so that they compile and are written to the on-disk cache) in a child
    process, unless the group is already marked warm in this cache folder. The caller goes on
    compiling its own kernels; before it needs the group it calls :meth:`wait`, after which its
    own calls load the group from the cache. Purely an optimisation: if the child fails or is
    killed, the caller compiles what it needs itself. :meth:`done` marks the group warm (the
    child does it too), so that later processes start no child.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.marker = _CACHE_DIR / f"warm-{target.replace(':', '.')}"
        self.proc: subprocess.Popen | None = None
        if self.marker.exists() or os.environ.get("ASYNCCONV_NO_BACKGROUND_COMPILE"):
            return
        module, fn = target.split(":")
        code = f"import {module} as m; m.{fn}(); open({str(self.marker)!r}, 'w').close()"
        try:
            _CACHE_DIR.mkdir(parents=True, exist_ok=True)
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        except OSError:  # cannot start a process: compile in this one
            self.proc = None
            return
        atexit.register(self.cancel)

    def wait(self, timeout: float = 900.0) -> None:
        """Wait for the child (at most ``timeout`` s; then it is killed)."""
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.cancel()

    def done(self) -> None:
        """Mark the group warm (its kernels are now in the cache)."""
        self.wait()
        try:
            self.marker.touch()
        except OSError:
            pass

    def cancel(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --- problem function signatures ------------------------------------------------------------------
_RO1 = types.Array(types.float64, 1, "C", readonly=True)
_RO2 = types.Array(types.float64, 2, "C", readonly=True)
_W1 = types.Array(types.float64, 1, "C")
_ROI1 = types.Array(types.int64, 1, "C", readonly=True)
_WI1 = types.Array(types.int64, 1, "C")

VALUE_SIG = types.float64(_RO1, _RO2, _RO1)
GRAD_SIG = types.void(_RO1, _RO2, _RO1, types.int64, types.int64, _ROI1, _W1)
GROUP_VALUES_SIG = types.int64(_RO1, _RO2, _RO1, types.int64, _W1)
PIECE_GRAD_SIG = types.int64(_RO1, _RO2, _RO1, types.int64, types.int64, _WI1, _W1, types.int64)

ROLES = {
    "value": (VALUE_SIG, "value(prm, data, x) -> float"),
    "grad": (GRAD_SIG, "grad(prm, data, x, lo, hi, idx, out) -> None"),
    "group_values": (GROUP_VALUES_SIG, "group_values(prm, data, x, j, vals) -> int"),
    "piece_grad": (PIECE_GRAD_SIG, "piece_grad(prm, data, x, j, k, idx, val, e) -> int"),
}


class CompileError(ValueError):
    """A problem function does not compile to its role's signature (one line: role and reason)."""

    def __init__(self, role: str, name: str, reason: str) -> None:
        super().__init__(f"{role} ({name}): {reason}")
        self.role = role


def _first_line(err: BaseException) -> str:
    """The informative line of a Numba typing error (its messages start with a banner)."""
    lines = [s.strip() for s in str(err).splitlines() if s.strip()]
    skip = ("No implementation of function", "During:", "File ", "^", "- Resolution failure")
    for s in lines:
        if s.startswith(("Failed in nopython mode", "Cannot determine Numba type")):
            continue
        if not s.startswith(skip) and not s.startswith("\x1b"):
            return s[:300]
    return (lines[0] if lines else type(err).__name__)[:300]


class ProblemFunction:
    """A plain Python function with one of the :data:`ROLES`, compiled lazily to a cached ``cfunc``.

    ``py_func`` may also be a ``numba.njit`` dispatcher (its ``py_func`` is used). ``compiled``
    compiles on first access (thread-safe) and raises :class:`CompileError` naming the role when
    the function does not compile to the role's signature.
    """

    def __init__(self, py_func: Callable, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role: one of {', '.join(ROLES)} (got {role!r})")
        self.py_func = getattr(py_func, "py_func", py_func)
        if not callable(self.py_func):
            raise TypeError(f"{role}: must be a function (got {type(py_func).__name__})")
        self.role = role
        self._compiled = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return getattr(self.py_func, "__qualname__", repr(self.py_func))

    @property
    def compiled(self):
        """The ``numba.cfunc`` of the role's signature (typed ``FunctionType`` inside kernels)."""
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    sig, _ = ROLES[self.role]
                    try:
                        self._compiled = numba.cfunc(sig, cache=True)(self.py_func)
                    except Exception as err:  # numba raises many error types; one line for the user
                        raise CompileError(
                            self.role, self.name, f"does not compile: {_first_line(err)}"
                        ) from err
        return self._compiled

    def __repr__(self) -> str:
        return f"ProblemFunction({self.role}: {self.name})"


@jit
def call_value(f, prm, data, x):
    """f(prm, data, x) for a compiled ``value`` function ``f`` (the Python-side entry)."""
    return f(prm, data, x)


@jit
def call_grad(f, prm, data, x, lo, hi, idx, out):
    """f(prm, data, x, lo, hi, idx, out) for a compiled ``grad`` function ``f``."""
    f(prm, data, x, lo, hi, idx, out)
