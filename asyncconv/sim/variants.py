"""``Iteration``: which variant of the analysed iteration a simulation runs (``reference/model.md`` §4).

For write k with writer c, block range i and the point x̂^k assembled from the versions read::

    g   = coordinates i of a stochastic subgradient of f at x̂^k   (+ noise, or a minibatch)
    u_i ← m u_i + g                   heavy ball, PyTorch convention (default)
          m u_i + (1 - m) g           "ema" (dampened; same limit DI up to time scaling)
          m u_i + g, direction g + m u_i    "nesterov" (PyTorch)
          u_i + a γ (g - u_i)         "averaging" (single-timescale, Ruszczyński; m plays a)
          (no buffer), direction g    "none"
    x_i ← x_i - γ_ν · direction       applied to the *current* shared x_i (read-modify-write)

Step sizes γ_ν = f_c · γ0 / (ν + ν0)^p with ν the global write count, the writer's local count
(default, as in the authors' code) or the block's local count, or γ0 constant (a control); f_c is a
per-worker factor drawn once per replica uniformly in [``factor_low``, 1] (the authors drew it in
[0.9, 1]; 1 disables it). Momentum buffers are one per coordinate ("block": held by the block's
owner, as in PASSM) or one per worker and coordinate ("worker": Hogwild-style code). Writes are
applied in the order k, so a shared buffer behaves as the owner's buffer in this replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asyncconv.config import ConfigError, check_choice, check_int, check_keys, check_number

__all__ = ["CLOCKS", "MOMENTA", "NOISES", "Iteration"]

MOMENTA = ("heavy", "ema", "nesterov", "averaging", "none")
BUFFERS = ("block", "worker", "shared")
CLOCKS = ("writer", "global", "block", "constant")
NOISES = ("none", "gaussian", "student")


@dataclass(frozen=True)
class Iteration:
    """A validated iteration variant; see the module docstring. Defaults are the canonical choice."""

    momentum: str = "heavy"
    m: float = 0.5
    buffers: str = "block"
    g0: float = 0.05
    p: float = 0.75
    nu0: float = 10.0
    clock: str = "writer"
    factor_low: float = 0.9
    noise: str = "gaussian"
    noise_scale: float = 0.1
    noise_df: int = 3
    batch: int = 1

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "iteration") -> Iteration:
        fields = cls.__dataclass_fields__
        check_keys(data, tuple(fields), path)
        d = {**{k: f.default for k, f in fields.items()}, **data}
        momentum = check_choice(d["momentum"], MOMENTA, f"{path}.momentum")
        m = check_number(d["m"], f"{path}.m", ge=0.0, lt=1.0 if momentum != "averaging" else None)
        buffers = check_choice(d["buffers"], BUFFERS, f"{path}.buffers")
        g0 = check_number(d["g0"], f"{path}.g0", gt=0.0)
        p = check_number(d["p"], f"{path}.p", ge=0.0)
        nu0 = check_number(d["nu0"], f"{path}.nu0", ge=1.0)
        clock = check_choice(d["clock"], CLOCKS, f"{path}.clock")
        factor_low = check_number(d["factor_low"], f"{path}.factor_low", gt=0.0, le=1.0)
        noise = check_choice(d["noise"], NOISES, f"{path}.noise")
        noise_scale = check_number(d["noise_scale"], f"{path}.noise_scale", ge=0.0)
        noise_df = check_int(d["noise_df"], f"{path}.noise_df", ge=1, le=30)
        batch = check_int(d["batch"], f"{path}.batch", ge=1)
        if momentum == "averaging":
            first = m * g0 / nu0**p if clock != "constant" else m * g0
            if not 0.0 < first <= 1.0:
                raise ConfigError(
                    f"{path}.m", f"averaging needs 0 < a·γ ≤ 1 for the first step (a·γ0/ν0^p = {first:.3g})"
                )
        return cls(momentum, m, buffers, g0, p, nu0, clock, factor_low, noise, noise_scale, noise_df, batch)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @property
    def kappa(self) -> float:
        """Time scaling of the limit DI, (1 - m)^-1 for heavy ball / Nesterov, 1 otherwise."""
        return 1.0 / (1.0 - self.m) if self.momentum in ("heavy", "nesterov") else 1.0

    def codes(self) -> tuple[int, int, int, int]:
        """Integer codes (momentum, buffers, clock, noise) for the kernels."""
        buffers = 1 if self.buffers == "worker" else 0
        return MOMENTA.index(self.momentum), buffers, CLOCKS.index(self.clock), NOISES.index(self.noise)
