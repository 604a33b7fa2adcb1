"""Tests of refsampler.conformance.sample: what a setting knows before anything runs."""

from __future__ import annotations

import numpy as np

from refsampler.conformance.sample import per_batch_counts

from ._shared import setting


def test_ties_of_the_fixed_kind_are_the_group_at_the_cut() -> None:
    """B p = 1.5 for 8 classes: all 8 tie for 4 seats; long-tail has no tie at its cut."""
    group, winners = setting("fixed", "tied-remainders").ties
    assert group.tolist() == list(range(8)) and winners == 4
    assert setting("fixed", "long-tail").ties[0].size == 0
    assert setting("quota", "tied-remainders").ties[0].size == 0  # only fixed counts tie


def test_part_time_classes_need_a_varying_counts_property() -> None:
    """Fixed counts never vary; quota classes with fractional quotas do."""
    assert setting("fixed", "tied-remainders").part_time.size == 0
    assert setting("quota", "tied-remainders").part_time.tolist() == list(range(8))
    assert setting("quota", "uniform").part_time.size == 0  # B p = 2 exactly
    assert setting("quota", "rotation").extra_seats == 4


def test_achievable_counts_follow_the_kind_properties() -> None:
    """Fixed: the allocated count (floor or ceil when tied); quota: floor and ceil; i.i.d.:
    anything up to B."""
    assert setting("fixed", "small-batch").achievable_counts(0) == [1]
    assert setting("fixed", "tied-remainders").achievable_counts(0) == [1, 2]
    assert setting("quota", "small-batch").achievable_counts(0) == [1, 2]
    assert setting("random", "small-batch").achievable_counts(0) == [0, 1, 2, 3]
    assert setting("quota", "long-tail").largest_count == 6


def test_per_batch_counts_counts_classes_per_batch() -> None:
    """One row per batch, one column per class."""
    labels = np.array([0, 0, 1, 2])
    counts = per_batch_counts(np.array([[0, 1, 2], [3, 3, 0]]), labels, 3)
    assert counts.tolist() == [[2, 1, 0], [1, 0, 2]]
