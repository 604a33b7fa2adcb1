"""Tests of refsampler.conformance.configs: the configurations and how they are selected."""

from __future__ import annotations

import re

import numpy as np
import pytest

from refsampler import InvalidArgumentError
from refsampler.conformance import cycles
from refsampler.conformance.configs import CONFIGS, Config, by_name, fixed_counts_feasible
from refsampler.conformance.runner import plan_run
from refsampler.targets import interpolate


def test_configs_cover_the_cases_that_break_samplers() -> None:
    """alpha 0, 1 and between; a singleton class; B <= 3; K > B; exact ties; a rotation."""
    alphas = {c.alpha for c in CONFIGS if not c.scheduled}
    assert any(c.scheduled for c in CONFIGS)
    assert {0.0, 1.0} <= alphas and any(0 < a < 1 for a in alphas)
    assert any(min(c.class_counts) == 1 for c in CONFIGS)
    assert any(c.batch_size <= 3 for c in CONFIGS)
    wide = [c for c in CONFIGS if c.num_classes > c.batch_size and c.samples_per_class is None]
    assert wide and all(not c.applies_to("fixed") and c.applies_to("quota") for c in wide)
    quotas = [c.batch_size * c.target() for c in CONFIGS]
    assert any(np.allclose(q, 1.5) for q in quotas)  # tied-remainders
    assert any(c.num_classes == 10 and c.batch_size == 4 for c in CONFIGS)


@pytest.mark.parametrize("kind", ["fixed", "quota"])
def test_a_cycle_ends_inside_batches_after_several_of_its_members(kind: str) -> None:
    """Some class is drawn ``a >= 3`` times every batch, at most ``n_c`` (so its batches must
    hold distinct members), with ``n_c`` not a multiple of ``a``: its cycles end after every
    count of draws ``1 .. a - 1`` into a batch, and hundreds of times after two or more, where
    the next cycle's head must avoid several members of the batch. distinct_in_batch runs
    there."""
    wraps = {}
    for where in plan_run([kind], CONFIGS):
        for c, size in enumerate(where.config.class_counts):
            counts = where.achievable_counts(c)
            if len(counts) == 1 and 3 <= counts[0] <= size:
                a = counts[0]
                into = np.arange(size, where.n_batches * a, size) % a  # draws into the batch
                if set(into.tolist()) == set(range(a)):
                    wraps[where.config.name] = int(np.count_nonzero(into >= 2))
                    assert ("distinct_in_batch", True) in cycles.plan_cycles(where)
    assert wraps and max(wraps.values()) >= 200, wraps


def test_names_are_unique_and_every_config_says_what_it_probes() -> None:
    """Names identify configurations on the command line; each has a reason."""
    assert len({c.name for c in CONFIGS}) == len(CONFIGS)
    assert all(c.why for c in CONFIGS)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_labels_have_the_class_counts_in_shuffled_order(config: Config) -> None:
    """labels() holds n_c copies of class c, is reproducible, and (K > 1) is not sorted."""
    labels = config.labels()
    assert labels.dtype == np.int64
    assert np.bincount(labels).tolist() == list(config.class_counts)
    assert np.array_equal(labels, config.labels())
    assert config.num_classes == 1 or not np.all(np.diff(labels) >= 0)


def test_target_is_the_interpolated_target() -> None:
    """target() is refsampler.targets.interpolate of the counts at alpha."""
    config = by_name(["long-tail"])[0]
    assert np.array_equal(config.target(), interpolate(list(config.class_counts), 0.5))


def test_applies_to_asks_the_fixed_counts_property_for_feasibility() -> None:
    """Only kinds with fixed counts can be infeasible: 10 classes do not fit 4 seats."""
    rotation = by_name(["rotation"])[0]
    assert not rotation.applies_to("fixed")
    assert rotation.applies_to("quota") and rotation.applies_to("random")
    assert not fixed_counts_feasible(rotation.target(), 4)
    assert fixed_counts_feasible(rotation.target(), 10)


def test_describe_gives_the_json_fields() -> None:
    """Class counts, batch size, alpha and target, as plain values."""
    described = by_name(["small-batch"])[0].describe()
    assert described["class_counts"] == [50, 30, 20] and described["batch_size"] == 3
    assert described["alpha"] == 0.3 and len(described["target"]) == 3


def test_by_name_keeps_the_order_given() -> None:
    """The selection follows the names."""
    assert [c.name for c in by_name(["rotation", "uniform"])] == ["rotation", "uniform"]
    assert by_name("uniform")[0].name == "uniform"


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([], "`configs` must name at least one configuration; got ()."),
        (
            ["uniform", "nope"],
            "`configs` must name configurations among uniform, long-tail, tiny-classes, "
            "small-batch, wrap-in-batch, single-class, tied-remainders, remainder-order, "
            "rotation, many-classes, schedule, pk-rotation, pk-long-tail, pk-every-batch; got "
            "'nope'.",
        ),
    ],
)
def test_by_name_rejects_unknown_or_no_names(names: list[str], message: str) -> None:
    """Bad selections raise InvalidArgumentError naming the argument and the value."""
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        by_name(names)
