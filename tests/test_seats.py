"""Tests of :mod:`refsampler.seats`: seats per rate group per slot (the Pfair lag bound, the
closed form of two groups, PD2 for three or more, random access)."""

from __future__ import annotations

import itertools
import math
import pickle
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from refsampler import seats
from refsampler.seats import BLOCK_SLOTS, CHECKPOINT_SLOTS, RATE_BITS, SeatSchedule, fraction_sum
from tests._spies import pd2_slots

IntArray = npt.NDArray[np.int64]


@st.composite
def _rates(draw: st.DrawFn, min_free: int = 0, max_free: int = 5) -> list[Fraction]:
    """Group rates rho_g = n_g + sigma_g summing to an integer, with small denominators:
    ``min_free .. max_free`` free fractional parts, and one more that completes the sum."""
    count = draw(st.integers(min_free, max_free))
    sigma = [Fraction(draw(st.integers(1, 40)), draw(st.integers(41, 60))) for _ in range(count)]
    short = math.ceil(sum(sigma, Fraction(0))) - sum(sigma, Fraction(0))
    if short and count:
        sigma.append(short)
    integral = draw(st.lists(st.integers(0, 2), min_size=len(sigma), max_size=len(sigma)))
    rho = [Fraction(n) + s for n, s in zip(integral, sigma, strict=True)]
    rho += [Fraction(n) for n in draw(st.lists(st.integers(0, 2), max_size=2))]
    return draw(st.permutations(rho))


def _check_schedule(schedule: SeatSchedule, rho: list[Fraction], horizon: int) -> IntArray:
    """The contract over slots 0 .. horizon - 1; returns the per-slot seats."""
    per_slot = schedule.slots(0, horizon)
    d = int(sum(rho, Fraction(0)))
    assert per_slot.shape == (horizon, len(rho))
    assert np.all(per_slot.sum(axis=1) == d)
    base = np.array([math.floor(r) for r in rho], dtype=np.int64)
    extra = per_slot - base
    assert np.all((extra == 0) | (extra == 1))
    cumulative = np.vstack([np.zeros(len(rho), dtype=np.int64), np.cumsum(per_slot, axis=0)])
    for g, r in enumerate(rho):
        for t in range(horizon + 1):
            assert abs(int(cumulative[t, g]) - t * r) < 1, (g, t)
    return per_slot


@settings(max_examples=40, deadline=None)
@given(rho=_rates(max_free=1), seed=st.integers(0, 2**32))
def test_up_to_two_groups_meet_the_lag_bound(rho: list[Fraction], seed: int) -> None:
    """At most two groups share the extra seats: n_g or n_g + 1 seats per slot, rows sum to
    d, and |cumulative_g(t) - t rho_g| < 1 for every prefix."""
    schedule = SeatSchedule(rho, (seed, 1))
    assert not schedule.sequential
    _check_schedule(schedule, rho, 150)


@settings(max_examples=30, deadline=None)
@given(rho=_rates(max_free=1), seed=st.integers(0, 2**32))
def test_two_groups_are_a_sturmian_sequence(rho: list[Fraction], seed: int) -> None:
    """With two active groups, E_A(t) = floor(t sigma_A + phi) for one phase phi in [0, 1):
    the phases each prefix allows have a common point."""
    schedule = SeatSchedule(rho, (seed, 1))
    sigma = [r - math.floor(r) for r in rho]
    active = [g for g, s in enumerate(sigma) if s > 0]
    if len(active) != 2:
        return
    a = active[0]
    extra = schedule.slots(0, 200)[:, a] - math.floor(rho[a])
    e = np.concatenate([[0], np.cumsum(extra)])
    low, high = Fraction(0), Fraction(1)
    for t in range(201):
        low = max(low, int(e[t]) - t * sigma[a])
        high = min(high, int(e[t]) + 1 - t * sigma[a])
    assert low < high


