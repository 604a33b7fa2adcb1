"""Tests of refsampler.conformance.order: the within-batch order is a uniform shuffle."""

from __future__ import annotations

import pytest

from refsampler.conformance import mutants, order

from ._shared import TEST_LEVEL, failed, sample, setting

UNIFORM = setting("fixed", "uniform")


@pytest.mark.statistical(level=TEST_LEVEL)
@pytest.mark.parametrize("kind", ["fixed", "quota", "random"])
def test_order_checks_pass_a_uniform_shuffle(kind: str, stat_seed: int) -> None:
    """The control's shuffled batches pass both tests (Bonferroni over 2 at 1e-8)."""
    results = order.order_checks(sample(mutants.control, setting(kind, "long-tail"), stat_seed))
    assert [r.check for r in results] == ["within_batch_exchangeable", "same_class_adjacency"]
    assert failed(results) == set()


def test_sorted_batches_fail_the_slot_table() -> None:
    """Class-sorted batches put every class in fixed slots: the table is deterministic and
    its p-value far below any level (exact in effect)."""
    results = order.order_checks(sample(mutants.sorted_by_class, UNIFORM))
    exchangeable = results[0]
    assert exchangeable.pvalue is not None and exchangeable.pvalue < 1e-100
    assert exchangeable.direction == "classes keep to slots"


def test_class_blocks_at_equal_counts_fail_the_adjacency_test() -> None:
    """[3,3,0,0,4,4,1,1,2,2]-style batches at 2 per class: 5 same-class neighbours in every
    batch against 1 expected, deterministically (so the test cannot miss them)."""
    results = order.order_checks(sample(mutants.class_blocks, UNIFORM))
    adjacency = results[1]
    assert adjacency.observed == 5 * UNIFORM.n_batches
    assert adjacency.expected == pytest.approx(UNIFORM.n_batches, rel=1e-9)
    assert adjacency.pvalue == 0.0 and adjacency.direction == "classes in blocks"
    assert adjacency.detects == "pairs/batch"


def test_plan_order_needs_two_classes_and_room_for_neighbours() -> None:
    """One class: nothing to test; one of each class per batch: no same-class neighbours."""
    assert order.plan_order(setting("fixed", "single-class")) == []
    assert order.plan_order(setting("fixed", "small-batch")) == [
        ("within_batch_exchangeable", False)
    ]
    assert order.plan_order(setting("quota", "rotation")) == [("within_batch_exchangeable", False)]
