"""Speed of the replay kernel (``make bench``-style measurement; not part of the default test run).

One schedule per case is replayed by four implementations of the same iteration (heavy ball,
writer clock, ``factor_low = 0.9``, no gradient noise so that results are deterministic):

A  the jitted kernel (``_kernels.replay_one`` on a thread pool, the call :func:`~asyncconv.sim.replay`
   makes, with the inputs packed exactly as ``simulate._run`` packs them);
B  a NumPy per-event loop: a Python loop over writes, NumPy vector ops on the block per write
   (x̂ rebuilt from an undo log as in the kernel, chained LQ block subgradient, heavy ball, write);
C  the same per-event loop in torch (CPU, float64 tensors);
D  a "floor" kernel: a separate jitted copy of the replay loop with the same memory traffic (x̂
   rebuild from the undo log, momentum buffer, x and undo-log writes, step size) but a free
   subgradient g_j = x̂_{lo+j}: the cost of the replay machinery alone.

The final iterates of A, B and C must agree before any ratio is reported. Problem: chained LQ,
n = 10 000, 4 workers (exponential compute, partitioned ownership, consistent reads), B = n // b
blocks. A and D run long schedules (best of 3); B and C run a prefix of the same schedule (one
run: they are slow), and their ratios to A use A's per-write time from the long run.

An ablation ladder built on D (adding the real subgradient by a direct call, the divergence and
block-count loops, the kernel's loop shapes, the generic ``grad_range`` dispatch) and A at 2 and
600 checkpoints locate where A's time goes; two options (a step table, a subgradient computing each
term once) are timed beside them. Replica throughput is ``simulate`` (and its kernel call alone)
at 1 vs 2 Numba threads, with the results checked bit for bit and the CPU time other processes
took during the runs recorded (the machine is shared).

Usage::

    python -m asyncconv.sim.bench [--quick] [--json out.json]
"""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numba as nb
import numpy as np

from asyncconv._jit import jit
from asyncconv.problems import chained_lq, make_problem
from asyncconv.rng import key_from_seed, py_stream_seed, py_uniform
from asyncconv.schedule import ScheduleModel, draw_schedule
from asyncconv.sim import _kernels
from asyncconv.sim.simulate import (
    DEFAULT_PROBES,
    _layout,
    _max_width,
    _pack,
    _replay_packed,
    _run,
    replay,
    simulate,
)
from asyncconv.sim.variants import Iteration

__all__ = ["format_report", "run_bench"]

N = 10_000
N_WORKERS = 4
SEED = 1
N_CKPT = 60  # the default of replay() and simulate()
REPEATS = 3
AGREE_RTOL = 1e-10

# targets of the issue
TARGET_B_OVER_A_B8 = 300.0
TARGET_A_OVER_D = 3.0
TARGET_THREAD_SPEEDUP = 1.7


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {
            "block_sizes": (8, 64),
            "k_fast": 200_000,
            "k_slow": 5_000,
            "replicas": 8,
            "k_replica": 20_000,
            "cold_compile": False,
        }
    return {
        "block_sizes": (8, 64, 512),
        "k_fast": 1_000_000,
        "k_slow": 20_000,
        "replicas": 16,
        "k_replica": 100_000,
        "cold_compile": True,
    }


def _iteration() -> Iteration:
    return Iteration(momentum="heavy", clock="writer", factor_low=0.9, noise="none")


def _model(b: int) -> ScheduleModel:
    return ScheduleModel.timing_preset(
        n_workers=N_WORKERS, compute="exponential", n_blocks=N // b, ownership="partitioned"
    )


def _best_of(fn: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, Any]:
    best, out = math.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


# --- A: the kernel, with the inputs simulate._run builds ------------------------------------------


def _run_kernel(packed: tuple) -> np.ndarray:
    """Call the kernel on inputs packed by ``_pack`` (replicas on the thread pool); return the final
    iterate (of replica 0 when there is one replica, else all)."""
    out = _replay_packed(packed)
    if (out[-2] != _kernels.STATUS_FINISHED).any():
        raise RuntimeError("the replay kernel reported a divergence in the benchmark case")
    x = out[1]
    return x[0].copy() if x.shape[0] == 1 else x.copy()


#: chained LQ's subgradient jitted for a direct (inlinable) call, as the first phase's kernel made it
_chained_lq_grad = jit(chained_lq.grad)


@jit(parallel=True)
def _ceiling_loop(R, m):
    """R independent compute-bound loops in ``prange``: the machine's own parallel speed-up."""
    out = np.empty(R)
    for r in nb.prange(R):
        s = 0.0
        x = 1.0 + r
        for _ in range(m):
            x = x * 1.0000001 + 1e-9
            s += x
        out[r] = s
    return out


# --- shared by B and C ----------------------------------------------------------------------------


def _plan(problem, schedule, it: Iteration, key) -> dict[str, Any]:
    """Python-level bookkeeping of a per-event loop (plain ints and lists)."""
    if problem.name != "chained_lq":
        raise ValueError("the per-event loops implement chained_lq only")
    if len(schedule.cut) or not np.array_equal(schedule.read_lo, schedule.read_hi):
        raise ValueError("the per-event loops need consistent reads (the schedule has torn reads)")
    if it.momentum != "heavy" or it.clock != "writer" or it.noise != "none" or it.buffers == "worker":
        raise ValueError("the per-event loops implement heavy ball, writer clock, no noise, block buffers")
    off = _layout(problem, schedule.n_blocks, schedule.owners)[0]
    owned = [np.flatnonzero(row) for row in schedule.owners]
    lo_hi = [(int(off[b]), int(off[b + 1])) for b in range(schedule.n_blocks)]
    own = [(int(off[o[0]]), int(off[o[-1] + 1])) for o in owned]
    s_factor = py_stream_seed(int(key), _kernels._S_FACTOR)
    P = schedule.n_workers
    factor = [
        it.factor_low + (1.0 - it.factor_low) * py_uniform(s_factor, c) if it.factor_low < 1.0 else 1.0
        for c in range(P)
    ]
    widths = [h - lo for lo, h in lo_hi] + ([h - lo for lo, h in own] if (schedule.block < 0).any() else [])
    return {
        "n": problem.n,
        "x0": np.array(problem.x0, dtype=np.float64),
        "writer": schedule.writer.tolist(),
        "block": schedule.block.tolist(),
        "read_lo": schedule.read_lo.tolist(),
        "lo_hi": lo_hi,
        "own": own,
        "factor": factor,
        "n_workers": P,
        "hist_len": int(schedule.delay().max()) + 1,
        "width": max(widths),
    }


