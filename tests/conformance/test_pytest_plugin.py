"""Tests of refsampler.conformance.pytest_plugin: loading, options, fixtures, the suite gate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Inline pytester runs unload the modules first imported during them, and torch cannot be
# imported twice in one process: the runs below build torch samplers, so torch is loaded here.
import torch  # noqa: F401

from refsampler.conformance.pytest_plugin import (
    NO_IMPLEMENTATION,
    NOTHING_TESTED,
    SUITE,
)

from ._shared import TEST_LEVEL

pytest_plugins = ["pytester"]

CONFORMANCE_TEST = """
def test_conforms(refsampler_verify):
    report = refsampler_verify(kinds=["fixed"])
    assert report.conforms, report.table(failures_only=True)
"""


def test_plugin_loads_without_torch_or_scipy() -> None:
    """Importing the plugin (as pytest does for the pytest11 entry point) stays light."""
    code = (
        "import sys, refsampler.conformance.pytest_plugin; "
        "print(sorted(m for m in ('torch', 'scipy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_without_an_implementation_the_session_ends_with_one_line(
    pytester: pytest.Pytester,
) -> None:
    """No --refsampler-impl and no ini key: exit status 4 and the reason, nothing tested."""
    pytester.makepyfile(test_conformance=CONFORMANCE_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any(NO_IMPLEMENTATION in line for line in result.stdout.lines)
    assert "passed" not in result.stdout.str()


def test_the_implementation_can_come_from_the_ini_file(pytester: pytest.Pytester) -> None:
    """refsampler_impl in the [pytest] section points the fixtures at a mutant: it fails."""
    pytester.makeini("[pytest]\nrefsampler_impl = refsampler.conformance.mutants:one_based\n")
    pytester.makepyfile(test_conformance=CONFORMANCE_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert "positions_in_range" in result.stdout.str()


@pytest.mark.statistical(level=TEST_LEVEL)
def test_refsampler_verify_runs_the_named_implementation(pytester: pytest.Pytester) -> None:
    """--refsampler-impl and the level, seed and family options reach verify (rate 1e-8)."""
    pytester.makepyfile(test_conformance=CONFORMANCE_TEST)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--refsampler-impl=refsampler.conformance.mutants:control",
        f"--refsampler-family-level={TEST_LEVEL}",
        "--refsampler-seed=3",
    )
    result.assert_outcomes(passed=1)


def test_an_unloadable_implementation_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """A bad spec ends the session with the loader's message."""
    pytester.makepyfile(test_conformance=CONFORMANCE_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "--refsampler-impl=nowhere:f")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "`impl` could not be imported" in result.stdout.str()


def test_an_implementation_beside_the_invocation_directory_is_found(
    pytester: pytest.Pytester,
) -> None:
    """Bare `pytest` (the console script, which unlike `python -m pytest` does not put the
    current directory on sys.path), the test file in a subfolder, the implementation's package
    in the directory pytest starts from: the plugin finds it, as `refsampler verify` does (the
    mutant fails its check, which shows it ran). A package that is nowhere gets a hint."""
    pkg = pytester.mkpydir("kitpkg_here")
    (pkg / "impl.py").write_text("from refsampler.conformance.mutants import one_based\n")
    pytester.mkdir("checks")
    (pytester.path / "checks" / "test_conformance.py").write_text(CONFORMANCE_TEST)
    script = Path(sys.executable).with_name("pytest")

    def bare(impl: str) -> subprocess.CompletedProcess[str]:
        command = [str(script), "-p", "no:cacheprovider", "checks", f"--refsampler-impl={impl}"]
        return subprocess.run(command, cwd=pytester.path, capture_output=True, text=True)

    found = bare("kitpkg_here.impl:one_based")
    assert found.returncode == pytest.ExitCode.TESTS_FAILED, found.stdout[-2000:]
    assert "positions_in_range" in found.stdout
    missing = bare("kitpkg_elsewhere.impl:f")
    assert missing.returncode == pytest.ExitCode.USAGE_ERROR
    assert "run from the directory that holds 'kitpkg_elsewhere'" in missing.stdout + missing.stderr


