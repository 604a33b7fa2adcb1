"""Tests of refsampler.conformance.mixing: which classes share a batch is random."""

from __future__ import annotations

import numpy as np
import pytest

from refsampler.conformance import mixing, mutants

from ._shared import failed, sample, setting

ROTATION = setting("quota", "rotation")

#: Bound on the control failing a mixing check (MIN_MEETINGS / MIN_SPLITS are e**-40- and
#: 2**-40-level events).
MIXING_BOUND = 1e-11


def test_interchangeable_groups_are_part_time_classes_with_one_quota() -> None:
    """10 classes at 0.4: one group. tiny-classes' pair at 0.988 splits too rarely for the
    seed to show in the schedule, but must (and always does) meet."""
    groups = mixing.interchangeable_groups(ROTATION)
    assert len(groups) == 1 and groups[0][0].tolist() == list(range(10))
    assert groups[0][1] == 0.4
    assert mixing.plan_mixing(setting("quota", "tiny-classes")) == [("classes_meet", True)]
    assert mixing.plan_mixing(setting("fixed", "tied-remainders")) == []


def test_meeting_pairs_expect_many_meetings() -> None:
    """Every pair of the rotation configuration expects about 0.12 n meetings."""
    pairs = mixing.meeting_pairs(ROTATION)
    assert len(pairs) == 45
    assert all(e == pytest.approx(ROTATION.n_batches * 0.16 * 0.75) for _, _, e in pairs)
    assert min(e for _, _, e in pairs) >= mixing.MIN_MEETINGS


@pytest.mark.statistical(level=MIXING_BOUND)
def test_random_schedules_pass() -> None:
    """The control's PD2 schedule with random tie-breaks mixes the classes (false-failure
    rate below MIXING_BOUND by the planning thresholds)."""
    results = mixing.mixing_checks(sample(mutants.control, ROTATION))
    assert [r.check for r in results] == [
        "schedule_varies_with_seed",
        "classes_meet",
        "classes_not_locked",
    ]
    assert failed(results) == set()


def test_a_schedule_locked_to_one_rotation_fails_every_mixing_check() -> None:
    """10 uniform classes, 4 seats, ties by index: classes 0 and 1 always together, 0 never
    with some class, and the same schedule for every seed."""
    drawn = sample(mutants.locked_rotation, ROTATION)
    results = {r.check: r for r in mixing.mixing_checks(drawn)}
    assert failed(list(results.values())) == set(results)
    assert "are identical" in results["schedule_varies_with_seed"].detail
    assert "never share a batch" in results["classes_meet"].detail
    assert "classes 0 and 1 appear in exactly the same" in results["classes_not_locked"].detail
    present = drawn.counts > 0
    assert np.array_equal(present[:, 0], present[:, 1])