# --- B: NumPy per-event loop ----------------------------------------------------------------------


def _numpy_replay(plan: dict[str, Any], it: Iteration) -> np.ndarray:
    n, L, W = plan["n"], plan["hist_len"], plan["width"]
    writer, block, read_lo = plan["writer"], plan["block"], plan["read_lo"]
    lo_hi, own, factor = plan["lo_hi"], plan["own"], plan["factor"]
    m, g0, p, nu0 = it.m, it.g0, it.p, it.nu0
    x = plan["x0"].copy()
    u = np.zeros(n)
    log_lo = [0] * L
    log_hi = [0] * L
    log_val = np.empty((L, W))
    wcount = [0] * plan["n_workers"]
    for k in range(len(writer)):
        c = writer[k]
        b = block[k]
        lo, hi = lo_hi[b] if b >= 0 else own[c]
        w_ = hi - lo
        # x̂ on [lo - 1, hi + 1) (halo 1), stored at offset lo - 1; absent neighbours stay 0
        a = lo - 1 if lo > 0 else 0
        e = hi + 1 if hi < n else n
        xh = np.zeros(w_ + 2)
        xh[a - lo + 1 : e - lo + 1] = x[a:e]
        for w in range(k - 1, read_lo[k] - 1, -1):  # undo writes made after the read, newest first
            s = w % L
            wl = max(log_lo[s], a)
            wh = min(log_hi[s], e)
            if wl < wh:
                xh[wl - lo + 1 : wh - lo + 1] = log_val[s, wl - log_lo[s] : wh - log_lo[s]]
        # chained LQ: term i adds (-1, -1) + (2 x_i, 2 x_{i+1}) iff q_i > 0 (ties: linear piece)
        sq = xh * xh
        q = sq[:-1] + sq[1:] - 1.0  # terms lo-1 .. hi-1
        xc = xh[1:-1]
        gx = 2.0 * xc - 1.0
        left = np.where(q[:-1] > 0.0, gx, -1.0)  # term j-1, second argument
        right = np.where(q[1:] > 0.0, gx, -1.0)  # term j, first argument
        if lo == 0:
            left[0] = 0.0
        if hi == n:
            right[-1] = 0.0
        g = left + right
        gamma = factor[c] * (g0 / (float(wcount[c]) + nu0) ** p)
        wcount[c] += 1
        s = k % L
        log_lo[s] = lo
        log_hi[s] = hi
        xs = x[lo:hi]
        log_val[s, :w_] = xs
        us = u[lo:hi]
        us *= m
        us += g
        xs -= gamma * us
    return x


# --- C: torch per-event loop ----------------------------------------------------------------------


def _torch_replay(plan: dict[str, Any], it: Iteration) -> np.ndarray:
    import torch

    f64 = torch.float64
    n, L, W = plan["n"], plan["hist_len"], plan["width"]
    writer, block, read_lo = plan["writer"], plan["block"], plan["read_lo"]
    lo_hi, own, factor = plan["lo_hi"], plan["own"], plan["factor"]
    m, g0, p, nu0 = it.m, it.g0, it.p, it.nu0
    with torch.no_grad():
        x = torch.tensor(plan["x0"], dtype=f64)
        u = torch.zeros(n, dtype=f64)
        log_lo = [0] * L
        log_hi = [0] * L
        log_val = torch.empty((L, W), dtype=f64)
        minus_one = torch.tensor(-1.0, dtype=f64)
        wcount = [0] * plan["n_workers"]
        for k in range(len(writer)):
            c = writer[k]
            b = block[k]
            lo, hi = lo_hi[b] if b >= 0 else own[c]
            w_ = hi - lo
            a = lo - 1 if lo > 0 else 0
            e = hi + 1 if hi < n else n
            xh = torch.zeros(w_ + 2, dtype=f64)
            xh[a - lo + 1 : e - lo + 1] = x[a:e]
            for w in range(k - 1, read_lo[k] - 1, -1):
                s = w % L
                wl = max(log_lo[s], a)
                wh = min(log_hi[s], e)
                if wl < wh:
                    xh[wl - lo + 1 : wh - lo + 1] = log_val[s, wl - log_lo[s] : wh - log_lo[s]]
            sq = xh * xh
            q = sq[:-1] + sq[1:] - 1.0
            gx = 2.0 * xh[1:-1] - 1.0
            left = torch.where(q[:-1] > 0.0, gx, minus_one)
            right = torch.where(q[1:] > 0.0, gx, minus_one)
            if lo == 0:
                left[0] = 0.0
            if hi == n:
                right[-1] = 0.0
            g = left + right
            gamma = factor[c] * (g0 / (float(wcount[c]) + nu0) ** p)
            wcount[c] += 1
            s = k % L
            log_lo[s] = lo
            log_hi[s] = hi
            xs = x[lo:hi]
            log_val[s, :w_] = xs
            us = u[lo:hi]
            us.mul_(m).add_(g)
            xs.sub_(us * gamma)
        return x.numpy().copy()


# --- D: the floor kernel, and the ablation ladder built on it -------------------------------------


