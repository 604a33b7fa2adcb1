"""Tests of refsampler.conformance.counts: the fixed-counts and quota-counts checks."""

from __future__ import annotations

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


def test_tie_seeds_put_both_statistics_below_the_floor() -> None:
    """C = 70 ways to break the tie, 8 of them cyclic runs: n seeds agree with probability
    70**-(n-1) and are all runs with probability (8/70)**n; twice the larger is <= floor / 10
    for the fewest such n."""
    seeds = counts.tie_seeds(TIED, 1e-9)

    def chance(n: int) -> float:
        return 2 * max(70.0 ** -(n - 1), (8 / 70) ** n)

    assert chance(seeds) <= 1e-10 < chance(seeds - 1)
    assert seeds <= counts.MAX_TIE_SEEDS
    assert counts.tie_seeds(LONG_TAIL, 1e-9) == 0


def test_cyclic_runs_wrap_around_the_tied_group() -> None:
    """Consecutive tied classes, wrapping from the last to the first; nothing else."""
    run = counts._cyclic_run
    assert run((0, 1, 2, 3), 8, 4) and run((0, 1, 6, 7), 8, 4) and run((5, 6, 7, 0), 8, 4)
    assert not run((0, 2, 4, 6), 8, 4) and not run((0, 1, 2, 4), 8, 4)
    assert not run((0, 1, 2), 8, 4)  # not the tie's number of seats


def test_ties_check_gives_the_probability_of_one_choice_for_every_seed() -> None:
    """Index tie-breaking picks classes 0-3 for every seed, a run too: p = 2 * 70 ** -(n - 1),
    the smaller of the two statistics' chances, doubled."""
    drawn = sample(mutants.low_index_ties, TIED)
    drawn.tie_rows = [drawn.counts[0]] * 5
    result = counts.ties_check(drawn)
    assert result.pvalue == pytest.approx(2 * 70.0**-6)
    assert result.observed == [[0, 1, 2, 3]]
    assert (
        result.detail == "classes [0, 1, 2, 3, 4, 5, 6, 7] tie for 4 seats (70 ways); "
        "1 distinct choices in 7 seeds; 7 of them runs of consecutive tied classes (8 of the 70)"
    )


def test_ties_check_catches_a_rotating_window_of_tied_classes() -> None:
    """A window of consecutive tied classes from a seeded offset varies with the seed, but every
    seed gives a run: p = 2 * (8/70) ** n."""
    drawn = sample(mutants.rotating_ties, TIED)
    drawn.tie_rows = [
        sample(mutants.rotating_ties, TIED, seed=s).counts[0] for s in range(2, 9)
    ]
    result = counts.ties_check(drawn)
    assert result.pvalue == pytest.approx(2 * (8 / 70) ** 9)
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


#: P(the control's 14 seeds agree, or are all cyclic runs): this test's false-failure rate.
TIES_FALSE_RATE = 70.0**-13 + (8 / 70) ** 14


@pytest.mark.statistical(level=TIES_FALSE_RATE)
def test_ties_check_passes_ties_broken_at_random() -> None:
    """The control's tie-break varies over 14 seeds and leaves some of them out of a run (it
    fails with probability 70**-13 + (8/70)**14 < 7e-14, this test's false-failure rate)."""
    drawn = sample(mutants.control, TIED, seed=5)
    drawn.tie_rows = [_first_counts(s) for s in range(7, 19)]
    assert counts.ties_check(drawn).pvalue == 1.0


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
