"""Statistical tests on sampler output, built on :mod:`scipy.stats`.

Every test returns a p-value from a distribution in :mod:`scipy.stats` (chi-square, scaled
chi-square, normal, binomial); nothing here evaluates a distribution function by hand.

Two-sided where the null predicts the spread
--------------------------------------------
For an i.i.d. or uniform-shuffle claim, counts that match their expectation *too well* are as
wrong as counts that miss it: a "random" sampler that serves exact quotas has a chi-square
statistic near 0. The goodness-of-fit tests therefore report ``2 * min(sf, cdf)`` and say which
tail (:attr:`ChiSquare.direction`). The lower tail is only trusted where the statistic is
continuous enough: a chi-square statistic moves on a lattice whose spacing, in units of
standardised cells, is ``1 / sqrt(smallest expected count)``; the lower-tail region at level
:data:`LOWER_TAIL_PROBE` must be at least :data:`LOWER_TAIL_RESOLUTION` lattice steps wide, or
the test stays one-sided (the report says so). Multinomial statistics use the exact variance of
Pearson's statistic (two-moment scaled chi-square), so small expected counts do not inflate the
tails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

from .constants import FAMILY_LEVEL

__all__ = [
    "FAMILY_LEVEL",
    "LOWER_TAIL_PROBE",
    "LOWER_TAIL_RESOLUTION",
    "MIN_EXPECTED",
    "POWER",
    "ChiSquare",
    "ZScore",
    "binomial_share",
    "chisquare_shares",
    "detectable_shift",
    "detectable_w",
    "detectable_z_shift",
    "draws_for_family",
    "exchangeability",
    "holm",
    "independence",
    "member_repeats",
    "min_num_draws",
    "per_batch_dispersion",
    "pool_cells",
    "pool_table",
    "same_class_adjacency",
    "two_sided",
    "within_group_uniformity",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Pearson's approximation is trusted when every expected count is at least this.
MIN_EXPECTED = 5.0
#: Power every "smallest detectable deviation" figure refers to.
POWER = 0.999
#: Level at which the lower tail's resolution is judged (below any Holm threshold in use).
LOWER_TAIL_PROBE = 1e-12
#: Lattice steps the lower-tail region must span for the lower tail to be used.
LOWER_TAIL_RESOLUTION = 4.0


@dataclass(frozen=True)
class ChiSquare:
    """Result of a chi-square test.

    Attributes
    ----------
    statistic : float
    pvalue : float
        Two-sided (``2 min(sf, cdf)``, capped at 1) when ``two_sided``; the upper tail
        otherwise.
    dof : int
        Degrees of freedom (after pooling).
    draws : int
        Observations the test used.
    direction : {"high", "low", ""}
        The tail the statistic is in: ``"high"`` (more spread than the null allows),
        ``"low"`` (less), ``""`` when it is unremarkable or there is no evidence.
    two_sided : bool
        Whether the lower tail was used (see the module notes).
    expected, observed : object
        Summaries for reports: the expected and observed counts the statistic compares.
    """

    statistic: float
    pvalue: float
    dof: int
    draws: int
    direction: str = ""
    two_sided: bool = False
    expected: Any = field(default=None, compare=False)
    observed: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class ZScore:
    """Result of a two-sided normal test of a sum with known mean and variance.

    Attributes
    ----------
    statistic : float
        ``(observed - expected) / sd``.
    pvalue : float
        ``2 * norm.sf(|z|)``.
    draws : int
        Independent units summed (batches).
    expected, observed, sd : float
        Mean and standard deviation of the sum under the null, and its observed value.
    direction : {"high", "low", ""}
    """

    statistic: float
    pvalue: float
    draws: int
    expected: float
    observed: float
    sd: float
    direction: str = ""


def _no_evidence(draws: int) -> ChiSquare:
    return ChiSquare(0.0, 1.0, 0, draws)


def two_sided(
    statistic: float, dof: float, min_expected: float, *, scale: float = 1.0
) -> tuple[float, str, bool]:
    """p-value, direction and two-sidedness of ``statistic / scale ~ chi2(dof)``.

    Parameters
    ----------
    statistic : float
    dof : float
        Degrees of freedom of the (scaled) chi-square; may be fractional.
    min_expected : float
        Smallest expected cell count: sets the lattice spacing of the statistic.
    scale : float
        The statistic is ``scale`` times a chi-square variable.

    Returns
    -------
    pvalue : float
    direction : {"high", "low"}
    two_sided : bool
        False when the lower tail is too coarse to use (then ``pvalue`` is the upper tail).
    """
    upper = float(stats.chi2.sf(statistic / scale, dof))
    lower_edge = scale * float(stats.chi2.ppf(LOWER_TAIL_PROBE, dof))
    resolved = lower_edge * min_expected >= LOWER_TAIL_RESOLUTION**2
    if not resolved:
        return upper, "high" if upper < 0.5 else "", False
    lower = float(stats.chi2.cdf(statistic / scale, dof))
    direction = "high" if upper <= lower else "low"
    return min(1.0, 2.0 * min(upper, lower)), direction, True


def pool_cells(observed: npt.ArrayLike, expected: npt.ArrayLike) -> tuple[IntArray, FloatArray]:
    """Merge cells, smallest expectation first, until every expected count is >= 5.

    Cells with zero expectation are dropped only when nothing was observed in them; an
    observation in a zero-probability cell is returned as its own cell, so the caller sees
    an infinite statistic instead of a hidden violation.
    """
    observed_ = np.asarray(observed, dtype=np.int64)
    expected_ = np.asarray(expected, dtype=np.float64)
    impossible = (expected_ == 0) & (observed_ > 0)
    keep = expected_ > 0
    obs, exp = observed_[keep], expected_[keep]
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
        obs = np.concatenate([obs, observed_[impossible]])
        exp = np.concatenate([exp, np.zeros(int(impossible.sum()))])
    return obs.astype(np.int64), exp.astype(np.float64)


def _pearson_moments(probabilities: FloatArray, draws: int) -> tuple[float, float]:
    """Exact mean and variance of Pearson's statistic of a multinomial with these cells."""
    k = probabilities.size
    mean = float(k - 1)
    variance = 2.0 * (k - 1) + (float(np.sum(1.0 / probabilities)) - k * k - 2 * k + 2) / draws
    return mean, max(variance, 1e-12)


