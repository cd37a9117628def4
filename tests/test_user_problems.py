"""A researcher's own problem from a file: through ``simulate``, a study (with resume, and refused
after the file changes), the torch replay (with a twin); the checks that reject malformed problems
with one line and exit status 2; and the cache that cannot go stale (a changed gradient takes
effect in the next process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from asyncconv import _jit
from asyncconv.config import ConfigError
from asyncconv.problems import make_problem

try:
    from test_cli import run
except ImportError:  # pragma: no cover
    from tests.test_cli import run

ROOT = Path(__file__).resolve().parents[1]
ROBUST = ROOT / "sims" / "problems" / "robust_regression.py"

#: a chain of absolute values with a torch twin: f = Σ_i |x_i - x_{i+1}| + ½ Σ_i (x_i - 1)²
CHAIN = """
import numpy as np
from asyncconv.problems import define


def value(prm, data, x):
    f = 0.0
    for i in range(x.shape[0] - 1):
        f += abs(x[i] - x[i + 1])
    for i in range(x.shape[0]):
        f += 0.5 * (x[i] - 1.0) ** 2 * SCALE
    return f


def grad(prm, data, x, lo, hi, idx, out):
    n = x.shape[0]
    for j in range(lo, hi):
        g = (x[j] - 1.0) * SCALE
        if j >= 1:
            d = x[j] - x[j - 1]
            g += 1.0 if d > 0.0 else (-1.0 if d < 0.0 else 0.0)
        if j <= n - 2:
            d = x[j] - x[j + 1]
            g += 1.0 if d > 0.0 else (-1.0 if d < 0.0 else 0.0)
        out[j - lo] = g


def torch_value(x, data, prm, idx):
    import torch

    d = x[:-1] - x[1:]
    return torch.where(d >= 0.0, d, -d).sum() + 0.5 * SCALE * ((x - 1.0) ** 2).sum()


SCALE = 1.0
CHAIN = define("tv_chain", value=value, grad=grad, n=6, x0=np.linspace(-1.0, 1.0, 6), halo=1,
               coupling="chain", critical_points=np.ones((1, 6)), torch=torch_value)
