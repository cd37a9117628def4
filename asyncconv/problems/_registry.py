"""The registry: built-in problems found by module, and a user's own from a file or a module.

Built-ins: every public module of :mod:`asyncconv.problems` (a name without a leading underscore)
is imported and every :class:`~asyncconv.problems._base.ProblemSpec` at its top level is
registered under its name. Adding a problem is adding one module (and its test).

A user's problem is named ``path/to/file.py:NAME`` (a file; relative paths against the current
directory) or ``package.module:NAME`` (an importable module); ``NAME`` is the module attribute
holding the result of :func:`~asyncconv.problems.define`. Its ``ref`` is the absolute
``file.py:NAME`` (or the module form) and its ``digest`` the sha256 of the file, so that a study
can record and check it. A user's problem is checked (:mod:`asyncconv.problems._check`) when
it is instantiated.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

from asyncconv.config import ConfigError, file_sha256
from asyncconv.problems._base import ProblemSpec

__all__ = ["absolute_ref", "builtin_specs", "file_digest", "get_spec", "is_user_ref"]

_BUILTIN: dict[str, ProblemSpec] | None = None
_USER: dict[tuple[str, str], ProblemSpec] = {}


def builtin_specs() -> dict[str, ProblemSpec]:
    """name -> spec of every built-in problem (modules in name order, specs in definition order)."""
    global _BUILTIN
    if _BUILTIN is None:
        import asyncconv.problems as pkg

        found: dict[str, ProblemSpec] = {}
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            if info.name.startswith("_"):
                continue
            mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
            for spec in _specs_of(mod):
                if spec.name in found:
                    raise RuntimeError(
                        f"problem {spec.name!r} is defined twice ({found[spec.name].origin}, {mod.__name__})"
                    )
                found[spec.name] = dataclasses.replace(spec, origin=mod.__name__, ref=spec.name)
        _BUILTIN = found
    return _BUILTIN


def _specs_of(mod: ModuleType) -> list[ProblemSpec]:
    return [v for k, v in vars(mod).items() if isinstance(v, ProblemSpec) and not k.startswith("_")]


def is_user_ref(name: str) -> bool:
    """True for ``file.py:NAME`` and ``module:NAME`` references (a built-in name has no colon)."""
    return isinstance(name, str) and ":" in name


def absolute_ref(name: object, base: str | Path) -> object:
    """A problem file reference ``file.py:NAME`` made absolute against the folder ``base``
    (built-in names, module references and non-strings are returned as given)."""
    if not isinstance(name, str) or not is_user_ref(name):
        return name
    where, _, attr = name.rpartition(":")
    if _is_file(where):
        return f"{(Path(base) / Path(where).expanduser()).resolve()}:{attr}"
    return name


def _is_file(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes (hex)."""
    return file_sha256(path)


def _split(ref: str, field: str) -> tuple[str, str]:
    where, _, attr = ref.rpartition(":")
    if not where or not attr.isidentifier():
        raise ConfigError(
            field, f"a problem reference is path/to/file.py:NAME or package.module:NAME (got {ref!r})"
        )
    return where, attr


def _load_file(path: Path, field: str) -> ModuleType:
    # one module object per file content: a changed file is a new module (and a new Numba cache
    # entry, keyed by the file's stamp)
    digest = file_digest(path)
    modname = f"asyncconv_user_{path.stem}_{digest[:12]}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise ConfigError(field, f"{path}: not a Python source file")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    try:
        spec.loader.exec_module(mod)
    except Exception as err:  # the user's module failed to import: one line, its own error
        del sys.modules[modname]
        raise ConfigError(field, f"{path}: importing it failed: {type(err).__name__}: {err}") from None
    return mod


def get_spec(name: str, field: str = "name") -> ProblemSpec:
    """The spec of a built-in name, ``path/to/file.py:NAME`` or ``package.module:NAME``.

    Errors (unknown name, missing file, import failure, NAME not in the module, not a problem)
    raise :class:`~asyncconv.config.ConfigError` naming ``field``.
    """
    if not isinstance(name, str):
        raise ConfigError(field, f"must be a problem name or path/to/file.py:NAME (got {name!r})")
    builtin = builtin_specs()
    if not is_user_ref(name):
        if name in builtin:
            return builtin[name]
        raise ConfigError(
            field,
            f"unknown problem {name!r}; allowed: {', '.join(builtin)}, or your own as "
            "path/to/file.py:NAME or package.module:NAME",
        )
    where, attr = _split(name, field)
    if _is_file(where):
        path = Path(where).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(field, f"problem file not found: {where}")
        key = (str(path), file_digest(path))
        ref = f"{path}:{attr}"
        origin = str(path)
        if (key, attr) in _USER:
            return _USER[(key, attr)]
        mod = _load_file(path, field)
    else:
        try:
            mod = importlib.import_module(where)
        except Exception as err:
            raise ConfigError(field, f"cannot import module {where!r}: {type(err).__name__}: {err}") from None
        file = getattr(mod, "__file__", None)
        key = (where, file_digest(file) if file else "")
        ref = f"{where}:{attr}"
        origin = file or where
        if (key, attr) in _USER:
            return _USER[(key, attr)]
    if not hasattr(mod, attr):
        found = [k for k, v in vars(mod).items() if isinstance(v, ProblemSpec)]
        hint = f"; problems defined there: {', '.join(found)}" if found else "; it defines no problem"
        raise ConfigError(field, f"{attr!r} is not defined in {where}{hint}")
    spec = getattr(mod, attr)
    if not isinstance(spec, ProblemSpec):
        raise ConfigError(
            field,
            f"{where}:{attr} is a {type(spec).__name__}, not a problem: build it with "
            "asyncconv.problems.define(name, value=..., grad=..., n=..., x0=...)",
        )
    spec = dataclasses.replace(spec, origin=origin, ref=ref, digest=key[1])
    _USER[(key, attr)] = spec
    return spec
