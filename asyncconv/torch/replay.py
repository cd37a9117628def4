"""Schedule replay on torch models (DESIGN §4.3, ``reference/model.md`` §4).

A :class:`~asyncconv.schedule.Schedule` drives training of any set of parameter tensors split into
blocks (:class:`~asyncconv.torch.blocks.BlockLayout`): for write k with writer c, block set
I^k (block[k], or the writer's owned blocks when block[k] = -1) and per-block read versions
v_j(k) (``Schedule.read_versions``; all equal to read_lo[k] for a consistent read)::

    x̂^k_j = x_j after writes 0 .. v_j(k) - 1                      (per-block version history)
    g     = ∇_{I^k} loss(x̂^k; minibatch ξ^k) (+ noise) + λ x_{I^k}  (autograd, leaves I^k only)
    u     ← m u + g | m u + (1-m) g | m u + g (dir g + m u) | u + (m γ)(g - u) | none
    x_{I^k} ← x_{I^k} − γ_k · dir                                   (the *current* shared x)

with γ_k = f_c γ0/(ν + ν0)^p as in :class:`asyncconv.sim.Iteration` (the same clocks and per-worker
factors), the minibatch ξ^k and the noise pure functions of (seed, k) (:mod:`asyncconv.torch.counter`),
and λ the weight decay of ``torch.optim.SGD`` (it reads the parameter being written). Only the
written blocks are autograd leaves, so backprop stops at the earliest of them (PASSM's partial
backprop).

History: every write creates new tensors for its blocks (copy-on-write) and appends them to the
block's version list; a version is dropped as soon as a newer one of the same block is at least as
old as every read still to come (the suffix minimum of read_lo). Memory is therefore O(n + writes
in flight × block size), the bound of DESIGN §4.3, and a write costs O(its block) plus the model
evaluation.

In float64 on the problems of :mod:`asyncconv.torch.problems` this reproduces
:func:`asyncconv.sim.replay` to rounding (about 1e-12 relative), torn reads included.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from asyncconv.config import ConfigError
from asyncconv.rng import key_from_seed
from asyncconv.schedule import Schedule
from asyncconv.sim.variants import Iteration
from asyncconv.torch.blocks import BlockLayout, make_layout
from asyncconv.torch.counter import S_NOISE, batch_indices, normals, stream_seed, worker_factors

__all__ = ["ReplayResult", "module_objective", "replay", "replay_module", "step_sizes"]

Loss = Callable[[list[torch.Tensor], torch.Tensor | None], torch.Tensor]


@dataclass(frozen=True, eq=False)
class ReplayResult:
    """Outcome of a replay.

    Attributes
    ----------
    params : list of tensors — the final parameters, in layout order.
    block_counts : (B,) int — writes that updated each block.
    steps : (K,) float — γ_k of every write; ``steps.sum()`` is the ODE horizon.
    wall_s : seconds spent in the write loop (callbacks excluded).
    peak_versions : most block versions held at once (the history's memory, in blocks).
    """

    params: list[torch.Tensor]
    block_counts: np.ndarray
    steps: np.ndarray
    wall_s: float
    peak_versions: int
    info: dict[str, Any] = field(default_factory=dict)

    def flat(self) -> torch.Tensor:
        """The final point as one flat vector (n,)."""
        return torch.cat([p.reshape(-1) for p in self.params])


def _first_blocks(schedule: Schedule) -> np.ndarray:
    """Block whose counter a write advances under the block clock: block[k], or the writer's
    first owned block (as the Numba kernel)."""
    first_owned = np.argmax(schedule.owners, axis=1)
    b = schedule.block.astype(np.int64)
    return np.where(b >= 0, b, first_owned[schedule.writer])


def _running_count(labels: np.ndarray, n_labels: int) -> np.ndarray:
    """out[k] = #{k' < k : labels[k'] == labels[k]}."""
    out = np.empty(len(labels), dtype=np.int64)
    for c in range(n_labels):
        idx = np.flatnonzero(labels == c)
        out[idx] = np.arange(len(idx))
    return out


def step_sizes(schedule: Schedule, it: Iteration, key: int) -> np.ndarray:
    """γ_k = f_c · γ0/(ν_k + ν0)^p (or f_c · γ0 for the constant clock); shape (K,).

    ν_k is k (global clock), the writer's count of earlier writes (writer clock) or the written
    block's (block clock), as ``asyncconv.sim._kernels.prepare``.
    """
    K = schedule.n_events
    factor = worker_factors(key, schedule.n_workers, it.factor_low)[schedule.writer]
    if it.clock == "constant":
        return factor * it.g0
    if it.clock == "global":
        nu = np.arange(K, dtype=np.float64)
    elif it.clock == "writer":
        nu = _running_count(schedule.writer, schedule.n_workers).astype(np.float64)
    else:
        nu = _running_count(_first_blocks(schedule), schedule.n_blocks).astype(np.float64)
    return factor * (it.g0 / (nu + it.nu0) ** it.p)


def _noise(it: Iteration, seed_noise: int, k: int, n: int, off: int, like: torch.Tensor) -> torch.Tensor:
    """Noise of write k on flat coordinates off .. off + numel - 1, shaped like ``like``."""
    i = k * n + off + np.arange(like.numel(), dtype=np.int64)
    if it.noise == "gaussian":
        z = it.noise_scale * normals(seed_noise, i)
    else:  # student t with noise_df degrees of freedom
        df = it.noise_df
        base = i * (df + 1)
        chi = np.zeros(len(i))
        for r in range(df):
            chi += normals(seed_noise, base + 1 + r) ** 2
        z = it.noise_scale * normals(seed_noise, base) / np.sqrt(chi / df)
    return torch.from_numpy(z).to(dtype=like.dtype, device=like.device).reshape(like.shape)


def replay(
    params: Sequence[torch.Tensor],
    layout: BlockLayout,
    loss: Loss,
    schedule: Schedule,
    iteration: Iteration | None = None,
    *,
    seed: int | np.random.SeedSequence = 0,
    n_samples: int = 0,
    weight_decay: float = 0.0,
    callback: Callable[[int, list[torch.Tensor]], None] | None = None,
    every: int = 0,
    chunk: int = 4096,
) -> ReplayResult:
    """Replay ``schedule`` through the iteration on ``loss`` starting from ``params``.

    Parameters
    ----------
    params : T tensors (any device and dtype), the starting point in layout order; not modified.
    layout : the blocks of the tensors; ``layout.n_blocks`` must equal ``schedule.n_blocks``.
    loss : ``loss(tensors, idx)`` -> scalar tensor: the objective at the given tensors on the
        minibatch ``idx`` (int64 tensor (batch,) on the tensors' device; None when ``n_samples`` = 0).
    iteration : the variant (momentum form and m, buffers, step clock, noise, batch); its defaults
        are the simulator's. Noise ``"none"`` is the usual choice for networks.
    seed : keys minibatches, noise and the per-worker step factors exactly as :func:`asyncconv.sim.replay`.
    n_samples : finite-sum size M (minibatch indices in [0, M)); 0 = full objective.
    weight_decay : λ of ``torch.optim.SGD`` (added to g at the current value of the written block).
    callback, every : ``callback(k, params)`` after every ``every`` writes (0: never) and at the end.
    chunk : writes whose minibatches and torn-read versions are prepared at once.
    """
    it = iteration or Iteration()
    schedule.validate()
    if layout.n_blocks != schedule.n_blocks:
        raise ConfigError(
            "blocks", f"the schedule has {schedule.n_blocks} blocks, the model layout {layout.n_blocks}"
        )
    if len(params) != layout.n_tensors:
        raise ConfigError("params", f"expected {layout.n_tensors} tensors, got {len(params)}")
    key, rec = key_from_seed(seed)
    key = int(key)
    K, B, P, T = schedule.n_events, schedule.n_blocks, schedule.n_workers, layout.n_tensors
    steps = step_sizes(schedule, it, key)
    seed_noise = stream_seed(key, S_NOISE)
    n = layout.n
    toff = layout.tensor_offsets
    blocks_t = [list(layout.tensors(j)) for j in range(B)]
    owned = [np.flatnonzero(row).tolist() for row in schedule.owners]
    writer = schedule.writer.tolist()
    block = schedule.block.tolist()
    read_lo = schedule.read_lo.tolist()
    torn = np.diff(schedule.cut_ptr) > 0
    # lo_future[k]: oldest version any read k' >= k may still ask for
    lo_future = np.append(np.minimum.accumulate(schedule.read_lo[::-1])[::-1], K).tolist()
    per_worker = it.buffers == "worker"
    m = float(it.m)
    form = it.momentum
    u: list[list[torch.Tensor | None]] = [[None] * T for _ in range(P if per_worker else 1)]
    counts = np.zeros(B, dtype=np.int64)
    with torch.no_grad():
        cur = [p.detach().clone() for p in params]
    hist: list[deque] = [deque([(0, [cur[t] for t in blocks_t[j]])]) for j in range(B)]
    held = B
    peak = held
    device = cur[0].device if T else torch.device("cpu")
    wall = 0.0
    t0 = time.perf_counter()
    for k0 in range(0, K, chunk):
        k1 = min(k0 + chunk, K)
        idx_all = (
            torch.from_numpy(batch_indices(key, k0, k1, it.batch, n_samples)).to(device)
            if n_samples > 0
            else None
        )
        versions = schedule.read_versions(k0, k1).tolist() if torn[k0:k1].any() else None
        for k in range(k0, k1):
            c = writer[k]
            wb = (block[k],) if block[k] >= 0 else owned[c]
            # x̂^k: the newest version of each block no newer than the version read
            view = list(cur)
            vrow = versions[k - k0] if versions is not None and torn[k] else None
            for j in range(B):
                v = vrow[j] if vrow is not None else read_lo[k]
                h = hist[j]
                if h[-1][0] <= v:
                    continue
                for start, tensors in reversed(h):
                    if start <= v:
                        for t, x in zip(blocks_t[j], tensors, strict=True):
                            view[t] = x
                        break
                else:  # pragma: no cover - pruning keeps every version a read can ask for
                    raise RuntimeError(f"write {k}: version {v} of block {j} was dropped")
            leaves_t = [t for j in wb for t in blocks_t[j]]
            leaves = []
            for t in leaves_t:
                leaf = view[t].detach().requires_grad_(True)
                view[t] = leaf
                leaves.append(leaf)
            with torch.enable_grad():
                value = loss(view, idx_all[k - k0] if idx_all is not None else None)
                grads = torch.autograd.grad(value, leaves, allow_unused=True)
            gamma = float(steps[k])
            row = u[c] if per_worker else u[0]
            with torch.no_grad():
                for t, g in zip(leaves_t, grads, strict=True):
                    x = cur[t]
                    g = torch.zeros_like(x) if g is None else g
                    if it.noise != "none":
                        g = g + _noise(it, seed_noise, k, n, int(toff[t]), x)
                    if weight_decay:
                        g = g + weight_decay * x
                    if form == "none":
                        d = g
                    else:
                        if row[t] is None:
                            row[t] = torch.zeros_like(x)
                        ut = row[t]
                        if form == "heavy":
                            ut.mul_(m).add_(g)
                            d = ut
                        elif form == "ema":
                            ut.mul_(m).add_(g, alpha=1.0 - m)
                            d = ut
                        elif form == "nesterov":
                            ut.mul_(m).add_(g)
                            d = g + m * ut
                        else:  # single-timescale averaging
                            ut.add_((g - ut) * (m * gamma))
                            d = ut
                    cur[t] = x - gamma * d
            nxt = lo_future[k + 1]
            for j in wb:
                h = hist[j]
                h.append((k + 1, [cur[t] for t in blocks_t[j]]))
                held += 1
                while len(h) >= 2 and h[1][0] <= nxt:
                    h.popleft()
                    held -= 1
                counts[j] += 1
            peak = max(peak, held)
            if callback is not None and every > 0 and (k + 1) % every == 0 and k + 1 < K:
                wall += time.perf_counter() - t0
                callback(k + 1, cur)
                t0 = time.perf_counter()
    wall += time.perf_counter() - t0
    if callback is not None:
        callback(K, cur)
    info = {
        "iteration": it.to_dict(),
        "seed": rec,
        "weight_decay": weight_decay,
        "horizon": float(steps.sum()),
    }
    return ReplayResult(cur, counts, steps, wall, peak, info)


def module_objective(
    module: torch.nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> tuple[list[str], Loss]:
    """Parameter names and ``loss(tensors, idx) = loss_fn(module(X[idx]; tensors), y[idx])``.

    The module is called functionally (``torch.func.functional_call``) with the given tensors in
    place of its parameters; its buffers (batch-norm statistics) are the module's own.
    """
    from torch.func import functional_call

    fn = loss_fn or torch.nn.functional.cross_entropy
    names = [name for name, _ in module.named_parameters()]

    def loss(tensors: list[torch.Tensor], idx: torch.Tensor | None) -> torch.Tensor:
        xb, yb = (X, y) if idx is None else (X[idx], y[idx])
        return fn(functional_call(module, dict(zip(names, tensors, strict=True)), (xb,)), yb)

    return names, loss


def replay_module(
    module: torch.nn.Module,
    schedule: Schedule,
    X: torch.Tensor,
    y: torch.Tensor,
    iteration: Iteration | None = None,
    *,
    layout: str | BlockLayout = "balanced",
    seed: int = 0,
    weight_decay: float = 0.0,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    callback: Callable[[int, list[torch.Tensor]], None] | None = None,
    every: int = 0,
) -> ReplayResult:
    """Train ``module`` on (X, y) by replaying ``schedule``; the final parameters are copied into it.

    ``layout`` is a :class:`BlockLayout` or a mode of :func:`~asyncconv.torch.blocks.make_layout`
    (``"balanced"``: ``schedule.n_blocks`` numel-balanced groups; ``"tensor"``: one block per
    tensor). The minibatch of write k is ``iteration.batch`` rows of (X, y) drawn from (seed, k).
    """
    it = iteration or Iteration(noise="none")
    named = list(module.named_parameters())
    if isinstance(layout, str):
        layout = make_layout([(nm, p.numel()) for nm, p in named], layout, schedule.n_blocks)
    names, loss = module_objective(module, X, y, loss_fn)
    if tuple(names) != layout.names:
        raise ConfigError("layout", "its tensor names are not the module's parameters in order")
    res = replay(
        [p for _, p in named], layout, loss, schedule, it, seed=seed, n_samples=len(X),
        weight_decay=weight_decay, callback=callback, every=every,
    )  # fmt: skip
    with torch.no_grad():
        for (_, p), v in zip(named, res.params, strict=True):
            p.copy_(v)
    return res
