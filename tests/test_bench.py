"""The replay benchmark (``asyncconv.sim.bench``): structure and agreement, not speed targets."""

from __future__ import annotations

import json
import math

import pytest


def _finite_positive(v) -> bool:
    return isinstance(v, float) and math.isfinite(v) and v > 0.0


@pytest.mark.bench
def test_run_bench_quick_structure_and_agreement():
    pytest.importorskip("torch")
    from asyncconv.sim.bench import format_report, run_bench

    lines: list[str] = []
    res = run_bench(quick=True, progress=lines.append)
    json.dumps(res)  # JSON-able
    assert lines and all(isinstance(s, str) for s in lines)
    assert res["quick"] is True
    m = res["machine"]
    for k in ("cpu_count", "numba_threads", "numba", "numpy", "torch", "python"):
        assert k in m
    assert isinstance(res["compile_s"], float)

    cases = res["cases"]
    assert [c["b"] for c in cases] == [8, 64]
    for c in cases:
        assert c["n"] == 10_000
        assert c["n_blocks"] == 10_000 // c["b"]
        for name in ("A", "B", "C", "D"):
            assert _finite_positive(c[f"{name}_s_per_write"])
            assert _finite_positive(c[f"{name}_s_per_coord"])
        for r in ("B_over_A", "C_over_A", "A_over_D"):
            assert _finite_positive(c[r])
        assert c["B_over_A"] == pytest.approx(c["B_s_per_write"] / c["A_s_per_write"])
        # A, B and C agree on the final iterate (run_bench raises otherwise)
        assert 0.0 <= c["agree_max_abs_diff"] <= c["agree_tolerance"] <= 1e-9
        assert c["replay_e2e_prefix_bitwise_equal_A"] is True
        keys = {p["key"] for p in c["profile"]}
        assert {"A", "D", "lean", "lean_dispatch", "A_ckpt2"} <= keys

    th = res["threads"]
    if "skipped" not in th:
        assert th["bit_identical_1_vs_2_threads"] is True
        assert _finite_positive(th["kernel_speedup"])
        assert set(th["kernel_replicas_per_s"]) == {"1", "2"}
    assert all(isinstance(v["met"], bool) for v in res["targets"].values())
    assert "B/A" in format_report(res)