def test_refsampler_check_gives_one_test_per_check(pytester: pytest.Pytester) -> None:
    """A test taking refsampler_check is parametrized by the plan of the chosen kinds."""
    pytester.makepyfile(test_checks="def test_check(refsampler_check):\n    refsampler_check()\n")
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--collect-only",
        "-q",
        "--refsampler-impl=refsampler.conformance.mutants:control",
        "--refsampler-kind=quota",
    )
    lines = result.stdout.lines
    assert "test_checks.py::test_check[quota-rotation-classes_meet]" in lines
    assert "test_checks.py::test_check[quota-tested]" in lines
    assert not any("[fixed-" in line for line in lines)


def test_deselected_checks_are_not_run(pytester: pytest.Pytester) -> None:
    """-k keeps the shared run to the configurations the selected checks need, quota-tested
    included (it stays selected and looks at those configurations only)."""
    pytester.makepyfile(
        test_checks="""
def test_check(refsampler_check):
    refsampler_check()
    assert {(r.kind, r.config) for r in refsampler_check.run.report.runs} == {
        ("quota", "rotation")}
"""
    )
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-k",
        "quota-rotation-runs",
        "--refsampler-impl=refsampler.conformance.mutants:control",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*deselected*"])


CHECK_TEST = "def test_check(refsampler_check):\n    refsampler_check()\n"


@pytest.mark.slow  # two xdist workers in a subprocess: seconds of start-up alone
def test_check_tests_run_on_one_worker_under_dist_loadscope(pytester: pytest.Pytester) -> None:
    """Under pytest-xdist with `--dist loadscope`, as the how-to says, every check test of a
    module (the `<kind>-tested` ones too) runs on one worker, so the shared run is made once."""
    log = pytester.path / "workers.txt"
    pytester.makepyfile(
        test_checks=f"""
import os

def test_check(refsampler_check):
    with open({str(log)!r}, "a") as out:
        out.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
    refsampler_check()
"""
    )
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-n",
        "2",
        "--dist",
        "loadscope",
        "-k",
        "quota-rotation-runs or fixed-uniform-runs or fixed-tested or quota-tested",
        "--refsampler-impl=refsampler.conformance.mutants:control",
    )
    result.assert_outcomes(passed=4)
    workers = log.read_text().split()
    assert len(workers) == 4
    assert len(set(workers)) == 1, workers


def test_k_never_deselects_the_kind_tested_test(pytester: pytest.Pytester) -> None:
    """A sampler that replays epoch 0 fails only stream checks, which have no test of their
    own: narrowed with -k to one exact check of one configuration, fixed-tested still runs
    and fails."""
    pytester.makepyfile(test_checks=CHECK_TEST)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-k",
        "test_check and uniform and same_counts",
        "--refsampler-impl=refsampler.conformance.mutants:replays_epoch_0",
        "--refsampler-api=sampler",
        "--refsampler-kind=fixed",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes()["failed"] == 1
    result.stdout.fnmatch_lines(
        ["*test_check?fixed-tested?*", "*check(s) without a test of their own failed*"]
    )
    assert "uniform/epochs_differ" in result.stdout.str()


def test_k_selecting_only_declined_checks_fails(pytester: pytest.Pytester) -> None:
    """Every selected check declined (-k narrows to one check): random-tested is kept and
    fails, so the session does not pass with everything skipped."""
    pytester.makepyfile(test_checks=CHECK_TEST)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-k",
        "class_shares",
        "--refsampler-impl=refsampler.conformance.mutants:declines_everything",
        "--refsampler-kind=random",
    )
    result.assert_outcomes(failed=1, skipped=10, deselected=result.parseoutcomes()["deselected"])
    result.stdout.fnmatch_lines(["*random: NOT TESTED: every configuration was declined*"])


def _run_shipped_suite(
    pytester: pytest.Pytester, selection: str, *options: str
) -> pytest.RunResult:
    """The shipped suite run inline, narrowed by ``-k selection``, with ``options``."""
    return pytester.runpytest(
        "--pyargs", "refsampler.conformance.suite", "-p", "no:cacheprovider", "-k", selection,
        *options,
    )


