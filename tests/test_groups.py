"""Tests of :mod:`refsampler.groups`: snapping floats to the fractions they stand for, and
:class:`~refsampler.groups.RateGroups` (seats per slot for classes at fractional rates)."""

from __future__ import annotations

import math
import pickle
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refsampler import groups as groups_module
from refsampler.groups import SNAP_DENOMINATOR, RateGroups, exact_values, snap

IntArray = npt.NDArray[np.int64]


# -- snap ------------------------------------------------------------------------------------


def test_snap_examples() -> None:
    """The documented examples: B p products and sums of decimals snap to their fractions;
    a tiny dyadic value stays exact."""
    assert snap(3 * 0.45) == Fraction(27, 20)
    assert snap(0.1 + 0.2) == Fraction(3, 10)
    assert snap(2.0**-40) == Fraction(1, 2**40)
    assert snap(0.0) == 0 and snap(5.0) == 5


@settings(max_examples=100, deadline=None)
@given(num=st.integers(0, 10**6), den=st.integers(1, 4096))
def test_snap_recovers_small_fractions(num: int, den: int) -> None:
    """The float nearest a fraction with a small denominator snaps back to that fraction."""
    exact = Fraction(num, den)
    assert snap(float(exact)) == exact


@settings(max_examples=100, deadline=None)
@given(value=st.floats(0, 1e6, allow_nan=False))
def test_snap_stays_within_four_ulps(value: float) -> None:
    """snap never moves a value by more than 4 ulps, and its denominator is at most
    SNAP_DENOMINATOR unless it is the value exactly."""
    result = snap(value)
    assert abs(result - Fraction(value)) <= 4 * Fraction(math.ulp(value))
    assert result == Fraction(value) or result.denominator <= SNAP_DENOMINATOR


def test_the_rounding_residual_leaves_simple_rates_exact() -> None:
    """Float rates whose exact values miss the seat count by a rounding residual: the residual
    goes to the rate of largest denominator, so 3/4 (the largest rate here) stays 3/4 --
    perturbed, it could get a seat early where its ideal is a whole number."""
    rates = np.array([0.75, 0.123456789, 0.25 - 0.123456789])
    assert sum(Fraction(float(r)) for r in rates) != 1  # a residual of about 1e-17
    groups = RateGroups(rates, 1, (0, 1))
    rho = {int(cls[0]): r for cls, r in zip(groups.members, groups.rho, strict=True)}
    assert rho[0] == Fraction(3, 4)
    assert sum(groups.rho, Fraction(0)) == 1
    moved = [c for c in (1, 2) if rho[c] != Fraction(float(rates[c]))]
    assert len(moved) == 1 and abs(rho[moved[0]] - Fraction(float(rates[moved[0]]))) < 1e-16


def test_a_residual_no_rate_dwarfs_goes_to_the_largest_rate() -> None:
    """Every rate within 2**20 of the residual: the residual goes to the largest rate, so the
    tiny one (largest denominator) does not turn negative."""
    tiny = 3.2716e-7 + 1e-12 * np.pi
    rates = np.array([0.53, 0.71, 0.76 - tiny + 9e-7, tiny])
    groups = RateGroups(rates, 2, (0,))
    assert all(r > 0 for r in groups.rho) and sum(groups.rho, Fraction(0)) == 2


def test_exact_values_gives_distinct_fractions_and_inverse() -> None:
    """exact_values: the snapped distinct values, and each input's index among them."""
    values = np.array([0.3, 0.1 + 0.2, 0.5, 0.3, 0.0])
    fractions, inverse = exact_values(values)
    assert inverse.dtype == np.int64
    assert [fractions[i] for i in inverse] == [snap(float(v)) for v in values]
    assert Fraction(1, 2) in fractions and Fraction(0) in fractions


# -- rate groups ------------------------------------------------------------------------------


@st.composite
def _rates(draw: st.DrawFn) -> list[Fraction]:
    """Class rates in [0, 1) over a small denominator, summing to an integer."""
    den = draw(st.integers(2, 12))
    nums = draw(st.lists(st.integers(0, den - 1), min_size=1, max_size=9))
    while sum(nums) % den:
        nums.append(min(den - 1, den - sum(nums) % den))
    if sum(nums) == 0:
        nums += [1, den - 1]
    return draw(st.permutations([Fraction(n, den) for n in nums]))


def _groups(rates: list[Fraction], seed: int, replicas: int = 1) -> RateGroups:
    values = np.array([float(r) for r in rates])
    return RateGroups(values, int(sum(rates, Fraction(0))), (seed, 3), replicas)


def _per_slot(groups: RateGroups, start: int, stop: int) -> IntArray:
    """Dense seats of picks(start, stop), shape (stop - start, K); asserts no class twice."""
    slot, cls = groups.picks(start, stop)
    assert np.all(np.diff(slot) >= 0)
    dense = np.zeros((stop - start, groups.num_classes), dtype=np.int64)
    np.add.at(dense, (slot - start, cls), 1)
    assert dense.max(initial=0) <= 1
    return dense


