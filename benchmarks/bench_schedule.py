"""Speed of schedule drawing (``make bench``); not part of any test run.

Reports, in one run on this machine: JIT compile time (from an empty Numba cache), events per second
of the jitted kernels alone and of ``draw_schedule`` end to end (kernel + packing + ``validate``),
the share of ``draw_schedule`` spent outside the kernel (packing, ``validate``), and the ratio to the plain-Python reference simulator of the tests on the same model. Targets (issue
"Foundation and the probabilistic scheduler model"): >= 5 M events/s for 8 workers with consistent
reads, >= 1 M events/s with inconsistent reads over 64 blocks.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

# Compile from scratch so the compile time is honest (the package caches kernels on disk).
os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="asyncconv-bench-")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from asyncconv.rng import key_from_seed
from asyncconv.schedule import ScheduleModel, draw_schedule
from asyncconv.schedule import draw as _draw

N = 5_000_000
REPEATS = 3

CASES = {
    "8 workers, consistent, 8 blocks (PASSM)": ScheduleModel.timing_preset(
        n_workers=8, compute="exponential"
    ),
    "8 workers, inconsistent, 64 blocks (shared)": ScheduleModel.timing_preset(
        n_workers=8, n_blocks=64, ownership="shared", reads="inconsistent", read_time=0.2
    ),
    "64 workers, consistent, 64 blocks (PASSM)": ScheduleModel.timing_preset(
        n_workers=64, compute="lognormal", shape=0.5
    ),
    "abstract pareto delays, 8 blocks": ScheduleModel.from_dict(
        {
            "n_workers": 8,
            "blocks": {"n_blocks": 8},
            "abstract": {"delay": {"law": "pareto", "tail": 1.5, "scale": 2.0}},
        }
    ),
}


def best_of(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def kernel_call(model: ScheduleModel, n: int):
    key, _ = key_from_seed(1)
    owners = model.owners()
    if model.kind == "timing":
        return lambda: _draw._draw_timing(model, model.source, n, key, owners)
    return lambda: _draw._draw_abstract(model, model.source, n, key, owners)


def main() -> None:
    print(f"numpy {np.__version__}; {N:,} events per draw; best of {REPEATS}")
    t = time.perf_counter()
    for model in CASES.values():
        draw_schedule(model, 10, seed=0)
    print(f"JIT compile (all kernels, empty cache): {time.perf_counter() - t:.2f} s\n")
    print(f"{'case':46s} {'kernel Mev/s':>13s} {'draw Mev/s':>11s} {'overhead share':>15s}")
    for name, model in CASES.items():
        tk = best_of(kernel_call(model, N))
        td = best_of(lambda m=model: draw_schedule(m, N, seed=1))
        print(f"{name:46s} {N / tk / 1e6:13.2f} {N / td / 1e6:11.2f} {1 - tk / td:15.1%}")

    # ratio against the plain-Python reference simulator (tests/reference), same model and key
    try:
        from tests.reference.timing_reference import timing_reference
    except ImportError as e:  # pragma: no cover - the reference lives in the test tree
        print(f"\n(reference simulator unavailable: {e})")
        return
    model = CASES["8 workers, consistent, 8 blocks (PASSM)"]
    n = 20_000
    key, _ = key_from_seed(1)
    t_ref = best_of(lambda: timing_reference(model, n, int(key)), repeats=1)
    t_jit = best_of(lambda: draw_schedule(model, n, seed=1))
    print(
        f"\njitted draw_schedule vs plain-Python reference ({n:,} events, 8 workers): {t_ref / t_jit:,.0f}x faster"
    )


if __name__ == "__main__":
    main()
