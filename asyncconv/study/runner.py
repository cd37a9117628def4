"""Run a study on Dask: an embedded LocalCluster by default, any cluster by address.

The work is ``spec.tasks()``: one task per (configuration, batch of replicas). Tasks are
submitted at once and stored by this (driver) process as each finishes, so an interrupted study
loses only the tasks in flight. A worker that dies has its tasks rescheduled by Dask (and each
task is retried ``retries`` times on errors); a task that still fails is recorded in
``DIR/failed/`` and the study goes on. ``resume`` runs exactly the tasks without a marker.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asyncconv.config import ConfigError, check_int
from asyncconv.study.spec import StudySpec, task_memory
from asyncconv.study.store import Store, environment, task_name
from asyncconv.study.tasks import run_task

__all__ = ["estimate", "run_study", "study_status"]

Progress = Callable[[int, int, int], None]  # (replicas done, replicas total, replicas at start)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _task_kwargs(spec: StudySpec) -> dict[str, Any]:
    return {
        "seed": spec.seed,
        "checkpoints": spec.checkpoints,
        "probes": spec.probes,
        "tail": spec.tail,
        "thresholds": spec.thresholds,
        "probe_x": spec.probe_x,
    }


def _warmup(config: dict[str, Any], kwargs: dict[str, Any]) -> float:
    """Load (or compile) every kernel a task uses, on a tiny run; returns its seconds."""
    from asyncconv.study import tasks

    t0 = time.perf_counter()
    tasks.run_task(
        {**config, "events": min(int(config["events"]), 1000)},
        0,
        1,
        **{**kwargs, "probes": min(kwargs["probes"], 4)},
    )
    return time.perf_counter() - t0


def study_status(root: str | Path) -> dict[str, Any]:
    """Done / remaining / failed tasks and replicas of the study in ``root``."""
    store = Store(root)
    spec = store.spec()
    chk = store.verify()
    done, failed = store.done() - chk.tasks, store.failed()
    tasks = spec.tasks()
    rep = {"done": 0, "remaining": 0, "failed": 0}
    n_done = n_failed = 0
    for c, r0, r1 in tasks:
        name = task_name(c, r0)
        if name in done:
            rep["done"] += r1 - r0
            n_done += 1
        else:
            rep["remaining"] += r1 - r0
            if name in failed:
                rep["failed"] += r1 - r0
                n_failed += 1
    return {
        "study": spec.name,
        "dir": str(Path(root)),
        "tasks": {"total": len(tasks), "done": n_done, "remaining": len(tasks) - n_done, "failed": n_failed},
        "replicas": {"total": len(spec.configs) * spec.replicas, **rep},
        "complete": n_done == len(tasks) and chk.ok,
        "failures": {k: v.strip().splitlines()[-1] if v.strip() else "" for k, v in sorted(failed.items())},
        "damaged": None if chk.ok else chk.line(Path(root)),
    }


def estimate(spec: StudySpec, workers: int | None = None, calibrate: bool = True) -> dict[str, Any]:
    """The work of a study: tasks, writes, store size and (``calibrate``) a time estimate from one
    short replica of each configuration run here."""
    workers = workers or _cores()
    out: dict[str, Any] = {
        "configurations": len(spec.configs),
        "replicas": len(spec.configs) * spec.replicas,
        "tasks": spec.n_tasks,
        "writes": spec.total_events,
        "trajectory_bytes": 4 * len(spec.configs) * spec.replicas * (spec.checkpoints + 1 + spec.probes) * 10,
        "workers": workers,
    }
    if calibrate:
        kw = _task_kwargs(spec)
        total = 0.0
        for c in spec.configs:
            ev = min(c.events, 20_000)
            run_task({**c.to_dict(), "events": ev}, 0, 1, **kw)  # loads the kernels (not timed)
            res = run_task({**c.to_dict(), "events": ev}, 0, 1, **kw)
            t = res.timings
            per_replica = (
                (t["draw_s"] + t["kernel_s"]) * c.events / ev + t["eval_s"] + t["stats_s"] / spec.replicas
            )
            total += per_replica * spec.replicas
        out["estimated_s"] = total / max(1, min(workers, spec.n_tasks))
    return out


#: schemes of a Dask scheduler address
SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")


def check_scheduler(address: str | None) -> None:
    """Refuse a malformed scheduler address before anything is created (``--scheduler``)."""
    if address is None:
        return
    import re

    scheme, sep, rest = address.partition("://")
    host_port = rest if sep else address
    ok = (not sep or scheme in SCHEMES) and (
        scheme == "inproc" or re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):\d{1,5}", host_port)
    )
    if not ok:
        raise ConfigError(
            "--scheduler",
            f"must be a Dask scheduler address such as tcp://127.0.0.1:8786 or host:8786 (got {address!r})",
        )


def run_study(
    spec: StudySpec,
    out: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    retries: int = 2,
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run (or continue) ``spec`` into the store ``out``; returns the session record.

    ``scheduler``: a Dask scheduler address (``tcp://host:8786``); None starts a LocalCluster with
    ``workers`` single-threaded worker processes (default: the usable cores). An existing store is
    verified first and what is damaged is recomputed (``repaired`` in the record). ``quiet``
    silences the workers' logs (a failed task is still recorded in ``DIR/failed/``).
    """
    say = log or (lambda msg: None)
    store = Store(out)
    check_scheduler(scheduler)
    task_memory(spec)  # here, not in parse_spec: a store stays readable on a smaller machine
    if workers is not None:
        workers = check_int(workers, "--workers", ge=1, le=1024)
    retries = check_int(retries, "--retries", ge=0, le=100)
    with store.lock():
        repaired = store.create(spec)
        done = store.done()
        todo = [t for t in spec.tasks() if task_name(t[0], t[1]) not in done]
        replicas_total = len(spec.configs) * spec.replicas
        replicas_done = replicas_total - sum(r1 - r0 for _, r0, r1 in todo)
        if not todo:
            if not (store.root / "complete.json").is_file():
                store.consolidate(spec)
            say(f"the study in {store.root} is complete ({replicas_total} replicas): nothing to do")
            return {"nothing_to_do": True, "tasks_run": 0, "complete": True, "repaired": "; ".join(repaired)}
        if done:
            say(f"resuming: {len(spec.tasks()) - len(todo)} of {spec.n_tasks} tasks already done")
        if repaired:
            say(f"repairing: {'; '.join(repaired[:3])}{' ...' if len(repaired) > 3 else ''}")
        session = _execute(
            store,
            spec,
            todo,
            replicas_done,
            replicas_total,
            scheduler,
            workers,
            retries,
            progress,
            say,
            quiet,
        )
        session["repaired"] = "; ".join(repaired)
        store.add_session(session)
        if session["complete"]:
            store.consolidate(spec)
        return session


