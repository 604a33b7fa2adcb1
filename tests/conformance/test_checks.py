"""Tests of refsampler.conformance.checks: configurations and every check on known inputs."""

from __future__ import annotations

import numpy as np
import pytest

from refsampler.allocation import allocate, quota_schedule
from refsampler.conformance import checks, mutants, stats
from refsampler.conformance.checks import CONFIGS, Config
from refsampler.targets import interpolate

LONG_TAIL = next(c for c in CONFIGS if c.name == "long-tail")


def _batches(make_batches, config: Config, kind: str, n_batches: int, seed: int) -> np.ndarray:
    rows = make_batches(
        config.labels(),
        kind=kind,
        alpha=config.alpha,
        batch_size=config.batch_size,
        n_batches=n_batches,
        seed=seed,
    )
    return np.asarray(rows, dtype=np.int64)


def _failed(results: list[checks.CheckResult]) -> set[str]:
    return {r.check for r in results if r.verdict == "fail"}


def test_configs_cover_the_cases_the_issue_names() -> None:
    """alpha 0, 1 and between; a singleton class; batches of <= 3; K > B without fixed."""
    alphas = {c.alpha for c in CONFIGS}
    assert {0.0, 1.0} <= alphas and any(0 < a < 1 for a in alphas)
    assert any(min(c.class_counts) == 1 for c in CONFIGS)
    assert any(c.batch_size <= 3 for c in CONFIGS)
    wide = [c for c in CONFIGS if c.num_classes > c.batch_size]
    assert wide and all("fixed" not in c.kinds and "quota" in c.kinds for c in wide)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_config_labels_have_the_class_counts_in_shuffled_order(config: Config) -> None:
    """labels() holds n_c copies of class c, is reproducible, and (K > 1) is not sorted."""
    labels = config.labels()
    assert labels.dtype == np.int64
    assert np.bincount(labels).tolist() == list(config.class_counts)
    assert np.array_equal(labels, config.labels())
    assert config.num_classes == 1 or not np.all(np.diff(labels) >= 0)


def test_config_target_is_the_interpolated_target() -> None:
    """target() is refsampler.targets.interpolate of the counts at alpha."""
    expected = interpolate(list(LONG_TAIL.class_counts), LONG_TAIL.alpha)
    assert np.array_equal(LONG_TAIL.target(), expected)


def test_as_batch_array_accepts_integral_floats_and_rejects_ragged_batches() -> None:
    """Float positions that are whole numbers are accepted; ragged batches are not."""
    array, sizes, problem = checks.as_batch_array([[0.0, 1.0], [2.0, 3.0]], 2)
    assert array is not None and array.dtype == np.int64 and (sizes, problem) == ([2, 2], "")
    array, sizes, problem = checks.as_batch_array([[0, 1], [2]], 2)
    assert (array, sizes, problem) == (None, [2, 1], "batches of the wrong size")
    array, _, problem = checks.as_batch_array([[0.5, 1.0]], 2)
    assert array is None and problem == "positions of dtype float64, not integers"


def test_shape_check_counts_missing_batches_and_wrong_sizes() -> None:
    """One batch too many and one batch too short are two violations."""
    result = checks.shape_check("fixed", LONG_TAIL, [16, 16, 15], 2, "batches of the wrong size")
    assert (result.verdict, result.statistic) == ("fail", 2.0)
    assert "batch 2 has 15 positions" in result.detail


def test_range_check_reports_the_first_offending_position() -> None:
    """A position equal to N is out of range; the detail shows it."""
    result = checks.range_check("random", LONG_TAIL, np.array([[0, 5], [652, 1]]), 652)
    assert (result.verdict, result.statistic) == ("fail", 1.0)
    assert result.detail.endswith("got 652")


def test_labels_check_counts_changed_labels() -> None:
    """Two changed labels are two violations."""
    result = checks.labels_check("fixed", LONG_TAIL, np.array([0, 1, 2]), np.array([1, 0, 2]), 9)
    assert (result.verdict, result.statistic) == ("fail", 2.0)


def test_determinism_checks_flag_identical_batches_for_different_seeds() -> None:
    """Equal runs for one seed pass; equal runs for two seeds fail the second check."""
    a = np.arange(6).reshape(3, 2)
    results = checks.determinism_checks("fixed", LONG_TAIL, a, a.copy(), a.copy())
    assert [r.verdict for r in results] == ["pass", "fail"]


def test_counted_checks_pass_for_the_reference_allocations() -> None:
    """allocate() rows pass the fixed checks; quota_schedule() rows pass the quota checks."""
    target = LONG_TAIL.target()
    fixed = np.tile(allocate(target, 16), (50, 1))
    assert _failed(checks.counted_checks("fixed", LONG_TAIL, fixed, target)) == set()
    quota = quota_schedule(target, 16, 50)
    assert _failed(checks.counted_checks("quota", LONG_TAIL, quota, target)) == set()


