"""Block layouts: which parameter tensors of a model form block j (DESIGN §4.3, ``model.md`` §6).

A model's parameter tensors t = 0..T-1 (in ``named_parameters()`` order, which for the networks
here is also the order the forward pass reads them) are split into B blocks of *contiguous runs of
whole tensors*:

- ``"balanced"``: B runs whose element counts are as even as possible — the contiguous partition
  minimising the largest block (the PASSM split of the authors' code: "contiguous groups balanced
  by element count"), found exactly by dynamic programming in O(T^2 B);
- ``"tensor"``: one block per tensor (B = T).

The flat coordinate vector of a model is the concatenation of its flattened tensors; block j covers
the flat range ``[offsets[j], offsets[j + 1])``. This is the coordinate numbering the counter-based
noise uses (coordinate i of write k draws N(s_noise, k n + i)), so a model whose tensors are the
blocks of ``asyncconv.schedule.partition(n, B)`` numbers coordinates exactly as the Numba kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from asyncconv.config import ConfigError

__all__ = ["LAYOUTS", "BlockLayout", "balanced_split", "make_layout"]

LAYOUTS = ("balanced", "tensor")


def balanced_split(sizes: Sequence[int], parts: int) -> np.ndarray:
    """Offsets (parts + 1,) of the contiguous split of ``sizes`` into ``parts`` non-empty runs
    minimising the largest run sum (ties: the earliest cut). Needs ``len(sizes) >= parts >= 1``.

    cost[p][i] = min over j < i of max(cost[p - 1][j], sum(sizes[j:i])).
    """
    T = len(sizes)
    if not 1 <= parts <= T:
        raise ValueError(f"cannot split {T} tensors into {parts} non-empty contiguous groups")
    pre = np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))])
    inf = np.iinfo(np.int64).max
    cost = np.full((parts + 1, T + 1), inf, dtype=np.int64)
    arg = np.zeros((parts + 1, T + 1), dtype=np.int64)
    cost[0, 0] = 0
    for p in range(1, parts + 1):
        for i in range(p, T - (parts - p) + 1):
            best, at = inf, p - 1
            for j in range(p - 1, i):
                if cost[p - 1, j] == inf:
                    continue
                c = max(int(cost[p - 1, j]), int(pre[i] - pre[j]))
                if c < best:
                    best, at = c, j
            cost[p, i], arg[p, i] = best, at
    off = np.zeros(parts + 1, dtype=np.int64)
    off[parts] = T
    for p in range(parts, 0, -1):
        off[p - 1] = arg[p, off[p]]
    return off


@dataclass(frozen=True)
class BlockLayout:
    """Tensors and flat coordinates of each block.

    Attributes
    ----------
    names : tuple of str, length T
        Parameter names in model order.
    numels : tuple of int, length T
        Elements per tensor.
    tensor_off : tuple of int, length B + 1
        Block j holds tensors ``tensor_off[j] .. tensor_off[j + 1] - 1``.
    """

    names: tuple[str, ...]
    numels: tuple[int, ...]
    tensor_off: tuple[int, ...]

    @property
    def n_blocks(self) -> int:
        return len(self.tensor_off) - 1

    @property
    def n_tensors(self) -> int:
        return len(self.names)

    @property
    def n(self) -> int:
        """Total number of coordinates."""
        return int(sum(self.numels))

    def tensors(self, j: int) -> range:
        """Indices of the tensors of block j."""
        return range(self.tensor_off[j], self.tensor_off[j + 1])

    @property
    def offsets(self) -> np.ndarray:
        """Flat coordinate offsets of the blocks, shape (B + 1,)."""
        pre = np.concatenate([[0], np.cumsum(np.asarray(self.numels, dtype=np.int64))])
        return pre[np.asarray(self.tensor_off)]

    @property
    def tensor_offsets(self) -> np.ndarray:
        """Flat coordinate offset of every tensor, shape (T + 1,)."""
        return np.concatenate([[0], np.cumsum(np.asarray(self.numels, dtype=np.int64))])

    def block_numels(self) -> np.ndarray:
        return np.diff(self.offsets)

    def block_of_tensor(self) -> np.ndarray:
        """Block of every tensor, shape (T,)."""
        return np.repeat(np.arange(self.n_blocks), np.diff(np.asarray(self.tensor_off)))

    def to_dict(self) -> dict:
        return {"names": list(self.names), "numels": list(self.numels), "tensor_off": list(self.tensor_off)}


def make_layout(
    named_shapes: Sequence[tuple[str, int]], mode: str = "balanced", n_blocks: int = 1
) -> BlockLayout:
    """The layout of tensors ``(name, numel)`` (model order) in ``mode`` (see the module docstring).

    ``n_blocks`` is used by ``"balanced"`` only and must not exceed the number of tensors.
    """
    names = tuple(n for n, _ in named_shapes)
    numels = tuple(int(s) for _, s in named_shapes)
    if mode not in LAYOUTS:
        raise ConfigError("layout", f"must be one of {', '.join(LAYOUTS)} (got {mode!r})")
    if mode == "tensor":
        return BlockLayout(names, numels, tuple(range(len(names) + 1)))
    if not 1 <= n_blocks <= len(names):
        raise ConfigError(
            "blocks",
            f"a model with {len(names)} parameter tensors splits into 1..{len(names)} blocks (got {n_blocks})",
        )
    return BlockLayout(names, numels, tuple(int(v) for v in balanced_split(numels, n_blocks)))
