"""Statistical tests on sampler output, built on :mod:`scipy.stats`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = [
    "FAMILY_LEVEL",
    "ChiSquare",
    "chisquare_shares",
    "detectable_shift",
    "min_num_draws",
    "pool_cells",
]

#: Family-wise false-failure budget of one full test run or one ``verify`` run (DESIGN 5).
FAMILY_LEVEL = 1e-6

#: Pearson's approximation is trusted when every expected count is at least this.
MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class ChiSquare:
    """Result of a goodness-of-fit test: statistic, p-value, degrees of freedom, draws."""

    statistic: float
    pvalue: float
    dof: int
    draws: int


def pool_cells(
    observed: npt.NDArray[np.int64], expected: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Merge cells, smallest expectation first, until every expected count is >= 5.

    Cells with zero expectation are dropped only when nothing was observed in them; an
    observation in a zero-probability cell is returned as its own cell, so the caller sees
    an infinite statistic instead of a hidden violation.
    """
    observed = np.asarray(observed, dtype=np.int64)
    expected = np.asarray(expected, dtype=np.float64)
    impossible = (expected == 0) & (observed > 0)
    keep = expected > 0
    obs, exp = observed[keep], expected[keep]
    order = np.argsort(exp, kind="stable")
    obs, exp = obs[order], exp[order]
    # Merge the smallest cells into one pool until the pool itself reaches MIN_EXPECTED.
    cut = int(np.searchsorted(np.cumsum(exp), MIN_EXPECTED, side="left")) + 1
    if exp.size and exp[0] < MIN_EXPECTED and cut < exp.size:
        obs = np.concatenate([[obs[:cut].sum()], obs[cut:]])
        exp = np.concatenate([[exp[:cut].sum()], exp[cut:]])
    elif exp.size and exp[0] < MIN_EXPECTED:
        obs, exp = np.array([obs.sum()]), np.array([exp.sum()])
    if impossible.any():
        obs = np.concatenate([obs, observed[impossible]])
        exp = np.concatenate([exp, np.zeros(int(impossible.sum()))])
    return obs, exp


def chisquare_shares(observed_counts: Any, target: Any) -> ChiSquare:
    """Pearson chi-square test that class counts were drawn i.i.d. from ``target``.

    Parameters
    ----------
    observed_counts : array_like of int, shape (K,)
        Draws per class (counts, never proportions).
    target : array_like of float, shape (K,)
        Class probabilities.

    Returns
    -------
    ChiSquare
        With ``pvalue == 0`` when a zero-probability class was observed.
    """
    observed = np.asarray(observed_counts, dtype=np.int64)
    draws = int(observed.sum())
    obs, exp = pool_cells(observed, draws * np.asarray(target, dtype=np.float64))
    if np.any((exp == 0) & (obs > 0)):
        return ChiSquare(float("inf"), 0.0, int(obs.size) - 1, draws)
    if obs.size < 2:
        return ChiSquare(0.0, 1.0, 0, draws)
    # Rescale the expectation so both sums agree exactly, as scipy requires (1e-12 drift).
    exp = exp * (obs.sum() / exp.sum())
    result = stats.chisquare(obs, exp)
    return ChiSquare(float(result.statistic), float(result.pvalue), int(obs.size) - 1, draws)


def min_num_draws(
    *, shift: float = 0.01, level: float = 1e-8, power: float = 0.999, share: float = 0.5
) -> int:
    """Draws needed for a two-sided test of one class share to detect ``shift``.

    Parameters
    ----------
    shift : float
        Smallest absolute change of a class share to detect (0.01 is one percentage point).
    level : float
        False-failure rate of the test (after any Holm / Bonferroni split).
    power : float
        Probability of detecting a shift of ``shift``.
    share : float
        The class share under test; 0.5 maximises the variance and is the worst case.

    Returns
    -------
    int

    Notes
    -----
    Normal approximation to the binomial test of ``H0: p = share`` against
    ``p = share + shift``:

    .. math::
        n = \\left(\\frac{z_{1-\\alpha/2}\\sqrt{p_0(1-p_0)} +
        z_{\\pi}\\sqrt{p_1(1-p_1)}}{\\delta}\\right)^2

    with ``p1`` the one of ``share +- shift`` with the larger variance. At the defaults
    (alpha = 1e-8, power 0.999, a 1-point shift) this is about 194,000 draws; DESIGN's 2**19
    leaves room for the per-class Holm split over up to ~50 classes.

    Examples
    --------
    >>> from refsampler.conformance.stats import min_num_draws
    >>> min_num_draws()
    194497
    """
    for name, value in (("shift", shift), ("level", level), ("power", power), ("share", share)):
        if not 0.0 < float(value) < 1.0:
            from .._validate import fail

            raise fail(name, "must be in (0, 1)", value)
    # The alternative closer to 1/2 has the larger variance: the worse case.
    up, down = share + shift, share - shift
    alternative = min(max(up if abs(up - 0.5) < abs(down - 0.5) else down, 0.0), 1.0)
    z_level = stats.norm.isf(level / 2)
    z_power = stats.norm.ppf(power)
    spread = z_level * np.sqrt(share * (1 - share)) + z_power * np.sqrt(
        alternative * (1 - alternative)
    )
    return int(np.ceil((spread / shift) ** 2))


def detectable_shift(
    draws: int, *, level: float = 1e-8, power: float = 0.999, share: float = 0.5
) -> float:
    """Smallest shift of a class share that ``draws`` draws detect (inverse of min_num_draws).

    Uses the null variance on both sides, a slight overstatement for shares away from 0.5.
    """
    z = stats.norm.isf(level / 2) + stats.norm.ppf(power)
    return float(z * np.sqrt(share * (1 - share) / draws))
