"""Tests of :mod:`refsampler.allocation`: fixed counts (allocate) and the quota schedule."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

from refsampler.allocation import allocate, allocate_with_ties, quota_schedule
from refsampler.errors import InvalidArgumentError
from refsampler.targets import explicit, interpolate
from tests._assertions import raises_exactly


def _reference_allocate(p: np.ndarray, batch_size: int) -> list[int] | None:
    """The fixed kind's rounding rule (docs/specification.md, "fixed"), written out literally:
    floors, then forced classes, then the largest fractional parts with ties to the lower
    index; None when infeasible."""
    quotas = [batch_size * float(x) for x in p]
    floors = [math.floor(q) for q in quotas]
    seats = batch_size - sum(floors)
    forced = [c for c in range(len(p)) if p[c] > 0 and floors[c] == 0]
    if len(forced) > seats:
        return None
    rest = sorted(
        (c for c in range(len(p)) if c not in forced),
        key=lambda c: (-round(quotas[c] - floors[c], 9), c),
    )
    counts = list(floors)
    for c in (forced + rest)[:seats]:
        counts[c] += 1
    return counts


def _random_targets(seed: int, how_many: int) -> list[np.ndarray]:
    """Deterministic assorted targets: dense, sparse (zero shares), and long-tailed."""
    rng = np.random.default_rng(seed)
    targets = []
    for i in range(how_many):
        k = int(rng.integers(1, 12))
        weights = rng.random(k) ** (1 + i % 4)
        if k > 2 and i % 3 == 0:
            weights[rng.integers(0, k)] = 0.0
        if weights.sum() == 0:
            weights[0] = 1.0
        targets.append(explicit(weights))
    return targets


# -- allocate: worked examples ---------------------------------------------------------------


def test_allocate_never_drops_the_small_class() -> None:
    """Counts 1000/1000/10 at batch 32, alpha=0 give [16, 15, 1].

    Quotas are 15.92, 15.92, 0.16: floors 15, 15, 0 leave two seats; the small class is forced
    up to 1, and the tie between the two large classes goes to the lower index. The original
    gave [16, 16, 0].
    """
    assert allocate(interpolate([1000, 1000, 10], 0.0), 32).tolist() == [16, 15, 1]


def test_allocate_five_class_example() -> None:
    """Counts 740/70/150/20/20 at alpha=0.5, batch 32 give [15, 4, 6, 4, 3].

    Quotas 15.04, 4.32, 5.6, 3.52, 3.52: floors sum to 30; the two seats go to the largest
    fraction (class 2) and to the tie 0.52/0.52, won by the lower index (class 3).
    """
    target = interpolate([740, 70, 150, 20, 20], 0.5)
    assert allocate(target, 32).tolist() == [15, 4, 6, 4, 3]


def test_allocate_infeasible_21_uniform_classes_at_batch_8() -> None:
    """21 uniform classes cannot each get >= 1 of 8 seats: error pointing to kind="quota"."""
    target = np.full(21, 1 / 21)
    message = (
        '`kind="fixed"` is infeasible: 21 classes have a positive target, but quota rounding of '
        "`batch_size` 8 leaves only 8 seats for the 21 classes whose floor is 0; "
        'use kind="quota" or a larger `batch_size`; got target '
        "[0.047619 0.047619 0.047619 ... 0.047619 0.047619 0.047619]."
    )
    with raises_exactly(message):
        allocate(target, 8)


def test_allocate_infeasible_when_floors_use_the_seats() -> None:
    """Infeasible also when large classes' floors leave too few seats for the forced ones."""
    message = (
        '`kind="fixed"` is infeasible: 3 classes have a positive target, but quota rounding of '
        "`batch_size` 2 leaves only 1 seat for the 2 classes whose floor is 0; "
        'use kind="quota" or a larger `batch_size`; got target [0.9 0.05 0.05].'
    )
    with raises_exactly(message):
        allocate([0.9, 0.05, 0.05], 2)


