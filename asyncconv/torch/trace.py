"""Recording the real schedule of a training run as a :class:`~asyncconv.schedule.Schedule`.

Every process of a run appends one row per completed write: the global write index k (the
shared write counter, incremented under a lock right after the write, so k orders writes by
completion), writer, block (-1: the writer's owned set), the counter value when the forward pass
started (read_lo) and ended (read_hi), the counter value when the forward pass reached the first
module of each block (the per-block version of a torn read), and the times. Block j's read version
is clipped to [read_lo, read_hi] and made non-decreasing in block order (the forward pass reads the
blocks in order), so the rows satisfy the Schedule contract exactly; what the trace cannot see is a
write that is half applied while a block is read (it counts as not yet done).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from asyncconv.schedule import Schedule

__all__ = ["TraceBuffer", "merge_traces"]

_COLS = ("k", "writer", "block", "read_lo", "read_hi", "t_read", "t_write")


@dataclass(eq=False)
class TraceBuffer:
    """Rows of one process, preallocated for ``capacity`` writes over ``n_blocks`` blocks."""

    capacity: int
    n_blocks: int

    def __post_init__(self) -> None:
        self.n = 0
        self.ints = np.zeros((self.capacity, 5), dtype=np.int64)
        self.times = np.zeros((self.capacity, 2), dtype=np.float64)
        self.versions = np.zeros((self.capacity, self.n_blocks), dtype=np.int64)

    def add(
        self, k: int, writer: int, block: int, read_lo: int, read_hi: int, versions: np.ndarray,
        t_read: float, t_write: float,
    ) -> None:  # fmt: skip
        if self.n >= self.capacity:
            raise RuntimeError(f"trace buffer full ({self.capacity} rows)")
        v = np.maximum.accumulate(np.clip(versions, read_lo, read_hi))
        self.ints[self.n] = (k, writer, block, read_lo, read_hi)
        self.times[self.n] = (t_read, t_write)
        self.versions[self.n] = v
        self.n += 1

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        np.savez(path, ints=self.ints[: self.n], times=self.times[: self.n], versions=self.versions[: self.n])
        return path


def merge_traces(paths: list[Path], n_workers: int, n_blocks: int, owners: np.ndarray) -> Schedule:
    """One validated :class:`Schedule` from the per-process trace files, rows ordered by k."""
    from asyncconv.schedule import ScheduleError, schedule_from_trace  # numba: parent side only

    parts = [np.load(p) for p in paths]
    ints = np.concatenate([z["ints"] for z in parts])
    times = np.concatenate([z["times"] for z in parts])
    versions = np.concatenate([z["versions"] for z in parts])
    order = np.argsort(ints[:, 0], kind="stable")
    ints, times, versions = ints[order], times[order], versions[order]
    if not np.array_equal(ints[:, 0], np.arange(len(ints))):
        raise ScheduleError("trace", "write indices are not 0..K-1 (a process lost rows)")
    return schedule_from_trace(
        ints[:, 1], ints[:, 2], ints[:, 3], ints[:, 4], times[:, 0], times[:, 1],
        n_workers=n_workers, n_blocks=n_blocks, owners=owners, block_versions=versions,
    )  # fmt: skip
