"""Tests of refsampler.conformance.cycles: cycles without replacement, reshuffled, distinct."""

from __future__ import annotations

import pytest

from refsampler.conformance import cycles, mutants

from ._shared import failed, sample, setting

LONG_TAIL = ("long-tail", 600)


@pytest.mark.parametrize("kind", ["fixed", "quota"])
def test_cycle_checks_pass_for_the_control(kind: str) -> None:
    """The control's cycles are fresh permutations, distinct within a batch (exact)."""
    results = cycles.cycle_checks(sample(mutants.control, setting(kind, *LONG_TAIL), seed=3))
    assert [r.check for r in results] == [
        "without_replacement_in_cycle",
        "distinct_in_batch",
        "cycles_reshuffled",
    ]
    assert failed(results) == set()
    assert "0 of" in results[2].detail and "0 of 0" not in results[2].detail


@pytest.mark.parametrize(
    ("mutant", "caught"),
    [
        ("with_replacement", {"without_replacement_in_cycle", "distinct_in_batch"}),
        ("no_reshuffle", {"cycles_reshuffled"}),
        ("alternating_cycles", {"cycles_reshuffled"}),
        ("repeats_at_wrap", {"distinct_in_batch"}),
    ],
)
def test_cycle_checks_catch_replacement_reuse_and_repeats(mutant: str, caught: set[str]) -> None:
    """Draws with replacement, one reused permutation, and a wrap that repeats a member."""
    where = setting("fixed", "tied-remainders" if mutant == "repeats_at_wrap" else "long-tail", 600)
    results = cycles.cycle_checks(sample(getattr(mutants, mutant), where, seed=3))
    assert failed(results) == caught


def test_distinct_in_batch_names_the_repeated_member() -> None:
    """The detail says which batch drew which position twice."""
    where = setting("fixed", "tied-remainders", 600)
    result = cycles.cycle_checks(sample(mutants.repeats_at_wrap, where, seed=3))[1]
    assert result.check == "distinct_in_batch" and " twice (2 draws of a class of " in result.detail


def test_plan_cycles_leaves_out_what_a_configuration_cannot_show() -> None:
    """One class of 3 drawn 4 times a batch cannot be distinct; tiny classes never complete
    enough observable cycles to compare."""
    assert cycles.plan_cycles(setting("fixed", "single-class")) == [
        ("without_replacement_in_cycle", True)
    ]
    assert ("cycles_reshuffled", True) in cycles.plan_cycles(setting("fixed", "long-tail"))
    assert cycles.reshuffle_observable(setting("fixed", "long-tail")) == [0, 1, 2, 3]
