"""Tests of refsampler.conformance.checks: the checks every kind gets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from refsampler.conformance import checks, mutants, verify
from refsampler.conformance.adapters import refsampler
from refsampler.conformance.configs import Config
from refsampler.conformance.sample import Sample

from ._shared import TEST_LEVEL, sample, setting

UNIFORM = setting("fixed", "uniform")


def test_as_batch_array_accepts_flat_integer_batches() -> None:
    """Lists of ints, integer arrays and tensors, and lists of 0-d integer tensors are batches
    of positions."""
    import torch

    batches = [
        [0, 1],
        np.array([2, 3], dtype=np.int32),
        np.array([4, 5], dtype=np.uint8),
        torch.tensor([6, 7]),
        [torch.tensor(8), torch.tensor(9)],
        [np.int16(10), 11],
    ]
    array, sizes, problem = checks.as_batch_array(batches, 2)
    assert array is not None and array.dtype == np.int64 and (sizes, problem) == ([2] * 6, "")
    assert array.ravel().tolist() == list(range(12))
    assert checks.as_batch_array([[0, 1], [2]], 2) == (None, [2, 1], "batches of the wrong size")
    # Integer batches of 0s and 1s are batches too (only bools are refused).
    array, sizes, problem = checks.as_batch_array([[0, 1], [1, 1], [2, 3]], 2)
    assert array is not None and array.tolist() == [[0, 1], [1, 1], [2, 3]] and problem == ""


@pytest.mark.parametrize(
    ("batch", "problem"),
    [
        ([[0, 1], [2, 3]], "is nested (an array of shape (2, 2)), not a flat sequence"),
        (np.array([[0, 1], [2, 3]]), "is nested (an array of shape (2, 2))"),
        ("tensor2d", "is nested (an array of shape (2, 2))"),
        ([[0], [1], [2], [3]], "is nested (an array of shape (4, 1))"),
        ([0.0, 1.0, 2.0, 3.0], "holds positions of dtype float64, not integers"),
        ("float_tensor", "holds positions of dtype float32, not integers"),
        ([True, False, True, False], "holds positions of dtype bool, not integers"),
        ([0j, 1j, 2j, 3j], "holds positions of dtype complex128, not integers"),
        ([0, 1, 2, None], "holds positions of dtype object, not integers"),
        ([0, 1, 2, 2**64], "holds positions of dtype object, not integers"),
        # numpy counts timedelta64 as an integer type; a dataset cannot be indexed with one.
        (np.arange(4).astype("m8[s]"), "holds positions of dtype timedelta64[s], not integers"),
        (4, "is a single value, not a sequence of positions"),
        ([[0, 1], [2]], "is not a sequence of positions (setting an array element"),
    ],
)
def test_as_batch_array_refuses_what_a_dataloader_cannot_index_with(
    batch: Any, problem: str
) -> None:
    """Nested batches, single values and non-integer dtypes are refused, even when their
    values are the right positions; the problem names the batch and what is wrong."""
    import torch

    if isinstance(batch, str):
        batch = {
            "tensor2d": torch.tensor([[0, 1], [2, 3]]),
            "float_tensor": torch.tensor([0.0, 1.0, 2.0, 3.0]),
        }[batch]
    array, _, found = checks.as_batch_array([[4, 5, 6, 7], batch], 4)
    assert array is None
    assert found.startswith("batch 1 " + problem), found
    alone, why = checks.batch_positions(batch)
    assert alone is None and found.startswith(f"batch 1 {why}")


def test_as_batch_array_names_the_first_refused_batch_and_counts_the_rest() -> None:
    """The problem names the first refused batch; the shape check fails on it."""
    batches = [[0, 1], [2.0, 3.0], [[4, 5]], [6.0, 7.0]]
    array, sizes, problem = checks.as_batch_array(batches, 2)
    assert array is None and sizes == [2, 2, 2, 2]
    assert (
        problem == "batch 1 holds positions of dtype float64, not integers (2 more batches refused)"
    )
    result = checks.shape_check(UNIFORM, sizes, 4, problem)
    assert result.verdict == "fail" and problem in result.detail


def test_a_refused_batch_of_the_right_size_shows_what_is_wrong() -> None:
    """Nested batches of the right number of values: expected and observed differ where the
    batches do (their form), not in numbers that agree."""
    problem = (
        "batch 0 is nested (an array of shape (2, 5)), not a flat sequence of positions "
        "(1 more batches refused)"
    )
    result = checks.shape_check(UNIFORM, [10, 10], 2, problem)
    assert result.verdict == "fail"
    assert result.expected == "2 batches, each a flat sequence of 10 integer positions"
    assert result.observed == problem
    short = checks.shape_check(UNIFORM, [10, 9], 2, "batches of the wrong size")
    assert (short.expected, short.observed) == ([2, 10], [2, 9])


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


def _verdicts(sample: Sample) -> dict[str, str]:
    return {r.check: r.verdict for r in checks.determinism_checks(sample)}


def _with(drawn: Sample, **changes: Any) -> Sample:
    fields = {
        "setting": drawn.setting,
        "labels": drawn.labels,
        "batches": drawn.batches,
        "first": drawn.first,
        "again": drawn.again,
        "other": drawn.other,
        "far": drawn.far,
    }
    return Sample(**{**fields, **changes})


DETERMINISM = ("same_seed_same_batches", "other_seed_other_batches", "far_seed_other_batches")


def test_determinism_checks_pass_the_control() -> None:
    """Reproducible runs, other contents for s + 1 and the far seeds."""
    drawn = sample(mutants.control, UNIFORM)
    assert [r.check for r in checks.determinism_checks(drawn)] == list(DETERMINISM)
    assert set(_verdicts(drawn).values()) == {"pass"}
    assert [name for name, _ in drawn.far] == ["s XOR 2**16", "s XOR 2**30", "s + 540540000"]


def test_determinism_checks_flag_identical_batches_for_different_seeds() -> None:
    """Equal runs for two seeds fail the other-seed check; for far seeds the far check."""
    drawn = sample(mutants.control, UNIFORM)
    same = _with(drawn, other=drawn.first)
    assert _verdicts(same) == dict(zip(DETERMINISM, ["pass", "fail", "pass"], strict=True))
    far = _with(drawn, far=[("s XOR 2**16", drawn.first.copy()), *drawn.far[1:]])
    result = checks.determinism_checks(far)[2]
    assert (result.verdict, result.statistic) == ("fail", 1.0)
    assert result.detail == "seed s XOR 2**16 gives identical batches"


def test_other_seeds_must_change_the_contents_not_only_the_order() -> None:
    """A seed that only shuffles inside each batch, or also permutes the batches, fails; the
    old element-wise comparison would have passed both (the arrays differ)."""
    drawn = sample(mutants.control, UNIFORM)
    rng = np.random.default_rng(1)
    inside = rng.permuted(drawn.first, axis=1)
    both = inside[rng.permutation(inside.shape[0])]
    for other, how in [
        (inside, "the same batches, only the order inside each batch differs"),
        (both, "the same batches, only their order (and the order inside them) differs"),
    ]:
        assert not np.array_equal(other, drawn.first)
        result = checks.determinism_checks(_with(drawn, other=other))[1]
        assert result.verdict == "fail" and result.detail == f"seeds s and s + 1 give {how}"
        far = checks.determinism_checks(_with(drawn, far=[(16, other), (30, other)]))[2]
        assert far.verdict == "fail" and far.statistic == 2.0 and how in far.detail


def test_batch_order_counts_only_where_contents_cannot_recur_by_chance() -> None:
    """single-class (batches of 4 from 3 members) has 6 possible contents: two seeds of a
    correct sampler can give the same multiset, so only the in-order comparisons count there."""
    tiny = setting("fixed", "single-class")
    drawn = sample(mutants.control, tiny)
    assert checks.log10_repeat_chance(drawn.first) > np.log10(checks.REPEAT_CHANCE)
    shuffled = drawn.first[np.random.default_rng(2).permutation(drawn.first.shape[0])]
    result = checks.determinism_checks(_with(drawn, other=shuffled))[1]
    assert result.verdict == "pass" and "batch order not compared" in result.detail
    inside = checks.determinism_checks(_with(drawn, other=np.sort(drawn.first, axis=1)))[1]
    assert inside.verdict == "fail"


def test_log10_repeat_chance_of_distinct_and_repeated_batches() -> None:
    """256 distinct batches: about 10**-129; one batch 256 times: certain (10**0)."""
    distinct = np.arange(256 * 4).reshape(256, 4)
    assert checks.log10_repeat_chance(distinct) == pytest.approx(-129.0, abs=0.1)
    assert checks.log10_repeat_chance(np.tile(distinct[:1], (256, 1))) == pytest.approx(0.0)
    assert checks.log10_repeat_chance(distinct[::-1, ::-1]) == checks.log10_repeat_chance(distinct)


def test_same_seed_compares_the_whole_main_run() -> None:
    """A re-run that agrees on the first 256 batches and differs later fails, naming the
    first differing batch."""
    where = setting("fixed", "uniform")
    drawn = sample(mutants.control, where)
    assert where.n_batches > where.n_repeat == 256 and drawn.again.shape == drawn.batches.shape
    late = drawn.batches.copy()
    late[300] = late[300][::-1]
    result = checks.determinism_checks(_with(drawn, again=late))[0]
    assert result.verdict == "fail" and result.draws == drawn.batches.size
    assert result.detail.endswith("with one seed; the first in batch 300")


def test_far_seed_check_without_far_runs_fails() -> None:
    """A check that compared nothing is a failure, never a pass."""
    drawn = sample(mutants.control, UNIFORM)
    result = checks.determinism_checks(_with(drawn, far=[]))[2]
    assert (result.verdict, result.detail) == ("fail", "no run of a far seed to compare")


def test_far_seeds_stay_below_2_31_for_31_bit_seeds() -> None:
    """XOR with bits 16 and 30, then the fold step up or down: every far seed of a run seed
    is a legal 32-bit seed, and the names say which way the step went."""
    step = checks.FOLD_STEP
    assert checks.far_seeds(0) == [2**16, 2**30, step]
    assert checks.far_seeds(2**31 - 1) == [2**31 - 1 - 2**16, 2**31 - 1 - 2**30, 2**31 - 1 - step]
    assert checks.far_seed_names(2**31 - 1)[-1] == f"s - {step}"
    for seed in (0, 123_456_789, 2**31 - step - 1, 2**31 - step, 2**31 - 1):
        assert all(0 <= s < 2**31 for s in checks.far_seeds(seed))


def test_the_fold_step_catches_seeds_folded_by_common_moduli() -> None:
    """s and its folded far seed agree modulo every m up to 16 and 100, 1000, 10**4 (and
    differ modulo 2**31, so a correct sampler sees two seeds)."""
    for seed in (0, 7, 2**31 - 1):
        folded = checks.far_seeds(seed)[-1]
        assert folded != seed
        for m in [*range(1, 17), 100, 1000, 10**4]:
            assert folded % m == seed % m, (seed, m)


def test_a_seed_folded_modulo_1000_fails_the_far_seed_check() -> None:
    """A sampler that keeps seed % 1000 gives the same batches for s and s + FOLD_STEP."""

    def folded(labels: Any, **kwargs: Any) -> list[list[int]]:
        return mutants.control(labels, **{**kwargs, "seed": kwargs["seed"] % 1000})

    drawn = sample(folded, UNIFORM)
    result = checks.determinism_checks(drawn)[2]
    assert result.verdict == "fail"
    assert result.detail.startswith("seed s + 540540000 gives identical batches")


@pytest.mark.statistical(level=TEST_LEVEL)
def test_batches_that_must_hold_the_whole_dataset_are_compared_in_order_only() -> None:
    """Where every batch holds every position, a correct sampler repeats the contents under
    every seed: the seed checks compare positions in order there, and refsampler passes."""
    whole = Config("whole", (3, 3), 6, 1.0, "every batch is the whole dataset")
    report = verify(refsampler, kinds=["fixed", "quota"], configs=[whole], family_level=TEST_LEVEL)
    assert report.exit_code == 0, report.failure_lines()
    details = [r.detail for r in report.results if r.check == "other_seed_other_batches"]
    assert len(details) == 2 and all("only positions in order compared" in d for d in details)
