"""Run the training experiment of a spec (``sims/paper/training.toml``) through the real CLI.

Every ``[[run]]`` of the spec is trained ``repeats`` times (seeds ``seed``, ``seed + 1``, ...) by
``asyncconv train ... --json --record-schedule``; every ``[[replay]]`` draws its schedule (``asyncconv
schedule draw --model``, the spec's ``overrides`` merged into the model) or takes the trace recorded by
a run, and replays it on the model (``asyncconv train --replay ... --json``) for the first
``replay_repeats`` seeds. Runs are interleaved by repeat, so that load changes of a shared machine hit
every method alike.

Output directory (default ``results/paper/<scale>/training``)::

    spec.json                      the resolved spec (scale applied); a directory holds one spec
    runs/<label>_s<seed>.json      the CLI's JSON, verbatim      runs/<label>_s<seed>.npz  its schedule
    schedules/<label>_s<seed>.toml the drawn model (overrides merged) and .npz the drawn schedule
    replays/<label>_s<seed>.json   the replay's JSON, verbatim
    log.jsonl                      one line per command run: argv, seconds with start-up, load average
    manifest.json                  written last: the experiment is complete

Every file is written atomically (a temporary file, then a rename); a run or replay whose JSON exists
is skipped, so an interrupted experiment resumes where it stopped. A bad spec field is reported as
one line ``error: SPEC: FIELD: message`` with exit status 2; a failing command stops the experiment
with its last line of output and exit status 1.

Run::

    python analysis/run_training.py sims/paper/training.toml [--scale quick|full] [-o DIR]

The figure and table scripts read the results through :func:`load_results`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FORMAT = "asyncconv-training-results"
#: keys of [training] that are not `asyncconv train` settings
META_KEYS = ("name", "repeats", "seed", "replay_repeats")
#: `asyncconv train` settings a spec may set ([training] or a [[run]]); the rest keep their defaults
TRAIN_KEYS = (
    "workers", "model", "data", "data_dir", "epochs", "batch", "lr", "momentum", "weight_decay", "lr_schedule",
    "factor_low", "plus_switch", "plus_every", "threads", "evals_per_epoch", "epoch_scope", "device",
)  # fmt: skip
#: settings the replay CLI uses (the others are ignored by `asyncconv train --replay`)
REPLAY_KEYS = ("model", "data", "data_dir", "epochs", "batch", "lr", "momentum", "weight_decay", "threads",
               "evals_per_epoch", "device")  # fmt: skip
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class SpecError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


@dataclass
class Spec:
    """A resolved training spec: the shared settings with the scale applied, the runs and replays."""

    path: str
    scale: str
    name: str
    description: str
    seed: int
    repeats: int
    replay_repeats: int
    training: dict[str, Any]
    runs: list[dict[str, Any]] = field(default_factory=list)
    replays: list[dict[str, Any]] = field(default_factory=list)

    def seeds(self) -> list[int]:
        return [self.seed + r for r in range(self.repeats)]

    def replay_seeds(self) -> list[int]:
        return [self.seed + r for r in range(self.replay_repeats)]

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}


# --- the spec ----------------------------------------------------------------------------------


def _check_label(value: Any, where: str, seen: set[str]) -> str:
    if not isinstance(value, str) or not LABEL.match(value):
        raise SpecError(f"{where}.label", f"must be a name of letters, digits, _ . + - (got {value!r})")
    if value in seen:
        raise SpecError(f"{where}.label", f"{value!r} is used twice")
    seen.add(value)
    return value


def _train_config(settings: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate ``settings`` with ``TrainConfig.from_dict`` (the CLI's own checks)."""
    from asyncconv.config import ConfigError
    from asyncconv.torch.train import TrainConfig

    try:
        return TrainConfig.from_dict(settings).to_dict()
    except ConfigError as e:
        raise SpecError(f"{where}.{e.field}" if e.field else where, e.message) from None


