"""Hypothesis strategies that draw valid schedule-model dicts (the ``ScheduleModel.from_dict`` form)."""

from __future__ import annotations

from hypothesis import strategies as st

from asyncconv.schedule.laws import TIME_LAWS

__all__ = [
    "BOUNDED_TIME_LAWS",
    "CONTINUOUS_TIME_LAWS",
    "abstract_models",
    "periodic_models",
    "time_laws",
    "timing_models",
]

#: laws with bounded support (the timing model's delay bound needs them)
BOUNDED_TIME_LAWS = ("deterministic", "uniform", "empirical")
#: laws whose draws tie with probability zero
CONTINUOUS_TIME_LAWS = ("exponential", "gamma", "lognormal", "uniform", "pareto")


def _floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


_MEANS = st.sampled_from([0.5, 1.0, 2.0]) | _floats(0.05, 3.0)


@st.composite
def time_laws(draw, laws=TIME_LAWS, *, continuous: bool = False, min_positive: bool = False):
    """One duration law (dict form) with positive mean.

    ``continuous``: no atoms (uniform with a positive half-width, no empirical/deterministic).
    ``min_positive``: the shortest possible duration is positive (for delay bounds).
    """
    law = draw(st.sampled_from(laws))
    if law == "deterministic":
        return {"law": "deterministic", "mean": draw(_MEANS)}
    if law == "empirical":
        vals = draw(
            st.lists(
                st.sampled_from([0.0, 0.5, 1.0]) | _floats(0.0, 3.0),
                min_size=1,
                max_size=5,
            )
        )
        if min_positive:
            vals = [v + 0.1 for v in vals]
        elif max(vals) == 0.0:
            vals.append(1.0)
        return {"law": "empirical", "values": vals}
    out = {"law": law, "mean": draw(_MEANS)}
    if law == "uniform":
        out["shape"] = draw(
            _floats(0.05, 0.95) if continuous or min_positive else st.just(0.0) | _floats(0.0, 0.95)
        )
    elif law == "pareto":
        out["shape"] = draw(st.sampled_from([1.5, 2.0, 3.0]) | _floats(1.1, 5.0))
    elif law in ("gamma", "lognormal"):
        out["shape"] = draw(_floats(0.3, 4.0))
    return out


@st.composite
def _blocks(draw, n_workers: int, *, max_blocks: int = 8, selections=("uniform", "weighted", "cyclic")):
    ownership = draw(st.sampled_from(["partitioned", "shared"]))
    lo = n_workers if ownership == "partitioned" else 1
    B = draw(st.integers(lo, max(lo, max_blocks)))
    out = {
        "n_blocks": B,
        "ownership": ownership,
        "selection": draw(st.sampled_from(selections)),
        "write": draw(st.sampled_from(["block", "owned"])),
    }
    if out["selection"] == "weighted":
        out["weights"] = draw(st.lists(_floats(0.1, 10.0), min_size=B, max_size=B))
    return out


@st.composite
def timing_models(
    draw,
    laws=TIME_LAWS,
    *,
    min_workers: int = 1,
    max_workers: int = 6,
    max_blocks: int = 8,
    continuous: bool = False,
    bounded: bool = False,
    read_zero: bool = False,
    read_positive: bool = False,
    reads=("consistent", "inconsistent"),
):
    """A timing model dict.

    ``continuous``: every job time has a density (no ties between workers with probability one).
    ``bounded``: every job time lies in [T_min, T_max] with 0 < T_min <= T_max < inf (pauses are
    free: they only lengthen the gaps between jobs).
    ``read_zero`` / ``read_positive``: force a zero / a non-zero read-time law.
    """
    P = draw(st.integers(min_workers, max_workers))
    if bounded:
        laws = tuple(x for x in laws if x in BOUNDED_TIME_LAWS)
    if continuous:
        laws = tuple(x for x in laws if x in CONTINUOUS_TIME_LAWS)
    law = time_laws(laws, continuous=continuous, min_positive=bounded)
    # read/write/pause laws: anything from `laws`, plus zero durations
    side = time_laws(laws, min_positive=bounded)
    timing = {
        "compute": draw(law | st.lists(law, min_size=P, max_size=P)),
        "read": 0.0 if read_zero else draw(side if read_positive else st.just(0.0) | side),
        "write": draw(st.just(0.0) | side),
    }
    if draw(st.booleans()):
        timing["speeds"] = draw(
            st.lists(st.sampled_from([1.0, 2.0]) | _floats(0.25, 4.0), min_size=P, max_size=P)
        )
    if draw(st.booleans()):
        timing["pause_prob"] = draw(_floats(0.05, 0.8))
        timing["pause"] = draw(time_laws(TIME_LAWS if bounded else laws, continuous=continuous))
    elif draw(st.booleans()):  # a pause law that is never used
        timing["pause"] = draw(time_laws(laws))
    return {
        "n_workers": P,
        "reads": draw(st.sampled_from(reads)),
        "blocks": draw(_blocks(P, max_blocks=max_blocks)),
        "timing": timing,
    }


