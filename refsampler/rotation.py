"""Rotations: endless rounds of fresh random permutations, read in slots without repeats.

A :class:`Rotation` over ``size`` items is a stream of positions ``0, 1, 2, ...``; positions
``r * size .. (r + 1) * size - 1`` form *round* ``r``, a uniformly random permutation of the
items keyed by ``(key, r)``. Consumers read the stream in *slots*: consecutive runs of
positions that partition it (the draws a batch takes from a class, the seats a batch gives a
group of classes, the tied seats of an epoch). Slots may be grouped into *steps* (the
``num_replicas`` batches of one global step). Every item appears exactly once per round, so
after ``n`` positions each item has appeared ``floor(n / size)`` or ``ceil(n / size)`` times.

**Head rule.** At the start of round ``r`` the slot (and step) that straddles the boundary
already holds some items of round ``r - 1``: ``T_slot`` (and ``T_step``); a slot longer than a
round repeats items whatever the order, and the rule ignores it. Round ``r`` is its
base permutation with its first ``h`` items chosen in this order of preference -- items in
neither, then items only in ``T_step``, then items of ``T_slot`` -- each class in base order;
``h`` is the step's part of round ``r`` (the slot's, without steps). Items passed over follow
in base order, then the rest of the base permutation unchanged. So no item repeats inside a
slot that holds at most ``size`` positions, a step holds ``min(size, step length)`` distinct
items, and every round stays a permutation. Only a prefix of a round differs from its base.

Where slots fall is the consumer's business: it passes *oracles*, functions that return the
slot (step) ``(start, stop)`` containing a position. Rounds are generated in blocks of
:attr:`Rotation.rounds_per_block` from one keyed stream per rotation, and the most recent
blocks and rounds are kept in bounded, thread-safe caches (results never depend on them).
Imports numpy only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from . import keys

__all__ = ["Rotation", "SlotOracle", "adjust_heads", "adjust_round", "block_rounds"]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]
SlotOracle = Callable[[int], tuple[int, int]]

#: A block of rounds holds about this many positions, so that small rotations do not pay
#: for one keyed generator per round.
BLOCK_POSITIONS = 1 << 12
#: Preference ranks of the head rule.
_FREE, _STEP_ONLY, _SLOT = 0, 1, 2


def block_rounds(start: tuple[int, int], size: int, block: int, rows: int) -> IntVector:
    """Base permutations of rounds ``block * rows .. (block + 1) * rows - 1`` of the stream
    that starts at ``start``, shape (rows, size): the one definition every reader shares."""
    return keys.uniform_order(keys.block_generator(start, block), size, rows)


def adjust_round(base: IntVector, head: int, rank: IntVector) -> tuple[IntVector, int]:
    """Apply the head rule to one round.

    Parameters
    ----------
    base : numpy.ndarray of int64, shape (size,)
        The round's base permutation (items ``0 .. size - 1``).
    head : int
        Positions of this round the head rule fills.
    rank : numpy.ndarray of int, shape (size,)
        Preference of each item (lower first); items of equal rank keep base order.

    Returns
    -------
    actual : numpy.ndarray of int64, shape (size,)
        The round as read.
    changed : int
        Length of the prefix that may differ from ``base``.

    Examples
    --------
    >>> import numpy as np
    >>> from refsampler.rotation import adjust_round
    >>> actual, changed = adjust_round(np.array([3, 0, 1, 2]), 2, np.array([0, 0, 0, 2]))
    >>> actual.tolist(), changed
    ([0, 1, 3, 2], 3)
    """
    return _adjust(base, min(head, base.size), rank[base])


def _adjust(base: IntVector, head: int, ranks: IntVector) -> tuple[IntVector, int]:
    """:func:`adjust_round` with the ranks given per position of ``base`` (which may be just
    a prefix of the round long enough to hold the head)."""
    size = base.size
    if head <= 0 or not ranks.any():
        return base, 0
    # The head: the best `head` items by (rank, base position).
    order = np.lexsort((np.arange(size), ranks))
    chosen = order[:head]
    end = int(chosen.max()) + 1
    if end == head and bool((np.diff(chosen) > 0).all()):  # already the base prefix
        return base, 0
    taken = np.zeros(end, dtype=bool)
    taken[chosen] = True
    prefix = base[:end]
    actual = np.concatenate((base[chosen], prefix[~taken], base[end:]))
    return actual, end


def _tails(previous: IntMatrix, x: IntVector, width: int) -> IntMatrix:
    """The last ``x[i]`` items of each row of ``previous``, left-aligned in rows of
    ``width`` and padded with -1."""
    n = previous.shape[1]
    at = n - x[:, None] + np.arange(width)
    picked = np.take_along_axis(previous, np.minimum(at, n - 1), 1)
    return np.where(at < n, picked, -1)


def adjust_heads(
    prefix: IntMatrix, tails: IntMatrix, heads: IntVector
) -> tuple[IntMatrix, IntVector]:
    """The head rule (without steps) on many rounds at once.

    Parameters
    ----------
    prefix : numpy.ndarray of int64, shape (m, width)
        Each round's first items in base order: at least ``heads[i]`` plus the tail's length
        of them, then any padding that matches no tail entry.
    tails : numpy.ndarray of int64, shape (m, w)
        The items the straddling slot took from the previous round, padded with a value
        that matches no prefix entry.
    heads : numpy.ndarray of int64, shape (m,)
        Positions of each round the rule fills.

    Returns
    -------
    adjusted : numpy.ndarray of int64, shape (m, width)
        The prefixes as read: the first ``heads[i]`` items not in the tail, then the tail
        items passed over, in base order, then the rest unchanged.
    changed : numpy.ndarray of int64, shape (m,)
        The length of each prefix that differs from base order (0 if none).
    """
    flagged = _in_rows(prefix, tails)
    free_seen = np.cumsum(~flagged, axis=1)
    end = np.argmax(free_seen >= heads[:, None], axis=1) + 1
    position = np.arange(prefix.shape[1])
    key = np.where(position < end[:, None], flagged.astype(np.int64), 2)
    order = np.argsort(key, axis=1, kind="stable")
    changed = np.where(end > heads, end, 0)
    return np.take_along_axis(prefix, order, 1), changed


#: Largest item + 1 for which :func:`_in_rows` marks items in a table, row by row.
_TABLE_ITEMS = 1 << 12


def _in_rows(prefix: IntMatrix, tails: IntMatrix) -> npt.NDArray[np.bool_]:
    """Which entries of each row of ``prefix`` occur in the same row of ``tails`` (negative
    entries are padding and match nothing)."""
    m = prefix.shape[0]
    top = max(int(prefix.max(initial=0)), int(tails.max(initial=0))) + 1
    if top > _TABLE_ITEMS or tails.shape[1] < 8:
        # Large items (dataset positions) or short tails: compare every pair.
        return (prefix[:, :, None] == tails[:, None, :]).any(axis=2)
    # Small items (a group's classes): mark each row's tail in a row of a table, then read
    # the prefix from it; column `top` stays False and stands for the padding.
    table = np.zeros((m, top + 1), dtype=bool)
    rows = np.broadcast_to(np.arange(m)[:, None], tails.shape)
    table[rows, np.where(tails >= 0, tails, top)] = True
    table[:, top] = False
    return table[np.arange(m)[:, None], np.where(prefix >= 0, prefix, top)]


class Rotation:
    """Endless rounds of keyed random permutations of ``range(size)``, read in slots.

    Parameters
    ----------
    size : int
        Number of items (``>= 1``).
    key : tuple of int
        Keys the rounds: round ``r`` comes from the stream keyed by ``key``.
    slot_of : callable, optional
        ``slot_of(position) -> (start, stop)`` with ``start <= position < stop``. Without one
        (or with ``max_slot`` 1 and no steps) rounds are their base permutations.
    max_slot : int, default 1
        An upper bound of the slot lengths (with 1, no slot can straddle two rounds).
    min_slot : int, default 0
        A lower bound of the slot lengths: when it passes ``size``, every slot is longer than
        a round, so the head rule (which a slot longer than a round cannot satisfy) never
        needs the slot oracle.
    rounds_per_block : int, optional
        Rounds generated by one keyed generator (default: about :data:`BLOCK_POSITIONS`
        positions' worth).
    step_of : callable, optional
        ``step_of(position) -> (start, stop)``: the step containing ``position`` (a run of
        whole slots). Without it every slot is its own step.
    period : int, optional
        Declares that the slots are the runs ``[i * period, (i + 1) * period)`` (no steps):
        rounds are then read many at a time with the head rule applied to all of them in one
        vectorised pass (:meth:`items`). Results are the same as round by round.
    start : tuple of int, optional
        The PCG64 ``(state, increment)`` the rounds' stream starts from (default:
        :func:`keys.stream_start(*key) <refsampler.keys.stream_start>`); a reader that keys
        its streams another way passes its own, so both read the same rounds.
    lazy : bool, default False
        Base rounds are keyed Feistel bijections (:func:`~refsampler.keys.feistel_permute`,
        keyed by ``(*key, r)``) instead of shuffles, so that any stretch of a round is read
        in O(its length) (:meth:`base_items`) without building the whole round: for large
        item sets, whose first positions are needed long before the rest.

    Notes
    -----
    Instances hold immutable configuration and two bounded ``functools.lru_cache`` caches
    (blocks of base rounds, rounds as read), which are thread-safe and never change a result,
    so one rotation may serve many threads.
    """

    def __init__(
        self,
        size: int,
        key: tuple[int, ...],
        slot_of: SlotOracle | None = None,
        max_slot: int = 1,
        rounds_per_block: int | None = None,
        step_of: SlotOracle | None = None,
        lazy: bool = False,
        start: tuple[int, int] | None = None,
        period: int | None = None,
        min_slot: int = 0,
    ) -> None:
        self.size = int(size)
        self.min_slot = int(min_slot)
        self.lazy = bool(lazy)
        self.period = period
        self.key = tuple(int(k) for k in key)
        self.slot_of = slot_of
        self.step_of = step_of
        self.max_slot = int(max_slot)
        #: Rounds generated by one keyed generator.
        self.rounds_per_block = (
            max(1, BLOCK_POSITIONS // self.size) if rounds_per_block is None else rounds_per_block
        )
        if self.lazy:
            self.rounds_per_block = 1
        # Keyed on first use: a schedule with thousands of groups reads few of them early.
        self._start: tuple[int, int] | None = start
        self._make_caches()

    def _make_caches(self) -> None:
        # Built on first use (cheap to lose in a race: both caches give equal results).
        self._block: Callable[[int], IntVector] | None = None
        self._round: Callable[[int], tuple[IntVector, int]] | None = None
        self._head: Callable[[int], tuple[IntVector, int]] | None = None
        # The round computed last, as read: (r, round, changed). Reading rounds in order, a
        # chain then starts from it instead of from its first link (which can lie far back
        # when rounds are short), so each round costs one link.
        self._last: tuple[int, IntVector, int] | None = None

    def _blocks(self) -> Callable[[int], IntVector]:
        if self._block is None:
            self._block = functools.lru_cache(maxsize=8)(self._compute_block)
        return self._block

    def _rounds(self) -> Callable[[int], tuple[IntVector, int]]:
        if self._round is None:
            self._round = functools.lru_cache(maxsize=64)(self._compute_round)
        return self._round

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_block"], state["_round"], state["_head"], state["_last"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"min_slot": 0, **state})  # pickled before min_slot existed
        self._make_caches()

    # -- base rounds -----------------------------------------------------------------------

    def _compute_block(self, block: int) -> IntVector:
        if self.lazy:
            rounds = self.base_items(block * self.size, (block + 1) * self.size)[None, :]
            rounds.flags.writeable = False
            return rounds
        if self._start is None:
            self._start = keys.stream_start(*self.key)
        rounds = block_rounds(self._start, self.size, block, self.rounds_per_block)
        rounds.flags.writeable = False
        return rounds

    def base_items(self, start: int, stop: int) -> IntVector:
        """Items of the base rounds at positions ``start .. stop - 1`` (lazy rotations)."""
        positions = np.arange(start, stop, dtype=np.int64)
        first, last = start // self.size, (stop - 1) // self.size
        offsets = positions - first * self.size
        if first == last:
            return keys.feistel_permute(offsets, self.size, keys.feistel_keys(*self.key, first))
        table = np.stack([keys.feistel_keys(*self.key, r) for r in range(first, last + 1)])
        round_of = offsets // self.size
        return keys.feistel_permute(offsets % self.size, self.size, table, round_of)

    def base_round(self, r: int) -> IntVector:
        """Round ``r``'s base permutation (before the head rule)."""
        block, row = divmod(r, self.rounds_per_block)
        return self._blocks()(block)[row]

    # -- rounds as read --------------------------------------------------------------------

    def _boundary(self, r: int) -> tuple[int, int, int]:
        """What the head rule of round ``r`` needs: ``(x_slot, x_step, head)``, the slot's and
        the step's positions before the boundary (``x_step`` is -1 when the step already holds
        a whole round before it) and the positions of round ``r`` the rule fills."""
        if r == 0 or self.slot_of is None:
            return 0, -1, 0
        boundary = r * self.size
        x_slot = head = 0
        if self.max_slot >= 2 and self.min_slot <= self.size:
            start, stop = self.slot_of(boundary - 1)
            # A slot longer than a round repeats items whatever the order: no rule then.
            if stop > boundary and stop - start <= self.size:
                x_slot, head = boundary - start, stop - boundary
        x_step = -1
        if self.step_of is not None:
            start, stop = self.step_of(boundary - 1)
            if stop > boundary and start > boundary - self.size:
                x_step, head = boundary - start, stop - boundary
        return x_slot, x_step, head

    def _short_heads(self) -> bool:
        """True when no round's changed head can reach the tail the next boundary reads,
        whatever the slots: without steps a changed head spans at most ``max_slot``
        positions and the tail read fewer than ``max_slot``, so with ``2 * max_slot <= size``
        the answer needs no slot oracle (whose reads may lie a whole round back)."""
        return self.step_of is None and 2 * self.max_slot <= self.size

    def _reach(self, r: int) -> int:
        """An upper bound of the changed prefix of round ``r``."""
        x_slot, x_step, head = self._boundary(r)
        if head == 0:
            return 0
        return min(self.size, head + max(x_slot, x_step))

    def head_of(self, r: int) -> tuple[IntVector, int]:
        """The prefix of round ``r`` that differs from its base permutation, and its length:
        what a reader of the base rounds patches. A lazy rotation computes it from the
        round's first positions and the previous round's last ones alone."""
        if not self.lazy:
            if self._boundary(r)[2] == 0:  # no rule: spare building the round
                return np.zeros(0, dtype=np.int64), 0
            actual, changed = self.round_and_change(r)
            return actual[:changed], changed
        if self._head is None:
            self._head = functools.lru_cache(maxsize=64)(self._compute_head)
        return self._head(r)

    def _compute_head(self, r: int) -> tuple[IntVector, int]:
        x_slot, x_step, head = self._boundary(r)
        empty = np.zeros(0, dtype=np.int64)
        if head == 0:
            return empty, 0
        x = max(x_slot, x_step)
        if not self._short_heads() and self._reach(r - 1) > self.size - x:  # a chain
            actual, changed = self.round_and_change(r)
            return actual[:changed], changed
        boundary = r * self.size
        prefix = self.base_items(boundary, boundary + min(self.size, head + x))
        tail = self.base_items(boundary - x, boundary)  # the previous round's, unchanged
        ranks = np.full(prefix.size, _FREE, dtype=np.int64)
        if x_step > 0:
            ranks[np.isin(prefix, tail[x - x_step :])] = _STEP_ONLY
        if x_slot > 0:
            ranks[np.isin(prefix, tail[x - x_slot :])] = _SLOT
        actual, changed = _adjust(prefix, min(head, self.size), ranks)
        return actual[:changed], changed

    def round(self, r: int) -> IntVector:
        """Round ``r`` as read (the head rule applied)."""
        return self.round_and_change(r)[0]

    def round_and_change(self, r: int) -> tuple[IntVector, int]:
        """Round ``r`` as read, and the length of its prefix that differs from the base."""
        return self._rounds()(r)

    def chain(self, r: int) -> list[tuple[int, int, int, int]]:
        """What reading round ``r`` as read takes: ``(q, x_slot, x_step, head)`` (see
        :meth:`_boundary`) of rounds ``q0 .. r``, earliest first, where round ``q0 - 1``'s
        tail, as far as the rule of round ``q0`` reads it, is its base permutation (``q0 = r``
        unless round ``q0 - 1``'s changed prefix reaches into that tail: a chain). Every
        round after the first has a head (``head > 0``)."""
        return self._walk(r, -1)[0]

    def _walk(self, r: int, known: int) -> tuple[list[tuple[int, int, int, int]], bool]:
        """:meth:`chain` of round ``r``, cut short after the link of round ``known + 1``
        (whose predecessor the caller has as read); and whether it was."""
        links: list[tuple[int, int, int, int]] = []
        q = r
        while True:
            x_slot, x_step, head = self._boundary(q)
            links.append((q, x_slot, x_step, head))
            if (
                head == 0
                or self._short_heads()
                or self._reach(q - 1) <= self.size - max(x_slot, x_step)
            ):
                return links[::-1], False
            if q - 1 == known:
                return links[::-1], True
            q -= 1

    def _links(self, r: int) -> tuple[list[tuple[int, int, int, int]], IntVector | None]:
        """:meth:`chain` of round ``r``, cut where the round before a link is the last round
        computed, and that round as read (None when the chain starts at its first link)."""
        last = self._last
        if last is None or last[0] >= r:
            return self.chain(r), None
        links, cut = self._walk(r, last[0])
        return links, last[1] if cut else None

    def _compute_round(self, r: int) -> tuple[IntVector, int]:
        # From the start of the chain (whose predecessor is read in base order), or from the
        # last round computed when the chain reaches it, forward.
        links, previous = self._links(r)
        actual, changed = self.base_round(r), 0
        for q, x_slot, x_step, head in links:
            base = self.base_round(q)
            if head == 0:
                actual, changed = base, 0
            else:
                if previous is None:
                    previous = self.base_round(q - 1)
                rank = np.full(self.size, _FREE, dtype=np.int64)
                if x_step > 0:
                    rank[previous[self.size - x_step :]] = _STEP_ONLY
                if x_slot > 0:
                    rank[previous[self.size - x_slot :]] = _SLOT
                actual, changed = adjust_round(base, head, rank)
            previous = actual
        if actual.flags.writeable:
            actual.flags.writeable = False
        self._last = (r, actual, changed)
        return actual, changed

    def items(self, start: int, stop: int) -> IntVector:
        """The items at positions ``start .. stop - 1``."""
        if self.size == 1:
            return np.zeros(max(stop - start, 0), dtype=np.int64)
        first, last = start // self.size, (stop - 1) // self.size
        if self.period is not None and self.step_of is None and not self.lazy and last - first >= 2:
            rounds = self._regular_rounds(first, last + 1).reshape(-1)
            return rounds[start - first * self.size : stop - first * self.size]
        parts = []
        pos = start
        while pos < stop:
            r, offset = divmod(pos, self.size)
            end = min(stop, (r + 1) * self.size)
            parts.append(self.round(r)[offset : offset + end - pos])
            pos = end
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate(parts)

    def _regular_rounds(self, r0: int, r1: int) -> npt.NDArray[np.int64]:
        """Rounds ``r0 .. r1 - 1`` as read, shape (r1 - r0, size), for slots of a fixed
        ``period``: the head rule of every round in one vectorised pass, then the rounds
        whose predecessor's changed head can reach the tail they read are redone from their
        predecessors as read, pass after pass, until nothing moves (see :meth:`items`)."""
        n, period = self.size, int(self.period or 0)
        per = self.rounds_per_block
        blocks = [self._blocks()(b) for b in range(r0 // per, (r1 - 1) // per + 1)]
        rounds = np.concatenate(blocks)[r0 % per : r0 % per + r1 - r0]  # a copy
        if period > n:  # a slot longer than a round: no rule
            return rounds
        r = np.arange(r0, r1)
        x = (r * n) % period  # the straddling slot's positions before each boundary
        base_prefix = rounds[:, :period].copy()
        previous = np.empty((r.size, n), dtype=np.int64)
        previous[1:] = rounds[:-1]
        if r0 > 0:
            previous[0] = self.round(r0 - 1)
        active = np.flatnonzero((r > 0) & (x > 0))
        if active.size == 0:
            return rounds
        tails = _tails(previous[active], x[active], period)
        heads, _ = adjust_heads(base_prefix[active], tails, period - x[active])
        rounds[active, :period] = heads
        # A round can read a tail its predecessor's changed head reached only when its
        # straddling slot holds more than n - period positions before the boundary; redo
        # those from their predecessors as read until nothing moves (one pass per link of the
        # longest chain).
        chained = active[(active > 0) & (x[active] > n - period)]
        while chained.size:
            tails = _tails(rounds[chained - 1], x[chained], period)
            heads, _ = adjust_heads(base_prefix[chained], tails, period - x[chained])
            moved = (heads != rounds[chained, :period]).any(axis=1)
            if not moved.any():
                break
            rounds[chained[moved], :period] = heads[moved]
        return rounds

    def counts_before(self, position: int) -> IntVector:
        """How often each item appears at positions ``0 .. position - 1``, shape (size,)."""
        if self.size == 1:
            return np.array([position], dtype=np.int64)
        r, offset = divmod(position, self.size)
        counts = np.full(self.size, r, dtype=np.int64)
        if offset:
            counts[self.round(r)[:offset]] += 1
        return counts