def _scaled(mean: float, variance: float) -> tuple[float, float]:
    """(scale, dof) of the scaled chi-square with this mean and variance."""
    return variance / (2.0 * mean), 2.0 * mean * mean / variance


def chisquare_shares(observed_counts: Any, target: Any) -> ChiSquare:
    """Two-sided Pearson test that class counts were drawn i.i.d. from ``target``.

    Parameters
    ----------
    observed_counts : array_like of int, shape (K,)
        Draws per class (counts, never proportions).
    target : array_like of float, shape (K,)
        Class probabilities.

    Returns
    -------
    ChiSquare
        With ``pvalue == 0`` when a zero-probability class was observed. The statistic comes
        from :func:`scipy.stats.chisquare`; its p-value from a chi-square scaled to the exact
        multinomial mean and variance, two-sided where resolvable.

    Examples
    --------
    >>> from refsampler.conformance.stats import chisquare_shares
    >>> exact = chisquare_shares([50_000] * 20, [0.05] * 20)  # exact quotas: too even
    >>> exact.statistic, exact.direction, exact.pvalue < 1e-20
    (0.0, 'low', True)
    """
    observed = np.asarray(observed_counts, dtype=np.int64)
    draws = int(observed.sum())
    expected_all = draws * np.asarray(target, dtype=np.float64)
    obs, exp = pool_cells(observed, expected_all)
    summary: dict[str, Any] = {
        "expected": expected_all.round(2).tolist(),
        "observed": observed.tolist(),
    }
    if np.any((exp == 0) & (obs > 0)):
        return ChiSquare(float("inf"), 0.0, int(obs.size) - 1, draws, "high", False, **summary)
    if obs.size < 2:
        return ChiSquare(0.0, 1.0, 0, draws, "", False, **summary)
    # Rescale the expectation so both sums agree exactly, as scipy requires (1e-12 drift).
    exp = exp * (obs.sum() / exp.sum())
    statistic = float(stats.chisquare(obs, exp).statistic)
    scale, dof = _scaled(*_pearson_moments(exp / exp.sum(), draws))
    pvalue, direction, both = two_sided(statistic, dof, float(exp.min()), scale=scale)
    return ChiSquare(statistic, pvalue, int(obs.size) - 1, draws, direction, both, **summary)


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
    (alpha = 1e-8, power 0.999, a 1-point shift) this is about 194,000 draws.

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
    draws: int, *, level: float = 1e-8, power: float = POWER, share: float = 0.5
) -> float:
    """Smallest shift of a class share that ``draws`` draws detect (inverse of min_num_draws).

    Uses the null variance on both sides, a slight overstatement for shares away from 0.5.
    """
    z = stats.norm.isf(level / 2) + stats.norm.ppf(power)
    return float(z * np.sqrt(share * (1 - share) / max(draws, 1)))


