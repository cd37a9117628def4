"""Integrity of a results store: what was written is what is read.

Every file of a store (format 2) is covered by a sha256 recorded when it was written:

* ``parts/TASK.json`` (the task's marker) records the sha256 of ``parts/TASK.parquet`` and of the
  float32 bytes of the task's slices of ``trajectories.zarr`` (``metrics``, ``probes``,
  ``probe_x``), so a deleted, truncated or garbled chunk or part is found;
* ``complete.json`` (written last by consolidation) records the sha256 of ``summary.parquet`` and
  ``schedules.json`` and the number of tasks they hold;
* ``study.json`` and ``manifest.json`` record the sha256 of ``spec.toml`` and the fingerprint of
  the expanded spec; ``manifest.json`` also keeps the spec's text, scale and folder, so that any
  one of the three files can be rebuilt from the other two.

:func:`verify` checks all of it and returns a :class:`Check`: what is damaged, in words, and what
``study resume`` must redo. The results are a pure function of the spec and the seeds, so resume
repairs any damage by recomputing the damaged tasks and rewriting the consolidated files, and ends
with the same bits as an undamaged run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Check", "array_digest", "sha256", "task_name", "verify"]

#: the files of a store's layout (anything else in a directory means it is not ours)
LAYOUT = (
    "spec.toml", "study.json", "manifest.json", "parts", "failed", "trajectories.zarr",
    "summary.parquet", "schedules.json", "complete.json", ".lock", "figures", "report.txt", "report.json",
)  # fmt: skip


def task_name(config: int, r0: int) -> str:
    """The name of the task holding replicas r0.. of configuration ``config``: c0003-r000016."""
    return f"c{config:04d}-r{r0:06d}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def array_digest(a: np.ndarray) -> str:
    """sha256 of an array's float32 bytes in C order (what the store holds)."""
    return sha256(np.ascontiguousarray(a, dtype=np.float32).tobytes())


@dataclass
class Check:
    """The outcome of :func:`verify`.

    ``problems``: one line per damaged thing, in words; ``tasks``: names of the tasks to recompute;
    ``rebuild``: files that resume rebuilds from the others ("study.json", "manifest.json",
    "spec.toml", "parts", "consolidated"); ``fatal``: a line when the store cannot be repaired."""

    problems: list[str] = field(default_factory=list)
    tasks: set[str] = field(default_factory=set)
    rebuild: set[str] = field(default_factory=set)
    fatal: str | None = None
    verified_tasks: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and self.fatal is None

    def line(self, root: Path) -> str:
        """One line: what is damaged (the first few things) and what to do."""
        if self.fatal:
            return f"{root} is damaged beyond repair: {self.fatal}"
        shown = "; ".join(self.problems[:3])
        more = f" (and {len(self.problems) - 3} more)" if len(self.problems) > 3 else ""
        return f"{root} is damaged: {shown}{more}; 'asyncconv study resume {root}' repairs it"


def _read_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    if not path.is_file():
        return None, f"{path.name} is missing"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return None, f"{path.name} is not valid JSON ({type(e).__name__})"
    if not isinstance(data, dict):
        return None, f"{path.name} is not a JSON object"
    return data, None


def _file_sha(path: Path) -> str | None:
    try:
        return sha256(path.read_bytes())
    except OSError:
        return None


