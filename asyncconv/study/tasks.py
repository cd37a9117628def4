"""One unit of study work: a batch of replicas of one configuration, simulated and judged.

:func:`run_task` is a pure function of its arguments (the configuration, the replica range and
the study's settings), so it can run on any Dask worker, any number of times, and give the same
bits: replica r draws its schedule and noise from ``SeedSequence(seed, spawn_key=(r,))`` whatever
batch it falls in (``sim.simulate``), and the kernels are deterministic at any thread count.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from asyncconv.config import ConfigError, json_default

__all__ = ["SUMMARY_COLUMNS", "TaskResult", "build", "run_task", "summary_row"]

#: per-replica columns of the summary table, in order (besides the JSON of all measures)
SUMMARY_COLUMNS = (
    "config",
    "replica",
    "status",
    "verdict",
    "outcome",
    "rules",
    "reason",
    "critical_point",
    "f_level",
    "blockwise_critical",
    "writes",
    "t_final",
    "f_final",
    "f_gap_final",
    "dist_final",
    "dist_rel_final",
    "dist_scale",
    "gnorm_final",
    "unorm_final",
    "velocity_final",
    "staleness_final",
    "age_final",
    "stationarity_upper",
    "stationarity_lower",
    "settle",
    "slope",
    "clock_share",
    "momentum_avg",
    "delay_mean",
    "delay_max",
    "block_counts",
    "evidence",
)


@dataclass(frozen=True)
class TaskResult:
    """What one task returns to the runner (small: no iterates, no schedules).

    rows : list of dict   (one per replica; SUMMARY_COLUMNS plus ``measures`` as JSON text;
                           ``evidence`` is the verdict's evidence as JSON text, ``dist_rel_final``
                           the one distance D = dist_final / dist_scale of verdicts and time-to-ε)
    metrics : ndarray, shape (r1 - r0, checkpoints + 1, len(METRIC_NAMES)), float32
    probes : ndarray, shape (r1 - r0, probes, len(PROBE_NAMES)), float32
    probe_x : ndarray, shape (r1 - r0, probes, n) float32, or None  (iterates at the probes)
    delay_hist : ndarray, shape (DELAY_HIST_BINS,), int64  (pooled over the batch)
    schedule_stats : dict or None  (full statistics of replica 0's schedule, first batch only)
    timings : dict  (wall, draw, kernel and evaluation seconds of this task)
    """

    config: int
    r0: int
    r1: int
    rows: list[dict[str, Any]]
    metrics: np.ndarray
    probes: np.ndarray
    probe_x: np.ndarray | None
    delay_hist: np.ndarray
    schedule_stats: dict[str, Any] | None
    timings: dict[str, float]


def build(config: dict[str, Any]):
    """(problem, schedule model, iteration, x0) of a configuration dict (``Config.to_dict()``)."""
    from asyncconv.problems import make_problem
    from asyncconv.schedule import ScheduleModel
    from asyncconv.sim import Iteration

    prob = dict(config["problem"])
    name, n, seed, x0 = prob.pop("name"), prob.pop("n", None), prob.pop("seed", 0), prob.pop("x0", None)
    digest = prob.pop("digest", None)
    problem = make_problem(name, n, seed=seed, **prob)
    if digest is not None and problem.spec.digest != digest:
        raise ConfigError(
            "problem.name",
            f"{name.rpartition(':')[0]} changed since the study was created (sha256 {digest[:12]} -> "
            f"{problem.spec.digest[:12]}); restore it, or run the changed problem as a new study",
        )
    return (
        problem,
        ScheduleModel.from_dict(config["schedule"]),
        Iteration.from_dict(config["iteration"]),
        None if x0 is None else np.asarray(x0, dtype=np.float64),
    )


def run_task(
    config: dict[str, Any],
    r0: int,
    r1: int,
    *,
    seed: int,
    checkpoints: int,
    probes: int,
    tail: int | None,
    thresholds: dict[str, Any],
    probe_x: bool = False,
    threads: int = 1,
) -> TaskResult:
    """Simulate replicas ``r0 .. r1 - 1`` of ``config`` and evaluate their verdicts.

    ``threads`` bounds Numba's threads in this call (one per Dask worker thread by default, so
    that several workers on one machine do not oversubscribe its cores).
    """
    import numba

    from asyncconv.schedule import draw_schedule
    from asyncconv.schedule.stats import schedule_stats
    from asyncconv.sim.simulate import replica_streams, simulate
    from asyncconv.theory import Thresholds, default_tail, evaluate

    t0 = time.perf_counter()
    problem, model, it, x0 = build(config)
    th = Thresholds.from_dict(thresholds)
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        res = simulate(
            problem, model, it, n_events=int(config["events"]), n_replicas=r1 - r0, seed=seed,
            n_ckpt=checkpoints, x0=x0, probes=probes, probe_x=probe_x, first_replica=r0,
            n_tail=default_tail(problem.n) if tail is None else tail,
        )  # fmt: skip
    finally:
        numba.set_num_threads(previous)
    t1 = time.perf_counter()
    records = evaluate(problem, res, th, n_blocks=model.blocks.n_blocks)
    t2 = time.perf_counter()
    finals = res.final()
    delay = res.info["delay"]
    rows = []
    for i, (fin, rec) in enumerate(zip(finals, records, strict=True)):
        rows.append(
            summary_row(config["id"], r0 + i, fin, rec, float(delay["mean"][i]), int(delay["max"][i]),
                        res.block_counts[i], problem.dist_scale)
        )  # fmt: skip
    stats = None
    if r0 == 0:
        # the first replica's schedule again (cheap to redraw, same seed): its full statistics
        # and assumption checks go into the store's schedules.json
        s_seed, _ = replica_streams(seed, 0)
        stats = schedule_stats(
            draw_schedule(model, int(config["events"]), s_seed), step_exponent=it.p, n_boot=0
        )
    t3 = time.perf_counter()
    return TaskResult(
        int(config["id"]), r0, r1, rows, res.metrics.astype(np.float32), res.probes.astype(np.float32),
        res.probe_x.astype(np.float32) if probe_x else None,
        np.asarray(delay["hist"], dtype=np.int64), stats,
        {"wall_s": t3 - t0, "draw_s": res.info["draw_s"], "kernel_s": res.info["kernel_s"], "eval_s": t2 - t1,
         "stats_s": t3 - t2},
    )  # fmt: skip


def _num(v: Any) -> float:
    return float("nan") if v is None or not math.isfinite(float(v)) else float(v)


def summary_row(
    config: int,
    replica: int,
    fin: dict[str, Any],
    rec: dict[str, Any],
    delay_mean: float,
    delay_max: int,
    block_counts: np.ndarray,
    dist_scale: float = 1.0,
) -> dict[str, Any]:
    """One row of the summary table from ``SimResult.final()`` and ``evaluate_replica`` output;
    ``block_counts`` (B,) are the replica's writes per block (the estimates of the rates Λ);
    ``dist_scale`` the problem's (``Problem.dist_scale``)."""
    meas = rec.get("measures", {})
    mom = meas.get("momentum") or {}
    cp = rec.get("critical_point")
    row: dict[str, Any] = {
        "config": int(config),
        "replica": int(replica),
        "status": rec["status"],
        "verdict": rec["verdict"],
        "outcome": rec.get("outcome", ""),
        "rules": int(rec.get("rules", 1)),
        "reason": rec.get("reason", ""),
        "critical_point": None if cp is None else str(cp),
        "f_level": rec.get("f_level"),
        "blockwise_critical": rec.get("blockwise_critical"),
        "writes": int(rec["writes"]),
        "stationarity_upper": _num(rec.get("stationarity_upper")),
        "stationarity_lower": _num(rec.get("stationarity_lower")),
        "settle": _num(meas.get("settle")),
        "slope": _num(meas.get("slope")),
        "clock_share": _num(meas.get("clock_share")),
        "momentum_avg": _num(mom.get("window_avg") if isinstance(mom, dict) else None),
        "delay_mean": float(delay_mean),
        "delay_max": int(delay_max),
        "block_counts": [int(c) for c in block_counts],
        "dist_scale": float(dist_scale),
    }
    for key in ("t", "f", "f_gap", "dist", "gnorm", "unorm", "velocity", "staleness", "age"):
        row[f"{key}_final"] = _num(fin.get(f"{key}_final"))
    row["dist_rel_final"] = row["dist_final"] / float(dist_scale)
    row["measures"] = json.dumps(meas, sort_keys=True, default=json_default, allow_nan=True)
    row["evidence"] = json.dumps(
        rec.get("evidence", {}), sort_keys=True, default=json_default, allow_nan=True
    )
    return row
