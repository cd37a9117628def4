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
    DIR/complete.json            written last by consolidation: the sha256 of summary.parquet and
                                 schedules.json (the marker of a complete study)

Every file is covered by a sha256 recorded when it was written (task markers: their parquet and
trajectory slices; complete.json: the consolidated files; study.json and manifest.json: spec.toml,
whose text the manifest also keeps), checked by :mod:`asyncconv.study.verify` on every read and
repaired by ``study resume`` (see :meth:`Store.create`).

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
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asyncconv.config import ConfigError, json_default
from asyncconv.study.spec import StudySpec, parse_spec
from asyncconv.study.verify import LAYOUT, array_digest, task_name, verify
from asyncconv.study.verify import sha256 as _sha256

__all__ = ["Results", "Store", "open_results", "task_name"]

#: 2: probes record the distance to the critical set (``dist``), summaries the verdict rules 2
#: (``outcome``, ``rules``, ``evidence``, ``dist_rel_final``, ``dist_scale``)
FORMAT = 2


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_json_or_none(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _json(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, sort_keys=False, default=json_default, allow_nan=True).encode()


class Store:
    """A study directory opened for writing (see the module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # --- creation and identity -----------------------------------------------------------------
    @property
    def exists(self) -> bool:
        return (self.root / "study.json").is_file() or (
            (self.root / "parts").is_dir() and any((self.root / "parts").glob("*.json"))
        )

    def spec(self, *, repair: bool = False) -> StudySpec:
        """The spec the directory was created with (from ``spec.toml``), after checking ``spec.toml``,
        ``study.json`` and ``manifest.json`` against each other's checksums. A damaged one is
        rebuilt from the other two when ``repair`` (``study resume``); otherwise the damage is
        refused with one line naming it (``status``, ``report``)."""
        if not self.root.is_dir():
            raise ConfigError("DIR", f"{self.root} does not exist")
        if not (self.root / "spec.toml").is_file() and not self.exists:
            if any(p.name in LAYOUT for p in self.root.iterdir()):
                raise ConfigError(
                    "DIR",
                    f"{self.root}: the study's creation was interrupted before anything ran; start it "
                    "again with 'asyncconv study run SPEC -o DIR'",
                )
            raise ConfigError(
                "DIR", f"{self.root} is not a study directory (no spec.toml); run 'asyncconv study run'"
            )
        self.check_format(strict=False)
        chk = verify(self.root, trajectories=False)
        meta_damage = chk.rebuild & {"spec.toml", "study.json", "manifest.json"}
        if chk.fatal:
            raise ConfigError("DIR", chk.line(self.root))
        if meta_damage and not repair:
            raise ConfigError("DIR", chk.line(self.root))
        if meta_damage:
            self._rebuild_metadata(meta_damage)
        info = json.loads((self.root / "study.json").read_text())
        spec = parse_spec(
            (self.root / "spec.toml").read_text(encoding="utf-8"), default_name=self.root.name,
            scale=info.get("scale", "full"), base_dir=info.get("base_dir") or None,
        )  # fmt: skip
        self.check_sources(spec, info)
        return spec

    def _rebuild_metadata(self, which: set[str]) -> None:
        """Rebuild spec.toml, study.json or manifest.json from the other two (verified)."""
        man = _read_json_or_none(self.root / "manifest.json")
        info = _read_json_or_none(self.root / "study.json")
        if "spec.toml" in which:
            _atomic_write(self.root / "spec.toml", str(man["spec_text"]).encode())
        if "study.json" in which:
            scale = (man or {}).get("scale", "full")
            base = (man or {}).get("base_dir") or None
            spec = parse_spec((self.root / "spec.toml").read_text(encoding="utf-8"),
                              default_name=self.root.name, scale=scale, base_dir=base)  # fmt: skip
            if man is not None and spec.fingerprint() != man.get("fingerprint"):
                raise ConfigError("DIR", f"{self.root}: study.json is damaged and spec.toml no longer expands "
                                  "to the recorded study (a problem file or trace changed?)")  # fmt: skip
            info = self._study_info(spec)
            _atomic_write(self.root / "study.json", _json(info))
        if "manifest.json" in which:
            spec_text = (self.root / "spec.toml").read_text(encoding="utf-8")
            man = self._manifest(info, spec_text)
            man["repaired"] = "manifest.json was rebuilt: the sessions recorded before are lost"
            _atomic_write(self.root / "manifest.json", _json(man))

    def _study_info(self, spec: StudySpec) -> dict[str, Any]:
        return {**spec.to_dict(), "spec_sha256": _sha256(spec.text.encode())}

    def _manifest(self, info: dict[str, Any], spec_text: str) -> dict[str, Any]:
        seeding = (
            "replica r of every configuration: SeedSequence(seed, spawn_key=(r,)).spawn(2) gives the "
            "schedule's seed and the key of its noise, minibatches and step factors"
        )
        return {
            "format": FORMAT, "seed": info["seed"], "seeding": seeding, "fingerprint": info["fingerprint"],
            "spec_sha256": _sha256(spec_text.encode()), "spec_text": spec_text, "scale": info.get("scale", "full"),
            "base_dir": info.get("base_dir", ""), **environment(), "sessions": [],
        }  # fmt: skip

    def check_format(self, strict: bool = True) -> None:
        """Refuse to add to a store written in an earlier format (it stays readable: report, plot);
        ``strict=False`` only reads the format (a damaged manifest is :func:`verify`'s to report)."""
        man = _read_json_or_none(self.root / "manifest.json")
        have = man.get("format", 1) if man is not None else FORMAT
        if have < FORMAT and strict:
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
            tr_old = old.get("schedule", {}).get("trace") or {}
            tr_new = new.schedule.get("trace") or {}
            if tr_old.get("digest") and tr_old.get("digest") != tr_new.get("digest"):
                raise ConfigError(
                    "schedule.trace.path",
                    f"{tr_old.get('path')} changed since the study in {self.root} was created (sha256 "
                    f"{tr_old['digest'][:12]} -> {str(tr_new.get('digest') or 'none')[:12]}); restore it, or "
                    "run the changed trace as a new study",
                )

    def create(self, spec: StudySpec) -> list[str]:
        """Lay out a new store for ``spec``, or check that an existing one holds the same study and
        repair what is damaged (:func:`~asyncconv.study.verify.verify`): damaged tasks are removed,
        to be recomputed, and the consolidated files are rebuilt when the study completes."""
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError("--output", f"{self.root} exists and is a file, not a study directory")
        if self.exists:
            self.check_format()
            before = self.verify(trajectories=False).problems
            self.spec(repair=True)  # spec.toml, study.json, manifest.json: verified or rebuilt
            info = json.loads((self.root / "study.json").read_text())
            self.check_sources(spec, info)
            have = info["fingerprint"]
            if have != spec.fingerprint():
                raise ConfigError(
                    "--output",
                    f"{self.root} holds a different study (another spec or seed); choose another directory",
                )
            return self.repair(spec) or before
        if self.root.exists():
            entries = [p for p in self.root.iterdir() if p.name != ".lock"]
            if any(p.name not in LAYOUT and not p.name.endswith(".tmp") for p in entries):
                raise ConfigError(
                    "--output", f"{self.root} exists and is not a study directory; choose another"
                )
            for p in entries:  # an interrupted creation (nothing ran yet): start afresh
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        (self.root / "parts").mkdir(parents=True, exist_ok=True)
        (self.root / "failed").mkdir(exist_ok=True)
        self._create_arrays(spec)
        _atomic_write(self.root / "spec.toml", spec.text.encode())
        info = self._study_info(spec)
        _atomic_write(self.root / "manifest.json", _json(self._manifest(info, spec.text)))
        # study.json last: its presence marks a complete layout
        _atomic_write(self.root / "study.json", _json(info))
        return []

    def verify(self, trajectories: bool = True):
        """:func:`~asyncconv.study.verify.verify` of this store."""
        return verify(self.root, trajectories=trajectories)

    def repair(self, spec: StudySpec) -> list[str]:
        """Remove what :meth:`verify` finds damaged so that the runner recomputes it (the results
        are a pure function of the spec and the seeds, so the repaired store has the same bits as
        an undamaged one). Returns the problems found."""
        chk = self.verify()
        if chk.ok:
            return []
        if chk.fatal:
            raise ConfigError("DIR", chk.line(self.root))
        (self.root / "parts").mkdir(exist_ok=True)
        (self.root / "failed").mkdir(exist_ok=True)
        if "trajectories" in chk.rebuild:
            shutil.rmtree(self.root / "trajectories.zarr", ignore_errors=True)
            self._create_arrays(spec)
            chk.tasks.update(self.done())
        for name in sorted(chk.tasks):
            for suffix in (".json", ".parquet"):
                (self.root / "parts" / f"{name}{suffix}").unlink(missing_ok=True)
            self._drop_chunks(spec, name)
        if "consolidated" in chk.rebuild or chk.tasks:
            for f in ("complete.json", "summary.parquet", "schedules.json"):
                (self.root / f).unlink(missing_ok=True)
        return chk.problems

    def _drop_chunks(self, spec: StudySpec, name: str) -> None:
        """Delete the zarr chunks of one task (a damaged chunk must not be read back when the task
        is rewritten into a chunk it shares only partly)."""
        c, r0 = int(name[1:5]), int(name[7:])
        for arr in ("metrics", "probes", "probe_x"):
            chunk = self.root / "trajectories.zarr" / arr / "c" / str(c) / str(r0 // spec.batch)
            shutil.rmtree(chunk, ignore_errors=True)

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
        data = sink.getvalue().to_pybytes()
        _atomic_write(self.root / "parts" / f"{name}.parquet", data)
        sums = {"parquet": _sha256(data), "metrics": array_digest(result.metrics)}
        if spec.probes:
            sums["probes"] = array_digest(result.probes)
        if result.probe_x is not None and spec.probes:
            sums["probe_x"] = array_digest(result.probe_x)
            sums["probe_x_n"] = int(result.probe_x.shape[-1])
        extra = {
            "config": result.config,
            "r0": result.r0,
            "r1": result.r1,
            "delay_hist": result.delay_hist,
            "schedule_stats": result.schedule_stats,
            "timings": result.timings,
            "sha256": sums,
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
        summary = sink.getvalue().to_pybytes()
        schedules = _json(pooled_schedules(self.root, spec.to_dict()))
        _atomic_write(self.root / "summary.parquet", summary)
        _atomic_write(self.root / "schedules.json", schedules)
        # last: its presence (and checksums) mark the consolidated files complete and intact
        done = {
            "summary.parquet": _sha256(summary),
            "schedules.json": _sha256(schedules),
            "tasks": len(names),
        }
        _atomic_write(self.root / "complete.json", _json(done))


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
        if self.manifest.get("format", 1) >= 2:
            return (self.root / "complete.json").is_file()
        return (self.root / "summary.parquet").is_file()


def open_results(root: str | Path, *, check: bool = True) -> Results:
    """Open a study directory (complete or not) as pandas and xarray objects, after verifying it
    against its checksums (``check``; :func:`~asyncconv.study.verify.verify`): a damaged store is
    refused with one line saying what is damaged (``study resume`` repairs it)."""
    import pandas as pd
    import xarray as xr

    root = Path(root)
    if not root.is_dir():
        raise ConfigError("DIR", f"{root} does not exist or is not a directory")
    if not (root / "study.json").is_file() and not Store(root).exists:
        raise ConfigError("DIR", f"{root} is not a study directory (no study.json)")
    if check:
        chk = verify(root)
        if not chk.ok:
            raise ConfigError("DIR", chk.line(root))
    spec = json.loads((root / "study.json").read_text())
    manifest = json.loads((root / "manifest.json").read_text())
    configs = pd.DataFrame(
        [{"id": c["id"], "label": c["label"], "events": c["events"], **c["labels"]} for c in spec["configs"]]
    )
    consolidated = (root / "complete.json").is_file() or manifest.get("format", 1) < 2
    if consolidated and (root / "summary.parquet").is_file():
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
