"""Model configs: validation (one clear error per bad field), round trips, shipped specs."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from asyncconv.config import ConfigError
from asyncconv.schedule import DelayLaw, ScheduleModel, TimeLaw, draw_schedule, partition

SIMS = Path(__file__).resolve().parents[1] / "sims" / "schedules"

BASE = {
    "n_workers": 2,
    "reads": "consistent",
    "blocks": {"n_blocks": 4, "ownership": "partitioned", "selection": "uniform"},
    "timing": {"compute": {"law": "exponential", "mean": 1.0}},
}


def _with(path: str, value):
    """BASE with the dotted ``path`` set to ``value`` (``...`` deletes it)."""
    d = copy.deepcopy(BASE)
    keys = path.split(".")
    node = d
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    if value is ...:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value
    return d


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("timing.compute.mean", -1.0, "timing.compute.mean"),
        ("timing.compute.law", "weibull", "timing.compute.law"),
        ("timing.compute", {"law": "gamma", "mean": 1.0}, "timing.compute.shape"),
        ("timing.compute", {"law": "pareto", "mean": 1.0, "shape": 0.9}, "timing.compute.shape"),
        ("timing.compute", {"law": "uniform", "mean": 1.0, "shape": 1.0}, "timing.compute.shape"),
        ("timing.compute", {"law": "exponential", "mean": 0.0}, "timing.compute.mean"),
        ("timing.compute", {"law": "empirical", "values": []}, "timing.compute.values"),
        ("timing.compute", {"law": "exponential", "mean": 1.0, "sahpe": 2}, "timing.compute.sahpe"),
        ("timing.speeds", [1.0], "timing.speeds"),
        ("timing.speeds", [1.0, 0.0], "timing.speeds[1]"),
        ("timing.pause_prob", 1.5, "timing.pause_prob"),
        ("timing.pause_prob", 0.1, "timing.pause"),
        ("timing.reed", 0.1, "timing.reed"),
        ("n_workers", 0, "n_workers"),
        ("n_workers", 2.5, "n_workers"),
        ("n_workers", 8, "blocks.n_blocks"),  # more owners than blocks
        ("reads", "torn", "reads"),
        ("blocks.ownership", "private", "blocks.ownership"),
        ("blocks.selection", "random", "blocks.selection"),
        ("blocks.selection", "weighted", "blocks.weights"),
        ("blocks.weights", [1, 1, 1, 1], "blocks.weights"),
        ("blocks.n_blocks", 0, "blocks.n_blocks"),
        ("blocks.write", "all", "blocks.write"),
        ("nworkers", 2, "nworkers"),
    ],
)
def test_every_invalid_field_raises_one_error_naming_it(path, value, field):
    with pytest.raises(ConfigError) as err:
        ScheduleModel.from_dict(_with(path, value))
    assert err.value.field == field
    assert "\n" not in str(err.value)


ABSTRACT = {"n_workers": 2, "blocks": {"n_blocks": 2, "ownership": "shared"}, "abstract": {"delay": 3}}


@pytest.mark.parametrize(
    ("sub", "field"),
    [
        ({"delay": {"law": "geometric"}}, "abstract.delay.mean"),
        ({"delay": {"law": "pareto", "tail": -1}}, "abstract.delay.tail"),
        ({"delay": {"law": "uniform", "low": 5, "high": 2}}, "abstract.delay.high"),
        ({"delay": {"law": "poisson", "mean": 1e4}}, "abstract.delay.mean"),
        ({"delay": {"law": "fixed", "value": 1, "max": 3}}, "abstract.delay.max"),
        ({"delay": [1, 2, 3]}, "abstract.delay"),
        ({"delay": 1, "block_probs": [0.5, 0.6]}, "abstract.block_probs"),
        ({"delay": 1, "block_probs": [1.5, -0.5]}, "abstract.block_probs[1]"),
        ({"delay": 1, "block_transition": [[1, 0], [0.2, 0.7]]}, "abstract.block_transition[1]"),
        ({"delay": 1, "writer_probs": [1.0]}, "abstract.writer_probs"),
        ({"delay": 1, "starve": {"block": 5, "exponent": 1}}, "abstract.starve.block"),
    ],
)
def test_abstract_model_validation(sub, field):
    with pytest.raises(ConfigError) as err:
        ScheduleModel.from_dict({**ABSTRACT, "abstract": sub})
    assert err.value.field == field


def test_exactly_one_source_and_periodic_reads():
    with pytest.raises(ConfigError, match="exactly one source"):
        ScheduleModel.from_dict({"n_workers": 1})
    with pytest.raises(ConfigError, match="exactly one source"):
        ScheduleModel.from_dict({**BASE, "periodic": {}})
    with pytest.raises(ConfigError) as err:
        ScheduleModel.from_dict(
            {"n_workers": 2, "reads": "inconsistent", "blocks": {"n_blocks": 2}, "periodic": {}}
        )
    assert err.value.field == "reads"
    with pytest.raises(ConfigError) as err:
        ScheduleModel.from_dict(
            {**ABSTRACT, "blocks": {"n_blocks": 2}, "abstract": {"delay": 1, "writer_probs": [0.5, 0.5]}}
        )
    assert err.value.field == "abstract.writer_probs"


@pytest.mark.parametrize("toml", sorted(SIMS.glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_models_load_round_trip_and_draw(toml):
    model = ScheduleModel.from_toml(toml)
    assert ScheduleModel.from_dict(model.to_dict()) == model
    sched = draw_schedule(model, 2000, seed=0)
    assert sched.n_events == 2000
    assert sched.model == model.to_dict()


def test_toml_errors(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        ScheduleModel.from_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("n_workers = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        ScheduleModel.from_toml(bad)


def test_round_trip_of_every_law():
    laws = [
        {"law": "deterministic", "mean": 2.0},
        {"law": "exponential", "mean": 0.5},
        {"law": "gamma", "mean": 1.0, "shape": 0.5},
        {"law": "lognormal", "mean": 1.0, "shape": 1.0},
        {"law": "uniform", "mean": 1.0, "shape": 0.5},
        {"law": "pareto", "mean": 1.0, "shape": 2.5},
        {"law": "empirical", "values": [0.5, 1.0, 4.0]},
    ]
    for d in laws:
        law = TimeLaw.from_dict(d, "x")
        assert TimeLaw.from_dict(law.to_dict(), "x") == law
    for d in [
        {"law": "fixed", "value": 3},
        {"law": "uniform", "low": 1, "high": 4},
        {"law": "geometric", "mean": 2.0, "max": 9},
        {"law": "poisson", "mean": 3.0},
        {"law": "pareto", "tail": 1.5, "scale": 2.0},
    ]:
        law = DelayLaw.from_dict(d, "x")
        assert DelayLaw.from_dict(law.to_dict(), "x") == law
        pmf = law.pmf(60)
        assert np.all(pmf >= 0) and pmf.sum() <= 1 + 1e-12


def test_partition_is_contiguous_and_balanced():
    off = partition(10, 4)
    assert off.tolist() == [0, 3, 6, 8, 10]
    with pytest.raises(ValueError):
        partition(3, 4)


def test_ownership_and_selection_probabilities():
    m = ScheduleModel.from_dict(
        {
            "n_workers": 2,
            "blocks": {"n_blocks": 4, "selection": "weighted", "weights": [1, 3, 1, 1]},
            "timing": {"compute": {"law": "exponential", "mean": 1.0}},
        }
    )
    owners = m.owners()
    assert owners.tolist() == [[True, True, False, False], [False, False, True, True]]
    probs = m.blocks.selection_probabilities(2)
    np.testing.assert_allclose(probs, [[0.25, 0.75, 0, 0], [0, 0, 0.5, 0.5]])


def test_delay_bound_of_bounded_timing_model():
    m = ScheduleModel.from_dict(
        {
            "n_workers": 3,
            "blocks": {"n_blocks": 3},
            "timing": {"compute": {"law": "uniform", "mean": 1.0, "shape": 0.5}},
        }
    )
    # job times in [0.5, 1.5]: each other worker completes at most floor(3) + 1 = 4 writes per job
    assert m.delay_bound() == 2 * 4
    assert ScheduleModel.timing_preset(n_workers=3).delay_bound() is None
    assert ScheduleModel.timing_preset(n_workers=1).delay_bound() == 0


def test_seed_must_be_explicit_and_valid():
    m = ScheduleModel.timing_preset(n_workers=2)
    with pytest.raises(ConfigError) as err:
        draw_schedule(m, 10, seed=-1)
    assert err.value.field == "seed"
    with pytest.raises(ConfigError) as err:
        draw_schedule(m, 0, seed=1)
    assert err.value.field == "n_events"
    a = draw_schedule(m, 100, np.random.SeedSequence(5).spawn(2)[1])
    b = draw_schedule(m, 100, np.random.SeedSequence(5).spawn(2)[1])
    assert a.same_events(b) and a.seed == b.seed and a.seed["spawn_key"] == [1]


def test_trace_model_replays_a_recorded_file_relative_to_the_model(tmp_path):
    recorded = draw_schedule(ScheduleModel.timing_preset(n_workers=3), 500, seed=1)
    recorded.save(tmp_path / "run.npz")
    (tmp_path / "m.toml").write_text('n_workers = 3\n[blocks]\nn_blocks = 3\n[trace]\npath = "run.npz"\n')
    model = ScheduleModel.from_toml(tmp_path / "m.toml")
    assert draw_schedule(model, 200, seed=0).same_events(recorded.truncate(200))
    with pytest.raises(ConfigError) as err:
        draw_schedule(model, 501, seed=0)
    assert err.value.field == "n_events"
    wrong = ScheduleModel.from_dict(
        {
            "n_workers": 2,
            "blocks": {"n_blocks": 3, "ownership": "shared"},
            "trace": {"path": str(tmp_path / "run.npz")},
        }
    )
    with pytest.raises(ConfigError) as err:
        draw_schedule(wrong, 10, seed=0)
    assert err.value.field == "trace.path"
