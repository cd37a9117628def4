"""Validation helpers shared by every config object.

Every user-facing config (schedule models now, study specs later) is a frozen dataclass built by
``from_dict``. Validation errors name the offending field with its full dotted path and say what is
allowed, so the CLI can print exactly one line and exit with status 2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "ConfigError",
    "check_choice",
    "check_int",
    "check_keys",
    "check_number",
    "check_probabilities",
    "json_default",
    "read_toml",
]


class ConfigError(ValueError):
    """An invalid configuration value.

    Attributes
    ----------
    field : str
        Dotted path of the offending field, e.g. ``"timing.compute.mean"``.
    message : str
        What is wrong and what is allowed.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


def file_sha256(path) -> str:
    """sha256 (hex) of a file's bytes: the one digest that ties input files (problem files, traces)
    to the studies that used them."""
    import hashlib
    from pathlib import Path

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def json_default(x: Any) -> Any:
    """``json.dumps(default=...)`` for NumPy scalars and arrays (everything else is an error)."""
    import numpy as np

    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")


def read_toml(path, field: str) -> dict[str, Any]:
    """Read a TOML file into a dict, dropping its top-level ``description``; errors name ``field``."""
    import tomllib
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise ConfigError(field, f"file not found: {p}")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(field, f"{p} is not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(field, f"{p} is not a UTF-8 text file") from None
    data.pop("description", None)
    return data


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_keys(
    data: Mapping[str, Any], allowed: Iterable[str], path: str, required: Iterable[str] = ()
) -> None:
    """Reject unknown keys (typos) and missing required keys."""
    if not isinstance(data, Mapping):
        raise ConfigError(path, f"must be a table/dict, got {type(data).__name__}")
    allowed = list(allowed)
    for key in data:
        if key not in allowed:
            raise ConfigError(_join(path, str(key)), f"unknown field; allowed fields: {', '.join(allowed)}")
    for key in required:
        if key not in data:
            raise ConfigError(_join(path, key), "is required")


def check_choice(value: Any, choices: Sequence[str], field: str) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(field, f"must be one of {', '.join(choices)} (got {value!r})")
    return value


def check_number(
    value: Any,
    field: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
) -> float:
    """Return ``value`` as a finite float within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(field, f"must be a number (got {value!r})")
    x = float(value)
    if not math.isfinite(x):
        raise ConfigError(field, f"must be finite (got {value!r})")
    if gt is not None and not x > gt:
        raise ConfigError(field, f"must be > {gt:g} (got {value!r})")
    if ge is not None and not x >= ge:
        raise ConfigError(field, f"must be >= {ge:g} (got {value!r})")
    if lt is not None and not x < lt:
        raise ConfigError(field, f"must be < {lt:g} (got {value!r})")
    if le is not None and not x <= le:
        raise ConfigError(field, f"must be <= {le:g} (got {value!r})")
    return x


def check_int(value: Any, field: str, *, ge: int | None = None, le: int | None = None) -> int:
    """Return ``value`` as an int within the given bounds (floats with integer value are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import numpy as np

            if isinstance(value, np.integer):
                value = int(value)
            else:
                raise TypeError
        except TypeError:
            raise ConfigError(field, f"must be an integer (got {value!r})") from None
    if ge is not None and value < ge:
        raise ConfigError(field, f"must be an integer >= {ge} (got {value!r})")
    if le is not None and value > le:
        raise ConfigError(field, f"must be an integer <= {le} (got {value!r})")
    return int(value)


def check_probabilities(
    values: Any, field: str, *, length: int | None = None, tol: float = 1e-9
) -> tuple[float, ...]:
    """Return a probability vector: non-negative, finite, summing to one within ``tol``."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise ConfigError(field, f"must be a list of probabilities (got {values!r})")
    if length is not None and len(values) != length:
        raise ConfigError(field, f"must have {length} entries (got {len(values)})")
    if len(values) == 0:
        raise ConfigError(field, "must not be empty")
    probs = tuple(check_number(v, f"{field}[{i}]", ge=0.0) for i, v in enumerate(values))
    total = math.fsum(probs)
    if abs(total - 1.0) > tol:
        raise ConfigError(field, f"probabilities must sum to 1 (they sum to {total:.12g})")
    return probs
