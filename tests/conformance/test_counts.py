"""Tests of refsampler.conformance.counts: the fixed-counts and quota-counts checks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from refsampler.conformance import counts, mutants
from refsampler.conformance.sample import Sample

from ._shared import failed, sample, setting

LONG_TAIL = setting("fixed", "long-tail")
TIED = setting("fixed", "tied-remainders")


def test_correct_fixed_counts_pass_every_exact_check() -> None:
    """The control's constant largest-remainder rows pass (including across tie choices)."""
    for where in (LONG_TAIL, TIED):
        results = counts.fixed_checks(sample(mutants.control, where))
        assert [r.check for r in results] == [
            "counts_within_quota",
            "same_counts_every_batch",
            "positive_classes_present",
            "largest_remainder",
        ]
        assert failed(results) == set()


def test_largest_remainder_catches_a_vector_that_floor_ceil_lets_through() -> None:
    """[5,3,2,1,1,1,1,2] is within floor/ceil of B p but is not [6,3,2,1,1,1,1,1]."""
    results = {r.check: r for r in counts.fixed_checks(sample(mutants.tail_boost, LONG_TAIL))}
    assert results["counts_within_quota"].verdict == "pass"
    remainder = results["largest_remainder"]
    assert remainder.verdict == "fail"
    assert remainder.expected == [6, 3, 2, 1, 1, 1, 1, 1]
    assert remainder.observed == [5, 3, 2, 1, 1, 1, 1, 2]
    assert "seed s batch 0 has [5, 3, 2, 1, 1, 1, 1, 2]" in remainder.detail


def test_count_checks_read_every_seeds_run() -> None:
    """A run whose seed s is right and whose far seed is wrong fails largest_remainder, with
    the far seed named: the rounding must hold under every seed, not only the main one."""
    good = sample(mutants.control, LONG_TAIL)
    bad = sample(mutants.tail_boost, LONG_TAIL)
    mixed = Sample(
        LONG_TAIL,
        good.labels,
        good.batches,
        good.first,
        good.again,
        good.other,
        [good.far[0], bad.far[1]],
    )
    assert [name for name, _ in counts.seed_runs(mixed)] == [
        "seed s",
        "seed s + 1",
        "seed s XOR 2**16",
        "seed s XOR 2**30",
    ]
    results = {r.check: r for r in counts.fixed_checks(mixed)}
    assert results["largest_remainder"].verdict == "fail"
    assert (
        "seed s XOR 2**30 batch 0 has [5, 3, 2, 1, 1, 1, 1, 2]"
        in results["largest_remainder"].detail
    )
    assert results["counts_within_quota"].verdict == "pass"
    # The same run without the bad far seed passes.
    clean = Sample(
        LONG_TAIL, good.labels, good.batches, good.first, good.again, good.other, good.far
    )
    assert failed(counts.fixed_checks(clean)) == set()


def test_random_rounding_is_caught_whichever_seed_starts_the_run() -> None:
    """Stochastic rounding gets the largest remainder for some seeds; over seed s, s + 1 and
    the far seeds the kit sees a wrong vector for every base seed 0 .. 9 here."""
    for seed in range(10):
        drawn = sample(mutants.random_rounding, LONG_TAIL, seed=seed)
        assert "largest_remainder" in failed(counts.fixed_checks(drawn)), seed


def test_quota_prefix_check_reads_every_seeds_run() -> None:
    """quota: the prefix bound of another seed's short run is checked from its own start."""
    where = setting("quota", "long-tail")
    good = sample(mutants.control, where)
    drift = sample(mutants.quota_drift, where)
    mixed = Sample(where, good.labels, good.batches, good.first, good.again, drift.other, good.far)
    results = {r.check: r for r in counts.quota_checks(mixed)}
    assert results["prefix_error_below_1"].verdict == "fail"
    assert "of seed s + 1" in results["prefix_error_below_1"].detail