def detectable_w(draws: int, dof: int, *, level: float, power: float = POWER) -> float:
    """Smallest effect size ``w`` a chi-square test on ``dof`` degrees of freedom detects.

    Cohen's ``w = sqrt(sum (pi1 - pi0)**2 / pi0)``: the noncentrality of the statistic is
    ``draws * w**2``. Solved with :func:`scipy.stats.ncx2` at the upper critical value of
    ``level / 2`` (the two-sided split).

    Examples
    --------
    >>> from refsampler.conformance.stats import detectable_w
    >>> round(detectable_w(100_000, 4, level=1e-8), 4)
    0.0303
    """
    if dof < 1 or draws < 1:
        return float("inf")
    critical = float(stats.chi2.isf(level / 2, dof))

    def gap(noncentrality: float) -> float:
        return float(stats.ncx2.sf(critical, dof, noncentrality)) - power

    high = 1.0
    while gap(high) < 0:
        high *= 2.0
    noncentrality = float(optimize.brentq(gap, 0.0, high, xtol=1e-6))
    return math.sqrt(noncentrality / draws)


def detectable_z_shift(sd: float, units: int, *, level: float, power: float = POWER) -> float:
    """Smallest shift of a per-unit mean a two-sided z-test of a sum over ``units`` detects."""
    z = stats.norm.isf(level / 2) + stats.norm.ppf(power)
    return float(z * sd / max(units, 1))


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

    Notes
    -----
    A p-value at or below ``family_level / m`` is rejected whatever the others are, which is
    what lets a run stop at its first failure.

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


def per_batch_dispersion(
    per_batch_counts: Any, batch_size: int, share: float | None = None
) -> ChiSquare:
    """Do one class's per-batch counts follow ``Binomial(batch_size, share)``?

    Parameters
    ----------
    per_batch_counts : array_like of int, shape (n,)
        The class's count in every batch.
    batch_size : int
    share : float, optional
        The class share. By default the *observed* share ``sum(counts) / (n B)``, so that the
        test looks at the spread alone: a biased share is the share tests' finding, not this
        one's.

    Returns
    -------
    ChiSquare
        The histogram of the counts against the binomial pmf (cells pooled to expected counts
        >= 5), on ``cells - 2`` degrees of freedom when the share is estimated (``cells - 1``
        when given), two-sided where resolvable. ``expected`` and ``observed`` are the
        binomial and the observed variance of the per-batch counts: too little spread (the
        batches are stratified) is ``"low"``, too much (batches cluster on a class) ``"high"``.
    """
    counts = np.asarray(per_batch_counts, dtype=np.int64)
    n = counts.size
    estimated = share is None
    p = float(counts.sum()) / max(n * batch_size, 1) if share is None else float(share)
    variance = batch_size * p * (1 - p)
    summary: dict[str, Any] = {
        "expected": round(variance, 4),
        "observed": round(float(counts.var()), 4) if n else 0.0,
    }
    if n == 0 or p <= 0.0 or p >= 1.0:
        return ChiSquare(0.0, 1.0, 0, n, **summary)
    histogram = np.bincount(np.clip(counts, 0, batch_size), minlength=batch_size + 1)
    pmf = stats.binom.pmf(np.arange(batch_size + 1), batch_size, p)
    obs, exp = pool_cells(histogram, n * pmf / pmf.sum())
    dof = int(obs.size) - 1 - int(estimated)
    if dof < 1:
        return ChiSquare(0.0, 1.0, 0, n, **summary)
    statistic = float(np.sum((obs - exp) ** 2 / exp))
    pvalue, _, both = two_sided(statistic, dof, float(exp.min()))
    direction = "low" if counts.var() < variance else "high"
    return ChiSquare(statistic, pvalue, dof, n, direction if pvalue < 0.5 else "", both, **summary)