def _n_tensors(model: str, data: str) -> int:
    from asyncconv.torch.models import build_model

    shape = (3, 32, 32) if data.startswith("cifar") else (1, 8, 8)
    return len(list(build_model(model, shape, 10).parameters()))


def parse_spec(path: str | Path, scale: str = "full") -> Spec:
    """Read and validate a training spec; raise :class:`SpecError` naming the first bad field."""
    import tomllib

    from asyncconv.config import ConfigError, check_int, check_keys

    p = Path(path)
    if not p.is_file():
        raise SpecError("spec", f"file not found: {p}")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SpecError("spec", f"not valid TOML: {e}") from None
    try:
        check_keys(
            data, ("description", "training", "scales", "run", "replay"), "", required=("training", "run")
        )
        description = data.get("description", "")
        if not isinstance(description, str):
            raise SpecError("description", "must be a string")
        base = dict(data["training"])
        check_keys(base, (*META_KEYS, *TRAIN_KEYS), "training")
        scales = data.get("scales", {})
        if not isinstance(scales, dict):
            raise SpecError("scales", "must be a table of [scales.NAME] tables")
        if scale != "full":
            if scale not in scales:
                known = ", ".join(["full", *scales]) if scales else "full"
                raise SpecError("--scale", f"no [scales.{scale}] table in the spec (scales: {known})")
            check_keys(scales[scale], (*META_KEYS, *TRAIN_KEYS), f"scales.{scale}")
            base.update(scales[scale])
        else:
            for name, table in scales.items():
                check_keys(table, (*META_KEYS, *TRAIN_KEYS), f"scales.{name}")
        name = base.pop("name", p.stem)
        if not isinstance(name, str) or not LABEL.match(name):
            raise SpecError("training.name", f"must be a name of letters, digits, _ . + - (got {name!r})")
        seed = check_int(base.pop("seed", 0), "training.seed", ge=0)
        repeats = check_int(base.pop("repeats", 1), "training.repeats", ge=1, le=1000)
        replay_repeats = check_int(base.pop("replay_repeats", 1), "training.replay_repeats", ge=0, le=repeats)
        training = _train_config(base, "training")
        training = {k: training[k] for k in TRAIN_KEYS if k in training}

        runs_in = data["run"]
        if not isinstance(runs_in, list) or not runs_in:
            raise SpecError("run", "needs at least one [[run]] table")
        seen: set[str] = set()
        runs = []
        for i, r in enumerate(runs_in):
            where = f"run[{i}]"
            check_keys(r, ("label", "method", *TRAIN_KEYS), where, required=("label", "method"))
            label = _check_label(r["label"], where, seen)
            cfg = _train_config({**base, **{k: v for k, v in r.items() if k != "label"}}, where)
            runs.append({"label": label, **{k: cfg[k] for k in ("method", *TRAIN_KEYS) if k in cfg}})

        replays = []
        n_tensors = _n_tensors(training["model"], training["data"])
        for i, r in enumerate(data.get("replay", [])):
            where = f"replay[{i}]"
            check_keys(r, ("label", "legend", "schedule", "trace", "overrides", "events"), where,
                       required=("label",))  # fmt: skip
            label = _check_label(r["label"], where, seen)
            legend = r.get("legend", label)
            if not isinstance(legend, str):
                raise SpecError(f"{where}.legend", "must be a string")
            if ("schedule" in r) == ("trace" in r):
                raise SpecError(where, "needs exactly one of schedule (a model TOML) and trace (a run label)")
            entry: dict[str, Any] = {"label": label, "legend": legend}
            if "trace" in r:
                run = next((x for x in runs if x["label"] == r["trace"]), None)
                if run is None:
                    raise SpecError(f"{where}.trace", f"no [[run]] labelled {r['trace']!r}")
                if "overrides" in r or "events" in r:
                    bad = "overrides" if "overrides" in r else "events"
                    raise SpecError(
                        f"{where}.{bad}", "applies to drawn schedules only (a trace is replayed whole)"
                    )
                entry["trace"] = r["trace"]
                entry["n_blocks"] = 1 if run["method"] in ("sgd", "ddp") else run["workers"]
            else:
                entry.update(_schedule_model(r, where, p, n_tensors))
            replays.append(entry)
    except ConfigError as e:
        raise SpecError(e.field, e.message) from None
    return Spec(
        str(p), scale, name, description.strip(), seed, repeats, replay_repeats, training, runs, replays
    )


