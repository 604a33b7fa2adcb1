"""Tests of refsampler.conformance.stats: sample sizes, Holm, and the scipy-based tests."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import stats as scipy_stats

from refsampler import InvalidArgumentError
from refsampler.conformance import stats


def test_min_num_draws_matches_the_normal_approximation() -> None:
    """The default sample size is the two-sided normal-approximation formula at share 1/2."""
    z_level, z_power = scipy_stats.norm.isf(0.5e-8), scipy_stats.norm.ppf(0.999)
    p0, p1 = 0.5, 0.49
    expected = ((z_level * np.sqrt(p0 * (1 - p0)) + z_power * np.sqrt(p1 * (1 - p1))) / 0.01) ** 2
    assert stats.min_num_draws() == int(np.ceil(expected))


def test_min_num_draws_rejects_a_level_outside_the_unit_interval() -> None:
    """A level of 0 is refused with the standard message."""
    with pytest.raises(InvalidArgumentError, match=re.escape("`level` must be in (0, 1); got 0.")):
        stats.min_num_draws(level=0)


def test_draws_for_family_uses_the_bonferroni_floor_of_holm() -> None:
    """m assertions at family level L need min_num_draws at level L / m."""
    assert stats.draws_for_family(122) == stats.min_num_draws(level=stats.FAMILY_LEVEL / 122)
    assert stats.draws_for_family(1000) > stats.draws_for_family(10)


def test_draws_for_family_rejects_zero_assertions() -> None:
    """The family must hold at least one assertion."""
    with pytest.raises(
        InvalidArgumentError, match=re.escape("`n_assertions` must be >= 1; got 0.")
    ):
        stats.draws_for_family(0)


def test_detectable_shift_is_one_point_at_the_full_sample_size() -> None:
    """detectable_shift inverts min_num_draws: at its draws the shift is (about) 1 point."""
    draws = stats.min_num_draws(level=1e-8)
    assert 0.0099 < stats.detectable_shift(draws, level=1e-8) <= 0.0101


def test_holm_steps_down_and_stops_at_the_first_acceptance() -> None:
    """Sorted p-values are compared with L/m, L/(m-1), ...; rejection stops at the first miss."""
    rejected, levels = stats.holm([0.02, 0.001, 0.011, 0.04], 0.05)
    assert levels.tolist() == pytest.approx([0.05 / 2, 0.05 / 4, 0.05 / 3, 0.05])
    # 0.001 <= L/4, 0.011 <= L/3, 0.02 <= L/2, 0.04 <= L: all rejected.
    assert rejected.tolist() == [True, True, True, True]
    rejected, _ = stats.holm([0.03, 0.001, 0.011, 0.04], 0.05)
    # 0.03 > L/2 stops the procedure: 0.04 <= L is accepted all the same.
    assert rejected.tolist() == [False, True, True, False]


def test_binomial_share_handles_degenerate_shares() -> None:
    """Share 0 or 1 gives p = 1 when the counts agree and 0 otherwise."""
    assert stats.binomial_share(0, 10, 0.0) == 1.0
    assert stats.binomial_share(1, 10, 0.0) == 0.0
    assert stats.binomial_share(10, 10, 1.0) == 1.0
    assert stats.binomial_share(9, 10, 1.0) == 0.0


def test_binomial_share_equals_scipy_binomtest() -> None:
    """The p-value is scipy's two-sided exact binomial test."""
    assert stats.binomial_share(30, 100, 0.25) == scipy_stats.binomtest(30, 100, 0.25).pvalue


def test_per_batch_dispersion_rejects_stratified_batches(stat_seed: int) -> None:
    """Identical per-batch counts (no spread at all) are not Binomial(B, p).

    Exact construction: 10,000 batches all holding 4 of 16 when the binomial variance is 3, so
    p is far below any level (false-failure rate 0; detects any stratification).
    """
    result = stats.per_batch_dispersion(np.full(10_000, 4), 16, 0.25)
    assert result.pvalue < 1e-100


def test_per_batch_dispersion_accepts_binomial_counts(stat_seed: int) -> None:
    """Binomial counts pass at level 1e-8 (false-failure rate 1e-8)."""
    counts = np.random.default_rng(stat_seed).binomial(16, 0.25, size=20_000)
    assert stats.per_batch_dispersion(counts, 16, 0.25).pvalue > 1e-8


def test_independence_pools_small_columns_and_detects_dependence() -> None:
    """A diagonal table is maximally dependent; an outer-product table is independent."""
    dependent = np.diag([500, 500, 500])
    assert stats.independence(dependent).pvalue < 1e-100
    independent = np.array([[50, 30, 1], [50, 30, 1]])
    result = stats.independence(independent)
    assert result.pvalue == pytest.approx(1.0)
    assert result.dof == 1  # the column of 2 (expecting 1 per row) was pooled


def test_independence_of_a_single_row_carries_no_evidence() -> None:
    """One row (or one column after pooling) gives p = 1 and no degrees of freedom."""
    result = stats.independence(np.array([[5, 7, 9]]))
    assert (result.pvalue, result.dof) == (1.0, 0)


def test_within_group_uniformity_detects_a_favoured_member() -> None:
    """One member drawn twice as often as the others of its class fails."""
    groups = np.repeat([0, 1], [10, 5])
    hits = np.full(15, 100)
    hits[3] = 200
    assert stats.within_group_uniformity(hits, groups).pvalue < 1e-10


def test_within_group_uniformity_pools_sparse_members(stat_seed: int) -> None:
    """Uniform draws pass; members expecting < 5 draws are pooled (fewer dof than members).

    False-failure rate 1e-8.
    """
    rng = np.random.default_rng(stat_seed)
    groups = np.repeat([0, 1], [1000, 20])
    hits = np.concatenate(
        [rng.multinomial(2000, np.full(1000, 1e-3)), rng.multinomial(400, np.full(20, 0.05))]
    )
    result = stats.within_group_uniformity(hits, groups)
    assert result.dof == (1000 // 3 - 1) + 19
    assert result.pvalue > 1e-8


def test_chisquare_shares_flags_an_impossible_class() -> None:
    """A draw of a zero-share class gives an infinite statistic and p = 0."""
    result = stats.chisquare_shares([10, 5, 1], [0.6, 0.4, 0.0])
    assert (result.statistic, result.pvalue) == (float("inf"), 0.0)