def test_a_session_whose_kit_tests_were_all_skipped_fails(pytester: pytest.Pytester) -> None:
    """The shipped suite narrowed to tests that all skip (every configuration declined, no
    check test selected): the session fails and says nothing was tested."""
    result = _run_shipped_suite(
        pytester,
        "test_statistics",
        "--refsampler-impl=refsampler.conformance.mutants:declines_everything",
        "--refsampler-kind=random",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "passed" not in result.parseoutcomes() and "failed" not in result.parseoutcomes()
    assert NOTHING_TESTED in result.stdout.str()


def test_the_shipped_suite_is_collected_only_when_named(pytester: pytest.Pytester) -> None:
    """Collecting the installed package does not run the suite; naming the suite does."""
    package = SUITE.parent.parent
    quiet = ("-p", "no:cacheprovider", "--collect-only", "-q")
    unnamed = pytester.runpytest(str(package / "conformance"), *quiet)
    assert not any("suite" in line for line in unnamed.stdout.lines)
    named = pytester.runpytest(
        str(SUITE / "test_kit.py"),
        *quiet,
        "--refsampler-impl=refsampler.conformance.mutants:control",
    )
    assert any("test_kit.py::test_check[fixed-uniform-runs]" in line for line in named.stdout.lines)
    assert Path(SUITE / "__init__.py").exists()


#: refsampler's per-index reference sampler (torch's WeightedRandomSampler, sharded).
INDEX_SAMPLER = "--refsampler-impl=refsampler.conformance.adapters:weighted_random_sampler"
SAMPLER_OPTIONS_TEST = """
def test_check(refsampler_check):
    report = refsampler_check.run.report  # the run, not its verdicts
    assert any(note.endswith("; 2 epochs, world sizes 1, 3") for note in report.notes)
    assert {"ranks_differ[3]", "epochs_differ"} <= {r.check for r in report.results}
    assert "ranks_differ[2]" not in {r.check for r in report.results}
"""


def test_sampler_api_options_reach_the_run(pytester: pytest.Pytester) -> None:
    """--refsampler-index-sampler, --refsampler-world-size and --refsampler-epochs mean what
    refsampler verify's options mean: the per-index sampler is batched, and the run has 2
    epochs and world sizes 1 and 3 (the run's notes and checks are read, not its verdicts)."""
    pytester.makepyfile(test_checks=SAMPLER_OPTIONS_TEST)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-k",
        "random-long-tail-runs",
        INDEX_SAMPLER,
        "--refsampler-api=sampler",
        "--refsampler-kind=random",
        "--refsampler-index-sampler",
        "--refsampler-world-size=1,3",
        "--refsampler-epochs=2",
    )
    result.assert_outcomes(passed=2, deselected=result.parseoutcomes()["deselected"])


def test_the_index_sampler_flag_can_come_from_the_ini_file(pytester: pytest.Pytester) -> None:
    """refsampler_index_sampler = true in the [pytest] section batches the sampler: the shipped
    suite's range test passes (it reads exact properties only)."""
    pytester.makeini("[pytest]\nrefsampler_index_sampler = true\n")
    result = _run_shipped_suite(
        pytester,
        "test_positions_are_in_range",
        INDEX_SAMPLER,
        "--refsampler-api=sampler",
        "--refsampler-kind=random",
    )
    assert result.parseoutcomes()["passed"] == 1, result.stdout.str()[-2000:]