# -- allocate: rules -------------------------------------------------------------------------


def test_allocate_ties_go_to_lower_index() -> None:
    """Equal fractional parts: the lower class index wins the seat."""
    assert allocate([0.5, 0.5, 0.0], 3).tolist() == [2, 1, 0]
    assert allocate([0.25, 0.25, 0.25, 0.25], 6).tolist() == [2, 2, 1, 1]


def test_allocate_ties_robust_to_float_noise() -> None:
    """Fractions equal in exact arithmetic but not in floats still tie to the lower index."""
    target = interpolate([1, 1, 1], 1.0)  # 1/3 each; 7/3 has float noise per entry
    assert allocate(target, 7).tolist() == [3, 2, 2]


def test_allocate_forced_classes_come_before_larger_fractions() -> None:
    """A positive class with floor 0 gets its seat before larger fractional parts.

    Quotas 0.2, 4.9, 4.9: largest remainder alone would give [0, 5, 5].
    """
    assert allocate([0.02, 0.49, 0.49], 10).tolist() == [1, 5, 4]


def test_allocate_zero_target_gets_zero() -> None:
    """A class with a zero share never gets a seat."""
    counts = allocate([0.6, 0.0, 0.4], 5)
    assert counts.tolist() == [3, 0, 2]


def test_allocate_exact_quotas_are_kept() -> None:
    """When B p is integral, the counts are exactly B p."""
    assert allocate([0.5, 0.25, 0.25], 8).tolist() == [4, 2, 2]


def test_allocate_returns_int64_vector() -> None:
    """The result is an int64 vector of length K."""
    counts = allocate([0.5, 0.5], np.int32(4))
    assert counts.dtype == np.int64
    assert counts.shape == (2,)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 8, 16, 32, 100])
def test_allocate_matches_the_contract_on_assorted_targets(batch_size: int) -> None:
    """On assorted targets: sum B, floor/ceil, >= 1 for positive classes, and the same choice
    as a literal transcription of the rounding rule (errors exactly when that finds no vector)."""
    for p in _random_targets(batch_size, 60):
        expected = _reference_allocate(p, batch_size)
        if expected is None:
            with pytest.raises(InvalidArgumentError, match=re.escape('use kind="quota"')):
                allocate(p, batch_size)
            continue
        counts = allocate(p, batch_size)
        assert counts.tolist() == expected
        assert counts.sum() == batch_size
        quotas = batch_size * p
        assert np.all((counts == np.floor(quotas)) | (counts == np.ceil(quotas)))
        assert np.all(counts[p > 0] >= 1)
        assert np.all(counts[p == 0] == 0)


def test_allocate_does_not_mutate_target() -> None:
    """The target array is unchanged and stays writeable."""
    target = np.array([0.02, 0.49, 0.49])
    before = target.copy()
    allocate(target, 10)
    np.testing.assert_array_equal(target, before)
    assert target.flags.writeable


@pytest.mark.parametrize(
    ("target", "batch_size", "message"),
    [
        ([0.5, 0.5], 0, "`batch_size` must be >= 1; got 0."),
        ([0.5, 0.5], 2.0, "`batch_size` must be a positive int; got 2.0."),
        ([0.5, 0.5], True, "`batch_size` must be a positive int; got True."),
        (
            [0.5, 0.6],
            4,
            "`target` must sum to 1 (within 1e-12), but sums to 1.1; use "
            "refsampler.targets.explicit(weights) to normalise weights; got [0.5, 0.6].",
        ),
        ([0.5, float("nan")], 4, "`target` must hold finite numbers; got [0.5, nan]."),
        ([1.5, -0.5], 4, "`target` must be non-negative; got [1.5, -0.5]."),
    ],
)
def test_allocate_rejects_bad_arguments(target: Any, batch_size: Any, message: str) -> None:
    """Bad targets and batch sizes are rejected with the exact message."""
    with raises_exactly(message):
        allocate(target, batch_size)


