"""Tests of :mod:`refsampler.pd2`: a span of PD2 run from one ranking of its subtasks is PD2
run slot by slot, with every key recomputed from the lags, whatever the rates, the
denominator (up to 2**58) and the state it starts from."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refsampler import keys
from refsampler.pd2 import run_span

IntArray = npt.NDArray[np.int64]
Salt = npt.NDArray[np.uint64]


def _reference(
    num: IntArray, den: int, salt: Salt, choose: int, count: IntArray, lag: IntArray, slots: int
) -> tuple[IntArray, IntArray, IntArray]:
    """PD2 one slot at a time, its keys computed afresh every slot from the lag numerators
    (release, pseudo-deadline, successor bit, group deadline, random priority), as
    refsampler ran it before :mod:`refsampler.pd2`; returns the counts before every slot and
    after the last, and the final counts and lags."""
    count, lag = count.copy(), lag.copy()
    rows = np.empty((slots + 1, num.size), dtype=np.int64)
    for slot in range(slots):
        rows[slot] = count
        ready = np.flatnonzero(lag > -num)
        r_lag, r_num = lag[ready], num[ready]
        ahead = den - r_lag
        delta = -(-ahead // r_num)
        if ready.size > choose:
            # Only subtasks whose deadline is among the `choose` earliest can win.
            short = delta <= np.partition(delta, choose - 1)[choose - 1]
            ready, r_lag, r_num, ahead, delta = (
                x[short] for x in (ready, r_lag, r_num, ahead, delta)
            )
        successor = (ahead % r_num != 0).astype(np.int64)
        group = np.zeros(ready.size, dtype=np.int64)
        heavy = 2 * r_num >= den
        light = den - r_num[heavy]
        c = -((r_lag[heavy] - delta[heavy] * light) // den)
        group[heavy] = -(-(r_lag[heavy] + c * den) // light)
        tie = (count[ready] + 1).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        tie = keys.mix_words(tie ^ salt[ready])
        chosen = ready[np.lexsort((tie, -group, -successor, delta))[:choose]]
        count[chosen] += 1
        lag[chosen] -= den
        lag += num
    rows[slots] = count
    return rows, count, lag


@st.composite
def _tasks(draw: st.DrawFn) -> tuple[IntArray, int, int]:
    """Numerators over ``den`` of 3 to 12 rates in (0, 1) summing to an integer ``choose``:
    small and near-2**58 denominators, and rates near 0, near 1 and at 1/2 (heavy tasks)."""
    size = draw(st.integers(3, 12))
    den = draw(
        st.one_of(
            st.integers(size, 64),
            st.integers(65, 10**6),
            st.integers(2**57, 2**58),
        )
    )
    choose = draw(st.integers(1, size - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    # Rates spread around choose / size, then moved between tasks within (0, 1).
    num = np.full(size, choose * den // size, dtype=np.int64)
    num[: choose * den - int(num.sum())] += 1
    for _ in range(draw(st.integers(0, 3 * size))):
        give, take = rng.choice(size, 2, replace=False)
        room = min(int(num[give]) - 1, den - 1 - int(num[take]))
        if room > 0:
            amount = int(rng.integers(1, room + 1)) if rng.random() < 0.5 else room
            num[give] -= amount
            num[take] += amount
    return num, den, choose


@settings(max_examples=120, deadline=None)
@given(
    tasks=_tasks(),
    before=st.integers(0, 200),
    slots=st.integers(0, 130),
    seed=st.integers(0, 2**63 - 1),
    one_salt=st.booleans(),
)
def test_a_span_is_pd2_slot_by_slot(
    tasks: tuple[IntArray, int, int], before: int, slots: int, seed: int, one_salt: bool
) -> None:
    """From the state PD2 reaches after ``before`` slots, ``run_span`` schedules every slot
    of a span (up to twice a block, past the listing's bound) as the reference does; with
    one salt for every task, equal rates tie fully and go by task index in both."""
    num, den, choose = tasks
    assert 0 < num.min() and num.max() < den and int(num.sum()) == choose * den
    salt = np.random.default_rng(seed).integers(0, 1 << 63, num.size).astype(np.uint64)
    if one_salt:
        salt[:] = salt[0]
    zero = np.zeros(num.size, dtype=np.int64)
    _, count, lag = _reference(num, den, salt, choose, zero, zero, before)
    expected, _, expected_lag = _reference(num, den, salt, choose, count, lag, slots)
    taken, rows = run_span(num, den, salt, choose, count, lag, slots, record=True)
    assert rows is not None
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_array_equal(taken, expected[-1] - count)
    # The caller's lag update, in wrapping arithmetic when slots * num passes 2**63.
    np.testing.assert_array_equal(lag + slots * num - taken * den, expected_lag)
    # Without a record, the same seats; and no input is changed.
    np.testing.assert_array_equal(run_span(num, den, salt, choose, count, lag, slots)[0], taken)
    np.testing.assert_array_equal(count, expected[0])


def test_equal_rates_are_ordered_by_their_salts_not_their_index() -> None:
    """Four tasks of rate 1/2 on two processors: the pair that runs first follows the salts,
    and over many salts every pair runs first (no task is favoured by its index)."""
    num = np.full(4, 1, dtype=np.int64)
    zero = np.zeros(4, dtype=np.int64)
    firsts = set()
    for seed in range(200):
        salt = np.random.default_rng(seed).integers(0, 1 << 63, 4).astype(np.uint64)
        _, rows = run_span(num, 2, salt, 2, zero, zero, 1, record=True)
        assert rows is not None
        firsts.add(tuple(np.flatnonzero(rows[1]).tolist()))
    assert len(firsts) == 6


@pytest.mark.parametrize("den", [7, 2**58 - 5])
def test_a_long_run_keeps_every_lag_below_one(den: int) -> None:
    """Run span after span for 5,000 slots on a heavy, a near-1 and two light rates: every
    cumulative count stays within one subtask of its ideal (|lag| < den)."""
    num = np.array([den - 1, den // 2, 1, 0], dtype=np.int64)
    num[3] = 2 * den - int(num[:3].sum())
    salt = np.arange(4, dtype=np.uint64)
    count = np.zeros(4, dtype=np.int64)
    lag = np.zeros(4, dtype=np.int64)
    for _ in range(5000 // 50):
        taken, rows = run_span(num, den, salt, 2, count, lag, 50, record=True)
        assert rows is not None
        assert np.all(np.diff(rows, axis=0).sum(axis=1) == 2)
        count = count + taken
        lag = lag + 50 * num - taken * den
        assert np.all(np.abs(lag) < den)


@settings(max_examples=100, deadline=None)
@given(q=st.integers(2**50, 2**55), j=st.integers(2, 40), slots=st.integers(1, 64))
def test_releases_are_exact_where_floats_round_across_an_integer(
    q: int, j: int, slots: int
) -> None:
    """The listing's releases ``floor(x / num)`` and remainders ``x mod num`` (``x = i D -
    lag`` for the task's ``i``-th next subtask) match exact integer arithmetic on rates
    ``j / (j + 1)`` over ``D`` near 2**58, where ``x / num`` falls just below an integer and
    a float quotient rounds up to it."""
    from refsampler.pd2 import _subtasks

    den = (j + 1) * q
    num = np.array([j * q, q, j * q - 1, 1], dtype=np.int64)  # lag = 1 - num: x just below
    lag = np.array([1 - j * q, -1, 2 - j * q, 0], dtype=np.int64)
    rows, place, release, rem, first = _subtasks(num, den, lag, slots)
    for row, i, got_release, got_rem in zip(rows, place, release, rem, strict=True):
        x = int(i) * den - int(lag[row])
        assert (int(got_release), int(got_rem)) == divmod(x, int(num[row]))
    assert first[0] == 0 and np.all(np.diff(first) >= 1)
