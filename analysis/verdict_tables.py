"""Verdict tables: per configuration, the verdict fractions with intervals and time-to-ε.

For the studies of figures 2–5 (``fig2_battery``, ``fig3a_trap_phase``, ``fig3b_trap_jitter``,
``fig4_step_delay``, ``fig5_momentum``), reads the saved results and writes, per study,
``OUT/verdicts_<study>.csv`` (one row per configuration: the varying axes, replicas, and for each
verdict the count k, the fraction and its 95 % Clopper–Pearson interval; the final distance D to the
critical set (median); the Kaplan–Meier median time-to-ε with its interval) and one Markdown file
``OUT/verdict_tables.md`` with all tables (fractions as "k/n = p [lo, hi]"). All statistics come
from ``asyncconv.study.report``; nothing is recomputed here. Missing studies are skipped with a
note (an error when none is found).

Run::

    python analysis/verdict_tables.py [--results results/paper/quick] [--out analysis/out/<scale>]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ("fig2_battery", "fig3a_trap_phase", "fig3b_trap_jitter", "fig4_step_delay", "fig5_momentum")
VERDICTS = ("converged", "stalled", "drifting", "diverged", "undecided")


def rows(rep: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat record per configuration of a study report."""
    out = []
    for c in rep["configs"]:
        row: dict[str, Any] = {"study": rep["study"], "config": c["id"], "label": c["label"], **c["labels"]}
        row["problem_name"] = c["problem"]
        row["replicas"] = c.get("replicas", 0)
        fr = c.get("verdicts", {}).get("fractions", {})
        for v in VERDICTS:
            f = fr.get(v, {})
            row[f"{v}_k"] = f.get("k", 0 if fr else None)
            row[f"{v}_p"] = f.get("p")
            row[f"{v}_lo"] = f.get("lo")
            row[f"{v}_hi"] = f.get("hi")
        row["ci_method"] = next((f.get("method") for f in fr.values()), None)
        row["ci_level"] = next((f.get("level") for f in fr.values()), rep["level"])
        row["dist_final_median"] = c.get("final", {}).get("dist_rel_final", {}).get("q50")
        tte = c.get("time_to_eps", {})
        ci = tte.get("median_ci") or [None, None]
        row.update(
            tte_metric=tte.get("metric"), tte_eps=tte.get("eps"), tte_reached=tte.get("reached"),
            tte_median=tte.get("median"), tte_lo=ci[0], tte_hi=ci[1],
        )  # fmt: skip
        out.append(row)
    return out


def _fmt_frac(r: dict[str, Any], v: str) -> str:
    if r[f"{v}_p"] is None:
        return "–"
    return f"{r[f'{v}_k']}/{r['replicas']} = {r[f'{v}_p']:.2f} [{r[f'{v}_lo']:.2f}, {r[f'{v}_hi']:.2f}]"


def _fmt_num(x: Any) -> str:
    return "–" if x is None or x != x else f"{x:.3g}"


def markdown(rep: dict[str, Any], recs: list[dict[str, Any]]) -> str:
    """A Markdown table of one study."""
    axes = list(rep["configs"][0]["labels"]) if rep["configs"] else []
    shown = [v for v in VERDICTS if any((r[f"{v}_k"] or 0) > 0 for r in recs)] or ["converged"]
    level = recs[0]["ci_level"] if recs else rep["level"]
    method = (recs[0]["ci_method"] or "").replace("clopper-pearson", "Clopper–Pearson") if recs else ""
    eps = recs[0]["tte_eps"] if recs else None
    head = [*axes, "n", *shown, "final D (median)", f"time-to-ε (ε = {_fmt_num(eps)}): KM median [CI]"]
    lines = [
        f"## {rep['study']}",
        "",
        f"Verdict fractions k/n = p [{float(level):.0%} {method} interval]; time-to-ε on "
        f'{recs[0]["tte_metric"] if recs else "?"} in ODE time, Kaplan–Meier median ("not reached": fewer '
        "than half the replicas reached ε; the count reached is given).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    for r in recs:
        if r["tte_median"] is not None:
            tte = f"{_fmt_num(r['tte_median'])} [{_fmt_num(r['tte_lo'])}, {_fmt_num(r['tte_hi'])}]"
        else:
            tte = f"not reached ({r['tte_reached']}/{r['replicas']})"
        cells = [str(r.get(a, "")) for a in axes] + [str(r["replicas"])]
        cells += [_fmt_frac(r, v) for v in shown] + [_fmt_num(r["dist_final_median"]), tte]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    from asyncconv.study import open_results, report

    ap = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    ap.add_argument("--results", type=Path, default=ROOT / "results" / "paper" / "quick")
    ap.add_argument("--out", type=Path, default=None, help="default: analysis/out/<scale>")
    ns = ap.parse_args(argv)
    out = ns.out if ns.out is not None else ROOT / "analysis" / "out" / ns.results.name
    out.mkdir(parents=True, exist_ok=True)
    parts = [f"# Verdict tables ({ns.results.name} scale)\n", f"Results: `{ns.results}`.\n"]
    found = 0
    for name in STUDIES:
        d = ns.results / name
        if not (d / "summary.parquet").is_file():
            print(f"note: {d} holds no finished study; skipped", file=sys.stderr)
            parts.append(f"## {name}\n\n(no finished study in `{d}`)\n")
            continue
        rep = report(open_results(d))
        recs = rows(rep)
        path = out / f"verdicts_{name}.csv"
        pd.DataFrame(recs).to_csv(path, index=False)
        print(path)
        parts.append(markdown(rep, recs))
        found += 1
    if not found:
        print(
            f"error: no finished study of {', '.join(STUDIES)} under {ns.results}; run "
            f"'asyncconv study run sims/paper/NAME.toml --scale {ns.results.name} -o {ns.results}/NAME'",
            file=sys.stderr,
        )
        return 1
    md = out / "verdict_tables.md"
    md.write_text("\n".join(parts), encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
