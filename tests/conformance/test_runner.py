"""Tests of refsampler.conformance.runner: verify, its sample sizes and its Holm family."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from refsampler import InvalidArgumentError
from refsampler.conformance import adapters, mutants, runner, stats, verify
from refsampler.conformance.checks import CONFIGS


def test_planned_assertions_counts_every_statistical_check() -> None:
    """The planned family size equals the number of p-values a run produces."""
    report = verify(mutants.control, kinds=["fixed", "random"], level="quick", seed=1)
    assert report.n_statistical == runner.planned_assertions(["fixed", "random"])
    assert sum(not r.exact for r in report.results) == report.n_statistical


def test_full_level_random_draws_reach_the_promised_power() -> None:
    """At level full every random configuration has >= draws_for_family(m) draws.

    That is the Bonferroni floor of Holm, so each per-class binomial test detects a 1-point
    shift of any share with power >= 0.999 (docs of runner).
    """
    m = runner.planned_assertions(["fixed", "quota", "random"])
    needed = stats.draws_for_family(m)
    assert runner._draws("random", "full", m) == needed
    assert stats.detectable_shift(needed, level=stats.FAMILY_LEVEL / m) <= 0.0101


def test_verify_quick_accepts_refsampler_with_all_levels_recorded(stat_seed: int) -> None:
    """refsampler's own adapter conforms in every kind (false-failure rate 1e-6: one run).

    Every statistical check records its Holm level, at least FAMILY_LEVEL / m.
    """
    report = verify(adapters.refsampler, level="quick", seed=stat_seed)
    assert report.conforms, report.table(failures_only=True)
    assert {report.verdict(k) for k in ("fixed", "quota", "random")} == {"conforms"}
    floor = stats.FAMILY_LEVEL / report.n_statistical
    levels = [r.level for r in report.results if not r.exact]
    assert min(levels) == pytest.approx(floor) and max(levels) <= stats.FAMILY_LEVEL
    assert all(r.detectable is not None and r.draws > 0 for r in report.results)


def test_verify_report_is_json_serialisable() -> None:
    """The report round-trips through json with its verdicts."""
    report = verify(mutants.one_based, kinds=["fixed"], level="quick")
    data = json.loads(report.to_json())
    assert data["conforms"] is False and data["verdicts"] == {"fixed": "violates"}
    assert {r["check"] for r in data["results"] if r["verdict"] == "fail"} == {"positions_in_range"}


def _random_only(labels, *, kind, alpha, batch_size, n_batches, seed):
    if kind != "random":
        raise NotImplementedError("random only")
    return mutants.control(
        labels, kind=kind, alpha=alpha, batch_size=batch_size, n_batches=n_batches, seed=seed
    )


def test_verify_skips_kinds_that_raise_not_implemented() -> None:
    """NotImplementedError is a skip, not a failure."""
    report = verify(_random_only, kinds=["fixed", "random"], level="quick")
    assert report.conforms
    assert report.skipped == {"fixed": "NotImplementedError: random only"}
    assert (report.verdict("fixed"), report.verdict("random")) == ("skipped", "conforms")


def _crashes(labels, **kwargs):
    raise RuntimeError("boom")


def test_verify_reports_an_exception_as_a_failed_run() -> None:
    """Any other exception fails the `runs` check of every configuration."""
    report = verify(_crashes, kinds=["quota"])
    assert not report.conforms
    assert {r.check for r in report.failures} == {"runs"}
    assert report.failures[0].detail == "raised RuntimeError: boom"
    assert len(report.failures) == sum("quota" in c.kinds for c in CONFIGS)


def test_verify_passes_its_own_copy_of_the_labels() -> None:
    """Labels reach the adapter as a 1-D int64 array with classes 0..K-1, all non-empty."""
    seen = []

    def spy(labels, **kwargs):
        seen.append(labels)
        return mutants.control(labels, **kwargs)

    verify(spy, kinds=["fixed"], configs=CONFIGS[:1])
    assert all(a.dtype == np.int64 and a.ndim == 1 for a in seen)
    assert all(np.bincount(a).min() > 0 for a in seen)


def test_verify_seeds_differ_between_configurations() -> None:
    """Every (configuration, kind) gets its own derived seed."""
    seeds = {runner._run_seed(0, i, k) for i in range(len(CONFIGS)) for k in ("fixed", "random")}
    assert len(seeds) == 2 * len(CONFIGS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"kinds": ["sorted"]},
            '`kinds` must hold only "fixed", "quota", "random"; got (\'sorted\',).',
        ),
        ({"kinds": []}, "`kinds` must not be empty; got ()."),
        ({"level": "slow"}, '`level` must be "quick" or "full"; got \'slow\'.'),
        ({"seed": -1}, "`seed` must be >= 0; got -1."),
    ],
)
def test_verify_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    """Unknown kinds or levels and negative seeds raise InvalidArgumentError."""
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        verify(mutants.control, **kwargs)


def test_verify_reports_progress() -> None:
    """progress is called once per (kind, configuration)."""
    messages: list[str] = []
    verify(mutants.control, kinds=["fixed"], progress=messages.append)
    assert len(messages) == sum("fixed" in c.kinds for c in CONFIGS)
    assert messages[0].startswith("fixed  long-tail")
