"""The checks every kind gets: the call ran, batch shapes, positions, inputs, determinism.

Every check returns :class:`~refsampler.conformance.results.CheckResult` records. Exact
checks (``exact=True``) count violations of a property that the contract promises for every
output, so they never raise a false alarm (``level = 0``). Statistical checks carry a p-value;
the runner (:func:`refsampler.conformance.verify`) decides them together with Holm's procedure
so the family-wise false-alarm rate of a whole run stays at most its ``family_level``. The
checks of each contract property live in their own module (:mod:`.counts`, :mod:`.cycles`,
:mod:`.order`, :mod:`.mixing`, :mod:`.iid`); :mod:`.properties` maps properties to them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import stats
from .results import CheckResult
from .sample import Sample, Setting

__all__ = [
    "BASE_CHECKS",
    "as_batch_array",
    "determinism_checks",
    "exact",
    "inputs_check",
    "pending",
    "range_check",
    "runs_check",
    "shape_check",
]

IntMatrix = npt.NDArray[np.int64]

#: The checks of every (kind, configuration), in report order.
BASE_CHECKS = (
    "runs",
    "batch_shape",
    "positions_in_range",
    "inputs_unchanged",
    "same_seed_same_batches",
    "other_seed_other_batches",
)


def exact(
    check: str,
    setting: Setting,
    violations: int,
    draws: int,
    detail: str,
    *,
    expected: Any = None,
    observed: Any = None,
) -> CheckResult:
    """The result of an exact check: pass iff there is no violation."""
    return CheckResult(
        check,
        setting.kind,
        setting.config.name,
        "pass" if violations == 0 else "fail",
        exact=True,
        statistic=float(violations),
        draws=int(draws),
        expected=expected,
        observed=observed,
        detail=detail,
    )


def pending(
    check: str,
    setting: Setting,
    outcome: stats.ChiSquare | stats.ZScore | float,
    draws: int,
    detail: str,
    *,
    detects: str = "w",
    words: tuple[str, str] = ("too spread", "too even"),
    expected: Any = None,
    observed: Any = None,
    lower_tail: bool = True,
) -> CheckResult:
    """A statistical result awaiting the runner's Holm decision.

    ``words`` name the high and the low tail for this check; ``detects`` the unit of its
    smallest detectable deviation (filled in by the runner, which knows the level).
    ``lower_tail=False`` marks a statistic whose upper tail already covers both directions
    (the detail then does not say the lower tail was left out).
    """
    statistic: float | None
    dof: int | None = None
    direction = ""
    if isinstance(outcome, stats.ChiSquare):
        statistic, pvalue, dof = outcome.statistic, outcome.pvalue, outcome.dof
        direction = outcome.direction
        expected = outcome.expected if expected is None else expected
        observed = outcome.observed if observed is None else observed
        if not outcome.two_sided and detects == "w" and lower_tail:
            detail += " (upper tail only: too few draws to judge too-even)"
    elif isinstance(outcome, stats.ZScore):
        statistic, pvalue = outcome.statistic, outcome.pvalue
        direction = outcome.direction
        expected = round(outcome.expected, 3) if expected is None else expected
        observed = outcome.observed if observed is None else observed
    else:
        statistic, pvalue = None, float(outcome)
    word = {"high": words[0], "low": words[1]}.get(direction, "")
    return CheckResult(
        check,
        setting.kind,
        setting.config.name,
        "pending",
        exact=False,
        statistic=statistic,
        dof=dof,
        pvalue=float(pvalue),
        draws=int(draws),
        detects=detects,
        expected=expected,
        observed=observed,
        direction=word,
        detail=detail,
    )


def as_batch_array(batches: Any, batch_size: int) -> tuple[IntMatrix | None, list[int], str]:
    """Materialise an implementation's batches.

    Returns
    -------
    array : numpy.ndarray of int64, shape (n, batch_size), or None
        None when the batches are ragged, have the wrong size, or are not integers.
    sizes : list of int
        The length of every batch.
    problem : str
        Why ``array`` is None ("" otherwise).
    """
    try:
        rows = [np.asarray(b).reshape(-1) for b in batches]
    except (TypeError, ValueError) as exc:
        return None, [], f"batches are not sequences of positions ({exc})"
    sizes = [int(r.size) for r in rows]
    if not rows:
        return np.zeros((0, batch_size), dtype=np.int64), sizes, ""
    if any(s != batch_size for s in sizes):
        return None, sizes, "batches of the wrong size"
    array = np.stack(rows)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.floating) and np.array_equal(array, np.round(array)):
            return array.astype(np.int64), sizes, ""
        return None, sizes, f"positions of dtype {array.dtype}, not integers"
    return array.astype(np.int64), sizes, ""


def runs_check(setting: Setting, problem: str) -> CheckResult:
    """The implementation returned batches (no exception, no timeout)."""
    detail = problem or "returned without an exception"
    return exact("runs", setting, int(bool(problem)), 0, detail)


def shape_check(setting: Setting, sizes: list[int], n_batches: int, problem: str) -> CheckResult:
    """Exactly ``n_batches`` batches of exactly ``batch_size`` integer positions."""
    batch = setting.config.batch_size
    bad_sizes = [i for i, s in enumerate(sizes) if s != batch]
    violations = abs(len(sizes) - n_batches) + len(bad_sizes)
    if problem and not bad_sizes:
        violations += 1
    detail = f"{len(sizes)} batches (want {n_batches}) of {batch}"
    if bad_sizes:
        detail += f"; batch {bad_sizes[0]} has {sizes[bad_sizes[0]]} positions"
    if problem:
        detail += f"; {problem}"
    return exact(
        "batch_shape",
        setting,
        violations,
        sum(sizes),
        detail,
        expected=[n_batches, batch],
        observed=[len(sizes), sizes[bad_sizes[0]] if bad_sizes else batch],
    )


def range_check(setting: Setting, batches: IntMatrix, size: int) -> CheckResult:
    """Every position is in ``0 .. N-1``."""
    bad = (batches < 0) | (batches >= size)
    detail = f"positions in 0..{size - 1}"
    if bad.any():
        detail += f"; got {int(batches[bad][0])}"
    return exact("positions_in_range", setting, int(bad.sum()), batches.size, detail)


def inputs_check(setting: Setting, problems: list[str], draws: int) -> CheckResult:
    """The caller's inputs (labels, or the factory's class lists) are unchanged, both after
    the implementation was built and after its batches were read."""
    detail = "; ".join(problems) if problems else "labels (and class lists) left as they were"
    return exact("inputs_unchanged", setting, len(problems), draws, detail)


def determinism_checks(sample: Sample) -> list[CheckResult]:
    """The same seed gives the same batches; a different seed gives different batches."""
    setting, first, again, other = sample.setting, sample.first, sample.again, sample.other
    same = int(np.count_nonzero(first != again)) if first.shape == again.shape else first.size
    differ = first.shape == other.shape and bool(np.array_equal(first, other))
    return [
        exact(
            "same_seed_same_batches",
            setting,
            same,
            first.size,
            f"{same} positions differ between two runs with one seed",
        ),
        exact(
            "other_seed_other_batches",
            setting,
            int(differ),
            first.size,
            "seed s and s + 1 give " + ("identical" if differ else "different") + " batches",
        ),
    ]