def pool_table(table: Any) -> npt.NDArray[Any]:
    """Merge the smallest rows or columns of a contingency table until every expected >= 5.

    The expected count of a cell is ``row total * column total / total``; the smaller of the
    smallest row and the smallest column is merged into its next-smallest neighbour until the
    smallest expected count reaches :data:`MIN_EXPECTED` or one dimension is left.
    """
    counts = np.asarray(table)
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    total = counts.sum()
    while counts.shape[0] > 1 and counts.shape[1] > 1:
        rows, cols = counts.sum(axis=1), counts.sum(axis=0)
        if rows.min() * cols.min() / total >= MIN_EXPECTED:
            break
        if rows.min() <= cols.min():
            order = np.argsort(rows, kind="stable")
            merged = counts[order[0]] + counts[order[1]]
            counts = np.vstack([merged, counts[order[2:]]])
        else:
            order = np.argsort(cols, kind="stable")
            merged = counts[:, order[0]] + counts[:, order[1]]
            counts = np.column_stack([merged, counts[:, order[2:]]])
    return counts


def independence(table: Any) -> ChiSquare:
    """Two-sided chi-square test of independence of the rows and columns of a table.

    Conditional on the margins (so biased margins are not this test's finding). Rows and
    columns are pooled by :func:`pool_table`; a table that pools to one row or one column
    carries no evidence (p = 1). ``expected`` and ``observed`` are the diagonal totals of a
    square table (same class twice), else None.
    """
    raw = np.asarray(table, dtype=np.int64)
    total = int(raw.sum())
    summary: dict[str, Any] = {}
    if raw.ndim == 2 and raw.shape[0] == raw.shape[1] and total:
        outer = np.outer(raw.sum(axis=1), raw.sum(axis=0)) / total
        summary = {"expected": round(float(np.trace(outer)), 2), "observed": int(np.trace(raw))}
    counts = pool_table(raw)
    if counts.shape[0] < 2 or counts.shape[1] < 2:
        return ChiSquare(0.0, 1.0, 0, total, **summary)
    result = stats.chi2_contingency(counts, correction=False)
    expected = np.asarray(result.expected_freq, dtype=np.float64)
    pvalue, direction, both = two_sided(
        float(result.statistic), int(result.dof), float(expected.min())
    )
    return ChiSquare(
        float(result.statistic), pvalue, int(result.dof), total, direction, both, **summary
    )


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
        The Pearson statistic of the table, two-sided against its null distribution under a
        uniform within-batch shuffle given the counts.

    Notes
    -----
    A uniform shuffle of batch ``k`` with counts ``a_k`` gives its (slot, class) indicators
    the covariance ``B / (B - 1) P_B (x) V_k`` with ``P_B = I - J / B`` and
    ``V_k = diag(a_k / B) - a_k a_k^T / B^2``. Summed over batches and standardised by the
    expected cells ``T_c / B``, Pearson's statistic is asymptotically
    ``sum_m B / (B - 1) mu_m chi2_{B-1}`` with ``mu_m`` the eigenvalues of
    ``I - D^{-1/2} S D^{-1/2}``, ``S = sum_k a_k a_k^T / B^2``, ``D = diag(T / B)``. For equal
    counts in every batch (the fixed kind) the ``mu_m`` are 1 and 0, and ``X^2 (B-1) / B`` is
    exactly chi-square on ``(B-1)(K-1)`` dof; otherwise the weighted sum is matched to a scaled
    chi-square by its mean and variance (Satterthwaite). The plain contingency test would raise
    false alarms far above its level for the fixed kind.
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
        return _no_evidence(draws)
    expected = totals[None, :] / batch
    pearson = float(np.sum((table - expected) ** 2 / expected))
    root = 1.0 / np.sqrt(totals / batch)
    second = rows.T.astype(np.float64) @ rows.astype(np.float64) / batch**2
    weights = np.linalg.eigvalsh(np.eye(totals.size) - root[:, None] * second * root[None, :])
    weights = np.clip(weights, 0.0, None) * batch / (batch - 1)
    mean = (batch - 1) * float(weights.sum())
    variance = 2.0 * (batch - 1) * float(np.sum(weights**2))
    dof = (batch - 1) * (totals.size - 1)
    if mean <= 0 or variance <= 0:
        return ChiSquare(pearson, 1.0, dof, draws)
    scale, equivalent = _scaled(mean, variance)
    pvalue, direction, both = two_sided(pearson, equivalent, float(expected.min()), scale=scale)
    return ChiSquare(pearson, pvalue, dof, draws, direction, both)


