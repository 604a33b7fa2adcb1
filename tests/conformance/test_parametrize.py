"""Tests of refsampler.conformance.parametrize: one pytest test per check."""

from __future__ import annotations

import re

import pytest

from refsampler import InvalidArgumentError
from refsampler.conformance import parametrize_with_checks
from refsampler.conformance.mutants import control
from refsampler.conformance.parametrize import SharedRun

from ._shared import TEST_LEVEL

pytest_plugins = ["pytester"]

TEMPLATE = """
from refsampler.conformance import parametrize_with_checks
from refsampler.conformance.mutants import {impl} as make_batches

@parametrize_with_checks(make_batches, kinds={kinds!r}, configs={configs!r},
                         family_level={level!r})
def test_my_sampler(check):
    check()
"""


def _run(
    pytester: pytest.Pytester,
    impl: str,
    kinds: tuple[str, ...],
    configs: tuple[str, ...],
    *args: str,
) -> pytest.RunResult:
    pytester.makepyfile(
        test_mine=TEMPLATE.format(impl=impl, kinds=kinds, configs=configs, level=TEST_LEVEL)
    )
    return pytester.runpytest("-p", "no:cacheprovider", "-rs", *args)


@pytest.mark.statistical(level=TEST_LEVEL)
def test_a_correct_sampler_passes_one_test_per_check(pytester: pytest.Pytester) -> None:
    """Readable ids kind-config-check, plus kind-tested; all pass (rate 1e-8: one run)."""
    result = _run(pytester, "control", ("fixed",), ("tied-remainders",), "-v")
    result.assert_outcomes(passed=18)
    result.stdout.fnmatch_lines(
        [
            "*test_my_sampler?fixed-tied-remainders-runs? PASSED*",
            "*test_my_sampler?fixed-tied-remainders-largest_remainder? PASSED*",
            "*test_my_sampler?fixed-tied-remainders-ties_broken_at_random? PASSED*",
            "*test_my_sampler?fixed-tested? PASSED*",
        ]
    )


def test_a_failing_check_fails_its_test_with_the_message(pytester: pytest.Pytester) -> None:
    """Only the largest-remainder test fails, saying what was expected and observed."""
    result = _run(pytester, "tail_boost", ("fixed",), ("long-tail",))
    result.assert_outcomes(passed=17, failed=1)  # 16 checks and fixed-tested
    result.stdout.re_match_lines(
        [
            re.escape(line)
            for line in (
                "fixed-long-tail-largest_remainder: failed",
                "expected [6, 3, 2, 1, 1, 1, 1, 1]",
                "observed [5, 3, 2, 1, 1, 1, 1, 2]",
            )
        ]
    )


@pytest.mark.statistical(level=TEST_LEVEL)
def test_a_declined_configuration_skips_its_tests_with_the_reason(
    pytester: pytest.Pytester,
) -> None:
    """long-tail is declined (alpha 0.5); uniform is tested (rate 1e-8)."""
    result = _run(pytester, "alpha_one_control", ("quota",), ("uniform", "long-tail"))
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] >= 10 and outcomes["skipped"] >= 8 and "failed" not in outcomes
    result.stdout.fnmatch_lines(
        [
            "*declined quota/long-tail: NotImplementedError: only alpha = 1 (uniform classes); "
            "got alpha = 0.5*"
        ]
    )


def test_declining_everything_fails_the_kind_tested_test(pytester: pytest.Pytester) -> None:
    """Skipping every check is not a pass: quota-tested fails."""
    result = _run(pytester, "declines_everything", ("quota",), ("uniform",))
    result.assert_outcomes(skipped=14, failed=1)
    result.stdout.fnmatch_lines(["*quota: NOT TESTED: every configuration was declined*"])


