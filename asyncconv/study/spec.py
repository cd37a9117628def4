"""Study specs: problems × scheduler models × iteration variants × step-size rules × grids.

A spec is a TOML file (``sims/*.toml``)::

    description = "what the study shows"

    [study]
    name = "quickstart"
    seed = 1            # root seed: replica r uses SeedSequence(seed, spawn_key=(r,)) in every
    replicas = 24       #   configuration (common random numbers, so configurations pair by replica)
    events = 200_000    # writes per replica (the horizon K)
    batch = 4           # replicas per task (the unit of work, of storage and of resume)
    checkpoints = 60    # geometric checkpoints in ODE time
    probes = 64         # probes uniform in ODE time (verdict windows)
    probe_x = false     # also store the iterate at each probe (phase portraits, shadowing)

    [problem]           # one table, or several [[problem]] tables each with a `label`
    name = "trap"

    [[schedule]]        # ScheduleModel tables (reference/model.md §3), each with a `label`
    label = "random"
    ...
    [iteration]         # Iteration (model.md §4); or several [[iteration]] with labels
    [[step]]            # optional: step-size rules (g0, p, nu0, clock) overriding [iteration]
    [grid]              # optional: dotted key -> list of values, crossed with everything else
    "iteration.m" = [0.0, 0.5, 0.9]
    [thresholds]        # verdict thresholds (theory.Thresholds), recorded with the results
    [[compare]]         # paired comparisons for the report
    axis = "schedule"
    a = "random"
    b = "periodic"
    [scales.quick]      # optional named scales overriding [study] sizes: --scale quick
    replicas = 8
    events = 50_000

The configurations are the Cartesian product of the axes (problem, schedule, iteration, step) and
the grid, in that order (the last grid key varies fastest). Everything is validated here, before
any work runs: each error names the field (``schedule[1].timing.compute.law``,
``grid.iteration.p``) and what is allowed.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncconv.config import ConfigError, check_choice, check_int, check_keys, file_sha256

__all__ = ["AXES", "Config", "StudySpec", "load_spec", "parse_spec"]

#: axes in product order; ``step`` entries override the iteration's step-size fields
AXES = ("problem", "schedule", "iteration", "step")
STEP_KEYS = ("g0", "p", "nu0", "clock")
#: what a named scale ([scales.NAME]) may override
SCALE_KEYS = ("replicas", "events", "batch", "probes", "checkpoints")
STUDY_KEYS = ("name", "seed", "replicas", "events", "batch", "checkpoints", "probes", "probe_x", "tail")
#: largest store of iterates at probes (probe_x), in float32 values
MAX_PROBE_X = 500_000_000
COMPARE_KEYS = ("axis", "a", "b", "metrics")
#: verdict indicators a comparison can pair ("not_converging": stalled or drifting)
VERDICT_METRICS = ("converged", "not_converging", "stalled", "drifting", "diverged", "undecided")
#: what a comparison can test: a verdict indicator (exact McNemar, paired by replica), a final
#: metric (Wilcoxon signed-rank, paired; dist_rel_final is the one distance D, dist_final the
#: absolute distance) or time-to-ε (log-rank on the right-censored times)
COMPARE_METRICS = (
    *VERDICT_METRICS,
    "f_gap_final",
    "dist_rel_final",
    "dist_final",
    "stationarity_upper",
    "time_to_eps",
)
MAX_CONFIGS = 10_000
MAX_REPLICAS = 1_000_000
MAX_EVENTS = 2_000_000_000


@dataclass(frozen=True)
class Config:
    """One configuration of a study: everything one replica needs, as plain JSON-able dicts.

    ``labels`` maps each varying axis (and grid key) to this configuration's value there.
    """

    id: int
    label: str
    labels: dict[str, str]
    problem: dict[str, Any]
    schedule: dict[str, Any]
    iteration: dict[str, Any]
    events: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "labels": self.labels,
            "problem": self.problem,
            "schedule": self.schedule,
            "iteration": self.iteration,
            "events": self.events,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        return cls(
            int(d["id"]),
            d["label"],
            dict(d["labels"]),
            d["problem"],
            d["schedule"],
            d["iteration"],
            int(d["events"]),
        )


@dataclass(frozen=True)
class StudySpec:
    """A validated, expanded study.

    Attributes
    ----------
    name, description : str
    seed, replicas, batch, checkpoints, probes : int
    tail : int or None  (read points kept per replica for the trajectory certificate; None = default)
    probe_x : bool  (store the iterate at each probe)
    configs : tuple of Config
    thresholds : dict  (``theory.Thresholds.to_dict()``)
    compare : tuple of dict  (axis, a, b, metrics)
    text : str  (the TOML as written, stored with the results)
    base_dir : str  (the spec file's folder: relative problem files ``file.py:NAME`` resolve
        against it; each configuration records the file's absolute path and sha256 ``digest``)
    """

    name: str
    description: str
    seed: int
    replicas: int
    batch: int
    checkpoints: int
    probes: int
    tail: int | None
    probe_x: bool
    configs: tuple[Config, ...]
    thresholds: dict[str, Any]
    compare: tuple[dict[str, Any], ...] = ()
    text: str = field(default="", repr=False)
    scale: str = "full"
    base_dir: str = ""

    @property
    def n_tasks(self) -> int:
        return len(self.configs) * math.ceil(self.replicas / self.batch)

    def tasks(self) -> list[tuple[int, int, int]]:
        """(config id, first replica, end replica) of every task, in a fixed order."""
        return [
            (c.id, r0, min(r0 + self.batch, self.replicas))
            for c in self.configs
            for r0 in range(0, self.replicas, self.batch)
        ]

    @property
    def total_events(self) -> int:
        return sum(c.events for c in self.configs) * self.replicas

    def _determining(self) -> dict[str, Any]:
        """Everything that determines the results (not the name, description, scale name or
        the comparisons of the report)."""
        return {
            "seed": self.seed,
            "replicas": self.replicas,
            "batch": self.batch,
            "checkpoints": self.checkpoints,
            "probes": self.probes,
            "tail": self.tail,
            "probe_x": self.probe_x,
            "configs": [c.to_dict() for c in self.configs],
            "thresholds": self.thresholds,
        }

    def fingerprint(self) -> str:
        """SHA-256 of what determines the results (a store refuses a spec with another one)."""
        return hashlib.sha256(json.dumps(self._determining(), sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "scale": self.scale,
            **self._determining(),
            "compare": list(self.compare),
            "base_dir": self.base_dir,
            "fingerprint": self.fingerprint(),
        }

    def axes(self) -> dict[str, list[str]]:
        """Each varying axis and its values, in order of appearance."""
        out: dict[str, list[str]] = {}
        for c in self.configs:
            for k, v in c.labels.items():
                out.setdefault(k, [])
                if v not in out[k]:
                    out[k].append(v)
        return out


def load_spec(path: str | Path, scale: str = "full") -> StudySpec:
    """Read and validate a study spec file (errors: :class:`ConfigError` naming the field)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError("spec", f"file not found: {p}")
    text = p.read_text(encoding="utf-8", errors="strict")
    return parse_spec(text, default_name=p.stem, scale=scale, base_dir=p.resolve().parent)


def parse_spec(
    text: str, default_name: str = "study", scale: str = "full", base_dir: str | Path | None = None
) -> StudySpec:
    """Validate and expand a study spec given as TOML text.

    ``scale``: "full" (the [study] table as written) or the name of a ``[scales.NAME]`` table whose
    sizes (replicas, events, batch, probes, checkpoints) override [study]'s. The scale is recorded
    in the store (``study.json``) so that ``resume`` reruns the same one. ``base_dir``: where
    relative problem files (``[problem] name = "mine.py:NAME"``) are found (default: the current
    directory; :func:`load_spec` passes the spec file's folder).
    """
    base = str(Path(base_dir).resolve()) if base_dir is not None else str(Path.cwd())
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("spec", f"not valid TOML: {e}") from None
    description = data.pop("description", "")
    if not isinstance(description, str):
        raise ConfigError("description", "must be a string")
    check_keys(
        data,
        ("study", *AXES, "grid", "thresholds", "compare", "scales"),
        "",
        ("study", "problem", "schedule"),
    )
    st = data["study"]
    scales = data.get("scales", {})
    check_keys(scales, list(scales), "scales")
    for name, table in scales.items():
        check_keys(table, SCALE_KEYS, f"scales.{name}")
    if scale != "full":
        if scale not in scales:
            raise ConfigError(
                "--scale",
                f"{scale!r} is not defined in this spec; defined: full, {', '.join(scales) or '(none)'}",
            )
        st = {**st, **scales[scale]}
        if "batch" not in scales[scale] and "batch" in st:
            st["batch"] = min(st["batch"], st["replicas"])
    check_keys(st, STUDY_KEYS, "study", ("replicas", "events"))
    name = st.get("name", re.sub(r"[^A-Za-z0-9._-]", "_", default_name).lstrip("._-") or "study")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ConfigError(
            "study.name",
            f"must be a plain name of letters, digits, '.', '_' and '-' starting with a letter or digit "
            f"(it names the results directory results/NAME; got {name!r})",
        )
    seed = check_int(st.get("seed", 0), "study.seed", ge=0)
    replicas = check_int(st["replicas"], "study.replicas", ge=1, le=MAX_REPLICAS)
    events = check_int(st["events"], "study.events", ge=1, le=MAX_EVENTS)
    batch = check_int(st.get("batch", _default_batch(events, replicas)), "study.batch", ge=1)
    checkpoints = check_int(st.get("checkpoints", 60), "study.checkpoints", ge=2, le=10_000)
    probes = check_int(st.get("probes", 64), "study.probes", ge=0, le=100_000)
    tail = None if "tail" not in st else check_int(st["tail"], "study.tail", ge=0)
    probe_x = st.get("probe_x", False)
    if not isinstance(probe_x, bool):
        raise ConfigError("study.probe_x", f"must be true or false (got {probe_x!r})")

    axes = {ax: _axis(data, ax) for ax in AXES}
    grid = _grid(data.get("grid", {}))
    from asyncconv.theory import Thresholds

    thresholds = Thresholds.from_dict(data.get("thresholds")).to_dict()

    combos = list(itertools.product(*(axes[ax] for ax in AXES), *(vals for _, vals in grid)))
    if len(combos) > MAX_CONFIGS:
        raise ConfigError("grid", f"expands to {len(combos)} configurations; at most {MAX_CONFIGS} allowed")
    varying = [ax for ax in AXES if len(axes[ax]) > 1]
    configs = []
    for cid, combo in enumerate(combos):
        chosen = dict(zip(AXES, combo[: len(AXES)], strict=True))
        cfg = {
            "problem": copy.deepcopy(chosen["problem"][1]),
            "schedule": copy.deepcopy(chosen["schedule"][1]),
            "iteration": {**copy.deepcopy(chosen["iteration"][1]), **copy.deepcopy(chosen["step"][1])},
            "events": events,
        }
        labels = {ax: chosen[ax][0] for ax in varying}
        for (key, _), value in zip(grid, combo[len(AXES) :], strict=True):
            _set_path(cfg, key, value)
            if len(dict(grid)[key]) > 1:
                labels[key] = _fmt(value)
        label = ", ".join(v if k in AXES else f"{k.split('.')[-1]}={v}" for k, v in labels.items()) or "all"
        configs.append(_validated(cid, label, labels, cfg, base))
    if probe_x:
        size = len(configs) * replicas * probes * max(c.problem["n"] for c in configs)
        if size > MAX_PROBE_X:
            raise ConfigError(
                "study.probe_x",
                f"would store {size:,} values (configurations x replicas x probes x n); at most "
                f"{MAX_PROBE_X:,}: use fewer probes or replicas",
            )
    compare = tuple(
        _compare(c, i, axes, grid) for i, c in enumerate(_tables(data.get("compare", []), "compare"))
    )
    spec = StudySpec(
        name, description.strip(), seed, replicas, batch, checkpoints, probes, tail, probe_x, tuple(configs),
        thresholds, compare, text, scale, base,
    )  # fmt: skip
    return spec


def _default_batch(events: int, replicas: int) -> int:
    """Replicas per task: about 2M writes a task (a few seconds), at most 64 and at most all."""
    return max(1, min(replicas, 64, 2_000_000 // max(events, 1)))


def _tables(value: Any, field_name: str) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return value
    raise ConfigError(field_name, "must be a table or an array of tables ([[...]])")


def _axis(data: dict[str, Any], ax: str) -> list[tuple[str, dict[str, Any]]]:
    """(label, table) of each entry of one axis; an absent optional axis is one empty entry."""
    if ax not in data:
        return [("default", {})]
    entries = _tables(data[ax], ax)
    if not entries:
        raise ConfigError(ax, "is empty; give at least one table")
    out = []
    for i, entry in enumerate(entries):
        path = ax if isinstance(data[ax], dict) else f"{ax}[{i}]"
        entry = dict(entry)
        label = entry.pop("label", None)
        if label is None:
            if len(entries) > 1:
                raise ConfigError(f"{path}.label", f"is required when there are several [[{ax}]] tables")
            label = str(entry.get("name", ax)) if ax == "problem" else ax
        if not isinstance(label, str) or not label:
            raise ConfigError(f"{path}.label", "must be a non-empty string")
        if ax == "step":
            check_keys(entry, ("label", *STEP_KEYS), path)
        out.append((label, entry))
    labels = [lab for lab, _ in out]
    dup = {lab for lab in labels if labels.count(lab) > 1}
    if dup:
        raise ConfigError(ax, f"labels must be distinct (repeated: {', '.join(sorted(dup))})")
    return out


def _grid(grid: Any) -> list[tuple[str, list[Any]]]:
    if not isinstance(grid, dict):
        raise ConfigError("grid", 'must be a table of dotted keys, e.g. "iteration.p" = [0.6, 0.75]')
    out = []
    for key, values in grid.items():
        path = f"grid.{key}"
        root = key.split(".")[0]
        if root not in ("problem", "schedule", "iteration", "events") or (
            root != "events" and "." not in key
        ):
            raise ConfigError(
                path,
                "keys are dotted paths under problem., schedule. or iteration., or 'events' (the horizon)",
            )
        if not isinstance(values, list):
            raise ConfigError(path, f"must be a list of values (got {type(values).__name__})")
        if not values:
            raise ConfigError(
                path, "is empty: the grid would expand to no configurations; give at least one value"
            )
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise ConfigError(path, "values must be distinct")
        out.append((key, values))
    return out


def _set_path(cfg: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    if parts == ["events"]:
        cfg["events"] = value
        return
    node = cfg
    for i, part in enumerate(parts[:-1]):
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"grid.{key}", f"{'.'.join(parts[: i + 1])} is not a table")
        node = nxt
    node[parts[-1]] = copy.deepcopy(value)


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else json.dumps(v) if isinstance(v, dict | list) else str(v)


def _validated(cid: int, label: str, labels: dict[str, str], cfg: dict[str, Any], base: str) -> Config:
    """Build the problem, schedule model and iteration once to validate them; errors name the
    configuration when the axes vary. A problem from a file is recorded by absolute path and the
    sha256 of the file (``digest``), so that a store can refuse to resume with a changed file."""
    from asyncconv.problems import absolute_ref, make_problem
    from asyncconv.schedule import ScheduleModel
    from asyncconv.sim import Iteration

    where = f" (configuration {label})" if labels else ""
    try:
        events = check_int(cfg["events"], "events", ge=1, le=MAX_EVENTS)
        prob = dict(cfg["problem"])
        prob.pop("digest", None)  # recorded by this function, never given
        check_keys(prob, ("name", "n", "seed", "x0", *_problem_params(prob)), "problem", ("name",))
        name = absolute_ref(prob.pop("name"), base)
        n = prob.pop("n", None)
        pseed = check_int(prob.pop("seed", 0), "problem.seed", ge=0)
        x0 = prob.pop("x0", None)
        try:
            problem = make_problem(name, n, seed=pseed, **prob)
        except ConfigError as e:
            raise ConfigError(f"problem.{e.field}", e.message) from None
        if x0 is not None and (
            not isinstance(x0, list)
            or len(x0) != problem.n
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in x0)
            or not all(math.isfinite(v) for v in x0)
        ):
            raise ConfigError("problem.x0", f"must be a list of {problem.n} finite numbers")
        schedule = _trace_resolved(cfg["schedule"], base)
        _check_sizes(schedule, problem.n, events)
        try:
            model = ScheduleModel.from_dict(schedule)
        except ConfigError as e:
            raise ConfigError(f"schedule.{e.field}", e.message) from None
        if model.kind == "trace":
            schedule = _trace_recorded(model, schedule, events)
        if model.blocks.n_blocks > problem.n:
            raise ConfigError(
                "schedule.blocks.n_blocks",
                f"cannot split n = {problem.n} coordinates into {model.blocks.n_blocks} blocks",
            )
        it = Iteration.from_dict(cfg["iteration"])
    except ConfigError as e:
        raise ConfigError(e.field, e.message + where) from None
    recorded = {**cfg["problem"], "name": name, "n": problem.n}
    recorded.pop("digest", None)
    if problem.spec.digest:
        recorded["digest"] = problem.spec.digest
    model = ScheduleModel.from_dict(schedule)
    return Config(cid, label, labels, recorded, model.to_dict(), it.to_dict(), events)


def _check_sizes(schedule: dict[str, Any], n: int, events: int) -> None:
    """Sizes beyond what the code can hold, refused before the model is built (building a model of
    10^8 workers is itself the slow, large step): :func:`asyncconv.limits.check_bounds`."""
    from asyncconv.limits import check_bounds

    blk = schedule.get("blocks") if isinstance(schedule.get("blocks"), dict) else {}
    check_bounds(
        n_workers=schedule.get("n_workers"), n_blocks=blk.get("n_blocks"), events=events, n=n,
        fields={"n_workers": "schedule.n_workers", "n_blocks": "schedule.blocks.n_blocks", "events": "study.events"},
    )  # fmt: skip


def task_memory(spec: StudySpec) -> None:
    """Refuse a study whose single task (``batch`` replicas of one configuration on one worker)
    needs more memory than the machine has available: :mod:`asyncconv.limits`."""
    from asyncconv.limits import check_fits, estimate_for_model
    from asyncconv.schedule import ScheduleModel
    from asyncconv.sim import Iteration
    from asyncconv.theory import default_tail

    for c in spec.configs:
        n = int(c.problem["n"])
        est = estimate_for_model(
            n, ScheduleModel.from_dict(c.schedule), Iteration.from_dict(c.iteration), c.events, spec.batch,
            n_ckpt=spec.checkpoints, probes=spec.probes, probe_x=spec.probe_x,
            n_tail=default_tail(n) if spec.tail is None else spec.tail, threads=1,
        )  # fmt: skip
        where = f" (configuration {c.label})" if c.labels else ""
        try:
            check_fits(
                est, what="task", fields={"replicas": "study.batch", "events": "study.events"}, override=None
            )
        except ConfigError as e:
            raise ConfigError(e.field, e.message + where) from None


def _trace_resolved(schedule: dict[str, Any], base: str) -> dict[str, Any]:
    """The schedule table with a relative trace path made absolute against the spec's folder
    (where the spec was written, as for problem files: not the current directory)."""
    tr = schedule.get("trace")
    if not isinstance(tr, dict) or not isinstance(tr.get("path"), str) or not tr["path"]:
        return schedule
    path = Path(tr["path"]).expanduser()
    if not path.is_absolute():
        path = Path(base) / path
    return {**schedule, "trace": {**tr, "path": str(path.resolve())}}


def _trace_recorded(model, schedule: dict[str, Any], events: int) -> dict[str, Any]:
    """Load and check the trace now (exists, parses, long enough, matches the model), before
    anything is created, and record its sha256: a store refuses to go on with a changed file."""
    from asyncconv.schedule.draw import load_trace

    src = model.source
    try:
        load_trace(model, src, events)
    except ConfigError as e:  # every trace problem names the file's field
        raise ConfigError("schedule.trace.path", e.message) from None
    digest = file_sha256(src.path)
    return {**schedule, "trace": {"path": src.path, "digest": digest}}


def _problem_params(prob: dict[str, Any]) -> tuple[str, ...]:
    """Every key but the generic ones: make_problem names unknown parameters itself."""
    return tuple(k for k in prob if k not in ("name", "n", "seed", "x0", "digest"))


def _compare(c: dict[str, Any], i: int, axes, grid) -> dict[str, Any]:
    path = f"compare[{i}]"
    check_keys(c, COMPARE_KEYS, path, ("axis", "a", "b"))
    axis = c["axis"]
    values = {ax: [lab for lab, _ in axes[ax]] for ax in AXES} | {
        k: [_fmt(v) for v in vals] for k, vals in grid
    }
    axis = check_choice(axis, [k for k, v in values.items() if len(v) > 1], f"{path}.axis")
    a, b = _fmt(c["a"]), _fmt(c["b"])
    for side, v in (("a", a), ("b", b)):
        if v not in values[axis]:
            raise ConfigError(
                f"{path}.{side}", f"{v!r} is not a value of {axis}; allowed: {', '.join(values[axis])}"
            )
    if a == b:
        raise ConfigError(f"{path}.b", "must differ from a")
    metrics = c.get("metrics", ["converged", "f_gap_final", "time_to_eps"])
    if not isinstance(metrics, list) or not metrics:
        raise ConfigError(f"{path}.metrics", f"must be a non-empty list of: {', '.join(COMPARE_METRICS)}")
    for m in metrics:
        check_choice(m, COMPARE_METRICS, f"{path}.metrics")
    return {"axis": axis, "a": a, "b": b, "metrics": list(metrics)}
