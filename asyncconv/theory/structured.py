"""Structured η-active stationarity measure SQ and its blockwise variant (``reference/measures.md`` §5.4).

For a Clarke-regular f = Σ_j max_{k∈K_j} φ_jk with C¹ pieces, ∂f(x) = Σ_j conv{∇φ_jk(x) : k ∈ A_j(x)}.
With the η-active sets A_j^η(x) = {k : φ_jk(x) ≥ max_l φ_jl(x) − η}:

* :func:`s_eta` — s_η(x) = min ‖Σ_j Σ_{k∈A_j^η} λ_jk ∇φ_jk(x)‖ over λ_j ∈ Δ. At η = 0 this is the
  Clarke measure dist(0, ∂f(x)); for η ≈ 2Lε an approximate **lower** bound on the Goldstein measure.
* :func:`b_eta` — the blockwise measure b_η = (Σ_b min_{λ^{(b)}} ‖π_b(Σ_j Σ_k λ^{(b)}_jk ∇φ_jk)‖²)^{1/2},
  each block with its own weights; b_η ≤ s_η. b_η ≈ 0 with s_η > 0 identifies a blockwise trap.
  It is **not** a Clarke measure (§6): report it under its own name.

Groups with a single η-active piece are folded into a constant vector, so the QP (FISTA over a
product of simplices, :func:`asyncconv.theory.qp.min_norm_product`) has Σ_{ambiguous j} |A_j^η|
variables and O(n) cost per iteration for chained problems. The pieces of each problem are declared
in its module (``define(..., pieces=pieces(group_values, piece_grad, ...))``, see
:class:`asyncconv.problems.PiecesDef`); :func:`active_pieces` returns them. SQ is **invalid for non-regular f** (NS2, ReLU networks, the ||t|−1| double well): there only
∂f ⊆ Σ_j ∂f_j holds and the number can be 0 at non-critical points, so asking for it raises
:class:`SQUnavailableError`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from asyncconv.config import ConfigError, check_int, check_number
from asyncconv.problems import Problem
from asyncconv.theory import _sq_kernels as SK

__all__ = ["Pieces", "SQUnavailableError", "active_pieces", "b_eta", "piece_args", "s_eta", "sq_available"]


_NO_BLOCKS = np.zeros(0, dtype=np.int64)


class SQUnavailableError(ConfigError):
    """SQ was asked for on a problem where it is invalid (not Clarke regular) or not implemented."""

    def __init__(self, problem: str, message: str) -> None:
        super().__init__("problem", f"{problem}: {message}")
        self.problem = problem


class Pieces(NamedTuple):
    """η-active pieces in the CSR-of-sparse-vectors layout (see ``_sq_kernels.pieces``)."""

    gptr: np.ndarray  # (J+1,) group j owns pieces gptr[j]..gptr[j+1]-1
    pptr: np.ndarray  # (P+1,) piece p owns entries pptr[p]..pptr[p+1]-1
    idx: np.ndarray  # (E,) coordinates
    val: np.ndarray  # (E,) gradient entries
    value: np.ndarray  # (P,) phi_jk(x)
    key: np.ndarray  # (P,) k, the piece's index within its group

    def gradient(self, p: int, n: int) -> np.ndarray:
        """Dense gradient (n,) of piece p."""
        g = np.zeros(n)
        sl = slice(self.pptr[p], self.pptr[p + 1])
        np.add.at(g, self.idx[sl], self.val[sl])
        return g


def sq_available(problem: Problem) -> bool:
    """True iff SQ is valid (Clarke regular) and implemented (sum-of-max pieces) for ``problem``."""
    return bool(problem.regular and problem.has_pieces)


def piece_args(problem: Problem) -> tuple:
    """The leading arguments of the kernels of ``_sq_kernels`` for ``problem`` (which has pieces):
    (group_values, piece_grad, J, K_max, nnz_max, prm, data) — the compiled functions, the number
    of groups and the buffer sizes of :class:`~asyncconv.problems.PiecesDef`."""
    pc = problem.spec.pieces
    n = problem.n
    J = int(pc.n_groups(n, problem.prm, problem.data))
    return (
        pc.group_values.compiled, pc.piece_grad.compiled, J, int(pc.max_pieces(n)), int(pc.max_nnz(n)),
        problem.prm, problem.data,
    )  # fmt: skip


def _require(problem: Problem) -> None:
    if not isinstance(problem, Problem):
        raise ConfigError("problem", f"must be an asyncconv Problem (got {type(problem).__name__})")
    if not problem.regular:
        raise SQUnavailableError(
            problem.name,
            "SQ (structured eta-active measure) is invalid here: the problem is not Clarke regular, so "
            "only the sum-rule relaxation holds and SQ can vanish at non-critical points "
            "(measures.md §5.4); use gradient sampling (GS) or the trajectory certificate (TC)",
        )
    if not sq_available(problem):
        raise SQUnavailableError(
            problem.name, "SQ is unavailable: no sum-of-max pieces are implemented for this problem"
        )


def _point(problem: Problem, x: Any) -> np.ndarray:
    try:
        a = np.array(x, dtype=np.float64, order="C")
    except (TypeError, ValueError):
        raise ConfigError("x", "must be an array of real numbers") from None
    if a.shape != (problem.n,):
        raise ConfigError("x", f"expected shape ({problem.n},), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ConfigError("x", "must be finite (found NaN or inf)")
    return a


def _eta(eta: Any, allow_inf: bool = False) -> float:
    if allow_inf and isinstance(eta, int | float) and not isinstance(eta, bool) and eta == np.inf:
        return float(eta)
    return check_number(eta, "eta", ge=0.0)


def _tols(rtol: Any, atol: Any, max_iter: Any) -> tuple[float, float, int]:
    return (
        check_number(rtol, "rtol", ge=0.0, lt=1.0),
        check_number(atol, "atol", ge=0.0),
        check_int(max_iter, "max_iter", ge=1),
    )


def active_pieces(problem: Problem, x: Any, eta: float) -> Pieces:
    """The η-active pieces of every group at x (eta = inf: every defined piece); see :class:`Pieces`."""
    _require(problem)
    x = _point(problem, x)
    eta = _eta(eta, allow_inf=True)
    return Pieces(*SK.pieces(*piece_args(problem), x, eta))


def _result(problem: Problem, measure: str, eta: float, out: tuple, atol: float, rtol: float) -> dict:
    status, value, lower, it, conv, J, J2, P2 = out[:8]
    if status == SK.SQ_NAN:
        raise ValueError(f"{problem.name}: SQ undefined at x (a piece value is NaN)")
    return {
        "measure": measure,
        "problem": problem.name,
        "eta": eta,
        "value": float(value),
        "lower": float(max(lower, 0.0)),
        "converged": bool(conv),
        "iterations": int(it),
        "n_groups": int(J),
        "n_ambiguous": int(J2),
        "n_qp_pieces": int(P2),
        "atol_rel": atol,
        "rtol": rtol,
    }


def s_eta(
    problem: Problem, x: Any, eta: float, *, rtol: float = 1e-4, atol: float = 1e-9, max_iter: int = 5_000
) -> dict[str, Any]:
    """Structured η-active measure s_η(x) (measures.md §5.4); exact Clarke measure at η = 0.

    Returns a dict: ``value`` (s_η: the norm of the best combination found, an upper bound on the
    QP minimum), ``lower`` (a certified lower bound on it from the duality gap), ``converged``
    (value − lower ≤ atol·scale + rtol·value, scale = sqrt(‖c‖² + Σ_j max_k ‖∇φ_jk‖²)),
    ``iterations``, ``n_groups`` (J), ``n_ambiguous`` (groups with ≥ 2 η-active pieces: the QP's
    groups), ``n_qp_pieces`` (its variables), ``measure`` = "s_eta", ``problem``, ``eta``, ``atol_rel``,
    ``rtol``. The defaults (about four significant digits, at most 5000 FISTA iterations, which stop
    earlier when the bracket stagnates) suit a stationarity measure; tighten rtol/atol for exact
    comparisons. A run that is not ``converged`` still returns a valid bracket [lower, value]. Raises :class:`SQUnavailableError` (a ConfigError, hence ValueError) where SQ is invalid
    or unavailable, ConfigError on bad input.
    """
    _require(problem)
    x = _point(problem, x)
    eta = _eta(eta)
    rtol, atol, max_iter = _tols(rtol, atol, max_iter)
    out = SK.sq_kernel(*piece_args(problem), x, eta, _NO_BLOCKS, 0, atol, rtol, max_iter)
    return _result(problem, "s_eta", eta, out, atol, rtol)


def _blocks(n: int, block_off: Any, block_of: Any) -> tuple[np.ndarray, int]:
    if (block_off is None) == (block_of is None):
        raise ConfigError("block_off", "give exactly one of block_off (offsets) and block_of (labels)")
    if block_off is not None:
        off = np.asarray(block_off)
        if off.ndim != 1 or off.size < 2 or not np.issubdtype(off.dtype, np.integer):
            raise ConfigError("block_off", "must be a 1-D integer array of offsets 0 = o_0 < ... < o_B = n")
        if off[0] != 0 or off[-1] != n or np.any(np.diff(off) < 1):
            raise ConfigError(
                "block_off",
                f"must start at 0, strictly increase and end at n = {n} (got {off.tolist()[:8]}...)",
            )
        nb = off.size - 1
        lab = np.repeat(np.arange(nb, dtype=np.int64), np.diff(off))
        return np.ascontiguousarray(lab), nb
    lab = np.asarray(block_of)
    if lab.shape != (n,) or not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0:
        raise ConfigError("block_of", f"must be an integer array of shape ({n},) with labels >= 0")
    nb = int(lab.max()) + 1
    if np.unique(lab).size != nb:
        raise ConfigError("block_of", "labels must be 0..B-1 with every block non-empty")
    return np.ascontiguousarray(lab, dtype=np.int64), nb


def b_eta(
    problem: Problem,
    x: Any,
    eta: float,
    block_off: Any = None,
    *,
    block_of: Any = None,
    rtol: float = 1e-4,
    atol: float = 1e-9,
    max_iter: int = 5_000,
) -> dict[str, Any]:
    """Blockwise η-active measure b_η(x) (measures.md §5.4 last bullet, §6); b_η ≤ s_η.

    Blocks: ``block_off`` offsets (B+1,) of contiguous blocks [o_b, o_{b+1}), or ``block_of`` (n,)
    integer labels 0..B−1 (any partition, e.g. interleaved). Every block chooses its own weights
    λ^{(b)}, so this is the blockwise measure, never a Clarke measure. Returns the dict of
    :func:`s_eta` with ``measure`` = "b_eta", ``n_blocks`` and ``per_block`` (the norms ‖π_b v‖ of the
    minimising combinations, a list of B floats; ``value`` is their root sum of squares).
    """
    _require(problem)
    x = _point(problem, x)
    eta = _eta(eta)
    rtol, atol, max_iter = _tols(rtol, atol, max_iter)
    lab, nb = _blocks(problem.n, block_off, block_of)
    out = SK.sq_kernel(*piece_args(problem), x, eta, lab, nb, atol, rtol, max_iter)
    res = _result(problem, "b_eta", eta, out, atol, rtol)
    res["n_blocks"] = nb
    res["per_block"] = [float(v) for v in out[8]]
    return res


def warm() -> None:
    """Compile (or load) the SQ kernels (pieces, fold, blockwise split, product QP) on the trap.

    The kernels do not depend on the problem (its functions are first-class arguments), so a
    second process can run this while another compiles the rest (:class:`asyncconv._jit.Background`;
    the CLI does so on a cold cache)."""
    from asyncconv.problems import make_problem

    problem = make_problem("trap")
    x = np.array(problem.critical_points[0]) + 1e-3
    s_eta(problem, x, 1e-3)
    b_eta(problem, x, 1e-3, [0, 1, 2])
