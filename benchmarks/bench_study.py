"""Runner overhead and scaling of ``asyncconv study run`` (not part of any test run).

A study of many small replicas (the trap, two schedules, short horizons) is run on a LocalCluster
with 1 and with 2 worker processes, in one process, one after the other. Reported:

* kernel share: (schedule drawing + replay kernels) / (task-phase wall x workers);
* task share: everything inside the tasks (kernels, verdict measures, schedule statistics) /
  (task-phase wall x workers) -- 1 - task share is the runner's own overhead (Dask scheduling,
  transfers, writing the store);
* speed-up of 2 workers over 1 on the task phase and end to end (cluster start-up included).

Targets (issue 5): kernel share >= 0.9, speed-up >= 1.7. Usage:
    .venv/bin/python benchmarks/bench_study.py [--replicas 1024] [--events 50000] [--batch 64]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

SPEC = """
[study]
name = "bench"
seed = 1
replicas = {replicas}
events = {events}
batch = {batch}

[problem]
name = "trap"

[[schedule]]
label = "random"
n_workers = 2
blocks = {{ n_blocks = 2, ownership = "partitioned" }}
timing = {{ compute = {{ law = "exponential", mean = 1.0 }} }}

[[schedule]]
label = "periodic"
n_workers = 2
blocks = {{ n_blocks = 2, ownership = "partitioned" }}
periodic = {{ delay = 1 }}

[iteration]
momentum = "heavy"
m = 0.5
noise = "gaussian"
noise_scale = 0.01
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=1024)
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from asyncconv.study import parse_spec, run_study

    spec = parse_spec(SPEC.format(replicas=args.replicas, events=args.events, batch=args.batch))
    out = {"replicas": args.replicas, "events": args.events, "batch": args.batch, "tasks": spec.n_tasks,
           "cpus": len(os.sched_getaffinity(0)), "load_avg_start": os.getloadavg()[0], "runs": {}}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for w in (1, 2):
            t0 = time.perf_counter()
            s = run_study(spec, Path(tmp) / f"w{w}", workers=w)
            total = time.perf_counter() - t0
            busy = s["busy_s"]
            task_wall = s["tasks_wall_s"]
            out["runs"][w] = {
                "end_to_end_s": total,
                "task_phase_s": task_wall,
                "jit_s": max(s["jit_s"]["per_worker"]),
                "kernel_share": s["kernel_share"],
                "task_share": busy["wall_s"] / (task_wall * w),
                "eval_share": busy["eval_s"] / (task_wall * w),
                "writes_per_s": spec.total_events / task_wall,
            }
    r1, r2 = out["runs"][1], out["runs"][2]
    out["speedup_task_phase"] = r1["task_phase_s"] / r2["task_phase_s"]
    out["speedup_end_to_end"] = r1["end_to_end_s"] / r2["end_to_end_s"]
    out["load_avg_end"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"study: 2 configurations x {args.replicas} replicas x {args.events:,} writes, batch {args.batch} "
          f"({spec.n_tasks} tasks); load {out['load_avg_start']:.2f} -> {out['load_avg_end']:.2f}")  # fmt: skip
    for w, r in out["runs"].items():
        print(f"  {w} worker(s): tasks {r['task_phase_s']:.2f} s, end to end {r['end_to_end_s']:.2f} s "
              f"(kernel load {r['jit_s']:.2f} s); kernel share {r['kernel_share']:.3f}, "
              f"in tasks {r['task_share']:.3f} (verdicts {r['eval_share']:.3f}); {r['writes_per_s'] / 1e6:.1f} M writes/s")  # fmt: skip
    print(f"  speed-up 2 vs 1 workers: task phase {out['speedup_task_phase']:.2f}x (target >= 1.7), "
          f"end to end {out['speedup_end_to_end']:.2f}x")  # fmt: skip
    ok = min(r1["kernel_share"], r2["kernel_share"]) >= 0.9
    print(f"  kernel share >= 0.9: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
