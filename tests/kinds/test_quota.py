"""Tests of :mod:`refsampler.kinds.quota`: floor or ceil of B p_c per batch, every prefix of
the run (global slots over epochs and ranks) within one sample of t B p_c."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refsampler import BalancedBatchSampler
from refsampler.allocation import quota_schedule
from refsampler.classes import ClassIndex
from refsampler.kinds.base import Setting
from refsampler.kinds.quota import QuotaPlan, build
from refsampler.plan import Plan
from refsampler.targets import explicit, interpolate

from . import check_counted_plan

FloatArray = npt.NDArray[np.float64]

SIZES = np.array([40, 17, 9, 6, 3, 2])
INDEX = ClassIndex.from_labels(np.repeat(np.arange(SIZES.size), SIZES))


def _quota(
    target: FloatArray, batch_size: int = 8, n_batches: int = 7, replicas: int = 3, seed: int = 2
) -> QuotaPlan:
    return build(Setting(INDEX, target, batch_size, n_batches, replicas, seed, {}, None))


def _assert_quota_rows(rows: npt.NDArray[np.int64], target: FloatArray, batch_size: int) -> None:
    """Per row floor/ceil of B p_c; every prefix within 1 of t B p_c (exact fractions)."""
    quota = batch_size * target
    assert np.all((rows == np.floor(quota)) | (rows == np.ceil(quota)))
    cumulative = np.cumsum(rows, axis=0)
    exact = [Fraction(float(q)).limit_denominator(1 << 24) for q in quota]
    for t in range(rows.shape[0]):
        for c, q in enumerate(exact):
            assert abs(int(cumulative[t, c]) - (t + 1) * q) < 1 + Fraction(t + 1, 1 << 30)


TARGETS = hnp.arrays(
    np.float64, SIZES.size, elements=st.floats(0, 10, allow_nan=False).map(lambda x: round(x, 2))
).filter(lambda w: w.sum() > 0)


@settings(max_examples=25, deadline=None)
@given(weights=TARGETS, batch_size=st.integers(1, 12), seed=st.integers(0, 2**32))
def test_counts_are_floor_or_ceil_and_every_prefix_is_within_one(
    weights: FloatArray, batch_size: int, seed: int
) -> None:
    """Over the global slots of 3 epochs x 3 ranks: the protocol holds, every count is floor
    or ceil of B p_c, and every class's running total is within 1 of t B p_c."""
    target = explicit(weights)
    plan = _quota(target, batch_size=batch_size, seed=seed)
    rows = check_counted_plan(plan, np.arange(0, 3 * plan.setting.slots_per_epoch))
    _assert_quota_rows(rows, target, batch_size)


def test_rank_rows_are_the_global_rows() -> None:
    """Slot t = (epoch * n_batches + k) * R + rank: one rank's evenly spaced slots give that
    rank's rows of the global schedule, and a Plan's count_rows follow it."""
    target = interpolate(SIZES, 0.4)
    plan = _quota(target)
    full = check_counted_plan(plan, np.arange(0, 42))
    sampler_plan = Plan(INDEX, "quota", target, 8, 7, 2, 3)
    for epoch in range(2):
        for rank in range(3):
            slots = (epoch * 7 + np.arange(7)) * 3 + rank
            np.testing.assert_array_equal(check_counted_plan(plan, slots), full[slots])
            np.testing.assert_array_equal(sampler_plan.count_rows(epoch, rank), full[slots])


@pytest.mark.parametrize("seed", [0, 5])
def test_quota_schedule_is_the_plan_with_one_replica(seed: int) -> None:
    """allocation.quota_schedule is this plan's rows over global slots 0 .. n - 1."""
    target = interpolate(SIZES, 0.7)
    plan = _quota(target, replicas=1, seed=seed)
    rows = check_counted_plan(plan, np.arange(30))
    np.testing.assert_array_equal(quota_schedule(target, 8, 30, seed=seed), rows)


def test_decimal_targets_are_exact() -> None:
    """B p_c = 3 * 0.45 is taken as 27/20: after 20 batches exactly 27 draws."""
    target = explicit([0.45, 0.55, 0, 0, 0, 0])
    plan = _quota(target, batch_size=3, replicas=1)
    rows = check_counted_plan(plan, np.arange(40))
    assert rows[:20, 0].sum() == 27 and rows[:40, 0].sum() == 54


