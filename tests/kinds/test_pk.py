"""Tests of :mod:`refsampler.kinds.pk`: P distinct classes x m members per batch, appearances
within one of t P p_c, feasibility messages."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refsampler import BalancedBatchSampler
from refsampler.classes import ClassIndex
from refsampler.errors import InvalidArgumentError
from refsampler.kinds.base import Setting
from refsampler.kinds.pk import PkPlan, build, check_feasible, samples_per_class
from refsampler.plan import Plan
from refsampler.targets import explicit, interpolate

from . import check_counted_plan

FloatArray = npt.NDArray[np.float64]

SIZES = np.array([50, 20, 12, 8, 6, 4, 3])
LABELS = np.repeat(np.arange(SIZES.size), SIZES)
INDEX = ClassIndex.from_labels(LABELS)


def _pk(
    target: FloatArray, m: int = 2, batch_size: int = 8, replicas: int = 2, seed: int = 4
) -> PkPlan:
    setting = Setting(INDEX, target, batch_size, 9, replicas, seed, {"samples_per_class": m})
    return build(setting)


@pytest.mark.parametrize(
    ("target", "m", "batch_size"),
    [
        (interpolate(SIZES, 1.0), 2, 8),
        (interpolate(SIZES, 0.9), 2, 8),
        (explicit([3, 3, 2, 2, 1, 1, 0]), 3, 9),
        (explicit([1, 1, 1, 1, 1, 1, 1]), 1, 7),
        (explicit([2, 1, 1, 1, 1, 1, 1]), 2, 8),
    ],
)
@pytest.mark.parametrize("seed", [0, 4])
def test_batches_are_p_classes_times_m_and_appearances_within_one(
    target: FloatArray, m: int, batch_size: int, seed: int
) -> None:
    """Every row holds P = B / m classes with exactly m each, and after every global slot
    each class's appearances are within 1 of t P p_c (exact fractions)."""
    plan = _pk(target, m, batch_size, seed=seed)
    p_count = batch_size // m
    rows = check_counted_plan(plan, np.arange(0, 4 * plan.setting.slots_per_epoch))
    assert np.all((rows == 0) | (rows == m))
    assert np.all((rows > 0).sum(axis=1) == p_count)
    appearances = np.cumsum(rows > 0, axis=0)
    load = [Fraction(float(x)).limit_denominator(1 << 24) * p_count for x in target]
    for t in range(rows.shape[0]):
        for c, w in enumerate(load):
            assert abs(int(appearances[t, c]) - (t + 1) * w) < 1, (t, c)


def test_plan_batches_hold_distinct_members() -> None:
    """Through a Plan: each appearance takes m distinct members (the class has at least m),
    across cycle wraps, epochs and ranks."""
    target = interpolate(SIZES, 1.0)
    plan = Plan(INDEX, "pk", target, 8, 9, 4, 2, {"samples_per_class": 2}, block_draws=3)
    for epoch in range(4):
        for rank in range(2):
            batches = plan.batches(epoch, rank)
            counts = np.stack([np.bincount(LABELS[row], minlength=SIZES.size) for row in batches])
            np.testing.assert_array_equal(counts, plan.count_rows(epoch, rank))
            assert all(np.unique(row).size == 8 for row in batches)


def test_samples_per_class_is_validated() -> None:
    """m must be a positive int dividing the batch size."""
    assert samples_per_class(4, 16) == 4
    with pytest.raises(InvalidArgumentError, match=r"`samples_per_class`.*0"):
        samples_per_class(0, 16)
    multiple = r"multiple of `samples_per_class` \(3\).*got 16"
    with pytest.raises(InvalidArgumentError, match=multiple):
        samples_per_class(3, 16)


def test_too_few_positive_classes_is_refused() -> None:
    """P classes per batch need P classes with a positive target."""
    with pytest.raises(InvalidArgumentError, match=r"at least P = 4 classes.*only 3"):
        check_feasible(explicit([1, 1, 1, 0, 0, 0, 0]), 4, SIZES, 2)


def test_a_class_smaller_than_m_is_refused_by_name() -> None:
    """A positive class with fewer than m members is named."""
    with pytest.raises(InvalidArgumentError, match="class 6 has only 3"):
        check_feasible(interpolate(SIZES, 1.0), 2, SIZES, 4)


def _largest_feasible_alpha(counts: npt.NDArray[np.int64], p_count: int) -> float:
    """Independently: the largest alpha on a fine grid with P * interpolate(counts, alpha)
    <= 1 everywhere (interpolate is linear in alpha, so the feasible set is an interval)."""
    grid = np.linspace(0.0, 1.0, 100_001)
    share = counts / counts.sum()
    loads = p_count * (grid[:, None] / counts.size + (1 - grid[:, None]) * share)
    feasible = grid[np.all(loads <= 1 + 1e-12, axis=1)]
    return float(feasible.max())


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_infeasible_target_names_the_class_and_the_feasible_alphas(alpha: float) -> None:
    """P p_c > 1: the message names the class with the largest load and gives the range of
    feasible alphas, whose upper end is the largest feasible alpha."""
    target = interpolate(SIZES, alpha)
    p_count = 4
    load = p_count * target
    worst = int(np.argmax(load))
    with pytest.raises(InvalidArgumentError) as info:
        check_feasible(target, p_count, SIZES, 2, alpha)
    message = str(info.value)
    assert f"class {worst} in P * p_c = {load[worst]:.6g} > 1" in message
    found = re.search(r"alpha in \[([0-9.e-]+), ([0-9.e-]+)\] is feasible", message)
    assert found is not None
    high = float(found.group(2))
    assert abs(high - _largest_feasible_alpha(SIZES, p_count)) < 2e-5
    assert f"alpha={alpha!r}" in message
    with pytest.raises(InvalidArgumentError, match=f"class {worst} in P"):
        _pk(target, 2, 8)