@st.composite
def _probabilities(draw, n: int, *, allow_zero: bool = True):
    w = draw(
        st.lists((st.just(0.0) if allow_zero else st.nothing()) | _floats(0.05, 1.0), min_size=n, max_size=n)
    )
    if sum(w) == 0.0:
        w[draw(st.integers(0, n - 1))] = 1.0
    total = sum(w)
    return [x / total for x in w]


@st.composite
def delay_laws(draw, *, bounded: bool = False):
    law = draw(st.sampled_from(["fixed", "uniform", "geometric", "poisson", "pareto"]))
    mx = draw(st.integers(0, 12)) if bounded else draw(st.none() | st.integers(0, 12))
    if law == "fixed":
        return {"law": "fixed", "value": draw(st.integers(0, 10))}
    if law == "uniform":
        lo = draw(st.integers(0, 6))
        return {"law": "uniform", "low": lo, "high": lo + draw(st.integers(0, 6))}
    out: dict = {"law": law}
    if law in ("geometric", "poisson"):
        out["mean"] = draw(st.sampled_from([0.0, 1.0, 3.0]) | _floats(0.0, 8.0))
    else:
        out["tail"] = draw(_floats(0.3, 3.0))
        out["scale"] = draw(_floats(0.3, 4.0))
    if mx is not None:
        out["max"] = mx
    return out


@st.composite
def abstract_models(draw, *, max_workers: int = 5, max_blocks: int = 8, bounded: bool = False):
    """An abstract delay-law model dict (``bounded``: every delay law has a finite bound)."""
    P = draw(st.integers(1, max_workers))
    blocks = draw(_blocks(P, max_blocks=max_blocks, selections=("uniform", "cyclic")))
    B = blocks["n_blocks"]
    laws = delay_laws(bounded=bounded)
    ab: dict = {"delay": draw(laws | st.lists(laws, min_size=B, max_size=B))}
    choice = draw(st.sampled_from(["none", "probs", "transition"]))
    if choice == "probs":
        ab["block_probs"] = draw(_probabilities(B))
    elif choice == "transition":
        ab["block_transition"] = [draw(_probabilities(B)) for _ in range(B)]
    if blocks["ownership"] == "shared" and draw(st.booleans()):
        ab["writer_probs"] = draw(_probabilities(P))
    if draw(st.booleans()):
        ab["starve"] = {
            "block": draw(st.integers(0, B - 1)),
            "exponent": draw(st.just(0.0) | _floats(0.0, 2.0)),
        }
    return {
        "n_workers": P,
        "reads": draw(st.sampled_from(["consistent", "inconsistent"])),
        "blocks": blocks,
        "abstract": ab,
    }


@st.composite
def periodic_models(draw, *, max_workers: int = 6, max_blocks: int = 8):
    P = draw(st.integers(1, max_workers))
    blocks = draw(_blocks(P, max_blocks=max_blocks, selections=("uniform", "cyclic")))
    return {"n_workers": P, "blocks": blocks, "periodic": {"delay": draw(st.integers(0, 15))}}
