"""Training table: per method, processes, batch, final losses and accuracies, time and speed-ups.

Reads the training experiment (spec ``sims/paper/training.toml``, run by ``analysis/run_training.py``
into ``RESULTS/training``) and writes ``OUT/training_table.csv`` (one row per method, every statistic
of ``run_training.summarise``: medians over repeats, with means and standard deviations of the
final metrics) and ``OUT/training_table.md`` in the authors' format: method, processes, batch,
train loss, train accuracy, test loss, test accuracy (of the final snapshot, median over repeats),
training wall time (start-up and evaluation excluded), time to the target accuracy (sgd's final test
accuracy; median, a repeat that never reaches it counting as infinite), and the speed-ups over ddp
and over sgd: the ratios of the times to the target (as ``benchmarks/bench_torch.py``) and, after
the slash, of the whole training times.

Run::

    python analysis/training_table.py [--results results/paper/quick] [--out analysis/out/<scale>]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = (
    "method", "label", "processes", "batch", "epochs", "repeats", "writes",
    "train_loss", "train_acc", "test_loss", "test_acc", "time_s", "time_to_target_s", "reached_target",
    "speedup_over_ddp", "speedup_over_sgd", "speedup_time_over_ddp", "speedup_time_over_sgd",
    "train_loss_mean", "train_loss_std", "train_acc_mean", "train_acc_std", "test_loss_mean", "test_loss_std",
    "test_acc_mean", "test_acc_std", "ms_per_write", "setup_s", "max_delay", "target_test_acc",
)  # fmt: skip


def training_module():
    """``analysis/run_training.py``, imported by path."""
    name = "_asyncconv_run_training"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "analysis" / "run_training.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _f(x: Any, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def _ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}×"


def markdown(res, summary: dict[str, Any]) -> str:
    cfg = res.spec["training"]
    rows = summary["rows"]
    target = summary["target_test_acc"]
    n_rep = min(r["repeats"] for r in rows.values())
    lines = [
        f"# Training table ({res.spec['scale']} scale)\n",
        f"{cfg['model'].upper()} on {cfg['data']}, {cfg['epochs']} epochs, global batch {cfg['batch']}, lr "
        f"{cfg['lr']:g} ({cfg['lr_schedule']}), momentum {cfg['momentum']:g}, {cfg['threads']} intra-op "
        f"thread(s) per process; median over {n_rep} repeats. Results: `{res.dir}`.\n",
        "| method | processes | batch | train loss | train acc | test loss | test acc | time (s) "
        "| time to target (s) | speed-up over ddp | speed-up over sgd |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows.values():
        batch = (
            f"{r['batch']} ({r['processes']} × {r['batch'] // r['processes']})"
            if r["method"] == "ddp"
            else str(r["batch"])
        )
        hit = _f(r["time_to_target_s"], ".3f")
        if r["reached_target"] < r["repeats"]:
            hit += f" ({r['reached_target']}/{r['repeats']} reached)"
        lines.append(
            f"| {r['label']} | {r['processes']} | {batch} | {r['train_loss']:.4f} | {r['train_acc']:.4f} "
            f"| {r['test_loss']:.4f} | {r['test_acc']:.4f} | {r['time_s']:.3f} | {hit} "
            f"| {_ratio(r['speedup_over_ddp'])} / {_ratio(r['speedup_time_over_ddp'])} "
            f"| {_ratio(r['speedup_over_sgd'])} / {_ratio(r['speedup_time_over_sgd'])} |"
        )
    lines += [
        "",
        f"Target: sgd's final test accuracy, {_f(target, '.4f')} (median over repeats). Time: training "
        "wall time from the start barrier of the processes to the last write (start-up and the "
        "evaluations, done after training, excluded). Time to target: the first evaluated snapshot "
        "("
        + f"{cfg['evals_per_epoch']} per epoch"
        + ") reaching the target; median over repeats, a repeat that never "
        "reaches it counting as infinite. Speed-ups: ratio of the baseline's time to the method's, at "
        "the target / over the whole run. ddp splits each global batch over its ranks; every method "
        "makes the same number of writes of the same batch size.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    ap = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    ap.add_argument("--results", type=Path, default=ROOT / "results" / "paper" / "quick")
    ap.add_argument("--out", type=Path, default=None, help="default: analysis/out/<scale>")
    ns = ap.parse_args(argv)
    rt = training_module()
    res = rt.load_results(ns.results)
    summary = rt.summarise(res)
    out = ns.out if ns.out is not None else ROOT / "analysis" / "out" / ns.results.name
    out.mkdir(parents=True, exist_ok=True)
    recs = [{**r, "target_test_acc": summary["target_test_acc"]} for r in summary["rows"].values()]
    csv = out / "training_table.csv"
    pd.DataFrame(recs, columns=list(COLUMNS)).to_csv(csv, index=False)
    md = out / "training_table.md"
    md.write_text(markdown(res, summary), encoding="utf-8")
    print(csv)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