def test_a_per_index_sampler_without_the_flag_fails_with_the_reason(
    pytester: pytest.Pytester,
) -> None:
    """Without --refsampler-index-sampler a per-index sampler's batches are single values:
    the shipped suite's property tests and the kit's checks both fail saying so and naming
    the flag, never with a TypeError from reading a batch."""
    hint = (
        "batch 0 is a single value, not a sequence of positions; a per-index sampler (one "
        "that yields single positions) needs --refsampler-index-sampler"
    )
    suite = _run_shipped_suite(
        pytester,
        "test_positions_are_in_range or random-long-tail-batch_shape",
        INDEX_SAMPLER,
        "--refsampler-api=sampler",
        "--refsampler-kind=random",
        # No short summary: it repeats each reason, cut to the terminal's width except where
        # the CI variable is set, so the count below would depend on the environment.
        "-rN",
    )
    assert suite.parseoutcomes()["failed"] == 2  # the property test and batch_shape
    out = suite.stdout.str()
    assert f"AssertionError: {hint}" in out
    assert "random-long-tail-batch_shape: failed" in out
    assert out.count(hint.split("; ")[1]) == 2
    assert "TypeError:" not in out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--refsampler-epochs=3"],
            "--refsampler-index-sampler, --refsampler-epochs and --refsampler-world-size need "
            "--refsampler-api sampler",
        ),
        (["--refsampler-index-sampler"], "need --refsampler-api sampler"),
        (
            ["--refsampler-api=sampler", "--refsampler-epochs=1"],
            "`--refsampler-epochs` must be an int >= 2; got 1.",
        ),
        (
            ["--refsampler-api=sampler", "--refsampler-epochs=two"],
            "`--refsampler-epochs` must be an int >= 2; got 'two'.",
        ),
        (
            ["--refsampler-api=sampler", "--refsampler-world-size=0,2"],
            "`--refsampler-world-size` must be comma-separated positive integers; got '0,2'.",
        ),
    ],
)
def test_bad_sampler_api_options_are_a_usage_error(
    options: list[str], message: str, pytester: pytest.Pytester
) -> None:
    """The command line's validation and messages, with the plugin's option names: the
    session ends with exit status 4 before anything runs."""
    pytester.makepyfile(test_conformance=CONFORMANCE_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", INDEX_SAMPLER, *options)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0].startswith("ERROR: refsampler: ")
    assert message in result.stderr.str()
    assert "passed" not in result.stdout.str()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--refsampler-kind=bogus"],
            "`--refsampler-kind` must be one of fixed, quota, random, pk; got 'bogus'.",
        ),
        (
            ["--refsampler-kind=fixed", "--refsampler-api=weights"],
            "`--refsampler-api weights` cannot implement kind 'fixed'; it can implement random",
        ),
        (
            ["--refsampler-level=bogus"],
            '`--refsampler-level` must be "quick" or "full"; got \'bogus\'.',
        ),
        (["--refsampler-seed=x"], "`--refsampler-seed` must be a non-negative int; got 'x'."),
        (["--refsampler-seed=-1"], "`--refsampler-seed` must be >= 0; got -1."),
        (
            ["--refsampler-timeout=-1"],
            "`--refsampler-timeout` must be a positive number of seconds; got -1.0.",
        ),
        (
            ["--refsampler-family-level=3"],
            "`--refsampler-family-level` must be in (0, 1); got 3.0.",
        ),
        (
            ["--refsampler-api=bogus"],
            "`--refsampler-api` must be one of batches, factory, weights, sampler; got 'bogus'.",
        ),
        (
            ["--refsampler-api=sampler", "--refsampler-world-size=1,,2"],
            "`--refsampler-world-size` must be comma-separated positive integers; got '1,,2'.",
        ),
        (
            ["--refsampler-api=sampler", "--refsampler-world-size=1,100000"],
            "`--refsampler-world-size` must not exceed 256 ranks; got '1,100000'.",
        ),
    ],
)
def test_bad_options_end_the_session_before_collection(
    options: list[str], message: str, pytester: pytest.Pytester
) -> None:
    """A bad kind, level, seed, timeout, family level or API is refused when pytest starts:
    one line naming the option and the value, exit status 4, nothing collected -- never a
    KeyError from parametrizing the check tests, nor a test failing inside verify."""
    pytester.makepyfile(test_checks=CHECK_TEST)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--refsampler-impl=refsampler.conformance.mutants:control",
        *options,
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == f"ERROR: refsampler: {message}"
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "collected" not in result.stdout.str()


def test_a_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """An ini key is checked like its option, and named by it."""
    pytester.makeini("[pytest]\nrefsampler_seed = 1.5\n")
    pytester.makepyfile(test_conformance=CONFORMANCE_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == (
        "ERROR: refsampler: `--refsampler-seed` must be a non-negative int; got '1.5'."
    )


@pytest.mark.parametrize(
    ("impl", "api", "protocol"),
    [
        ("refsampler.conformance.mutants:control", "sampler", "make_sampler"),
        ("refsampler.conformance.adapters:refsampler_sampler", "batches", "make_batches"),
    ],
)
def test_an_implementation_the_api_cannot_call_is_a_usage_error(
    impl: str, api: str, protocol: str, pytester: pytest.Pytester
) -> None:
    """A batches function checked as a sampler, or a sampler factory as a batches function:
    its signature cannot take the API's arguments, so the session ends (exit status 4) with
    the reason instead of reporting a contract violation."""
    pytester.makepyfile(test_conformance=CONFORMANCE_TEST)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", f"--refsampler-impl={impl}", f"--refsampler-api={api}"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str()
    assert f"refsampler: `--refsampler-impl` cannot be called as {protocol}(labels" in out
    assert f"got '{impl}'." in out