def test_k_keeps_the_kind_tested_test_of_the_selected_checks(pytester: pytest.Pytester) -> None:
    """-k narrowed to declined checks: quota-tested is not deselected, and fails."""
    result = _run(pytester, "declines_everything", ("quota",), ("uniform",), "-k", "runs")
    result.assert_outcomes(skipped=1, failed=1, deselected=13)
    result.stdout.fnmatch_lines(["*quota: NOT TESTED: every configuration was declined*"])


def test_the_checks_share_one_run() -> None:
    """The run is computed on first use and reused: one verify, one Holm family."""
    calls: list[int] = []

    def counting(labels, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["n_batches"])
        return control(labels, **kwargs)

    mark = parametrize_with_checks(counting, kinds=["fixed"], configs=["uniform"])
    items = [param.values[0] for param in mark.args[1]]
    assert calls == []
    for item in items:
        item()
    assert calls == [1639, 256, 1639, 256, 256, 256, 256]
    assert isinstance(items[0].run, SharedRun) and items[0].run is items[-1].run


def test_bad_arguments_raise_where_the_decorator_is() -> None:
    """Invalid kinds or configurations fail at import, not inside a test."""
    with pytest.raises(InvalidArgumentError, match=re.escape('`level` must be "quick" or')):
        parametrize_with_checks(control, level="slow")


def test_an_implementation_the_protocol_cannot_call_raises_where_the_decorator_is() -> None:
    """Not callable, or a signature the protocol's keywords do not fit: refused at import,
    as verify refuses it, not found out by the first test."""
    with pytest.raises(InvalidArgumentError, match="`make_batches` must be callable"):
        parametrize_with_checks(42)  # type: ignore[arg-type]

    def renamed(labels: object, *, kind: str, alpha: float, bs: int) -> list[list[int]]:
        return []

    with pytest.raises(InvalidArgumentError, match=r"`make_batches` cannot be called as"):
        parametrize_with_checks(renamed)


@pytest.mark.statistical(level=TEST_LEVEL)
def test_a_failing_sampler_api_check_fails_the_kind_tested_test() -> None:
    """The sampler API adds epoch, rank and resume checks that no planned test stands for;
    one of them failing (a rank one batch short) fails quota-tested with its message,
    while the planned checks pass (rate 1e-8: one run)."""
    from refsampler.conformance.mutants import unequal_rank_lengths
    from refsampler.conformance.streams import SamplerAdapter

    mark = parametrize_with_checks(
        SamplerAdapter(unequal_rank_lengths),
        kinds=["quota"],
        configs=["many-classes"],
        family_level=TEST_LEVEL,
    )
    items = [param.values[0] for param in mark.args[1]]
    for item in items[:-1]:
        item()  # the planned checks pass
    assert items[-1].id == "quota-tested"
    with pytest.raises(pytest.fail.Exception, match=r"many-classes/ranks_equal_length\[2\]"):
        items[-1]()


@pytest.mark.statistical(level=TEST_LEVEL)
def test_run_wide_notes_reach_the_warnings_summary(pytester: pytest.Pytester) -> None:
    """What the run could not check (here: resuming a target no fresh process can import) is
    a RunNote warning of the first kind's <kind>-tested test, so pytest users see it too."""
    pytester.makepyfile(
        test_notes=f"""
from refsampler.conformance import parametrize_with_checks
from refsampler.conformance.adapters import refsampler_sampler
from refsampler.conformance.streams import SamplerAdapter

adapter = SamplerAdapter(lambda labels, **kwargs: refsampler_sampler(labels, **kwargs))

@parametrize_with_checks(adapter, kinds=("fixed",), configs=("uniform",),
                         family_level={TEST_LEVEL!r})
def test_my_sampler(check):
    check()
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes["passed"] >= 2
    assert outcomes["warnings"] == 2
    result.stdout.fnmatch_lines(
        [
            "*test_my_sampler?fixed-tested?*",
            "*RunNote: sampler methods found: set_epoch, state_dict/load_state_dict, len*",
            "*RunNote: resume in a fresh process not checked: target not importable*",
        ]
    )
