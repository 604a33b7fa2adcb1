"""Batch ``k`` of epoch ``e`` on rank ``r`` -> dataset positions. Imports numpy only.

A :class:`Plan` holds the immutable tables of one configuration (counts, quota checkpoints,
the class alias table) and computes batches in chunks of :attr:`Plan.chunk_batches` batches.
Every random number comes from a generator keyed by :class:`numpy.random.SeedSequence` on the
seed and the coordinates it serves:

* within-class cycles: ``(seed, class, cycle block)``, shared by every rank and epoch, so that a
  class's stream of draws is one sequence of fresh permutations that ranks split disjointly;
* within-batch shuffles and random-kind draws: ``(seed, epoch, rank, chunk)``.

Batch ``k`` therefore depends on ``(seed, epoch, rank, k)`` and the configuration only, and
any batch can be computed without the ones before it.

Cost. Construction is one stable argsort of the labels (in :class:`ClassIndex`) plus O(K)
tables; the quota kind also runs its schedule once over the epoch to store checkpoints. A chunk
costs O(draws) vectorised numpy work. Memory is O(N + chunk): the class index, and for the
fixed and quota kinds a memo of each class's current cycle block (at most ``2 N`` entries).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .allocation import allocate, quota_picks
from .classes import ClassIndex

__all__ = ["Plan"]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]

_TAG_CYCLE, _TAG_SHUFFLE, _TAG_RANDOM = 0, 1, 2
#: Draws per chunk: large enough to amortise numpy call overhead, small enough that the
#: first batch comes quickly and memory stays O(N + chunk).
CHUNK_DRAWS = 1 << 16
#: Small classes generate several cycles per keyed generator, so that a class of 3 members
#: does not pay for one generator per 3 draws. A block holds at most this many draws, and at
#: most ``N / K`` (rounded up to whole cycles), so the memo of blocks stays below ``2 N``.
BLOCK_DRAWS = 1 << 12
#: Exact 32-bit multiply-shift member draws need every class below this size.
_LEMIRE_LIMIT = 1 << 32


def _generator(*key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(key))))


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
    >>> from refsampler.plan import alias_table
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


class Plan:
    """The batches of one sampler configuration, as a pure function of (epoch, rank, k).

    Parameters
    ----------
    index : ClassIndex
        Class membership.
    kind : {"fixed", "quota", "random"}
    target : numpy.ndarray of float64, shape (K,)
        Validated target shares; every class with a positive share is non-empty.
    batch_size, n_batches, seed, num_replicas : int
        Validated configuration.

    Notes
    -----
    The tables are fixed at construction. The only mutable member is a memo of the most
    recent cycle block of each class, which never changes a result.

    Random kind: a class is drawn in O(1) from Walker's alias table
    (:func:`alias_table`), then a member uniformly with Lemire's exact multiply-shift method
    with rejection [1]_. Fixed and quota kinds: each class's stream position of every draw is
    computed from the counts, and looked up in the memo of its cycle blocks; only a block that
    is not in the memo costs a keyed generator.

    References
    ----------
    .. [1] D. Lemire, "Fast random integer generation in an interval", ACM TOMACS 29(1), 2019.
    """

    def __init__(
        self,
        index: ClassIndex,
        kind: str,
        target: FloatVector,
        batch_size: int,
        n_batches: int,
        seed: int,
        num_replicas: int = 1,
    ) -> None:
        self.index = index
        self.kind = kind
        self.target = target
        self.batch_size = batch_size
        self.n_batches = n_batches
        self.seed = seed
        self.num_replicas = num_replicas
        counts = index.counts
        self._counts = counts
        k = counts.size
        #: Batches per chunk.
        self.chunk_batches = max(1, CHUNK_DRAWS // batch_size)
        self._floors = np.zeros(k, dtype=np.int64)
        self._checkpoints = np.zeros((0, k), dtype=np.int64)
        self._all_picks: npt.NDArray[Any] = np.zeros((0, 0), dtype=np.int64)
        self._alias_prob = np.zeros(0)
        self._alias = np.zeros(0, dtype=np.int64)
        self._block_len = np.zeros(k, dtype=np.int64)
        self._cycles_per_block = np.ones(k, dtype=np.int64)
        if kind == "fixed":
            self._floors = allocate(target, batch_size)
            epoch_draws = self._floors * n_batches
        elif kind == "quota":
            # The schedule is the same for every epoch and rank: run it once, keep the extra
            # seats of every batch (narrow ints, at most one per draw) and the running totals
            # at every chunk start, so any batch is reached in O(chunk) work.
            self._floors, picks = quota_picks(
                target, batch_size, 0, n_batches, np.zeros(k, dtype=np.int64)
            )
            self._all_picks = picks.astype(np.min_scalar_type(max(k - 1, 0)))
            checkpoints = np.zeros((self.n_chunks + 1, k), dtype=np.int64)
            for j in range(self.n_chunks):
                k0, k1 = self._chunk_bounds(j)
                checkpoints[j + 1] = checkpoints[j] + (k1 - k0) * self._floors
                checkpoints[j + 1] += np.bincount(picks[k0:k1].ravel(), minlength=k)
            self._checkpoints = checkpoints
            epoch_draws = checkpoints[-1].copy()
        else:
            self._alias_prob, self._alias = alias_table(target)
            epoch_draws = np.zeros(k, dtype=np.int64)
            # Lemire's rejection threshold 2**32 mod n_c per class (member draws).
            self._lemire_count = counts.astype(np.uint64)
            safe = np.maximum(counts, 1).astype(np.uint64)
            self._lemire_reject = (np.uint64(_LEMIRE_LIMIT) % safe).astype(np.uint64)
            self._lemire_ok = int(counts.max()) < _LEMIRE_LIMIT
        if kind != "random":
            cap = max(1, min(BLOCK_DRAWS, -(-index.size // max(k, 1))))
            sizes = np.maximum(counts, 1)
            self._cycles_per_block = np.maximum(1, cap // sizes)
            self._block_len = self._cycles_per_block * sizes
        self._memo: npt.NDArray[Any] | None = None
        self._memo_start = np.zeros(k + 1, dtype=np.int64)
        np.cumsum(self._block_len, out=self._memo_start[1:])
        self._memo_block = np.full(k, -1, dtype=np.int64)
        #: Draws of each class per epoch by one rank; a class stream advances
        #: ``num_replicas`` times this per epoch.
        self.epoch_draws: IntVector = epoch_draws

    # -- geometry --------------------------------------------------------------------------

    @property
    def n_chunks(self) -> int:
        """Chunks per epoch."""
        return -(-self.n_batches // self.chunk_batches)

    def _chunk_bounds(self, j: int) -> tuple[int, int]:
        k0 = j * self.chunk_batches
        return k0, min(k0 + self.chunk_batches, self.n_batches)

    # -- counts ----------------------------------------------------------------------------

    def counts_rows(self, start: int, stop: int) -> IntMatrix:
        """Per-class counts of batches ``start .. stop-1`` (fixed and quota kinds)."""
        if self.kind == "fixed":
            return np.broadcast_to(self._floors, (stop - start, self._floors.size)).copy()
        if self.kind != "quota":
            raise ValueError(f"kind {self.kind!r} has no fixed counts")
        k0, picks = self._picks(start, stop)
        rows = np.empty((stop - k0, self._floors.size), dtype=np.int64)
        rows[:] = self._floors
        if picks.size:
            rows[np.arange(stop - k0)[:, None], picks] += 1
        return rows[start - k0 :]

    def _picks(self, start: int, stop: int) -> tuple[int, IntMatrix]:
        """(first batch k0 <= start of its chunk, quota picks of batches k0 .. stop-1)."""
        k0 = (start // self.chunk_batches) * self.chunk_batches
        return k0, self._all_picks[k0:stop].astype(np.int64)

    # -- batches ---------------------------------------------------------------------------

    def batches(self, epoch: int, rank: int, start: int = 0, stop: int | None = None) -> IntMatrix:
        """Positions of batches ``start .. stop-1`` of ``epoch`` on ``rank``.

        Returns
        -------
        numpy.ndarray of int64, shape (stop - start, batch_size)
        """
        stop = self.n_batches if stop is None else stop
        if not 0 <= start <= stop <= self.n_batches:
            raise ValueError(f"batch range {start}..{stop} outside 0..{self.n_batches}")
        first = start // self.chunk_batches
        last = -(-stop // self.chunk_batches)
        parts = [self.chunk(epoch, rank, j) for j in range(first, last)]
        if not parts:
            return np.zeros((0, self.batch_size), dtype=np.int64)
        offset = first * self.chunk_batches
        return np.concatenate(parts)[start - offset : stop - offset]

    def chunk(self, epoch: int, rank: int, j: int) -> IntMatrix:
        """All batches of chunk ``j`` of ``epoch`` on ``rank``, int64 (n, batch_size)."""
        k0, k1 = self._chunk_bounds(j)
        if self.kind == "random":
            return self._random_chunk(epoch, rank, j, k1 - k0)
        return self._counted_chunk(epoch, rank, j, k0, k1)

    # -- random kind -----------------------------------------------------------------------

    def _random_chunk(self, epoch: int, rank: int, j: int, n: int) -> IntMatrix:
        rng = _generator(self.seed, _TAG_RANDOM, epoch, rank, j)
        draws = n * self.batch_size
        # Class: Walker's alias table, O(1) per draw. One uniform u in [0, 1) gives both the
        # column, floor(u K), and the coin, frac(u K) < prob[column] (see alias_table).
        uniform = rng.random(draws)
        uniform *= self._alias.size
        column = uniform.astype(np.int64)  # <= K - 1: u <= 1 - 2**-53 and u*K rounds below K
        uniform -= column
        classes = np.where(uniform < self._alias_prob[column], column, self._alias[column])
        # Member: uniform in 0 .. n_c - 1.
        if self._lemire_ok:
            member = self._lemire(rng, classes)
        else:
            member = rng.integers(0, self._counts[classes])
        member += self.index.offsets[classes]
        return self.index.positions[member].astype(np.int64).reshape(n, -1)

    def _lemire(self, rng: np.random.Generator, classes: IntVector) -> IntVector:
        """Exact uniform members: ``(x * n_c) >> 32`` for uniform 32-bit ``x``, rejecting the
        ``2**32 mod n_c`` low products that would bias it (Lemire 2019)."""
        sizes = self._lemire_count[classes]
        product = rng.bit_generator.random_raw(classes.size) >> np.uint64(32)
        product *= sizes
        # The rejection zone lies below n_c; screen on that, then test the few exactly.
        low = product & np.uint64(_LEMIRE_LIMIT - 1)
        suspect = np.flatnonzero(low < sizes)
        if suspect.size:
            rejected = suspect[low[suspect] < self._lemire_reject[classes[suspect]]]
            while rejected.size:
                redo = rng.bit_generator.random_raw(rejected.size) >> np.uint64(32)
                redo *= sizes[rejected]
                product[rejected] = redo
                low_redo = redo & np.uint64(_LEMIRE_LIMIT - 1)
                rejected = rejected[low_redo < self._lemire_reject[classes[rejected]]]
        product >>= np.uint64(32)
        return product.view(np.int64)

    # -- fixed and quota kinds -------------------------------------------------------------

    def _entries(self, k0: int, k1: int) -> tuple[IntVector, IntVector, IntVector, IntVector]:
        """Sparse counts of batches ``k0 .. k1-1``, batch-major.

        Returns ``(batch, class, count, before)`` per (batch, class) with a positive count;
        ``before`` is the class's running total on this rank's schedule before that batch.
        """
        n = k1 - k0
        floors = self._floors
        base_classes = np.flatnonzero(floors)
        if self.kind == "fixed":
            batch = np.repeat(np.arange(n), base_classes.size)
            cls = np.tile(base_classes, n)
            count = floors[cls]
            before = (batch + k0) * count
            return batch, cls, count, before
        _, picks = self._picks(k0, k1)
        checkpoint = self._checkpoints[k0 // self.chunk_batches]
        d = picks.shape[1]
        # Which picked classes already have a base entry (floor > 0).
        in_base = floors[picks] > 0 if d else np.zeros((n, 0), dtype=bool)
        base_pos = np.searchsorted(base_classes, picks)
        # Base entries: floor plus one when picked in that batch.
        extra = np.zeros((n, base_classes.size), dtype=np.int64)
        rows_idx = np.broadcast_to(np.arange(n)[:, None], picks.shape)
        extra[rows_idx[in_base], base_pos[in_base]] = 1
        extra_before = np.cumsum(extra, axis=0) - extra
        base_count = floors[base_classes] + extra
        base_before = (
            checkpoint[base_classes] + np.arange(n)[:, None] * floors[base_classes] + extra_before
        )
        # Picked classes with floor 0: one draw each; before = checkpoint + earlier picks.
        lone_rows = rows_idx[~in_base]
        lone_cls = picks[~in_base]
        order = np.argsort(lone_cls, kind="stable")
        sorted_cls = lone_cls[order]
        group_start = np.searchsorted(sorted_cls, sorted_cls, side="left")
        occurrence = np.empty(order.size, dtype=np.int64)
        occurrence[order] = np.arange(order.size) - group_start
        lone_before = checkpoint[lone_cls] + occurrence
        # Merge batch-major: base entries of a batch, then its lone picks (a scatter).
        if lone_cls.size == 0:
            batch = np.repeat(np.arange(n), base_classes.size)
            return batch, np.tile(base_classes, n), base_count.ravel(), base_before.ravel()
        lone_per_batch = np.bincount(lone_rows, minlength=n)
        batch_start = np.arange(n) * base_classes.size + np.cumsum(lone_per_batch)
        batch_start -= lone_per_batch
        lone_rank = (
            np.arange(lone_rows.size) - (np.cumsum(lone_per_batch) - lone_per_batch)[lone_rows]
        )
        base_dest = (batch_start[:, None] + np.arange(base_classes.size)).ravel()
        lone_dest = batch_start[lone_rows] + base_classes.size + lone_rank
        total = base_dest.size + lone_dest.size
        batch, cls = np.empty(total, np.int64), np.empty(total, np.int64)
        count, before = np.ones(total, np.int64), np.empty(total, np.int64)
        batch[base_dest] = np.repeat(np.arange(n), base_classes.size)
        batch[lone_dest] = lone_rows
        cls[base_dest] = np.tile(base_classes, n)
        cls[lone_dest] = lone_cls
        count[base_dest] = base_count.ravel()
        before[base_dest] = base_before.ravel()
        before[lone_dest] = lone_before
        return batch, cls, count, before

    def _counted_chunk(self, epoch: int, rank: int, j: int, k0: int, k1: int) -> IntMatrix:
        n = k1 - k0
        _, cls, count, before = self._entries(k0, k1)
        replicas = self.num_replicas
        # Stream position of each (batch, class) entry: earlier epochs, earlier steps of all
        # ranks, then the lower ranks of this step. Ranks never share a stream position.
        stream = (epoch * replicas) * self.epoch_draws[cls] + replicas * before
        stream += rank * count
        drawn = self._draw_positions(cls, stream, count)
        batches = drawn.astype(np.int64).reshape(n, self.batch_size)
        # Within a batch, positions are a uniform shuffle: no ordering by class.
        return _generator(self.seed, _TAG_SHUFFLE, epoch, rank, j).permuted(batches, axis=1)

    def _draw_positions(
        self, cls: IntVector, stream: IntVector, count: IntVector
    ) -> npt.NDArray[Any]:
        """Dataset positions of every draw of the entries, in entry order.

        Entry ``e`` draws ``count[e]`` consecutive stream positions of class ``cls[e]`` from
        ``stream[e]`` on. The memo is brought to hold the block each class needs; a class whose
        draws span several blocks in this chunk is looked up block by block instead.
        """
        k = self._block_len.size
        # First and last stream position of every class in this chunk, then their blocks.
        low = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
        high = np.full(k, -1, dtype=np.int64)
        np.minimum.at(low, cls, stream)
        np.maximum.at(high, cls, stream + count - 1)
        present = high >= 0
        low[present] //= self._block_len[present]
        high[present] //= self._block_len[present]
        memo = self._memo_table()
        # Every class starts the chunk in block `low`: refresh the stale ones (a keyed
        # generator each; the memo keeps the most recent block of every class).
        for c in np.flatnonzero(present & (self._memo_block != low)).tolist():
            self._remember(memo, c, int(low[c]))
        entry_start = np.cumsum(count) - count
        # Memo slot of an entry's first draw, less its draw index: its draws follow on.
        base = self._memo_start[cls] + stream - low[cls] * self._block_len[cls] - entry_start
        spanning = np.flatnonzero(high > low)
        if spanning.size:
            is_spanning = np.zeros(k, dtype=bool)
            is_spanning[spanning] = True
            span_entries = np.flatnonzero(is_spanning[cls])
            base[span_entries] = -entry_start[span_entries]  # slots 0 .. count-1, clipped
        slots = np.repeat(base, count)
        slots += np.arange(slots.size)
        if spanning.size:
            # Placeholders (filled in below) must still index the memo: an entry may draw
            # more than the whole memo holds (one member, two draws a batch).
            np.minimum(slots, memo.size - 1, out=slots)
        positions = memo[slots]
        if spanning.size == 0:
            return positions
        # Classes whose draws cross block boundaries in this chunk: block by block, all such
        # classes at once; each round moves every class that needs it to its next block.
        span_count = count[span_entries]
        offset = np.repeat(np.cumsum(span_count) - span_count, span_count)
        np.subtract(np.arange(offset.size), offset, out=offset)
        draws = np.repeat(entry_start[span_entries], span_count) + offset
        draw_stream = np.repeat(stream[span_entries], span_count) + offset
        draw_cls = np.repeat(cls[span_entries], span_count)
        draw_len = self._block_len[draw_cls]
        draw_block = draw_stream // draw_len
        # A class crossing more than one boundary (blocks shorter than its draws per chunk)
        # walks its blocks alone, so the rounds below stay at most two.
        many = draw_block > low[draw_cls] + 1
        if many.any():
            walkers = np.unique(draw_cls[many])
            alone = np.isin(draw_cls, walkers)
            self._walk_blocks(memo, positions, draws[alone], draw_stream[alone], draw_cls[alone])
            keep = ~alone
            draws, draw_stream, draw_cls = draws[keep], draw_stream[keep], draw_cls[keep]
            draw_len, draw_block = draw_len[keep], draw_block[keep]
        current = low.copy()
        while draws.size:
            here = draw_block == current[draw_cls]
            positions[draws[here]] = memo[
                self._memo_start[draw_cls[here]]
                + draw_stream[here]
                - current[draw_cls[here]] * draw_len[here]
            ]
            keep = ~here
            draws, draw_stream, draw_cls = draws[keep], draw_stream[keep], draw_cls[keep]
            draw_len, draw_block = draw_len[keep], draw_block[keep]
            moving = np.unique(draw_cls)
            current[moving] += 1
            for c in moving.tolist():
                self._remember(memo, c, int(current[c]))
        return positions

    def _walk_blocks(
        self,
        memo: npt.NDArray[Any],
        positions: npt.NDArray[Any],
        draws: IntVector,
        stream: IntVector,
        cls: IntVector,
    ) -> None:
        """Fill ``positions[draws]`` class by class from each class's consecutive blocks."""
        order = np.argsort(cls, kind="stable")
        classes, starts = np.unique(cls[order], return_index=True)
        bounds = [*starts.tolist(), order.size]
        for i, c in enumerate(classes.tolist()):
            rows = order[bounds[i] : bounds[i + 1]]
            length = int(self._block_len[c])
            first = int(stream[rows].min()) // length
            last = int(stream[rows].max()) // length
            table = np.empty((last - first + 1) * length, dtype=memo.dtype)
            for b in range(first, last + 1):
                self._remember(memo, c, b)
                table[(b - first) * length : (b - first + 1) * length] = memo[
                    self._memo_start[c] : self._memo_start[c + 1]
                ]
            positions[draws[rows]] = table[stream[rows] - first * length]

    def _memo_table(self) -> npt.NDArray[Any]:
        """Current cycle block of every class, as dataset positions (allocated on first use)."""
        if self._memo is None:
            self._memo = np.zeros(int(self._memo_start[-1]), dtype=self.index.positions.dtype)
        return self._memo

    def _remember(self, memo: npt.NDArray[Any], c: int, b: int) -> None:
        """Put block ``b`` of class ``c`` into the memo: ``m`` cycles, each a fresh permutation
        of the class's positions, keyed by ``(seed, class, block)``."""
        members = self.index.positions[self.index.offsets[c] : self.index.offsets[c + 1]]
        region = memo[self._memo_start[c] : self._memo_start[c + 1]]
        rng = _generator(self.seed, _TAG_CYCLE, c, b)
        cycles = int(self._cycles_per_block[c])
        if cycles == 1:
            order = rng.permutation(members.size)
        else:
            order = np.tile(np.arange(members.size), (cycles, 1))
            rng.permuted(order, axis=1, out=order)
        np.take(members, order.reshape(-1), out=region)
        self._memo_block[c] = b
