"""asyncconv.limits: hard bounds, the memory estimate of ``simulate`` and the check against it.

The slow test measures the real peak (resident set) of ``simulate`` in fresh processes and checks
the estimate is within a factor 2 above it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from asyncconv import limits
from asyncconv.config import ConfigError
from asyncconv.limits import (
    MAX_EVENTS,
    MAX_OWNER_CELLS,
    MAX_REPLICAS,
    MAX_WORKERS,
    available_bytes,
    check_bounds,
    check_fits,
    estimate_for_model,
    estimate_simulation_bytes,
    format_bytes,
    simulate_in_flight,
)

CLI = {
    "n_workers": "--workers",
    "n_blocks": "--blocks",
    "events": "--events",
    "replicas": "--replicas",
    "n": "--n",
}
STUDY = {
    "n_workers": "schedule.n_workers",
    "n_blocks": "schedule.blocks.n_blocks",
    "events": "study.events",
    "replicas": "study.batch",
}
KW = dict(n_ckpt=60, probes=64, probe_x=False, n_tail=32)


def _timing(P, B=None, **blocks):
    return {
        "n_workers": P,
        "blocks": {"n_blocks": B or P, **blocks},
        "timing": {"compute": {"law": "exponential", "mean": 1.0}},
    }


# --- bounds ---------------------------------------------------------------------------------------


def test_bounds_accept_ordinary_sizes():
    check_bounds(2, 2, 200_000, 64, 2, CLI)
    check_bounds(MAX_WORKERS, 2, MAX_EVENTS, MAX_REPLICAS, 10**6, CLI)
    check_bounds(2**15, 2**15, 1000, 1, 10**6, CLI)
    check_bounds(None, None, None, None, None)  # nothing known yet
    check_bounds("8", 2.5, True, [1], None)  # not integers: left to the type validators


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        ((100_000_000, 2, 1000, 1, 2), "--workers", ("65,536", "100,000,000", "momentum buffer")),
        ((2, 3, 1000, 1, 2), "--blocks", ("n = 2", "coordinate")),
        ((2, 2**31, 1000, 1, None), "--blocks", ("int32",)),
        ((2, 2, 1000, 1_000_000_000, 2), "--replicas", ("1,000,000", "seed", "study")),
        ((2, 2, 2_000_000_001, 1, 2), "--events", ("2,000,000,000", "GiB")),
        ((2, 2, 2_000_000_000, 1, 10**9), "--events", ("64-bit",)),
        ((40_000, 40_000, 1000, 1, 10**6), "--workers", ("ownership matrix", f"{MAX_OWNER_CELLS:,}")),
    ],
)
def test_bounds_refuse_with_the_user_field_and_the_reason(args, field, words):
    with pytest.raises(ConfigError) as e:
        check_bounds(*args, fields=CLI)
    assert e.value.field == field
    assert "\n" not in str(e.value)
    for w in words:
        assert w in e.value.message, (w, e.value.message)


def test_bounds_name_study_fields_and_default_to_parameter_names():
    with pytest.raises(ConfigError) as e:
        check_bounds(n_workers=100_000_000, fields=STUDY)
    assert e.value.field == "schedule.n_workers"
    with pytest.raises(ConfigError) as e:
        check_bounds(replicas=np.int64(10**7))
    assert e.value.field == "replicas"


# --- the estimate ---------------------------------------------------------------------------------


def test_in_flight_is_simulates_batching():
    assert simulate_in_flight(1000, 10**9) == 20_000
    assert simulate_in_flight(1_000_000, 4) == 4
    assert simulate_in_flight(2_000_000_000, 2) == 1
    assert simulate_in_flight(200_000, 6, max_batch_events=400_000) == 2


def test_estimate_is_cheap_at_absurd_sizes():
    t0 = time.perf_counter()
    cases = {
        # case 5a: --replicas 1e9 (trap, 2 workers, 1000 events): the per-replica outputs and seeds
        "replicas": (2, 2, 2, 1000, 10**9),
        # case 5d: events = 2e9 in a study task (batch 2, one thread): the schedule of the replica
        "events": (2, 2, 2, 2_000_000_000, 2),
        # 1e8 workers with per-worker momentum buffers
        "n_workers": (1000, 10**8, 10**8, 1000, 1),
    }
    out = {}
    for largest, (n, P, B, K, R) in cases.items():
        est = estimate_simulation_bytes(
            n, P, B, K, R, in_flight=simulate_in_flight(K, R), threads=1, per_worker_buffers=True, **KW
        )
        assert est["largest"] == largest, est
        out[largest] = est
    assert time.perf_counter() - t0 < 0.5
    assert out["replicas"]["total"] > 10 * 2**40  # > 10 TiB of trajectories
    assert "replicas" in out["replicas"]["why"]
    assert 150 * 2**30 < out["events"]["total"] < 400 * 2**30  # ~100 GB per replica, as reported
    assert "events" in out["events"]["why"]


def test_estimate_matches_the_arrays_simulate_allocates():
    """The per-schedule and per-replica-output sizes are the sums of the real arrays' bytes."""
    from asyncconv.problems import make_problem
    from asyncconv.schedule import ScheduleModel, draw_schedule
    from asyncconv.sim import Iteration, simulate

    prob = make_problem("chained_lq", 12)
    for d in (_timing(3, 6), {"n_workers": 2, "blocks": {"n_blocks": 4}, "periodic": {"delay": 3}}):
        model = ScheduleModel.from_dict(d)
        it = Iteration()
        K, R = 500, 3
        est = estimate_for_model(prob.n, model, it, K, R, probes=7, probe_x=True, n_tail=5, n_ckpt=9)
        s = draw_schedule(model, K, 0)
        arrays = sum(a.nbytes for a in s.arrays().values()) + s.owners.nbytes
        fixed = limits._SCHED_FIXED + (8 * model.n_workers if model.kind == "timing" else 0)
        assert est["schedule_bytes"] == arrays + fixed
        res = simulate(prob, model, it, n_events=K, n_replicas=R, probes=7, probe_x=True, n_tail=5, n_ckpt=9)
        outs = (res.metrics, res.x_final, res.block_counts, res.probes, res.probe_x, res.tail, res.clock)
        assert est["replica_output_bytes"] * R == sum(a.nbytes for a in outs) + 16 * R  # + status, done


