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
    "binomial_share",
    "chisquare_shares",
    "detectable_shift",
    "draws_for_family",
    "exchangeability",
    "holm",
    "independence",
    "min_num_draws",
    "per_batch_dispersion",
    "pool_cells",
    "within_group_uniformity",
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


def draws_for_family(
    n_assertions: int,
    *,
    shift: float = 0.01,
    power: float = 0.999,
    family_level: float = FAMILY_LEVEL,
) -> int:
    """Draws that give every one of ``n_assertions`` Holm-corrected tests the promised power.

    Parameters
    ----------
    n_assertions : int
        Number of statistical assertions that share the family-wise budget.
    shift, power : float
        Smallest shift of a class share to detect, and the probability of detecting it.
    family_level : float
        Family-wise false-alarm rate (:data:`FAMILY_LEVEL`).

    Returns
    -------
    int

    Notes
    -----
    Holm's step-down procedure compares the ``i``-th smallest of ``m`` p-values with
    ``family_level / (m - i + 1)``, never with less than ``family_level / m``. A test that
    reaches the power at the Bonferroni level ``family_level / m`` therefore reaches it inside
    Holm too, so this is :func:`min_num_draws` at ``level = family_level / m`` and the worst
    case share 1/2.

    Examples
    --------
    >>> from refsampler.conformance.stats import draws_for_family
    >>> draws_for_family(100)
    194497
    """
    from .._validate import positive_int

    m = positive_int("n_assertions", n_assertions)
    return min_num_draws(shift=shift, level=family_level / m, power=power)


def holm(pvalues: Any, family_level: float = FAMILY_LEVEL) -> tuple[Any, Any]:
    """Holm's step-down procedure: which hypotheses to reject, and each test's level.

    Parameters
    ----------
    pvalues : array_like of float, shape (m,)
    family_level : float
        Family-wise error rate.

    Returns
    -------
    rejected : numpy.ndarray of bool, shape (m,)
    levels : numpy.ndarray of float, shape (m,)
        The level each p-value was (or, after the first acceptance, would have been) compared
        with: ``family_level / (m - rank)`` for its 0-based rank among the sorted p-values.

    References
    ----------
    .. [1] S. Holm, "A simple sequentially rejective multiple test procedure",
       Scandinavian Journal of Statistics 6(2), 1979.

    Examples
    --------
    >>> from refsampler.conformance.stats import holm
    >>> rejected, levels = holm([1e-9, 0.5, 3e-7], 1e-6)
    >>> rejected.tolist(), levels.tolist()
    ([True, False, True], [3.333333333333333e-07, 1e-06, 5e-07])
    """
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    order = np.argsort(p, kind="stable")
    sorted_levels = family_level / (m - np.arange(m))
    passes = p[order] <= sorted_levels
    # Step down: reject up to (not including) the first sorted p-value that misses its level.
    stop = int(np.argmin(passes)) if not passes.all() else m
    rejected = np.zeros(m, dtype=bool)
    rejected[order[:stop]] = True
    levels = np.empty(m)
    levels[order] = sorted_levels
    return rejected, levels


def binomial_share(count: int, draws: int, share: float) -> float:
    """Two-sided exact binomial p-value of ``count`` hits in ``draws`` at probability ``share``.

    Examples
    --------
    >>> from refsampler.conformance.stats import binomial_share
    >>> round(binomial_share(50, 100, 0.5), 6)
    1.0
    """
    if share <= 0.0:
        return 1.0 if count == 0 else 0.0
    if share >= 1.0:
        return 1.0 if count == draws else 0.0
    return float(stats.binomtest(int(count), int(draws), float(share)).pvalue)


def per_batch_dispersion(per_batch_counts: Any, batch_size: int, share: float) -> ChiSquare:
    """Do one class's per-batch counts follow ``Binomial(batch_size, share)``?

    The histogram of the counts over batches is tested against the binomial pmf
    (:func:`chisquare_shares`, cells pooled to expected counts >= 5). Too little spread (the
    batches are stratified) and too much (batches cluster on a class) both fail.
    """
    counts = np.asarray(per_batch_counts, dtype=np.int64)
    histogram = np.bincount(np.clip(counts, 0, batch_size + 1), minlength=batch_size + 2)
    pmf = np.append(stats.binom.pmf(np.arange(batch_size + 1), batch_size, share), 0.0)
    return chisquare_shares(histogram, pmf / pmf.sum())


def independence(table: Any) -> ChiSquare:
    """Chi-square test of independence of the rows and columns of a contingency table.

    Columns are pooled, smallest total first, until every expected count is >= 5; a table
    that pools to one column or one row carries no evidence (p = 1).
    """
    counts = np.asarray(table, dtype=np.int64)
    counts = counts[counts.sum(axis=1) > 0]
    columns = counts.sum(axis=0)
    counts, columns = counts[:, columns > 0], columns[columns > 0]
    total = int(counts.sum())
    if counts.shape[0] < 2 or counts.shape[1] < 2:
        return ChiSquare(0.0, 1.0, 0, total)
    smallest_row = counts.sum(axis=1).min()
    order = np.argsort(columns, kind="stable")
    counts, columns = counts[:, order], columns[order]
    # A column pooled from the smallest ones until its expectation in the smallest row >= 5.
    need = MIN_EXPECTED * total / smallest_row
    cut = int(np.searchsorted(np.cumsum(columns), need, side="left")) + 1
    if columns[0] < need:
        cut = min(cut, counts.shape[1])
        counts = np.column_stack([counts[:, :cut].sum(axis=1), counts[:, cut:]])
    if counts.shape[1] < 2:
        return ChiSquare(0.0, 1.0, 0, total)
    result = stats.chi2_contingency(counts, correction=False)
    return ChiSquare(float(result.statistic), float(result.pvalue), int(result.dof), total)


