"""Tests of :mod:`refsampler.kinds.random`: Walker's alias table, and classes i.i.d. from the
target with members uniform with replacement.

The statistical tests use a fixed seed, so each outcome is deterministic; the stated level is
the chance that a correct implementation fails for a seed chosen at random.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

import refsampler.kinds.random as random_module
from refsampler.classes import ClassIndex
from refsampler.kinds.base import Setting
from refsampler.kinds.random import RandomPlan, alias_table, build, coin_bounds
from refsampler.plan import Plan
from refsampler.targets import explicit, interpolate

FloatArray = npt.NDArray[np.float64]

#: Each statistical assertion's false-failure rate.
LEVEL = 1e-8

SIZES = np.array([400, 250, 150, 90, 50, 30, 17, 12, 1])
LABELS = np.random.default_rng(5).permutation(np.repeat(np.arange(SIZES.size), SIZES))
INDEX = ClassIndex.from_labels(LABELS)


def _random(target: FloatArray, batch_size: int = 100, n_batches: int = 2000) -> Plan:
    return Plan(INDEX, "random", target, batch_size, n_batches, 17)


# -- alias table -----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3, 10, 257, 5000])
def test_alias_table_implies_the_target(k: int) -> None:
    """The alias table's implied shares equal the target within its documented bound."""
    rng = np.random.default_rng(k)
    target = rng.dirichlet(np.full(k, 0.3))
    target[rng.random(k) < 0.3] = 0.0
    if not target.any():
        target[0] = 1.0
    target = explicit(target)
    prob, alias = alias_table(target)
    assert prob.shape == alias.shape == (k,)
    assert np.all((prob >= 0) & (prob <= 1))
    implied = prob.copy()
    np.add.at(implied, alias, 1.0 - prob)
    implied /= k
    assert np.abs(implied - target).max() <= k * 2.0**-52 * target.max() + 1e-15


def test_alias_table_example() -> None:
    """The documented example."""
    prob, alias = alias_table(np.array([0.5, 0.25, 0.25]))
    assert prob.tolist() == [1.0, 0.75, 0.75] and alias.tolist() == [0, 0, 0]


def test_alias_table_never_reaches_a_zero_share_class() -> None:
    """A zero-share class has probability 0 in its own column and is nobody's alias."""
    target = explicit([0.0, 0.5, 0.0, 0.25, 0.25, 0.0])
    prob, alias = alias_table(target)
    zero = np.flatnonzero(target == 0)
    assert (prob[zero] == 0).all()
    reachable = np.union1d(np.flatnonzero(prob > 0), alias[prob < 1])
    assert not np.isin(zero, reachable).any()


@given(
    prob=hnp.arrays(np.float64, st.integers(1, 300), elements=st.floats(0.0, 1.0)),
    pick=st.integers(0, 2**32),
    step=st.integers(-3, 3),
)
def test_the_coin_bound_decides_the_coin_exactly(
    prob: npt.NDArray[np.float64], pick: int, step: int
) -> None:
    """For a scaled draw x in column c, x >= bound[c] exactly when frac(x) = x - c >= prob[c]:
    checked on the floats next to c + prob[c], where rounding could tell them apart, and at
    the column's ends."""
    bound = coin_bounds(prob)
    c = pick % prob.size
    near = np.float64(c) + prob[c]
    candidates = [near, np.float64(c), np.nextafter(np.float64(c + 1), -np.inf)]
    x = near
    for _ in range(abs(step)):
        x = np.nextafter(x, np.inf if step > 0 else -np.inf)
    candidates.append(x)
    for value in candidates:
        if not c <= value < c + 1:  # not a draw of column c
            continue
        assert (value >= bound[c]) == (value - c >= prob[c]), (c, prob[c], value)


def test_coin_bounds_example() -> None:
    """The documented example; a bound is never below the real sum it stands for."""
    assert coin_bounds(np.array([1.0, 0.75, 0.1])).tolist() == [1.0, 1.75, 2.1]
    prob = np.random.default_rng(0).random(10_000)
    bound = coin_bounds(prob)
    column = np.arange(prob.size)
    assert ((bound - column) >= prob).all()
    below = np.nextafter(bound, -np.inf)
    assert ((below - column) < prob).all()  # and the float below it is


# -- draws -------------------------------------------------------------------------------------


