"""Tests of refsampler.conformance.stats: sample sizes, Holm, and the scipy-based tests."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from scipy import stats as scipy_stats

from refsampler import InvalidArgumentError
from refsampler.conformance import stats

LEVEL = 1e-8


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
    assert stats.draws_for_family(10, family_level=1e-8) == stats.min_num_draws(level=1e-9)
    with pytest.raises(
        InvalidArgumentError, match=re.escape("`n_assertions` must be >= 1; got 0.")
    ):
        stats.draws_for_family(0)


def test_detectable_figures_invert_their_sample_sizes() -> None:
    """A share shift of 1 point at min_num_draws; w shrinks as draws grow; z shifts scale."""
    draws = stats.min_num_draws(level=1e-8)
    assert 0.0099 < stats.detectable_shift(draws, level=1e-8) <= 0.0101
    w_small, w_big = (stats.detectable_w(n, 4, level=1e-8) for n in (10_000, 40_000))
    assert w_small == pytest.approx(2 * w_big, rel=1e-6)
    critical = scipy_stats.chi2.isf(0.5e-8, 4)
    assert scipy_stats.ncx2.sf(critical, 4, 40_000 * w_big**2) == pytest.approx(0.999)
    assert stats.detectable_z_shift(2.0, 100, level=1e-8) == pytest.approx(
        (scipy_stats.norm.isf(0.5e-8) + scipy_stats.norm.ppf(0.999)) * 0.02
    )


def test_holm_steps_down_and_stops_at_the_first_acceptance() -> None:
    """Sorted p-values are compared with L/m, L/(m-1), ...; rejection stops at the first miss."""
    rejected, levels = stats.holm([0.02, 0.001, 0.011, 0.04], 0.05)
    assert levels.tolist() == pytest.approx([0.05 / 2, 0.05 / 4, 0.05 / 3, 0.05])
    assert rejected.tolist() == [True, True, True, True]
    rejected, _ = stats.holm([0.03, 0.001, 0.011, 0.04], 0.05)
    assert rejected.tolist() == [False, True, True, False]


def test_binomial_share_is_scipys_binomtest_and_handles_degenerate_shares() -> None:
    """Share 0 or 1 gives p = 1 when the counts agree and 0 otherwise."""
    assert stats.binomial_share(30, 100, 0.25) == scipy_stats.binomtest(30, 100, 0.25).pvalue
    assert (stats.binomial_share(0, 10, 0.0), stats.binomial_share(1, 10, 0.0)) == (1.0, 0.0)
    assert (stats.binomial_share(10, 10, 1.0), stats.binomial_share(9, 10, 1.0)) == (1.0, 0.0)


def test_two_sided_uses_the_lower_tail_only_where_it_is_resolved() -> None:
    """600 dof with cells of 5: both tails; 2 dof with cells of 100: the upper tail only."""
    p, direction, both = stats.two_sided(300.0, 600, 5.0)
    assert both and direction == "low"
    assert p == pytest.approx(2 * scipy_stats.chi2.cdf(300.0, 600))
    p, direction, both = stats.two_sided(0.0, 2, 100.0)
    assert (p, direction, both) == (1.0, "", False)


def test_chisquare_shares_fails_counts_that_match_the_target_too_well() -> None:
    """Exact quotas over a million draws and 20 classes: far too even for i.i.d. draws."""
    target = np.full(20, 0.05)
    result = stats.chisquare_shares(np.full(20, 50_000), target)
    assert result.two_sided and result.direction == "low" and result.pvalue < 1e-20
    assert result.expected == [50_000.0] * 20 and result.observed == [50_000] * 20


def test_chisquare_shares_flags_an_impossible_class() -> None:
    """A draw of a zero-share class gives an infinite statistic and p = 0."""
    result = stats.chisquare_shares([10, 5, 1], [0.6, 0.4, 0.0])
    assert (result.statistic, result.pvalue) == (float("inf"), 0.0)


@pytest.mark.statistical(level=LEVEL)
def test_chisquare_shares_accepts_multinomial_counts(stat_seed: int) -> None:
    """Multinomial counts pass at 1e-8 (false-failure rate 1e-8)."""
    target = np.array([0.5, 0.2, 0.2, 0.05, 0.05])
    counts = np.random.default_rng(stat_seed).multinomial(100_000, target)
    assert stats.chisquare_shares(counts, target).pvalue > LEVEL


def test_per_batch_dispersion_rejects_stratified_batches() -> None:
    """10,000 batches all holding 4 of 16: no spread at all (exact construction)."""
    result = stats.per_batch_dispersion(np.full(10_000, 4), 16)
    assert result.pvalue < 1e-100 and result.direction == "low"
    assert (result.expected, result.observed) == (3.0, 0.0)


@pytest.mark.statistical(level=LEVEL)
def test_per_batch_dispersion_is_conditional_on_the_observed_share(stat_seed: int) -> None:
    """Binomial counts at share 0.3 pass when the share is estimated, and fail against a
    given share of 0.25 (false-failure rate 1e-8; the miss is a 14-sigma event)."""
    counts = np.random.default_rng(stat_seed).binomial(16, 0.3, size=20_000)
    assert stats.per_batch_dispersion(counts, 16).pvalue > LEVEL
    assert stats.per_batch_dispersion(counts, 16, 0.25).pvalue < LEVEL


def test_pool_table_merges_small_rows_and_columns() -> None:
    """Cells expecting fewer than 5 are merged away."""
    table = np.array([[50, 30, 1], [50, 30, 1], [1, 1, 0]])
    pooled = stats.pool_table(table)
    total = pooled.sum()
    assert (np.outer(pooled.sum(axis=1), pooled.sum(axis=0)) / total).min() >= 5
    assert pooled.sum() == table.sum()


def test_independence_detects_dependence_and_passes_independent_tables() -> None:
    """A diagonal table is dependent; an outer-product table is independent; one row is no
    evidence."""
    dependent = stats.independence(np.diag([500, 500, 500]))
    assert dependent.pvalue < 1e-100 and dependent.direction == "high"
    assert (dependent.expected, dependent.observed) == (500.0, 1500)
    assert stats.independence(np.array([[50, 30, 20], [50, 30, 20]])).pvalue == pytest.approx(1.0)
    assert (stats.independence(np.array([[5, 7, 9]])).pvalue, 0) == (1.0, 0)


def test_exchangeability_is_exactly_chi_square_for_equal_counts() -> None:
    """Equal counts in every batch: X^2 (B - 1) / B on (B - 1)(K - 1) dof, as the Notes say."""
    table = np.array([[20, 10, 10], [22, 9, 9], [18, 12, 10], [20, 9, 11]])
    rows = np.tile([2, 1, 1], (40, 1))
    result = stats.exchangeability(table, rows)
    expected = table.sum(axis=0) / 4
    pearson = float(np.sum((table - expected) ** 2 / expected))
    assert result.statistic == pytest.approx(pearson)
    assert result.dof == 6
    # Cells of 10 are too coarse for the lower tail: the upper tail alone.
    assert not result.two_sided
    assert result.pvalue == pytest.approx(scipy_stats.chi2.sf(pearson * 3 / 4, 6), rel=1e-9)


def _enumerated_moments(counts: list[int]) -> tuple[float, float]:
    """Mean and variance of same-class neighbours over all arrangements of a multiset."""
    items = [c for c, n in enumerate(counts) for _ in range(n)]
    runs = [
        sum(a == b for a, b in itertools.pairwise(order))
        for order in set(itertools.permutations(items))
    ]
    return float(np.mean(runs)), float(np.var(runs))


@pytest.mark.parametrize("counts", [[2, 2, 1], [3, 1, 1, 1], [4, 2], [2, 2, 2, 1]])
def test_same_class_adjacency_moments_match_enumeration(counts: list[int]) -> None:
    """The exact mean and variance of one batch equal those of every distinct arrangement."""
    mean, variance = _enumerated_moments(counts)
    result = stats.same_class_adjacency(np.array([0]), np.array([counts]))
    assert result.expected == pytest.approx(mean)
    assert result.sd == pytest.approx(np.sqrt(variance))


def test_same_class_adjacency_is_two_sided() -> None:
    """Blocks are too many neighbours; strict alternation too few."""
    rows = np.tile([2, 2, 2, 2, 2], (1000, 1))
    blocks = stats.same_class_adjacency(np.full(1000, 5), rows)
    alternating = stats.same_class_adjacency(np.zeros(1000), rows)
    assert blocks.direction == "high" and alternating.direction == "low"
    assert blocks.pvalue < 1e-100 and alternating.pvalue < 1e-20


def test_within_group_uniformity_fails_a_favoured_member_and_too_even_hits() -> None:
    """One member drawn twice as often fails high; every member exactly equal fails low."""
    groups = np.repeat([0, 1], [100, 50])
    favoured = np.full(150, 100)
    favoured[3] = 300
    assert stats.within_group_uniformity(favoured, groups).direction == "high"
    even = stats.within_group_uniformity(np.full(150, 100), groups)
    assert even.direction == "low" and even.pvalue < 1e-20


@pytest.mark.statistical(level=LEVEL)
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
    assert result.pvalue > LEVEL


def test_member_repeats_counts_usable_classes_and_says_too_few() -> None:
    """Classes with fewer than 5 expected repeats are left out; none repeating is 'low'."""
    result = stats.member_repeats([1000, 1000, 10], [0, 0, 0], [2, 4, 100])
    assert result.dof == 2 and result.direction == "low" and result.pvalue < 1e-100
    assert (result.expected, result.observed) == (750.0, 0)
    assert stats.member_repeats([10], [1], [100]).pvalue == 1.0