"""


def _write(tmp_path: Path, text: str, name: str = "mine.py") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_shipped_example_runs_through_simulate(capsys):
    code, out, err = run(
        capsys, "simulate", "--problem", f"{ROBUST}:ROBUST", "--workers", 2, "--events", 2000,
        "--replicas", 2, "--json",
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    assert res["problem"].endswith("robust_regression.py:ROBUST") and res["n"] == 16
    assert all(r["status"] == "finished" and np.isfinite(r["f_final"]) for r in res["replicas"])
    # the replay moved f down from x0
    p = make_problem(f"{ROBUST}:ROBUST")
    assert max(r["f_final"] for r in res["replicas"]) < p.value(p.x0)


def test_user_problem_in_a_study_resume_and_changed_file(tmp_path, capsys):
    prob = _write(tmp_path, CHAIN)
    spec = tmp_path / "study.toml"
    spec.write_text(
        textwrap.dedent(
            """
            [study]
            name = "mine"
            replicas = 4
            events = 3000
            batch = 2
            [problem]
            name = "mine.py:CHAIN"
            [schedule]
            n_workers = 2
            blocks = { n_blocks = 2, ownership = "partitioned" }
            timing = { compute = { law = "exponential", mean = 1.0 } }
            [iteration]
            g0 = 0.05
            """
        )
    )
    out_dir = tmp_path / "res"
    # from another directory: the problem file resolves against the spec's folder
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code, out, err = run(capsys, "study", "run", spec, "-o", out_dir, "-q", "--workers", 1)
        assert code == 0, out + err
        meta = json.loads((out_dir / "study.json").read_text())
        recorded = meta["configs"][0]["problem"]
        assert recorded["name"] == f"{prob}:CHAIN" and len(recorded["digest"]) == 64
        code, out, err = run(capsys, "study", "resume", out_dir, "-q", "--workers", 1)
        assert code == 0, out + err
        # the file changes: resume is refused with one line naming the file
        prob.write_text(prob.read_text().replace("SCALE = 1.0", "SCALE = 2.0"))
        code, out, err = run(capsys, "study", "resume", out_dir, "-q", "--workers", 1)
        assert code == 2
        line = (out + err).strip()
        assert "changed since the study" in line and str(prob) in line and len(line.splitlines()) == 1
    finally:
        os.chdir(cwd)


def test_user_problem_torch_replay_matches_numba(tmp_path):
    torch = pytest.importorskip("torch")
    from asyncconv.schedule import ScheduleModel, draw_schedule
    from asyncconv.sim import Iteration
    from asyncconv.sim import replay as nb_replay
    from asyncconv.torch.problems import torch_problem
    from asyncconv.torch.replay import replay

    torch.set_num_threads(1)
    p = make_problem(f"{_write(tmp_path, CHAIN)}:CHAIN")
    assert p.has_torch
    model = ScheduleModel.timing_preset(n_workers=2, n_blocks=3, ownership="shared", reads="inconsistent",
                                        read_time=0.5)  # fmt: skip
    s = draw_schedule(model, 400, seed=3)
    it = Iteration(noise="gaussian", m=0.5)
    tp = torch_problem(p, s.n_blocks)
    ref = nb_replay(p, s, it, seed=5).x_final[0]
    got = replay(tp.params, tp.layout, tp.loss, s, it, seed=5, n_samples=tp.n_samples).flat().numpy()
    assert np.abs(got - ref).max() <= 1e-10 * max(1.0, np.abs(ref).max())


def test_builtin_without_twin_is_refused_by_torch():
    pytest.importorskip("torch")
    from asyncconv.torch.problems import torch_problem

    with pytest.raises(ConfigError, match="no torch twin"):
        torch_problem(make_problem("trap"), 2)


GOOD_VALUE = "def value(prm, data, x):\n    return float(np.sum(x * x))\n"
GOOD_GRAD = "def grad(prm, data, x, lo, hi, idx, out):\n    for j in range(lo, hi):\n        out[j - lo] = 2.0 * x[j]\n"
HEAD = "import numpy as np\nfrom asyncconv.problems import define\n"


def _mal(
    value=GOOD_VALUE, grad=GOOD_GRAD, define="P = define('q', value=value, grad=grad, n=4, x0=np.ones(4))"
):
    return HEAD + value + grad + define + "\n"


MALFORMED = [
    # (file text or None for a missing file, NAME, words the line must contain)
    (_mal(value="def value(x):\n    return 0.0\n"), "P", ["value", "must take (prm, data, x)"]),
    (_mal(grad="def grad(prm, data, x, lo, hi, out):\n    pass\n"), "P", ["grad", "must take"]),
    (_mal(value="def value(prm, data, x):\n    return x\n"), "P", ["value", "does not compile"]),
    (_mal(value="def value(prm, data, x):\n    return np.nan\n"), "P", ["value", "not finite at x0"]),
    (
        _mal(
            grad="def grad(prm, data, x, lo, hi, idx, out):\n    for j in range(lo, hi):\n        out[j - lo] = 3.0 * x[j]\n"
        ),
        "P",
        ["grad", "inconsistent with", "central difference"],
    ),
    (
        _mal(define="P = define('q', value=value, grad=grad, x0=np.ones(4))"),
        "P",
        ["n", "needs either n and x0"],
    ),
    (None, "P", ["problem file not found"]),
    (_mal(), "Q", ["'Q' is not defined", "problems defined there: P"]),
    (
        _mal(value="def value(prm, data, x):\n    return undefined_name + 1.0\n"),
        "P",
        ["value", "does not compile"],
    ),
    (_mal(define="P = define('q', value=value, grad=grad, n=4, x0=np.ones(3))"), "P", ["x0", "shape"]),
    (
        _mal(
            grad="def grad(prm, data, x, lo, hi, idx, out):\n    for j in range(lo, hi):\n        out[j - lo] = 2.0 * x[j] + 0.001 * x[0]\n"
        ).replace("x0=np.ones(4))", "x0=np.ones(4), halo=0)"),
        "P",
        ["grad", "outside [lo - halo, hi + halo)"],
    ),
    (_mal(define="P = 3"), "P", ["is a int, not a problem"]),
    (HEAD + "raise RuntimeError('boom')\n", "P", ["importing it failed", "boom"]),
    (
        _mal(
            grad="def grad(prm, data, x, lo, hi, idx, out):\n    for j in range(hi - lo):\n        out[j] = 2.0 * x[j]\n"
        ),
        "P",
        ["grad", "range", "sliced"],
    ),
]


@pytest.mark.parametrize(("text", "attr", "needles"), MALFORMED, ids=[f"m{i}" for i in range(len(MALFORMED))])
def test_malformed_user_problem_is_one_line_and_exit_2(tmp_path, capsys, text, attr, needles):
    path = tmp_path / "bad.py"
    if text is not None:
        path.write_text(text)
    code, out, err = run(capsys, "simulate", "--problem", f"{path}:{attr}", "--events", 100, "--replicas", 1)
    line = (out + err).strip()
    assert code == 2, line
    assert len(line.splitlines()) == 1 and "Traceback" not in line, line
    assert line.startswith(("error: --problem", "--problem")) or "--problem" in line
    for needle in needles:
        assert needle in line, (needle, line)


def test_module_reference_and_pickling(tmp_path, monkeypatch):
    import pickle

    _write(tmp_path, CHAIN, "my_chain_mod.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    p = make_problem("my_chain_mod:CHAIN")
    assert p.name == "my_chain_mod:CHAIN" and p.spec.digest
    q = pickle.loads(pickle.dumps(p))  # Dask ships problems by reference to their spec
    x = np.linspace(0, 1, 6)
    assert q.value(x) == p.value(x) and np.array_equal(q.subgradient(x), p.subgradient(x))
    b = pickle.loads(pickle.dumps(make_problem("chained_lq", 5)))
    assert b.spec is make_problem("chained_lq", 5).spec


# --- the cache that cannot go stale -----------------------------------------------------------------

REPLAY = """
import sys
from asyncconv.problems import make_problem
from asyncconv.schedule import ScheduleModel, draw_schedule
from asyncconv.sim import Iteration, replay

