"""The ``random`` kind: classes i.i.d. from the target, members uniform with replacement.

Two stages, so there is no limit on N and an epoch costs O(draws): a class from Walker's alias
table in O(1), then a member uniformly with Lemire's exact multiply-shift method. Draws of a
chunk come from a generator keyed by ``(seed, epoch, rank, chunk)``. Imports numpy only.

References
----------
.. [1] D. Lemire, "Fast random integer generation in an interval", ACM TOMACS 29(1), 2019.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .. import keys
from . import get
from .base import SampledPlan, Setting

__all__ = ["RandomPlan", "alias_table", "build", "coin_bounds"]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]

#: Exact 32-bit multiply-shift member draws need every class below this size.
_LEMIRE_LIMIT = 1 << 32
#: Index of the low 32-bit half of a uint64 viewed as two uint32.
_LOW_HALF = 0 if np.little_endian else 1


def alias_table(target: FloatVector) -> tuple[FloatVector, IntVector]:
    """Walker's alias table of ``target`` (Vose's construction).

    Drawing a column ``i`` uniformly from ``0 .. K-1`` and a uniform ``v`` in [0, 1), then
    taking ``i`` if ``v < prob[i]`` and ``alias[i]`` otherwise, draws class ``c`` with
    probability ``(prob[c] + sum(1 - prob[j] for j with alias[j] == c)) / K``, which equals
    ``target[c]`` up to float rounding (see Notes).

    Parameters
    ----------
    target : numpy.ndarray of float64, shape (K,)
        Non-negative shares summing to 1 (within 1e-9).

    Returns
    -------
    prob : numpy.ndarray of float64, shape (K,)
    alias : numpy.ndarray of int64, shape (K,)

    Notes
    -----
    Each class takes part in at most ``K - 1`` donations; each is one float subtraction of
    relative error at most ``2**-53`` on values below ``K max(p)``. The implied share of every
    class therefore differs from ``target[c]`` by at most about ``K * 2**-53 * max(p)``
    absolute. :class:`Plan` takes the column and ``v`` from one 53-bit uniform ``u``
    (``floor(u K)`` and ``frac(u K)``), so ``v`` has a resolution of ``K * 2**-53``; this adds at
    most ``2**-53`` absolute per class. Both bounds are below 1e-11 for ``K = 1e5``. A class
    with share 0 is never drawn: its ``prob`` is 0 and it is never an alias.

    References
    ----------
    .. [1] A. J. Walker, "An efficient method for generating discrete random variables with
       general distributions", ACM TOMS 3(3), 1977.
    .. [2] M. D. Vose, "A linear algorithm for generating random numbers with a given
       distribution", IEEE TSE 17(9), 1991.

    Examples
    --------
    >>> import numpy as np
    >>> from refsampler.kinds.random import alias_table
    >>> prob, alias = alias_table(np.array([0.5, 0.25, 0.25]))
    >>> prob.tolist(), alias.tolist()
    ([1.0, 0.75, 0.75], [0, 0, 0])
    """
    k = target.size
    scaled = (target * k).tolist()
    prob = [1.0] * k
    alias = list(range(k))
    small = [i for i in range(k) if scaled[i] < 1.0]
    large = [i for i in range(k) if scaled[i] >= 1.0]
    small.reverse()
    large.reverse()
    while small and large:
        s, big = small.pop(), large[-1]
        prob[s] = scaled[s]
        alias[s] = big
        scaled[big] = (scaled[big] + scaled[s]) - 1.0
        if scaled[big] < 1.0:
            large.pop()
            small.append(big)
    # Leftovers have scaled share 1 up to rounding: they keep their own column, except that a
    # zero-share class must never be drawn, so it hands its column to a positive class.
    positive = int(np.flatnonzero(target > 0)[0])
    for s in small:
        if target[s] == 0:
            prob[s] = 0.0
            alias[s] = positive
    return np.array(prob, dtype=np.float64), np.array(alias, dtype=np.int64)


class RandomPlan(SampledPlan):
    """The random kind's plan for one :class:`~refsampler.kinds.base.Setting`."""

    def __init__(self, setting: Setting) -> None:
        self.traits = get("random")
        self.setting = setting
        index = setting.index
        counts = index.counts
        k = counts.size
        prob, self._alias = alias_table(setting.target)
        self._coin_bound = coin_bounds(prob)
        # Per alias slot (column c, then its alias: slot 2c + coin lost) everything a draw
        # needs, so that a draw reads its class's tables in one gather each: its size, its
        # first index entry, and Lemire's rejection threshold 2**32 mod n_c.
        slot_class = np.empty(2 * k, dtype=np.intp)
        slot_class[0::2] = np.arange(k)
        slot_class[1::2] = self._alias
        self._slot_size = counts[slot_class].astype(np.uint64)
        self._slot_offset = index.offsets[slot_class].astype(np.int64)
        safe = np.maximum(self._slot_size, np.uint64(1))
        self._slot_reject = np.uint64(_LEMIRE_LIMIT) % safe
        self._max_reject = int(self._slot_reject.max(initial=0))
        self._lemire_ok = int(counts.max()) < _LEMIRE_LIMIT

    def draw(self, epoch: int, rank: int, chunk: int, rows: int) -> IntMatrix:
        rng = keys.generator(self.setting.seed, keys.TAG_RANDOM, epoch, rank, chunk)
        draws = rows * self.setting.batch_size
        # Class: Walker's alias table, O(1) per draw. One uniform u in [0, 1) gives both the
        # column, floor(u K), and the coin, frac(u K) < prob[column] (see alias_table); the
        # draw's alias slot is 2 column + (coin lost), so no class array is formed.
        scaled = rng.random(draws)
        scaled *= self._alias.size
        slot = scaled.astype(np.intp)  # <= K - 1: u <= 1 - 2**-53 and u*K rounds below K
        # The coin is lost when frac(u K) >= prob[column], that is u K >= column + prob, which
        # is exactly u K >= the bound (see coin_bounds). Indices below are in range by
        # construction, so every take clips instead of checking them.
        lost = scaled >= self._coin_bound.take(slot, mode="clip")
        slot <<= 1
        slot += lost
        # Member: uniform in 0 .. n_c - 1, then its dataset position.
        if self._lemire_ok:
            member = self._lemire(rng, slot)
        else:
            member = rng.integers(0, self._slot_size.take(slot).astype(np.int64))
        member += self._slot_offset.take(slot, mode="clip")
        positions = self.setting.index.positions
        return positions.take(member, mode="clip").astype(np.int64).reshape(rows, -1)

    def _lemire(self, rng: np.random.Generator, slot: npt.NDArray[np.intp]) -> IntVector:
        """Exact uniform members: ``(x * n_c) >> 32`` for uniform 32-bit ``x``, rejecting the
        ``2**32 mod n_c`` low products that would bias it (Lemire 2019).

        Each 64-bit word of the generator gives two independent 32-bit ``x``.
        """
        sizes = self._slot_size.take(slot, mode="clip")
        words = rng.bit_generator.random_raw((slot.size + 1) // 2)
        product = np.multiply(words.view(np.uint32)[: slot.size], sizes)
        # The rejection zone lies below max(2**32 mod n_c): screen the low halves (a strided
        # view, no copy) on that, then test the few exactly.
        low = product.view(np.uint32)[_LOW_HALF::2]
        suspect = np.flatnonzero(low < self._max_reject)
        if suspect.size:
            reject = self._slot_reject
            rejected = suspect[low[suspect] < reject[slot[suspect]]]
            while rejected.size:
                redo = rng.bit_generator.random_raw(rejected.size) >> np.uint64(32)
                redo *= sizes[rejected]
                product[rejected] = redo
                low_redo = redo & np.uint64(_LEMIRE_LIMIT - 1)
                rejected = rejected[low_redo < reject[slot[rejected]]]
        product >>= np.uint64(32)
        return product.view(np.int64)

    def describe(self) -> dict[str, Any]:
        return {"alias_columns": int(self._alias.size)}


def coin_bounds(prob: FloatVector) -> FloatVector:
    """Per alias column ``c``, the least float64 at or above ``c + prob[c]``.

    A draw scales its uniform ``u`` to ``x = u K``, a float64 whose column is
    ``c = floor(x)``; it keeps its column when ``frac(x) < prob[c]``. Since ``x - c`` is exact
    and ``x`` is a float64, ``x - c >= prob[c]`` holds exactly when ``x >= bound[c]``: one
    comparison decides the coin, with no subtraction, and the draws are the same.

    Parameters
    ----------
    prob : numpy.ndarray of float64, shape (K,)
        The alias table's probabilities, in [0, 1] (:func:`alias_table`).

    Returns
    -------
    numpy.ndarray of float64, shape (K,)

    Examples
    --------
    >>> import numpy as np
    >>> from refsampler.kinds.random import coin_bounds
    >>> coin_bounds(np.array([1.0, 0.75, 0.1])).tolist()
    [1.0, 1.75, 2.1]
    """
    column = np.arange(prob.size, dtype=np.float64)
    bound = column + prob
    # Round to nearest gave bound; where it rounded below the real sum (the subtraction is
    # exact: bound lies within a factor of 2 of column, or column is 0), step up one float.
    low = (bound - column) < prob
    bound[low] = np.nextafter(bound[low], np.inf)
    return bound


def build(setting: Setting) -> RandomPlan:
    """The random kind's plan."""
    return RandomPlan(setting)
