"""Per-write replay speed: per-problem kernels (first-class functions) against the first phase's
kernel (integer dispatch over all problems, inlined; frozen in ``benchmarks/legacy/``), in one run.

The same schedule, iteration and inputs go through both kernels; the final iterates must agree bit
for bit before any ratio is reported. Cases: chained LQ at n = 10 000 with blocks of b = 8 and
b = 64 coordinates (4 exponential workers, partitioned, consistent reads; heavy ball, no noise:
the case of ``asyncconv bench``), plus maxq (a global-max problem, O(n) per write) and the trap.
Repeats interleave the two kernels (best of ``--repeats``) because the machine is shared.

    python benchmarks/bench_dispatch.py [--events 1000000] [--repeats 5] [--json out.json]

Prints ratios ``legacy / new`` of the per-write time: > 1 means the new kernel is faster. The first
call of each kernel (compile or cache load) is excluded and reported separately.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from asyncconv.problems import make_problem
from asyncconv.rng import key_from_seed
from asyncconv.schedule import ScheduleModel, draw_schedule
from asyncconv.sim import Iteration, _kernels
from asyncconv.sim.simulate import _pack

#: the first phase's problem ids (benchmarks/legacy/problems_kernels.py)
LEGACY_PID = {"chained_lq": 2, "maxq": 0, "trap": 24}
CASES = (("chained_lq", 10_000, 8), ("chained_lq", 10_000, 64), ("maxq", 256, 8), ("trap", 2, 1))


def _inputs(name: str, n: int, b: int, events: int):
    problem = make_problem(name, n)
    model = ScheduleModel.timing_preset(
        n_workers=min(4, n // b), compute="exponential", n_blocks=n // b, ownership="partitioned"
    )
    sched = draw_schedule(model, events, seed=1)
    it = Iteration(momentum="heavy", clock="writer", factor_low=0.9, noise="none")
    key, _ = key_from_seed(1)
    return problem, sched, it, key


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(events: int, repeats: int) -> list[dict]:
    from legacy import sim_kernels as legacy

    rows = []
    for name, n, b in CASES:
        problem, sched, it, key = _inputs(name, n, b, events)
        shared, per_replica, out = _pack(problem, [sched], [key], it, 60)
        args_new = (*shared, *per_replica(0))
        args_old = (LEGACY_PID[name], *shared[2:], *per_replica(0))
        x_new = x_old = None

        def new(args_new=args_new, out=out):
            nonlocal x_new
            _kernels.replay_one(*args_new)
            x_new = out[1][0].copy()

        def old(args_old=args_old, out=out):
            nonlocal x_old
            legacy.replay_one(*args_old)
            x_old = out[1][0].copy()

        first_new = _timed(new)  # compile or cache load
        first_old = _timed(old)
        t_new, t_old = math.inf, math.inf
        for _ in range(repeats):  # interleaved
            t_new = min(t_new, _timed(new))
            t_old = min(t_old, _timed(old))
        if not np.array_equal(x_new, x_old):
            raise RuntimeError(f"{name} b={b}: the two kernels disagree; no ratio reported")
        rows.append(
            {
                "problem": name,
                "n": n,
                "b": b,
                "events": events,
                "ns_per_write_new": 1e9 * t_new / events,
                "ns_per_write_legacy": 1e9 * t_old / events,
                "legacy_over_new": t_old / t_new,
                "first_call_s_new": first_new,
                "first_call_s_legacy": first_old,
                "bit_identical": True,
            }
        )
        r = rows[-1]
        print(
            f"{name:11s} n={n:6d} b={b:3d}: new {r['ns_per_write_new']:7.1f} ns/write, legacy "
            f"{r['ns_per_write_legacy']:7.1f} ns/write, legacy/new = {r['legacy_over_new']:.3f} "
            f"(first calls: new {first_new:.1f} s, legacy {first_old:.1f} s); bit-identical",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=pathlib.Path)
    a = ap.parse_args(argv)
    rows = run(a.events, a.repeats)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
