"""Convergence measures, verdicts and statistics (reference/measures.md).

* :mod:`~asyncconv.theory.measures` — DK, TC, GS, LY and momentum checks at a point or along a run;
* :mod:`~asyncconv.theory.structured` — the structured η-active measure s_η and its blockwise
  variant b_η for Clarke-regular sum-of-max problems;
* :mod:`~asyncconv.theory.qp` — the minimum-norm QPs behind TC, GS and SQ;
* :mod:`~asyncconv.theory.shadowing` — shadowing (APT) errors against the limit inclusion;
* :mod:`~asyncconv.theory.verdict` — per-run verdicts and pooled fractions with intervals;
* :mod:`~asyncconv.theory.stats` — intervals, quantile bands, time-to-ε and paired tests.
"""

from asyncconv.theory.measures import MEASURES, MeasureInvalid
from asyncconv.theory.verdict import (
    NOT_CONVERGING,
    OUTCOMES,
    VERDICTS,
    Thresholds,
    evaluate,
    evaluate_replica,
    outcome,
    pooled,
)

__all__ = [
    "MEASURES",
    "NOT_CONVERGING",
    "OUTCOMES",
    "VERDICTS",
    "MeasureInvalid",
    "Thresholds",
    "default_tail",
    "evaluate",
    "evaluate_replica",
    "outcome",
    "pooled",
]


def default_tail(n: int) -> int:
    """Read points kept per replica for the trajectory certificate: min(4n, M_max) per
    measures.md §5.3 with at least 32 (chatter across a kink needs both sides) and memory
    M·n <= 4·10^5 doubles (3.2 MB) per replica."""
    return int(min(max(4 * n, 32), max(8, 400_000 // max(n, 1))))
