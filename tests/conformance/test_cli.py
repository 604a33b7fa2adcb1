"""Tests of refsampler.conformance.cli: `refsampler verify` output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from refsampler.cli import main
from refsampler.conformance.mutants import MUTANTS

CONTROL = "refsampler.conformance.mutants:control"


def test_conforming_implementation_exits_0_with_table_and_verdicts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A correct sampler exits 0; stdout has the table and one verdict line per kind."""
    assert main(["verify", CONTROL, "--kind", "fixed"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[1].split()[:4] == ["kind", "config", "check", "verdict"]
    assert lines[-1].startswith("fixed: conforms (") and "failures:" not in out
    assert "fixed  long-tail" in err  # progress goes to stderr


#: The kind whose checks a mutant breaks (one kind per CLI run keeps the suite fast;
#: tests/conformance/test_mutants.py checks every mutant on all kinds through verify()).
BROKEN_KIND = {
    "biased_target": "random",
    "nonuniform_members": "random",
    "serial_repeat": "random",
    "quota_drift": "quota",
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_every_mutant_exits_1(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every deliberately broken sampler is rejected by the CLI at level quick."""
    spec = f"refsampler.conformance.mutants:{name}"
    kind = BROKEN_KIND.get(name, "fixed")
    assert main(["verify", spec, "--kind", kind, "--failures-only"]) == 1
    out = capsys.readouterr().out
    assert "VIOLATES the contract" in out and "\nfailures:\n" in out


def test_json_report_is_written(tmp_path: Path) -> None:
    """--json writes the report; its verdicts match the exit code."""
    path = tmp_path / "report.json"
    code = main(
        [
            "verify",
            "refsampler.conformance.mutants:one_based",
            "--kind",
            "quota",
            "--json",
            str(path),
        ]
    )
    data = json.loads(path.read_text())
    assert (code, data["conforms"], data["verdicts"]) == (1, False, {"quota": "violates"})
    assert data["implementation"] == "refsampler.conformance.mutants:one_based (api=batches)"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "`impl` must look like MODULE:CALLABLE; got 'no_colon'."),
        (
            "refsampler.nowhere:f",
            "`impl` could not be imported (No module named 'refsampler.nowhere'); "
            "got 'refsampler.nowhere:f'.",
        ),
        ("refsampler:__version__", "`impl` must name a callable; got 'refsampler:__version__'."),
    ],
)
def test_import_errors_exit_2(spec: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed, missing or non-callable MODULE:CALLABLE is a usage error (exit 2)."""
    assert main(["verify", spec]) == 2
    assert capsys.readouterr().err == f"refsampler verify: error: {message}\n"


def test_bad_flag_exits_2() -> None:
    """argparse rejects an unknown kind with exit code 2."""
    with pytest.raises(SystemExit) as exc:
        main(["verify", CONTROL, "--kind", "sorted"])
    assert exc.value.code == 2


def test_weights_api_skips_fixed_and_quota(capsys: pytest.CaptureFixture[str]) -> None:
    """--api weights checks the random kind and reports the others as skipped."""
    code = main(["verify", "refsampler.weights:sample_weights", "--api", "weights"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[-3].startswith("fixed: skipped (NotImplementedError: per-sample weights")
    assert lines[-1].startswith("random: conforms")


def test_console_script_runs_in_a_fresh_process() -> None:
    """`python -m refsampler verify` exits with the verdict's code."""
    command = [sys.executable, "-m", "refsampler", "verify", CONTROL, "--kind", "quota"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("quota: conforms")


@pytest.mark.slow
def test_full_run_of_refsampler_exits_0() -> None:
    """The acceptance run: refsampler's adapter, every kind, level full, exits 0."""
    command = [
        sys.executable,
        "-m",
        "refsampler",
        "verify",
        "refsampler.conformance.adapters:refsampler",
        "--kind",
        "all",
        "--level",
        "full",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