def _schedule_model(r: dict[str, Any], where: str, spec_path: Path, n_tensors: int) -> dict[str, Any]:
    """The replay's scheduler model: the TOML file with ``overrides`` merged in, validated."""
    from asyncconv.config import ConfigError, read_toml
    from asyncconv.schedule import ScheduleModel

    src = r["schedule"]
    if not isinstance(src, str):
        raise SpecError(f"{where}.schedule", f"must be a path to a scheduler model TOML (got {src!r})")
    path = Path(src)
    if not path.is_absolute():  # relative to the repository root, else to the spec's directory
        path = ROOT / src if (ROOT / src).is_file() else spec_path.parent / src
    if not path.is_file():
        raise SpecError(f"{where}.schedule", f"file not found: {src}")
    try:
        model = read_toml(path, f"{where}.schedule")
    except ConfigError as e:
        raise SpecError(e.field, e.message) from None
    overrides = r.get("overrides", {})
    if not isinstance(overrides, dict):
        raise SpecError(f"{where}.overrides", "must be a table")
    model = _merge(model, overrides)
    try:
        m = ScheduleModel.from_dict(model)
    except ConfigError as e:
        raise SpecError(f"{where}.{'overrides' if overrides else 'schedule'}.{e.field}", e.message) from None
    if m.blocks.n_blocks > n_tensors:
        raise SpecError(
            f"{where}.overrides.blocks.n_blocks",
            f"the model has {m.blocks.n_blocks} blocks, the network {n_tensors} parameter tensors "
            f"(set overrides = {{ blocks = {{ n_blocks = {n_tensors} }} }} or fewer)",
        )
    out: dict[str, Any] = {"schedule": str(src), "model": model, "n_blocks": m.blocks.n_blocks}
    if "events" in r:
        from asyncconv.config import check_int

        try:
            out["events"] = check_int(r["events"], f"{where}.events", ge=1)
        except ConfigError as e:
            raise SpecError(e.field, e.message) from None
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def to_toml(model: dict[str, Any], header: str = "") -> str:
    """A scheduler model dict as TOML (top-level tables as [sections], deeper ones inline)."""
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{k} = {_toml_value(v)}" for k, v in model.items() if not isinstance(v, dict)]
    for k, v in model.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]", *(f"{kk} = {_toml_value(vv)}" for kk, vv in v.items())]
    return "\n".join(lines) + "\n"