# -- quota_schedule --------------------------------------------------------------------------


def _check_quota_schedule(rows: np.ndarray, p: np.ndarray, batch_size: int) -> None:
    """The quota property: floor/ceil entries, rows sum to B, every prefix within 1 of k B p."""
    quotas = batch_size * p
    assert rows.dtype == np.int64
    assert np.all((rows == np.floor(quotas)) | (rows == np.ceil(quotas)))
    assert np.all(rows.sum(axis=1) == batch_size)
    k = np.arange(1, rows.shape[0] + 1)[:, None]
    lag = np.abs(np.cumsum(rows, axis=0) - k * quotas)
    assert lag.max() < 1, f"prefix error {lag.max()} >= 1"


def test_quota_schedule_docstring_case() -> None:
    """Target (0.5, 0.3, 0.2) at B=4: quotas 2, 1.2, 0.8; every prefix stays within 1."""
    p = np.array([0.5, 0.3, 0.2])
    rows = quota_schedule(p, 4, 5)
    assert rows.shape == (5, 3)
    _check_quota_schedule(rows, p, 4)
    # after 5 batches the exact totals 10, 6, 4 are reached
    assert rows.sum(axis=0).tolist() == [10, 6, 4]


def test_quota_schedule_21_uniform_classes_at_batch_8() -> None:
    """The case fixed cannot serve: 8 distinct classes per batch, every class served evenly.

    Over 21 batches each class gets exactly 8 (21 * 8 / 21), and no class twice in a batch.
    """
    p = np.full(21, 1 / 21)
    rows = quota_schedule(p, 8, 63)
    assert rows.shape == (63, 21)
    _check_quota_schedule(rows, p, 8)
    assert np.all(rows <= 1)
    assert rows[:21].sum(axis=0).tolist() == [8] * 21


def test_quota_schedule_integral_quotas_are_constant() -> None:
    """When B p is integral every row equals B p."""
    rows = quota_schedule([0.5, 0.25, 0.25], 8, 4)
    assert rows.tolist() == [[4, 2, 2]] * 4


def test_quota_schedule_one_class() -> None:
    """A single class gets the whole batch every time."""
    assert quota_schedule([1.0], 5, 3).tolist() == [[5], [5], [5]]


def test_quota_schedule_zero_share_never_scheduled() -> None:
    """A class with zero share has an all-zero column."""
    rows = quota_schedule([0.3, 0.0, 0.7], 3, 50)
    assert np.all(rows[:, 1] == 0)
    _check_quota_schedule(rows, np.array([0.3, 0.0, 0.7]), 3)


def test_quota_schedule_five_class_example() -> None:
    """A long-tail target at alpha=0.5, batch 32, over 200 batches."""
    p = interpolate([740, 70, 150, 20, 20], 0.5)
    rows = quota_schedule(p, 32, 200)
    assert rows.shape == (200, 5)
    _check_quota_schedule(rows, p, 32)


@pytest.mark.parametrize("batch_size", [1, 3, 8, 32])
def test_quota_schedule_contract_on_assorted_targets(batch_size: int) -> None:
    """Assorted dense, sparse and long-tailed targets meet every quota property."""
    for p in _random_targets(1000 + batch_size, 25):
        rows = quota_schedule(p, batch_size, 120)
        assert rows.shape == (120, p.size)
        _check_quota_schedule(rows, p, batch_size)