def test_two_groups_phase_varies_with_the_key() -> None:
    """The phase comes from the key: over a few keys the two-group sequence changes."""
    rho = [Fraction(3, 7), Fraction(4, 7)]
    sequences = {tuple(SeatSchedule(rho, (s, 1)).slots(0, 14)[:, 0].tolist()) for s in range(20)}
    assert len(sequences) > 1


@settings(max_examples=6, deadline=None)
@given(rho=_rates(min_free=3, max_free=4), seed=st.integers(0, 2**32))
def test_three_or_more_groups_meet_the_lag_bound(rho: list[Fraction], seed: int) -> None:
    """PD2 (three or more groups share the extra seats): the same per-slot and prefix
    contract, across a checkpoint."""
    schedule = SeatSchedule(rho, (seed, 1))
    assert schedule.sequential
    _check_schedule(schedule, rho, CHECKPOINT_SLOTS + 40)


def test_pd2_random_access_equals_sequential() -> None:
    """A fresh schedule asked for late slots first (across checkpoints) gives the slots that
    a sequential read gives; cumulative(t) is the sum of slots before t."""
    rho = [Fraction(1, 3), Fraction(2, 5), Fraction(4, 15), Fraction(2, 1), Fraction(1, 1)]
    sequential = SeatSchedule(rho, (5, 2))
    horizon = 2 * CHECKPOINT_SLOTS + 50
    rows = sequential.slots(0, horizon)
    fresh = SeatSchedule(rho, (5, 2))
    for a, b in [(2 * CHECKPOINT_SLOTS + 3, horizon), (CHECKPOINT_SLOTS - 5, CHECKPOINT_SLOTS + 5)]:
        np.testing.assert_array_equal(fresh.slots(a, b), rows[a:b])
    for t in (0, 1, CHECKPOINT_SLOTS, CHECKPOINT_SLOTS + 1, horizon):
        np.testing.assert_array_equal(fresh.cumulative(t), rows[:t].sum(axis=0))
    copy = pickle.loads(pickle.dumps(sequential))
    np.testing.assert_array_equal(copy.slots(0, 100), rows[:100])


def test_pd2_resumes_from_the_last_period_not_from_slot_0() -> None:
    """Every D slots (D the rates' common denominator) every lag is 0, so a fresh schedule
    asked for a late slot runs PD2 from the last multiple of D before it -- fewer than
    D + CHECKPOINT_SLOTS slots -- and still gives the slots a sequential read gives."""
    rho = [Fraction(7, 97), Fraction(50, 97), Fraction(40, 97), Fraction(1, 1)]
    schedule = SeatSchedule(rho, (9, 4))
    assert schedule.sequential and schedule.den == 97
    far = 40 * CHECKPOINT_SLOTS + 3 * BLOCK_SLOTS
    expected = SeatSchedule(rho, (9, 4)).slots(0, far + BLOCK_SLOTS)[far:]
    fresh = SeatSchedule(rho, (9, 4))
    ran = pd2_slots(fresh)
    np.testing.assert_array_equal(fresh.slots(far, far + BLOCK_SLOTS), expected)
    assert 0 < sum(slots for _, slots in ran) < 97 + CHECKPOINT_SLOTS + 2 * BLOCK_SLOTS
    cumulative = fresh.cumulative(97 * 400)
    np.testing.assert_array_equal(cumulative, [7 * 400, 50 * 400, 40 * 400, 97 * 400])


def _large_period() -> list[Fraction]:
    """Four rates over a common denominator far beyond any slot a test reaches."""
    den = 1_000_003  # prime
    sigma = [Fraction(210_001, den), Fraction(377_777, den), Fraction(1_000, den)]
    return [*sigma, 3 - sum(sigma, Fraction(0))]


