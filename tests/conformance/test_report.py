"""Tests of refsampler.conformance.report: verdicts, table and JSON."""

from __future__ import annotations

import json

from refsampler.conformance import stats
from refsampler.conformance.checks import CheckResult
from refsampler.conformance.report import Report


def _report() -> Report:
    report = Report("impl", ("fixed", "quota", "random"), "quick", 0, stats.FAMILY_LEVEL)
    report.results = [
        CheckResult("batch_shape", "fixed", "c", "pass", exact=True, statistic=0.0, draws=8),
        CheckResult(
            "class_shares",
            "random",
            "c",
            "fail",
            exact=False,
            statistic=99.0,
            pvalue=1e-12,
            level=1e-7,
            draws=100,
            detectable=0.05,
        ),
    ]
    report.skipped = {"quota": "NotImplementedError"}
    return report


def test_verdicts_per_kind() -> None:
    """A failed check makes its kind violate; a declined kind is skipped."""
    report = _report()
    assert [report.verdict(k) for k in report.kinds] == ["conforms", "skipped", "violates"]
    assert not report.conforms and [r.check for r in report.failures] == ["class_shares"]


def test_verdict_lines_have_one_line_per_kind() -> None:
    """One readable line per kind, naming failed checks."""
    assert _report().verdict_lines() == [
        "fixed: conforms (1 checks passed)",
        "quota: skipped (NotImplementedError)",
        "random: VIOLATES the contract: 1 checks failed: class_shares (c)",
    ]


def test_table_shows_exact_and_statistical_rows() -> None:
    """Exact checks show 'exact' and 'any'; statistical ones their p, level and shift."""
    lines = _report().table().splitlines()
    assert lines[0].split() == [
        "kind",
        "config",
        "check",
        "verdict",
        "statistic",
        "p",
        "level",
        "draws",
        "detects",
    ]
    assert lines[2].split() == ["fixed", "c", "batch_shape", "pass", "0", "exact", "-", "8", "any"]
    assert lines[3].split() == [
        "random",
        "c",
        "class_shares",
        "FAIL",
        "99",
        "1.000e-12",
        "1.0e-07",
        "100",
        "0.05",
    ]
    assert len(_report().table(failures_only=True).splitlines()) == 3


def test_to_json_is_valid_json_with_the_summary() -> None:
    """to_json() parses back, with per-kind verdicts and every result."""
    data = json.loads(_report().to_json())
    assert data["verdicts"] == {"fixed": "conforms", "quota": "skipped", "random": "violates"}
    assert data["family_level"] == 1e-6 and len(data["results"]) == 2