def test_largest_remainder_allows_any_choice_among_exact_ties() -> None:
    """Two seeds give different winners among 8 tied classes; both are largest remainder,
    but moving a seat out of the tied group is not."""
    drawn = sample(mutants.control, TIED, seed=1)
    assert failed(counts.fixed_checks(drawn)) == set()
    rows = drawn.counts.copy()
    rows[:, 0] = 3  # a ninth seat for class 0 ...
    rows[:, int(np.flatnonzero(rows[0] == 2)[-1])] -= 1  # ... taken from another winner
    ordered = np.repeat(np.arange(8), rows[0])
    labels = drawn.labels
    members = [np.flatnonzero(labels == c) for c in range(8)]
    batch = np.concatenate([members[c][: rows[0, c]] for c in range(8)])
    assert labels[batch].tolist() == ordered.tolist()
    broken = Sample(TIED, labels, np.tile(batch, (4, 1)), drawn.first, drawn.again, drawn.other)
    assert "largest_remainder" in failed(counts.fixed_checks(broken))


def test_tie_seeds_put_every_statistic_below_the_floor() -> None:
    """C = 70 ways to break the tie, 8 of them cyclic runs: n seeds show at most two choices
    with probability (70 + 70*69*(2**(n-1) - 1)) / 70**n and are all runs with probability
    (8/70)**n; three times the larger is <= floor / 10 for the fewest such n."""
    seeds = counts.tie_seeds(TIED, 1e-9)

    def chance(n: int) -> float:
        two = (70 + 70 * 69 * (2 ** (n - 1) - 1)) / 70**n
        return 3 * max(two, (8 / 70) ** n)

    assert chance(seeds) <= 1e-10 < chance(seeds - 1)
    assert seeds <= counts.MAX_TIE_SEEDS
    assert counts.tie_seeds(LONG_TAIL, 1e-9) == 0


def test_tie_statistics_are_the_exact_chances_of_a_uniform_tie_break() -> None:
    """At most d distinct choices: exact (every outcome of 4 seeds over 6 choices counted);
    one choice repeated r times or more: a bound that is exact at r = n."""
    outcomes = list(itertools.product(range(6), repeat=4))
    for d in range(1, 5):
        seen = sum(len(set(o)) <= d for o in outcomes) / len(outcomes)
        assert counts._at_most_distinct(d, 4, 6) == pytest.approx(seen, rel=1e-12)
    for r in range(1, 5):
        seen = sum(max(o.count(v) for v in o) >= r for o in outcomes) / len(outcomes)
        assert counts._most_repeated(r, 4, 6) >= seen - 1e-12
    assert counts._most_repeated(4, 4, 6) == pytest.approx(6.0**-3)


def test_ties_check_catches_two_choices_and_a_usual_choice() -> None:
    """A tie-break that gives one of two ways by the seed's parity, or classes 0-3 for all
    but one seed, varies with the seed but fails: few distinct choices, or one repeated (the
    first two seeds, from index tie-breaking, pick classes 0-3)."""
    drawn = sample(mutants.low_index_ties, TIED)
    low, spread = drawn.counts[0].copy(), drawn.counts[0].copy()
    spread[[1, 3]] -= 1
    spread[[4, 6]] += 1  # classes 0, 2, 4, 6: not a run
    drawn.tie_rows = [spread, low] * 6
    two = counts.ties_check(drawn)
    assert two.observed == [[0, 1, 2, 3], [0, 2, 4, 6]]
    assert "2 distinct choices in 14 seeds, the most common 8 times" in two.detail
    assert two.pvalue == pytest.approx(3 * (70 + 70 * 69 * (2**13 - 1)) / 70**14)
    drawn.tie_rows = [low] * 11 + [spread]
    usual = counts.ties_check(drawn)
    assert "2 distinct choices in 14 seeds, the most common 13 times" in usual.detail
    assert usual.pvalue < 1e-15