def test_quota_schedule_agrees_with_allocate_when_exact() -> None:
    """With integral quotas there is nothing to schedule: every row is allocate's vector."""
    p = np.array([0.125, 0.375, 0.5])
    rows = quota_schedule(p, 16, 5)
    assert np.all(rows == allocate(p, 16))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0.5, 0.5], 4, 0), "`n_batches` must be >= 1; got 0."),
        (([0.5, 0.5], 4, -2), "`n_batches` must be >= 1; got -2."),
        (([0.5, 0.5], 4, 1.0), "`n_batches` must be a positive int; got 1.0."),
        (([0.5, 0.5], 0, 3), "`batch_size` must be >= 1; got 0."),
        (([0.5, 0.4], 4, 3), None),
    ],
)
def test_quota_schedule_rejects_bad_arguments(args: tuple[Any, ...], message: str | None) -> None:
    """Bad n_batches, batch_size or target are rejected with the exact message."""
    if message is None:
        message = (
            "`target` must sum to 1 (within 1e-12), but sums to 0.9; use "
            "refsampler.targets.explicit(weights) to normalise weights; got [0.5, 0.4]."
        )
    with raises_exactly(message):
        quota_schedule(*args)


def test_quota_schedule_does_not_mutate_target() -> None:
    """The target array is unchanged and stays writeable."""
    target = np.array([0.5, 0.3, 0.2])
    quota_schedule(target, 4, 10)
    np.testing.assert_array_equal(target, [0.5, 0.3, 0.2])
    assert target.flags.writeable


# -- quota_schedule: seeds, prefixes and joint structure -----------------------------------------


def test_quota_schedule_is_a_prefix_of_a_longer_one() -> None:
    """The first n rows do not depend on how many rows are asked for."""
    p = interpolate([740, 70, 150, 20, 20], 0.5)
    np.testing.assert_array_equal(quota_schedule(p, 32, 40), quota_schedule(p, 32, 100)[:40])


def test_quota_schedule_is_keyed_by_the_seed() -> None:
    """The same seed gives the same rows; other seeds choose other classes for the seats."""
    p = np.full(10, 0.1)
    first = quota_schedule(p, 4, 50, seed=1)
    np.testing.assert_array_equal(first, quota_schedule(p, 4, 50, seed=1))
    assert not np.array_equal(first, quota_schedule(p, 4, 50, seed=2))


def test_quota_schedule_lets_every_pair_of_uniform_classes_meet() -> None:
    """10 uniform classes at batch 4: every pair of classes shares some batch of 100, and no
    class id is favoured for the first seats."""
    rows = quota_schedule(np.full(10, 0.1), 4, 100, seed=0)
    together = rows.T @ rows
    assert (together > 0).all()
    assert rows[0].sum() == 4 and sorted(np.flatnonzero(rows[0]).tolist()) != [0, 1, 2, 3]


# -- allocate_with_ties ---------------------------------------------------------------------------


def test_allocate_with_ties_splits_uniform_remainders() -> None:
    """Five equal shares at batch 32: 6 each for sure, 2 more seats among all five."""
    certain, tied, seats = allocate_with_ties([0.2] * 5, 32)
    assert certain.tolist() == [6] * 5
    assert tied.tolist() == [0, 1, 2, 3, 4]
    assert seats == 2


def test_allocate_with_ties_is_empty_without_ties() -> None:
    """Distinct fractional parts leave nothing to rotate; certain is allocate's vector."""
    p = [0.5, 0.3, 0.2]
    certain, tied, seats = allocate_with_ties(p, 4)
    assert certain.tolist() == allocate(p, 4).tolist()
    assert tied.size == 0 and seats == 0


def test_allocate_with_ties_adds_up_to_allocate() -> None:
    """certain plus the lowest-index tied seats is allocate's vector."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        p = rng.integers(1, 5, size=rng.integers(2, 9)).astype(float)
        p /= p.sum()
        batch = int(rng.integers(1, 40))
        try:
            expected = allocate(p, batch)
        except ValueError:
            continue
        certain, tied, seats = allocate_with_ties(p, batch)
        rebuilt = certain.copy()
        rebuilt[tied[:seats]] += 1
        assert rebuilt.tolist() == expected.tolist()
