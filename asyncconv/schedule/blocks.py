"""Blocks: the partition of coordinates, ownership by workers, and selection inside owned sets.

Coordinates 0..n-1 are split into B contiguous, balanced blocks (sizes differ by at most one, the
larger ones first). Ownership follows the paper (arXiv 1905.11845 §3, "I^c"):

- ``partitioned`` (PASSM): worker c owns the contiguous, balanced run of blocks
  ``partition(B, P)[c]``; the owned sets are disjoint and cover every block, so B >= P;
- ``shared`` (ASSM / Hogwild): every worker owns every block.

A write covers one block of the writer's owned set (``write = "block"``, chosen uniformly, by
weights, or cyclically) or the whole owned set (``write = "owned"``, encoded as ``block[k] = -1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from asyncconv.config import (
    ConfigError,
    check_choice,
    check_int,
    check_keys,
    check_number,
)

__all__ = ["ALL_OWNED", "Blocks", "ownership_matrix", "partition"]

#: ``block[k]`` value of a write that covers the writer's whole owned set.
ALL_OWNED = -1

OWNERSHIPS = ("partitioned", "shared")
SELECTIONS = ("uniform", "weighted", "cyclic")
WRITES = ("block", "owned")


def partition(n: int, parts: int) -> np.ndarray:
    """Offsets of ``parts`` contiguous balanced pieces of ``range(n)``: shape ``(parts + 1,)``.

    Piece ``i`` is ``range(offsets[i], offsets[i + 1])``; the first ``n % parts`` pieces have one
    more element.
    """
    if parts < 1 or n < parts:
        raise ValueError(f"cannot split {n} items into {parts} non-empty pieces")
    sizes = np.full(parts, n // parts, dtype=np.int64)
    sizes[: n % parts] += 1
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def ownership_matrix(n_workers: int, n_blocks: int, ownership: str) -> np.ndarray:
    """Boolean ``owners[P, B]``: ``owners[c, b]`` iff worker c may write block b."""
    owners = np.zeros((n_workers, n_blocks), dtype=bool)
    if ownership == "shared":
        owners[:] = True
    else:
        off = partition(n_blocks, n_workers)
        for c in range(n_workers):
            owners[c, off[c] : off[c + 1]] = True
    return owners


@dataclass(frozen=True)
class Blocks:
    """Block structure of a schedule model.

    Attributes
    ----------
    n_blocks : int
        Number of blocks B >= 1.
    ownership : {"partitioned", "shared"}
    selection : {"uniform", "weighted", "cyclic"}
        How a worker picks the block of its next write inside its owned set (timing models).
    weights : tuple of float, optional
        Positive weights per block (``selection = "weighted"``), renormalised inside each owned set.
    write : {"block", "owned"}
        A write covers one block, or the writer's whole owned set.
    """

    n_blocks: int = 1
    ownership: str = "partitioned"
    selection: str = "uniform"
    weights: tuple[float, ...] | None = None
    write: str = "block"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "blocks") -> Blocks:
        check_keys(data, ("n_blocks", "ownership", "selection", "weights", "write"), path)
        n_blocks = check_int(data.get("n_blocks", 1), f"{path}.n_blocks", ge=1)
        ownership = check_choice(data.get("ownership", "partitioned"), OWNERSHIPS, f"{path}.ownership")
        selection = check_choice(data.get("selection", "uniform"), SELECTIONS, f"{path}.selection")
        write = check_choice(data.get("write", "block"), WRITES, f"{path}.write")
        weights = data.get("weights")
        if selection == "weighted":
            if weights is None or isinstance(weights, str) or len(weights) != n_blocks:
                raise ConfigError(
                    f"{path}.weights", f"weighted selection needs {n_blocks} weights, one per block"
                )
            weights = tuple(check_number(w, f"{path}.weights[{i}]", gt=0.0) for i, w in enumerate(weights))
        elif weights is not None:
            raise ConfigError(f"{path}.weights", "only used with selection = 'weighted'")
        return cls(n_blocks, ownership, selection, weights, write)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n_blocks": self.n_blocks,
            "ownership": self.ownership,
            "selection": self.selection,
            "write": self.write,
        }
        if self.weights is not None:
            out["weights"] = list(self.weights)
        return out

    def owners(self, n_workers: int) -> np.ndarray:
        """``owners[P, B]``; see :func:`ownership_matrix`."""
        return ownership_matrix(n_workers, self.n_blocks, self.ownership)

    def selection_probabilities(self, n_workers: int) -> np.ndarray:
        """``probs[P, B]``: long-run probability that worker c's write covers block b.

        Exact for uniform and weighted selection, and the long-run frequency for cyclic selection.
        Whole-owned-set writes cover every owned block with probability one.
        """
        owners = self.owners(n_workers).astype(float)
        if self.write == "owned":
            return owners
        w = owners * (np.asarray(self.weights) if self.weights is not None else 1.0)
        return w / w.sum(axis=1, keepdims=True)
