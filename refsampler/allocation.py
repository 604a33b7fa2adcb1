"""Per-batch class counts: pure functions of a target and a batch size.

``allocate`` gives the single count vector of the ``fixed`` kind; ``quota_schedule`` gives the
batch-by-batch counts of the ``quota`` kind. This module imports numpy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _validate
from .errors import InvalidArgumentError

__all__ = ["allocate", "quota_schedule"]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]

# Fractional parts closer than this are treated as tied, so that ties go to the lower class
# index as DESIGN promises, instead of to whichever float rounding happened to favour.
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
    positive classes whose floor is 0, then to the largest fractional parts, ties to the lower
    class index. Unlike ``np.round`` plus "remainder to the largest class", this never
    drops a small class and never gives a count outside ``{floor, ceil}``.

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
    batch = _validate.positive_int("batch_size", batch_size)
    quotas = batch * p
    floors = np.floor(quotas).astype(np.int64)
    fractions = np.round(quotas - floors, _TIE_DECIMALS)
    forced = (p > 0) & (floors == 0)
    seats = batch - int(floors.sum())
    if int(forced.sum()) > seats:
        raise InvalidArgumentError(
            f'`kind="fixed"` is infeasible: {int((p > 0).sum())} classes have a positive '
            f"target, but quota rounding of `batch_size` {batch} leaves only {seats} seats for "
            f'the {int(forced.sum())} classes whose floor is 0; use kind="quota" or a larger '
            f"`batch_size`; got target {_validate._show(p)}."
        )
    # Rank: forced first, then larger fraction, then lower index (lexsort: last key is primary).
    order = np.lexsort((np.arange(p.size), -fractions, ~forced))
    counts = floors.copy()
    counts[order[:seats]] += 1
    return counts


def quota_schedule(target: Any, batch_size: int, n_batches: int) -> IntMatrix:
    """The batch-by-batch counts of the ``quota`` kind.

    Parameters
    ----------
    target : array_like of float, shape (K,)
        Class shares: finite, non-negative, summing to 1.
    batch_size : int
        Positions per batch, ``B >= 1``.
    n_batches : int
        Number of batches, ``>= 1``.

    Returns
    -------
    numpy.ndarray of int64, shape (n_batches, K)
        Row ``k`` is batch ``k``'s count vector. Every entry is ``floor(B p_c)`` or
        ``ceil(B p_c)``, every row sums to ``B``, and after every batch ``k`` (1-based) the
        running total of every class is within 1 of ``k B p_c``.

    Notes
    -----
    Write ``B p_c = f_c + r_c`` with ``f_c`` integer and ``0 <= r_c < 1``. Every batch gives
    each class ``f_c``; the ``d = B - sum(f)`` extra seats go to ``d`` distinct classes. Since
    ``sum(r) = d`` is an integer, choosing the extras is Pfair scheduling of tasks of weight
    ``r_c`` on ``d`` processors, and a Pfair schedule is exactly one whose lag
    ``k r_c - extras_c(k)`` stays in (-1, 1). The PD\\ :sup:`2` rule -- earliest
    pseudo-deadline, then the successor bit, then the later group deadline -- is optimal
    for this problem [1]_, so the prefix error stays below 1 for every batch count.

    The schedule restarts at every epoch, and the choice for batch ``k`` depends only on the
    running totals before it, so ``quota_rows`` can continue it from any saved totals. The
    samplers compute an epoch's schedule once at construction and read any batch from it.

    References
    ----------
    .. [1] J. H. Anderson and A. Srinivasan, "Mixed Pfair/ERfair scheduling of asynchronous
       periodic tasks", Journal of Computer and System Sciences 68(1), 2004.
    .. [2] S. K. Baruah, N. K. Cohen, C. G. Plaxton, D. A. Varvel, "Proportionate progress:
       a notion of fairness in resource allocation", Algorithmica 15, 1996.

    Examples
    --------
    >>> from refsampler.allocation import quota_schedule
    >>> quota_schedule([0.5, 0.3, 0.2], 4, 5).tolist()
    [[2, 1, 1], [2, 1, 1], [2, 1, 1], [2, 1, 1], [2, 2, 0]]
    """
    p = _validate.probability_vector("target", target)
    batch = _validate.positive_int("batch_size", batch_size)
    batches = _validate.positive_int("n_batches", n_batches)
    return quota_rows(p, batch, 0, batches, np.zeros(p.size, dtype=np.int64))


def quota_rows(
    target: FloatVector, batch_size: int, start: int, stop: int, cumulative: IntVector
) -> IntMatrix:
    """Rows ``start .. stop-1`` of the quota schedule, given the running totals before ``start``.

    Arguments are trusted (validated by the caller); ``cumulative`` is not modified.
    """
    floors, picks = quota_picks(target, batch_size, start, stop, cumulative)
    rows = np.empty((stop - start, target.size), dtype=np.int64)
    rows[:] = floors
    if picks.size:
        rows[np.arange(stop - start)[:, None], picks] += 1
    return rows


def quota_picks(
    target: FloatVector, batch_size: int, start: int, stop: int, cumulative: IntVector
) -> tuple[IntVector, IntMatrix]:
    """The quota schedule in sparse form: ``(floors, picks)``.

    Batch ``k`` gives every class ``floors[c]`` plus one more to each class in
    ``picks[k - start]`` (``d = B - sum(floors)`` distinct classes). This is ``quota_rows``
    without the dense ``(n, K)`` matrix, for many classes. Arguments are trusted.
    """
    quotas = batch_size * target
    floors = np.floor(quotas).astype(np.int64)
    rates = quotas - floors
    extra_seats = batch_size - int(floors.sum())
    candidates = np.flatnonzero(rates > 0)
    if candidates.size == 0 or extra_seats <= 0:
        return floors, np.zeros((stop - start, 0), dtype=np.int64)
    picks = np.empty((stop - start, extra_seats), dtype=np.int64)
    rate = rates[candidates]
    heavy = rate >= 0.5
    # extras_c(k): extra seats class c received in batches 0..k-1; its next one is the
    # (extras + 1)-th subtask, which must be placed in a batch before its pseudo-deadline.
    subtask = cumulative[candidates] - start * floors[candidates] + 1
    # Window of each class's next subtask; only the chosen classes' windows move per batch.
    release, ratio, deadline = _windows(subtask, rate)
    for row, k in enumerate(range(start, stop)):
        chosen = _pd2_pick(release <= k, ratio, deadline, rate, heavy, extra_seats)
        picks[row] = candidates[chosen]
        subtask[chosen] += 1
        release[chosen], ratio[chosen], deadline[chosen] = _windows(subtask[chosen], rate[chosen])
    return floors, picks


def _windows(subtask: IntVector, rate: FloatVector) -> tuple[FloatVector, FloatVector, FloatVector]:
    """(release slot, ``i / w``, pseudo-deadline) of subtask ``i`` of tasks of weight ``w``.

    Subtask ``i`` may run in slots ``floor((i-1)/w)`` to ``ceil(i/w) - 1``; running it earlier
    would put the class more than one seat ahead.
    """
    ratio = _snap(subtask / rate)
    return np.floor(_snap((subtask - 1) / rate)), ratio, np.ceil(ratio)


def _pd2_pick(
    released: npt.NDArray[np.bool_],
    ratio: FloatVector,
    deadline: FloatVector,
    rate: FloatVector,
    heavy: npt.NDArray[np.bool_],
    seats: int,
) -> IntVector:
    """Indices of the ``seats`` highest-priority subtasks under PD2.

    Priority: released first, then earlier pseudo-deadline, then successor bit 1, then the
    later group deadline, then the lower index.
    """
    eligible = np.flatnonzero(released)
    if eligible.size > seats:
        # Only released subtasks whose deadline is among the `seats` earliest can win; the
        # tie-breaks are evaluated on that short list (same order as the full sort).
        cutoff = np.partition(deadline[eligible], seats - 1)[seats - 1]
        short = eligible[deadline[eligible] <= cutoff]
        return short[_pd2_order(short, ratio, deadline, rate, heavy)[:seats]]
    every = np.arange(released.size)
    order = _pd2_order(every, ratio, deadline, rate, heavy)
    return order[np.argsort(~released[order], kind="stable")][:seats]


def _pd2_order(
    idx: IntVector,
    ratio: FloatVector,
    deadline: FloatVector,
    rate: FloatVector,
    heavy: npt.NDArray[np.bool_],
) -> IntVector:
    """Positions in ``idx`` sorted by deadline, successor bit (1 first), group deadline
    (later first), then index."""
    dl = deadline[idx]
    successor_bit = dl - np.floor(ratio[idx])  # 1 if the next subtask's window overlaps
    group = np.zeros_like(dl)
    hv = heavy[idx]
    if hv.any():
        w = rate[idx][hv]
        group[hv] = np.ceil(_snap(np.ceil(_snap(dl[hv] * (1 - w))) / (1 - w)))
    return np.lexsort((idx, -group, -successor_bit, dl))


def _snap(values: FloatVector) -> FloatVector:
    """Round quotients within 1e-9 (relative) of an integer to it.

    The rates are differences of floats, so a quotient that is an integer in exact arithmetic
    (1 / 0.2) can land just above it (5.000000000000001) and push a deadline one batch late.
    """
    nearest = np.round(values)
    close = np.abs(values - nearest) <= 1e-9 * np.maximum(1.0, np.abs(values))
    return np.where(close, nearest, values)