def verify(root: str | Path, *, trajectories: bool = True) -> Check:
    """Check the store in ``root`` against the checksums it recorded (see the module docstring).

    ``trajectories=False`` skips reading the zarr slices (the costliest part: every chunk)."""
    root = Path(root)
    chk = Check()
    study, e_study = _read_json(root / "study.json")
    manifest, e_man = _read_json(root / "manifest.json")
    if e_study:
        chk.problems.append(e_study)
        chk.rebuild.add("study.json")
    if e_man:
        chk.problems.append(e_man)
        chk.rebuild.add("manifest.json")
    recorded = "spec_sha256" in (study or {}) or "spec_sha256" in (manifest or {})
    legacy = (manifest is not None and manifest.get("format", 1) < 2) or (
        not recorded and (study is not None or manifest is not None) and not (e_study and e_man)
    )
    if legacy:
        return Check()  # format 1 recorded no checksums: nothing to verify
    spec_sha = (study or {}).get("spec_sha256") or (manifest or {}).get("spec_sha256")
    fingerprint = (study or {}).get("fingerprint") or (manifest or {}).get("fingerprint")
    if study is not None and manifest is not None and study.get("fingerprint") != manifest.get("fingerprint"):
        chk.problems.append("study.json does not hold the study the manifest recorded (fingerprint differs)")
        chk.rebuild.add("study.json")
    have = _file_sha(root / "spec.toml")
    if spec_sha is None or fingerprint is None:
        chk.fatal = "study.json and manifest.json are both unreadable: the spec's checksum is lost"
        return chk
    if have != spec_sha:
        what = (
            "is missing" if have is None else f"was edited or damaged (sha256 {spec_sha[:12]} -> {have[:12]})"
        )
        chk.problems.append(f"spec.toml {what}")
        chk.rebuild.add("spec.toml")
        if manifest is None or sha256(str(manifest.get("spec_text", "")).encode()) != spec_sha:
            chk.fatal = f"spec.toml {what} and the manifest's copy of it is unreadable"
            return chk
    if study is None:
        return chk  # the tasks are checked once study.json is rebuilt
    parts = root / "parts"
    if not parts.is_dir():
        chk.problems.append("parts/ is missing")
        chk.rebuild.add("parts")
    group = _zarr(root) if trajectories else None
    if trajectories and group is None:
        chk.problems.append("trajectories.zarr is missing or unreadable")
        chk.rebuild.add("trajectories")
    batch, replicas = int(study["batch"]), int(study["replicas"])
    names = []
    for c in study["configs"]:
        for r0 in range(0, replicas, batch):
            names.append((c["id"], r0, min(r0 + batch, replicas)))
    for cid, r0, r1 in names:
        name = task_name(cid, r0)
        marker = parts / f"{name}.json"
        if not marker.is_file():
            continue  # not done (resume runs it)
        extra, err = _read_json(marker)
        if err:
            chk.problems.append(f"parts/{err}")
            chk.tasks.add(name)
            continue
        sums = extra.get("sha256") or {}
        if _file_sha(parts / f"{name}.parquet") != sums.get("parquet"):
            missing = not (parts / f"{name}.parquet").is_file()
            chk.problems.append(f"parts/{name}.parquet is {'missing' if missing else 'damaged'}")
            chk.tasks.add(name)
        if group is not None:
            for arr in ("metrics", "probes", "probe_x"):
                if arr not in sums:
                    continue
                try:
                    got = array_digest(_slice(group[arr], cid, r0, r1, sums.get(f"{arr}_n")))
                except Exception as e:  # zarr/codec errors on a damaged chunk: report, don't crash
                    got = f"unreadable ({type(e).__name__})"
                if got != sums[arr]:
                    chk.problems.append(f"trajectories.zarr/{arr} of task {name} is damaged or missing")
                    chk.tasks.add(name)
        chk.verified_tasks += 1
    done = {task_name(c, r0) for c, r0, _ in names if (parts / f"{task_name(c, r0)}.json").is_file()}
    complete, err = _read_json(root / "complete.json")
    consolidated = [p for p in ("summary.parquet", "schedules.json") if (root / p).is_file()]
    if complete is not None:
        for p in ("summary.parquet", "schedules.json"):
            if _file_sha(root / p) != complete.get(p):
                chk.problems.append(f"{p} is {'missing' if not (root / p).is_file() else 'damaged'}")
                chk.rebuild.add("consolidated")
        if len(done) < len(names) and "parts" not in chk.rebuild:
            chk.problems.append(
                f"complete.json records a complete study but {len(names) - len(done)} tasks are missing"
            )
            chk.tasks.update({task_name(c, r0) for c, r0, _ in names} - done)
            chk.rebuild.add("consolidated")
    elif consolidated and err != "complete.json is missing":
        chk.problems.append(err or "complete.json is unreadable")
        chk.rebuild.add("consolidated")
    elif consolidated:
        chk.problems.append(f"{consolidated[0]} was written but consolidation did not finish")
        chk.rebuild.add("consolidated")
    if chk.tasks:
        chk.rebuild.add("consolidated")
    return chk


def _zarr(root: Path):
    import zarr

    try:
        return zarr.open_group(str(root / "trajectories.zarr"), mode="r")
    except Exception:  # missing or damaged metadata
        return None


def _slice(arr, cid: int, r0: int, r1: int, n: int | None) -> np.ndarray:
    a = arr[cid, r0:r1]
    return a[..., :n] if n is not None else a