def test_cyclic_runs_wrap_around_the_tied_group() -> None:
    """Consecutive tied classes, wrapping from the last to the first; nothing else."""
    run = counts._cyclic_run
    assert run((0, 1, 2, 3), 8, 4) and run((0, 1, 6, 7), 8, 4) and run((5, 6, 7, 0), 8, 4)
    assert not run((0, 2, 4, 6), 8, 4) and not run((0, 1, 2, 4), 8, 4)
    assert not run((0, 1, 2), 8, 4)  # not the tie's number of seats


def test_ties_check_gives_the_probability_of_one_choice_for_every_seed() -> None:
    """Index tie-breaking picks classes 0-3 for every seed, a run too: p = 3 * 70 ** -(n - 1),
    the smallest of the three statistics' chances (one choice: n agree) times three."""
    drawn = sample(mutants.low_index_ties, TIED)
    drawn.tie_rows = [drawn.counts[0]] * 5
    result = counts.ties_check(drawn)
    assert result.pvalue == pytest.approx(3 * 70.0**-6)
    assert result.observed == [[0, 1, 2, 3]]
    assert (
        result.detail == "classes [0, 1, 2, 3, 4, 5, 6, 7] tie for 4 seats (70 ways); "
        "1 distinct choices in 7 seeds, the most common 7 times; 7 of them runs of consecutive "
        "tied classes (8 of the 70)"
    )


def test_ties_check_catches_a_rotating_window_of_tied_classes() -> None:
    """A window of consecutive tied classes from a seeded offset varies with the seed, but every
    seed gives a run: p = 3 * (8/70) ** n."""
    drawn = sample(mutants.rotating_ties, TIED)
    drawn.tie_rows = [
        sample(mutants.rotating_ties, TIED, seed=s).counts[0] for s in range(2, 9)
    ]
    result = counts.ties_check(drawn)
    assert result.pvalue == pytest.approx(3 * (8 / 70) ** 9)
    assert len(result.observed) > 1  # not one choice for every seed
    assert result.detail.endswith("9 of them runs of consecutive tied classes (8 of the 70)")


def _first_counts(seed: int) -> np.ndarray:
    """The control's first batch's class counts on tied-remainders."""
    config = TIED.config
    labels = config.labels()
    batch = mutants.control(
        labels, kind="fixed", alpha=config.alpha, batch_size=config.batch_size, n_batches=1,
        seed=seed,
    )
    return np.bincount(labels[batch[0]], minlength=config.num_classes)


#: This test's false-failure rate: the check's p-value is valid (exact or conservative), so
#: it is at most this with probability at most this.
TIES_FALSE_RATE = 1e-13


@pytest.mark.statistical(level=TIES_FALSE_RATE)
def test_ties_check_passes_ties_broken_at_random() -> None:
    """The control's tie-break over 14 seeds gives the check a p-value above 1e-13 (it fails
    with probability at most 1e-13, this test's false-failure rate)."""
    drawn = sample(mutants.control, TIED, seed=5)
    drawn.tie_rows = [_first_counts(s) for s in range(7, 19)]
    assert counts.ties_check(drawn).pvalue > TIES_FALSE_RATE


def test_plan_fixed_adds_the_tie_check_only_where_ties_exist() -> None:
    """long-tail has no tie at its cut; tied-remainders does."""
    assert ("ties_broken_at_random", False) not in counts.plan_fixed(LONG_TAIL)
    assert counts.plan_fixed(TIED)[-1] == ("ties_broken_at_random", False)
    assert math.comb(8, 4) == 70


def test_quota_checks_pass_a_schedule_and_catch_drift() -> None:
    """The control's quota schedule passes; per-batch largest remainder drifts."""
    where = setting("quota", "long-tail")
    assert failed(counts.quota_checks(sample(mutants.control, where))) == set()
    drift = counts.quota_checks(sample(mutants.quota_drift, where))
    assert failed(drift) == {"prefix_error_below_1"}
    assert "off by" in drift[1].detail