def same_class_adjacency(neighbours: Any, per_batch_counts: Any) -> ZScore:
    """Do same-class neighbours occur as often as a uniform within-batch shuffle predicts?

    Parameters
    ----------
    neighbours : array_like of int, shape (n,)
        For every batch, the number of adjacent slots ``(j, j + 1)`` holding the same class.
    per_batch_counts : array_like of int, shape (n, K)
        Class counts of every batch.

    Returns
    -------
    ZScore
        The sum over batches against its exact mean and variance under a uniform shuffle of
        each batch (a multi-category Wald-Wolfowitz runs test), two-sided with
        :func:`scipy.stats.norm` (many independent batches). Unlike the slot table of
        :func:`exchangeability` it sees order when every batch has the same counts: batches
        made of class blocks (``[3, 3, 0, 0, 4, 4, ...]``) have far too many neighbours,
        strictly alternating ones too few.

    Notes
    -----
    For a batch of size ``B`` with counts ``a``, let ``f_r = sum_c a_c (a_c - 1) ... (a_c - r
    + 1)`` and ``B_r`` the falling factorial of ``B``. A given adjacent pair matches with
    probability ``f_2 / B_2``, two overlapping pairs with ``f_3 / B_3``, two disjoint pairs with
    ``(f_2^2 - sum_c (a_c (a_c - 1))^2 + f_4) / B_4``; of the ``(B - 1)(B - 2)`` ordered pairs of
    distinct adjacent pairs, ``2 (B - 2)`` overlap.
    """
    runs = np.asarray(neighbours, dtype=np.float64)
    counts = np.asarray(per_batch_counts, dtype=np.float64)
    batch = float(counts[0].sum()) if counts.size else 0.0
    n = runs.size

    def falling(x: Any, r: int) -> Any:
        out = np.ones_like(x, dtype=np.float64)
        for i in range(r):
            out = out * (x - i)
        return out

    pairs2 = falling(counts, 2)
    f2, f3, f4 = pairs2.sum(axis=1), falling(counts, 3).sum(axis=1), falling(counts, 4).sum(axis=1)
    b2, b3, b4 = (float(falling(np.array(batch), r)) for r in (2, 3, 4))
    p2 = f2 / b2 if b2 > 0 else np.zeros(n)
    p3 = f3 / b3 if b3 > 0 else np.zeros(n)
    p22 = (f2**2 - (pairs2**2).sum(axis=1) + f4) / b4 if b4 > 0 else np.zeros(n)
    adjacent = batch - 1.0
    mean = adjacent * p2
    second = adjacent * p2 + 2 * (batch - 2) * p3 + (batch - 2) * (batch - 3) * p22
    variance = np.clip(second - mean**2, 0.0, None)
    expected, observed = float(mean.sum()), float(runs.sum())
    sd = math.sqrt(float(variance.sum()))
    if sd <= 0:
        return ZScore(0.0, 1.0, n, expected, observed, 0.0)
    z = (observed - expected) / sd
    pvalue = float(2.0 * stats.norm.sf(abs(z)))
    direction = ("high" if z > 0 else "low") if pvalue < 0.5 else ""
    return ZScore(z, min(pvalue, 1.0), n, expected, observed, sd, direction)