def exchangeability(slot_class_table: Any, per_batch_counts: Any) -> ChiSquare:
    """Are the slots of a batch independent of the classes in them, given each batch's counts?

    Parameters
    ----------
    slot_class_table : array_like of int, shape (B, K)
        Draws of class ``c`` at slot ``j`` of a batch, summed over batches.
    per_batch_counts : array_like of int, shape (n, K)
        Class counts of every batch.

    Returns
    -------
    ChiSquare
        The Pearson statistic of the table, rescaled to its mean under a uniform within-batch
        shuffle, on ``(B - 1)(K' - 1)`` degrees of freedom (``K'`` classes after pooling).

    Notes
    -----
    Given the batches' counts ``a_kc``, a uniform shuffle makes each batch's (slot, class) table
    hypergeometric with ``B`` items, whose covariance is ``B / (B - 1)`` times the multinomial
    one. The sum over batches therefore has Pearson statistic ``X^2`` with conditional mean

    .. math:: \\mu = \\sum_c B \\left(1 - \\frac{\\sum_k a_{kc}^2}{B T_c}\\right),
              \\quad T_c = \\sum_k a_{kc},

    which is ``(B - 1)(K - 1)`` for i.i.d. draws but ``B (K - 1)`` when every batch has the same
    counts (the fixed kind). The plain contingency test would raise false alarms at rate far
    above its level there; ``X^2 (B - 1)(K - 1) / \\mu`` matches the chi-square mean in every
    kind (exactly in the fixed kind).
    """
    table = np.asarray(slot_class_table, dtype=np.int64)
    rows = np.asarray(per_batch_counts, dtype=np.int64)
    batch = table.shape[0]
    totals = table.sum(axis=0)
    draws = int(totals.sum())
    keep = totals > 0
    table, rows, totals = table[:, keep], rows[:, keep], totals[keep]
    order = np.argsort(totals, kind="stable")
    table, rows, totals = table[:, order], rows[:, order], totals[order]
    # Pool the smallest classes until each pooled column expects >= 5 draws per slot.
    cut = int(np.searchsorted(np.cumsum(totals), MIN_EXPECTED * batch, side="left")) + 1
    if totals.size and totals[0] < MIN_EXPECTED * batch:
        cut = min(cut, totals.size)
        table = np.column_stack([table[:, :cut].sum(axis=1), table[:, cut:]])
        rows = np.column_stack([rows[:, :cut].sum(axis=1), rows[:, cut:]])
        totals = table.sum(axis=0)
    if batch < 2 or totals.size < 2:
        return ChiSquare(0.0, 1.0, 0, draws)
    expected = totals[None, :] / batch
    pearson = float(np.sum((table - expected) ** 2 / expected))
    mean = float(
        np.sum(batch * (1.0 - (rows.astype(np.float64) ** 2).sum(axis=0) / (batch * totals)))
    )
    dof = (batch - 1) * (totals.size - 1)
    if mean <= 0:
        return ChiSquare(pearson, 1.0, dof, draws)
    statistic = pearson * dof / mean
    return ChiSquare(statistic, float(stats.chi2.sf(statistic, dof)), dof, draws)


def within_group_uniformity(hits: Any, groups: Any) -> ChiSquare:
    """Is every group's total spread uniformly over its members?

    Parameters
    ----------
    hits : array_like of int, shape (N,)
        Times each member was drawn.
    groups : array_like of int, shape (N,)
        Group (class) of each member.

    Returns
    -------
    ChiSquare
        Sum of the per-group Pearson statistics (conditional on each group's total, the
        groups are independent multinomials), with the summed degrees of freedom. Members of a
        group whose expected count is below 5 are pooled in runs of consecutive members.
    """
    hits = np.asarray(hits, dtype=np.int64)
    groups = np.asarray(groups, dtype=np.int64)
    order = np.argsort(groups, kind="stable")
    hits, groups = hits[order], groups[order]
    sizes = np.bincount(groups)
    totals = np.bincount(groups, weights=hits, minlength=sizes.size)
    starts = np.cumsum(sizes) - sizes
    rank = np.arange(groups.size) - starts[groups]
    # Pool runs of `width` members so each pooled cell expects >= 5 draws.
    per_member = np.divide(totals, sizes, out=np.zeros(sizes.size), where=sizes > 0)
    width = np.where(
        per_member > 0,
        np.ceil(MIN_EXPECTED / np.maximum(per_member, 1e-300)),
        np.maximum(sizes, 1),
    )
    width = np.minimum(np.maximum(width, 1), np.maximum(sizes, 1)).astype(np.int64)
    # Whole runs only: the last cell of a group absorbs the remainder, so no cell is short.
    cells_per_group = np.maximum(sizes // width, 1)
    cell_starts = np.cumsum(cells_per_group) - cells_per_group
    cell = cell_starts[groups] + np.minimum(rank // width[groups], cells_per_group[groups] - 1)
    observed = np.bincount(cell, weights=hits, minlength=int(cells_per_group.sum()))
    members = np.bincount(cell, minlength=observed.size)
    cell_group = np.repeat(np.arange(sizes.size), cells_per_group)
    expected = per_member[cell_group] * members
    usable = expected > 0
    statistic = float(np.sum((observed[usable] - expected[usable]) ** 2 / expected[usable]))
    dof = int(np.sum(np.maximum(cells_per_group[totals > 0] - 1, 0)))
    draws = int(hits.sum())
    if dof == 0:
        return ChiSquare(statistic, 1.0, 0, draws)
    return ChiSquare(statistic, float(stats.chi2.sf(statistic, dof)), dof, draws)