def test_an_infeasible_explicit_target_is_repeated_not_an_alpha() -> None:
    """A target given as such (no alpha) is what the message repeats, at the sampler too."""
    labels = np.repeat([0, 1, 2], [50, 20, 5])
    with pytest.raises(InvalidArgumentError) as info:
        BalancedBatchSampler(labels, 6, kind="pk", samples_per_class=2, target=[0.3, 0.3, 0.4])
    message = str(info.value)
    assert "alpha" not in message
    assert message.endswith("; got target [0.3 0.3 0.4].")
    assert "cannot put class 2 in P * p_c = 1.2 > 1 of the batches" in message


@settings(max_examples=200, deadline=None)
@given(alpha=st.floats(0.0, 1.0))
def test_the_printed_load_and_share_are_above_their_bounds(alpha: float) -> None:
    """However close to 1 the load is (an alpha just below the feasible range), the message
    prints P * p_c above 1 and p_c above 1 / P: never "P * p_c = 1 > 1"."""
    counts = np.array([60, 40, 30, 20, 15, 12, 10, 8, 6, 5, 4, 4])  # the metric-learning page's
    p_count = 4
    target = interpolate(counts, alpha)
    try:
        check_feasible(target, p_count, counts, 4, alpha)
        return
    except InvalidArgumentError as error:
        message = str(error)
    found = re.search(r"P \* p_c = ([^ ]+) > 1 .* share p_c = ([^)]+)\)", message)
    assert found is not None, message
    assert float(found.group(1)) > 1
    assert float(found.group(2)) > 1 / p_count


def test_a_load_just_above_1_is_printed_with_the_digits_it_needs() -> None:
    """The metric-learning page's data at an alpha 1e-6 below its feasible range."""
    counts = np.array([60, 40, 30, 20, 15, 12, 10, 8, 6, 5, 4, 4])
    with pytest.raises(InvalidArgumentError) as info:
        check_feasible(interpolate(counts, 0.15415), 4, counts, 4, 0.15415)
    assert "P * p_c = 1.0000002 > 1 " in str(info.value)
    assert "share p_c = 0.25000004)" in str(info.value)


@settings(max_examples=200, deadline=None)
@given(
    big=st.integers(1000, 10**6),
    rest=hnp.arrays(np.int64, st.integers(4, 11), elements=st.integers(4, 5000)),
)
def test_both_printed_ends_of_the_feasible_range_are_feasible(
    big: int, rest: npt.NDArray[np.int64]
) -> None:
    """The range the message offers is rounded inwards: its printed lower end (a bound
    rounded to nearest could print below it and be refused) and upper end both pass."""
    counts = np.concatenate(([big], rest))  # a class large enough to overload at alpha 0
    p_count = 4
    try:
        check_feasible(interpolate(counts, 0.0), p_count, counts, 2, 0.0)
        return  # feasible at alpha 0: no range to offer
    except InvalidArgumentError as error:
        found = re.search(r"alpha in \[([^,]+), ([^\]]+)\] is feasible", str(error))
    if found is None:
        return  # no alpha is feasible (P p_c > 1 even at alpha 1)
    for end in (float(found.group(1)), float(found.group(2))):
        check_feasible(interpolate(counts, end), p_count, counts, 2, end)


def test_an_infeasible_knot_names_the_schedule() -> None:
    """A schedule whose knot pk cannot serve: the message says it is the schedule's knot."""
    from refsampler import BalancedBatchSampler
    from refsampler.schedules import piecewise

    labels = np.repeat(np.arange(6), [500, 200, 100, 60, 30, 20])
    with pytest.raises(InvalidArgumentError) as info:
        BalancedBatchSampler(
            labels, 16, kind="pk", samples_per_class=4, alpha=piecewise([(0, 0.0), (5, 1.0)])
        )
    message = str(info.value)
    assert "alpha in [0.782297, 1] is feasible" in message
    assert message.endswith("got alpha=0.0, at a knot of the alpha schedule '0:0,5:1'.")


def test_describe_reports_rates() -> None:
    """describe(): m, P, and the appearance rates P p_c."""
    target = interpolate(SIZES, 1.0)
    info = _pk(target).describe()
    assert info["samples_per_class"] == 2 and info["classes_per_batch"] == 4
    np.testing.assert_allclose(info["appearance_rates"], 4 * target, atol=1e-12)
    full = _pk(explicit([2, 1, 1, 1, 1, 1, 1])).describe()
    assert full["every_batch"].tolist() == [0]