def test_estimate_for_model_reads_the_model():
    from asyncconv.schedule import ScheduleModel
    from asyncconv.sim import Iteration

    base = estimate_for_model(1000, ScheduleModel.from_dict(_timing(16)), Iteration(), 100_000, 8, threads=2)
    assert base["in_flight"] == 8 and base["threads"] == 2 and base["largest"] == "events"
    # per-worker buffers: 16 x n momentum buffers per thread
    worker = estimate_for_model(
        1000, ScheduleModel.from_dict(_timing(16)), Iteration(buffers="worker"), 100_000, 8, threads=2
    )
    assert worker["total"] > base["total"]
    # torn reads add cut positions to every schedule
    torn = dict(_timing(16), reads="inconsistent")
    torn["timing"] = {**torn["timing"], "read": 0.5}
    assert (
        estimate_for_model(1000, ScheduleModel.from_dict(torn), Iteration(), 100_000, 8)["schedule_bytes"]
        > (base["schedule_bytes"])
    )
    # a periodic delay far beyond the horizon: the validation ring of P x ceil((delay + 1) / P) jobs
    periodic = {"n_workers": 2, "blocks": {"n_blocks": 2}, "periodic": {"delay": 10**11}}
    est = estimate_for_model(2, ScheduleModel.from_dict(periodic), Iteration(), 1000, 1)
    assert est["total"] > 8 * 10**11 and est["largest"] == "delay"
    assert "validation ring" in est["why"]
    assert est["max_delay"] == 999
    # an abstract delay law with a huge bound: its inverse-CDF table is built for every draw
    abstract = {
        "n_workers": 2,
        "blocks": {"n_blocks": 2},
        "abstract": {"delay": {"law": "uniform", "low": 0, "high": 10**10}},
    }
    t0 = time.perf_counter()
    est = estimate_for_model(2, ScheduleModel.from_dict(abstract), Iteration(), 1000, 1)
    assert time.perf_counter() - t0 < 0.5
    assert est["largest"] == "delay" and est["total"] > 10**11