def test_a_restored_checkpoint_gives_the_same_slots_without_replaying() -> None:
    """checkpoint_bits / restore_checkpoint carry PD2's state at a checkpoint to a fresh
    schedule: its slots after the checkpoint are those of the schedule that ran PD2 from slot
    0, and it runs PD2 only from the checkpoint on (the period is far out of reach here)."""
    rho = _large_period()
    ran_from_0 = SeatSchedule(rho, (5, 2))
    at = 6 * CHECKPOINT_SLOTS
    assert ran_from_0.den > 100 * at
    expected = ran_from_0.slots(at + 300, at + 300 + BLOCK_SLOTS)
    bits = ran_from_0.checkpoint_bits(at)
    assert bits is not None and len(bits) == 1  # one bit per active group
    assert ran_from_0.checkpoint_bits(at + 1) is None  # not a checkpoint
    fresh = SeatSchedule(rho, (5, 2))
    fresh.restore_checkpoint(at, bits)
    ran = pd2_slots(fresh)
    np.testing.assert_array_equal(fresh.slots(at + 300, at + 300 + BLOCK_SLOTS), expected)
    assert min(start for start, _ in ran) >= at
    assert 0 < sum(slots for _, slots in ran) <= 300 + 2 * BLOCK_SLOTS
    # Slots before the checkpoint still come out right (from slot 0).
    np.testing.assert_array_equal(fresh.cumulative(at - 5), ran_from_0.cumulative(at - 5))


