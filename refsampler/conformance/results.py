"""The record of one check on one (kind, configuration): :class:`CheckResult`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["VERDICTS", "CheckResult"]

#: ``pending`` is a statistical check before the runner's Holm step.
VERDICTS = ("pass", "fail", "pending")


@dataclass
class CheckResult:
    """The outcome of one check on one (kind, configuration).

    Attributes
    ----------
    check : str
        Name of the check (``"class_share[3]"`` for class 3).
    kind, config : str
    verdict : {"pass", "fail", "pending"}
        ``pending`` is a statistical check before the runner's Holm step.
    exact : bool
        True for checks of a property that holds for every correct output (they never raise
        a false alarm); False for statistical checks, which carry a p-value.
    statistic : float or None
        The test statistic (the number of violations for an exact check).
    dof : int or None
        Degrees of freedom of a chi-square statistic.
    pvalue : float or None
        None for exact checks.
    level : float
        The (Holm-adjusted) threshold the p-value was compared with; 0 for exact checks.
    draws : int
        Positions (or pairs, or batches) the check looked at.
    detectable : float or None
        Smallest deviation the check detects with power 0.999 at its level, in the unit
        named by ``detects``; None where no such figure applies (exact checks detect any
        single violation).
    detects : str
        The unit of ``detectable``: ``"share"`` (an absolute shift of a class share), ``"w"``
        (Cohen's effect size of a chi-square test), ``"pairs/batch"`` (same-class neighbours
        per batch), or ``""``.
    expected, observed : object
        What the contract predicts and what the implementation did (numbers or lists).
    direction : str
        For a failed two-sided test, which way it failed (``"too even"``, ``"too spread"``,
        ...); ``""`` otherwise.
    detail : str
        Human-readable explanation; for a failure, the first offending example.
    """

    check: str
    kind: str
    config: str
    verdict: str
    exact: bool
    statistic: float | None = None
    dof: int | None = None
    pvalue: float | None = None
    level: float = 0.0
    draws: int = 0
    detectable: float | None = None
    detects: str = ""
    expected: Any = None
    observed: Any = None
    direction: str = ""
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (infinite numbers become ``"inf"``, arrays lists)."""
        return {key: _plain(value) for key, value in asdict(self).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