@settings(max_examples=40, deadline=None)
@given(rates=_rates(), seed=st.integers(0, 2**32), replicas=st.integers(1, 3))
def test_picks_meet_the_rates(rates: list[Fraction], seed: int, replicas: int) -> None:
    """Every slot has exactly d seats on distinct classes; a class of rate 0 never gets one;
    after t slots class c has had floor(t r_c) or ceil(t r_c) seats, as seats_before says."""
    groups = _groups(rates, seed, replicas)
    d = int(sum(rates, Fraction(0)))
    horizon = 120
    dense = _per_slot(groups, 0, horizon)
    assert np.all(dense.sum(axis=1) == d)
    cumulative = np.vstack([np.zeros(len(rates), dtype=np.int64), np.cumsum(dense, axis=0)])
    for c, r in enumerate(rates):
        if r == 0:
            assert cumulative[-1, c] == 0 and groups.group_of[c] == -1
        for t in range(0, horizon + 1, 7):
            assert math.floor(t * r) <= cumulative[t, c] <= math.ceil(t * r), (c, t)
            assert groups.seats_before(c, t) == cumulative[t, c]
    for t in (0, 1, 50, horizon):
        np.testing.assert_array_equal(groups.seats_before_all(t), cumulative[t])


def _reference_picks(groups: RateGroups, start: int, stop: int) -> tuple[IntArray, IntArray]:
    """picks() as every group's rotation hands its seats out, group by group, then a stable
    sort by slot: the definition the vectorised picks must reproduce pair for pair."""
    per_slot = groups.schedule.slots(start, stop)
    first = groups.schedule.cumulative(start)
    slots = np.arange(start, stop, dtype=np.int64)
    slot_parts, class_parts = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for g in np.flatnonzero(per_slot.sum(axis=0)).tolist():
        at, total = int(first[g]), int(per_slot[:, g].sum())
        items = groups.rotation(g).items(at, at + total)
        slot_parts.append(np.repeat(slots, per_slot[:, g]))
        class_parts.append(groups.members[g][items])
    slot, cls = np.concatenate(slot_parts), np.concatenate(class_parts)
    order = np.argsort(slot, kind="stable")
    return slot[order], cls[order]


@settings(max_examples=40, deadline=None)
@given(rates=_rates(), seed=st.integers(0, 2**32), replicas=st.integers(1, 3), a=st.integers(0, 80))
def test_picks_equal_the_group_by_group_definition(
    rates: list[Fraction], seed: int, replicas: int, a: int
) -> None:
    """The one-class groups seated all at once give the same (slot, class) pairs, in the same
    order (by slot, then group), as handing every group's seats out through its rotation."""
    groups = _groups(rates, seed, replicas)
    got = groups.picks(a, a + 40)
    want = _reference_picks(_groups(rates, seed, replicas), a, a + 40)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_rotations_are_built_on_first_use() -> None:
    """Construction builds no rotation (thousands of groups at a fractional alpha, most of one
    class, made it slow); picks builds those of the groups of several classes it seats."""
    rates = np.array([0.4] * 5 + [0.1, 0.2, 0.3, 0.15, 0.05, 0.2])
    groups = RateGroups(rates, 3, (0, 1))
    assert groups._rotations == {}
    groups.picks(0, 50)
    several = {g for g, cls in enumerate(groups.members) if cls.size > 1}
    assert several and set(groups._rotations) == several


@settings(max_examples=25, deadline=None)
@given(rates=_rates(), seed=st.integers(0, 2**32), replicas=st.integers(1, 3), a=st.integers(0, 80))
def test_picks_random_access_equals_sequential(
    rates: list[Fraction], seed: int, replicas: int, a: int
) -> None:
    """picks(a, b) of a fresh instance is the slice of a sequential read; so is a pickled
    copy's."""
    sequential = _per_slot(_groups(rates, seed, replicas), 0, 120)
    fresh = _groups(rates, seed, replicas)
    np.testing.assert_array_equal(_per_slot(fresh, a, a + 40), sequential[a : a + 40])
    copy = pickle.loads(pickle.dumps(fresh))
    np.testing.assert_array_equal(_per_slot(copy, 0, 120), sequential)


@settings(max_examples=25, deadline=None)
@given(rates=_rates(), seed=st.integers(0, 2**32), replicas=st.integers(2, 3))
def test_a_step_spreads_a_groups_seats(rates: list[Fraction], seed: int, replicas: int) -> None:
    """With replicas, a group's seats in one global step (``replicas`` slots) go to
    min(|g|, seats) different classes."""
    groups = _groups(rates, seed, replicas)
    dense = _per_slot(groups, 0, 60 * replicas)
    for step in range(60):
        block = dense[step * replicas : (step + 1) * replicas]
        for cls in groups.members:
            seats = int(block[:, cls].sum())
            distinct = int((block[:, cls].sum(axis=0) > 0).sum())
            assert distinct == min(cls.size, seats)


