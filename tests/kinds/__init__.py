"""Tests of the kinds (:mod:`refsampler.kinds`), one module per kind, and what they share."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from refsampler.kinds.base import CountedPlan

IntArray = npt.NDArray[np.int64]


def check_counted_plan(plan: CountedPlan, slots: IntArray) -> IntArray:
    """Check the :class:`~refsampler.kinds.base.CountedPlan` protocol on ``slots`` (increasing,
    evenly spaced) and return the dense per-slot counts, shape (len(slots), K).

    Every row sums to the batch size with at most one entry per class, no count exceeds
    ``max_count``, each entry starts where ``drawn_before`` says the class's stream stands at
    its slot, the row's counts are ``drawn_before(t + 1) - drawn_before(t)``, and ``slot_of``
    returns the entry's run for its first and last position.
    """
    entries = plan.entries(slots)
    k = plan.setting.target.size
    rows = np.zeros((slots.size, k), dtype=np.int64)
    np.add.at(rows, (entries.row, entries.cls), entries.count)
    pairs = entries.row * k + entries.cls
    assert np.unique(pairs).size == pairs.size
    assert np.all(entries.count > 0)
    assert np.all(rows.sum(axis=1) == plan.setting.batch_size)
    assert np.all(rows <= plan.max_count)
    for i, t in enumerate(slots.tolist()):
        before = plan.drawn_before(t)
        np.testing.assert_array_equal(plan.drawn_before(t + 1) - before, rows[i])
        mine = entries.row == i
        np.testing.assert_array_equal(entries.start[mine], before[entries.cls[mine]])
    for c, start, count in zip(
        entries.cls.tolist(), entries.start.tolist(), entries.count.tolist(), strict=True
    ):
        assert plan.slot_of(c, start) == (start, start + count)
        assert plan.slot_of(c, start + count - 1) == (start, start + count)
    return rows
