"""Cold start: what a new user waits for the first time, with an empty Numba cache.

Each step runs the real command line in a fresh process, with ``NUMBA_CACHE_DIR`` pointing at a new
empty folder (the package's own cache is never touched):

1. ``asyncconv simulate --problem trap --events 1000 --replicas 2`` (cold: every kernel compiles);
2. the same with ``--problem chained_lq`` in the same cache (a second problem: its functions only);
3. step 1 again (warm: everything loads from the cache);
4. ``asyncconv study run sims/quickstart.toml`` (``make demo``'s study) in another empty cache.

    python benchmarks/bench_coldstart.py [--skip-study] [--json out.json]

Targets of the issue "Problems as plug-ins": step 1 <= 25 s wall (about 100 CPU-s before),
step 2 <= 5 s more than a warm run, step 4 <= 75 s wall (190 s before).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "asyncconv"]


def _run(args: list[str], cache: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(CLI + args, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"args": " ".join(args), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-study", action="store_true")
    ap.add_argument("--json", type=pathlib.Path)
    a = ap.parse_args(argv)
    quick = ["--events", "1000", "--replicas", "2", "-q"]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = str(pathlib.Path(tmp) / "cache")
        rows["cold_trap"] = _run(["simulate", "--problem", "trap", *quick], cache)
        rows["second_problem"] = _run(["simulate", "--problem", "chained_lq", *quick], cache)
        rows["warm_trap"] = _run(["simulate", "--problem", "trap", *quick], cache)
        if not a.skip_study:
            out = str(pathlib.Path(tmp) / "quickstart")
            rows["cold_quickstart_study"] = _run(
                ["study", "run", "sims/quickstart.toml", "-o", out, "-q"], str(pathlib.Path(tmp) / "cache2")
            )
    for name, r in rows.items():
        print(f"{name:24s} {r['wall_s']:7.2f} s wall {r['cpu_s']:7.2f} CPU-s   ({r['args']})")
    extra = rows["second_problem"]["wall_s"] - rows["warm_trap"]["wall_s"]
    print(f"a second problem costs {extra:.2f} s more than a warm run")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
