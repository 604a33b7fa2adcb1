"""Tests of :mod:`refsampler.kinds.fixed`: the same counts in every batch of an epoch, exact
ties rotated over epochs."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refsampler.allocation import allocate, allocate_with_ties
from refsampler.classes import ClassIndex
from refsampler.errors import InvalidArgumentError
from refsampler.kinds.base import Setting
from refsampler.kinds.fixed import FixedPlan, build
from refsampler.plan import Plan
from refsampler.targets import explicit, interpolate

from . import check_counted_plan

IntVector = npt.NDArray[np.int64]

IntArray = npt.NDArray[np.int64]

SIZES = np.array([30, 12, 9, 6, 5])
INDEX = ClassIndex.from_labels(np.repeat(np.arange(SIZES.size), SIZES))
#: Uniform over 5 classes with B = 8: every class 1.6, 3 tied seats among 5 classes.
TIED = explicit([1.0] * 5)


def _fixed(
    target: npt.NDArray[np.float64] = TIED,
    *,
    batch_size: int = 8,
    n_batches: int = 6,
    replicas: int = 2,
    seed: int = 1,
    epoch: int | None = None,
) -> FixedPlan:
    return build(Setting(INDEX, target, batch_size, n_batches, replicas, seed, {}, epoch))


@pytest.mark.parametrize(
    "target", [TIED, interpolate(SIZES, 0.5), interpolate(SIZES, 0.0), explicit([3, 1, 1, 1, 0])]
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_batch_of_an_epoch_has_allocates_counts_up_to_ties(
    target: npt.NDArray[np.float64], seed: int
) -> None:
    """Within an epoch every row is one vector: allocate's certain seats plus `seats` of the
    tied classes; it equals allocate when nothing ties, and it meets the protocol."""
    plan = _fixed(target, seed=seed)
    certain, tied, seats = allocate_with_ties(target, 8)
    per_epoch = plan.setting.slots_per_epoch
    for epoch in range(4):
        rows = check_counted_plan(plan, np.arange(epoch * per_epoch, (epoch + 1) * per_epoch))
        assert np.all(rows == rows[0])
        np.testing.assert_array_equal(rows[0], plan.counts(epoch))
        extra = rows[0] - certain
        assert set(extra.tolist()) <= {0, 1} and int(extra.sum()) == seats
        assert np.all(extra[np.setdiff1d(np.arange(SIZES.size), tied)] == 0)
        if seats == 0:
            np.testing.assert_array_equal(rows[0], allocate(target, 8))


@pytest.mark.parametrize("seed", range(5))
def test_tied_seats_rotate_so_no_class_is_favoured(seed: int) -> None:
    """After E epochs every tied class has had its extra seat floor(E s / T) or ceil(E s / T)
    times (s = 3 seats among T = 5 classes)."""
    plan = _fixed(seed=seed)
    certain, tied, seats = allocate_with_ties(TIED, 8)
    extra = np.zeros(SIZES.size, dtype=np.int64)
    for epochs in range(1, 31):
        extra += plan.counts(epochs - 1) - certain
        total = epochs * seats
        lo, hi = total // tied.size, -(-total // tied.size)
        assert np.all((extra[tied] >= lo) & (extra[tied] <= hi)), epochs


def test_tie_order_depends_on_the_seed() -> None:
    """Which tied classes win in early epochs is random from the seed, not by class index."""
    orders = {
        tuple(np.concatenate([_fixed(seed=s).counts(e) for e in range(3)]).tolist())
        for s in range(12)
    }
    assert len(orders) > 1
    winners = {tuple(np.flatnonzero(_fixed(seed=s).counts(0) == 2).tolist()) for s in range(12)}
    assert winners != {(0, 1, 2)}


def test_plan_for_one_epoch_rotates_by_that_epoch() -> None:
    """A moving target builds a plan per epoch: its slots count from the epoch's start, its
    counts are counts(0), and the epoch keys its tie order."""
    certain, _, seats = allocate_with_ties(TIED, 8)
    vectors = set()
    for epoch in range(12):
        plan = _fixed(epoch=epoch)
        rows = check_counted_plan(plan, np.arange(0, plan.setting.slots_per_epoch))
        assert np.all(rows == plan.counts(0))
        assert int((plan.counts(0) - certain).sum()) == seats
        vectors.add(tuple(plan.counts(0).tolist()))
    assert len(vectors) > 1


def test_rank_slots_are_evenly_spaced_rows() -> None:
    """One rank's slots (step num_replicas) give that rank's rows of the full entries."""
    plan = _fixed(replicas=3, n_batches=5)
    full = check_counted_plan(plan, np.arange(15, 30))
    for rank in range(3):
        np.testing.assert_array_equal(
            check_counted_plan(plan, np.arange(15 + rank, 30, 3)), full[rank::3]
        )


def test_describe_reports_the_split() -> None:
    """describe() holds the certain seats, the tied classes and the tied seats."""
    info = _fixed().describe()
    certain, tied, seats = allocate_with_ties(TIED, 8)
    np.testing.assert_array_equal(info["certain"], certain)
    np.testing.assert_array_equal(info["tied"], tied)
    assert info["tied_seats"] == seats


def test_infeasible_target_is_refused() -> None:
    """More positive classes than the rounding can seat: InvalidArgumentError."""
    with pytest.raises(InvalidArgumentError, match='kind="fixed"` is infeasible'):
        _fixed(explicit([1.0] * 5), batch_size=4)


def test_an_infeasible_knot_of_an_alpha_schedule_is_refused_at_construction() -> None:
    """alpha 1 -> 0 over 10 epochs: feasible at epoch 0, infeasible at the last knot (three
    one-sample classes cannot all have a seat of 4 next to a class of 1000). The sampler is
    refused when it is built, naming the knot, not when training reaches epoch 10."""
    from refsampler import BalancedBatchSampler
    from refsampler.schedules import linear

    labels = np.repeat([0, 1, 2, 3], [1000, 1, 1, 1])
    with pytest.raises(InvalidArgumentError) as info:
        BalancedBatchSampler(labels, 4, alpha=linear(1.0, 0.0, 10), seed=0)
    message = str(info.value)
    assert message.startswith('`kind="fixed"` is infeasible: 4 classes have a positive target')
    first = _first_infeasible(np.array([1000, 1, 1, 1]), 4, linear(1.0, 0.0, 10))
    assert first is not None and 0 < first <= 10
    assert message.endswith(
        f"at epoch {first} of the alpha schedule '0:1,10:0' "
        f"(`alpha`={linear(1.0, 0.0, 10)(first)!r})."
    )
    # The same labels under the schedule's first knot alone are fine.
    BalancedBatchSampler(labels, 4, alpha=1.0, seed=0)


def test_a_class_at_exactly_the_uniform_share_raises_no_warning() -> None:
    """17 of 51 samples is exactly 1/3: that class's B p_c does not move with alpha, though
    its two ends may differ in the last bit; the check must not divide by the zero slope
    (a RuntimeWarning, an error under -W error)."""
    import warnings

    from refsampler import BalancedBatchSampler
    from refsampler.schedules import piecewise

    labels = np.repeat(np.arange(3), [17, 20, 14])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BalancedBatchSampler(labels, 36, alpha=piecewise([(0, 0.0), (10, 0.04)]), seed=0)


def _first_infeasible(counts: IntVector, batch: int, schedule: object) -> int | None:
    """The first epoch up to the schedule's last knot whose target fixed cannot seat."""
    for epoch in range(schedule.knots[-1][0] + 1):  # type: ignore[attr-defined]
        try:
            allocate(interpolate(counts, schedule(epoch)), batch)  # type: ignore[operator]
        except InvalidArgumentError:
            return epoch
    return None


