"""Batch ``k`` of epoch ``e`` on rank ``r`` -> dataset positions. Imports numpy only.

A :class:`Plan` holds the immutable tables of one configuration (counts, cumulative quota
checkpoints, class CDF) and computes batches in chunks. Every random number comes from a
generator keyed by :class:`numpy.random.SeedSequence` on the seed and the coordinates it serves:

* within-class cycles: ``(seed, class, cycle block)``, shared by every rank and epoch, so that a
  class's stream of draws is one sequence of fresh permutations that ranks split disjointly;
* within-batch shuffles and random-kind draws: ``(seed, epoch, rank, chunk)``.

Batch ``k`` therefore depends on ``(seed, epoch, rank, k)`` and the configuration only, and
any batch can be computed without the ones before it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .allocation import allocate, quota_rows
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
#: does not pay for one generator per 3 draws.
BLOCK_DRAWS = 1 << 12


def _generator(*key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(key))))


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
        #: Batches per chunk.
        self.chunk_batches = max(1, CHUNK_DRAWS // batch_size)
        self._blocks: dict[int, tuple[int, IntVector]] = {}
        self._cycles_per_block = np.maximum(1, BLOCK_DRAWS // np.maximum(counts, 1))
        self._per_batch = np.zeros(counts.size, dtype=np.int64)
        self._checkpoints = np.zeros((0, counts.size), dtype=np.int64)
        self._cdf = np.zeros(0)
        if kind == "fixed":
            self._per_batch = allocate(target, batch_size)
            epoch_draws = self._per_batch * n_batches
        elif kind == "quota":
            # Running totals at every chunk start, so any batch is reached in O(chunk) work.
            self._checkpoints = np.zeros((self.n_chunks + 1, counts.size), dtype=np.int64)
            for j in range(self.n_chunks):
                k0, k1 = self._chunk_bounds(j)
                rows = quota_rows(target, batch_size, k0, k1, self._checkpoints[j])
                self._checkpoints[j + 1] = self._checkpoints[j] + rows.sum(axis=0)
            epoch_draws = self._checkpoints[-1].copy()
        else:
            cdf = np.cumsum(target)
            # Pin the CDF's top at 1 from the last positive class on, so u in [0, 1) can never
            # land past it or on a zero-share class; this moves no share by more than 1e-12.
            cdf[int(np.flatnonzero(target > 0)[-1]) :] = 1.0
            self._cdf = cdf
            epoch_draws = np.zeros(counts.size, dtype=np.int64)
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
        return self._rows(start, stop)[1]

    def _rows(self, start: int, stop: int) -> tuple[IntMatrix, IntMatrix]:
        """(cumulative counts before each batch, counts of each batch) for ``start .. stop-1``."""
        if self.kind == "fixed":
            per_batch = self._per_batch
            rows = np.broadcast_to(per_batch, (stop - start, per_batch.size))
            before = np.arange(start, stop, dtype=np.int64)[:, None] * per_batch
            return before, rows
        if self.kind != "quota":
            raise ValueError(f"kind {self.kind!r} has no fixed counts")
        j = start // self.chunk_batches
        k0 = j * self.chunk_batches
        base = self._checkpoints[j]
        rows = quota_rows(self.target, self.batch_size, k0, stop, base)
        before = base + np.cumsum(rows, axis=0) - rows
        return before[start - k0 :], rows[start - k0 :]

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
        """All batches of chunk ``j`` of ``epoch`` on ``rank``."""
        k0, k1 = self._chunk_bounds(j)
        if self.kind == "random":
            return self._random_chunk(epoch, rank, j, k1 - k0)
        before, rows = self._rows(k0, k1)
        return self._counted_chunk(epoch, rank, j, before, rows)

    def _random_chunk(self, epoch: int, rank: int, j: int, n: int) -> IntMatrix:
        rng = _generator(self.seed, _TAG_RANDOM, epoch, rank, j)
        draws = n * self.batch_size
        classes = np.searchsorted(self._cdf, rng.random(draws), side="right").astype(np.int64)
        member = rng.integers(0, self.index.counts[classes])
        return self.index.positions[self.index.offsets[classes] + member].reshape(n, -1)

    def _counted_chunk(
        self, epoch: int, rank: int, j: int, before: IntMatrix, rows: IntMatrix
    ) -> IntMatrix:
        n = rows.shape[0]
        replicas = self.num_replicas
        # Stream position of each (batch, class) block: earlier epochs, earlier steps of all
        # ranks, then the lower ranks of this step. Ranks never share a stream position.
        stream_start = (epoch * replicas) * self.epoch_draws + replicas * before + rank * rows
        slot_start = np.cumsum(rows, axis=1) - rows
        # Class-major flattening: each class's draws are one increasing run of its stream.
        per_block = rows.T.ravel()
        total = n * self.batch_size
        block_of_draw = np.repeat(np.arange(per_block.size), per_block)
        within = np.arange(total) - (np.cumsum(per_block) - per_block)[block_of_draw]
        stream = stream_start.T.ravel()[block_of_draw] + within
        batch_of_draw = block_of_draw % n
        dest = batch_of_draw * self.batch_size + slot_start.T.ravel()[block_of_draw] + within
        out = np.empty(total, dtype=np.int64)
        class_ends = np.cumsum(rows.sum(axis=0))
        for c in np.flatnonzero(rows.sum(axis=0)):
            lo, hi = class_ends[c] - rows[:, c].sum(), class_ends[c]
            members = self._stream_members(int(c), stream[lo:hi])
            out[dest[lo:hi]] = self.index.positions[self.index.offsets[c] + members]
        batches = out.reshape(n, self.batch_size)
        # Within a batch, positions are a uniform shuffle: no ordering by class.
        return _generator(self.seed, _TAG_SHUFFLE, epoch, rank, j).permuted(batches, axis=1)

    def _stream_members(self, c: int, stream: IntVector) -> IntVector:
        """Offsets within class ``c`` of its draws at increasing stream positions."""
        size = int(self.index.counts[c])
        cycles = int(self._cycles_per_block[c])
        span = cycles * size
        first, last = int(stream[0]) // span, int(stream[-1]) // span
        blocks = [self._block(c, b, cycles, size) for b in range(first, last + 1)]
        table = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        return table[stream - first * span]

    def _block(self, c: int, b: int, cycles: int, size: int) -> IntVector:
        """Cycles ``b*cycles .. (b+1)*cycles - 1`` of class ``c``: fresh permutations."""
        cached = self._blocks.get(c)
        if cached is not None and cached[0] == b:
            return cached[1]
        rng = _generator(self.seed, _TAG_CYCLE, c, b)
        if cycles == 1:
            block = rng.permutation(size)
        else:
            block = rng.permuted(np.tile(np.arange(size), (cycles, 1)), axis=1).ravel()
        self._blocks[c] = (b, block)
        return block