def test_group_structure_and_singleton_split() -> None:
    """Equal rates form one group unless the group would never hold two seats in a slot while
    a slot has room for two: then each class is its own group."""
    rates = np.array([0.4, 0.4, 0.4, 0.4, 0.4, 0.5, 0.5, 0.0])  # d = 3
    groups = RateGroups(rates, 3, (1, 3))
    assert groups.group_of[7] == -1
    # 5 classes of 2/5: group rate 2 > 1, one group; the 1/2 pair (group rate 1) is split.
    assert groups.num_groups == 3
    assert sorted(len(m) for m in groups.members) == [1, 1, 5]
    np.testing.assert_allclose(groups.rates[groups.group_of[:7]], rates[:7])
    thin = np.array([0.1] * 5 + [0.5, 0.5, 0.5])  # d = 2; the 0.1 group has rate 1/2 <= 1
    split = RateGroups(thin, 2, (1, 3))
    assert len({int(g) for g in split.group_of[:5]}) == 5
    assert all(len(split.members[split.group_of[c]]) == 1 for c in range(5))
    one_seat = np.array([0.1] * 5 + [0.5])  # d = 1: no room for two, no split
    together = RateGroups(one_seat, 1, (1, 3))
    assert len({int(g) for g in together.group_of[:5]}) == 1
    for g, cls in enumerate(groups.members):
        assert cls.tolist() == sorted(cls.tolist())
        assert groups.local[cls].tolist() == list(range(cls.size))
        assert np.all(groups.group_of[cls] == g)


def test_float_residual_goes_to_the_largest_group() -> None:
    """Rates that sum to d only up to float rounding still give exactly d seats per slot."""
    rates = np.array([0.1, 0.2, 0.3, 0.4, 1 / 3, 2 / 3])  # sums to 2 up to rounding
    groups = RateGroups(rates, 2, (4, 3))
    assert sum(groups.rho, Fraction(0)) == 2
    dense = _per_slot(groups, 0, 90)
    assert np.all(dense.sum(axis=1) == 2)


def test_classes_meet_and_the_key_matters() -> None:
    """Which classes share a slot is random from the key: different seeds give different
    picks, and every pair of a group of equal rates shares some slot."""
    rates = np.array([0.5] * 6)  # d = 3
    dense = [_per_slot(RateGroups(rates, 3, (s, 3)), 0, 40) for s in range(6)]
    assert any(not np.array_equal(dense[0], other) for other in dense[1:])
    together = dense[0].T @ dense[0]
    assert np.all(together > 0)


@pytest.mark.parametrize("seats", [0])
def test_no_rates(seats: int) -> None:
    """All rates 0: no groups, no picks."""
    groups = RateGroups(np.zeros(4), seats, (1, 3))
    slot, cls = groups.picks(0, 10)
    assert slot.size == 0 and cls.size == 0
    assert groups.seats_before_all(10).tolist() == [0] * 4


@settings(max_examples=40, deadline=None)
@given(
    rates=_rates(),
    seed=st.integers(0, 2**32),
    replicas=st.integers(2, 12),
    data=st.data(),
)
def test_seats_at_gives_the_picks_of_its_slots_alone(
    rates: list[Fraction], seed: int, replicas: int, data: st.DataObject
) -> None:
    """The seats of a rank's slots read alone (seats_at) are the picks of those slots among
    every slot of their span, in the same order; each seat's count of earlier seats of its
    class, and the seats every class had before each slot, are seats_before's."""
    groups = _groups(rates, seed, replicas)
    rank = data.draw(st.integers(0, replicas - 1))
    k0, rows = data.draw(st.integers(0, 300)), data.draw(st.integers(1, 12))
    slots = (k0 + np.arange(rows)) * replicas + rank
    columns = np.arange(groups.num_classes)
    row, cls, earlier, before = groups.seats_at(slots, columns)
    reference = _groups(rates, seed, replicas)  # its own caches
    slot, expected = reference.picks(int(slots[0]), int(slots[-1]) + 1)
    mine = np.isin(slot, slots)
    np.testing.assert_array_equal(slots[row], slot[mine])
    np.testing.assert_array_equal(cls, expected[mine])
    pairs = zip(cls.tolist(), slots[row].tolist(), strict=True)
    assert earlier.tolist() == [reference.seats_before(c, t) for c, t in pairs]
    assert before is not None
    for i, t in enumerate(slots.tolist()):
        assert before[i].tolist() == [reference.seats_before(c, t) for c in columns.tolist()]


@settings(max_examples=20, deadline=None)
@given(rates=_rates(), seed=st.integers(0, 2**32), start=st.integers(0, 200))
def test_picks_read_stretch_by_stretch_are_the_picks(
    rates: list[Fraction], seed: int, start: int
) -> None:
    """picks reads a stretch of PICK_ENTRIES // groups slots at a time (so that thousands of
    groups keep its (slots, groups) counts small); read stretch by stretch, the seats are
    those read in one go."""
    whole = _groups(rates, seed).picks(start, start + 90)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(groups_module, "PICK_ENTRIES", 7)
        parts = _groups(rates, seed).picks(start, start + 90)
    for got, expected in zip(parts, whole, strict=True):
        np.testing.assert_array_equal(got, expected)