# --- running -----------------------------------------------------------------------------------


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _flags(settings: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    out = []
    for k in keys:
        v = settings.get(k)
        if v is None:
            continue
        out += ["--workers" if k == "workers" else "--" + k.replace("_", "-"), str(v)]
    return out


def subprocess_runner(args: list[str]) -> tuple[int, str, str]:
    """``asyncconv ARGS`` in a fresh interpreter (the default): (exit status, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "asyncconv", *args], capture_output=True, text=True, cwd=ROOT
    )
    return proc.returncode, proc.stdout, proc.stderr


def _cli(args: list[str], log: Path, runner=subprocess_runner) -> str:
    """Run ``asyncconv ARGS``; return its stdout; stop with its last line of output on failure."""
    load = os.getloadavg()[0]
    t = time.perf_counter()
    rc, stdout, stderr = runner(args)
    elapsed = time.perf_counter() - t
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"argv": args, "rc": rc, "elapsed_s": round(elapsed, 3), "load_before": load,
                             "load_after": os.getloadavg()[0]}) + "\n")  # fmt: skip
    if rc != 0:
        last = (stderr.strip() or stdout.strip() or "no output").splitlines()[-1]
        raise SystemExit(f"error: 'asyncconv {' '.join(args)}' failed (exit {rc}): {last}")
    return stdout


def _json_of(stdout: str, what: str) -> dict[str, Any]:
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"error: {what} printed no JSON object: {stdout.strip()[:200]!r}") from None


def run_spec(spec: Spec, out: Path, say=print, runner=subprocess_runner) -> dict[str, Any]:
    """Run (or resume) every run and replay of ``spec`` into ``out``; returns the manifest.

    ``runner(args) -> (exit status, stdout, stderr)`` runs one ``asyncconv`` command (default: a
    subprocess; the tests pass an in-process one)."""
    out.mkdir(parents=True, exist_ok=True)
    resolved = spec.to_dict()
    spec_file = out / "spec.json"
    if spec_file.is_file():
        before = json.loads(spec_file.read_text(encoding="utf-8"))
        if {k: v for k, v in before.items() if k != "path"} != {
            k: v for k, v in resolved.items() if k != "path"
        }:
            raise SpecError(
                "-o", f"{out} holds results of a different spec or scale; use another directory or remove it"
            )
    _atomic_write(spec_file, json.dumps(resolved, indent=1) + "\n")
    log = out / "log.jsonl"
    manifest: dict[str, Any] = {"format": FORMAT, "spec": str(spec.path), "scale": spec.scale, "runs": [],
                                "replays": []}  # fmt: skip
    t_start = time.perf_counter()
    total = len(spec.runs) * spec.repeats + len(spec.replays) * spec.replay_repeats
    done = 0
    for seed in spec.seeds():
        for run in spec.runs:
            done += 1
            stem = f"{run['label']}_s{seed}"
            js, npz = out / "runs" / f"{stem}.json", out / "runs" / f"{stem}.npz"
            manifest["runs"].append({"label": run["label"], "seed": seed, "json": f"runs/{stem}.json",
                                     "schedule": f"runs/{stem}.npz"})  # fmt: skip
            if js.is_file():
                say(f"[{done}/{total}] {stem}: done before, skipped")
                continue
            args = ["train", "--method", run["method"], *_flags(run, TRAIN_KEYS), "--seed", str(seed),
                    "--json", "--record-schedule", str(npz)]  # fmt: skip
            t = time.perf_counter()
            rep = _json_of(_cli(args, log, runner), stem)
            _atomic_write(js, json.dumps(rep, indent=1) + "\n")
            last = rep["evals"][-1]
            say(f"[{done}/{total}] {stem}: training {rep['wall_s']:.2f} s, final test acc {last['test_acc']:.4f} "
                f"({time.perf_counter() - t:.1f} s with start-up)")  # fmt: skip
    for seed in spec.replay_seeds():
        for rp in spec.replays:
            done += 1
            stem = f"{rp['label']}_s{seed}"
            js = out / "replays" / f"{stem}.json"
            if "trace" in rp:
                sched = out / "runs" / f"{rp['trace']}_s{seed}.npz"
            else:
                sched = out / "schedules" / f"{stem}.npz"
            manifest["replays"].append({"label": rp["label"], "seed": seed, "json": f"replays/{stem}.json",
                                        "schedule": str(sched.relative_to(out))})  # fmt: skip
            if js.is_file():
                say(f"[{done}/{total}] replay {stem}: done before, skipped")
                continue
            t = time.perf_counter()
            if "trace" not in rp and not sched.is_file():
                events = rp.get("events")
                if events is None:  # as many writes as the real runs of this seed
                    first = json.loads((out / "runs" / f"{spec.runs[0]['label']}_s{seed}.json").read_text())
                    events = int(first["writes"])
                model_file = out / "schedules" / f"{stem}.toml"
                head = (
                    f"{rp['schedule']} with overrides {json.dumps(rp.get('overrides', {}))} (run_training.py)"
                )
                _atomic_write(model_file, to_toml(rp["model"], head))
                _cli(["schedule", "draw", "--model", str(model_file), "-n", str(events), "--seed", str(seed),
                      "-o", str(sched), "-q"], log, runner)  # fmt: skip
            args = ["train", "--replay", str(sched), *_flags(spec.training, REPLAY_KEYS), "--seed", str(seed),
                    "--json"]  # fmt: skip
            rep = _json_of(_cli(args, log, runner), f"replay {stem}")
            _atomic_write(js, json.dumps(rep, indent=1) + "\n")
            say(f"[{done}/{total}] replay {stem}: {rep['writes']} writes, final train loss "
                f"{rep['epochs'][-1]['train_loss']:.4f} ({time.perf_counter() - t:.1f} s)")  # fmt: skip
    manifest["elapsed_s"] = time.perf_counter() - t_start
    _atomic_write(out / "manifest.json", json.dumps(manifest, indent=1) + "\n")
    return manifest


# --- reading results (the figure and table scripts) ----------------------------------------------


@dataclass
class Results:
    """A finished training experiment: ``runs[label]`` and ``replays[label]`` are lists of
    ``(seed, JSON of the CLI)``; ``run_schedules[label]`` the recorded schedule files."""

    dir: Path
    spec: dict[str, Any]
    runs: dict[str, list[tuple[int, dict[str, Any]]]]
    replays: dict[str, list[tuple[int, dict[str, Any]]]]
    run_schedules: dict[str, list[Path]]


def training_dir(results: Path, name: str = "training") -> Path:
    """``results/name`` if it holds a finished experiment; otherwise a clear error (SystemExit)."""
    d = results / name
    if not (d / "manifest.json").is_file() or not (d / "spec.json").is_file():
        raise SystemExit(
            f"error: {d} holds no finished training experiment; run "
            f"'python analysis/run_training.py sims/paper/training.toml --scale {results.name} -o {d}'"
        )
    return d


def load_results(results: Path, name: str = "training") -> Results:
    d = training_dir(results, name)
    spec = json.loads((d / "spec.json").read_text(encoding="utf-8"))
    man = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    runs: dict[str, list] = {r["label"]: [] for r in spec["runs"]}
    scheds: dict[str, list] = {r["label"]: [] for r in spec["runs"]}
    replays: dict[str, list] = {r["label"]: [] for r in spec["replays"]}
    for e in man["runs"]:
        runs[e["label"]].append((e["seed"], json.loads((d / e["json"]).read_text(encoding="utf-8"))))
        if (d / e["schedule"]).is_file():
            scheds[e["label"]].append(d / e["schedule"])
    for e in man["replays"]:
        replays[e["label"]].append((e["seed"], json.loads((d / e["json"]).read_text(encoding="utf-8"))))
    return Results(d, spec, runs, replays, scheds)


def time_to(evals: list[dict[str, Any]], target: float) -> float | None:
    """Wall time of the first snapshot whose test accuracy reaches ``target`` (None: never), as in
    ``benchmarks/bench_torch.py``."""
    for e in evals:
        if e["test_acc"] >= target - 1e-12:
            return float(e["time_s"])
    return None


def _median(xs: list[float | None]) -> float | None:
    """Median counting a missing value as +inf (None if at least half are missing)."""
    import numpy as np

    vals = np.sort([np.inf if x is None else x for x in xs])
    n = len(vals)
    m = float(vals[n // 2]) if n % 2 else float(0.5 * (vals[n // 2 - 1] + vals[n // 2]))
    return m if np.isfinite(m) else None


def summarise(res: Results) -> dict[str, Any]:
    """Per run label: the final metrics (median over repeats), training time, time to the target
    accuracy (sgd's median final test accuracy) and the speed-ups over ddp and sgd (ratios of the
    median times to the target, and of the median training times), as ``bench_torch.py``."""
    import numpy as np

    labels = [r["label"] for r in res.spec["runs"]]
    method = {r["label"]: r["method"] for r in res.spec["runs"]}
    base = {m: next((lb for lb in labels if method[lb] == m and res.runs[lb]), None) for m in ("sgd", "ddp")}
    target = None
    if base["sgd"] is not None:
        target = float(np.median([j["evals"][-1]["test_acc"] for _, j in res.runs[base["sgd"]]]))
    rows: dict[str, dict[str, Any]] = {}
    for lb in labels:
        runs = [j for _, j in res.runs[lb]]
        if not runs:
            continue
        cfg = runs[0]["config"]
        row: dict[str, Any] = {"label": lb, "method": cfg["method"], "processes": cfg["workers"],
                               "batch": cfg["batch"], "epochs": cfg["epochs"], "repeats": len(runs),
                               "writes": runs[0]["writes"]}  # fmt: skip
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            vals = np.array([j["evals"][-1][key] for j in runs])
            row[key], row[f"{key}_mean"], row[f"{key}_std"] = (
                float(np.median(vals)),
                float(vals.mean()),
                float(vals.std(ddof=1) if len(vals) > 1 else 0.0),
            )
        row["time_s"] = float(np.median([j["wall_s"] for j in runs]))
        row["setup_s"] = float(np.median([j["setup_s"] for j in runs]))
        row["ms_per_write"] = float(np.median([j["wall_s"] / j["writes"] * 1e3 for j in runs]))
        hits = [time_to(j["evals"], target) for j in runs] if target is not None else [None] * len(runs)
        row["time_to_target_s"] = _median(hits)
        row["reached_target"] = sum(h is not None for h in hits)
        row["max_delay"] = max(int((j.get("schedule") or {}).get("max_delay", 0)) for j in runs)
        rows[lb] = row
    for b, lb in base.items():
        for row in rows.values():
            ref = rows.get(lb) if lb is not None else None
            t_ref, t = (ref or {}).get("time_to_target_s"), row["time_to_target_s"]
            row[f"speedup_over_{b}"] = None if t_ref is None or t is None else t_ref / t
            row[f"speedup_time_over_{b}"] = None if ref is None else ref["time_s"] / row["time_s"]
    return {"target_test_acc": target, "target_from": base["sgd"], "rows": rows}


def mean_curve(runs: list[tuple[int, dict[str, Any]]], key: str = "test_acc", x: str = "time_s"):
    """Mean over repeats of ``x`` and ``key`` at every evaluation (the same write counts in every
    repeat); returns two arrays. Training JSON lists its snapshots under ``evals``; a replay's JSON
    lists them (every one, not only the epoch ends) under ``epochs``."""
    import numpy as np

    evals = [j["evals"] if "evals" in j else j["epochs"] for _, j in runs]
    n = min(len(e) for e in evals)
    xs = np.array([[e[x] for e in ev[:n]] for ev in evals], dtype=float)
    ys = np.array([[e[key] for e in ev[:n]] for ev in evals], dtype=float)
    return xs.mean(axis=0), ys.mean(axis=0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    ap.add_argument("spec", type=Path, help="training spec, e.g. sims/paper/training.toml")
    ap.add_argument(
        "--scale", default="full", help="'full' ([training] as written) or a [scales.NAME], e.g. quick"
    )
    ap.add_argument("-o", "--output", type=Path, default=None, help="default: results/paper/<scale>/<name>")
    ap.add_argument("--check", action="store_true", help="validate the spec and print the plan; run nothing")
    ns = ap.parse_args(argv)
    try:
        spec = parse_spec(ns.spec, ns.scale)
        out = ns.output if ns.output is not None else ROOT / "results" / "paper" / ns.scale / spec.name
        if ns.check:
            print(f"{spec.path} ({spec.scale}): {len(spec.runs)} runs x {spec.repeats} repeats, "
                  f"{len(spec.replays)} replays x {spec.replay_repeats}; output {out}")  # fmt: skip
            return 0
        t = time.perf_counter()
        run_spec(spec, out)
    except SpecError as e:
        print(f"error: {ns.spec}: {e.field}: {e.message}", file=sys.stderr)
        return 2
    print(f"training experiment complete in {time.perf_counter() - t:.0f} s: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
