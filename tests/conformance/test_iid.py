"""Tests of refsampler.conformance.iid: i.i.d. classes and members with replacement."""

from __future__ import annotations

import numpy as np
import pytest

from refsampler.conformance import iid, mutants

from ._shared import TEST_LEVEL, failed, sample, setting

LONG_TAIL = setting("random", "long-tail")


@pytest.mark.statistical(level=TEST_LEVEL)
def test_random_checks_accept_the_control(stat_seed: int) -> None:
    """Every iid and with-replacement test of the control passes (Bonferroni at 1e-8)."""
    drawn = sample(mutants.control, LONG_TAIL, stat_seed % 2**32)
    results = iid.iid_checks(drawn) + iid.replacement_checks(drawn)
    assert failed(results) == set()


@pytest.mark.statistical(level=TEST_LEVEL)
def test_a_biased_share_fails_the_share_tests_only(stat_seed: int) -> None:
    """1.5 extra points on the smallest class fail class_shares and its binomial test, and
    nothing else: the spread and serial tests are conditional on the observed shares.

    Misses the bias with probability below 1e-12 (test_mutants); the other tests falsely
    fail with probability at most 1e-8 (Bonferroni).
    """
    drawn = sample(mutants.biased_target, LONG_TAIL, stat_seed % 2**32)
    results = iid.iid_checks(drawn) + iid.replacement_checks(drawn)
    smallest = int(np.argmin(LONG_TAIL.target))
    assert failed(results) <= {"class_shares", *(f"class_share[{c}]" for c in range(8))}
    assert f"class_share[{smallest}]" in failed(results)
    shares = next(r for r in results if r.check == "class_shares")
    assert len(shares.expected) == len(shares.observed) == 8


def test_members_from_cycles_fail_as_too_even_and_too_few_repeats() -> None:
    """A random kind drawing members in shuffled cycles: the within-class statistic is far
    below its mean (the lower tail) and the 2-member class never repeats in its pairs."""
    drawn = sample(mutants.random_in_cycles, LONG_TAIL)
    results = {r.check: r for r in iid.replacement_checks(drawn)}
    uniform, repeats = results["within_class_uniform"], results["member_repeats"]
    assert uniform.pvalue is not None and uniform.pvalue < 1e-30
    assert uniform.direction == "members drawn too evenly (not independently)"
    assert repeats.pvalue is not None and repeats.pvalue < 1e-30
    assert repeats.direction == "too few repeats (drawn without replacement)"
    assert repeats.observed < repeats.expected / 2


def test_plan_iid_skips_tests_without_two_classes() -> None:
    """One class: no share or serial test, but the members are still checked."""
    single = setting("random", "single-class")
    assert iid.plan_iid(single) == []
    assert iid.plan_replacement(single) == [
        ("within_class_uniform", False),
        ("member_repeats", False),
    ]
    names = [n for n, _ in iid.plan_iid(LONG_TAIL)]
    assert names[0] == "class_shares" and names[-2:] == ["serial_draws", "serial_batches"]
