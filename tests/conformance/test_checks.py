"""Tests of refsampler.conformance.checks: the checks every kind gets."""

from __future__ import annotations

import numpy as np

from refsampler.conformance import checks, mutants
from refsampler.conformance.sample import Sample

from ._shared import sample, setting

UNIFORM = setting("fixed", "uniform")


def test_as_batch_array_accepts_integral_floats_and_rejects_bad_batches() -> None:
    """Whole-number floats are accepted; ragged, fractional and non-sequence batches are not."""
    array, sizes, problem = checks.as_batch_array([[0.0, 1.0], [2.0, 3.0]], 2)
    assert array is not None and array.dtype == np.int64 and (sizes, problem) == ([2, 2], "")
    assert checks.as_batch_array([[0, 1], [2]], 2) == (None, [2, 1], "batches of the wrong size")
    array, _, problem = checks.as_batch_array([[0.5, 1.0]], 2)
    assert array is None and problem == "positions of dtype float64, not integers"
    array, _, problem = checks.as_batch_array([[[0, 1], [2]]], 2)
    assert array is None and problem.startswith("batches are not sequences of positions")


def test_runs_check_passes_a_clean_call_and_fails_a_problem() -> None:
    """The problem text becomes the detail."""
    assert checks.runs_check(UNIFORM, "").verdict == "pass"
    failed = checks.runs_check(UNIFORM, "raised ValueError: boom")
    assert (failed.verdict, failed.detail) == ("fail", "raised ValueError: boom")


def test_shape_check_counts_missing_batches_and_wrong_sizes() -> None:
    """One batch too many and one batch too short are two violations."""
    result = checks.shape_check(UNIFORM, [10, 10, 9], 2, "batches of the wrong size")
    assert (result.verdict, result.statistic) == ("fail", 2.0)
    assert "batch 2 has 9 positions" in result.detail
    assert (result.expected, result.observed) == ([2, 10], [3, 9])


def test_range_check_reports_the_first_offending_position() -> None:
    """A position equal to N is out of range; the detail shows it."""
    result = checks.range_check(UNIFORM, np.array([[0, 5], [475, 1]]), 475)
    assert (result.verdict, result.statistic) == ("fail", 1.0)
    assert result.detail.endswith("got 475")


def test_inputs_check_lists_every_change() -> None:
    """Each reported change is a violation, named in the detail."""
    result = checks.inputs_check(UNIFORM, ["2 labels modified while building the sampler"], 9)
    assert (result.verdict, result.statistic) == ("fail", 1.0)
    assert result.detail == "2 labels modified while building the sampler"


def test_determinism_checks_flag_identical_batches_for_different_seeds() -> None:
    """Equal runs for one seed pass; equal runs for two seeds fail the second check."""
    drawn = sample(mutants.control, UNIFORM)
    assert [r.verdict for r in checks.determinism_checks(drawn)] == ["pass", "pass"]
    same = Sample(UNIFORM, drawn.labels, drawn.batches, drawn.first, drawn.first, drawn.first)
    assert [r.verdict for r in checks.determinism_checks(same)] == ["pass", "fail"]