def test_estimate_for_a_trace_counts_the_whole_recorded_file(tmp_path):
    from asyncconv.schedule import ScheduleModel, draw_schedule
    from asyncconv.sim import Iteration

    path = draw_schedule(ScheduleModel.from_dict(_timing(2)), 5000, 0).save(tmp_path / "t.npz")
    model = ScheduleModel.from_dict({"n_workers": 2, "blocks": {"n_blocks": 2}, "trace": {"path": str(path)}})
    est = estimate_for_model(2, model, Iteration(), 1000, 1)
    assert est["schedule_bytes"] >= 48 * 5000 > 48 * 1000


# --- the check ------------------------------------------------------------------------------------


def test_check_fits_names_the_driver_as_the_user_wrote_it():
    est = estimate_simulation_bytes(2, 2, 2, 1000, 10**9, in_flight=20_000, threads=2, **KW)
    with pytest.raises(ConfigError) as e:
        check_fits(est, fields=CLI)
    msg = str(e.value)
    assert e.value.field == "--replicas" and msg.startswith("--replicas: the run needs about ")
    assert "\n" not in msg
    assert "TiB (replicas x (trajectory" in msg
    assert "this machine has" in msg and "available; lower it or use --max-memory" in msg
    # a study task: the batch drives it; a user limit is stated as such
    with pytest.raises(ConfigError) as e:
        check_fits(est, max_bytes=2**30, what="task", fields=STUDY, override="--max-memory (per worker)")
    assert e.value.field == "study.batch"
    assert "the task needs about" in e.value.message and "the limit is 1.0 GiB" in e.value.message
    check_fits({**est, "total": 1000}, max_bytes=2000)
    check_fits({"total": 1, "largest": "events"})


def test_check_fits_without_a_mapping_uses_the_parameter_name():
    est = estimate_simulation_bytes(2, 2, 2, 2_000_000_000, 2, in_flight=1, threads=1, **KW)
    with pytest.raises(ConfigError) as e:
        check_fits(est, max_bytes=100 * 2**30, override=None)
    assert e.value.field == "events"
    assert e.value.message.endswith("; lower it")
    assert "(drawn schedules: events of the replica in flight)" in e.value.message


def test_available_bytes():
    avail = available_bytes()
    assert isinstance(avail, int) and avail > 0
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert avail <= total


