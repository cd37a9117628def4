"""Battery problems written in torch, for the replay equivalence with the Numba simulation.

Each objective is a function of the flat point x (n,) — the concatenation of the block tensors —
and, for finite sums, of a minibatch index vector. Autograd's subgradient must be the element of
the Clarke subdifferential that the Numba kernel selects (``asyncconv/problems/_kernels.py``), so
kinks are written with ``torch.where`` on the kernel's own test (its backward routes the whole
gradient to the selected branch), never with ``max``/``abs`` whose backward splits ties:

=======================  ==================================================================  ========================
problem                  f (terms i = 0..n-2 couple x_i, x_{i+1})                           kink rule (kernel)
=======================  ==================================================================  ========================
chained_lq               Σ max{a_i, a_i + q_i}, a_i = -x_i - x_{i+1}, q_i = x_i²+x_{i+1}²-1  quadratic iff q_i > 0
chained_cb3_1            Σ max{x_i⁴ + x_{i+1}², (2-x_i)² + (2-x_{i+1})², 2 e^{-x_i+x_{i+1}}}  first maximal piece
chained_mifflin2         Σ -x_i + 2 y_i + 1.75 |y_i|, y_i = x_i² + x_{i+1}² - 1              sign(0) = +1
l1_nonconvex_regression  (1/|B|) Σ_{r∈B} log(1 + (<a_r, x> - b_r)²) + λ ||x||₁               sign(0) = 0
=======================  ==================================================================  ========================

The last is the linear model: x are the weights of a bias-free linear predictor, the minibatch B
of write k is drawn by the counter-based generator exactly as the kernel draws it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from asyncconv.config import ConfigError
from asyncconv.problems import Problem
from asyncconv.schedule import partition
from asyncconv.torch.blocks import BlockLayout, make_layout

__all__ = ["TORCH_PROBLEMS", "TorchProblem", "torch_problem"]


def _chained_lq(x: torch.Tensor, _data: torch.Tensor, _prm: np.ndarray, _idx) -> torch.Tensor:
    u, v = x[:-1], x[1:]
    a = -u - v
    q = u * u + v * v - 1.0
    return torch.where(q > 0.0, a + q, a).sum()


def _chained_cb3_1(x: torch.Tensor, _data: torch.Tensor, _prm: np.ndarray, _idx) -> torch.Tensor:
    u, v = x[:-1], x[1:]
    a = u * u * u * u + v * v
    b = (2.0 - u) * (2.0 - u) + (2.0 - v) * (2.0 - v)
    c = 2.0 * torch.exp(-u + v)
    first = (a >= b) & (a >= c)  # y == a in the kernel's max(max(a, b), c)
    second = ~first & (b >= c)
    return torch.where(first, a, torch.where(second, b, c)).sum()


def _chained_mifflin2(x: torch.Tensor, _data: torch.Tensor, _prm: np.ndarray, _idx) -> torch.Tensor:
    u, v = x[:-1], x[1:]
    y = u * u + v * v - 1.0
    return (-u + 2.0 * y + 1.75 * torch.where(y >= 0.0, y, -y)).sum()


def _l1_regression(x: torch.Tensor, data: torch.Tensor, prm: np.ndarray, idx) -> torch.Tensor:
    n = x.shape[0]
    rows = data if idx is None else data[idx]
    r = rows[:, :n] @ x - rows[:, n]
    return torch.log1p(r * r).mean() + float(prm[0]) * x.abs().sum()


TORCH_PROBLEMS: dict[str, Callable] = {
    "chained_lq": _chained_lq,
    "chained_cb3_1": _chained_cb3_1,
    "chained_mifflin2": _chained_mifflin2,
    "l1_nonconvex_regression": _l1_regression,
}


@dataclass(frozen=True, eq=False)
class TorchProblem:
    """A battery problem as a replay objective.

    Attributes
    ----------
    problem : the Numba-side :class:`~asyncconv.problems.Problem`.
    params : list of tensors, the blocks of x0 split by ``partition(n, B)`` (one tensor per block).
    layout : the matching :class:`BlockLayout` (one block per tensor).
    loss : ``loss(params, idx) -> scalar``: f at the concatenated point (of the minibatch ``idx``).
    n_samples : finite-sum size (0: not a finite sum).
    """

    problem: Problem
    params: list[torch.Tensor]
    layout: BlockLayout
    loss: Callable[[list[torch.Tensor], torch.Tensor | None], torch.Tensor]
    n_samples: int

    def value(self, x: np.ndarray | torch.Tensor) -> float:
        """f(x) in torch (full sum), for a flat point."""
        x = torch.tensor(np.array(x), dtype=self.params[0].dtype, device=self.params[0].device)
        with torch.no_grad():
            return float(self.loss(list(torch.split(x, list(self.layout.numels))), None))


def torch_problem(
    problem: Problem, n_blocks: int, *, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"
) -> TorchProblem:
    """The torch objective of a battery problem, its point split into ``n_blocks`` tensors."""
    fn = TORCH_PROBLEMS.get(problem.name)
    if fn is None:
        raise ConfigError("problem", f"written in torch: {', '.join(TORCH_PROBLEMS)} (got {problem.name!r})")
    off = partition(problem.n, n_blocks)
    x0 = torch.tensor(np.array(problem.x0), dtype=dtype, device=device)
    params = [x0[off[j] : off[j + 1]].clone() for j in range(n_blocks)]
    layout = make_layout([(f"x{j}", int(off[j + 1] - off[j])) for j in range(n_blocks)], "tensor")
    data = torch.tensor(np.array(problem.data), dtype=dtype, device=device)
    prm = np.asarray(problem.prm)
    n_samples = int(problem.n_samples)

    def loss(ps: list[torch.Tensor], idx: torch.Tensor | None) -> torch.Tensor:
        return fn(torch.cat(ps), data, prm, idx if n_samples > 0 else None)

    return TorchProblem(problem, params, layout, loss, n_samples)