@jit
def _lq_grad_sliding(x, lo, hi, out):
    """Chained LQ block subgradient with each term's q computed once (sliding), not twice.

    Same values as ``_chained_lq_grad`` (same floating-point operations per output coordinate).
    """
    n = x.shape[0]
    qprev = x[lo - 1] * x[lo - 1] + x[lo] * x[lo] - 1.0 if lo >= 1 else 0.0
    for j in range(lo, hi):
        xj = x[j]
        lin = -1.0 + 2.0 * xj
        gl = (lin if qprev > 0.0 else -1.0) if j >= 1 else 0.0
        if j <= n - 2:
            qn = xj * xj + x[j + 1] * x[j + 1] - 1.0
            out[j - lo] = gl + (lin if qn > 0.0 else -1.0)
            qprev = qn
        else:
            out[j - lo] = gl


@jit
def _floor_replay(
    x0, halo, block_off, coord_block, own_b0, own_b1, writer, block, read_lo, cut_ptr, hist_len,
    max_width, mcoef, g0, p, nu0, factor, fgrad, prm, data, rebuild, grad, steps, counts, generic, out_x,
):  # fmt: skip
    """The replay loop of ``_kernels`` (heavy ball, writer clock, block buffers, consistent reads, no
    noise, no checkpoints) with switches for the ablation ladder. The floor D is rebuild = 1,
    grad = 0, steps = 1, counts = generic = 0.

    rebuild: 1 = rebuild x̂ from the undo log (as the kernel), 0 = read the current x, 2 = lazy:
    rebuild only when a logged write since the read overlaps the halo range, else read x;
    grad: 0 = free subgradient g_j = x̂_{lo+j}; 1 = chained LQ by a direct call of
    ``_chained_lq_grad``; 2 = chained LQ with each term's q computed once (``_lq_grad_sliding``);
    3 = chained LQ through the first-class function ``fgrad`` (the problem's compiled grad), as the kernel calls it;
    steps: 0 = γ_k = f_c γ0/(ν + ν0)^p by ``**`` inside the write loop, no first pass; 1 = a first
    pass fills steps[K] (one ``**`` per write) and the write loop reads it (as ``_kernels.prepare``);
    2 = one table of γ0/(ν + ν0)^p for ν up to the largest writer count (K/P ``**``), looked up;
    counts: 1 = the kernel's per-write divergence test and block-count loop;
    generic: 1 = the kernel's loop shapes: torn-read tests per write and per rebuilt coordinate,
    the momentum buffer as a (1, n) array indexed by row, the checkpoint test per write.
    With rebuild >= 1, grad >= 1, counts = 1 the final iterate equals the kernel's bit for bit,
    whatever ``steps`` and ``generic``.
    """
    n = x0.shape[0]
    K = writer.shape[0]
    P = factor.shape[0]
    B = block_off.shape[0] - 1
    x = x0.copy()
    xhat = x0.copy()
    u = np.zeros(n)
    u2 = np.zeros((1, n))
    g = np.empty(max_width)
    idx = np.empty(0, dtype=np.int64)
    log_lo = np.zeros(hist_len, dtype=np.int64)
    log_hi = np.zeros(hist_len, dtype=np.int64)
    log_val = np.empty((hist_len, max_width))
    vblock = np.zeros(B, dtype=np.int64)
    wcount = np.zeros(P, dtype=np.int64)
    bcount = np.zeros(B, dtype=np.int64)
    table = np.empty(0)
    gam = np.empty(0)
    horizon = 0.0
    if steps == 1:
        gam = np.empty(K)
        for k in range(K):
            c = writer[k]
            bk = block[k]
            b0 = bk if bk >= 0 else own_b0[c]
            gam[k] = factor[c] * (g0 / (float(wcount[c]) + nu0) ** p)
            horizon += gam[k]
            wcount[c] += 1
            bcount[b0] += 1
        wcount[:] = 0
        bcount[:] = 0
    elif steps == 2:
        for k in range(K):
            wcount[writer[k]] += 1
        table = np.empty(wcount.max() + 1)
        for v in range(table.shape[0]):
            table[v] = g0 / (float(v) + nu0) ** p
        wcount[:] = 0
    t = 0.0
    tau = horizon + 1.0
    n_ckpt = generic  # runtime values, so that the tests below are not folded away
    next_ckpt = 1
    row = generic - 1
    bad = False
    for k in range(K):
        c = writer[k]
        bk = block[k]
        if bk >= 0:
            lo, hi = block_off[bk], block_off[bk + 1]
        else:
            lo, hi = block_off[own_b0[c]], block_off[own_b1[c]]
        width = hi - lo
        src = x
        if rebuild >= 1:
            if halo < 0:
                a, e = 0, n
            else:
                a, e = max(lo - halo, 0), min(hi + halo, n)
            need = True
            if rebuild == 2:  # lazy: rebuild only if a write since the read touched [a, e)
                need = False
                for w in range(k - 1, read_lo[k] - 1, -1):
                    slot = w % hist_len
                    if max(log_lo[slot], a) < min(log_hi[slot], e):
                        need = True
                        break
            if need:
                for i in range(a, e):
                    xhat[i] = x[i]
                if generic == 1:
                    torn = cut_ptr[k + 1] > cut_ptr[k]
                    for w in range(k - 1, read_lo[k] - 1, -1):
                        slot = w % hist_len
                        wl = max(log_lo[slot], a)
                        wh = min(log_hi[slot], e)
                        for i in range(wl, wh):
                            if (not torn) or vblock[coord_block[i]] <= w:
                                xhat[i] = log_val[slot, i - log_lo[slot]]
                else:
                    for w in range(k - 1, read_lo[k] - 1, -1):
                        slot = w % hist_len
                        wl = max(log_lo[slot], a)
                        wh = min(log_hi[slot], e)
                        for i in range(wl, wh):
                            xhat[i] = log_val[slot, i - log_lo[slot]]
                src = xhat
        if grad == 1:
            _chained_lq_grad(prm, data, src, lo, hi, idx, g)
        elif grad == 2:
            _lq_grad_sliding(src, lo, hi, g)
        elif grad == 3:
            fgrad(prm, data, src, lo, hi, idx, g)
        else:
            for j in range(width):
                g[j] = src[lo + j]
        if steps == 1:
            gamma = gam[k]
        elif steps == 2:
            gamma = factor[c] * table[wcount[c]]
        else:
            gamma = factor[c] * (g0 / (float(wcount[c]) + nu0) ** p)
        t += gamma
        wcount[c] += 1
        slot = k % hist_len
        log_lo[slot] = lo
        log_hi[slot] = hi
        for j in range(width):
            log_val[slot, j] = x[lo + j]
        if generic == 1:
            for j in range(width):
                i = lo + j
                u2[row, i] = mcoef * u2[row, i] + g[j]
                x[i] -= gamma * u2[row, i]
        else:
            for j in range(width):
                i = lo + j
                d = mcoef * u[i] + g[j]
                u[i] = d
                x[i] -= gamma * d
        if counts == 1:
            for j in range(width):
                if not (abs(x[lo + j]) < 1e12):
                    bad = True
            for bb in range(coord_block[lo], coord_block[hi - 1] + 1):
                bcount[bb] += 1
        if generic == 1:
            while next_ckpt < n_ckpt and t >= tau:
                next_ckpt += 1
    out_x[:] = x
    return t + horizon + (1.0 if bad else 0.0)


