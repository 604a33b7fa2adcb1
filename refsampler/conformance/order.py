"""Checks of the exchangeable property: the order inside a batch is a uniform shuffle."""

from __future__ import annotations

import numpy as np

from . import stats
from .checks import pending
from .results import CheckResult
from .sample import Sample, Setting

__all__ = ["order_checks", "plan_order"]


def _classes(setting: Setting) -> int:
    return int(np.count_nonzero(setting.target > 0))


def plan_order(setting: Setting) -> list[tuple[str, bool]]:
    """Checks of the exchangeable property (none when a batch cannot be reordered visibly)."""
    batch = setting.config.batch_size
    if batch < 2 or _classes(setting) < 2:
        return []
    names = [("within_batch_exchangeable", False)]
    if batch >= 3 and setting.largest_count >= 2:
        names.append(("same_class_adjacency", False))
    return names


def order_checks(sample: Sample) -> list[CheckResult]:
    """The slot of a draw is independent of its class, and same-class neighbours are as
    frequent as a uniform shuffle of each batch makes them.

    ``within_batch_exchangeable`` tests the (slot, class) table
    (:func:`~refsampler.conformance.stats.exchangeability`); it has no power against class
    *blocks* in random order when every batch has the same counts. ``same_class_adjacency``
    (:func:`~refsampler.conformance.stats.same_class_adjacency`) is the second-order test
    that sees them.
    """
    setting, batches, labels = sample.setting, sample.batches, sample.labels
    plan = dict(plan_order(setting))
    if not plan:
        return []
    batch = batches.shape[1]
    k = setting.config.num_classes
    classes = labels[batches]
    cells = np.arange(batch)[None, :] * k + classes
    table = np.bincount(cells.ravel(), minlength=batch * k).reshape(batch, k)
    results = [
        pending(
            "within_batch_exchangeable",
            setting,
            stats.exchangeability(table, sample.counts),
            batches.size,
            "slot in batch independent of class",
            words=("classes keep to slots", "classes spread over slots too evenly"),
        )
    ]
    if "same_class_adjacency" in plan:
        neighbours = np.count_nonzero(classes[:, 1:] == classes[:, :-1], axis=1)
        outcome = stats.same_class_adjacency(neighbours, sample.counts)
        results.append(
            pending(
                "same_class_adjacency",
                setting,
                outcome,
                batches.shape[0],
                f"same-class neighbours: {int(outcome.observed)} observed, "
                f"{outcome.expected:.1f} expected under a uniform shuffle",
                detects="pairs/batch",
                words=("classes in blocks", "classes alternate too regularly"),
            )
        )
    return results
