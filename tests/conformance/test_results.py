"""Tests of refsampler.conformance.results: the check record and its JSON form."""

from __future__ import annotations

import json

import numpy as np

from refsampler.conformance.results import VERDICTS, CheckResult


def test_to_dict_spells_infinity_and_flattens_arrays() -> None:
    """An infinite statistic becomes "inf"; numpy values become plain JSON values."""
    result = CheckResult(
        "class_shares",
        "random",
        "c",
        "fail",
        exact=False,
        statistic=float("inf"),
        expected=np.array([1.5, 2.5]),
        observed=[np.int64(1), np.float64(3.0)],
    )
    data = result.to_dict()
    assert data["statistic"] == "inf"
    assert data["expected"] == [1.5, 2.5] and data["observed"] == [1, 3.0]
    json.dumps(data, allow_nan=False)


def test_verdicts_are_pass_fail_pending() -> None:
    """The runner turns every pending verdict into pass or fail."""
    assert VERDICTS == ("pass", "fail", "pending")