_FLAGS = ("rebuild", "grad", "steps", "counts", "generic")
_FLOOR = {"rebuild": 1, "grad": 0, "steps": 1, "counts": 0, "generic": 0}


def _floor_args(problem, schedule, it: Iteration, key, **flags: int) -> tuple:
    """Arguments of ``_floor_replay``; unspecified flags are those of the floor D."""
    unknown = set(flags) - set(_FLAGS)
    if unknown:
        raise TypeError(f"unknown flags {sorted(unknown)}")
    f = {**_FLOOR, **flags}
    block_off, coord_block, own_b0, own_b1 = _layout(problem, schedule.n_blocks, schedule.owners)
    width = _max_width(schedule.block, block_off, own_b0, own_b1)
    s_factor = py_stream_seed(int(key), _kernels._S_FACTOR)
    factor = np.array(
        [
            it.factor_low + (1.0 - it.factor_low) * py_uniform(s_factor, c) if it.factor_low < 1.0 else 1.0
            for c in range(schedule.n_workers)
        ]
    )
    return (
        np.asarray(problem.x0, dtype=np.float64), problem.halo, block_off, coord_block, own_b0, own_b1,
        schedule.writer, schedule.block, schedule.read_lo, schedule.cut_ptr,
        int(schedule.delay().max()) + 1, width, it.m, it.g0, it.p, it.nu0, factor,
        problem.spec.grad.compiled, problem.prm, problem.data, *(f[k] for k in _FLAGS), np.empty(problem.n),
    )  # fmt: skip


def _run_floor(args: tuple) -> np.ndarray:
    _floor_replay(*args)
    return args[-1].copy()


# --- helpers --------------------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "numba_num_threads_max": int(nb.config.NUMBA_NUM_THREADS),
        "numba_threads": int(nb.get_num_threads()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": nb.__version__,
        "platform": platform.platform(),
        "load_avg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = int(torch.get_num_threads())
    except ImportError:
        info["torch"] = None
    return info


_COLD_SCRIPT = r"""
import json, time
t0 = time.perf_counter()
from asyncconv.problems import make_problem
from asyncconv.schedule import ScheduleModel, draw_schedule
from asyncconv.sim import Iteration, replay
t1 = time.perf_counter()
s = draw_schedule(ScheduleModel.timing_preset(n_workers=4, n_blocks=16), 2000, seed=1)
t2 = time.perf_counter()
s2 = draw_schedule(ScheduleModel.timing_preset(n_workers=4, n_blocks=16), 2000, seed=2)
t3 = time.perf_counter()
prob = make_problem("chained_lq", n=128)
it = Iteration(noise="none")
t4 = time.perf_counter()
replay(prob, s, it, seed=1)
t5 = time.perf_counter()
replay(prob, s2, it, seed=2)
t6 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "draw_first_s": t2 - t1, "draw_later_s": t3 - t2,
                  "replay_first_s": t5 - t4, "replay_later_s": t6 - t5}))
"""


def _cold_compile() -> dict[str, Any]:
    """First vs later calls in a fresh interpreter with an empty Numba cache (an honest compile)."""
    with tempfile.TemporaryDirectory(prefix="asyncconv-bench-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", _COLD_SCRIPT], env=env, capture_output=True, text=True, timeout=600
        )
        total = time.perf_counter() - t
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["replay_compile_s"] = out["replay_first_s"] - out["replay_later_s"]
    out["draw_compile_s"] = out["draw_first_s"] - out["draw_later_s"]
    out["subprocess_wall_s"] = total
    return out


def _cache_state(dispatcher) -> str:
    st = dispatcher.stats
    if sum(st.cache_misses.values()):
        return "compiled"
    if sum(st.cache_hits.values()):
        return "loaded from the on-disk cache"
    return "already in memory" if dispatcher.signatures else "not called"