def within_group_uniformity(hits: Any, groups: Any) -> ChiSquare:
    """Is every group's total spread uniformly over its members (neither too unevenly nor
    too evenly)?

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
        groups are independent multinomials), with the summed degrees of freedom, two-sided
        against the scaled chi-square of the exact summed mean and variance. Members of a
        group whose expected count is below 5 are pooled in runs of consecutive members.
        ``expected`` and ``observed`` are the multinomial and the observed variance of the
        hits per member (pooled cells, normalised by their expectation).
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
    residual = (observed[usable] - expected[usable]) ** 2 / expected[usable]
    statistic = float(np.sum(residual))
    draws = int(hits.sum())
    mean, variance, smallest = 0.0, 0.0, math.inf
    for g in np.flatnonzero(totals > 0):
        mine = (cell_group == g) & usable
        if mine.sum() < 2:
            continue
        m, v = _pearson_moments(expected[mine] / totals[g], int(totals[g]))
        mean, variance = mean + m, variance + v
        smallest = min(smallest, float(expected[mine].min()))
    dof = round(mean)
    summary: dict[str, Any] = {
        "expected": 1.0,
        "observed": round(statistic / mean, 4) if mean else 1.0,
    }
    if dof == 0:
        return ChiSquare(statistic, 1.0, 0, draws, **summary)
    scale, equivalent = _scaled(mean, variance)
    pvalue, direction, both = two_sided(statistic, equivalent, smallest, scale=scale)
    return ChiSquare(statistic, pvalue, dof, draws, direction, both, **summary)


def member_repeats(pairs: Any, repeats: Any, sizes: Any) -> ChiSquare:
    """Do consecutive draws of a class repeat a member as often as drawing with replacement
    predicts?

    Parameters
    ----------
    pairs : array_like of int, shape (K,)
        Disjoint pairs of consecutive draws ``(1st, 2nd), (3rd, 4th), ...`` of each class.
    repeats : array_like of int, shape (K,)
        How many of those pairs drew the same member twice.
    sizes : array_like of int, shape (K,)
        Members per class.

    Returns
    -------
    ChiSquare
        With replacement, each pair of class ``c`` repeats with probability ``1 / n_c``
        independently, so ``repeats_c ~ Binomial(pairs_c, 1 / n_c)``. The statistic is
        ``sum_c (repeats_c - e_c)^2 / var_c`` over the classes with at least 5 expected
        repeats and 5 expected non-repeats, chi-square on that many dof (upper tail: a squared
        deviation in either direction counts). Draws in shuffled cycles (no repeats until a
        class is used up) make it ``"low"``.
    """
    m = np.asarray(pairs, dtype=np.float64)
    x = np.asarray(repeats, dtype=np.float64)
    q = 1.0 / np.asarray(sizes, dtype=np.float64)
    expected, variance = m * q, m * q * (1 - q)
    usable = (expected >= MIN_EXPECTED) & (m - expected >= MIN_EXPECTED)
    summary: dict[str, Any] = {
        "expected": round(float(expected[usable].sum()), 2),
        "observed": int(x[usable].sum()),
    }
    draws = int(2 * m[usable].sum())
    if not usable.any():
        return ChiSquare(0.0, 1.0, 0, draws, **summary)
    statistic = float(np.sum((x[usable] - expected[usable]) ** 2 / variance[usable]))
    dof = int(usable.sum())
    pvalue = float(stats.chi2.sf(statistic, dof))
    direction = ""
    if pvalue < 0.5:
        direction = "low" if x[usable].sum() < expected[usable].sum() else "high"
    return ChiSquare(statistic, pvalue, dof, draws, direction, False, **summary)
