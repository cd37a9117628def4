"""``ScheduleModel``: the validated, frozen description of how asynchronous writes are scheduled.

A model has a number of workers (the paper's processes c = 1..c̄), a block structure
(:class:`~asyncconv.schedule.blocks.Blocks`), a read mode and exactly one *source* of events:

``timing`` (:class:`TimingModel`)
    Event-driven workers: each repeatedly reads the shared model, computes for a random time and
    writes one block (or its owned set). Delays arise from the timing, with the dependence between
    block choice and delay that real systems have (arXiv 1905.11845 §3).
``abstract`` (:class:`AbstractModel`)
    The theory papers' form (Cannelli, Facchinei, Kungurtsev, Scutari, arXiv 1607.04818): block,
    writer and delay of each write drawn from stated, possibly history-dependent laws, including
    laws that violate the theorem's assumptions on purpose.
``periodic`` (:class:`PeriodicModel`)
    Deterministic round-robin with a fixed delay (0 = synchronous, large = maximal): the negative
    control of the trap problem.
``trace`` (:class:`TraceModel`)
    Replay of a recorded schedule file.

Models round-trip through plain dicts and TOML (``from_dict``/``from_toml``/``to_dict``); every
invalid field raises :class:`~asyncconv.config.ConfigError` naming it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asyncconv.config import (
    ConfigError,
    check_choice,
    check_int,
    check_keys,
    check_number,
    check_probabilities,
    read_toml,
)
from asyncconv.schedule.blocks import Blocks
from asyncconv.schedule.laws import DelayLaw, TimeLaw

__all__ = [
    "AbstractModel",
    "PeriodicModel",
    "ScheduleModel",
    "TimingModel",
    "TraceModel",
]

READS = ("consistent", "inconsistent")
_ZERO = TimeLaw("deterministic", 0.0)  # an absent read, write or pause time
SOURCES = ("timing", "abstract", "periodic", "trace")


def _per_worker_laws(data: Any, n_workers: int, path: str) -> tuple[TimeLaw, ...]:
    """One law for every worker, or a list with one law per worker."""
    if isinstance(data, Sequence) and not isinstance(data, str | bytes | Mapping):
        if len(data) != n_workers:
            raise ConfigError(path, f"needs one law per worker ({n_workers}), got {len(data)}")
        return tuple(TimeLaw.from_dict(d, f"{path}[{i}]") for i, d in enumerate(data))
    law = TimeLaw.from_dict(data, path)
    return (law,) * n_workers


@dataclass(frozen=True)
class TimingModel:
    """Event-driven workers.

    Worker c repeats: optionally pause (with probability ``pause_prob``, for a ``pause`` time),
    read for a ``read`` time, compute for ``compute[c] / speeds[c]``, write for a ``write`` time.
    The write completes (and gets the next global index k) at the end of the write time.
    """

    compute: tuple[TimeLaw, ...]
    speeds: tuple[float, ...]
    read: TimeLaw = _ZERO
    write: TimeLaw = _ZERO
    pause_prob: float = 0.0
    pause: TimeLaw = _ZERO

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], n_workers: int, path: str = "timing") -> TimingModel:
        check_keys(data, ("compute", "speeds", "read", "write", "pause_prob", "pause"), path, ("compute",))
        compute = _per_worker_laws(data["compute"], n_workers, f"{path}.compute")
        for i, law in enumerate(compute):
            if law.support()[1] == 0.0:
                raise ConfigError(f"{path}.compute", f"compute time must be positive (worker {i} has 0)")
        speeds = data.get("speeds", [1.0] * n_workers)
        if isinstance(speeds, str) or not isinstance(speeds, Sequence) or len(speeds) != n_workers:
            raise ConfigError(f"{path}.speeds", f"needs one positive speed per worker ({n_workers})")
        speeds = tuple(check_number(s, f"{path}.speeds[{i}]", gt=0.0) for i, s in enumerate(speeds))
        read = TimeLaw.from_dict(data.get("read", 0.0), f"{path}.read")
        write = TimeLaw.from_dict(data.get("write", 0.0), f"{path}.write")
        pause_prob = check_number(data.get("pause_prob", 0.0), f"{path}.pause_prob", ge=0.0, lt=1.0)
        pause = TimeLaw.from_dict(data.get("pause", 0.0), f"{path}.pause")
        if pause_prob > 0 and pause.is_zero:
            raise ConfigError(f"{path}.pause", "pause_prob > 0 needs a pause law with positive mean")
        if pause_prob == 0:
            pause = _ZERO  # inert without pauses; normalised so that to_dict round-trips
        return cls(compute, speeds, read, write, pause_prob, pause)

    def to_dict(self) -> dict[str, Any]:
        same = all(c == self.compute[0] for c in self.compute)
        out: dict[str, Any] = {
            "compute": self.compute[0].to_dict() if same else [c.to_dict() for c in self.compute],
            "speeds": list(self.speeds),
            "read": self.read.to_dict(),
            "write": self.write.to_dict(),
        }
        if self.pause_prob > 0:
            out.update(pause_prob=self.pause_prob, pause=self.pause.to_dict())
        return out

    def job_time_bounds(self) -> tuple[float, float]:
        """(shortest, longest) read + compute + write time over workers; ``inf`` if unbounded."""
        lo, hi = math.inf, 0.0
        for law, s in zip(self.compute, self.speeds, strict=True):
            c_lo, c_hi = law.support()
            r_lo, r_hi = self.read.support()
            w_lo, w_hi = self.write.support()
            lo = min(lo, r_lo + c_lo / s + w_lo)
            hi = max(hi, r_hi + c_hi / s + w_hi)
        return lo, hi


@dataclass(frozen=True)
class AbstractModel:
    """Block, writer and delay of each write drawn from stated laws.

    At write k: the block i^k is drawn from ``block_probs`` (or, if ``block_transition`` is given,
    from row ``i^{k-1}`` of that Markov matrix — history dependence), with the probability of block
    ``starve_block`` multiplied by (k + 1)^-``starve_exponent`` and renormalised (a p_min -> 0
    violation). The writer is the block's owner (partitioned) or drawn from ``writer_probs``
    (shared). The delay d^k is drawn from ``delay[i^k]``; the read starts at version max(k - d^k, 0),
    so the oldest block of every read follows the declared law exactly. With inconsistent reads the
    read spans w ~ Uniform{0..min(d^k, B)} further versions, torn at uniformly drawn block positions.
    """

    delay: tuple[DelayLaw, ...]
    block_probs: tuple[float, ...] | None = None
    block_transition: tuple[tuple[float, ...], ...] | None = None
    writer_probs: tuple[float, ...] | None = None
    starve_block: int = 0
    starve_exponent: float = 0.0

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], n_workers: int, blocks: Blocks, path: str = "abstract"
    ) -> AbstractModel:
        allowed = ("delay", "block_probs", "block_transition", "writer_probs", "starve")
        check_keys(data, allowed, path, ("delay",))
        B = blocks.n_blocks
        d = data["delay"]
        if isinstance(d, Sequence) and not isinstance(d, str | bytes | Mapping):
            if len(d) != B:
                raise ConfigError(f"{path}.delay", f"needs one law per block ({B}), got {len(d)}")
            delay = tuple(DelayLaw.from_dict(x, f"{path}.delay[{i}]") for i, x in enumerate(d))
        else:
            delay = (DelayLaw.from_dict(d, f"{path}.delay"),) * B
        block_probs = None
        if "block_probs" in data:
            block_probs = check_probabilities(data["block_probs"], f"{path}.block_probs", length=B)
        block_transition = None
        if "block_transition" in data:
            if block_probs is not None:
                raise ConfigError(
                    f"{path}.block_transition", "give block_probs or block_transition, not both"
                )
            rows = data["block_transition"]
            if isinstance(rows, str) or not isinstance(rows, Sequence) or len(rows) != B:
                raise ConfigError(f"{path}.block_transition", f"must be a {B} x {B} matrix of probabilities")
            block_transition = tuple(
                check_probabilities(r, f"{path}.block_transition[{i}]", length=B) for i, r in enumerate(rows)
            )
        writer_probs = None
        if "writer_probs" in data:
            if blocks.ownership == "partitioned":
                raise ConfigError(
                    f"{path}.writer_probs", "with partitioned ownership the writer is the block's owner"
                )
            writer_probs = check_probabilities(data["writer_probs"], f"{path}.writer_probs", length=n_workers)
        starve_block, starve_exponent = 0, 0.0
        if "starve" in data:
            s = data["starve"]
            check_keys(s, ("block", "exponent"), f"{path}.starve", ("block", "exponent"))
            starve_block = check_int(s["block"], f"{path}.starve.block", ge=0, le=B - 1)
            starve_exponent = check_number(s["exponent"], f"{path}.starve.exponent", ge=0.0)
            if starve_exponent == 0.0:
                starve_block = 0  # inert; normalised so that to_dict round-trips
        return cls(delay, block_probs, block_transition, writer_probs, starve_block, starve_exponent)

    def to_dict(self) -> dict[str, Any]:
        same = all(x == self.delay[0] for x in self.delay)
        out: dict[str, Any] = {
            "delay": self.delay[0].to_dict() if same else [x.to_dict() for x in self.delay]
        }
        if self.block_probs is not None:
            out["block_probs"] = list(self.block_probs)
        if self.block_transition is not None:
            out["block_transition"] = [list(r) for r in self.block_transition]
        if self.writer_probs is not None:
            out["writer_probs"] = list(self.writer_probs)
        if self.starve_exponent > 0:
            out["starve"] = {"block": self.starve_block, "exponent": self.starve_exponent}
        return out


@dataclass(frozen=True)
class PeriodicModel:
    """Round-robin writers (k mod P), each cycling through its owned blocks, with a fixed delay.

    Write k reads version max(k - ``delay``, 0). ``delay = P - 1`` is what P identical workers with
    equal compute times produce; ``delay = 0`` is a synchronous cyclic schedule; a large delay is
    the "always maximal delay" adversary.
    """

    delay: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], n_workers: int, path: str = "periodic") -> PeriodicModel:
        check_keys(data, ("delay",), path)
        return cls(check_int(data.get("delay", n_workers - 1), f"{path}.delay", ge=0))

    def to_dict(self) -> dict[str, Any]:
        return {"delay": self.delay}


@dataclass(frozen=True)
class TraceModel:
    """Replay of a recorded schedule (``.npz`` from ``Schedule.save``, or a CSV trace)."""

    path: str
    #: sha256 of the file, recorded by a study when it is created: drawing refuses a changed file
    digest: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "trace") -> TraceModel:
        check_keys(data, ("path", "digest"), path, ("path",))
        if not isinstance(data["path"], str) or not data["path"]:
            raise ConfigError(f"{path}.path", "must be a file path")
        digest = data.get("digest")
        if digest is not None and not (isinstance(digest, str) and len(digest) == 64):
            raise ConfigError(f"{path}.digest", "must be a sha256 hex digest (recorded by a study)")
        return cls(data["path"], digest)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path} if self.digest is None else {"path": self.path, "digest": self.digest}


Source = TimingModel | AbstractModel | PeriodicModel | TraceModel


@dataclass(frozen=True)
class ScheduleModel:
    """A complete, validated scheduler model; see the module docstring.

    Build it with :meth:`from_dict` or :meth:`from_toml` (which validate), or with
    :meth:`timing_preset` for the common event-driven cases.
    """

    n_workers: int
    blocks: Blocks
    source: Source
    reads: str = "consistent"

    @property
    def kind(self) -> str:
        """``"timing"``, ``"abstract"``, ``"periodic"`` or ``"trace"``."""
        return {
            TimingModel: "timing",
            AbstractModel: "abstract",
            PeriodicModel: "periodic",
            TraceModel: "trace",
        }[type(self.source)]

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScheduleModel:
        """Validate a plain dict (the TOML form) and build the model."""
        check_keys(data, ("n_workers", "reads", "blocks", *SOURCES), "")
        n_workers = check_int(data.get("n_workers", 1), "n_workers", ge=1)
        reads = check_choice(data.get("reads", "consistent"), READS, "reads")
        blocks = Blocks.from_dict(data.get("blocks", {}), "blocks")
        if blocks.ownership == "partitioned" and blocks.n_blocks < n_workers:
            raise ConfigError(
                "blocks.n_blocks",
                f"partitioned ownership needs at least one block per worker "
                f"(n_blocks = {blocks.n_blocks} < n_workers = {n_workers}); "
                "use more blocks or ownership = 'shared'",
            )
        given = [s for s in SOURCES if s in data]
        if len(given) != 1:
            raise ConfigError(
                "" if not given else given[1],
                f"a model needs exactly one source table out of {', '.join(SOURCES)} "
                f"(got {', '.join(given) if given else 'none'})",
            )
        kind = given[0]
        sub = data[kind]
        if kind == "timing":
            source: Source = TimingModel.from_dict(sub, n_workers)
        elif kind == "abstract":
            source = AbstractModel.from_dict(sub, n_workers, blocks)
        elif kind == "periodic":
            source = PeriodicModel.from_dict(sub, n_workers)
            if reads != "consistent":
                raise ConfigError("reads", "periodic schedules support reads = 'consistent' only")
        else:
            source = TraceModel.from_dict(sub)
        if blocks.selection == "weighted" and kind != "timing":
            raise ConfigError(
                "blocks.selection",
                f"'weighted' applies to timing models; the {kind} model sets block laws itself",
            )
        return cls(n_workers, blocks, source, reads)

    @classmethod
    def from_toml(cls, path: str | Path) -> ScheduleModel:
        """Read and validate a TOML model file."""
        p = Path(path)
        data = read_toml(p, "model")
        trace = data.get("trace")
        if (
            isinstance(trace, dict)
            and isinstance(trace.get("path"), str)
            and not Path(trace["path"]).is_absolute()
        ):
            trace["path"] = str(p.parent / trace["path"])  # relative to the model file, not the cwd
        return cls.from_dict(data)

    @classmethod
    def timing_preset(
        cls,
        *,
        n_workers: int,
        compute: str = "exponential",
        mean: float = 1.0,
        shape: float | None = None,
        n_blocks: int | None = None,
        ownership: str = "partitioned",
        reads: str = "consistent",
        read_time: float = 0.0,
        selection: str = "uniform",
        write: str = "block",
        speeds: Sequence[float] | None = None,
    ) -> ScheduleModel:
        """The common event-driven model from a few parameters (the CLI's ``schedule draw`` flags)."""
        law: dict[str, Any] = {"law": compute, "mean": mean}
        if shape is not None:
            law["shape"] = shape
        timing: dict[str, Any] = {"compute": law, "read": read_time}
        if speeds is not None:
            timing["speeds"] = list(speeds)
        return cls.from_dict(
            {
                "n_workers": n_workers,
                "reads": reads,
                "blocks": {
                    "n_blocks": n_blocks if n_blocks is not None else n_workers,
                    "ownership": ownership,
                    "selection": selection,
                    "write": write,
                },
                "timing": timing,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The plain-dict (TOML) form; ``from_dict(m.to_dict()) == m``."""
        return {
            "n_workers": self.n_workers,
            "reads": self.reads,
            "blocks": self.blocks.to_dict(),
            self.kind: self.source.to_dict(),
        }

    # --- what the model implies ---------------------------------------------------------------

    def owners(self) -> np.ndarray:
        """``owners[P, B]``: which worker may write which block."""
        return self.blocks.owners(self.n_workers)

    def delay_bound(self) -> int | None:
        """A bound on every delay k - (version read) that the model guarantees, or ``None``.

        For timing models with bounded job times T in [T_min, T_max] (read + compute + write; pauses
        only lengthen the gaps between jobs): during one job, every other worker completes at most
        floor(T_max / T_min) + 1 writes, so d <= (P - 1)(floor(T_max / T_min) + 1).
        """
        src = self.source
        if isinstance(src, PeriodicModel):
            return src.delay
        if isinstance(src, AbstractModel):
            bounds = [law.bound() for law in src.delay]
            return None if any(b is None for b in bounds) else max(bounds)
        if isinstance(src, TimingModel):
            if self.n_workers == 1:
                return 0
            lo, hi = src.job_time_bounds()
            if not math.isfinite(hi) or lo <= 0.0:
                return None
            return (self.n_workers - 1) * (math.floor(hi / lo) + 1)
        return None

    def delay_pmf(self, upto: int) -> np.ndarray | None:
        """The law of the delay k - read_lo[k] for i = 0..upto when it is known in closed form.

        Known cases: abstract models with one delay law; periodic models (a point mass); timing models of identical workers with exponential
        compute times, no read/write time and no pauses, whose delays are Geometric with success
        probability 1/P and mean P - 1 (competing exponential clocks, memorylessness).
        """
        src = self.source
        i = np.arange(upto + 1)
        if isinstance(src, PeriodicModel):
            return (i == src.delay).astype(float)
        if isinstance(src, AbstractModel):
            if any(x != src.delay[0] for x in src.delay):
                return None
            return src.delay[0].pmf(upto)
        if isinstance(src, TimingModel):
            identical = all(c == src.compute[0] for c in src.compute) and len(set(src.speeds)) == 1
            if (
                identical
                and src.compute[0].law == "exponential"
                and src.read.is_zero
                and src.write.is_zero
                and src.pause_prob == 0.0
            ):
                P = self.n_workers
                return (1.0 - 1.0 / P) ** i / P
        return None
