"""Tests of refsampler.conformance.report: verdicts, exit codes, table, failures and JSON."""

from __future__ import annotations

import json

from refsampler.conformance import stats
from refsampler.conformance.report import ConfigRun, Report
from refsampler.conformance.results import CheckResult


def _run(kind: str, config: str, status: str = "ran", reason: str = "") -> ConfigRun:
    return ConfigRun(kind, config, [3, 1], 2, 1.0, [0.5, 0.5], 10, 123, status, reason)


def _report() -> Report:
    report = Report(
        "impl",
        ("fixed", "quota", "random"),
        "quick",
        0,
        stats.FAMILY_LEVEL,
        command="refsampler verify m:f --api batches",
    )
    report.runs = [
        _run("fixed", "c"),
        _run("quota", "c", "declined", "NotImplementedError: no quota"),
        _run("random", "c"),
        _run("random", "d", "declined", "NotImplementedError: alpha"),
    ]
    report.results = [
        CheckResult("batch_shape", "fixed", "c", "pass", exact=True, statistic=0.0, draws=8),
        CheckResult(
            "class_shares",
            "random",
            "c",
            "fail",
            exact=False,
            statistic=99.0,
            dof=1,
            pvalue=1e-12,
            level=1e-7,
            draws=100,
            detectable=0.05,
            detects="w",
            expected=[50.0, 50.0],
            observed=[80, 20],
            direction="class counts depart from the target",
            detail="omnibus chi-square of class counts against the target",
        ),
    ]
    return report


def test_verdicts_and_exit_code() -> None:
    """A failure makes its kind violate (exit 1); a kind with no run is not tested."""
    report = _report()
    assert [report.verdict(k) for k in report.kinds] == ["conforms", "not tested", "violates"]
    assert report.exit_code == 1 and not report.conforms
    report.results.pop()
    assert report.exit_code == 3 and not report.conforms
    report.kinds = ("fixed", "random")
    assert report.exit_code == 0 and report.conforms


def test_verdict_lines_list_declined_configurations_with_reasons() -> None:
    """One line per kind; declines and the not-tested kind say why."""
    assert _report().verdict_lines() == [
        "fixed: conforms (1 configuration, 1 check passed)",
        "quota: NOT TESTED: every configuration was declined: c (NotImplementedError: no quota)",
        "random: VIOLATES the contract: 1 check failed: class_shares (c)",
    ]


def test_failure_lines_show_expected_observed_direction_and_the_rerun_command() -> None:
    """A maintainer sees what was expected, what happened, which way, and how to re-run."""
    assert _report().failure_lines() == [
        "random/c/class_shares: class counts depart from the target",
        "    omnibus chi-square of class counts against the target",
        "    statistic 99 on 1 dof, p = 1.000e-12 <= threshold 1.00e-07",
        "    expected [50.0, 50.0]",
        "    observed [80, 20]",
        "re-run random/c alone: refsampler verify m:f --api batches --kind random --config c "
        "--seed 0 --level quick",
    ]


def test_table_shows_each_detectable_figure_in_its_own_unit() -> None:
    """Exact checks detect 'any' violation; a chi-square shows w; no figure is '-'."""
    lines = _report().table().splitlines()
    assert lines[0].split() == [
        "kind",
        "config",
        "check",
        "verdict",
        "statistic",
        "dof",
        "p",
        "level",
        "draws",
        "detects",
    ]
    assert lines[2].split() == [
        "fixed",
        "c",
        "batch_shape",
        "pass",
        "0",
        "-",
        "exact",
        "-",
        "8",
        "any",
    ]
    assert lines[3].split() == [
        "random",
        "c",
        "class_shares",
        "FAIL",
        "99",
        "1",
        "1.000e-12",
        "1.0e-07",
        "100",
        "w",
        "0.05",
    ]
    assert len(_report().table(failures_only=True).splitlines()) == 3


def test_json_has_every_configuration_with_its_checks() -> None:
    """Per configuration: counts, batch size, alpha, target, n_batches, seed, status, checks."""
    data = json.loads(_report().to_json())
    assert data["exit_code"] == 1 and data["verdicts"]["quota"] == "not tested"
    first = data["configurations"][0]
    assert {
        k: first[k]
        for k in ("class_counts", "batch_size", "alpha", "target", "n_batches", "seed", "status")
    } == {
        "class_counts": [3, 1],
        "batch_size": 2,
        "alpha": 1.0,
        "target": [0.5, 0.5],
        "n_batches": 10,
        "seed": 123,
        "status": "ran",
    }
    check = data["configurations"][2]["checks"][0]
    assert {
        k: check[k] for k in ("statistic", "dof", "pvalue", "level", "detectable", "detects")
    } == {
        "statistic": 99.0,
        "dof": 1,
        "pvalue": 1e-12,
        "level": 1e-7,
        "detectable": 0.05,
        "detects": "w",
    }
    assert data["configurations"][1]["reason"] == "NotImplementedError: no quota"
