"""Checks of the pk-shape and appearance-bound properties: P classes x m members per batch.

Both checks are exact: a correct P x m sampler satisfies them for every output, so they never
raise a false alarm, and a single offending batch fails them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .checks import exact
from .counts import seed_batches, seed_runs
from .results import CheckResult
from .sample import EPS, Sample, Setting

__all__ = [
    "appearance_checks",
    "appearance_errors",
    "pk_shape_checks",
    "plan_appearances",
    "plan_pk_shape",
    "shape_violations",
]

IntMatrix = npt.NDArray[np.int64]
FloatMatrix = npt.NDArray[np.float64]


def plan_pk_shape(setting: Setting) -> list[tuple[str, bool]]:
    """Checks of the pk-shape property."""
    return [("pk_shape", True)]


def shape_violations(
    setting: Setting,
    batches: IntMatrix,
    classes: IntMatrix,
    counts: IntMatrix,
    where: str = "batch",
) -> tuple[int, str]:
    """Batches that are not P distinct classes x m distinct members, and the first example.

    Parameters
    ----------
    setting : Setting
    batches, classes : numpy.ndarray of int64, shape (n, B)
        Positions and their classes.
    counts : numpy.ndarray of int64, shape (n, K)
        Class counts of every batch.
    where : str, default "batch"
        How the example names a batch, before its number (``"seed s + 1 batch"``).
    """
    m, p_count = setting.unit, setting.seats
    n = counts.shape[0]
    present = counts > 0
    wrong_count = (present & (counts != m)).any(axis=1)
    wrong_classes = present.sum(axis=1) != p_count
    order = np.lexsort((batches, classes), axis=1) if n else np.zeros((0, 0), np.int64)
    rows = np.arange(n)[:, None]
    pos, cls = batches[rows, order], classes[rows, order]
    repeats = ((pos[:, 1:] == pos[:, :-1]) & (cls[:, 1:] == cls[:, :-1])).any(axis=1)
    bad = wrong_count | wrong_classes | repeats
    detail = ""
    if bad.any():
        k = int(np.argmax(bad))
        shown = {int(c): int(counts[k, c]) for c in np.flatnonzero(present[k])}
        if wrong_classes[k] or wrong_count[k]:
            detail = f"; {where} {k} has class counts {shown}"
        else:
            detail = f"; {where} {k} repeats a member of a class"
    return int(bad.sum()), detail


def pk_shape_checks(sample: Sample) -> list[CheckResult]:
    """Every batch holds exactly P distinct classes with exactly m distinct members each, in
    the main run and in the other seeds' short runs (:func:`~.counts.seed_batches`)."""
    setting = sample.setting
    bad, detail, draws = 0, "", 0
    for (name, batches), (_, counts) in zip(seed_batches(sample), seed_runs(sample), strict=True):
        found, example = shape_violations(
            setting, batches, sample.labels[batches], counts, f"{name} batch"
        )
        if found and not detail:
            detail = example
        bad += found
        draws += int(batches.size)
    return [
        exact(
            "pk_shape",
            setting,
            bad,
            draws,
            f"every batch: P = {setting.seats} distinct classes x m = {setting.unit} distinct "
            f"members (every seed's run)" + detail,
            expected=[setting.seats, setting.unit],
        )
    ]


def plan_appearances(setting: Setting) -> list[tuple[str, bool]]:
    """Checks of the appearance-bound property."""
    return [("appearance_prefix_below_1", True)]


def appearance_errors(counts: IntMatrix, rates: FloatMatrix) -> FloatMatrix:
    """``appearances after batch k - sum of the rates up to k``, shape (n, K).

    ``rates`` holds each batch's expected appearances ``P p_c`` (rows may differ when the
    target moves with the epoch).
    """
    present = (counts > 0).astype(np.float64)
    return np.cumsum(present, axis=0) - np.cumsum(rates, axis=0)


def appearance_checks(sample: Sample) -> list[CheckResult]:
    """After every batch each class's appearances are within 1 of ``k P p_c``, in the main
    run and in the other seeds' short runs (each from its own start)."""
    setting = sample.setting
    violations, draws, worst, detail = 0, 0, 0.0, ""
    for name, counts in seed_runs(sample):
        rates = np.broadcast_to(setting.seat_quotas, counts.shape)
        error = appearance_errors(counts, rates)
        drift = np.abs(error) >= 1 - EPS
        worst = max(worst, float(np.abs(error).max()) if error.size else 0.0)
        if drift.any() and not detail:
            k, c = np.argwhere(drift)[0]
            detail = f"; class {c} after {k + 1} batches of {name}: off by {error[k, c]:+.3f}"
        violations += int(drift.sum())
        draws += int(counts.sum())
    return [
        exact(
            "appearance_prefix_below_1",
            setting,
            violations,
            draws,
            f"max |appearances - k*P*p| = {worst:.3f} (every seed's run)" + detail,
        )
    ]
