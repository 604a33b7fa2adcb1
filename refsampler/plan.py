"""Batch ``k`` of epoch ``e`` on rank ``r`` -> dataset positions. Imports numpy only.

A :class:`Plan` holds the immutable tables of one configuration (counts, quota checkpoints,
the class alias table) and computes batches in chunks of :attr:`Plan.chunk_batches` batches.
Every random number comes from a generator keyed by :class:`numpy.random.SeedSequence` on the
seed and the coordinates it serves:

* within-class cycles: ``(seed, class, cycle block)``, shared by every rank and epoch, so that a
  class's stream of draws is one sequence of fresh permutations that ranks split disjointly
  (the generator keyed by ``(seed, class)``, advanced by ``2**64`` outputs per block);
* within-batch shuffles and random-kind draws: ``(seed, epoch, rank, chunk)``.

Batch ``k`` therefore depends on ``(seed, epoch, rank, k)`` and the configuration only, and
any batch can be computed without the ones before it.

Cost. Construction is one stable argsort of the labels (in :class:`ClassIndex`) plus O(K)
tables; the quota kind also runs its schedule once over the epoch to store checkpoints. A chunk
costs O(draws) vectorised numpy work. Memory is O(N + chunk): the class index, and for the
fixed and quota kinds a memo of each class's current cycle block (at most ``2 N`` entries)
plus a scratch area for the draws that cross into a class's next block (at most about twice
the chunk's draws times ``num_replicas``).
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
#: Index of the low 32-bit half of a uint64 viewed as two uint32.
_LOW_HALF = 0 if np.little_endian else 1


def _generator(*key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(key))))


def _end_entries(per_batch: int, total: int) -> IntVector:
    """Entries of the first and the last batch, when every batch has ``per_batch``."""
    head = np.arange(per_batch)
    return np.concatenate((head, head + (total - per_batch)))


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
        k = counts.size
        #: Batches per chunk.
        self.chunk_batches = max(1, CHUNK_DRAWS // batch_size)
        self._floors = np.zeros(k, dtype=np.int64)
        self._checkpoints = np.zeros((0, k), dtype=np.int64)
        self._all_picks: npt.NDArray[Any] = np.zeros((0, 0), dtype=np.int64)
        #: Quota kind: each class's place among the classes with a positive floor, else -1.
        self._base_index = np.full(k, -1, dtype=np.int64)
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
            base = np.flatnonzero(self._floors)
            self._base_index[base] = np.arange(base.size)
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
        if kind != "random":
            cap = max(1, min(BLOCK_DRAWS, -(-index.size // max(k, 1))))
            sizes = np.maximum(counts, 1)
            self._cycles_per_block = np.maximum(1, cap // sizes)
            self._block_len = self._cycles_per_block * sizes
        self._memo: npt.NDArray[Any] | None = None
        self._memo_start = np.zeros(k + 1, dtype=np.int64)
        np.cumsum(self._block_len, out=self._memo_start[1:])
        self._memo_block = np.full(k, -1, dtype=np.int64)
        #: Start state of each class's cycle stream (filled on first use), and the one
        #: bit generator that is set to a block's start before its permutations.
        self._class_streams: dict[int, tuple[int, int]] = {}
        self._cycle_bits = np.random.PCG64(0)
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
        # column, floor(u K), and the coin, frac(u K) < prob[column] (see alias_table); the
        # draw's alias slot is 2 column + (coin lost), so no class array is formed.
        uniform = rng.random(draws)
        uniform *= self._alias.size
        slot = uniform.astype(np.intp)  # <= K - 1: u <= 1 - 2**-53 and u*K rounds below K
        uniform -= slot  # exact: frac(u K)
        lost = uniform >= self._alias_prob.take(slot)
        slot *= 2
        slot += lost
        # Member: uniform in 0 .. n_c - 1, then its dataset position.
        if self._lemire_ok:
            member = self._lemire(rng, slot)
        else:
            member = rng.integers(0, self._slot_size.take(slot).astype(np.int64))
        member += self._slot_offset.take(slot)
        return self.index.positions.take(member).astype(np.int64).reshape(n, -1)

    def _lemire(self, rng: np.random.Generator, slot: npt.NDArray[np.intp]) -> IntVector:
        """Exact uniform members: ``(x * n_c) >> 32`` for uniform 32-bit ``x``, rejecting the
        ``2**32 mod n_c`` low products that would bias it (Lemire 2019).

        Each 64-bit word of the generator gives two independent 32-bit ``x``.
        """
        sizes = self._slot_size.take(slot)
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

    # -- fixed and quota kinds -------------------------------------------------------------

    def _entries(self, k0: int, k1: int) -> tuple[IntVector, IntVector, IntVector, IntVector]:
        """Sparse counts of batches ``k0 .. k1-1``, batch-major.

        Returns ``(ends, class, count, before)`` per (batch, class) with a positive count;
        ``before`` is the class's running total on this rank's schedule before that batch.
        ``ends`` lists entries that include the first and the last entry of every class
        present (a class has at most one entry a batch, so its stream positions grow with the
        entry number).
        """
        n = k1 - k0
        floors = self._floors
        base_classes = np.flatnonzero(floors)
        nb = base_classes.size
        if self.kind == "fixed":
            cls = np.tile(base_classes, n)
            count = np.tile(floors[base_classes], n)
            before = np.multiply.outer(np.arange(k0, k1), floors[base_classes]).ravel()
            return _end_entries(nb, n * nb), cls, count, before
        _, picks = self._picks(k0, k1)
        checkpoint = self._checkpoints[k0 // self.chunk_batches]
        # Which picked classes already have a base entry (floor > 0), and which.
        base_pos = self._base_index.take(picks)
        in_base = base_pos >= 0
        # Base entries: floor plus one when picked in that batch (the picks of a batch are
        # distinct classes).
        base_count = np.empty((n, nb), dtype=np.int64)
        base_count[:] = floors[base_classes]
        base_pos += (np.arange(n) * nb)[:, None]
        all_in_base = bool(in_base.all())
        base_count.reshape(-1)[base_pos if all_in_base else base_pos[in_base]] += 1
        # Running totals before each batch: the checkpoint plus the counts of earlier batches.
        base_before = np.empty((n, nb), dtype=np.int64)
        base_before[0] = checkpoint[base_classes]
        np.cumsum(base_count[:-1], axis=0, out=base_before[1:])
        base_before[1:] += base_before[0]
        if all_in_base:
            ends = _end_entries(nb, n * nb)
            return ends, np.tile(base_classes, n), base_count.ravel(), base_before.ravel()
        # Picked classes with floor 0: one draw each; before = checkpoint + earlier picks.
        rows_idx = np.broadcast_to(np.arange(n)[:, None], picks.shape)
        lone_rows = rows_idx[~in_base]
        lone_cls = picks[~in_base]
        order = np.argsort(lone_cls, kind="stable")
        sorted_cls = lone_cls[order]
        group_start = np.searchsorted(sorted_cls, sorted_cls, side="left")
        occurrence = np.empty(order.size, dtype=np.int64)
        occurrence[order] = np.arange(order.size) - group_start
        lone_before = checkpoint[lone_cls] + occurrence
        # Merge batch-major: base entries of a batch, then its lone picks (a scatter).
        lone_per_batch = np.bincount(lone_rows, minlength=n)
        batch_start = np.arange(n) * base_classes.size + np.cumsum(lone_per_batch)
        batch_start -= lone_per_batch
        lone_rank = (
            np.arange(lone_rows.size) - (np.cumsum(lone_per_batch) - lone_per_batch)[lone_rows]
        )
        base_dest = (batch_start[:, None] + np.arange(base_classes.size)).ravel()
        lone_dest = batch_start[lone_rows] + base_classes.size + lone_rank
        total = base_dest.size + lone_dest.size
        cls = np.empty(total, np.int64)
        count, before = np.ones(total, np.int64), np.empty(total, np.int64)
        ends = np.concatenate((base_dest[:nb], base_dest[base_dest.size - nb :], lone_dest))
        cls[base_dest] = np.tile(base_classes, n)
        cls[lone_dest] = lone_cls
        count[base_dest] = base_count.ravel()
        before[base_dest] = base_before.ravel()
        before[lone_dest] = lone_before
        return ends, cls, count, before

    def _counted_chunk(self, epoch: int, rank: int, j: int, k0: int, k1: int) -> IntMatrix:
        n = k1 - k0
        ends, cls, count, stream = self._entries(k0, k1)
        replicas = self.num_replicas
        # Stream position of each (batch, class) entry: earlier epochs, earlier steps of all
        # ranks, then the lower ranks of this step. Ranks never share a stream position.
        stream *= replicas
        if epoch:
            stream += (epoch * replicas) * self.epoch_draws.take(cls)
        if rank:
            stream += rank * count
        drawn = self._draw_positions(cls, stream, count, ends)
        batches = drawn.astype(np.int64).reshape(n, self.batch_size)
        # Within a batch, positions are a uniform shuffle: no ordering by class. (In place, and
        # on int64, which numpy shuffles faster than uint32.)
        rng = _generator(self.seed, _TAG_SHUFFLE, epoch, rank, j)
        return rng.permuted(batches, axis=1, out=batches)

    def _draw_positions(
        self, cls: IntVector, stream: IntVector, count: IntVector, ends: IntVector
    ) -> npt.NDArray[Any]:
        """Dataset positions of every draw of the entries, in entry order.

        Entry ``e`` draws ``count[e]`` consecutive stream positions of class ``cls[e]`` from
        ``stream[e]`` on; ``ends`` holds the first and last entry of every class. The memo is
        brought to hold the block each class needs first; a class whose draws in this chunk
        cross into later blocks has the stream range it needs copied, block by block, to the
        scratch area at the end of the memo. Every draw is then one gather from the memo.
        """
        k = self._block_len.size
        # First and last stream position of every class in this chunk, then their blocks.
        first = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
        last = np.full(k, -1, dtype=np.int64)
        end_cls, end_stream = cls[ends], stream[ends]
        np.minimum.at(first, end_cls, end_stream)
        np.maximum.at(last, end_cls, end_stream + count[ends] - 1)
        present = np.flatnonzero(last >= 0)
        lengths = self._block_len[present]
        low = first[present] // lengths
        high = last[present] // lengths
        memo = self._memo_table()
        # Every class starts the chunk in block `low`: refresh the stale ones (a keyed
        # generator each; the memo keeps the most recent block of every class).
        stale = self._memo_block[present] != low
        for c, b in zip(present[stale].tolist(), low[stale].tolist(), strict=True):
            self._remember(memo, c, b)
        # Memo slot of stream position 0 of each class (valid within its block `low`).
        origin = np.zeros(k, dtype=np.int64)
        origin[present] = self._memo_start[present] - low * lengths
        spanning = high > low
        if spanning.any():
            origin[present[spanning]] = self._fill_scratch(
                present[spanning], first[present[spanning]], last[present[spanning]]
            )
            memo = self._memo_table()
        entry_start = np.cumsum(count) - count
        # Memo slot of an entry's first draw, less its draw index: its draws follow on.
        base = origin[cls]
        base += stream
        base -= entry_start
        slots = np.repeat(base, count)
        slots += np.arange(slots.size)
        return memo.take(slots)

    def _fill_scratch(self, classes: IntVector, first: IntVector, last: IntVector) -> IntVector:
        """Copy stream positions ``first[i] .. last[i]`` of each class ``classes[i]`` (which
        start in the memo's block) to the scratch area, generating the later blocks in turn;
        returns the memo slot of each class's stream position 0 in the scratch area."""
        need = int((last - first + 1).sum())
        end = int(self._memo_start[-1])
        memo = self._memo_table()
        if memo.size < end + need:  # grow the scratch area (rare: only larger needs)
            grown = np.zeros(end + max(need, 2 * (memo.size - end)), dtype=memo.dtype)
            grown[:end] = memo[:end]
            self._memo = memo = grown
        origin = np.empty(classes.size, dtype=np.int64)
        at = end
        spans = zip(classes.tolist(), first.tolist(), last.tolist(), strict=True)
        for i, (c, s0, s1) in enumerate(spans):
            length = int(self._block_len[c])
            region = int(self._memo_start[c])
            origin[i] = at - s0
            s = s0
            while True:
                b = s // length
                if self._memo_block[c] != b:
                    self._remember(memo, c, b)
                stop = min(s1 + 1, (b + 1) * length)
                source = region - b * length
                memo[at : at + stop - s] = memo[source + s : source + stop]
                at += stop - s
                s = stop
                if s > s1:
                    break
        return origin

    def _memo_table(self) -> npt.NDArray[Any]:
        """Current cycle block of every class, as dataset positions, then a scratch area for
        draws that cross blocks (allocated on first use)."""
        if self._memo is None:
            self._memo = np.zeros(int(self._memo_start[-1]), dtype=self.index.positions.dtype)
        return self._memo

    def _cycle_generator(self, c: int, b: int) -> np.random.Generator:
        """Generator of block ``b`` of class ``c``: the class's keyed stream
        ``(seed, class)``, advanced by ``b * 2**64`` outputs.

        Blocks use far fewer than ``2**64`` outputs, so the blocks of a class are disjoint
        stretches of one PCG64 stream. Setting a state and advancing it costs about a fifth of
        a new :class:`numpy.random.SeedSequence` (one per block otherwise).
        """
        start = self._class_streams.get(c)
        if start is None:
            state = np.random.PCG64(np.random.SeedSequence([self.seed, _TAG_CYCLE, c])).state
            start = (state["state"]["state"], state["state"]["inc"])
            self._class_streams[c] = start
        bits = self._cycle_bits
        bits.state = {
            "bit_generator": "PCG64",
            "state": {"state": start[0], "inc": start[1]},
            "has_uint32": 0,
            "uinteger": 0,
        }
        bits.advance(b << 64)
        return np.random.Generator(bits)

    def _remember(self, memo: npt.NDArray[Any], c: int, b: int) -> None:
        """Put block ``b`` of class ``c`` into the memo: ``m`` cycles, each a fresh permutation
        of the class's positions, keyed by ``(seed, class, block)``."""
        members = self.index.positions[self.index.offsets[c] : self.index.offsets[c + 1]]
        region = memo[self._memo_start[c] : self._memo_start[c + 1]]
        rng = self._cycle_generator(c, b)
        cycles = int(self._cycles_per_block[c])
        if cycles == 1:
            order = rng.permutation(members.size)
        else:
            order = np.tile(np.arange(members.size), (cycles, 1))
            rng.permuted(order, axis=1, out=order)
        np.take(members, order.reshape(-1), out=region)
        self._memo_block[c] = b
