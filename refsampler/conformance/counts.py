"""Checks of the per-batch class counts: the fixed-counts and the quota-counts properties."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .checks import exact, pending
from .results import CheckResult
from .sample import EPS, Sample, Setting

__all__ = [
    "fixed_checks",
    "plan_fixed",
    "plan_quota",
    "quota_checks",
    "tie_seeds",
    "ties_check",
]

IntMatrix = npt.NDArray[np.int64]


def _within_quota(setting: Setting, counts: IntMatrix) -> CheckResult:
    outside = (counts < setting.floors) | (counts > setting.ceils)
    detail = f"every count in floor/ceil of B*p = {np.round(setting.quotas, 3).tolist()}"
    if outside.any():
        k, c = np.argwhere(outside)[0]
        detail += f"; batch {k} has {counts[k, c]} of class {c}"
    return exact("counts_within_quota", setting, int(outside.sum()), int(counts.sum()), detail)


def plan_fixed(setting: Setting) -> list[tuple[str, bool]]:
    """Checks of the fixed-counts property: ``(name, exact)``."""
    names = [
        ("counts_within_quota", True),
        ("same_counts_every_batch", True),
        ("positive_classes_present", True),
        ("largest_remainder", True),
    ]
    if setting.ties[0].size:
        names.append(("ties_broken_at_random", False))
    return names


def fixed_checks(sample: Sample) -> list[CheckResult]:
    """Every batch has the same counts: the largest-remainder rounding of ``B p``.

    ``largest_remainder`` compares each batch with :func:`~refsampler.allocation.allocate`
    and allows a difference only among the classes tied at the cut (``Setting.ties``), as
    long as the tied group gets the same number of seats.
    """
    from ..allocation import allocate

    setting, counts = sample.setting, sample.counts
    target = setting.target
    n = counts.shape[0]
    draws = int(counts.sum())
    results = [_within_quota(setting, counts)]
    differing = int(np.count_nonzero(np.any(counts != counts[:1], axis=1))) if n else 0
    results.append(
        exact(
            "same_counts_every_batch",
            setting,
            differing,
            draws,
            f"{differing} batches differ from batch 0's counts {counts[0].tolist() if n else []}",
        )
    )
    missing = (counts == 0) & (target > 0)
    results.append(
        exact(
            "positive_classes_present",
            setting,
            int(missing.any(axis=1).sum()),
            draws,
            "every class with a positive target in every batch"
            + (f"; class {int(np.argwhere(missing)[0][1])} missing" if missing.any() else ""),
        )
    )
    expected = allocate(target, setting.config.batch_size)
    group, _ = setting.ties
    tied = np.zeros(target.size, dtype=bool)
    tied[group] = True
    off = (counts != expected) & ~tied
    group_seats = counts[:, tied].sum(axis=1) != expected[tied].sum()
    bad_rows = off.any(axis=1) | group_seats
    detail = "largest remainder: forced classes first, then the largest fractional parts"
    if group.size:
        detail += f" (classes {group.tolist()} are tied: any {int(expected[tied].sum())}"
        detail += " seats among them)"
    observed = counts[int(np.argmax(bad_rows))].tolist() if bad_rows.any() else None
    if bad_rows.any():
        detail += f"; batch {int(np.argmax(bad_rows))} has {observed}"
    results.append(
        exact(
            "largest_remainder",
            setting,
            int(bad_rows.sum()),
            draws,
            detail,
            expected=expected.tolist(),
            observed=observed,
        )
    )
    return results


def tie_seeds(setting: Setting, family_floor: float) -> int:
    """Runs (seeds) the tie check needs so that one tie-breaking for all of them is a finding.

    With ``C`` equally likely ways to break the tie, ``s`` seeds agree with probability
    ``C ** -(s - 1)``; ``s`` is the smallest count that puts that below a tenth of the
    smallest Holm threshold ``family_floor``.
    """
    group, winners = setting.ties
    if not group.size:
        return 0
    choices = math.comb(int(group.size), winners)
    return 1 + math.ceil(math.log(10.0 / family_floor) / math.log(choices))


def ties_check(sample: Sample) -> CheckResult:
    """Exact ties at the cut are broken at random: not the same way for every seed.

    The first batch's counts of the tied classes, under ``s`` seeds (the run's, the next
    seed's, and ``s - 2`` more): under a uniformly random tie-break each of the ``C`` choices
    has probability ``1 / C``, so all ``s`` agree with probability ``C ** -(s - 1)``. That is
    the p-value when they agree, and 1 otherwise.
    """
    setting = sample.setting
    group, winners = setting.ties
    rows = [sample.counts_of(sample.first[:1])[0], sample.counts_of(sample.other[:1])[0]]
    rows += list(sample.tie_rows)
    picks = [tuple(np.flatnonzero(row[group] > setting.floors[group]).tolist()) for row in rows]
    choices = math.comb(int(group.size), winners)
    same = len(set(picks)) == 1
    pvalue = float(choices) ** -(len(rows) - 1) if same else 1.0
    detail = (
        f"classes {group.tolist()} tie for {winners} seats ({choices} ways); "
        f"{len(set(picks))} distinct choices in {len(rows)} seeds"
    )
    return pending(
        "ties_broken_at_random",
        setting,
        pvalue,
        len(rows),
        detail,
        detects="",
        expected=f"{choices} equally likely choices",
        observed=[list(p) for p in sorted(set(picks))],
    )


def plan_quota(setting: Setting) -> list[tuple[str, bool]]:
    """Checks of the quota-counts property."""
    return [("counts_within_quota", True), ("prefix_error_below_1", True)]


def quota_checks(sample: Sample) -> list[CheckResult]:
    """Every count floor/ceil of ``B p_c``; every prefix within 1 of ``k B p_c``."""
    setting, counts = sample.setting, sample.counts
    n = counts.shape[0]
    error = np.cumsum(counts, axis=0) - np.arange(1, n + 1)[:, None] * setting.quotas
    worst = float(np.abs(error).max()) if error.size else 0.0
    drift = np.abs(error) >= 1 - EPS
    detail = f"max |cumulative - k*B*p| = {worst:.3f}"
    if drift.any():
        k, c = np.argwhere(drift)[0]
        detail += f"; class {c} after batch {k + 1}: off by {error[k, c]:+.3f}"
    return [
        _within_quota(setting, counts),
        exact("prefix_error_below_1", setting, int(drift.sum()), int(counts.sum()), detail),
    ]