def test_draws_only_positive_classes_and_valid_members() -> None:
    """Draws land on members of positive-share classes only, every position valid, and a
    chunk is a pure function of (epoch, rank, chunk)."""
    target = explicit(np.where(np.arange(SIZES.size) % 2 == 0, 1.0, 0.0))
    plan = build(Setting(INDEX, target, 64, 200, 1, 3))
    drawn = plan.draw(0, 0, 0, 200)
    assert drawn.shape == (200, 64) and drawn.dtype == np.int64
    assert drawn.min() >= 0 and drawn.max() < LABELS.size
    assert set(np.unique(LABELS[drawn]).tolist()) <= {0, 2, 4, 6, 8}
    np.testing.assert_array_equal(plan.draw(0, 0, 0, 200), drawn)
    assert not np.array_equal(plan.draw(0, 0, 1, 200), drawn)
    assert not np.array_equal(plan.draw(1, 0, 0, 200), drawn)


@pytest.mark.statistical(level=1e-12)
def test_every_member_is_reached() -> None:
    """Over 128,000 uniform-target draws every member is drawn, the one-member class too.
    A correct sampler draws each member of class 0 (the rarest per member, 1/9 / 400) about
    35.6 times; missing any of the 1,000 members has probability below 1000 e**-35 < 1e-12."""
    plan = _random(interpolate(SIZES, 1.0), batch_size=64, n_batches=2000)
    assert np.unique(plan.batches(0, 0)).tolist() == list(range(LABELS.size))


@pytest.mark.statistical(level=LEVEL)
def test_class_shares_chisquare() -> None:
    """Class of each of 200,000 draws ~ target (chi-square goodness of fit, 7 classes with a
    positive share, df 6; one class has share 0 and must never appear). False-failure rate
    1e-8. Power >= 0.99 against a noncentrality of 80.4, e.g. a shift of 0.0054 of share
    between two classes of share 1/7."""
    target = explicit(np.where(SIZES >= 17, 1.0, 0.0))
    plan = _random(target)
    counts = np.bincount(LABELS[plan.batches(2, 0)].ravel(), minlength=SIZES.size)
    assert counts[target == 0].sum() == 0
    positive = target > 0
    n = int(counts.sum())
    result = stats.chisquare(counts[positive], n * target[positive])
    assert result.pvalue > LEVEL


@pytest.mark.statistical(level=LEVEL)
def test_positions_in_a_batch_are_independent() -> None:
    """The classes at columns 0 and 1 of 20,000 batches are independent (chi-square test of
    the 6 x 6 contingency table, df 25). False-failure rate 1e-8; power >= 0.99 against a
    dependence with 20,000 * phi**2 >= 108.5 (phi**2 >= 0.0054, Cramer's V >= 0.033)."""
    target = interpolate(SIZES[:6], 0.5)
    target = explicit(np.concatenate([target, np.zeros(3)]))
    plan = _random(target, batch_size=2, n_batches=20_000)
    classes = LABELS[plan.batches(0, 0)]
    table = np.zeros((6, 6), dtype=np.int64)
    np.add.at(table, (classes[:, 0], classes[:, 1]), 1)
    assert stats.chi2_contingency(table).pvalue > LEVEL


@pytest.mark.statistical(level=LEVEL)
@pytest.mark.parametrize("cls", [3, 7])
def test_members_are_uniform_within_their_class(cls: int) -> None:
    """The members drawn of a class are uniform (chi-square goodness of fit over its n_c
    members; the class gets about 25,000 of 200,000 draws). False-failure rate 1e-8 per
    class; power >= 0.99 against a noncentrality of 89.8 (class 7, df 11) or 158.3 (class 3,
    df 89): one member drawn 1.21 (class 7) or 1.78 (class 3) times as often as the others."""
    target = explicit(np.where(SIZES >= 12, 1.0, 0.0))
    plan = _random(target)
    drawn = plan.batches(1, 0).ravel()
    members = INDEX.members(cls).astype(np.int64)
    mine = drawn[LABELS[drawn] == cls]
    counts = np.bincount(np.searchsorted(members, mine), minlength=members.size)
    assert stats.chisquare(counts).pvalue > LEVEL


def test_huge_class_fallback_draws_valid_members(monkeypatch: pytest.MonkeyPatch) -> None:
    """Classes too big for 32-bit multiply-shift take the exact fallback: same contract (each
    draw a member of a positive class, every member of a small class reachable)."""
    monkeypatch.setattr(random_module, "_LEMIRE_LIMIT", 64)
    target = interpolate(SIZES, 1.0)
    plan = build(Setting(INDEX, target, 64, 400, 1, 3))
    assert isinstance(plan, RandomPlan)
    drawn = plan.draw(0, 0, 0, 400)
    assert drawn.min() >= 0 and drawn.max() < LABELS.size
    small = INDEX.members(7).astype(np.int64)
    assert set(drawn[LABELS[drawn] == 7].tolist()) == set(small.tolist())