def test_a_long_run_keeps_a_bounded_number_of_checkpoints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond MAX_CHECKPOINTS checkpoints on the grid the earliest made goes (slot 0 and a
    restored state stay), so a long run with thousands of groups does not keep a state every
    CHECKPOINT_SLOTS slots for good; a read before the earliest kept steps PD2 from an
    earlier one and comes out the same."""
    monkeypatch.setattr(seats, "MAX_CHECKPOINTS", 2)
    rho = _large_period()
    reference = SeatSchedule(rho, (5, 2))
    reference.slots(0, 2 * BLOCK_SLOTS)
    bits = reference.checkpoint_bits(BLOCK_SLOTS)
    assert bits is not None
    expected = reference.slots(0, 7 * CHECKPOINT_SLOTS)
    schedule = SeatSchedule(rho, (5, 2))
    schedule.restore_checkpoint(BLOCK_SLOTS, bits)
    np.testing.assert_array_equal(schedule.slots(0, 7 * CHECKPOINT_SLOTS), expected)
    grid = sorted(s for s in schedule._checkpoints if s % CHECKPOINT_SLOTS == 0 and s)
    assert grid == [6 * CHECKPOINT_SLOTS, 7 * CHECKPOINT_SLOTS]
    assert {0, BLOCK_SLOTS} <= set(schedule._checkpoints)  # slot 0 and the restored state
    for t in (3 * CHECKPOINT_SLOTS + 5, CHECKPOINT_SLOTS, 17):  # before the kept ones
        np.testing.assert_array_equal(schedule.cumulative(t), reference.cumulative(t))


def test_cached_blocks_stay_within_their_memory_with_thousands_of_groups() -> None:
    """A cached block holds a byte per slot per group: with thousands of groups fewer blocks
    are cached (about BLOCK_CACHE_BYTES of them, at least 4), with a few all 32; slots read
    again after their block was evicted are the same."""
    many = SeatSchedule([Fraction(1, 2)] * 4000, (3,))  # 8 blocks of 4000 groups
    few = SeatSchedule(_large_period(), (5, 2))
    assert many._block.cache_info().maxsize == seats.BLOCK_CACHE_BYTES // (65 * 4000)
    assert few._block.cache_info().maxsize == 32
    first = many.slots(0, BLOCK_SLOTS)
    many.slots(BLOCK_SLOTS, 10 * BLOCK_SLOTS)  # evicts the first block
    np.testing.assert_array_equal(many.slots(0, BLOCK_SLOTS), first)


def test_unknown_slots_counts_from_the_latest_state_held() -> None:
    """What a cold read would step: every slot from 0 on a fresh schedule whose period is out
    of reach; once PD2 ran up to a slot, only from the state kept there (a checkpoint or a
    block end); fewer than D from a multiple of the period D; nothing without PD2."""
    rho = _large_period()
    schedule = SeatSchedule(rho, (5, 2))
    far = 5 * CHECKPOINT_SLOTS + 17
    assert schedule.unknown_slots(far) == far
    schedule.slots(0, 3 * CHECKPOINT_SLOTS)
    assert schedule.unknown_slots(3 * CHECKPOINT_SLOTS + 10) == 10
    assert schedule.unknown_slots(far) == far - 3 * CHECKPOINT_SLOTS
    short = SeatSchedule([Fraction(7, 97), Fraction(50, 97), Fraction(40, 97), Fraction(1)], (9, 4))
    assert short.unknown_slots(far) == far % 97
    two = SeatSchedule([Fraction(1, 3), Fraction(2, 3), Fraction(1)], (1,))
    assert not two.sequential and two.unknown_slots(far) == 0


def test_the_states_at_recent_block_starts_are_kept_and_restore_like_checkpoints() -> None:
    """A schedule keeps its state at the start of every recent block, computed or stepped
    over (a saved state's checkpoint is one of them, a few blocks before the batch), as
    read-only copies that keep no block alive; restored in a fresh schedule, one gives the
    same slots after running PD2 from it alone."""
    rho = _large_period()
    ran_from_0 = SeatSchedule(rho, (5, 2))
    at = 6 * CHECKPOINT_SLOTS + 5 * BLOCK_SLOTS  # off the checkpoint grid
    expected = ran_from_0.slots(at + 2 * BLOCK_SLOTS, at + 3 * BLOCK_SLOTS)
    for b in range(at - 4 * BLOCK_SLOTS, at + 3 * BLOCK_SLOTS, BLOCK_SLOTS):
        assert ran_from_0.checkpoint_bits(b) is not None, b  # stepped over, then computed
    assert ran_from_0.checkpoint_bits(at + 7) is None
    for kept in ran_from_0._recent.values():
        assert kept.base is None and not kept.flags.writeable
    fresh = SeatSchedule(rho, (5, 2))
    bits = ran_from_0.checkpoint_bits(at)
    assert bits is not None
    fresh.restore_checkpoint(at, bits)
    ran = pd2_slots(fresh)
    np.testing.assert_array_equal(
        fresh.slots(at + 2 * BLOCK_SLOTS, at + 3 * BLOCK_SLOTS), expected
    )
    assert min(start for start, _ in ran) == at
    assert sum(slots for _, slots in ran) == 3 * BLOCK_SLOTS


def test_restore_checkpoint_refuses_what_is_not_a_state_of_the_schedule() -> None:
    """Wrong slot, wrong length, padding bits, or seats that do not sum to slot * extra."""
    rho = _large_period()
    schedule = SeatSchedule(rho, (5, 2))
    at = 2 * CHECKPOINT_SLOTS
    schedule.cumulative(at)
    bits = schedule.checkpoint_bits(at)
    assert bits is not None
    fresh = SeatSchedule(rho, (5, 2))
    for slot, data, message in [
        (at + 1, bits, "no PD2 checkpoint"),
        (0, bits, "no PD2 checkpoint"),
        (at, bits + b"\x00", "expected 1 bytes"),
        (at, bytes([bits[0] | 0x01]), "padding bits"),
        (at, bytes([bits[0] ^ 0x80]), "not a state"),
    ]:
        with pytest.raises(ValueError, match=message):
            fresh.restore_checkpoint(slot, data)
    two = SeatSchedule([Fraction(1, 3), Fraction(2, 3)], (1, 1))
    assert two.checkpoint_bits(CHECKPOINT_SLOTS) is None  # a closed form needs none
    with pytest.raises(ValueError, match="no PD2 checkpoint"):
        two.restore_checkpoint(CHECKPOINT_SLOTS, b"\x00")


@settings(max_examples=20, deadline=None)
@given(rho=_rates(max_free=1), seed=st.integers(0, 2**32), a=st.integers(0, 300))
def test_closed_form_random_access(rho: list[Fraction], seed: int, a: int) -> None:
    """Up to two active groups: slots(a, b) is the slice of a sequential read, and
    cumulative(t) its prefix sum, also far out (t near 2**40)."""
    schedule = SeatSchedule(rho, (seed, 1))
    rows = schedule.slots(0, 400)
    np.testing.assert_array_equal(schedule.slots(a, a + 100), rows[a : a + 100])
    np.testing.assert_array_equal(schedule.cumulative(a), rows[:a].sum(axis=0))
    far = 2**40 + a
    assert np.all(
        schedule.cumulative(far + 30) - schedule.cumulative(far)
        == schedule.slots(far, far + 30).sum(axis=0)
    )
    for g, r in enumerate(rho):
        assert abs(int(schedule.cumulative(far)[g]) - far * r) < 1


def test_schedule_depends_only_on_rates_and_key() -> None:
    """Two schedules of the same rates and key agree; PD2's random priorities follow the key."""
    rho = [Fraction(1, 2)] * 4
    a = SeatSchedule(rho, (1, 2)).slots(0, 64)
    np.testing.assert_array_equal(SeatSchedule(rho, (1, 2)).slots(0, 64), a)
    others = [SeatSchedule(rho, (s, 2)).slots(0, 64) for s in range(2, 12)]
    assert any(not np.array_equal(a, other) for other in others)


def test_slot_containing() -> None:
    """slot_containing(g, p) is the slot t with cumulative(t)[g] <= p < cumulative(t+1)[g]."""
    rho = [Fraction(5, 3), Fraction(1, 6), Fraction(1, 6), Fraction(2)]
    schedule = SeatSchedule(rho, (3,))
    for g in range(len(rho)):
        for p in range(0, 60):
            t = schedule.slot_containing(g, p)
            assert schedule.cumulative(t)[g] <= p < schedule.cumulative(t + 1)[g]
    zero = SeatSchedule([Fraction(0), Fraction(1)], (3,))
    with pytest.raises(ValueError, match="never gets a seat"):
        zero.slot_containing(0, 0)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.fractions(min_value=0, max_value=10, max_denominator=10**12), min_size=0, max_size=40
    )
)
def test_fraction_sum_is_the_exact_sum(values: list[Fraction]) -> None:
    """The integer-numerator sum equals adding the fractions one by one, exactly."""
    assert fraction_sum(values) == sum(values, Fraction(0))


