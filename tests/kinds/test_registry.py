"""Tests of the kind registry (:mod:`refsampler.kinds`): names, traits, loading."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from refsampler import _validate, kinds
from refsampler.classes import ClassIndex
from refsampler.errors import InvalidArgumentError
from refsampler.kinds.base import CountedPlan, SampledPlan, Setting
from refsampler.targets import interpolate

INDEX = ClassIndex.from_labels(np.repeat(np.arange(4), [8, 6, 4, 2]))


def test_names_in_registration_order() -> None:
    """The four kinds, in registration order."""
    assert kinds.names() == ("fixed", "quota", "random", "pk")


@pytest.mark.parametrize("name", kinds.names())
def test_get_returns_valid_traits(name: str) -> None:
    """Each kind's traits name it, declare only known properties, and are frozen."""
    traits = kinds.get(name)
    assert traits.name == name
    assert traits.properties <= kinds.PROPERTIES and traits.properties
    assert traits.summary
    assert kinds.PROPERTY_EXCHANGEABLE in traits.properties
    with pytest.raises(dataclasses.FrozenInstanceError):
        traits.name = "other"  # type: ignore[misc]


def test_properties_of_each_kind() -> None:
    """What each kind promises: counted kinds cycle and mix classes, random is i.i.d. with
    replacement, pk has its shape and appearance bound and its own option."""
    assert kinds.PROPERTY_FIXED_COUNTS in kinds.get("fixed").properties
    assert kinds.PROPERTY_QUOTA_COUNTS in kinds.get("quota").properties
    assert kinds.get("random").properties == {
        kinds.PROPERTY_IID_CLASSES,
        kinds.PROPERTY_WITH_REPLACEMENT,
        kinds.PROPERTY_EXCHANGEABLE,
    }
    assert {kinds.PROPERTY_PK_SHAPE, kinds.PROPERTY_APPEARANCE_BOUND} <= kinds.get("pk").properties
    for name in ("fixed", "quota", "pk"):
        assert {kinds.PROPERTY_CYCLES, kinds.PROPERTY_MIXES_CLASSES} <= kinds.get(name).properties
    assert kinds.get("pk").options == ("samples_per_class",)
    assert all(kinds.get(n).options == () for n in ("fixed", "quota", "random"))


def test_unknown_properties_are_refused() -> None:
    """Traits may only declare properties of PROPERTIES."""
    with pytest.raises(ValueError, match="unknown properties"):
        kinds.KindTraits("x", frozenset({"telepathy"}), (), "")


@pytest.mark.parametrize("name", kinds.names())
def test_load_builds_the_kinds_plan(name: str) -> None:
    """load(name).build(setting) gives the kind's plan, counted or sampled, with its traits."""
    module = kinds.load(name)
    options = {"samples_per_class": 2} if name == "pk" else {}
    setting = Setting(INDEX, interpolate(INDEX.counts, 1.0), 4, 3, 1, 0, options)
    plan = module.build(setting)
    assert plan.traits == kinds.get(name)
    assert plan.setting is setting
    expected = SampledPlan if name == "random" else CountedPlan
    assert isinstance(plan, expected)
    assert isinstance(plan.describe(), dict)


@pytest.mark.parametrize("name", ["nope", "Fixed", ""])
def test_unknown_kind(name: str) -> None:
    """get and load raise KeyError; validation of user input raises InvalidArgumentError
    naming `kind`, the value and the registered names."""
    with pytest.raises(KeyError):
        kinds.get(name)
    with pytest.raises(KeyError):
        kinds.load(name)
    listed = '"fixed", "quota", "random", "pk"'
    with pytest.raises(InvalidArgumentError, match=re.escape(f"`kind` must be one of {listed}")):
        _validate.kind(name)
    with pytest.raises(InvalidArgumentError, match="`kind`"):
        _validate.kind(3)


def test_check_runs_a_kinds_own_hook_and_passes_options_through_otherwise() -> None:
    """kinds.check: pk validates and normalises its option and refuses infeasible targets;
    a kind without a hook takes its (empty) options as given."""
    counts = np.array([10, 10, 10, 10])
    uniform = [(np.full(4, 0.25), 1.0)]
    assert kinds.check("pk", counts, 8, {"samples_per_class": np.int64(2)}, uniform) == {
        "samples_per_class": 2
    }
    with pytest.raises(InvalidArgumentError, match="multiple of `samples_per_class`"):
        kinds.check("pk", counts, 9, {"samples_per_class": 2}, uniform)
    with pytest.raises(InvalidArgumentError, match="needs at least P = 4 classes"):
        kinds.check("pk", counts, 8, {"samples_per_class": 2}, [(np.array([0.5, 0.5, 0, 0]), None)])
    assert kinds.check("fixed", counts, 8, {}, uniform) == {}
