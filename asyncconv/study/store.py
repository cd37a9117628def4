"""The results store: one directory per study, readable with the library and with ordinary tools.

Layout::

    DIR/spec.toml                the spec as written (text)
    DIR/study.json               the expanded spec: configurations, seeds, thresholds, fingerprint
    DIR/manifest.json            versions (package, Python, numpy, numba, dask ...), host, and one
                                 entry per session (run or resume): workers, wall, JIT compile,
                                 kernel and evaluation seconds, tasks done
    DIR/parts/TASK.parquet       per-replica summary rows of one task (TASK = c0003-r000016)
    DIR/parts/TASK.json          the task's pooled delay histogram, schedule statistics and
                                 timings; written last, atomically: its presence marks TASK done
    DIR/failed/TASK.txt          the error of a task that failed (retried by the next resume)
    DIR/trajectories.zarr        zarr v3 group: ``metrics`` (config, replica, checkpoint, metric)
                                 and ``probes`` (config, replica, probe, field), float32, one chunk
                                 per task; NaN where not computed; with ``probe_x = true`` also
                                 ``probe_x`` (config, replica, probe, coordinate): the iterates
                                 at the probes (NaN-padded to the largest n)
    DIR/summary.parquet          all summary rows sorted by (config, replica), when complete
    DIR/schedules.json           per configuration: pooled delay histogram and replica 0's
                                 schedule statistics, when complete

A task's files are written before its marker, each by write-then-rename, so a killed study
(``kill -9`` included) loses at most the tasks in flight, which ``resume`` recomputes to the same
bits. One process at a time holds ``DIR/.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asyncconv.config import ConfigError, json_default
from asyncconv.study.spec import StudySpec, parse_spec

__all__ = ["Results", "Store", "open_results", "task_name"]

#: 2: probes record the distance to the critical set (``dist``), summaries the verdict rules 2
#: (``outcome``, ``rules``, ``evidence``, ``dist_rel_final``, ``dist_scale``)
FORMAT = 2


def task_name(config: int, r0: int) -> str:
    return f"c{config:04d}-r{r0:06d}"


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _json(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, sort_keys=False, default=json_default, allow_nan=True).encode()


class Store:
    """A study directory opened for writing (see the module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # --- creation and identity -----------------------------------------------------------------
    @property
    def exists(self) -> bool:
        return (self.root / "study.json").is_file()

    def spec(self) -> StudySpec:
        """The spec the directory was created with (from ``spec.toml``)."""
        path = self.root / "spec.toml"
        if not path.is_file():
            raise ConfigError(
                "DIR", f"{self.root} is not a study directory (no spec.toml); run 'asyncconv study run'"
            )
        meta = self.root / "study.json"
        info = json.loads(meta.read_text()) if meta.is_file() else {}
        spec = parse_spec(
            path.read_text(encoding="utf-8"), default_name=self.root.name, scale=info.get("scale", "full"),
            base_dir=info.get("base_dir") or None,
        )  # fmt: skip
        self.check_sources(spec, info)
        return spec

    def check_format(self) -> None:
        """Refuse to add to a store written in an earlier format (it stays readable: report, plot)."""
        path = self.root / "manifest.json"
        have = json.loads(path.read_text()).get("format", 1) if path.is_file() else FORMAT
        if have < FORMAT:
            raise ConfigError(
                "DIR",
                f"{self.root} was written by an earlier asyncconv (store format {have}, verdict rules 1, "
                f"no distance at the probes); it can still be reported and plotted but not resumed: run "
                f"the spec into a new directory",
            )

    def check_sources(self, spec: StudySpec, info: dict[str, Any] | None = None) -> None:
        """Refuse a spec whose problem files changed since the store was created (their sha256
        ``digest`` is recorded per configuration), naming the file."""
        if info is None:
            meta = self.root / "study.json"
            if not meta.is_file():
                return
            info = json.loads(meta.read_text())
        for old, new in zip(info.get("configs", []), spec.configs, strict=False):
            have, now = old.get("problem", {}).get("digest"), new.problem.get("digest")
            if have and have != now:
                path = str(old["problem"]["name"]).rpartition(":")[0]
                raise ConfigError(
                    "problem.name",
                    f"{path} changed since the study in {self.root} was created (sha256 {have[:12]} -> "
                    f"{(now or 'none')[:12]}); restore it, or run the changed problem as a new study",
                )

    def create(self, spec: StudySpec) -> None:
        """Lay out a new store for ``spec``, or check that an existing one holds the same study."""
        if self.exists:
            info = json.loads((self.root / "study.json").read_text())
            self.check_format()
            self.check_sources(spec, info)
            have = info["fingerprint"]
            if have != spec.fingerprint():
                raise ConfigError(
                    "--output",
                    f"{self.root} holds a different study (another spec or seed); choose another directory",
                )
            return
        if self.root.exists() and any(p.name != ".lock" for p in self.root.iterdir()):
            raise ConfigError("--output", f"{self.root} exists and is not a study directory; choose another")
        (self.root / "parts").mkdir(parents=True, exist_ok=True)
        (self.root / "failed").mkdir(exist_ok=True)
        self._create_arrays(spec)
        _atomic_write(self.root / "spec.toml", spec.text.encode())
        seeding = (
            "replica r of every configuration: SeedSequence(seed, spawn_key=(r,)).spawn(2) gives the "
            "schedule's seed and the key of its noise, minibatches and step factors"
        )
        manifest = {"format": FORMAT, "seed": spec.seed, "seeding": seeding, **environment(), "sessions": []}
        _atomic_write(self.root / "manifest.json", _json(manifest))
        # study.json last: its presence marks a complete layout
        _atomic_write(self.root / "study.json", _json(spec.to_dict()))

    def _create_arrays(self, spec: StudySpec) -> None:
        import zarr

        from asyncconv.sim.simulate import METRIC_NAMES, PROBE_NAMES

        g = zarr.open_group(str(self.root / "trajectories.zarr"), mode="w")
        C, R = len(spec.configs), spec.replicas
        for name, width, fields, dims in (
            ("metrics", spec.checkpoints + 1, METRIC_NAMES, ("config", "replica", "checkpoint", "metric")),
            ("probes", spec.probes, PROBE_NAMES, ("config", "replica", "probe", "field")),
        ):
            a = g.create_array(
                name, shape=(C, R, width, len(fields)), chunks=(1, spec.batch, max(width, 1), len(fields)),
                dtype="float32", fill_value=np.nan, dimension_names=dims,
            )  # fmt: skip
            a.attrs["fields"] = list(fields)
        if spec.probe_x:
            n_max = max(c.problem["n"] for c in spec.configs)
            g.create_array(
                "probe_x", shape=(C, R, spec.probes, n_max), chunks=(1, spec.batch, max(spec.probes, 1), n_max),
                dtype="float32", fill_value=np.nan, dimension_names=("config", "replica", "probe", "coordinate"),
            )  # fmt: skip
        g.attrs["description"] = (
            "asyncconv study trajectories: metrics at geometric ODE-time checkpoints (row 0 = start, "
            "last = end) and probes uniform in ODE time; float32, NaN where not reached or not computed"
        )

    # --- locking -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self):
        """Hold ``DIR/.lock`` (released by the OS if this process dies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fh = open(self.root / ".lock", "w")
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError("DIR", f"another process is running the study in {self.root}") from None
            yield
        finally:
            fh.close()

    # --- tasks ---------------------------------------------------------------------------------
    def done(self) -> set[str]:
        return {p.stem for p in (self.root / "parts").glob("*.json")}

    def failed(self) -> dict[str, str]:
        d = self.root / "failed"
        return {p.stem: p.read_text() for p in d.glob("*.txt")} if d.is_dir() else {}

    def write_task(self, spec: StudySpec, result) -> None:
        """Store one finished task (rows, trajectories, extras), marker last."""
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq
        import zarr

        name = task_name(result.config, result.r0)
        g = zarr.open_group(str(self.root / "trajectories.zarr"), mode="r+")
        g["metrics"][result.config, result.r0 : result.r1] = result.metrics
        if spec.probes:
            g["probes"][result.config, result.r0 : result.r1] = result.probes
        if result.probe_x is not None and spec.probes:
            n = result.probe_x.shape[-1]
            g["probe_x"][result.config, result.r0 : result.r1, :, :n] = result.probe_x
        table = pa.Table.from_pandas(pd.DataFrame(result.rows), preserve_index=False)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        _atomic_write(self.root / "parts" / f"{name}.parquet", sink.getvalue().to_pybytes())
        extra = {
            "config": result.config,
            "r0": result.r0,
            "r1": result.r1,
            "delay_hist": result.delay_hist,
            "schedule_stats": result.schedule_stats,
            "timings": result.timings,
        }
        (self.root / "failed" / f"{name}.txt").unlink(missing_ok=True)
        _atomic_write(self.root / "parts" / f"{name}.json", _json(extra))

    def write_failure(self, config: int, r0: int, error: str) -> None:
        _atomic_write(self.root / "failed" / f"{task_name(config, r0)}.txt", error.encode())

    def add_session(self, session: dict[str, Any]) -> None:
        path = self.root / "manifest.json"
        man = json.loads(path.read_text())
        man["sessions"].append(session)
        _atomic_write(path, _json(man))

    # --- consolidation -------------------------------------------------------------------------
    def consolidate(self, spec: StudySpec) -> None:
        """Write ``summary.parquet`` and ``schedules.json`` from the parts (all tasks done).

        The result depends only on the parts, so it is the same bits after any resume."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        names = [task_name(c, r0) for c, r0, _ in spec.tasks()]
        tables = [pq.read_table(self.root / "parts" / f"{n}.parquet") for n in names]
        table = pa.concat_tables(tables, promote_options="permissive").sort_by(
            [("config", "ascending"), ("replica", "ascending")]
        )
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        _atomic_write(self.root / "summary.parquet", sink.getvalue().to_pybytes())
        _atomic_write(self.root / "schedules.json", _json(pooled_schedules(self.root, spec.to_dict())))


def pooled_schedules(root: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """Per configuration id: the delay histogram pooled over its finished tasks (in task order),
    the replicas it covers, and replica 0's schedule statistics (None until that task is done)."""
    sched: dict[str, Any] = {}
    for c in spec["configs"]:
        hist, stats, replicas = None, None, 0
        for r0 in range(0, spec["replicas"], spec["batch"]):
            path = root / "parts" / f"{task_name(c['id'], r0)}.json"
            if not path.is_file():
                continue
            extra = json.loads(path.read_text())
            h = np.asarray(extra["delay_hist"], dtype=np.int64)
            hist = h if hist is None else hist + h
            replicas += extra["r1"] - extra["r0"]
            if r0 == 0:
                stats = extra["schedule_stats"]
        sched[str(c["id"])] = {
            "label": c["label"],
            "replicas": replicas,
            "delay_hist": hist,
            "replica0": stats,
        }
    return sched


def environment() -> dict[str, Any]:
    """Versions of the package and its main dependencies, and the host."""
    from importlib import metadata

    import asyncconv

    def ver(pkg: str) -> str | None:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    return {
        "asyncconv": asyncconv.__version__,
        "python": platform.python_version(),
        "versions": {
            p: ver(p)
            for p in ("numpy", "scipy", "numba", "dask", "distributed", "pandas", "pyarrow", "xarray", "zarr")
        },
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


@dataclass(frozen=True)
class Results:
    """A study's results, read-only.

    Attributes
    ----------
    spec : dict  (``study.json``: configurations, seeds, thresholds)
    manifest : dict
    configs : pandas.DataFrame  (one row per configuration: id, label and the varying axes)
    summary : pandas.DataFrame  (one row per finished replica; ``config`` joins ``configs.id``)
    trajectories : xarray.Dataset  (``metrics`` and ``probes``, float32, lazily loaded)
    schedules : dict  (per configuration id: delay histogram pooled over the finished replicas,
        their count, replica 0's statistics; also for an incomplete study)
    """

    root: Path
    spec: dict[str, Any]
    manifest: dict[str, Any]
    configs: Any
    summary: Any
    trajectories: Any
    schedules: dict[str, Any]

    @property
    def complete(self) -> bool:
        return (self.root / "summary.parquet").is_file()


def open_results(root: str | Path) -> Results:
    """Open a study directory (complete or not) as pandas and xarray objects."""
    import pandas as pd
    import xarray as xr

    root = Path(root)
    if not (root / "study.json").is_file():
        raise ConfigError("DIR", f"{root} is not a study directory (no study.json)")
    spec = json.loads((root / "study.json").read_text())
    manifest = json.loads((root / "manifest.json").read_text())
    configs = pd.DataFrame(
        [{"id": c["id"], "label": c["label"], "events": c["events"], **c["labels"]} for c in spec["configs"]]
    )
    if (root / "summary.parquet").is_file():
        summary = pd.read_parquet(root / "summary.parquet")
    else:
        parts = sorted((root / "parts").glob("*.json"))
        frames = [pd.read_parquet(p.with_suffix(".parquet")) for p in parts]
        summary = (
            pd.concat(frames, ignore_index=True).sort_values(["config", "replica"], ignore_index=True)
            if frames
            else pd.DataFrame()
        )
    summary = _upgrade_summary(summary)
    ds = xr.open_zarr(root / "trajectories.zarr", consolidated=False)
    ds = ds.assign_coords(
        config=np.arange(ds.sizes["config"]),
        replica=np.arange(ds.sizes["replica"]),
        metric=list(ds["metrics"].attrs["fields"]),
        field=list(ds["probes"].attrs["fields"]),
        label=("config", [c["label"] for c in spec["configs"]]),
    )
    schedules = (
        json.loads((root / "schedules.json").read_text())
        if (root / "schedules.json").is_file()
        else pooled_schedules(root, spec)
    )
    return Results(root, spec, manifest, configs, summary, ds, schedules)


def _upgrade_summary(summary):
    """Give a summary written before verdict rules 2 the columns of the current one: ``rules`` = 1,
    ``outcome`` from its verdict, and NaN/empty ``dist_rel_final``, ``dist_scale``, ``evidence``
    (the distance scale was not recorded; reports say that its verdicts follow the old rules)."""
    from asyncconv.theory.verdict import outcome

    if not len(summary) or "rules" in summary.columns:
        return summary
    summary = summary.copy()
    summary["rules"] = 1
    summary["outcome"] = [outcome(v) for v in summary["verdict"]]
    summary["dist_rel_final"] = np.nan
    summary["dist_scale"] = np.nan
    summary["evidence"] = "{}"
    return summary
