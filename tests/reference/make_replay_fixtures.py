"""Generate the replay fixtures of ``tests/test_replay_fixtures.py`` (run once, from the repository root).

The fixtures pin the trajectories of the first phase's replay kernel (integer dispatch, commit
7ca3fb7) on every battery problem under three fixed schedules: consistent reads (exponential
workers), torn reads (inconsistent, shared ownership) and the periodic round robin. Regenerating them
with a later kernel would make the equivalence test vacuous: do so only for a deliberate change of
a formula, and say so in the commit.

    python tests/reference/make_replay_fixtures.py tests/reference/fixtures/replay_battery.npz
"""

from __future__ import annotations

import sys

import numpy as np

from asyncconv.problems import PROBLEMS, make_problem
from asyncconv.schedule import ScheduleModel, draw_schedule
from asyncconv.sim import Iteration, replay
from asyncconv.theory.structured import active_pieces, sq_available

try:
    from reference.sizes import SIZES
except ImportError:  # pragma: no cover
    from tests.reference.sizes import SIZES

N_EVENTS = 600
N_CKPT = 12


def schedule_models(n: int) -> dict[str, ScheduleModel]:
    """The three fixed schedule families, sized for a problem of dimension n."""
    B = min(n, 4)
    P = min(2, B)
    return {
        "consistent": ScheduleModel.from_dict(
            {
                "n_workers": P,
                "reads": "consistent",
                "blocks": {"n_blocks": B, "ownership": "partitioned"},
                "timing": {"compute": {"law": "exponential", "mean": 1.0}},
            }
        ),
        "torn": ScheduleModel.from_dict(
            {
                "n_workers": 3,
                "reads": "inconsistent",
                "blocks": {"n_blocks": B, "ownership": "shared"},
                "timing": {"compute": {"law": "exponential", "mean": 1.0}, "read": 0.5},
            }
        ),
        "periodic": ScheduleModel.from_dict(
            {
                "n_workers": P,
                "blocks": {"n_blocks": B, "ownership": "partitioned"},
                "periodic": {"delay": P - 1},
            }
        ),
    }


ITERATIONS = {
    "consistent": Iteration.from_dict({"g0": 0.05, "p": 0.6, "m": 0.5}),
    "torn": Iteration.from_dict(
        {"g0": 0.02, "p": 0.7, "m": 0.3, "momentum": "nesterov", "noise": "gaussian", "noise_scale": 0.1}
    ),
    "periodic": Iteration.from_dict({"g0": 0.05, "p": 0.6, "m": 0.0}),
}


def cases():
    """(problem name, n, schedule kind) for every battery problem (its larger test size)."""
    for name in sorted(PROBLEMS):
        n = SIZES[name][-1]
        for kind in ("consistent", "torn", "periodic"):
            yield name, n, kind


def run_case(name: str, n: int, kind: str, make=make_problem):
    problem = make(name, n, seed=3)
    sched = draw_schedule(schedule_models(problem.n)[kind], N_EVENTS, seed=11)
    return replay(problem, sched, ITERATIONS[kind], seed=5, n_ckpt=N_CKPT, n_tail=2)


def piece_points():
    """(name, n, j, x, eta): three random points per problem with sum-of-max pieces (eta = inf, 0.5, 0)."""
    for name in sorted(PROBLEMS):
        n = SIZES[name][-1]
        problem = make_problem(name, n, seed=3)
        if not sq_available(problem):
            continue
        rng = np.random.default_rng(7)
        for j, eta in enumerate((np.inf, 0.5, 0.0)):
            x = problem.x0 * 0.5 + 0.3 * rng.standard_normal(problem.n)
            yield name, n, j, x, eta


def main(path: str) -> None:
    out = {}
    for name, n, kind in cases():
        res = run_case(name, n, kind)
        out[f"{name}/{kind}/metrics"] = res.metrics[0]
        out[f"{name}/{kind}/x"] = res.x_final[0]
        out[f"{name}/{kind}/tail"] = res.tail[0]
        print(name, kind, res.status[0])
    for name, n, j, x, eta in piece_points():
        pcs = active_pieces(make_problem(name, n, seed=3), x, eta)
        for field, arr in pcs._asdict().items():
            out[f"{name}/pieces{j}/{field}"] = arr
    np.savez_compressed(path, **out)


if __name__ == "__main__":
    main(sys.argv[1])