def test_an_infeasible_epoch_between_feasible_knots_is_refused_at_construction() -> None:
    """Feasibility is not convex in alpha: counts 954, 237, 3, 1 at B = 10 are feasible at
    alpha 0.03 and 0.18 and not in between, and a plain linear(0, 1, 50) on 13 long-tailed
    classes at B = 32 fails at alpha 0.02 only. Both are refused when the sampler is built,
    naming the first such epoch, instead of raising from the iterator at that epoch (and at
    every later one)."""
    from refsampler import BalancedBatchSampler
    from refsampler.schedules import linear, piecewise

    counts = np.array([954, 237, 3, 1])
    labels = np.repeat(np.arange(4), counts)
    for alpha in (0.03, 0.18):
        BalancedBatchSampler(labels, 10, alpha=alpha, seed=0)
    schedule = piecewise([(0, 0.03), (100, 0.18)])
    with pytest.raises(InvalidArgumentError, match=r"at epoch 2 of the alpha schedule"):
        BalancedBatchSampler(labels, 10, alpha=schedule, seed=0)
    assert _first_infeasible(counts, 10, schedule) == 2
    long_tail = np.array([7346, 6362, 6204, 3523, 2467, 1979, 1106, 918, 799, 399, 332, 197, 170])
    labels = np.repeat(np.arange(13), long_tail)
    with pytest.raises(InvalidArgumentError, match=r"at epoch 1 of the alpha schedule .*0\.02"):
        BalancedBatchSampler(labels, 32, alpha=linear(0.0, 1.0, 50), seed=0)


