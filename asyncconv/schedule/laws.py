"""Probability laws of the scheduler model: durations (continuous) and delays (integer).

Durations (:class:`TimeLaw`) are parametrised by their **mean** and one **shape** number, so that
a change of law keeps the mean speed of a worker fixed:

=============  ===========================  ================================================
law            shape                        distribution of the duration T
=============  ===========================  ================================================
deterministic  (none)                       T = mean
exponential    (none)                       T ~ Exp, E T = mean
gamma          k > 0                        T ~ Gamma(k, scale = mean / k)
lognormal      sigma > 0                    log T ~ N(log(mean) - sigma^2 / 2, sigma^2)
uniform        h in [0, 1)                  T ~ U[mean (1 - h), mean (1 + h)]
pareto         alpha > 1                    T = x_m U^(-1/alpha), x_m = mean (alpha - 1) / alpha
empirical      values = [...]               T drawn uniformly from the recorded values
=============  ===========================  ================================================

Delays (:class:`DelayLaw`, the abstract model of Cannelli et al., arXiv 1607.04818) are integers
d >= 0, optionally truncated to d <= ``max`` by conditioning:

=========  =====================  =================================================================
law        parameters             P(d = i)
=========  =====================  =================================================================
fixed      value                  1{i = value}
uniform    low, high              1 / (high - low + 1) on {low, ..., high}
geometric  mean                   (1 - q) q^i, q = mean / (1 + mean)
poisson    mean (<= 500)          e^-mean mean^i / i!
pareto     tail a > 0, scale s    F(i + 1) - F(i), F(x) = 1 - (1 + x / s)^-a  (discretised Lomax)
=========  =====================  =================================================================

A Pareto delay law has tail index ``a``: P(d >= i) ~ (i / s)^-a. With step sizes k^-p the product
of step and delay vanishes iff a p > 1, the boundary studied in the verdict maps.

Both families pack into flat float64 tables (``pack_*``) that the Numba kernels read with the
``_sample_*`` functions; packing happens once, in Python.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from asyncconv._jit import jit
from asyncconv.config import ConfigError, check_choice, check_int, check_keys, check_number
from asyncconv.rng import normal, uniform

__all__ = ["DELAY_LAWS", "TIME_LAWS", "DelayLaw", "TimeLaw"]

TIME_LAWS = ("deterministic", "exponential", "gamma", "lognormal", "uniform", "pareto", "empirical")
DELAY_LAWS = ("fixed", "uniform", "geometric", "poisson", "pareto")

# Integer codes used inside the kernels.
T_DET, T_EXP, T_GAMMA, T_LOGN, T_UNIF, T_PARETO, T_EMP = range(7)
D_TABLE, D_GEOM, D_PARETO = range(3)

#: counters reserved per draw of a duration (Gamma rejection needs several uniforms).
COUNTERS_PER_DRAW = 64

_POISSON_MAX_MEAN = 500.0


@dataclass(frozen=True)
class TimeLaw:
    """Law of a duration (compute, read, write or pause time); see the module table."""

    law: str = "deterministic"
    mean: float = 1.0
    shape: float | None = None
    values: tuple[float, ...] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | float | int, path: str) -> TimeLaw:
        """Validate and build. A bare number means a deterministic duration."""
        if isinstance(data, int | float) and not isinstance(data, bool):
            return cls("deterministic", check_number(data, path, ge=0.0))
        check_keys(data, ("law", "mean", "shape", "values"), path, required=("law",))
        law = check_choice(data["law"], TIME_LAWS, f"{path}.law")
        if law == "empirical":
            vals = data.get("values")
            if not isinstance(vals, Sequence) or isinstance(vals, str) or len(vals) == 0:
                raise ConfigError(f"{path}.values", "empirical law needs a non-empty list of durations")
            values = tuple(check_number(v, f"{path}.values[{i}]", ge=0.0) for i, v in enumerate(vals))
            for k in ("mean", "shape"):
                if k in data:
                    raise ConfigError(f"{path}.{k}", "not used by the empirical law (give values)")
            return cls("empirical", float(np.mean(values)), None, values)
        if "values" in data:
            raise ConfigError(f"{path}.values", f"only the empirical law takes values (law is {law})")
        mean = check_number(data.get("mean", 1.0), f"{path}.mean", ge=0.0)
        if mean == 0.0 and law != "deterministic":
            raise ConfigError(f"{path}.mean", f"must be > 0 for the {law} law (got 0)")
        shape = data.get("shape")
        if law in ("deterministic", "exponential"):
            if shape is not None:
                raise ConfigError(f"{path}.shape", f"the {law} law takes no shape")
        elif shape is None:
            raise ConfigError(f"{path}.shape", f"the {law} law needs a shape ({_SHAPE_DOC[law]})")
        elif law == "gamma" or law == "lognormal":
            shape = check_number(shape, f"{path}.shape", gt=0.0)
        elif law == "uniform":
            shape = check_number(shape, f"{path}.shape", ge=0.0, lt=1.0)
        elif law == "pareto":
            shape = check_number(shape, f"{path}.shape", gt=1.0)
        return cls(law, mean, None if shape is None else float(shape), None)

    def to_dict(self) -> dict[str, Any]:
        if self.law == "empirical":
            return {"law": "empirical", "values": list(self.values or ())}
        out: dict[str, Any] = {"law": self.law, "mean": self.mean}
        if self.shape is not None:
            out["shape"] = self.shape
        return out

    @property
    def is_zero(self) -> bool:
        return self.law == "deterministic" and self.mean == 0.0

    def support(self) -> tuple[float, float]:
        """(lowest, highest) possible duration; ``inf`` when unbounded."""
        m, s = self.mean, self.shape
        if self.law == "deterministic":
            return (m, m)
        if self.law == "uniform":
            return (m * (1 - s), m * (1 + s))
        if self.law == "empirical":
            return (min(self.values), max(self.values))
        if self.law == "pareto":
            return (m * (s - 1) / s, math.inf)
        return (0.0, math.inf)

    def sample_numpy(self, u: np.ndarray) -> np.ndarray:
        """Inverse-CDF transform of uniforms (for tests and plots; kernels use ``_sample_time``)."""
        m, s = self.mean, self.shape
        if self.law == "deterministic":
            return np.full_like(u, m)
        if self.law == "exponential":
            return stats.expon(scale=m).ppf(u)
        if self.law == "gamma":
            return stats.gamma(s, scale=m / s).ppf(u)
        if self.law == "lognormal":
            return stats.lognorm(s, scale=math.exp(math.log(m) - s * s / 2)).ppf(u)
        if self.law == "uniform":
            return m * (1 - s) + 2 * m * s * u
        if self.law == "pareto":
            return m * (s - 1) / s * (1.0 - u) ** (-1.0 / s)
        vals = np.asarray(self.values)
        return vals[np.minimum((u * len(vals)).astype(int), len(vals) - 1)]


_SHAPE_DOC = {
    "gamma": "k > 0",
    "lognormal": "sigma > 0",
    "uniform": "relative half-width h in [0, 1)",
    "pareto": "tail index alpha > 1, for a finite mean",
}


@dataclass(frozen=True)
class DelayLaw:
    """Law of an integer delay d >= 0; see the module table. ``max`` truncates by conditioning."""

    law: str = "fixed"
    value: int = 0
    low: int = 0
    high: int = 0
    mean: float = 0.0
    tail: float = 0.0
    scale: float = 1.0
    max: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | int, path: str) -> DelayLaw:
        """Validate and build. A bare integer means a fixed delay."""
        if isinstance(data, int) and not isinstance(data, bool):
            return cls("fixed", value=check_int(data, path, ge=0))
        allowed = {
            "fixed": ("law", "value"),
            "uniform": ("law", "low", "high"),
            "geometric": ("law", "mean", "max"),
            "poisson": ("law", "mean", "max"),
            "pareto": ("law", "tail", "scale", "max"),
        }
        check_keys(data, ("law", "value", "low", "high", "mean", "tail", "scale", "max"), path, ("law",))
        law = check_choice(data["law"], DELAY_LAWS, f"{path}.law")
        check_keys(data, allowed[law], path)
        mx = data.get("max")
        mx = None if mx is None else check_int(mx, f"{path}.max", ge=0)
        if law == "fixed":
            return cls("fixed", value=check_int(data.get("value", 0), f"{path}.value", ge=0))
        if law == "uniform":
            lo = check_int(data.get("low", 0), f"{path}.low", ge=0)
            hi = check_int(data.get("high", lo), f"{path}.high", ge=lo)
            return cls("uniform", low=lo, high=hi)
        if law == "geometric":
            return cls("geometric", mean=check_number(data.get("mean"), f"{path}.mean", ge=0.0), max=mx)
        if law == "poisson":
            mean = check_number(data.get("mean"), f"{path}.mean", ge=0.0, le=_POISSON_MAX_MEAN)
            return cls("poisson", mean=mean, max=mx)
        tail = check_number(data.get("tail"), f"{path}.tail", gt=0.0)
        scale = check_number(data.get("scale", 1.0), f"{path}.scale", gt=0.0)
        return cls("pareto", tail=tail, scale=scale, max=mx)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"law": self.law}
        if self.law == "fixed":
            out["value"] = self.value
        elif self.law == "uniform":
            out.update(low=self.low, high=self.high)
        elif self.law in ("geometric", "poisson"):
            out["mean"] = self.mean
        else:
            out.update(tail=self.tail, scale=self.scale)
        if self.max is not None:
            out["max"] = self.max
        return out

    def bound(self) -> int | None:
        """Largest possible delay, or ``None`` when the law is unbounded."""
        if self.law == "fixed":
            return self.value
        if self.law == "uniform":
            return self.high
        return self.max

    def _cdf(self, x: np.ndarray) -> np.ndarray:
        """Untruncated CDF P(d <= x) at integers x >= -1."""
        x = np.asarray(x, dtype=float)
        if self.law == "fixed":
            return (x >= self.value).astype(float)
        if self.law == "uniform":
            n = self.high - self.low + 1
            return np.clip((np.floor(x) - self.low + 1) / n, 0.0, 1.0)
        if self.law == "geometric":
            q = self.mean / (1.0 + self.mean)
            return np.where(x < 0, 0.0, 1.0 - q ** (np.floor(x) + 1))
        if self.law == "poisson":
            return np.where(x < 0, 0.0, special.pdtr(np.floor(np.maximum(x, 0)), self.mean))
        # discretised Lomax: d = floor(X), P(X <= y) = 1 - (1 + y / s)^-a
        return np.where(x < 0, 0.0, 1.0 - (1.0 + (np.floor(x) + 1) / self.scale) ** (-self.tail))

    def pmf(self, upto: int) -> np.ndarray:
        """P(d = i) for i = 0..upto (truncation by ``max`` included)."""
        i = np.arange(-1, upto + 1)
        cdf = self._cdf(i)
        if self.max is not None:
            cdf = np.minimum(cdf, self._cdf(np.array([self.max]))[0]) / self._cdf(np.array([self.max]))[0]
        return np.diff(cdf)

    def mean_value(self) -> float:
        """E d (``inf`` for a Pareto tail a <= 1 without truncation)."""
        if self.law == "fixed":
            return float(self.value)
        if self.law == "uniform":
            return (self.low + self.high) / 2
        if self.max is None:
            if self.law in ("geometric", "poisson"):
                return self.mean
            if self.tail <= 1.0:
                return math.inf
            # E d = Σ_{i>=1} P(d >= i) = Σ_{i>=1} (1 + i/s)^-a = s^a ζ(a, s + 1)
            return float(self.scale**self.tail * special.zeta(self.tail, self.scale + 1.0))
        p = self.pmf(self.max)
        return float(np.dot(np.arange(self.max + 1), p))

    def table(self) -> np.ndarray:
        """CDF table used for inverse-CDF sampling of bounded or Poisson laws."""
        if self.max is not None or self.law in ("fixed", "uniform"):
            upto = self.bound()
        else:  # Poisson: mass beyond mean + 40 sqrt(mean) + 40 is below 1e-300
            upto = int(self.mean + 40.0 * math.sqrt(self.mean) + 40)
        pmf = self.pmf(upto)
        cdf = np.cumsum(pmf)
        cdf /= cdf[-1]
        return cdf


# --- packing into flat tables for the kernels -----------------------------------------------------


def pack_time_laws(laws: Sequence[TimeLaw]) -> tuple[np.ndarray, np.ndarray]:
    """Pack laws into ``params[L, 4] = (code, mean, shape, n_values)`` and ``offsets``/values.

    Returns ``(params, values)`` where row ``l`` of ``params`` holds code, mean, shape, offset of the
    empirical values in ``values`` and their count in column 4.
    """
    codes = {n: c for c, n in enumerate(TIME_LAWS)}
    params = np.zeros((len(laws), 5))
    values: list[float] = []
    for i, law in enumerate(laws):
        params[i, 0] = codes[law.law]
        params[i, 1] = law.mean
        params[i, 2] = law.shape if law.shape is not None else 0.0
        if law.values is not None:
            params[i, 3] = len(values)
            params[i, 4] = len(law.values)
            values.extend(law.values)
    return params, np.asarray(values if values else [0.0], dtype=np.float64)


def pack_delay_laws(laws: Sequence[DelayLaw]) -> tuple[np.ndarray, np.ndarray]:
    """Pack delay laws into ``params[L, 5] = (code, a, b, table offset, table length)`` and tables."""
    params = np.zeros((len(laws), 5))
    tables: list[np.ndarray] = []
    offset = 0
    for i, law in enumerate(laws):
        if law.max is None and law.law == "geometric":
            params[i, :3] = (D_GEOM, law.mean, 0.0)
        elif law.max is None and law.law == "pareto":
            params[i, :3] = (D_PARETO, law.tail, law.scale)
        else:
            t = law.table()
            params[i, :] = (D_TABLE, 0.0, 0.0, offset, len(t))
            tables.append(t)
            offset += len(t)
    table = np.concatenate(tables) if tables else np.zeros(1)
    return params, table


@jit
def _sample_time(params, values, law, speed, seed, counter):
    """Draw one duration of law ``law`` divided by ``speed``.

    Uses uniforms ``counter * COUNTERS_PER_DRAW + j`` of the stream, j < 64.
    """
    code = int(params[law, 0])
    mean = params[law, 1]
    shape = params[law, 2]
    base = counter * 64
    if code == 0:  # deterministic
        x = mean
    elif code == 1:  # exponential
        x = -mean * math.log(uniform(seed, base))
    elif code == 2:  # gamma: Marsaglia & Tsang (2000), boosted for shape < 1
        k = shape
        boost = 1.0
        if k < 1.0:
            boost = uniform(seed, base + 63) ** (1.0 / k)
            k += 1.0
        d = k - 1.0 / 3.0
        c = 1.0 / math.sqrt(9.0 * d)
        x = d  # fallback after 20 rejections: the mode region (probability < 1e-25)
        for j in range(20):
            z = normal(seed, (base >> 1) + j)  # uniforms base + 2j, base + 2j + 1
            v = 1.0 + c * z
            if v <= 0.0:
                continue
            v = v * v * v
            u = uniform(seed, base + 40 + j)
            if math.log(u) < 0.5 * z * z + d - d * v + d * math.log(v):
                x = d * v
                break
        x = x * boost * (mean / shape)
    elif code == 3:  # lognormal with the given mean
        x = math.exp(math.log(mean) - 0.5 * shape * shape + shape * normal(seed, base >> 1))
    elif code == 4:  # uniform on mean * [1 - h, 1 + h]
        x = mean * (1.0 - shape + 2.0 * shape * uniform(seed, base))
    elif code == 5:  # pareto with the given mean
        x = mean * (shape - 1.0) / shape * uniform(seed, base) ** (-1.0 / shape)
    else:  # empirical
        off = int(params[law, 3])
        n = int(params[law, 4])
        j = int(uniform(seed, base) * n)
        if j >= n:
            j = n - 1
        x = values[off + j]
    return x / speed


@jit
def _sample_delay(params, table, law, u):
    """Inverse-CDF draw of one delay of law ``law`` from the uniform ``u``."""
    code = int(params[law, 0])
    if code == 1:  # geometric with mean a: floor(log U / log q)
        mean = params[law, 1]
        if mean == 0.0:
            return 0
        q = mean / (1.0 + mean)
        d = math.floor(math.log(u) / math.log(q))
        return int(min(d, 4.0e18))
    if code == 2:  # discretised Lomax with tail a, scale s
        d = math.floor(params[law, 2] * (u ** (-1.0 / params[law, 1]) - 1.0))
        return int(min(d, 4.0e18))
    off = int(params[law, 3])
    n = int(params[law, 4])
    lo = 0
    hi = n - 1
    while lo < hi:  # first i with cdf[i] >= u
        mid = (lo + hi) // 2
        if table[off + mid] >= u:
            hi = mid
        else:
            lo = mid + 1
    return lo
