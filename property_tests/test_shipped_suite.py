"""The shipped suite, :mod:`refsampler.conformance.suite`, run against refsampler.

The suite's tests are imported here, so they run in this session against the implementation
``conftest.py`` sets (refsampler's own, unless ``--refsampler-impl`` says otherwise). Its
one-test-per-check module is re-declared with this tree's family-wise level of 1e-8.
"""

from __future__ import annotations

from typing import Any

import pytest

from refsampler.conformance.suite.test_invariants import (
    test_cycles_are_consecutive_permutations,
    test_cycles_cover_members_evenly_after_every_batch,
    test_cycles_never_repeat_a_member_in_a_batch,
    test_different_seeds_give_different_batches,
    test_fixed_counts_are_the_largest_remainder,
    test_positions_are_in_range_and_from_positive_classes,
    test_quota_counts_stay_within_one_of_the_target,
    test_same_seed_gives_the_same_batches,
)
from refsampler.conformance.suite.test_statistics import (
    test_class_shares_binomial_per_class,
    test_class_shares_chisquare,
    test_members_are_uniform_within_their_class,
    test_members_repeat_as_with_replacement,
    test_per_batch_counts_are_binomial,
)

__all__ = [
    "test_check",
    "test_class_shares_binomial_per_class",
    "test_class_shares_chisquare",
    "test_cycles_are_consecutive_permutations",
    "test_cycles_cover_members_evenly_after_every_batch",
    "test_cycles_never_repeat_a_member_in_a_batch",
    "test_different_seeds_give_different_batches",
    "test_fixed_counts_are_the_largest_remainder",
    "test_members_are_uniform_within_their_class",
    "test_members_repeat_as_with_replacement",
    "test_per_batch_counts_are_binomial",
    "test_positions_are_in_range_and_from_positive_classes",
    "test_quota_counts_stay_within_one_of_the_target",
    "test_same_seed_gives_the_same_batches",
]

#: The verify run behind ``test_check`` (set by ``conftest.py``): one Holm family.
CHECKS_LEVEL = 1e-8


@pytest.mark.statistical(level=CHECKS_LEVEL)
def test_check(refsampler_check: Any) -> None:
    """One check of the kit against refsampler (the shared run's false-failure rate is
    1e-8 in all; every check of it counts once, as one family)."""
    refsampler_check()
