"""Simulation of the analysed iteration: jitted replay of schedules on the test problems.

from asyncconv.problems import make_problem
from asyncconv.schedule import ScheduleModel
from asyncconv.sim import Iteration, simulate
res = simulate(make_problem("trap"), ScheduleModel.timing_preset(n_workers=2), Iteration(),
               n_events=100_000, n_replicas=8, seed=1)
"""

from asyncconv.sim.simulate import METRIC_NAMES, ReplayState, SimResult, replay, simulate
from asyncconv.sim.variants import Iteration

__all__ = ["METRIC_NAMES", "Iteration", "ReplayState", "SimResult", "replay", "simulate"]
