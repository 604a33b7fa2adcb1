"""Per-batch class counts: pure functions of a target and a batch size.

``allocate`` gives the count vector of the ``fixed`` kind (``allocate_with_ties`` splits it
into certain seats and exact ties); ``quota_schedule`` gives the batch-by-batch counts of the
``quota`` kind. This module imports numpy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _validate
from .errors import InvalidArgumentError

__all__ = ["allocate", "allocate_with_ties", "quota_schedule"]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]

# Fractional parts closer than this are exact ties (equal shares rounded differently by float
# arithmetic must still tie, or the rounding would pick a winner).
_TIE_DECIMALS = 9


def allocate(target: Any, batch_size: int) -> IntVector:
    """The count vector of the ``fixed`` kind: quota rounding of ``batch_size * target``.

    Parameters
    ----------
    target : array_like of float, shape (K,)
        Class shares: finite, non-negative, summing to 1.
    batch_size : int
        Positions per batch, ``B >= 1``.

    Returns
    -------
    numpy.ndarray of int64, shape (K,)
        Counts ``a`` with ``sum(a) == B``, each ``a_c`` equal to ``floor(B p_c)`` or
        ``ceil(B p_c)``, and ``a_c >= 1`` wherever ``p_c > 0``.

    Raises
    ------
    InvalidArgumentError
        If the arguments are invalid, or if no vector has all three properties (more classes
        with a positive share than the rounding can serve).

    Notes
    -----
    Largest-remainder (Hamilton) apportionment with a floor of one for every positive class:
    every class first gets ``floor(B p_c)``; the ``B - sum(floor)`` remaining seats go first to
    positive classes whose floor is 0, then to the largest fractional parts. Exact ties go to
    the lower class index here, as a canonical vector; the ``fixed`` kind instead hands the
    tied seats out in rounds of random order, one round's share per epoch
    (:func:`allocate_with_ties`). Unlike ``np.round`` plus "remainder to the largest class",
    this never drops a small class and never gives a count outside ``{floor, ceil}``.

    References
    ----------
    .. [1] M. L. Balinski and H. P. Young, *Fair Representation*, 2nd ed., Brookings, 2001.

    Examples
    --------
    >>> from refsampler.allocation import allocate
    >>> allocate([1000 / 2010, 1000 / 2010, 10 / 2010], 32).tolist()
    [16, 15, 1]
    """
    p = _validate.probability_vector("target", target)
    batch = _validate.batch_size(batch_size)
    quotas = batch * p
    floors = np.floor(quotas).astype(np.int64)
    fractions = np.round(quotas - floors, _TIE_DECIMALS)
    forced = (p > 0) & (floors == 0)
    seats = batch - int(floors.sum())
    if int(forced.sum()) > seats:
        raise InvalidArgumentError(
            f'`kind="fixed"` is infeasible: {int((p > 0).sum())} classes have a positive '
            f"target, but quota rounding of `batch_size` {batch} leaves only {seats} "
            f"seat{'s' if seats != 1 else ''} for "
            f'the {int(forced.sum())} classes whose floor is 0; use kind="quota" or a larger '
            f"`batch_size`; got target {_validate._show(p)}."
        )
    # Rank: forced first, then larger fraction, then lower index (lexsort: last key is primary).
    order = np.lexsort((np.arange(p.size), -fractions, ~forced))
    counts = floors.copy()
    counts[order[:seats]] += 1
    return counts


def allocate_with_ties(target: Any, batch_size: int) -> tuple[IntVector, IntVector, int]:
    """:func:`allocate` split into its certain seats and its exact ties.

    Parameters
    ----------
    target : array_like of float, shape (K,)
    batch_size : int

    Returns
    -------
    certain : numpy.ndarray of int64, shape (K,)
        Seats every largest-remainder vector gives: floors, forced ones, and the extra seats
        of fractional parts strictly above the cutoff.
    tied : numpy.ndarray of int64
        Classes (ascending) whose fractional part equals the cutoff and that compete for the
        last seats: any ``seats`` of them may take one.
    seats : int
        How many of the ``tied`` classes get one more seat (``0 <= seats < len(tied)``;
        ``tied`` is empty when ``seats`` is 0).

    Notes
    -----
    ``allocate`` gives the tied seats to the lowest class ids; the ``fixed`` kind instead
    hands them out in rounds of random order, one round's share per epoch, so that over
    epochs no tied class is favoured.

    Examples
    --------
    >>> from refsampler.allocation import allocate_with_ties
    >>> certain, tied, seats = allocate_with_ties([0.2] * 5, 32)
    >>> certain.tolist(), tied.tolist(), seats
    ([6, 6, 6, 6, 6], [0, 1, 2, 3, 4], 2)
    """
    p = _validate.probability_vector("target", target)
    batch = _validate.batch_size(batch_size)
    return _ties(p, batch)


def _ties(p: FloatVector, batch: int) -> tuple[IntVector, IntVector, int]:
    counts = allocate(p, batch)
    quotas = batch * p
    floors = np.floor(quotas).astype(np.int64)
    fractions = np.round(quotas - floors, _TIE_DECIMALS)
    forced = (p > 0) & (floors == 0)
    extra = counts - floors  # 0 or 1
    free = extra.astype(bool) & ~forced  # seats won by fractional part, not forced
    if not free.any():
        return counts, np.zeros(0, dtype=np.int64), 0
    cutoff = fractions[free].min()
    # Competing for the cutoff seats: every unforced class at exactly the cutoff fraction.
    tied = np.flatnonzero((fractions == cutoff) & ~forced & (p > 0))
    seats = int(extra[tied].sum())
    if seats == tied.size:
        return counts, np.zeros(0, dtype=np.int64), 0
    certain = counts.copy()
    certain[tied] -= extra[tied]
    return certain, tied, seats


def quota_schedule(target: Any, batch_size: int, n_batches: int, *, seed: int = 0) -> IntMatrix:
    """The first ``n_batches`` per-batch class counts of the ``quota`` kind's schedule.

    Parameters
    ----------
    target : array_like of float, shape (K,)
        Class shares: finite, non-negative, summing to 1.
    batch_size : int
        Positions per batch, ``B >= 1``.
    n_batches : int
        Number of batches, ``>= 1``.
    seed : int, default 0
        Keys the random choices (which of several classes with the same extra-seat rate goes
        first, the phase of two rates, PD2's exact ties).

    Returns
    -------
    numpy.ndarray of int64, shape (n_batches, K)
        Row ``t`` is global batch ``t``'s count vector. Every entry is ``floor(B p_c)`` or
        ``ceil(B p_c)``, every row sums to ``B``, and after every batch ``t`` (1-based) the
        running total of every class is within 1 of ``t B p_c``.

    Notes
    -----
    Class ``c`` gets ``f_c = floor(B p_c)`` in every batch and one extra draw at rate
    ``r_c = B p_c - f_c``; the ``d = B - sum(f)`` extra seats per batch are Pfair-scheduled
    among groups of classes of equal rate and handed out inside a group in rounds of random
    order (see :mod:`refsampler.groups`). A sampler plays this schedule over its global slots
    ``(epoch * n_batches + k) * num_replicas + rank``, so it runs across epochs and ranks.

    References
    ----------
    .. [1] S. K. Baruah, N. K. Cohen, C. G. Plaxton, D. A. Varvel, "Proportionate progress:
       a notion of fairness in resource allocation", Algorithmica 15, 1996.

    Examples
    --------
    >>> from refsampler.allocation import quota_schedule
    >>> rows = quota_schedule([0.5, 0.3, 0.2], 4, 5)
    >>> rows.sum(axis=1).tolist(), rows.sum(axis=0).tolist()
    ([4, 4, 4, 4, 4], [10, 6, 4])
    """
    from .classes import ClassIndex
    from .kinds.base import Setting
    from .kinds.quota import QuotaPlan

    p = _validate.probability_vector("target", target)
    batch = _validate.batch_size(batch_size)
    batches = _validate.n_batches(n_batches)
    seed = _validate.seed(seed)
    index = ClassIndex.from_labels(np.arange(p.size))
    plan = QuotaPlan(Setting(index, p, batch, batches, 1, seed))
    entries = plan.entries(np.arange(batches, dtype=np.int64))
    rows = np.zeros((batches, p.size), dtype=np.int64)
    rows[entries.row, entries.cls] = entries.count
    return rows