def test_rates_must_sum_to_an_integer() -> None:
    """A non-integral total is refused."""
    with pytest.raises(ValueError, match="must sum to an integer"):
        SeatSchedule([Fraction(1, 3), Fraction(1, 3)], (0,))


def test_no_active_group_or_one() -> None:
    """Integral rates: every slot is the base; one fractional group cannot exist alone, but a
    whole-seat group with fractional neighbours still gets its base every slot."""
    schedule = SeatSchedule([Fraction(2), Fraction(1), Fraction(0)], (0,))
    assert schedule.slots(5, 9).tolist() == [[2, 1, 0]] * 4
    assert schedule.cumulative(7).tolist() == [14, 7, 0]
    assert schedule.slots(3, 3).shape == (0, 3)


def test_huge_denominators_are_rounded_within_2_to_the_minus_57() -> None:
    """Rates whose common denominator passes 2**58: the simplest (1/1,000,003) stays exact,
    the grid D being a multiple of its denominator between 2**57 and 2**58, and the others
    are rounded to it: per slot the contract holds, the exact rate's lag stays below 1, and
    the others' below 1 plus t / D."""
    primes = [1_000_003, 998_244_353, 1_000_000_007]
    sigma = [Fraction(1, p) for p in primes]
    sigma.append(math.ceil(sum(sigma)) - sum(sigma, Fraction(0)))
    rho = [*sigma, Fraction(1)]
    schedule = SeatSchedule(rho, (8,))
    assert 1 << (RATE_BITS - 1) <= schedule.den <= 1 << RATE_BITS
    assert schedule.den % primes[0] == 0 and schedule.num[0] * primes[0] == schedule.den
    horizon = 300
    rows = schedule.slots(0, horizon)
    assert np.all(rows.sum(axis=1) == 2)
    cumulative = np.cumsum(rows, axis=0)
    slack = Fraction(1, schedule.den)
    for g, r in enumerate(rho):
        for t in range(1, horizon + 1):
            assert abs(int(cumulative[t - 1, g]) - t * r) < 1 + (0 if g == 0 else t * slack)


