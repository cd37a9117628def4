"""The GPU check of the torch backend, in one call (``benchmarks/gpu_check.sh`` runs it after
``pytest -m gpu``). Everything it needs is generated; nothing is downloaded.

1. **Replay equivalence** — every problem with a torch twin, consistent and torn schedules, two
   iteration variants: the float64 replay on ``--device`` against the float64 replay on the CPU
   (relative error, target 1e-12) and against the Numba simulation (target 1e-10).
2. **Training** — ResNet-20 on CIFAR-shaped generated data (3×32×32, 10 classes; a fixed smooth
   template per class plus Gaussian noise, so the task is learnable) with sgd (1
   process), ddp (gloo: one GPU cannot host two NCCL ranks) and passm / passm+ (the authors'
   variant) / hogwild with each of ``--processes`` processes sharing one model on the device, for
   a fixed number of writes (``epochs × n_train / batch``, the host's epochs). Per run: samples per
   second (writes × batch / training wall time; ddp's batch is the global one), the wall time at
   which the training loss (on a fixed evaluation subset of the training set, evaluated off the
   clock at ``evals_per_epoch`` snapshots per epoch) first reaches ``--loss-target``, process
   start-up time, and the recorded schedule's statistics (delays, torn reads, per-writer shares).
   Speed-ups over sgd and ddp are ratios of times to the target within this one run.

Writes ``OUT/gpu_check.json`` and the schedules ``OUT/schedules/METHOD_P.npz``; prints a table last.

    python benchmarks/gpu_check.py --device cuda --out results/gpu_check          # the GPU run
    python benchmarks/gpu_check.py --device cpu --scale rehearsal --out /tmp/gc     # CPU stand-in
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

from asyncconv.problems import make_problem
from asyncconv.schedule import ScheduleModel, draw_schedule
from asyncconv.sim import Iteration
from asyncconv.sim import replay as nb_replay
from asyncconv.torch.data import Dataset
from asyncconv.torch.problems import torch_problem, torch_problems
from asyncconv.torch.replay import replay
from asyncconv.torch.train import TrainConfig, train

SCALES = {
    # n_train, n_test, batch, epochs, evals per epoch, processes, replay writes
    "full": {"n_train": 25_600, "n_test": 2_560, "batch": 128, "epochs": 3, "evals": 6, "processes": [2, 4],
             "replay_writes": 2_000},
    "rehearsal": {"n_train": 768, "n_test": 128, "batch": 32, "epochs": 2, "evals": 2, "processes": [2],
                  "replay_writes": 300},
}  # fmt: skip


def cifar_shaped(n_train: int, n_test: int, seed: int = 0, noise: float = 1.5) -> Dataset:
    """Generated CIFAR-shaped data: 10 classes, each a fixed random smooth template (3, 32, 32)
    (Gaussian noise averaged over 4×4 windows, unit variance); an image is its class's template plus
    ``noise`` times fresh Gaussian noise, so the task is learnable but not at once."""
    g = torch.Generator().manual_seed(seed)
    n = n_train + n_test
    T = torch.nn.functional.avg_pool2d(torch.randn(10, 3, 35, 35, generator=g), 4, stride=1)
    T = T / T.std()
    y = torch.randint(0, 10, (n,), generator=g)
    X = T[y] + noise * torch.randn(n, 3, 32, 32, generator=g)
    X = (X - X.mean()) / X.std()
    return Dataset("generated-cifar", X[:n_train], y[:n_train], X[n_train:], y[n_train:], 10)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(1.0, np.abs(b).max()))


def replay_check(device: str, writes: int) -> list[dict[str, Any]]:
    """Float64 torch replay on ``device`` against the CPU torch replay and the Numba simulation."""
    rows = []
    models = {
        "consistent": ScheduleModel.timing_preset(n_workers=3, n_blocks=6, ownership="partitioned"),
        "torn": ScheduleModel.timing_preset(n_workers=3, n_blocks=6, ownership="shared", reads="inconsistent",
                                            read_time=0.5, write="owned"),
    }  # fmt: skip
    iterations = {
        "heavy+gauss": Iteration(noise="gaussian", batch=4),
        "nesterov+student": Iteration(momentum="nesterov", m=0.9, buffers="worker", noise="student", batch=3),
    }
    for name in torch_problems():
        p = make_problem(name, 24, seed=1)
        for sk, model in models.items():
            s = draw_schedule(model, writes, seed=2)
            for ik, it in iterations.items():
                ref = nb_replay(p, s, it, seed=5).x_final[0]
                out = {}
                for dev in ("cpu", device):
                    tp = torch_problem(p, s.n_blocks, dtype=torch.float64, device=dev)
                    t0 = time.perf_counter()
                    x = replay(tp.params, tp.layout, tp.loss, s, it, seed=5, n_samples=tp.n_samples).flat()
                    if dev == "cuda":
                        torch.cuda.synchronize()
                    out[dev] = (x.cpu().numpy(), time.perf_counter() - t0)
                rows.append(
                    {
                        "problem": name, "schedule": sk, "iteration": ik, "writes": writes,
                        "rel_err_vs_cpu": _rel(out[device][0], out["cpu"][0]),
                        "rel_err_vs_numba": _rel(out[device][0], ref),
                        "seconds_cpu": out["cpu"][1], f"seconds_{device}": out[device][1],
                    }
                )  # fmt: skip
    return rows


#: training-loss targets (ln 10 = 2.30 at the start): each run's time to each is recorded; the
#: speed-ups use --loss-target when every run reaches it, else the lowest target every run reached
LADDER = (2.0, 1.5, 1.0, 0.7, 0.5, 0.3)


def _time_to(evals: list[dict[str, float]], target: float) -> float | None:
    for e in evals:
        if e["train_loss"] <= target:
            return float(e["time_s"])
    return None


def common_target(rows: list[dict[str, Any]], wanted: float) -> float | None:
    """``wanted`` if every run reached it, else the lowest ladder target every run reached."""
    ok = [r for r in rows if "error" not in r]
    reached = [
        t for t in sorted({*LADDER, wanted}) if ok and all(_time_to(r["evals"], t) is not None for r in ok)
    ]
    if wanted in reached:
        return wanted
    return reached[0] if reached else None


def train_runs(
    device: str, sc: dict[str, Any], data: Dataset, target: float, out: Path
) -> list[dict[str, Any]]:
    runs = [("sgd", 1), ("ddp", 2)] + [
        (m, p) for p in sc["processes"] for m in ("passm", "passm+", "hogwild")
    ]
    rows = []
    (out / "schedules").mkdir(parents=True, exist_ok=True)
    for method, P in runs:
        cfg = TrainConfig.from_dict(
            {"method": method, "workers": P, "model": "resnet20", "data": "synthetic", "epochs": sc["epochs"],
             "batch": sc["batch"], "lr": 0.02, "momentum": 0.9, "device": device, "seed": 0,
             "evals_per_epoch": sc["evals"]}
        )  # fmt: skip
        t0 = time.perf_counter()
        try:
            res = train(cfg, data=data)
        except Exception as err:  # one failing method must not lose the others' numbers
            rows.append({"method": method, "processes": P, "error": f"{type(err).__name__}: {err}",
                         "traceback": traceback.format_exc()})  # fmt: skip
            print(f"{method} P={P}: FAILED {type(err).__name__}: {err}", flush=True)
            continue
        row: dict[str, Any] = {
            "method": method, "processes": P, "writes": res.writes, "wall_s": res.wall_s, "setup_s": res.setup_s,
            "total_s": time.perf_counter() - t0,
            "samples_per_s": res.writes * cfg.batch / res.wall_s if res.wall_s > 0 else None,
            "time_to_loss_s": {str(t): _time_to(res.evals, t) for t in sorted({*LADDER, target})},
            "final_train_loss": res.evals[-1]["train_loss"], "final_test_acc": res.evals[-1]["test_acc"],
            "evals": res.evals,
        }  # fmt: skip
        if res.schedule is not None:
            path = out / "schedules" / f"{method.replace('+', 'plus')}_{P}.npz"
            res.schedule.save(path)
            st = res.schedule.stats()
            row["schedule"] = {
                "file": str(path.relative_to(out)), "n_events": st["n_events"],
                "delay_mean": st["delay"]["mean"], "delay_max": st["delay"]["max"],
                "delay_quantiles": st["delay"]["quantiles"], "torn_fraction": st["torn_fraction"],
                "writer_freq": st["writer_freq"],
            }  # fmt: skip
        rows.append(row)
        print(
            f"{method:8s} P={P}: {row['writes']} writes in {res.wall_s:.2f} s ({row['samples_per_s']:.0f} samples/s), "
            f"loss {row['final_train_loss']:.3f}, to loss {target}: {row['time_to_loss_s'][str(target)]}",
            flush=True,
        )
    used = common_target(rows, target)
    for r in rows:
        if "error" not in r:
            r["target"] = used
            r["time_to_target_s"] = None if used is None else _time_to(r["evals"], used)
    base = {m: next((r for r in rows if r["method"] == m and "error" not in r), None) for m in ("sgd", "ddp")}
    for r in rows:
        for m, b in base.items():
            key = f"speedup_over_{m}"
            if "error" in r or b is None or r["time_to_target_s"] is None or b["time_to_target_s"] is None:
                r[key] = None
            else:
                r[key] = b["time_to_target_s"] / r["time_to_target_s"]
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    target = next((r["target"] for r in rows if "error" not in r), None)
    head = f"to loss {target}" if target is not None else "to target"
    lines = [
        f"{'method':8s} {'P':>2s} {'samples/s':>10s} {head:>14s} {'x sgd':>6s} {'x ddp':>6s} "
        f"{'delay mean/max':>15s} {'torn':>5s}"
    ]
    f = lambda v, p=2: "-" if v is None else f"{v:.{p}f}"  # noqa: E731
    for r in rows:
        if "error" in r:
            lines.append(f"{r['method']:8s} {r['processes']:>2d} FAILED: {r['error'][:80]}")
            continue
        s = r.get("schedule") or {}
        dl = f"{s['delay_mean']:.2f}/{s['delay_max']}" if s else "-"
        lines.append(
            f"{r['method']:8s} {r['processes']:>2d} {f(r['samples_per_s'], 0):>10s} {f(r['time_to_target_s']):>14s} "
            f"{f(r['speedup_over_sgd']):>6s} {f(r['speedup_over_ddp']):>6s} {dl:>15s} {f(s.get('torn_fraction')):>5s}"
        )
    if target is None:
        lines.append("(no training-loss target of the ladder was reached by every run: no speed-ups)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--scale", default="full", choices=tuple(SCALES))
    ap.add_argument("--out", type=Path, default=Path("results/gpu_check"))
    ap.add_argument("--loss-target", type=float, default=1.0, help="training-loss target of the speed-ups")
    ap.add_argument("--skip-train", action="store_true")
    a = ap.parse_args(argv)
    if a.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda, but torch sees no CUDA device", file=sys.stderr)
        return 2
    sc = SCALES[a.scale]
    a.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if a.device == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__, "python": platform.python_version(), "scale": a.scale, "settings": sc,
        "loss_target": a.loss_target,
    }  # fmt: skip
    t0 = time.perf_counter()
    report["replay"] = replay_check(a.device, sc["replay_writes"])
    worst_cpu = max(r["rel_err_vs_cpu"] for r in report["replay"])
    worst_nb = max(r["rel_err_vs_numba"] for r in report["replay"])
    report["replay_ok"] = bool(worst_cpu <= 1e-12 and worst_nb <= 1e-10)
    print(f"replay: {len(report['replay'])} cases, max rel. error vs CPU {worst_cpu:.2e}, vs Numba {worst_nb:.2e}",
          flush=True)  # fmt: skip
    report["replay_s"] = time.perf_counter() - t0
    if not a.skip_train:
        data = cifar_shaped(sc["n_train"], sc["n_test"])
        report["training"] = train_runs(a.device, sc, data, a.loss_target, a.out)
    (a.out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str))
    if not a.skip_train:
        print(_table(report["training"]))
    ok = report["replay_ok"] and all("error" not in r for r in report.get("training", []))
    print(f"{'OK' if ok else 'FAILED'}: report in {a.out / 'gpu_check.json'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