@settings(max_examples=300, deadline=None)
@given(
    counts=hnp.arrays(np.int64, st.integers(2, 9), elements=st.integers(1, 400)),
    batch=st.integers(2, 24),
    a0=st.floats(0, 1),
    a1=st.floats(0, 1),
    e0=st.integers(0, 20),
    span=st.integers(1, 150),
)
def test_the_schedule_check_refuses_exactly_the_infeasible_epochs(
    counts: IntVector, batch: int, a0: float, a1: float, e0: int, span: int
) -> None:
    """Checking epoch 0, the knots and the epochs around every crossing of an integer by
    some ``B p_c`` refuses a schedule exactly when some epoch up to its last knot is
    infeasible, and names the first such epoch, before the first knot too (brute force over
    every epoch as the reference)."""
    from refsampler.kinds.fixed import check
    from refsampler.schedules import piecewise

    schedule = piecewise([(e0, a0), (e0 + span, a1)])
    first = _first_infeasible(counts, batch, schedule)
    if first is None:
        assert check(counts, batch, {}, [], schedule) == {}
    else:
        with pytest.raises(InvalidArgumentError, match=f"at epoch {first} of the alpha"):
            check(counts, batch, {}, [], schedule)


def test_check_passes_feasible_targets_and_options_through() -> None:
    """Feasible targets: the options come back unchanged (fixed has none of its own)."""
    from refsampler.kinds.fixed import check

    counts = np.array([10, 10, 10])
    targets = [(interpolate(counts, a), a) for a in (0.0, 1.0)]
    assert check(counts, 3, {"samples_per_class": None}, targets) == {"samples_per_class": None}


def test_entries_across_an_epoch_boundary_meet_the_protocol() -> None:
    """CountedPlan.entries takes any increasing, evenly spaced slots; slots 10 .. 13 of a
    plan with 12 slots per epoch cross into epoch 1, whose tie winners differ."""
    plan = _fixed(seed=0)
    assert not np.array_equal(plan.counts(0), plan.counts(1))
    check_counted_plan(plan, np.arange(10, 14))


def test_tie_rotation_is_independent_of_the_member_streams() -> None:
    """With a target that moves with the epoch, epoch 0's tie winners are not determined by
    class 4's member cycle. Five classes tie for three seats; class 4 has five members and its
    blocks of rounds are as long as the tie rotation's, so with a shared key the winners are
    always the first three items of class 4's first cycle. Independent streams make that
    happen with probability 1 / C(5, 3) = 1/10 per seed: all 20 seeds, 1e-20."""
    sizes = [5119, 5119, 5119, 5119, 5]
    index = ClassIndex.from_labels(np.repeat(np.arange(5), sizes))
    coincidences = 0
    for seed in range(20):
        plan = Plan(index, "fixed", lambda epoch: TIED, 8, 10, seed)
        kind_plan = plan.kind_plan(0)
        assert isinstance(kind_plan, FixedPlan)
        winners = set(np.flatnonzero(kind_plan.counts(0) == 2).tolist())
        assert plan.members is not None
        first_cycle = plan.members.rotation(4).base_round(0)
        coincidences += winners == set(first_cycle[:3].tolist())
    assert coincidences < 20
