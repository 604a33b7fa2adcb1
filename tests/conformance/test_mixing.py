"""Tests of refsampler.conformance.mixing: which classes share a batch is random."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from refsampler.conformance import counts, mixing, mutants
from refsampler.conformance.configs import Config

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
        "start_seats_random",
    ]
    assert failed([r for r in results if r.exact]) == set()


def test_a_schedule_locked_to_one_rotation_fails_every_mixing_check() -> None:
    """10 uniform classes, 4 seats, ties by index: classes 0 and 1 always together, 0 never
    with some class, and the same schedule for every seed."""
    drawn = sample(mutants.locked_rotation, ROTATION)
    results = {r.check: r for r in mixing.mixing_checks(drawn)}
    assert failed(list(results.values()), level=1e-12) == set(results)
    assert "are identical" in results["schedule_varies_with_seed"].detail
    assert "never share a batch" in results["classes_meet"].detail
    assert "classes 0 and 1 appear in exactly the same" in results["classes_not_locked"].detail
    present = drawn.counts > 0
    assert np.array_equal(present[:, 0], present[:, 1])


#: The start check's acceptance test fails the control with at most this probability (its
#: p-value is exact or conservative under a uniform choice at every batch).
START_LEVEL = 1e-13


def test_start_group_is_the_one_group_that_takes_every_extra_seat() -> None:
    """rotation: 10 classes for 4 seats; tied-remainders: 8 classes at 1.5 for 4; pk-every-batch:
    the five classes beside the one in every batch, for its one free appearance. Not where
    classes of different rates share the extra seats (long-tail), nor where nothing is tied."""
    group, seats = mixing.start_group(ROTATION) or (None, 0)
    assert group is not None and group.tolist() == list(range(10)) and seats == 4
    group, seats = mixing.start_group(setting("quota", "tied-remainders")) or (None, 0)
    assert group is not None and group.tolist() == list(range(8)) and seats == 4
    group, seats = mixing.start_group(setting("pk", "pk-every-batch")) or (None, 0)
    assert group is not None and group.tolist() == [1, 2, 3, 4, 5] and seats == 1
    # Not for kinds without a schedule to mix (random), nor where rates differ or nothing ties.
    unmixed = [("random", "rotation"), ("random", "tied-remainders"), ("fixed", "tied-remainders")]
    unmixed += [("quota", "long-tail"), ("quota", "uniform"), ("pk", "pk-long-tail")]
    for kind, config in unmixed:
        assert mixing.start_group(setting(kind, config)) is None
        assert mixing.start_seeds(setting(kind, config), 1e-9) == 0
        assert "start_seats_random" not in dict(mixing.plan_mixing(setting(kind, config)))


@pytest.mark.parametrize(
    ("config", "choices"), [("rotation", 210), ("tied-remainders", 70), ("many-classes", 735471)]
)
def test_start_seeds_are_the_fewest_that_make_one_or_two_choices_decisive(
    config: str, choices: int
) -> None:
    """With C ways and n seeds, one choice at some batch has p = 16 C**-(n-1) (8 batches, two
    statistics each); two choices p = 16 (C + C(C-1)(2**(n-1)-1)) / C**n. n is the fewest seeds
    that put both below a tenth of the floor."""
    floor = 1e-9
    n = mixing.start_seeds(setting("quota", config), floor)

    def two(seeds: int) -> float:
        return 16 * (choices + choices * (choices - 1) * (2 ** (seeds - 1) - 1)) / choices**seeds

    assert two(n) <= floor / 10 < two(n - 1)
    assert 16 * float(choices) ** -(n - 1) <= floor / 10
    assert n <= counts.MAX_TIE_SEEDS


def test_start_seeds_for_two_ways_need_only_one_choice_to_be_decisive() -> None:
    """Two classes for one seat: two choices say nothing, so n is the fewest seeds with
    16 * 2**-(n-1) below a tenth of the floor."""
    config = Config("two-for-one", (30, 30), 3, 1.0, "two classes at 1.5 seats")
    where = setting("quota", config)
    assert mixing.start_group(where) is not None
    n = mixing.start_seeds(where, 1e-9)
    assert 16 * 2.0 ** -(n - 1) <= 1e-10 < 16 * 2.0 ** -(n - 2)


@pytest.mark.statistical(level=START_LEVEL)
@pytest.mark.parametrize("config", ["rotation"])
def test_the_start_check_passes_the_control(config: str) -> None:
    """The control's seeds start with their own choices (false-failure rate START_LEVEL)."""
    drawn = sample(mutants.control, setting("quota", config))
    assert len(drawn.start_rows) == mixing.start_seeds(drawn.setting, drawn.setting.floor) - 2
    result = mixing.start_check(drawn)
    assert result.pvalue is not None and result.pvalue > START_LEVEL


@pytest.mark.statistical(level=MIXING_BOUND)
def test_index_ties_while_starting_fail_the_start_check_only() -> None:
    """Ties by class index in the first 8 batches, at random after: every seed opens with
    classes 0-3, so p = 16 * 210**-(n-1) exactly, while the run-long mixing checks pass (their
    random part fails them with probability below MIXING_BOUND, as for the control)."""
    drawn = sample(mutants.index_ties_at_start, ROTATION)
    results = {r.check: r for r in mixing.mixing_checks(drawn)}
    assert failed(list(results.values()), level=1e-12) == {"start_seats_random"}
    start = results["start_seats_random"]
    seeds = 2 + len(drawn.start_rows)
    assert start.pvalue == pytest.approx(16 * 210.0 ** -(seeds - 1), rel=1e-12)
    assert f"batch 0: 1 distinct choices, the most common {seeds} times" in start.detail


def test_one_batch_by_index_anywhere_in_the_start_fails() -> None:
    """A schedule random everywhere but at batch 5, where every seed gives the seats to
    classes 0-3: the check reads every start batch on its own."""

    def batch_five_by_index(labels: Any, **kwargs: Any) -> list[list[int]]:
        rows = mutants.control(labels, **kwargs)
        if len(rows) > 5:
            rows[5] = [int(np.flatnonzero(labels == c)[0]) for c in range(4)]
        return rows

    drawn = sample(batch_five_by_index, ROTATION)
    result = mixing.start_check(drawn)
    assert result.pvalue is not None and result.pvalue < 1e-12
    assert "batch 5: 1 distinct choices" in result.detail