def _client(scheduler: str | None, workers: int | None, quiet: bool = False):
    import logging

    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as e:
            raise ConfigError(
                "--scheduler", f"cannot reach a Dask scheduler at {scheduler!r} ({e})"
            ) from None
    import dask

    n = workers or _cores()
    # The embedded scheduler shares this process with the store writes. With Dask's default
    # queueing (worker-saturation 1.1) a worker waits for a scheduler round trip after each task,
    # and that trip waits for this process (benchmarks/bench_study.py, 2 workers on 2 cores: the
    # task phase took 19.1 s with the default, 16.6-17.0 s like this).
    # Tasks are uniform and independent, so send them to the workers up front (work stealing
    # still balances them, and a lost worker's tasks are still rescheduled).
    with dask.config.set({"distributed.scheduler.worker-saturation": "inf"}):
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
            silence_logs=logging.CRITICAL if quiet else logging.ERROR, memory_limit="auto",
        )  # fmt: skip
    return Client(cluster), cluster


def _execute(store, spec, todo, replicas_done, replicas_total, scheduler, workers, retries, progress, say,
             quiet=False):  # fmt: skip
    from distributed import as_completed

    kw = _task_kwargs(spec)
    configs = {c.id: c.to_dict() for c in spec.configs}
    t_start = time.perf_counter()
    client, cluster = _client(scheduler, workers, quiet)
    n_tasks_ok = n_failed = 0
    busy = {"draw_s": 0.0, "kernel_s": 0.0, "eval_s": 0.0, "stats_s": 0.0, "wall_s": 0.0}
    try:
        addrs = sorted(client.scheduler_info(n_workers=-1)["workers"])
        n_workers = len(addrs)
        say(f"dask: {n_workers} workers ({'scheduler ' + scheduler if scheduler else 'local cluster'})")
        # Load or compile the kernels on every worker before timing the study: on one worker
        # first, so that a cold start compiles once and writes Numba's on-disk cache, which the
        # other workers then load (all at once they would each compile the same kernels, sharing
        # the cores). Meanwhile a second worker compiles the structured measure's kernels (the
        # costliest, and problem-independent), which the first then loads.
        t0 = time.perf_counter()
        sq = None
        if n_workers > 1:
            from asyncconv.theory.structured import warm as warm_sq

            sq = client.submit(warm_sq, workers=addrs[1:2], allow_other_workers=False, pure=False)
        jit = client.run(_warmup, configs[todo[0][0]], kw, workers=addrs[:1])
        if n_workers > 1:
            sq.result()
            jit.update(client.run(_warmup, configs[todo[0][0]], kw, workers=addrs[1:]))
        t_jit = time.perf_counter() - t0
        if progress is not None:
            progress(replicas_done, replicas_total, replicas_done)
        futures, meta = [], {}
        for c, r0, r1 in todo:
            f = client.submit(
                run_task, configs[c], r0, r1, **kw, key=f"asyncconv-{spec.fingerprint()[:12]}-{task_name(c, r0)}",
                retries=retries, pure=False,
            )  # fmt: skip
            futures.append(f)
            meta[f.key] = (c, r0, r1)
        t_submit = time.perf_counter()
        for fut in as_completed(futures):
            c, r0, r1 = meta[fut.key]
            try:
                res = fut.result()
            except Exception as e:  # the task failed on every retry, or its workers kept dying
                store.write_failure(c, r0, "".join(traceback.format_exception(e)))
                say(f"task {task_name(c, r0)} failed: {type(e).__name__}: {e}")
                n_failed += 1
                continue
            finally:
                fut.release()
            store.write_task(spec, res)
            n_tasks_ok += 1
            for k in busy:
                busy[k] += res.timings[k]
            replicas_done += r1 - r0
            if progress is not None:
                progress(replicas_done, replicas_total, None)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    wall = time.perf_counter() - t_start
    run_wall = time.perf_counter() - t_submit
    complete = len(store.done()) == spec.n_tasks
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - wall)),
        "host": environment()["host"],
        "scheduler": scheduler or "local",
        "workers": n_workers,
        "tasks_run": n_tasks_ok,
        "tasks_failed": n_failed,
        "complete": complete,
        "wall_s": wall,
        "jit_s": {"per_worker": sorted(jit.values()), "wall": t_jit},
        "tasks_wall_s": run_wall,
        "busy_s": busy,
        # share of the workers' time spent in the simulation kernels (schedule drawing + replay)
        "kernel_share": (busy["draw_s"] + busy["kernel_s"]) / (run_wall * n_workers)
        if run_wall > 0
        else None,
    }
