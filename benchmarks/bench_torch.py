"""Torch backend benchmark (not collected by pytest): asynchronous training against the baselines,
replay overhead, replay equivalence, and a per-write profile.

    .venv/bin/python benchmarks/bench_torch.py [--quick] [--seeds 5] [--json out.json]

1. **Speed and accuracy** (issue 6): the CNN on digits, 2 processes, one intra-op thread each,
   for sgd (1 process; also "sgd-2t": one process, 2 intra-op threads), passm, passm+, hogwild and
   ddp, same epochs, global batch and step schedule, ``--seeds`` runs each. Target = the final test accuracy of sgd (median over seeds).
   Reported per method: median final test accuracy, median training time, median time to the
   target (a snapshot is evaluated twice per epoch; "not reached" if no snapshot of a run reaches
   it, and then also the time to 99% of it), and speed-up ratios T_ddp / T_method and
   T_sgd / T_method at the target. From the recorded schedules: each process's median interval
   between writes, the share of its time lost in stalls (intervals > 3x the median: preemption by
   other load), and the stall-free throughput (sum over processes of 1 / median interval) with its
   ratios — what the methods would do on idle cores.
2. **Replay overhead**: ``replay_module`` driven by a one-worker, one-block consistent schedule
   (exactly the plain loop's updates and minibatches) against a plain torch loop with
   ``torch.optim.SGD`` on the same model and batch, best of 3, interleaved; target <= 1.3x in wall
   time (also given in process CPU time, which other load on the machine does not inflate). Also the
   replay of a 2-worker PASSM schedule with torn reads, for information. (The float32 parameters of
   the two differ by rounding amplified over the run; in float64 they agree to ~1e-9 after 1500
   writes, and tests/test_torch_replay.py checks 1e-10 after 100.)
3. **Equivalence**: largest relative difference of the float64 torch replay from the Numba replay
   over the torch-written problems, three schedule kinds (torn reads included) and six iteration
   variants.
4. **Profile** of one write on this model and batch (one thread): forward, full and partial
   backward (each PASSM group), the update, the bookkeeping of a recorded write, and the ideal
   2-process PASSM speed-up over sgd these imply on two idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
import torch.nn.functional as F

from asyncconv.torch.train import TrainConfig, train

#: (label, method, intra-op threads per process); "sgd-2t" is the single process using both cores
RUNS = (("sgd", "sgd", 1), ("sgd-2t", "sgd", 2), ("passm", "passm", 1), ("passm+", "passm+", 1),
        ("hogwild", "hogwild", 1), ("ddp", "ddp", 1))  # fmt: skip
METHODS = tuple(label for label, _, _ in RUNS)


def _say(msg: str) -> None:
    print(msg, flush=True)


def time_to(evals: list[dict], target: float) -> float | None:
    """Wall time of the first snapshot whose test accuracy reaches ``target`` (None: never)."""
    for e in evals:
        if e["test_acc"] >= target - 1e-12:
            return float(e["time_s"])
    return None


def _median(xs: list[float | None]) -> float | None:
    """Median counting a missing value as +inf (None if at least half are missing)."""
    vals = sorted(np.inf if x is None else x for x in xs)
    m = statistics.median(vals)
    return None if not np.isfinite(m) else float(m)


def _intervals(rs: list) -> dict:
    """Where the wall time goes, from the recorded schedules: per process, the median interval between
    its writes (the steady-state cost of a write) and the share of its time spent in intervals longer
    than 3x that median (stalls: preemption by other load, lock waits, page faults)."""
    med, stall, rate = [], [], []
    for r in rs:
        s = r.schedule
        run_rate = 0.0
        for c in range(s.n_workers):
            t = s.t_write[s.writer == c]
            if len(t) < 3:
                continue
            d = np.diff(t)
            m = float(np.median(d))
            med.append(m)
            run_rate += 1.0 / m
            stall.append(float(d[d > 3 * m].sum() / d.sum()))
        rate.append(run_rate)
    return {
        "median_write_interval_ms": 1e3 * float(np.median(med)),
        "stall_share": float(np.median(stall)),
        # writes per second if no process ever stalled: what two idle cores would give
        "steady_writes_per_s": float(np.median(rate)),
    }


def bench_methods(seeds: int, epochs: int, batch: int, lr: float) -> dict:
    runs: dict[str, list] = {m: [] for m in METHODS}
    for seed in range(seeds):
        for label, method, threads in RUNS:  # interleaved, so that load changes hit every method alike
            cfg = TrainConfig.from_dict({
                "method": method, "workers": 1 if method == "sgd" else 2, "model": "cnn", "data": "digits",
                "epochs": epochs, "batch": batch, "lr": lr, "momentum": 0.9, "lr_schedule": "cosine",
                "evals_per_epoch": 2, "seed": seed, "threads": threads,
            })  # fmt: skip
            r = train(cfg)
            runs[label].append(r)
            _say(f"  seed {seed} {label:8s} {r.wall_s:6.2f} s  final test acc {r.evals[-1]['test_acc']:.4f}  "
                 f"max delay {int(r.schedule.delay().max())}  load {os.getloadavg()[0]:.1f}")  # fmt: skip
    target = float(statistics.median(r.evals[-1]["test_acc"] for r in runs["sgd"]))
    out: dict = {
        "target_test_acc": target,
        "epochs": epochs,
        "batch": batch,
        "lr": lr,
        "seeds": seeds,
        "methods": {},
    }
    for method, rs in runs.items():
        t_hit = [time_to(r.evals, target) for r in rs]
        t_99 = [time_to(r.evals, 0.99 * target) for r in rs]
        out["methods"][method] = {
            "final_test_acc": float(statistics.median(r.evals[-1]["test_acc"] for r in rs)),
            "final_test_loss": float(statistics.median(r.evals[-1]["test_loss"] for r in rs)),
            "final_train_loss": float(statistics.median(r.evals[-1]["train_loss"] for r in rs)),
            "train_s": float(statistics.median(r.wall_s for r in rs)),
            "ms_per_write": float(statistics.median(r.wall_s / r.writes * 1e3 for r in rs)),
            "time_to_target_s": _median(t_hit),
            "reached_target": sum(t is not None for t in t_hit),
            "time_to_99pct_target_s": _median(t_99),
            "max_delay": int(max(int(r.schedule.delay().max()) for r in rs)),
            **_intervals(rs),
        }
    for base in ("ddp", "sgd"):
        for m in METHODS:
            r, b = out["methods"][m], out["methods"][base]
            r[f"steady_throughput_over_{base}"] = r["steady_writes_per_s"] / b["steady_writes_per_s"]
        for key, tkey in (("speedup", "time_to_target_s"), ("speedup_99pct", "time_to_99pct_target_s"),
                          ("speedup_train_time", "train_s")):  # fmt: skip
            tb = out["methods"][base][tkey]
            for m in METHODS:
                tm = out["methods"][m][tkey]
                out["methods"][m][f"{key}_over_{base}"] = None if tb is None or tm is None else tb / tm
    return out


def bench_replay_overhead(n_writes: int, batch: int, lr: float, repeats: int = 3) -> dict:
    from asyncconv.rng import key_from_seed
    from asyncconv.schedule import ScheduleModel, draw_schedule, schedule_from_trace
    from asyncconv.sim import Iteration
    from asyncconv.torch.counter import batch_indices
    from asyncconv.torch.data import load_data
    from asyncconv.torch.models import build_model
    from asyncconv.torch.replay import replay_module

    data = load_data("digits", seed=0)
    X, y = data.X_train, data.y_train
    key = int(key_from_seed(0)[0])
    idx = torch.from_numpy(batch_indices(key, 0, n_writes, batch, len(y)))
    it = Iteration(
        momentum="heavy", m=0.9, g0=lr, clock="constant", factor_low=1.0, noise="none", batch=batch
    )
    sgd_sched = schedule_from_trace(np.zeros(n_writes, int), np.zeros(n_writes, int), np.arange(n_writes))
    passm_sched = draw_schedule(
        ScheduleModel.timing_preset(n_workers=2, n_blocks=2, reads="inconsistent", read_time=0.3, write="owned"),
        n_writes, seed=0,
    )  # fmt: skip

    def plain() -> tuple[float, float, torch.nn.Module]:
        net = build_model("cnn", data.input_shape, data.n_classes, seed=0)
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
        t, c = time.perf_counter(), time.process_time()
        for k in range(n_writes):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(X[idx[k]]), y[idx[k]]).backward()
            opt.step()
        return time.perf_counter() - t, time.process_time() - c, net

    def replayed(sched) -> tuple[float, float, torch.nn.Module]:
        net = build_model("cnn", data.input_shape, data.n_classes, seed=0)
        t, c = time.perf_counter(), time.process_time()
        replay_module(net, sched, X, y, it, seed=0)  # (setup and the final copy included)
        return time.perf_counter() - t, time.process_time() - c, net

    best = {"plain": np.inf, "replay": np.inf, "replay_passm": np.inf}
    cpu = dict(best)
    nets = {}
    for _ in range(repeats):
        for name, fn in (("plain", plain), ("replay", lambda: replayed(sgd_sched)),
                         ("replay_passm", lambda: replayed(passm_sched))):  # fmt: skip
            t, c, nets[name] = fn()
            best[name] = min(best[name], t)
            cpu[name] = min(cpu[name], c)
    diff = max(
        float((a - b).detach().abs().max())
        for a, b in zip(nets["plain"].parameters(), nets["replay"].parameters(), strict=True)
    )
    return {
        "writes": n_writes, "batch": batch,
        "plain_ms_per_write": best["plain"] / n_writes * 1e3, "replay_ms_per_write": best["replay"] / n_writes * 1e3,
        "replay_over_plain": best["replay"] / best["plain"],
        # CPU time of the (single-threaded) process: the same ratio, immune to preemption by other load
        "replay_over_plain_cpu": cpu["replay"] / cpu["plain"],
        "replay_passm_torn_over_plain": best["replay_passm"] / best["plain"],
        "replay_vs_plain_max_param_diff_float32": diff,
        "target": 1.3, "met": best["replay"] / best["plain"] <= 1.3,
    }  # fmt: skip


def bench_equivalence() -> dict:
    from asyncconv.problems import make_problem
    from asyncconv.schedule import ScheduleModel, draw_schedule
    from asyncconv.sim import Iteration
    from asyncconv.sim import replay as nb_replay
    from asyncconv.torch.problems import torch_problem, torch_problems
    from asyncconv.torch.replay import replay

    its = [
        Iteration(noise="gaussian", batch=4),
        Iteration(momentum="nesterov", m=0.9, buffers="worker", clock="global", noise="student", batch=3),
        Iteration(momentum="ema", m=0.7, clock="block", noise="none"),
        Iteration(momentum="averaging", m=0.5, clock="constant", g0=0.01, noise="none"),
        Iteration(momentum="heavy", m=0.9, g0=0.01, buffers="shared", noise_scale=0.3, factor_low=0.5),
        Iteration(momentum="none"),
    ]
    worst, cases = 0.0, 0
    for name in torch_problems():
        p = make_problem(name, n=24 if name.startswith("chained") else 12, seed=1)
        for own, reads, write in (("partitioned", "inconsistent", "block"), ("shared", "inconsistent", "owned"),
                                  ("partitioned", "consistent", "owned")):  # fmt: skip
            s = draw_schedule(ScheduleModel.timing_preset(n_workers=3, n_blocks=6, ownership=own, reads=reads,
                              read_time=0.5 if reads == "inconsistent" else 0.0, write=write), 1000, seed=2)  # fmt: skip
            tp = torch_problem(p, 6)
            for it in its:
                ref = nb_replay(p, s, it, seed=5).x_final[0]
                x = (
                    replay(tp.params, tp.layout, tp.loss, s, it, seed=5, n_samples=tp.n_samples)
                    .flat()
                    .numpy()
                )
                worst = max(worst, float(np.abs(x - ref).max() / max(1.0, np.abs(ref).max())))
                cases += 1
    return {"cases": cases, "writes_per_case": 1000, "max_rel_error": worst}


def profile_write(batch: int, reps: int = 300) -> dict:
    """Per-write components of the asynchronous worker on the CNN (one thread), best of 3."""
    from asyncconv.torch.blocks import make_layout
    from asyncconv.torch.data import load_data
    from asyncconv.torch.models import build_model
    from asyncconv.torch.trace import TraceBuffer

    data = load_data("digits", seed=0)
    net = build_model("cnn", data.input_shape, data.n_classes)
    params = list(net.parameters())
    layout = make_layout([(n, p.numel()) for n, p in net.named_parameters()], "balanced", 2)
    groups = [list(layout.tensors(j)) for j in range(2)]
    xb, yb = data.X_train[:batch], data.y_train[:batch]
    bufs = [torch.zeros_like(p) for p in params]
    counter = torch.zeros(1, dtype=torch.int64).share_memory_()

    def best(fn) -> float:
        out = np.inf
        for _ in range(3):
            t = time.perf_counter()
            for _ in range(reps):
                fn()
            out = min(out, (time.perf_counter() - t) / reps)
        return out * 1e3

    def fwd():
        with torch.no_grad():
            net(xb)

    def fwd_bwd(ts):
        def f():
            for t, p in enumerate(params):
                p.requires_grad_(t in ts)
            loss = F.cross_entropy(net(xb), yb)
            torch.autograd.grad(loss, [params[t] for t in ts])

        return f

    def update(ts):
        def f():
            with torch.no_grad():
                for t in ts:
                    bufs[t].mul_(0.9).add_(params[t], alpha=1e-9)
                    params[t].add_(bufs[t], alpha=-1e-9)

        return f

    trace = TraceBuffer(reps * 3 + 10, 2)
    versions = np.zeros(2, dtype=np.int64)

    def bookkeeping():
        lo = int(counter[0])
        versions[:] = lo
        hi = int(counter[0])
        k = int(counter[0])
        counter[0] = k + 1
        if trace.n >= trace.capacity:
            trace.n = 0
        trace.add(k, 0, 0, lo, hi, versions, 0.0, 0.0)

    every = list(range(len(params)))
    out = {
        "forward_ms": best(fwd),
        "forward_backward_full_ms": best(fwd_bwd(every)),
        "forward_backward_group0_ms": best(fwd_bwd(groups[0])),
        "forward_backward_group1_ms": best(fwd_bwd(groups[1])),
        "update_full_ms": best(update(every)),
        "update_group0_ms": best(update(groups[0])),
        "update_group1_ms": best(update(groups[1])),
        "bookkeeping_ms": best(bookkeeping),
        "groups": [[layout.names[t] for t in g] for g in groups],
        "group_numels": layout.block_numels().tolist(),
    }
    for p in params:
        p.requires_grad_(True)
    sgd = out["forward_backward_full_ms"] + out["update_full_ms"]
    w = [
        out[f"forward_backward_group{c}_ms"] + out[f"update_group{c}_ms"] + out["bookkeeping_ms"]
        for c in range(2)
    ]
    out["sgd_write_ms"] = sgd
    out["passm_write_ms_per_process"] = w
    # two processes on two idle cores: writes per ms = sum over processes of 1 / (their write time)
    out["ideal_passm_speedup_over_sgd"] = sgd * sum(1.0 / x for x in w)
    out["ideal_hogwild_speedup_over_sgd"] = 2.0 * sgd / (sgd + out["bookkeeping_ms"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one seed, fewer epochs and writes")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--skip", nargs="*", default=[], choices=["methods", "replay", "equivalence", "profile"])
    a = ap.parse_args()
    torch.set_num_threads(1)
    seeds, epochs, writes = (1, 6, 300) if a.quick else (a.seeds, a.epochs, 1500)
    res: dict = {
        "machine": {"cpus": os.cpu_count(), "torch": torch.__version__, "load_at_start": os.getloadavg()}
    }
    if "profile" not in a.skip:
        _say("profile of one write (CNN, digits, one thread)")
        res["profile"] = pr = profile_write(a.batch)
        _say(f"  forward {pr['forward_ms']:.3f} ms; forward+backward: full {pr['forward_backward_full_ms']:.3f}, "
             f"group 0 {pr['forward_backward_group0_ms']:.3f}, group 1 {pr['forward_backward_group1_ms']:.3f} ms; "
             f"update full {pr['update_full_ms']:.3f} ms; bookkeeping {pr['bookkeeping_ms']:.3f} ms")  # fmt: skip
        _say(f"  groups {pr['groups']} (numels {pr['group_numels']})")
        _say(f"  ideal speed-up over sgd on 2 idle cores: passm {pr['ideal_passm_speedup_over_sgd']:.2f}x, "
             f"hogwild {pr['ideal_hogwild_speedup_over_sgd']:.2f}x")  # fmt: skip
    if "equivalence" not in a.skip:
        _say("replay equivalence (float64 torch vs Numba)")
        res["equivalence"] = eq = bench_equivalence()
        _say(
            f"  {eq['cases']} cases x {eq['writes_per_case']} writes: max relative error {eq['max_rel_error']:.2e}"
        )
    if "replay" not in a.skip:
        _say("replay overhead (CNN, digits)")
        res["replay"] = rp = bench_replay_overhead(writes, a.batch, a.lr)
        _say(f"  plain loop {rp['plain_ms_per_write']:.3f} ms/write, replay {rp['replay_ms_per_write']:.3f} ms/write: "
             f"ratio {rp['replay_over_plain']:.3f} (target <= 1.3: {'met' if rp['met'] else 'NOT met'}; "
             f"CPU-time ratio {rp['replay_over_plain_cpu']:.3f}); "
             f"PASSM torn schedule {rp['replay_passm_torn_over_plain']:.3f}; "
             f"max |param diff| vs plain {rp['replay_vs_plain_max_param_diff_float32']:.1e}")  # fmt: skip
    if "methods" not in a.skip:
        _say(f"methods: CNN on digits, 2 processes, {epochs} epochs, batch {a.batch}, {seeds} seed(s)")
        res["methods"] = mt = bench_methods(seeds, epochs, a.batch, a.lr)
        _say(f"target: sgd's final test accuracy {mt['target_test_acc']:.4f} (median over seeds)")
        fmt = lambda v, d=2: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
        _say(f"{'method':9s} {'final acc':>9s} {'train s':>8s} {'ms/write':>8s} {'t->target':>9s} {'reached':>7s} "
             f"{'x ddp':>6s} {'x sgd':>6s} {'t->99%':>7s} {'x ddp':>6s} {'x sgd':>6s} {'interval':>8s} {'stalls':>6s}")  # fmt: skip
        for m, r in mt["methods"].items():
            _say(f"{m:9s} {r['final_test_acc']:9.4f} {r['train_s']:8.2f} {r['ms_per_write']:8.3f} "
                 f"{fmt(r['time_to_target_s']):>9s} {r['reached_target']:>4d}/{seeds:<2d} "
                 f"{fmt(r['speedup_over_ddp']):>6s} {fmt(r['speedup_over_sgd']):>6s} "
                 f"{fmt(r['time_to_99pct_target_s']):>7s} {fmt(r['speedup_99pct_over_ddp']):>6s} "
                 f"{fmt(r['speedup_99pct_over_sgd']):>6s} {r['median_write_interval_ms']:8.3f} "
                 f"{r['stall_share']:6.1%}")  # fmt: skip
        _say("steady-state throughput (writes/s without stalls, sum over processes) and ratios:")
        for m, r in mt["methods"].items():
            _say(f"  {m:9s} {r['steady_writes_per_s']:8.0f} /s  x ddp {r['steady_throughput_over_ddp']:.2f}  "
                 f"x sgd {r['steady_throughput_over_sgd']:.2f}")  # fmt: skip
    res["machine"]["load_at_end"] = os.getloadavg()
    if a.json is not None:
        a.json.write_text(json.dumps(res, indent=1, default=float))


if __name__ == "__main__":
    main()