def test_available_bytes_respects_ulimit_v():
    code = (
        "import resource; hard = resource.getrlimit(resource.RLIMIT_AS)[1]; "
        "resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, hard)); "
        "from asyncconv.limits import available_bytes; print(available_bytes())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert 0 <= int(out.stdout) < 2 * 2**30


def test_format_bytes():
    assert format_bytes(93.4 * 2**30) == "93 GiB"
    assert format_bytes(1.5 * 2**30) == "1.5 GiB"
    assert format_bytes(640 * 2**20) == "640 MiB"
    assert format_bytes(12 * 1024) == "12 KiB"
    assert format_bytes(100) == "100 bytes"
    assert format_bytes(3 * 2**40) == "3.0 TiB"


# --- the estimate against the measured peak -----------------------------------------------------

_CHILD = r"""
import gc, json, sys
cfg = json.loads(sys.argv[1])
from asyncconv.problems import make_problem
from asyncconv.schedule import ScheduleModel
from asyncconv.sim import Iteration, simulate
from asyncconv.limits import estimate_for_model, simulate_in_flight

def status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

prob = make_problem(cfg["problem"], cfg.get("n"))
model = ScheduleModel.from_dict(cfg["model"])
it = Iteration.from_dict(cfg.get("iteration", {}))
kw = dict(n_ckpt=60, probes=64, probe_x=cfg.get("probe_x", False), n_tail=cfg.get("n_tail", 0))
mbe = cfg.get("max_batch_events", 20_000_000)
# compile (or load) every kernel of this run on a short run first
simulate(prob, model, it, n_events=min(2000, cfg["events"]), n_replicas=2, seed=1, max_batch_events=mbe, **kw)
gc.collect()
base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # resets the peak (VmHWM) to the current resident set
simulate(prob, model, it, n_events=cfg["events"], n_replicas=cfg["replicas"], seed=0, max_batch_events=mbe, **kw)
peak = status("VmHWM") - base
F = simulate_in_flight(cfg["events"], cfg["replicas"], mbe)
est = estimate_for_model(prob.n, model, it, cfg["events"], cfg["replicas"], in_flight=F, threads=2, **kw)
print(json.dumps({"peak": peak, "est": est["total"], "phase": est["phase"], "largest": est["largest"]}))
"""

MEASURED = {
    # 4 replicas of 1e6 events in flight: the schedules
    "trap-timing": {
        "problem": "trap",
        "events": 1_000_000,
        "replicas": 4,
        "model": _timing(2),
    },
    # torn reads (read time 0.5, shared ownership): cut positions
    "lq-torn": {
        "problem": "chained_lq",
        "n": 1000,
        "events": 200_000,
        "replicas": 2,
        "model": {
            "n_workers": 8,
            "reads": "inconsistent",
            "blocks": {"n_blocks": 8, "ownership": "shared"},
            "timing": {"compute": {"law": "exponential", "mean": 1.0}, "read": 0.5},
        },
    },
    # periodic: the drawing's index temporaries
    "trap-periodic": {
        "problem": "trap",
        "events": 1_000_000,
        "replicas": 2,
        "model": {"n_workers": 2, "blocks": {"n_blocks": 2}, "periodic": {"delay": 1}},
    },
    # abstract delays, 16 per-worker momentum buffers
    "lq-abstract-worker": {
        "problem": "chained_lq",
        "n": 1000,
        "events": 100_000,
        "replicas": 8,
        "iteration": {"buffers": "worker"},
        "model": {
            "n_workers": 16,
            "blocks": {"n_blocks": 16},
            "abstract": {"delay": {"law": "geometric", "mean": 10}},
        },
    },
    # three batches of 2: tails and probe iterates kept and concatenated
    "lq-batches-tail": {
        "problem": "chained_lq",
        "n": 1000,
        "events": 200_000,
        "replicas": 6,
        "max_batch_events": 400_000,
        "n_tail": 400,
        "probe_x": True,
        "model": _timing(4),
    },
    # 5e6 events: arrays above glibc's mmap threshold (returned to the system when freed)
    "trap-large": {
        "problem": "trap",
        "events": 5_000_000,
        "replicas": 2,
        "model": _timing(2),
    },
    # n = 1e5 in 2 blocks: the undo log of 50 000-wide writes and the n-vectors
    "lq-wide": {
        "problem": "chained_lq",
        "n": 100_000,
        "events": 10_000,
        "replicas": 2,
        "n_tail": 8,
        "model": _timing(2),
    },
}


@pytest.mark.slow
@pytest.mark.skipif(
    not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux /proc/self/clear_refs"
)
@pytest.mark.parametrize("name", list(MEASURED))
def test_estimate_is_within_a_factor_2_above_the_measured_peak(name):
    """Peak resident set of ``simulate`` above the process before it (fresh process, kernels
    compiled first, 2 Numba threads, 16 GiB address-space guard): the estimate is at least the
    peak (measured 1.07-1.7x) and at most twice it."""

    def guard():  # pragma: no cover - runs in the child
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = 16 * 2**30 if hard == resource.RLIM_INFINITY else min(16 * 2**30, hard)
        resource.setrlimit(
            resource.RLIMIT_AS, (cap if soft == resource.RLIM_INFINITY else min(soft, cap), hard)
        )

    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(MEASURED[name])],
        capture_output=True, text=True, timeout=600, env=env, preexec_fn=guard, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    ratio = r["est"] / r["peak"]
    assert 1.0 <= ratio <= 2.0, (name, ratio, r)
