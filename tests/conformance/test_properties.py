"""Tests of refsampler.conformance.properties: checks chosen by contract property."""

from __future__ import annotations

import re

import pytest

from refsampler import InvalidArgumentError
from refsampler import kinds as _kinds
from refsampler.conformance import mutants, properties, verify

from ._shared import TEST_LEVEL

PK_PROPERTIES = {_kinds.PROPERTY_PK_SHAPE, _kinds.PROPERTY_APPEARANCE_BOUND}


def test_every_property_has_checks() -> None:
    """Every property of the registry maps to a check family, the P x m shape and the
    appearance bound included; a kind is checkable when the kit can pass its options."""
    assert set(properties.PROPERTY_CHECKS) == _kinds.PROPERTIES
    assert PK_PROPERTIES <= set(properties.PROPERTY_CHECKS)
    for kind in _kinds.names():
        traits = _kinds.get(kind)
        assert properties.unchecked_properties(kind) == frozenset()
        assert properties.checkable(kind) == (set(traits.options) <= properties.SUPPORTED_OPTIONS)
    assert {"fixed", "quota", "random", "pk"} <= {
        k for k in _kinds.names() if properties.checkable(k)
    }


def test_planned_check_ids_are_readable() -> None:
    """kind-config-check, with brackets turned into a dash."""
    check = properties.PlannedCheck("random", "long-tail", "class_share[3]", False)
    assert check.id == "random-long-tail-class_share-3"


@pytest.fixture
def extra_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two kinds known only by their properties: copies of random and quota, renamed."""
    traits = dict(_kinds._TRAITS)
    for name, like in (("shuffled", "random"), ("rotating", "quota")):
        traits[name] = _kinds.KindTraits(name, _kinds.get(like).properties, (), "test kind")
    traits["paired"] = _kinds.KindTraits(
        "paired", frozenset({_kinds.PROPERTY_PK_SHAPE}), ("pairs_per_batch",), "test kind"
    )
    monkeypatch.setattr(_kinds, "_TRAITS", traits)


@pytest.mark.statistical(level=TEST_LEVEL)
@pytest.mark.usefixtures("extra_kinds")
def test_a_new_kind_is_checked_by_declaring_its_properties() -> None:
    """A kind the kit has never heard of gets the checks of its properties, and a correct
    implementation (the control dispatches on properties too) passes them (rate 1e-8)."""
    report = verify(
        mutants.control,
        kinds=["shuffled", "rotating"],
        configs=["rotation"],
        family_level=TEST_LEVEL,
    )
    assert report.conforms, report.table(failures_only=True)
    names = {(r.kind, r.check) for r in report.results}
    assert ("shuffled", "member_repeats") in names and ("shuffled", "class_shares") in names
    assert ("rotating", "classes_meet") in names and ("rotating", "prefix_error_below_1") in names


@pytest.mark.usefixtures("extra_kinds")
def test_a_kind_with_unchecked_properties_is_refused() -> None:
    """The kit does not pretend to verify a kind whose options it cannot pass."""
    message = "`kinds` names kind 'paired', which the kit cannot pass its options; got ('paired',)."
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        verify(mutants.control, kinds=["paired"])