def test_counted_checks_catch_a_changed_row_and_a_drifting_schedule() -> None:
    """A row that moves a seat fails fixed; the static largest-remainder row drifts in quota."""
    target = LONG_TAIL.target()
    fixed = np.tile(allocate(target, 16), (50, 1))
    fixed[7, 0] += 1
    fixed[7, 7] -= 1
    failed = _failed(checks.counted_checks("fixed", LONG_TAIL, fixed, target))
    assert failed == {"counts_within_quota", "same_counts_every_batch", "positive_classes_present"}
    static = np.tile(mutants.allocate_loose(target, 16), (50, 1))
    assert _failed(checks.counted_checks("quota", LONG_TAIL, static, target)) == {
        "prefix_error_below_1"
    }


@pytest.mark.parametrize("kind", ["fixed", "quota"])
def test_cycle_checks_pass_for_the_control(kind: str) -> None:
    """The control's cycles are fresh permutations drawn without replacement (exact)."""
    batches = _batches(mutants.control, LONG_TAIL, kind, 600, seed=3)
    results = checks.cycle_checks(kind, LONG_TAIL, batches, LONG_TAIL.labels())
    assert _failed(results) == set()
    assert "0 of" in results[1].detail and "0 of 0" not in results[1].detail


def test_cycle_checks_catch_replacement_and_repeated_cycles() -> None:
    """With-replacement draws break cycles; one reused permutation repeats cycles (exact)."""
    labels = LONG_TAIL.labels()
    replaced = _batches(mutants.with_replacement, LONG_TAIL, "fixed", 600, seed=3)
    assert "without_replacement_in_cycle" in _failed(
        checks.cycle_checks("fixed", LONG_TAIL, replaced, labels)
    )
    repeated = _batches(mutants.no_reshuffle, LONG_TAIL, "fixed", 600, seed=3)
    assert _failed(checks.cycle_checks("fixed", LONG_TAIL, repeated, labels)) == {
        "cycles_reshuffled"
    }


def test_exchangeability_check_rejects_batches_sorted_by_class() -> None:
    """Class-sorted batches put every class in fixed slots (p is essentially 0)."""
    batches = _batches(mutants.sorted_by_class, LONG_TAIL, "fixed", 400, seed=1)
    result = checks.exchangeability_check("fixed", LONG_TAIL, batches, LONG_TAIL.labels())
    assert result.verdict == "pending" and result.pvalue is not None and result.pvalue < 1e-100


def test_random_checks_accept_the_control(stat_seed: int) -> None:
    """Every random-kind test of the control passes Holm at family level 1e-8.

    False-failure rate 1e-8 (one Holm family). With 2**16 draws each per-class test detects
    a shift of ``detectable_shift(2**16, level=1e-8 / 20)`` (about 1.8 points).
    """
    batches = _batches(mutants.control, LONG_TAIL, "random", 4096, seed=stat_seed)
    labels, target = LONG_TAIL.labels(), LONG_TAIL.target()
    results = checks.random_checks("random", LONG_TAIL, batches, labels, target)
    rejected, _ = stats.holm([r.pvalue for r in results], 1e-8)
    assert not rejected.any(), [r.check for r, bad in zip(results, rejected, strict=True) if bad]


def test_random_checks_reject_a_biased_target(stat_seed: int) -> None:
    """1.5 extra points on the smallest class fail its binomial test (power ~ 1 at 2**16)."""
    batches = _batches(mutants.biased_target, LONG_TAIL, "random", 4096, seed=stat_seed)
    labels, target = LONG_TAIL.labels(), LONG_TAIL.target()
    results = checks.random_checks("random", LONG_TAIL, batches, labels, target)
    smallest = int(np.argmin(target))
    share = next(r for r in results if r.check == f"class_share[{smallest}]")
    assert share.pvalue is not None and share.pvalue < 1e-20


def test_statistical_count_matches_the_checks_made() -> None:
    """statistical_count is the number of p-values the random and exchangeability checks give."""
    batches = _batches(mutants.control, LONG_TAIL, "random", 64, seed=0)
    made = checks.random_checks(
        "random", LONG_TAIL, batches, LONG_TAIL.labels(), LONG_TAIL.target()
    )
    assert checks.statistical_count("random", LONG_TAIL) == len(made) + 1
    assert checks.statistical_count("fixed", LONG_TAIL) == 1


def test_check_result_to_dict_spells_infinity() -> None:
    """An infinite statistic becomes the string "inf" so the report is valid JSON."""
    result = checks.CheckResult("x", "random", "c", "fail", exact=False, statistic=float("inf"))
    assert result.to_dict()["statistic"] == "inf"
