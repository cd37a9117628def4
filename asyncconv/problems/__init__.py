"""The test-problem battery of ``reference/problems.md``: values, block subgradients, known critical sets.

Public API::

    prob = make_problem("chained_cb3_1", n=100)
    prob.value(prob.x0); prob.subgradient(prob.x0, lo=10, hi=20)
    list_problems()          # structure and what is known, one dict per problem

Inside Numba kernels call ``asyncconv.problems._kernels.value(pid, prm, data, x)`` and
``grad_range(pid, prm, data, x, lo, hi, idx, out)`` with ``prob.pid, prob.prm, prob.data``
(contract in the ``_kernels`` module docstring; DESIGN §4.3 and §6).
"""

from asyncconv.problems._kernels import grad_range, value
from asyncconv.problems._legacy_battery import PROBLEMS, Problem, ProblemSpec, list_problems, make_problem

__all__ = ["PROBLEMS", "Problem", "ProblemSpec", "grad_range", "list_problems", "make_problem", "value"]