def test_a_simple_quota_stays_exact_beside_rates_that_round() -> None:
    """Class 0 holds N/K of the labels, so B p_0 = 39/4 at every alpha, while the other rates
    are binary fractions whose sum misses the seat count by a rounding residual. The residual
    goes elsewhere, so class 0 never has a seat early: after every batch each class is
    within 1 of t B p_c, computed exactly from the float target, for every seed."""
    labels = np.repeat(np.arange(4), [24, 16, 18, 38])
    for seed in range(5):
        sampler = BalancedBatchSampler(
            labels, 39, kind="quota", alpha=0.5338915126727544, seed=seed, n_batches=60
        )
        shares = [Fraction(float(p)) for p in sampler.target]
        total = np.zeros(4, dtype=np.int64)
        for t, batch in enumerate(sampler, start=1):
            total += np.bincount(labels[batch], minlength=4)
            lags = [abs(int(total[c]) - t * 39 * shares[c]) for c in range(4)]
            assert max(lags) < 1, (seed, t, [float(lag) for lag in lags])


def test_the_rounding_residual_never_goes_to_a_rate_smaller_than_it() -> None:
    """Rates down to 3e-16 beside a residual of 5e-15 (a long-tailed float target): the
    residual goes to a rate that dwarfs it, so no group's rate turns negative."""
    target = np.array([
        8.872251716663595e-18, 0.14061546811049444, 1.0808066201290587e-14, 2.714861905102531e-09,
        6.385229794931548e-14, 2.2286075741444214e-12, 4.5953564930429577e-10,
        3.7722899522222677e-13, 3.3072108563601756e-06, 1.953846405532792e-05,
        0.023801512820573155, 0.004028802948639675, 1.8294454352168265e-15,
        1.6038962754979554e-08, 3.096641469531373e-16, 5.598005870601703e-07,
        0.00011543006908893809, 9.475558435297499e-08, 0.0006819420816368463,
        7.77840716629546e-11, 1.3166251222571028e-11, 0.8307333244314905,
        1.5017765528866478e-18, 5.2415820697515925e-17,
    ])
    rows = quota_schedule(target, 39, 20)
    assert (rows >= np.floor(39 * target)).all() and (rows.sum(axis=1) == 39).all()
    assert all(r >= 0 for r in _quota(target, batch_size=39, replicas=1).groups.rho)


def test_integral_quotas_give_the_same_row_everywhere() -> None:
    """B p_c integral for every class: every row is B p."""
    target = explicit([4, 2, 1, 1, 0, 0])
    plan = _quota(target)
    rows = check_counted_plan(plan, np.arange(0, 50))
    assert np.all(rows == [4, 2, 1, 1, 0, 0])


def test_schedule_varies_with_the_seed_and_classes_meet() -> None:
    """Which classes take the extra seats is random from the seed, and classes that take
    extra seats share some batch (none is kept apart). 8/6 each: 2 extra seats among 6 classes
    per batch, handed out in rounds of fresh order, so a pair shares a batch in a round with
    probability 1/5; missing in all 100 rounds of 300 batches: 15 pairs x 0.8**100 < 4e-9
    (for the fixed seed, a deterministic outcome)."""
    target = explicit([1.0] * 6)
    rows = []
    for seed in range(4):
        entries = _quota(target, replicas=1, seed=seed).entries(np.arange(300))
        dense = np.zeros((300, 6), dtype=np.int64)
        dense[entries.row, entries.cls] = entries.count
        rows.append(dense)
    assert any(not np.array_equal(rows[0], other) for other in rows[1:])
    extra = rows[0] - 1
    together = extra.T @ extra
    off = together[~np.eye(6, dtype=bool)]
    assert np.all(off > 0)


def test_describe_reports_floors_and_rates() -> None:
    """describe(): the floors, the extra-seat rates (B p_c - floor), the seats per batch."""
    target = interpolate(SIZES, 0.5)
    info = _quota(target).describe()
    quota = 8 * target
    np.testing.assert_array_equal(info["floors"], np.floor(quota))
    np.testing.assert_allclose(info["extra_rates"], quota - np.floor(quota), atol=1e-12)
    assert info["extra_seats"] == 8 - int(np.floor(quota).sum())


def test_extra_rates_that_snap_to_zero_give_plain_floors() -> None:
    """An alpha a hair below 1 (0.9999999999999998) makes every B p_c an integer once snapped:
    no extra seats at all, and every batch holds each class exactly B p_c times."""
    labels = np.repeat(np.arange(8), [53, 6, 3, 3, 3, 3, 3, 3])
    sampler = BalancedBatchSampler(
        labels, 8, kind="quota", alpha=0.9999999999999998, n_batches=3, seed=0
    )
    for batch in sampler:
        assert np.bincount(labels[batch], minlength=8).tolist() == [1] * 8