def _in_process_first_call() -> dict[str, Any]:
    """First vs second call of the kernel in this process (compile or cache load + run)."""
    problem = make_problem("chained_lq", n=256)
    it = _iteration()
    key = key_from_seed(SEED)[0]
    s1 = draw_schedule(ScheduleModel.timing_preset(n_workers=N_WORKERS, n_blocks=32), 2000, seed=1)
    s2 = draw_schedule(ScheduleModel.timing_preset(n_workers=N_WORKERS, n_blocks=32), 2000, seed=2)
    had = len(_kernels.replay_one.signatures)
    t = time.perf_counter()
    _run_kernel(_pack(problem, [s1], [key], it, N_CKPT))
    first = time.perf_counter() - t
    t = time.perf_counter()
    _run_kernel(_pack(problem, [s2], [key], it, N_CKPT))
    later = time.perf_counter() - t
    tf = time.perf_counter()
    _run_floor(_floor_args(problem, s1, it, key))
    floor_first = time.perf_counter() - tf
    return {
        "kernel": "replay_one",
        "state": _cache_state(_kernels.replay_one) if had == 0 else "already in memory",
        "first_call_s": first,
        "later_call_s": later,
        "overhead_s": first - later,
        "floor_kernel_first_call_s": floor_first,
    }