def test_simple_rates_stay_exact_beside_rates_that_must_be_rounded() -> None:
    """1/3 and 1/4 beside rates of huge denominators: D is a multiple of 12, so the group of
    rate 1/3 has exactly one extra seat in every three slots (lag 0 at every multiple of 3),
    as it would not on a grid of 2**-58."""
    primes = [998_244_353, 1_000_000_007, 1_000_000_009]
    sigma = [Fraction(1, 3), Fraction(1, 4), *(Fraction(1, p) for p in primes)]
    sigma.append(math.ceil(sum(sigma)) - sum(sigma, Fraction(0)))
    schedule = SeatSchedule(sigma, (2,))
    assert schedule.den % 12 == 0
    cumulative = np.cumsum(schedule.slots(0, 600), axis=0)
    assert np.array_equal(cumulative[2::3, 0], np.arange(1, 201))
    assert np.array_equal(cumulative[3::4, 1], np.arange(1, 151))


@settings(max_examples=200, deadline=None)
@given(
    sigma=st.lists(st.integers(1, 1 << 20), min_size=3, max_size=6),
    den_bits=st.integers(21, RATE_BITS),
    slot=st.one_of(st.integers(0, 1 << 12), st.integers(0, 1 << 62)),
)
def test_floors_are_exact_in_either_arithmetic(sigma: list[int], den_bits: int, slot: int) -> None:
    """``_floors`` (what a restored checkpoint is checked against) equals the exact
    ``floor(slot * num / D)`` and its remainder test, whether the products fit in 64 bits
    (numpy's integers) or not (Python's)."""
    den = (1 << den_bits) - 1
    rho = [Fraction(s, den) for s in sigma]
    rho.append(math.ceil(sum(rho)) - sum(rho, Fraction(0)))
    schedule = SeatSchedule(rho, (1,))
    floors, exact = schedule._floors(slot)
    expected = [slot * int(n) // schedule.den for n in schedule.num]
    assert floors.tolist() == expected
    assert exact.tolist() == [slot * int(n) % schedule.den == 0 for n in schedule.num]


@pytest.mark.statistical(level=1e-8)
def test_pd2_ties_give_every_order_of_equal_rate_groups_alike() -> None:
    """Groups of equal rate have the same windows, so PD2 orders their k-th seats by the
    random tie priority alone; it must make every order of a round equally likely, not only
    change with the round. Four groups at 1/10 beside three others: over 3,000 rounds, the
    order of the four in the rounds whose four seats fall in distinct slots (1,500 here) is
    uniform over the 24 orders, a chi-square test at level 1e-8 (false-failure rate 1e-8).
    It detects Cohen's w = 0.25 with power 0.96 (w = 0.3: 0.9998); a priority that keeps
    groups of near salts together, as a plain XOR of the salt did, lets at most 8 of the 24
    orders occur (w above 1)."""
    rho = [Fraction(1, 10)] * 4 + [Fraction(11, 20), Fraction(9, 20), Fraction(3, 5)]
    rounds = 3000
    per_slot = SeatSchedule(rho, (5, 1)).slots(0, 10 * rounds)
    # The slot of each of the four groups' k-th seat, one row per round k.
    when = np.stack(
        [np.repeat(np.arange(per_slot.shape[0]), per_slot[:, g])[:rounds] for g in range(4)],
        axis=1,
    )
    distinct = np.array([len(set(row)) == 4 for row in when.tolist()])
    weights = 4 ** np.arange(4)
    code = np.argsort(when[distinct], axis=1) @ weights
    every = np.array([np.array(p) @ weights for p in itertools.permutations(range(4))])
    counts = (code[:, None] == every[None, :]).sum(axis=0)
    assert counts.sum() == distinct.sum() >= 1000
    assert stats.chisquare(counts).pvalue > 1e-8
