"""Bit-identical trajectories across kernel rewrites: every battery problem under three fixed
schedules (consistent, torn, periodic) against fixtures written by the first phase's replay kernel
(integer dispatch over problems, inlined; commit 7ca3fb7), and the sum-of-max pieces of every
regular problem at fixed points (``tests/reference/make_replay_fixtures.py``)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

try:
    from reference import make_replay_fixtures as F
except ImportError:  # pragma: no cover
    from tests.reference import make_replay_fixtures as F

from asyncconv.problems import make_problem
from asyncconv.theory.structured import active_pieces

FIXTURES = np.load(pathlib.Path(__file__).parent / "reference" / "fixtures" / "replay_battery.npz")
CASES = list(F.cases())


def test_every_battery_problem_has_fixtures():
    names = {key.split("/")[0] for key in FIXTURES.files}
    assert names == {name for name, _, _ in CASES}


@pytest.mark.parametrize(("name", "n", "kind"), CASES, ids=[f"{a}-{c}" for a, _, c in CASES])
def test_replay_is_bit_identical_to_the_first_phase_kernel(name, n, kind):
    res = F.run_case(name, n, kind)
    for field, got in (("metrics", res.metrics[0]), ("x", res.x_final[0]), ("tail", res.tail[0])):
        want = FIXTURES[f"{name}/{kind}/{field}"]
        assert got.shape == want.shape
        # equal_nan: metrics without a reference (f_gap, dist) are NaN in both
        assert np.array_equal(got, want, equal_nan=True), f"{name}/{kind}/{field}"


PIECE_CASES = list(F.piece_points())


@pytest.mark.parametrize(
    ("name", "n", "j", "x", "eta"), PIECE_CASES, ids=[f"{c[0]}-{c[2]}" for c in PIECE_CASES]
)
def test_pieces_are_bit_identical_to_the_first_phase_kernel(name, n, j, x, eta):
    pcs = active_pieces(make_problem(name, n, seed=3), x, eta)
    for field, got in pcs._asdict().items():
        want = FIXTURES[f"{name}/pieces{j}/{field}"]
        assert np.array_equal(got, want, equal_nan=True), f"{name}/pieces{j}/{field}"