class _CpuMonitor:
    """CPU time used by other processes while a block runs (from /proc/stat), as a share of the
    machine: 0 = the measurement had the machine to itself, 0.5 = one of two cores was busy."""

    def __init__(self) -> None:
        self.foreign_share: float | None = None

    @staticmethod
    def _busy_s() -> float | None:
        try:
            with open("/proc/stat") as fh:
                f = [int(v) for v in fh.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = f[3] + (f[4] if len(f) > 4 else 0)
        return (sum(f[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> _CpuMonitor:
        self._b0, self._p0, self._t0 = self._busy_s(), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        b1, p1, t1 = self._busy_s(), time.process_time(), time.perf_counter()
        if self._b0 is None or b1 is None or t1 <= self._t0:
            return
        foreign = (b1 - self._b0) - (p1 - self._p0)
        ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self.foreign_share = max(foreign, 0.0) / ((t1 - self._t0) * ncpu)


def _threads(
    b: int, R: int, K: int, it: Iteration, quick: bool, say: Callable[[str], None]
) -> dict[str, Any]:
    out: dict[str, Any] = {"b": b, "n": N, "replicas": R, "writes_per_replica": K, "n_ckpt": N_CKPT}
    if nb.config.NUMBA_NUM_THREADS < 2:
        out["skipped"] = f"NUMBA_NUM_THREADS = {nb.config.NUMBA_NUM_THREADS} < 2"
        return out
    problem = make_problem("chained_lq", n=N)
    model = _model(b)
    prev = nb.get_num_threads()
    # pre-drawn schedules, seeded as simulate() seeds them, for the kernel-only measurements
    scheds, keys = [], []
    for child in np.random.SeedSequence(SEED).spawn(R):
        s_seed, k_seed = child.spawn(2)
        scheds.append(draw_schedule(model, K, s_seed))
        keys.append(key_from_seed(k_seed)[0])
    args = _pack(problem, scheds, keys, it, N_CKPT)
    args2 = _pack(problem, scheds, keys, it, 2)
    m_ceiling = 3_000_000 if quick else 6_000_000
    _ceiling_loop(2, 10)
    reps = 7
    kinds = ("ceiling", "kernel", "kernel_ckpt2", "run", "simulate")
    best = {(w, th): math.inf for w in kinds for th in (1, 2)}
    res: dict[tuple[str, int], Any] = {}
    cpu: dict[tuple[str, int], float] = {}
    draw = {1: math.nan, 2: math.nan}
    foreign: dict[int, list[float]] = {1: [], 2: []}
    say(f"threads: 1 vs 2 threads, {R} replicas x {K:,} writes, interleaved repeats")
    try:
        for rep in range(reps):
            for th in (1, 2):
                nb.set_num_threads(th)
                with _CpuMonitor() as mon:
                    jobs: list[tuple[str, Callable[[], Any]]] = [
                        ("ceiling", lambda: _ceiling_loop(R, m_ceiling)),
                        ("kernel", lambda: _run_kernel(args)),
                        ("kernel_ckpt2", lambda: _run_kernel(args2)),
                        (
                            "run",
                            lambda: _run(problem, scheds, keys, it, N_CKPT, None, DEFAULT_PROBES, False, 0),
                        ),
                    ]
                    if rep < REPEATS:
                        jobs.append(
                            (
                                "simulate",
                                lambda: simulate(
                                    problem, model, it, n_events=K, n_replicas=R, seed=SEED, n_ckpt=N_CKPT
                                ),
                            )
                        )
                    for what, fn in jobs:
                        c = time.process_time()
                        t = time.perf_counter()
                        res[what, th] = fn()
                        dt = time.perf_counter() - t
                        if dt < best[what, th]:
                            best[what, th] = dt
                            cpu[what, th] = time.process_time() - c
                            if what == "simulate":
                                draw[th] = float(res[what, th].info["draw_s"])
                if mon.foreign_share is not None:
                    foreign[th].append(mon.foreign_share)
    finally:
        nb.set_num_threads(prev)
    try:
        out["threading_layer"] = nb.threading_layer()
    except ValueError:
        out["threading_layer"] = None
    r1, r2 = res["simulate", 1], res["simulate", 2]
    same = (
        np.array_equal(r1.metrics, r2.metrics, equal_nan=True)
        and np.array_equal(r1.x_final, r2.x_final)
        and np.array_equal(r1.block_counts, r2.block_counts)
        and np.array_equal(r1.status, r2.status)
        and np.array_equal(r1.writes_done, r2.writes_done)
        and np.array_equal(res["kernel", 1], res["kernel", 2])
        and np.array_equal(res["kernel_ckpt2", 1], res["kernel", 1])
        and all(
            np.array_equal(a, b, equal_nan=True) for a, b in zip(res["run", 1], res["run", 2], strict=True)
        )
    )
    if not same:
        raise RuntimeError("results differ between 1 and 2 Numba threads")
    out["bit_identical_1_vs_2_threads"] = True
    out["kernel_call_matches_simulate"] = bool(
        np.array_equal(res["kernel", 1], r1.x_final) and np.array_equal(res["run", 1][1], r1.x_final)
    )
    for what, label in (
        ("simulate", "simulate"),
        ("run", "run"),
        ("kernel", "kernel"),
        ("kernel_ckpt2", "kernel_ckpt2"),
    ):
        out[f"{label}_s"] = {str(th): best[what, th] for th in (1, 2)}
        out[f"{label}_replicas_per_s"] = {str(th): R / best[what, th] for th in (1, 2)}
        out[f"{label}_speedup"] = best[what, 1] / best[what, 2]
        # busy cores (process CPU time / wall) and CPU seconds per replica, 2 threads vs 1
        out[f"{label}_busy_cores"] = {str(th): cpu[what, th] / best[what, th] for th in (1, 2)}
        out[f"{label}_cpu_per_replica_2_over_1"] = cpu[what, 2] / cpu[what, 1]
    out["simulate_draw_s"] = {str(th): draw[th] for th in (1, 2)}
    out["machine_ceiling_speedup"] = best["ceiling", 1] / best["ceiling", 2]
    out["foreign_cpu_share"] = {str(t): (max(v) if v else None) for t, v in foreign.items()}
    out["note"] = (
        f"simulate: simulate() end to end (drawing on a thread pool included), best of {REPEATS}; "
        f"run: its batch call simulate._run (packing + kernel) on pre-drawn schedules, best of {reps}; "
        f"kernel: _kernels.replay_one (thread pool) alone on pre-packed inputs, best of {reps} (kernel_ckpt2: the "
        "same with n_ckpt = 2, i.e. without the O(n) checkpoint records); machine ceiling: "
        "a compute-bound prange loop over the same number of replicas. Repeats interleave 1 and 2 "
        "threads. *_busy_cores: process CPU time / wall time of the best repeat; "
        "*_cpu_per_replica_2_over_1 > 1 means each thread ran slower with two (shared caches, "
        "memory, frequency, spinning), busy cores < 2 that threads waited. foreign_cpu_share: the largest share of the machine's CPU time other processes "
        "used during one repeat (0.5 = a whole core of two)"
    )
    return out


def _case(b: int, cfg: dict[str, Any], it: Iteration, say: Callable[[str], None]) -> dict[str, Any]:
    problem = make_problem("chained_lq", n=N)
    model = _model(b)
    key = key_from_seed(SEED)[0]
    K, Ks = cfg["k_fast"], cfg["k_slow"]
    sched = draw_schedule(model, K, SEED)
    prefix = draw_schedule(model, Ks, SEED)  # the first Ks writes of the same draw
    for name in ("writer", "block", "read_lo", "read_hi"):
        if not np.array_equal(getattr(prefix, name), getattr(sched, name)[:Ks]):
            raise RuntimeError(f"the prefix schedule is not a prefix of the long one ({name})")
    widths = np.diff(_layout(problem, sched.n_blocks, sched.owners)[0])
    mean_w = float(widths[sched.block].mean())  # every write covers one block here
    out: dict[str, Any] = {
        "b": b,
        "n": N,
        "n_blocks": sched.n_blocks,
        "mean_write_width": mean_w,
        "max_delay": int(sched.delay().max()),
        "mean_delay": float(sched.delay().mean()),
        "writes_fast": K,
        "writes_slow": Ks,
    }

    # agreement on the prefix: A (and replay() end to end), B, C
    say(f"b={b}: agreement on {Ks:,} writes")
    args_p = _pack(problem, [prefix], [key], it, N_CKPT)
    tA_pre, xA_pre = _best_of(lambda: _run_kernel(args_p))
    xr = replay(problem, prefix, it, seed=SEED, n_ckpt=N_CKPT).x_final[0]
    if not np.array_equal(xr, xA_pre):
        raise RuntimeError("the packed kernel call and replay() disagree: the bench's packing is stale")
    plan = _plan(problem, prefix, it, key)
    say(f"b={b}: B (NumPy loop), {Ks:,} writes")
    t = time.perf_counter()
    xB = _numpy_replay(plan, it)
    tB = time.perf_counter() - t
    tC, xC = None, None
    try:
        import torch  # noqa: F401

        say(f"b={b}: C (torch loop), {Ks:,} writes")
        t = time.perf_counter()
        xC = _torch_replay(plan, it)
        tC = time.perf_counter() - t
    except ImportError:
        say("torch is not installed: C skipped")
    scale = max(1.0, float(np.abs(xA_pre).max()))
    dB = float(np.abs(xB - xA_pre).max())
    dC = float(np.abs(xC - xA_pre).max()) if xC is not None else 0.0
    if not (dB <= AGREE_RTOL * scale and dC <= AGREE_RTOL * scale):
        raise RuntimeError(
            f"final iterates disagree (b = {b}, {Ks} writes): max|x_B - x_A| = {dB:.3e}, "
            f"max|x_C - x_A| = {dC:.3e}, tolerance {AGREE_RTOL:.0e} x scale {scale:.3g}"
        )
    out["agree_max_abs_diff"] = max(dB, dC)
    out["agree_B_max_abs_diff"] = dB
    out["agree_C_max_abs_diff"] = dC if xC is not None else None
    out["agree_tolerance"] = AGREE_RTOL * scale
    out["replay_e2e_prefix_bitwise_equal_A"] = True

    # A, D and the profile variants on the long schedule, interleaved round-robin (best of REPEATS)
    say(f"b={b}: A (kernel), D (floor) and the profile variants, {K:,} writes, best of {REPEATS}")

    def kern(n_ckpt: int) -> Callable[[], np.ndarray]:
        a = _pack(problem, [sched], [key], it, n_ckpt)
        return lambda: _run_kernel(a)

    def floor(**flags: int) -> Callable[[], np.ndarray]:
        a = _floor_args(problem, sched, it, key, **flags)
        return lambda: _run_floor(a)

    lean = {"grad": 1, "counts": 1}
    variants: dict[str, tuple[str, Callable[[], np.ndarray]]] = {
        "A": (f"A: the kernel, n_ckpt = {N_CKPT} (as timed)", kern(N_CKPT)),
        "D": ("D: floor (steps pass, x̂ rebuild, free subgradient, heavy ball, log)", floor()),
        "D_no_rebuild": ("D without the x̂ rebuild (reads x)", floor(rebuild=0)),
        "D_pow": ("D with γ by ** in the write loop, no steps pass", floor(steps=0)),
        "D_grad": ("D + chained_lq subgradient (direct call)", floor(grad=1)),
        "lean": ("D + subgradient + divergence/count loops: the kernel's work", floor(**lean)),
        "lean_generic": (
            "lean + the kernel's loop shapes (2-D u, torn tests, ckpt test)",
            floor(**lean, generic=1),
        ),
        "lean_dispatch": (
            "lean + generic + subgradient via the first-class fgrad",
            floor(**{**lean, "grad": 3}, generic=1),
        ),
        "A_ckpt2": ("A with n_ckpt = 2 (3 checkpoint records)", kern(2)),
        "lean_table": ("option: lean with a step table per ν (no K-array pass)", floor(**lean, steps=2)),
        "lean_sliding": ("option: lean with q computed once per term", floor(**{**lean, "grad": 2})),
        "lean_lazy": ("option: lean with a lazy x̂ (copy only if a write overlaps)", floor(**lean, rebuild=2)),
    }
    best = {name: math.inf for name in variants}
    xs: dict[str, np.ndarray] = {}
    for _ in range(REPEATS):
        for name, (_label, fn) in variants.items():
            t = time.perf_counter()
            xs[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t)
    xA = xs["A"]
    for name in (
        "A_ckpt2",
        "lean",
        "lean_generic",
        "lean_dispatch",
        "lean_table",
        "lean_sliding",
        "lean_lazy",
    ):
        if not np.array_equal(xs[name], xA):
            raise RuntimeError(f"profile variant {name!r} does not reproduce the kernel's iterate (b = {b})")
    tA, tD = best["A"], best["D"]

    per = {
        "A_s_per_write": tA / K,
        "A_prefix_s_per_write": tA_pre / Ks,
        "B_s_per_write": tB / Ks,
        "C_s_per_write": tC / Ks if tC is not None else None,
        "D_s_per_write": tD / K,
    }
    out.update(per)
    for name in ("A", "B", "C", "D"):
        v = per[f"{name}_s_per_write"]
        out[f"{name}_s_per_coord"] = v / mean_w if v is not None else None
    out["B_over_A"] = per["B_s_per_write"] / per["A_s_per_write"]
    out["C_over_A"] = per["C_s_per_write"] / per["A_s_per_write"] if tC is not None else None
    out["A_over_D"] = per["A_s_per_write"] / per["D_s_per_write"]
    out["B_over_D"] = per["B_s_per_write"] / per["D_s_per_write"]
    out["ratio_basis"] = (
        f"B and C: one run on the first {Ks:,} writes; A and D: best of {REPEATS} on {K:,} writes of "
        "the same schedule; B/A and C/A divide by A's per-write time from the long run "
        "(A_prefix_s_per_write is A on the prefix, where its O(n) checkpoints weigh more)"
    )
    out["profile"] = [
        {
            "variant": label,
            "key": name,
            "s_per_write": best[name] / K,
            "over_D": best[name] / tD,
            "over_A": best[name] / tA,
        }
        for name, (label, _fn) in variants.items()
    ]
    # one checkpoint record (O(n)): 600 vs 2 checkpoints on the prefix, where records dominate
    a600 = _pack(problem, [prefix], [key], it, 600)
    a2 = _pack(problem, [prefix], [key], it, 2)
    t600, _ = _best_of(lambda: _run_kernel(a600))
    t2, _ = _best_of(lambda: _run_kernel(a2))
    rec = max(t600 - t2, 0.0) / 598
    out["checkpoint_record_s"] = rec
    out["checkpoint_share_of_A"] = (N_CKPT - 1) * rec / tA
    return out


def run_bench(quick: bool = False, progress: Callable[[str], None] | None = None) -> dict:
    """Measure the replay kernel against NumPy / torch per-event loops and a floor kernel.

    ``quick`` uses shorter schedules, block sizes 8 and 64 and no cold-compile subprocess (about
    a minute on two cores; the full run takes a few minutes). ``progress(msg)`` receives status
    lines. Returns a JSON-able dict: ``machine``, ``compile_s``, ``compile``, ``cases`` (one per
    block size: per-write and per-coordinate times of A-D, ratios, agreement, a profile),
    ``threads`` (replica throughput at 1 vs 2 threads) and ``targets`` (the issue's, met or not).
    Raises ``RuntimeError`` if the implementations disagree.
    """
    cfg = _settings(quick)
    t_start = time.perf_counter()

    def say(msg: str) -> None:
        if progress is not None:
            progress(msg)

    it = _iteration()
    out: dict[str, Any] = {
        "quick": quick,
        "machine": _machine(),
        "problem": "chained_lq",
        "n": N,
        "n_workers": N_WORKERS,
        "schedule": "timing, exponential compute, partitioned ownership, consistent reads; B = n // b",
        "iteration": it.to_dict(),
        "n_ckpt": N_CKPT,
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
    }
    say("compile: first vs later call in this process")
    comp: dict[str, Any] = {"in_process": _in_process_first_call()}
    if cfg["cold_compile"]:
        say("compile: fresh interpreter, empty Numba cache (takes a while)")
        comp["cold"] = _cold_compile()
    else:
        comp["cold"] = None
    cold = comp["cold"]
    if cold is not None and "replay_compile_s" in cold:
        out["compile_s"] = cold["replay_compile_s"]
        comp["compile_s_source"] = "cold: first minus later replay() call, empty Numba cache"
    else:
        out["compile_s"] = comp["in_process"]["overhead_s"]
        comp["compile_s_source"] = f"in process ({comp['in_process']['state']}): first minus later call"
    out["compile"] = comp

    out["cases"] = [_case(b, cfg, it, say) for b in cfg["block_sizes"]]
    out["threads"] = _threads(cfg["block_sizes"][0], cfg["replicas"], cfg["k_replica"], it, quick, say)

    # the issue's targets
    tg: dict[str, Any] = {}
    c8 = next((c for c in out["cases"] if c["b"] == 8), None)
    if c8 is not None:
        tg["b8_B_over_A_ge_300"] = {"value": c8["B_over_A"], "met": c8["B_over_A"] >= TARGET_B_OVER_A_B8}
    for c in out["cases"]:
        if c["b"] >= 64:
            tg[f"b{c['b']}_A_over_D_le_3"] = {"value": c["A_over_D"], "met": c["A_over_D"] <= TARGET_A_OVER_D}
    th = out["threads"]
    if "simulate_speedup" in th:
        tg["threads_2_over_1_ge_1.7_simulate"] = {
            "value": th["simulate_speedup"],
            "met": th["simulate_speedup"] >= TARGET_THREAD_SPEEDUP,
        }
        tg["threads_2_over_1_ge_1.7_kernel_only"] = {
            "value": th["kernel_speedup"],
            "met": th["kernel_speedup"] >= TARGET_THREAD_SPEEDUP,
        }
    out["targets"] = tg
    out["machine"]["load_avg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    out["wall_s"] = time.perf_counter() - t_start
    return out


def format_report(res: dict) -> str:
    """A plain-text table of :func:`run_bench`'s result."""
    m = res["machine"]
    lines = [
        f"{m['cpu']}, {m['cpu_count']} CPUs; numba {m['numba']} ({m['numba_threads']} threads), "
        f"numpy {m['numpy']}, torch {m.get('torch')}; load {m['load_avg_start']} -> {m.get('load_avg_end')}",
        f"chained_lq n = {res['n']}, {res['n_workers']} workers; JIT compile {res['compile_s']:.2f} s "
        f"({res['compile']['compile_s_source']})",
        "",
        f"{'b':>4} {'width':>6} {'A s/write':>10} {'B s/write':>10} {'C s/write':>10} {'D s/write':>10} "
        f"{'A s/coord':>10} {'D s/coord':>10} {'B/A':>7} {'C/A':>7} {'A/D':>6} {'agree':>9}",
    ]

    def f(v, fmt=".3e"):
        return "-" if v is None else format(v, fmt)

    for c in res["cases"]:
        lines.append(
            f"{c['b']:>4} {c['mean_write_width']:>6.1f} {f(c['A_s_per_write']):>10} {f(c['B_s_per_write']):>10} "
            f"{f(c['C_s_per_write']):>10} {f(c['D_s_per_write']):>10} {f(c['A_s_per_coord']):>10} "
            f"{f(c['D_s_per_coord']):>10} {f(c['B_over_A'], '.0f'):>7} {f(c['C_over_A'], '.0f'):>7} "
            f"{f(c['A_over_D'], '.2f'):>6} {f(c['agree_max_abs_diff'], '.1e'):>9}"
        )
    lines.append("")
    lines.append(res["cases"][0]["ratio_basis"])
    for c in res["cases"]:
        lines.append(f"\nprofile b = {c['b']}: s/write, x floor D, x A")
        for p in c["profile"]:
            lines.append(f"  {p['variant']:66s} {p['s_per_write']:.3e} {p['over_D']:5.2f} {p['over_A']:5.2f}")
        lines.append(
            f"  one checkpoint record (O(n)): {c['checkpoint_record_s']:.2e} s; "
            f"{res['n_ckpt'] - 1} of them are {c['checkpoint_share_of_A']:.1%} of A"
        )
    th = res["threads"]
    if "kernel_speedup" in th:
        lines.append(
            f"\nreplicas (b = {th['b']}, {th['replicas']} x {th['writes_per_replica']:,} writes, "
            f"{th['threading_layer']}), replicas/s at 1 -> 2 threads:"
        )
        for label in ("simulate", "run", "kernel", "kernel_ckpt2"):
            r = th[f"{label}_replicas_per_s"]
            bc = th[f"{label}_busy_cores"]
            lines.append(
                f"  {label:12s} {r['1']:8.1f} -> {r['2']:8.1f}  ({th[f'{label}_speedup']:.2f}x; busy cores "
                f"{bc['1']:.2f} -> {bc['2']:.2f}, CPU per replica x{th[f'{label}_cpu_per_replica_2_over_1']:.2f})"
            )
        lines.append(
            f"  machine ceiling (compute-bound prange): {th['machine_ceiling_speedup']:.2f}x; bit-identical: "
            f"{th['bit_identical_1_vs_2_threads']}; other processes' CPU share: {th['foreign_cpu_share']}"
        )
    else:
        lines.append(f"\nreplicas: {th.get('skipped')}")
    lines.append("\ntargets:")
    for k, v in res["targets"].items():
        lines.append(f"  {k:40s} {v['value']:8.2f}  {'met' if v['met'] else 'NOT met'}")
    lines.append(f"\nbench wall time {res['wall_s']:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    import argparse
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="write the result dict to this file")
    ns = ap.parse_args(argv)
    res = run_bench(quick=ns.quick, progress=lambda s: print(f"[bench] {s}", file=sys.stderr, flush=True))
    print(format_report(res))
    if ns.json:
        with open(ns.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
