"""``Schedule``: the event arrays every backend replays (DESIGN §4.1).

One row per global write k = 0..K-1, in write-completion order:

============  =======  ==========================================================================
array         dtype    meaning
============  =======  ==========================================================================
writer        int32    worker c^k that performed write k
block         int32    block i^k written, or -1 (:data:`ALL_OWNED`) for the writer's owned set
read_lo       int64    model version current when the read of write k started
read_hi       int64    model version current when it ended; read_lo <= read_hi <= k
t_read        float64  virtual time the read started
t_write       float64  virtual time the write completed (non-decreasing in k)
cut_ptr       int64    (K + 1,) CSR offsets into ``cut``; row k has read_hi - read_lo entries
cut           int32    for each write w in [read_lo, read_hi): the first block (in read order
                       0..B-1) whose read saw w; non-decreasing in w, in [0, B]
============  =======  ==========================================================================

"Version v" is the model after writes 0..v-1. A consistent read has read_lo == read_hi: every block
is read at version read_lo. An inconsistent (torn) read reads blocks in order 0..B-1; block j sees
version

    v_j(k) = read_lo[k] + #{ w in [read_lo[k], read_hi[k]) : cut_w <= j },

so the per-block version of every read is recoverable exactly, in O(writes during the read) memory
per row rather than O(B). The delay of write k for block j is k - v_j(k) (the d_j^k of Cannelli et
al., arXiv 1607.04818); ``delay()`` is the largest of these, k - read_lo[k].

Schedules are frozen (arrays read-only), save to one ``.npz`` file with embedded JSON metadata
(model, seed, ownership) and load back bit for bit.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asyncconv import __version__
from asyncconv._jit import jit
from asyncconv.config import ConfigError
from asyncconv.schedule.blocks import ALL_OWNED

__all__ = ["Schedule", "ScheduleError", "load_schedule", "schedule_from_trace"]

FORMAT = "asyncconv.schedule"
FORMAT_VERSION = 1
_ARRAYS = {
    "writer": np.int32,
    "block": np.int32,
    "read_lo": np.int64,
    "read_hi": np.int64,
    "t_read": np.float64,
    "t_write": np.float64,
    "cut_ptr": np.int64,
    "cut": np.int32,
}


class ScheduleError(ConfigError):
    """A schedule that breaks the contract (causality, ownership, concurrency, format), or a
    schedule file that cannot be read or written; ``field`` names the array, column or file."""


@dataclass(frozen=True, eq=False)
class Schedule:
    """Event arrays of an asynchronous run; see the module docstring for the contract.

    Attributes
    ----------
    writer, block, read_lo, read_hi, t_read, t_write : ndarray, shape (K,)
    cut_ptr : ndarray, shape (K + 1,)
    cut : ndarray, shape (cut_ptr[-1],)
    owners : ndarray of bool, shape (P, B)
        ``owners[c, b]``: worker c may write block b.
    concurrency : int
        Most jobs a worker may have in flight (1 for physical workers; 0 = unconstrained, as in
        abstract delay models where a "writer" is only a label).
    model : dict or None
        ``ScheduleModel.to_dict()`` of the model that drew it.
    seed : dict or None
        ``{"entropy": ..., "spawn_key": [...]}`` of the seed that drew it.
    source : str
        ``"timing"``, ``"abstract"``, ``"periodic"`` or ``"trace"``.
    """

    writer: np.ndarray
    block: np.ndarray
    read_lo: np.ndarray
    read_hi: np.ndarray
    t_read: np.ndarray
    t_write: np.ndarray
    cut_ptr: np.ndarray
    cut: np.ndarray
    owners: np.ndarray
    concurrency: int = 1
    model: dict | None = None
    seed: dict | None = None
    source: str = "trace"

    def __post_init__(self) -> None:
        for name, dtype in _ARRAYS.items():
            raw = np.asarray(getattr(self, name))
            if np.issubdtype(dtype, np.integer) and raw.size and not np.issubdtype(raw.dtype, np.integer):
                if not (np.isfinite(raw).all() and (raw == np.round(raw)).all()):
                    raise ScheduleError(name, "must hold integers")
            arr = np.ascontiguousarray(raw, dtype=dtype)
            if arr.ndim != 1:
                raise ScheduleError(name, f"must be one-dimensional (got shape {arr.shape})")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        owners = np.ascontiguousarray(self.owners, dtype=bool)
        if owners.ndim != 2 or owners.shape[0] < 1 or owners.shape[1] < 1:
            raise ScheduleError("owners", f"must be a (workers, blocks) matrix (got shape {owners.shape})")
        owners.setflags(write=False)
        object.__setattr__(self, "owners", owners)
        K = len(self.writer)
        for name in ("block", "read_lo", "read_hi", "t_read", "t_write"):
            if len(getattr(self, name)) != K:
                raise ScheduleError(name, f"has {len(getattr(self, name))} rows, writer has {K}")
        if len(self.cut_ptr) != K + 1:
            raise ScheduleError("cut_ptr", f"must have K + 1 = {K + 1} entries (got {len(self.cut_ptr)})")

    # --- shape --------------------------------------------------------------------------------

    @property
    def n_events(self) -> int:
        """K, the number of writes."""
        return len(self.writer)

    def __len__(self) -> int:
        return self.n_events

    @property
    def n_workers(self) -> int:
        return self.owners.shape[0]

    @property
    def n_blocks(self) -> int:
        return self.owners.shape[1]

    def __repr__(self) -> str:
        return (
            f"Schedule(n_events={self.n_events}, n_workers={self.n_workers}, "
            f"n_blocks={self.n_blocks}, source={self.source!r})"
        )

    # --- delays and versions ------------------------------------------------------------------

    def delay(self) -> np.ndarray:
        """Largest age over blocks of each write's read, k - read_lo[k]; shape (K,)."""
        return np.arange(self.n_events, dtype=np.int64) - self.read_lo

    def delay_min(self) -> np.ndarray:
        """Smallest age over blocks, k - read_hi[k]; equals :meth:`delay` for consistent reads."""
        return np.arange(self.n_events, dtype=np.int64) - self.read_hi

    def block_versions(self, j: int) -> np.ndarray:
        """Version of block ``j`` seen by the read of every write; shape (K,)."""
        self._check_block(j)
        seen = np.concatenate([[0], np.cumsum(self.cut <= j)])
        return self.read_lo + (seen[self.cut_ptr[1:]] - seen[self.cut_ptr[:-1]])

    def block_delay(self, j: int) -> np.ndarray:
        """Delay of every write for block ``j``: k - v_j(k); shape (K,)."""
        return np.arange(self.n_events, dtype=np.int64) - self.block_versions(j)

    def read_versions(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Per-block versions v_j(k) for rows ``start:stop``; shape (stop - start, B).

        Memory is O((stop - start) B): slice long schedules.
        """
        start, stop, _ = slice(start, stop).indices(self.n_events)
        stop = max(stop, start)
        m, B = stop - start, self.n_blocks
        lo, hi = self.cut_ptr[start], self.cut_ptr[stop]
        rows = np.repeat(np.arange(m), np.diff(self.cut_ptr[start : stop + 1]))
        bump = np.zeros((m, B + 1), dtype=np.int64)
        np.add.at(bump, (rows, self.cut[lo:hi]), 1)
        return self.read_lo[start:stop, None] + np.cumsum(bump, axis=1)[:, :B]

    def covers(self, j: int) -> np.ndarray:
        """Boolean (K,): whether write k updates block ``j``."""
        self._check_block(j)
        return (self.block == j) | ((self.block == ALL_OWNED) & self.owners[self.writer, j])

    def block_counts(self) -> np.ndarray:
        """Number of writes that update each block; shape (B,)."""
        single = np.bincount(self.block[self.block >= 0], minlength=self.n_blocks)
        whole = np.bincount(self.writer[self.block == ALL_OWNED], minlength=self.n_workers)
        return single + whole @ self.owners.astype(np.int64)

    def _check_block(self, j: int) -> None:
        if not 0 <= j < self.n_blocks:
            raise IndexError(f"block {j} out of range 0..{self.n_blocks - 1}")

    # --- transformations ----------------------------------------------------------------------

    def truncate(self, m: int) -> Schedule:
        """The first ``m`` writes (a prefix is itself a valid schedule)."""
        if not 0 <= m <= self.n_events:
            raise ValueError(f"cannot truncate a schedule of {self.n_events} events to {m}")
        end = self.cut_ptr[m]
        return Schedule(
            self.writer[:m], self.block[:m], self.read_lo[:m], self.read_hi[:m],
            self.t_read[:m], self.t_write[:m], self.cut_ptr[: m + 1], self.cut[:end],
            self.owners, self.concurrency, self.model, self.seed, self.source,
        )  # fmt: skip

    def relabel_workers(self, perm: Sequence[int]) -> Schedule:
        """Rename worker c to ``perm[c]`` (writers and ownership rows; nothing else changes)."""
        perm = np.asarray(perm, dtype=np.int64)
        if sorted(perm.tolist()) != list(range(self.n_workers)):
            raise ValueError(f"perm must be a permutation of 0..{self.n_workers - 1}")
        owners = np.empty_like(self.owners)
        owners[perm] = self.owners
        return Schedule(
            perm[self.writer], self.block, self.read_lo, self.read_hi, self.t_read,
            self.t_write, self.cut_ptr, self.cut, owners, self.concurrency, None, None, "trace",
        )  # fmt: skip

    def arrays(self) -> dict[str, np.ndarray]:
        """The event arrays by name."""
        return {name: getattr(self, name) for name in _ARRAYS}

    def same_events(self, other: Schedule) -> bool:
        """Bit-identical event arrays and ownership."""
        return all(
            np.array_equal(a, b) for a, b in zip(self.arrays().values(), other.arrays().values(), strict=True)
        ) and np.array_equal(self.owners, other.owners)

    # --- contract -----------------------------------------------------------------------------

    def validate(self) -> Schedule:
        """Check the contract; raise :class:`ScheduleError` naming the first violation.

        Checks: ranges of writer and block; ownership; causality 0 <= read_lo <= read_hi <= k
        (nothing reads the future); monotone, finite times with t_read <= t_write; the torn-read
        encoding; at most ``concurrency`` jobs in flight per worker (a worker's read must see its
        own write ``concurrency`` jobs back). Returns ``self`` so calls chain.
        """
        K = self.n_events
        if self.cut_ptr[0] != 0 or len(self.cut) != self.cut_ptr[-1]:
            raise ScheduleError("cut_ptr", "must start at 0 and end at len(cut)")
        code, i, other = _check_rows(
            self.writer, self.block, self.read_lo, self.read_hi, self.t_read, self.t_write,
            self.cut_ptr, self.cut, self.owners, self.concurrency,
        )  # fmt: skip
        if code:
            name, what = _VIOLATIONS[code]
            value = getattr(self, name)[i] if name in _ARRAYS and i < len(getattr(self, name)) else None
            raise ScheduleError(
                f"{name}[{i}]",
                what.format(
                    i=i, v=value, o=other, P=self.n_workers, B=self.n_blocks, m=self.concurrency, K=K
                ),
            )
        return self

    # --- statistics -----------------------------------------------------------------------------

    def stats(self, **options: Any) -> dict[str, Any]:
        """Summary statistics and assumption checks; see :func:`asyncconv.schedule.stats.schedule_stats`."""
        from asyncconv.schedule.stats import schedule_stats

        return schedule_stats(self, **options)

    # --- files --------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "asyncconv_version": __version__,
            "n_events": self.n_events,
            "n_workers": self.n_workers,
            "n_blocks": self.n_blocks,
            "concurrency": self.concurrency,
            "source": self.source,
            "model": self.model,
            "seed": self.seed,
        }

    def save(self, path: str | Path) -> Path:
        """Write one ``.npz`` file: the event arrays, ``owners`` and JSON ``meta`` (UTF-8 bytes).

        Readable without asyncconv: ``json.loads(np.load(path)["meta"].tobytes())``. An existing
        schedule (or empty file) at ``path`` is replaced; a directory or any other existing file is
        refused with :class:`ScheduleError` (field ``output``), so a typo never overwrites data.
        """
        path = Path(path)
        if path.is_dir():
            raise ScheduleError("output", f"{path} is a directory; give a file name ending in .npz")
        if path.exists() and path.stat().st_size > 0 and not _is_schedule_file(path):
            raise ScheduleError(
                "output", f"{path} exists and is not an asyncconv schedule; remove it or choose another name"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ScheduleError(
                "output", f"cannot write {path}: a file is in the way of the folder {path.parent}"
            ) from None
        meta = np.frombuffer(json.dumps(self.metadata(), indent=1).encode(), dtype=np.uint8)
        tmp = path.with_name(path.name + ".tmp")
        opened = False
        try:
            with open(tmp, "wb") as fh:  # an open handle stops numpy from appending ".npz"
                opened = True
                np.savez(fh, owners=self.owners, meta=meta, **self.arrays())
            tmp.replace(path)  # atomic: an interrupted save never leaves half a file
        except BaseException:
            if opened:  # ours: never leave a half-written .tmp behind (disk full, interrupt, ...)
                tmp.unlink(missing_ok=True)
            raise
        return path


def _is_schedule_file(path: Path) -> bool:
    """Whether ``path`` is a ``.npz`` whose ``meta`` says it is an asyncconv schedule."""
    try:  # our own handle: numpy leaks the one it opens when the zip is bad
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            if "meta" not in z.files:
                return False
            meta = json.loads(z["meta"].tobytes())
    except Exception:  # any failure to read it means: not a schedule
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


def _is_zip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) in (b"PK\x03\x04", b"PK\x05\x06")  # a member, or an empty archive


def load_schedule(path: str | Path) -> Schedule:
    """Load a schedule saved by :meth:`Schedule.save` (``.npz``) or a CSV trace, and validate it.

    A missing file raises :class:`FileNotFoundError`; a directory, an empty, foreign, truncated or
    damaged file raises :class:`ScheduleError` (field ``file``) naming it.
    """
    path = Path(path)
    if path.is_dir():
        raise ScheduleError("file", f"{path} is a directory, not an asyncconv schedule (give its .npz file)")
    if not path.is_file():
        raise FileNotFoundError(f"schedule file not found: {path}")
    if path.suffix.lower() == ".csv":
        return load_trace_csv(path)
    if path.stat().st_size == 0:
        raise ScheduleError("file", f"{path} is empty (0 bytes), not an asyncconv schedule")
    if not _is_zip(path):
        raise ScheduleError("file", f"{path} is not an asyncconv schedule (not a .npz archive)")
    try:  # our own handle: numpy leaks the one it opens when the zip is bad
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            if "meta" not in z.files:
                raise ScheduleError("file", f"{path} is not an asyncconv schedule (no 'meta' array)")
            meta = json.loads(z["meta"].tobytes())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                fmt = meta.get("format") if isinstance(meta, dict) else None
                raise ScheduleError("file", f"{path} is not an asyncconv schedule (format {fmt!r})")
            missing = [name for name in ("owners", *_ARRAYS) if name not in z.files]
            if missing:
                raise ValueError(f"missing array(s) {', '.join(missing)}")
            arrays = {name: z[name] for name in _ARRAYS}
            owners = z["owners"]
        sched = Schedule(
            **arrays,
            owners=owners,
            concurrency=int(meta.get("concurrency", 1)),
            model=meta.get("model"),
            seed=meta.get("seed"),
            source=meta.get("source", "trace"),
        )
    except (ScheduleError, PermissionError):
        raise
    except (OSError, EOFError, KeyError, ValueError, TypeError, NotImplementedError, zipfile.BadZipFile) as e:
        why = str(e).strip("'\"") or type(e).__name__
        raise ScheduleError(
            "file", f"{path} is not an asyncconv schedule (truncated or damaged: {why})"
        ) from None
    return sched.validate()


def schedule_from_trace(
    writer: Sequence[int],
    block: Sequence[int],
    read_lo: Sequence[int],
    read_hi: Sequence[int] | None = None,
    t_read: Sequence[float] | None = None,
    t_write: Sequence[float] | None = None,
    *,
    n_workers: int | None = None,
    n_blocks: int | None = None,
    owners: np.ndarray | None = None,
    block_versions: np.ndarray | None = None,
    concurrency: int = 1,
) -> Schedule:
    """Build and validate a :class:`Schedule` from recorded rows, one per completed write.

    Parameters
    ----------
    writer, block, read_lo : (K,) ints
        Writer, block (-1: the writer's owned set) and model version at the start of the read.
    read_hi : (K,) ints, optional
        Version at the end of the read (default: ``read_lo``, a consistent read).
    t_read, t_write : (K,) floats, optional
        Times; default ``read_lo`` and ``k + 1`` (version v is current on [v, v + 1)).
    n_workers, n_blocks : int, optional
        Default: one more than the largest id seen (or the width of ``block_versions``).
    owners : (P, B) bool, optional
        Default: the (writer, block) pairs observed, or every block when a write covers the owned set.
    block_versions : (K, B) ints, optional
        Per-block versions of torn reads, non-decreasing in block order, within [read_lo, read_hi].

    Ids and versions may be given as floats (a parsed CSV) but must be finite whole numbers:
    anything else raises :class:`ScheduleError` naming the array and its first bad row (1-based).
    """
    writer = _whole_numbers("writer", writer)
    K = len(writer)
    block = _whole_numbers("block", block)
    read_lo = _whole_numbers("read_lo", read_lo)
    read_hi = read_lo.copy() if read_hi is None else _whole_numbers("read_hi", read_hi)
    t_read = read_lo.astype(float) if t_read is None else np.asarray(t_read, dtype=float)
    t_write = np.arange(1, K + 1, dtype=float) if t_write is None else np.asarray(t_write, dtype=float)
    if n_workers is None:
        n_workers = int(writer.max()) + 1 if K else 1
    if n_blocks is None:
        if block_versions is not None:
            n_blocks = np.asarray(block_versions).shape[1]
        else:
            n_blocks = max(int(block.max()) + 1, 1) if K else 1
    if owners is None:
        owners = np.zeros((n_workers, n_blocks), dtype=bool)
        if (block == ALL_OWNED).any():
            owners[:] = True
        else:
            ok = (writer >= 0) & (writer < n_workers) & (block >= 0) & (block < n_blocks)
            owners[writer[ok], block[ok]] = True
    if block_versions is None:
        cut_ptr = np.zeros(K + 1, dtype=np.int64)
        cut_ptr[1:] = np.cumsum(read_hi - read_lo)
        if cut_ptr[-1] > 0:
            raise ScheduleError(
                "block_versions", "torn reads (read_hi > read_lo) need the per-block versions"
            )
        cut = np.empty(0, dtype=np.int32)
    else:
        cut_ptr, cut = _cuts_from_versions(_whole_numbers("block_versions", block_versions), read_lo, read_hi)
    return Schedule(
        writer, block, read_lo, read_hi, t_read, t_write, cut_ptr, cut,
        owners, concurrency, None, None, "trace",
    ).validate()  # fmt: skip


_MAX_WHOLE = 2**53  # floats hold every integer up to here exactly


def _whole_numbers(name: str, values: Any) -> np.ndarray:
    """``values`` as int64, refusing NaN, infinities, fractions and ids too large (no warnings)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64)
    try:
        f = arr.astype(np.float64)
    except (TypeError, ValueError):
        raise ScheduleError(name, f"must hold whole numbers (got {arr.dtype} values)") from None
    whole = np.isfinite(f) & (f == np.round(f))
    ok = whole & (np.abs(np.where(whole, f, 0.0)) <= _MAX_WHOLE)
    if not ok.all():
        flat = int(np.argmin(ok.ravel()))
        row = np.unravel_index(flat, f.shape)[0] + 1 if f.ndim else 1
        v = float(f.ravel()[flat])
        what = "must be a whole number" if not whole.ravel()[flat] else "must be at most 2**53 in magnitude"
        raise ScheduleError(name, f"row {row} is {v!r}; {what}")
    return f.astype(np.int64)


def _cuts_from_versions(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encode per-block versions v[K, B] as cut positions: cut_w = #{j : v_j <= w}."""
    K, B = v.shape
    if len(lo) != K:
        raise ScheduleError("block_versions", f"needs {len(lo)} rows (got {K})")
    if ((v < lo[:, None]) | (v > hi[:, None])).any():
        raise ScheduleError("block_versions", "every per-block version must lie in [read_lo, read_hi]")
    if B > 1 and (np.diff(v, axis=1) < 0).any():
        raise ScheduleError("block_versions", "per-block versions must be non-decreasing in block read order")
    cut_ptr = np.zeros(K + 1, dtype=np.int64)
    cut_ptr[1:] = np.cumsum(hi - lo)
    cut = np.empty(int(cut_ptr[-1]), dtype=np.int32)
    for k in np.flatnonzero(hi > lo):
        w = np.arange(lo[k], hi[k])
        cut[cut_ptr[k] : cut_ptr[k + 1]] = np.searchsorted(v[k], w, side="right")
    return cut_ptr, cut


_VIOLATIONS = {
    1: ("writer", "worker {v} outside 0..{P}-1"),
    2: ("block", "block {v} outside 0..{B}-1 (or -1 for the writer's owned set)"),
    3: ("block", "write {i} updates block {v}, which its writer does not own"),
    4: ("read_lo", "negative version {v}"),
    5: ("read_hi", "the read ends (version {v}) before it starts"),
    6: ("read_hi", "write {i} reads version {v}, the future (must be <= {i})"),
    7: ("t_read", "time {v} is not finite"),
    8: ("t_write", "time {v} is not finite"),
    9: ("t_write", "write {i} completes (t = {v}) before write {o}"),
    10: ("t_read", "write {i} is read (t = {v}) after it is written"),
    11: ("cut_ptr", "row {i} must hold read_hi - read_lo cut positions"),
    12: ("cut", "cut position {v} outside 0..{B}"),
    13: ("cut", "cut positions must be non-decreasing within a read (row {o})"),
    14: (
        "read_lo",
        "write {i} starts before write {o} of the same worker completes ({m} job(s) in flight allowed)",
    ),
}


@jit(nogil=True)
def _check_rows(writer, block, read_lo, read_hi, t_read, t_write, cut_ptr, cut, owners, m):
    """One pass over the rows; returns (violation code, index, related index) or (0, 0, 0).

    Concurrency: worker c's i-th write must read after its (i - m)-th write completed, in
    versions (read_lo > that write's index) and in time (m = 0: unchecked).
    """
    P, B = owners.shape
    K = len(writer)
    ring = np.full((P, max(m, 1)), -1, dtype=np.int64)  # last m writes of each worker
    count = np.zeros(P, dtype=np.int64)
    for k in range(K):
        c = writer[k]
        if c < 0 or c >= P:
            return 1, k, 0
        b = block[k]
        if b < -1 or b >= B:
            return 2, k, 0
        if b >= 0 and not owners[c, b]:
            return 3, k, 0
        if read_lo[k] < 0:
            return 4, k, 0
        if read_hi[k] < read_lo[k]:
            return 5, k, 0
        if read_hi[k] > k:
            return 6, k, 0
        if not np.isfinite(t_read[k]):
            return 7, k, 0
        if not np.isfinite(t_write[k]):
            return 8, k, 0
        if k > 0 and t_write[k] < t_write[k - 1]:
            return 9, k, k - 1
        if t_read[k] > t_write[k]:
            return 10, k, 0
        if cut_ptr[k + 1] - cut_ptr[k] != read_hi[k] - read_lo[k]:
            return 11, k, 0
        for q in range(cut_ptr[k], cut_ptr[k + 1]):
            if cut[q] < 0 or cut[q] > B:
                return 12, q, k
            if q > cut_ptr[k] and cut[q] < cut[q - 1]:
                return 13, q, k
        if m >= 1:
            prev = ring[c, count[c] % m]
            if prev >= 0 and (read_lo[k] < prev + 1 or t_read[k] < t_write[prev]):
                return 14, k, prev
            ring[c, count[c] % m] = k
            count[c] += 1
    return 0, 0, 0


_CSV_REQUIRED = ("writer", "block", "read_lo", "read_hi", "t_read", "t_write")


def load_trace_csv(path: str | Path) -> Schedule:
    """Import a CSV trace with header ``writer,block,read_lo,read_hi,t_read,t_write[,v0,...]``.

    Optional columns ``v0 .. v{B-1}`` give per-block versions of torn reads. Id and version
    columns must hold finite whole numbers; a bad value raises :class:`ScheduleError` naming the
    column and its first bad data row (1-based).
    """
    path = Path(path)
    need = ",".join(_CSV_REQUIRED)
    if path.is_dir():
        raise ScheduleError("trace", f"{path} is a directory; give a CSV trace file (header {need})")
    if path.is_file():
        if path.stat().st_size == 0:
            raise ScheduleError(
                "trace", f"{path} is empty (0 bytes); a CSV trace starts with the header {need}"
            )
        if path.suffix.lower() == ".npz" or _is_zip(path):
            if _is_schedule_file(path):
                raise ScheduleError(
                    "trace",
                    f"{path} is already an asyncconv schedule; 'schedule import' reads CSV traces: "
                    "use the .npz directly (schedule stats/plot, a trace source)",
                )
            raise ScheduleError(
                "trace",
                f"{path} is a .npz archive, not a CSV trace; 'schedule import' reads CSV (header {need})",
            )
    with open(path) as fh:
        header = [h.strip() for h in fh.readline().split(",")]
    missing = [c for c in _CSV_REQUIRED if c not in header]
    if missing:
        raise ScheduleError(
            "trace", f"{path} lacks column(s) {', '.join(missing)}; need {', '.join(_CSV_REQUIRED)}"
        )
    try:
        with warnings.catch_warnings():  # an empty trace is reported below, once
            warnings.simplefilter("ignore")
            data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        if data.shape[0] == 0:
            raise ValueError("the trace has no rows")
    except ValueError as e:
        raise ScheduleError("trace", f"{path}: {e}") from None
    if data.shape[1] != len(header):
        raise ScheduleError(
            "trace", f"{path}: the header names {len(header)} columns but the rows have {data.shape[1]}"
        )
    col = {h: data[:, i] for i, h in enumerate(header)}
    vcols = sorted((h for h in header if h.startswith("v") and h[1:].isdigit()), key=lambda h: int(h[1:]))
    ints = {h: _whole_numbers(h, col[h]) for h in ("writer", "block", "read_lo", "read_hi", *vcols)}
    versions = np.stack([ints[h] for h in vcols], axis=1) if vcols else None
    return schedule_from_trace(
        ints["writer"], ints["block"], ints["read_lo"], ints["read_hi"],
        col["t_read"], col["t_write"], block_versions=versions,
    )  # fmt: skip
