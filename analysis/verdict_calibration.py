"""Verdict calibration: verdict fractions against the horizon, and flips between horizons.

Reads the studies of ``sims/calibration/`` (the quickstart's 12 configurations and 4 battery
problems, each at 1e5, 2e5, 4e5, 8e5 and 1.6e6 writes) and prints one Markdown table: per
configuration and horizon the counts converging / not converging (stalled + drifting) / undecided
/ diverged, and the number of replicas whose outcome changes between converging and not
converging from one horizon to the next (replica r has the same seeds at every horizon, so its
verdicts can be followed). The README's calibration table is this output.

Run::

    asyncconv study run sims/calibration/verdict_horizons_quickstart.toml -o results/calibration/verdict_horizons_quickstart
    asyncconv study run sims/calibration/verdict_horizons_battery.toml -o results/calibration/verdict_horizons_battery
    python analysis/verdict_calibration.py [--results results/calibration] [--out FILE]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ("verdict_horizons_quickstart", "verdict_horizons_battery")


def table(res) -> tuple[list[int], list[tuple[str, list[str], str]]]:
    """(horizons, rows): per configuration without its horizon, a cell "c/n/u/d" per horizon and the
    flips (converging <-> not converging) of its replicas between consecutive horizons."""
    from asyncconv.theory import outcome

    s = res.summary.copy()
    s["outcome"] = [outcome(v) for v in s["verdict"]]
    groups: dict[str, dict[int, int]] = {}
    for c in res.spec["configs"]:
        key = ", ".join(f"{k.split('.')[-1]}={v}" if "." in k else str(v) for k, v in c["labels"].items()
                        if k != "events")  # fmt: skip
        groups.setdefault(key, {})[int(c["events"])] = c["id"]
    horizons = sorted({h for g in groups.values() for h in g})
    rows = []
    for key, by_h in groups.items():
        cells, series = [], []
        for h in horizons:
            rows_h = s[s["config"] == by_h.get(h, -1)].set_index("replica")["outcome"]
            series.append(rows_h)
            n = {
                o: int((rows_h == o).sum()) for o in ("converging", "not converging", "undecided", "diverged")
            }
            cells.append("–" if not len(rows_h) else "/".join(str(v) for v in n.values()))
        flips = 0
        for a, b in itertools.pairwise(series):
            common = a.index.intersection(b.index)
            flips += int((((a[common] == "converging") & (b[common] == "not converging"))
                          | ((a[common] == "not converging") & (b[common] == "converging"))).sum())  # fmt: skip
        rows.append((key, cells, str(flips)))
    return horizons, rows


def markdown(results: Path) -> str:
    from asyncconv.study import open_results

    lines = []
    for name in STUDIES:
        d = results / name
        if not (d / "study.json").is_file():
            lines.append(f"({name}: not run; see the module docstring)\n")
            continue
        res = open_results(d)
        horizons, rows = table(res)
        head = ["configuration", *[f"{h:.2g}".replace("e+0", "e") for h in horizons], "flips"]
        lines += [
            f"**{name}** ({res.spec['replicas']} replicas; cells: converging / not converging / undecided / "
            "diverged; flips: replicas whose outcome changes between converging and not converging from "
            "one horizon to the next)",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---" for _ in head) + "|",
        ]
        lines += ["| " + " | ".join([k, *cells, f]) + " |" for k, cells, f in rows]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=ROOT / "results" / "calibration")
    ap.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = ap.parse_args(argv)
    text = markdown(args.results)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
