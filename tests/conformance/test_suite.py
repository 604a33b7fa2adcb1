"""Tests of refsampler.conformance.suite: the shipped suite, run as a user would.

``python -m pytest --pyargs refsampler.conformance.suite --refsampler-impl=MOD:FN`` from a
directory that is not refsampler's checkout: exit 0 for a correct sampler, 1 for a wrong one,
declined configurations skipped with the reason, and a session without an implementation
ends with one line. Runs are narrowed with ``--refsampler-kind`` and ``-k`` to stay fast.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refsampler.conformance.pytest_plugin import NO_IMPLEMENTATION

from ._shared import TEST_LEVEL

pytest_plugins = ["pytester"]

SUITE = ("--pyargs", "refsampler.conformance.suite", "-p", "no:cacheprovider")
#: Exact tests and the kit's checks (one verify run at TEST_LEVEL), not the 1e-8 tests of
#: test_statistics (property_tests runs those against refsampler).
NARROW = ("-k", "not test_statistics", f"--refsampler-family-level={TEST_LEVEL}")


@pytest.mark.statistical(level=TEST_LEVEL)
def test_a_correct_sampler_passes_the_suite(pytester: pytest.Pytester) -> None:
    """The control passes every exact property and every check of its kind (rate 1e-8)."""
    result = pytester.runpytest(
        *SUITE,
        *NARROW,
        "--refsampler-impl=refsampler.conformance.mutants:control",
        "--refsampler-kind=fixed",
    )
    assert result.ret == 0, result.stdout.str()
    assert result.parseoutcomes()["passed"] > 60


def test_a_wrong_sampler_fails_the_suite(pytester: pytest.Pytester) -> None:
    """The tail-boost mutant fails the largest-remainder property and check (exit 1)."""
    result = pytester.runpytest(
        *SUITE,
        "-k",
        "test_check or largest_remainder",
        "--refsampler-impl=refsampler.conformance.mutants:tail_boost",
        "--refsampler-kind=fixed",
    )
    assert result.ret == 1
    failed = "\n".join(result.stdout.lines)
    assert "test_check[fixed-long-tail-largest_remainder]" in failed
    assert "test_fixed_counts_are_the_largest_remainder[fixed]" in failed


@pytest.mark.parametrize(
    ("mutant", "seed"), [("seed_only_orders", 2), ("low_seed_bits", 1 + (1 << 16))]
)
def test_a_seed_that_changes_only_the_order_or_the_high_bits_fails_the_suite(
    pytester: pytest.Pytester, mutant: str, seed: int
) -> None:
    """The suite's seed test compares what the batches hold, for seed 2 and for a seed that
    differs from 1 only in bit 16; these mutants repeat the contents for every seed, so they
    fail it always."""
    result = pytester.runpytest(
        *SUITE,
        "-k",
        "test_different_seeds_give_different_batches",
        f"--refsampler-impl=refsampler.conformance.mutants:{mutant}",
        "--refsampler-kind=fixed",
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"*seeds 1 and {seed} give batches of the same contents*"])


@pytest.mark.statistical(level=TEST_LEVEL)
def test_declined_configurations_are_skipped_with_the_reason(pytester: pytest.Pytester) -> None:
    """An alpha = 1 sampler: its other configurations skip, saying why; exit 0 (rate 1e-8)."""
    result = pytester.runpytest(
        *SUITE,
        "-k",
        "test_check",
        f"--refsampler-family-level={TEST_LEVEL}",
        "-rs",
        "--refsampler-impl=refsampler.conformance.mutants:alpha_one_control",
        "--refsampler-kind=quota",
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*declined quota/long-tail: NotImplementedError: only alpha = 1*"])


def _subprocess(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *SUITE, *options],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )


def test_from_any_directory_without_an_implementation_it_fails_with_one_line(
    tmp_path: Path,
) -> None:
    """Only the installed package, a fresh process, an empty directory: exit 4, one line."""
    done = _subprocess(tmp_path)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert [line for line in done.stdout.splitlines() if NO_IMPLEMENTATION in line]


@pytest.mark.slow  # a second fresh process; the failure itself is tested in-process above
def test_from_any_directory_a_wrong_sampler_exits_1(tmp_path: Path) -> None:
    """The same from a fresh process: positions out of range fail (exit 1)."""
    done = _subprocess(
        tmp_path,
        "-x",
        "-k",
        "test_check and uniform",
        "--refsampler-impl=refsampler.conformance.mutants:one_based",
        "--refsampler-kind=fixed",
    )
    assert done.returncode == 1, done.stdout[-2000:]
    assert "test_check[fixed-uniform-positions_in_range]" in done.stdout


def test_the_suite_counts_a_decline_only_before_the_first_batch() -> None:
    """The suite's own calls: NotImplementedError up front skips (a decline); after batches
    were produced it propagates and fails the test."""
    from refsampler.conformance import mutants
    from refsampler.conformance.suite._support import call

    labels = np.repeat(np.arange(3, dtype=np.int64), [6, 3, 1])
    args = {"kind": "fixed", "alpha": 1.0, "batch_size": 3, "seed": 0}
    with pytest.raises(pytest.skip.Exception, match="declined kind='fixed'"):
        call(mutants.declines_everything, labels, n_batches=4, **args)
    assert call(mutants.declines_late, labels, n_batches=1000, **args) is not None
    with pytest.raises(NotImplementedError):
        try:
            call(mutants.declines_late, labels, n_batches=1001, **args)
        except pytest.skip.Exception as exc:  # a skip would hide the crash
            pytest.fail(f"a NotImplementedError after 1000 batches was taken as a decline: {exc}")