p = make_problem(sys.argv[1])
s = draw_schedule(ScheduleModel.timing_preset(n_workers=2, n_blocks=2), 300, seed=1)
print(repr(float(replay(p, s, Iteration(noise="none"), seed=0).x_final[0].sum())))
"""


def _replay_in_new_process(ref: str, cache: Path) -> float:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", REPLAY, ref], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def test_changed_gradient_takes_effect_in_the_next_process(tmp_path):
    prob = _write(tmp_path, CHAIN)
    cache = tmp_path / "cache"
    ref = f"{prob}:CHAIN"
    a = _replay_in_new_process(ref, cache)
    assert _replay_in_new_process(ref, cache) == a  # cached: same code, same bits
    # change the gradient (and the value with it, or the checks refuse the file): the cached
    # replay kernel must call the new gradient
    prob.write_text(prob.read_text().replace("SCALE = 1.0", "SCALE = 3.0"))
    b = _replay_in_new_process(ref, cache)
    assert b != a
    prob.write_text(prob.read_text().replace("SCALE = 3.0", "SCALE = 1.0"))
    assert _replay_in_new_process(ref, cache) == a


def test_cache_key_covers_every_kernel_source():
    """Every package file that holds jitted code is hashed into the cache folder's name; the folders
    left out (NO_KERNELS) hold none."""
    import re

    hashed = set(_jit.kernel_sources())
    jitted = re.compile(r"@jit\b|\bjit\(|\b(numba|nb)\.(njit|jit|cfunc)\b|\bprange\b")
    for p in _jit.PACKAGE.rglob("*.py"):
        holds_kernels = bool(jitted.search(p.read_text()))
        if p not in hashed:
            assert not holds_kernels, f"{p} holds jitted code but is not in the cache key"
    # every kernel goes through _jit (which sets the keyed cache before any decorator runs)
    direct = re.compile(r"\b(numba|nb)\.(njit|jit|cfunc)\b")
    for p in _jit.PACKAGE.rglob("*.py"):
        if p.name != "_jit.py":
            assert not direct.search(p.read_text()), f"{p} uses numba's decorators directly, not _jit.jit"
    assert _jit.cache_dir().name == f"numba-{_jit.source_hash()}"
    import numba

    assert numba.config.CACHE_DIR == str(_jit.cache_dir())


def test_source_hash_changes_with_any_kernel_source(tmp_path, monkeypatch):
    import shutil

    pkg = tmp_path / "asyncconv"
    shutil.copytree(_jit.PACKAGE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_jit, "PACKAGE", pkg)
    before = _jit.source_hash()
    rng = pkg / "rng.py"
    rng.write_text(rng.read_text() + "\n# an edit\n")
    assert _jit.source_hash() != before
    cli = pkg / "cli.py"  # not kernel code: same key
    after = _jit.source_hash()
    cli.write_text(cli.read_text() + "\n# an edit\n")
    assert _jit.source_hash() == after


def test_config_error_from_make_problem_names_the_function(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(_mal(value="def value(prm, data, x):\n    return np.inf\n"))
    with pytest.raises(ConfigError) as err:
        make_problem(f"{path}:P")
    assert err.value.field == "value" and "not finite" in err.value.message
