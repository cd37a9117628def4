"""Problems written in torch (their "twins"), for the replay equivalence with the Numba simulation.

A problem has a twin when its module passes ``torch=...`` to :func:`asyncconv.problems.define`: a
function ``torch_value(x, data, prm, idx) -> scalar tensor`` of the flat point x (n,) — the
concatenation of the block tensors — the data tensor, the parameter array and, for finite sums, a
minibatch index vector (None: the full sum). Autograd's subgradient must be the element of the
Clarke subdifferential that the problem's ``grad`` selects, so kinks are written with
``torch.where`` on the kernel's own test (its backward routes the whole gradient to the selected
branch), never with ``max``/``abs`` whose backward splits ties. Built-in twins: chained_lq,
chained_cb3_1, chained_mifflin2 and l1_nonconvex_regression (a linear model: x are the weights of a
bias-free linear predictor, the minibatch of write k drawn by the counter-based generator exactly
as the kernel draws it); :func:`torch_problems` lists them.
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

__all__ = ["TorchProblem", "torch_problem", "torch_problems"]


def torch_problems() -> list[str]:
    """Names of the built-in problems with a torch twin."""
    from asyncconv.problems import PROBLEMS

    return [name for name, spec in PROBLEMS.items() if spec.torch is not None]


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
    """The torch objective of a problem with a twin, its point split into ``n_blocks`` tensors."""
    fn = problem.spec.torch
    if fn is None:
        raise ConfigError(
            "problem",
            f"{problem.name} has no torch twin (define(..., torch=...)); built-in twins: "
            f"{', '.join(torch_problems())}",
        )
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
