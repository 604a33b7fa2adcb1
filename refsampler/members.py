"""Within-class member streams: which dataset positions a run of draws of a class takes.

Each class ``c`` with ``n_c`` members has one endless stream of draws, a
:class:`~refsampler.rotation.Rotation` over its members keyed by ``(seed, class)``: round ``r``
(a *cycle*) is a fresh uniform permutation of the class, adjusted by the head rule so that no
member repeats inside a batch whenever the batch takes at most ``n_c`` draws of the class.
Every batch of every epoch and rank takes a run of consecutive stream positions (the kinds
compute where), so the cycles continue across epochs and ranks never share a position of one
cycle.

Draws are gathered in bulk from the rounds' base permutations, generated a block of rounds at
a time (the rounds :func:`~refsampler.rotation.block_rounds` reads) into a memo owned by the
caller (:class:`MemberCache`); the few draws in the adjusted head of a round are then patched,
for many classes at once from base draws (a small class's round can read the previous round
as read: its chain is followed link by link, every class together), or, for lazily read
classes, from the rotation. Imports numpy only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from . import keys
from .classes import ClassIndex
from .rotation import Rotation, adjust_heads

__all__ = ["MemberCache", "MemberStreams"]

IntVector = npt.NDArray[np.int64]
#: ``slot_of(c, position) -> (start, stop)``: the run of class ``c``'s stream positions that
#: one batch takes, for the batch that takes ``position``.
ClassSlotOracle = Callable[[int, int], tuple[int, int]]

#: A block of rounds holds at most this many draws (and at most about ``N / K``), so that a
#: class of 3 members does not pay for a keyed generator every 3 draws while the memo of
#: current blocks stays below ``2 N`` entries.
BLOCK_DRAWS = 1 << 12
#: Classes with more members than this read their cycles lazily (keyed Feistel bijections,
#: see :class:`~refsampler.rotation.Rotation`): a block is a stretch of a cycle, so the first
#: batch never waits for a shuffle of a class of millions.
LAZY_SIZE = 1 << 14
#: Positions per block of a lazily read class (small: the first batch reads one of each).
LAZY_BLOCK = 1 << 10
#: A lazily read class needing at most this fraction (1 / FEW_PART) of a block it does not
#: hold reads those positions straight from its bijection instead of computing the block.
FEW_PART = 16
#: Scratch entries a new cache holds past its blocks.
SCRATCH = 1 << 12


class MemberCache:
    """What one caller has built of the member streams: the current block of base rounds of
    every class, as dataset positions. Not shared between callers."""

    def __init__(self, streams: MemberStreams) -> None:
        # Room for a batch's draws past the blocks (the scratch area of _fill_scratch), so
        # that a first batch spanning blocks does not copy the whole memo to grow it.
        self.memo: npt.NDArray[Any] = np.zeros(
            int(streams.memo_start[-1]) + SCRATCH, dtype=streams.index.positions.dtype
        )
        self.block = np.full(streams.num_classes, -1, dtype=np.int64)
        # One bit generator for this caller, re-seated at every block: building a fresh
        # PCG64 per block would cost more than the block's permutation of a small class.
        self.bits = np.random.PCG64(0)
        self.rng = np.random.Generator(self.bits)


class MemberStreams:
    """The member streams of every class of one configuration.

    Parameters
    ----------
    index : ClassIndex
    seed : int
    max_count : numpy.ndarray of int64, shape (K,)
        The most draws one batch ever takes from each class (the head rule is only needed
        where this is at least 2).
    slot_of : callable, optional
        ``slot_of(c, position) -> (start, stop)``: the batch's run of class ``c``'s stream
        positions that contains ``position``.
    block_draws : int, default BLOCK_DRAWS
        Draws generated together (rounds of small classes share a keyed generator).
    lazy_size : int, default LAZY_SIZE
        Classes with more members than this read their cycles lazily.

    Notes
    -----
    Immutable after construction; every mutable structure lives in the caller's
    :class:`MemberCache`.
    """

    def __init__(
        self,
        index: ClassIndex,
        seed: int,
        max_count: IntVector,
        slot_of: ClassSlotOracle | None = None,
        *,
        block_draws: int = BLOCK_DRAWS,
        lazy_size: int = LAZY_SIZE,
    ) -> None:
        self.index = index
        self.seed = seed
        self.max_count = np.asarray(max_count, dtype=np.int64)
        self.slot_of = slot_of
        counts = index.counts
        self.num_classes = counts.size
        cap = max(1, min(block_draws, -(-index.size // max(self.num_classes, 1))))
        sizes = np.maximum(counts, 1)
        #: Rounds per block of each class, and the draws a block holds.
        self.rounds_per_block = np.maximum(1, cap // sizes)
        self.block_len = self.rounds_per_block * sizes
        #: Classes read lazily; their blocks are stretches of the stream.
        self.lazy = counts > lazy_size
        self.block_len[self.lazy] = min(cap, LAZY_BLOCK)
        self.memo_start = np.zeros(self.num_classes + 1, dtype=np.int64)
        np.cumsum(self.block_len, out=self.memo_start[1:])
        self._words: npt.NDArray[np.uint64] | None = None
        #: Apply the head rule to many classes' rounds at once (:meth:`_vector_heads`,
        #: :meth:`_edge_heads`, :meth:`_heads`); off, every round goes through its rotation
        #: (the reference).
        self.vector_heads = True
        self._rotations: dict[int, Rotation] = {}

    def new_cache(self) -> MemberCache:
        """A fresh cache for one caller."""
        return MemberCache(self)

    def _start(self, c: int) -> tuple[int, int]:
        """Where class ``c``'s stream starts: :func:`keys.stream_words
        <refsampler.keys.stream_words>` keyed ``(seed, TAG_CYCLE, c)``, derived for every
        class at once on first use."""
        words = self._words
        if words is None:
            words = keys.stream_words(self.seed, keys.TAG_CYCLE, np.arange(self.num_classes))
            self._words = words
        return keys.start_of(words, c)

    def rotation(self, c: int) -> Rotation:
        """Class ``c``'s stream as a :class:`~refsampler.rotation.Rotation` over item indices."""
        rot = self._rotations.get(c)
        if rot is None:
            oracle = None if self.slot_of is None else functools.partial(self.slot_of, c)
            rot = Rotation(
                int(self.index.counts[c]),
                (self.seed, keys.TAG_CYCLE, c),
                oracle,
                int(self.max_count[c]),
                rounds_per_block=int(self.rounds_per_block[c]),
                lazy=bool(self.lazy[c]),
                start=None if self.lazy[c] else self._start(c),
            )
            self._rotations[c] = rot
        return rot

    # -- drawing ---------------------------------------------------------------------------

    def draw(
        self,
        cls: IntVector,
        start: IntVector,
        count: IntVector,
        cache: MemberCache,
        *,
        slots: bool = False,
    ) -> npt.NDArray[Any]:
        """Dataset positions of every draw of the entries, in entry order.

        Entry ``e`` takes ``count[e]`` consecutive positions of class ``cls[e]``'s stream from
        ``start[e]`` on. With ``slots``, the caller promises that every entry is a whole slot
        (one batch's run of its class, as the slot oracle gives it): the head rule of rounds
        straddled inside the entries is then applied from the entries in one vectorised pass.
        """
        total = int(count.sum())
        if total == 0:
            return np.zeros(0, dtype=self.index.positions.dtype)
        k = self.num_classes
        first = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
        last = np.full(k, -1, dtype=np.int64)
        np.minimum.at(first, cls, start)
        np.maximum.at(last, cls, start + count - 1)
        present = np.flatnonzero(last >= 0)
        lengths = self.block_len[present]
        low = first[present] // lengths
        high = last[present] // lengths
        spanning = high > low
        stale = cache.block[present] != low
        # A lazily read class whose draws span blocks, or that needs only a few positions of
        # a block it does not hold (a first batch needs one or two of each class), is read
        # straight from its bijection into the scratch area (below): computing its memo block
        # would cost a block's evaluations for a few draws.
        span = last[present] - first[present] + 1
        few = span * FEW_PART <= lengths
        direct = self.lazy[present] & (spanning | (stale & few))
        # A lazily read class whose draws here fill under half of their span (other ranks'
        # slots lie in between) is read at its entries' positions alone, straight from its
        # bijection: not over the span, nor from a block the memo holds.
        drawn_of = np.bincount(cls, weights=count, minlength=k)[present]
        apart = self.lazy[present] & (drawn_of * 2 < span)
        direct &= ~apart
        scratch = (spanning | direct) & ~apart
        stale &= ~(direct | apart)
        stale_classes, stale_blocks = present[stale], low[stale]
        lazy = self.lazy[stale_classes]
        if lazy.any():
            self._remember_lazy(cache, stale_classes[lazy], stale_blocks[lazy])
        eager = zip(stale_classes[~lazy].tolist(), stale_blocks[~lazy].tolist(), strict=True)
        for c, b in eager:
            self._remember(cache, c, b)
        origin = np.zeros(k, dtype=np.int64)
        origin[present] = self.memo_start[present] - low * lengths
        memo = cache.memo
        if scratch.any():
            origin[present[scratch]] = self._fill_scratch(
                cache, present[scratch], first[present[scratch]], last[present[scratch]]
            )
            memo = cache.memo
        entry_start = np.cumsum(count) - count
        base = origin[cls]
        base += start
        base -= entry_start
        at = np.repeat(base, count)
        at += np.arange(total)
        sparse = np.zeros(k, dtype=bool)
        sparse[present[apart]] = True
        alone = sparse[cls]
        if alone.any():
            taken = np.repeat(alone, count)
            at[taken] = 0  # read below instead
            drawn = memo.take(at)
            drawn[taken] = self._lazy_draws(cls[alone], start[alone], count[alone])
        else:
            drawn = memo.take(at)
        self._apply_heads(cls, start, count, first, last, present, drawn, slots, cache)
        return drawn

    def _apply_heads(
        self,
        cls: IntVector,
        start: IntVector,
        count: IntVector,
        first: IntVector,
        last: IntVector,
        present: IntVector,
        drawn: npt.NDArray[Any],
        slots: bool,
        cache: MemberCache,
    ) -> None:
        """Patch the draws that fall in the adjusted head of a round (see the head rule)."""
        oracle = self.slot_of
        if oracle is None:
            return
        sizes = self.index.counts
        heads = present[(self.max_count[present] >= 2) & (sizes[present] >= 2)]
        if heads.size == 0:
            return
        entry_start = np.cumsum(count) - count
        n, lo = sizes[heads], first[heads]
        # Rounds whose head (at most max_count positions) can overlap [lo, last].
        r_first = np.maximum(1, -(-(lo - self.max_count[heads] + 1) // n))
        r_last = last[heads] // n
        todo = r_first <= r_last
        vector: set[int] = set()
        unsettled: dict[int, int] = {}
        if slots and self.vector_heads:
            covered, misfits = self._vector_heads(
                cls, start, count, entry_start, first, last, heads, drawn
            )
            led, left = self._edge_heads(
                cls, start, count, entry_start, first, last, heads, misfits, drawn, cache, oracle
            )
            r_first[led] = lo[led] // n[led] + 1
            # A covered class whose leading round and misfit are settled is done.
            done = np.zeros(sizes.size, dtype=bool)
            done[covered] = True
            done[cls[left]] = False
            todo &= ~(led & done[heads])
            vector = set(covered.tolist())
            rounds_left = start[left] // sizes[cls[left]] + 1
            unsettled = dict(zip(cls[left].tolist(), rounds_left.tolist(), strict=True))
        wanted: list[tuple[int, int]] = []
        spans = []
        touched = self._touched_rounds(cls, start, count, heads[todo])
        rounds = zip(
            heads[todo].tolist(), r_first[todo].tolist(), r_last[todo].tolist(), strict=True
        )
        for c, r_lo, r_hi in rounds:
            # Rounds straddled inside the chunk that _vector_heads or _edge_heads settled.
            settled = (
                range(int(first[c]) // int(sizes[c]) + 1, int(last[c]) // int(sizes[c]) + 1)
                if c in vector
                else range(0)
            )
            misfit = unsettled.get(c, -1)
            wanted += [
                (c, r)
                for r in touched.get(c, ())
                if r_lo <= r <= r_hi and (r not in settled or r == misfit)
            ]
            spans.append((c, r_lo, r_hi))
        found = self._heads(cache, wanted)
        if found:
            _write_heads(found, spans, cls, start, count, entry_start, sizes, drawn)

    def _touched_rounds(
        self, cls: IntVector, start: IntVector, count: IntVector, classes: IntVector
    ) -> dict[int, list[int]]:
        """For each of ``classes``, the rounds whose head rule can change one of the entries'
        draws, ascending: a round's changed prefix is at most the straddling slot's length,
        so at most ``max_count`` positions from its boundary. Between a rank's draws under
        many replicas lie the other ranks' slots, with most of the rounds that begin there;
        those change nothing here, and their rules are not computed."""
        mask = np.zeros(self.num_classes, dtype=bool)
        mask[classes] = True
        e = np.flatnonzero(mask[cls] & (count > 0))
        c = cls[e]
        n = self.index.counts[c]
        # Rounds r >= 1 with [r n, r n + max_count) meeting [start, start + count).
        lo = np.maximum(1, -(-(start[e] - self.max_count[c] + 1) // n))
        hi = (start[e] + count[e] - 1) // n
        spans = np.maximum(hi - lo + 1, 0)
        owner = np.repeat(np.arange(e.size), spans)
        r = np.repeat(lo - (np.cumsum(spans) - spans), spans) + np.arange(owner.size)
        if owner.size == 0:
            return {}
        pair_class, pair_round, _ = _distinct_pairs(c[owner], r, self.num_classes)
        bounds = np.flatnonzero(np.diff(pair_class)) + 1
        groups = np.split(pair_round, bounds)
        heads = pair_class[np.concatenate(([0], bounds))]
        return {int(h): g.tolist() for h, g in zip(heads.tolist(), groups, strict=True)}

    def _heads(
        self, cache: MemberCache, wanted: list[tuple[int, int]]
    ) -> dict[tuple[int, int], npt.NDArray[Any]]:
        """The changed prefix of each round ``(c, r)`` of ``wanted`` as dataset positions
        (absent where the head rule changes nothing): lazily read classes through their
        rotations, the others' chains of rounds (:meth:`Rotation.chain
        <refsampler.rotation.Rotation.chain>`) link by link, every class at once."""
        out: dict[tuple[int, int], npt.NDArray[Any]] = {}
        chains: list[tuple[int, int, list[tuple[int, int, int, int]]]] = []
        for c, r in wanted:
            rot = self.rotation(c)
            if rot.lazy or not self.vector_heads:
                prefix, length = rot.head_of(r)
                if length:
                    out[c, r] = self.index.members(c)[prefix]
                continue
            links = rot.chain(r)
            if links[-1][3]:  # round r has a head
                chains.append((c, r, links))
        if not chains:
            return out
        # Rows: each chain's rounds from the one its first head reads (read in base order)
        # to r, in base order. Member rotations have no steps: only the slot's tail counts.
        sizes = self.index.counts
        row_class: list[int] = []
        row_round: list[int] = []
        row0: list[int] = []
        steps: list[list[tuple[int, int]]] = []
        for c, _, links in chains:
            if links[0][3]:
                links = [(links[0][0] - 1, 0, -1, 0), *links]
            row0.append(len(row_class))
            row_class += [c] * len(links)
            row_round += [q for q, *_ in links]
            steps.append([(x_slot, head) for _, x_slot, _, head in links[1:]])
        classes = np.array(row_class, dtype=np.int64)
        n = sizes[classes]
        # A round's head rule moves items within its first head + x positions (at most x of
        # them are the previous round's tail), and the next round reads its last x. So a
        # round longer than `lead + trail` is read only there, as one row of that width,
        # its lead then its trail: a round of thousands of members costs a few items, not its
        # size (under many ranks most rounds a rank reads the heads of are of other ranks).
        lead = max(1, max(x + h for step in steps for x, h in step))
        trail = max(1, max(x for step in steps for x, _ in step))
        width = lead + trail
        cut = n > width
        starts = np.array(row_round, dtype=np.int64) * n
        lengths = np.where(cut, lead, n)
        if cut.any():  # each cut round's trail, as a second run after all the first ones
            starts = np.concatenate((starts, starts[cut] + n[cut] - trail))
            lengths = np.concatenate((lengths, np.full(int(cut.sum()), trail)))
        draws = self._base_draws(cache, np.concatenate((classes, classes[cut])), starts, lengths)
        first_runs = lengths[: classes.size]
        split = int(first_runs.sum())
        rows = _padded(draws[:split], first_runs, -1)
        base = np.full((classes.size, width), -1, dtype=np.int64)
        base[:, : rows.shape[1]] = rows
        base[cut, lead:] = draws[split:].reshape(-1, trail)
        first_row = np.array(row0, dtype=np.int64)
        # Each chain's rounds as rows: their length, or the row's width where cut.
        size = np.minimum(sizes[[c for c, _, _ in chains]], width)
        actual = base[first_row]
        changed = np.zeros(len(chains), dtype=np.int64)  # each round's changed prefix
        for j in range(max(len(step) for step in steps)):
            act = np.array([i for i, step in enumerate(steps) if len(step) > j], dtype=np.int64)
            x, head = np.array([steps[i][j] for i in act.tolist()], dtype=np.int64).T
            # The previous round's last x items as read (its tail), padded to match nothing.
            column = np.arange(int(x.max()))
            at = np.minimum(size[act][:, None] - x[:, None] + column, base.shape[1] - 1)
            tails = np.where(column < x[:, None], np.take_along_axis(actual[act], at, 1), -2)
            actual[act], changed[act] = adjust_heads(base[first_row[act] + j + 1], tails, head)
        for i, (c, r, _) in enumerate(chains):
            if changed[i]:
                out[c, r] = actual[i, : changed[i]].astype(self.index.positions.dtype)
        return out

    def _edge_heads(
        self,
        cls: IntVector,
        start: IntVector,
        count: IntVector,
        entry_start: IntVector,
        first: IntVector,
        last: IntVector,
        heads: IntVector,
        misfits: IntVector,
        drawn: npt.NDArray[Any],
        cache: MemberCache,
        oracle: ClassSlotOracle,
    ) -> tuple[npt.NDArray[np.bool_], IntVector]:
        """The head rule of the rounds at the edges of the chunk, from base draws, for many
        classes at once: the round that starts fewer than ``max_count`` positions before a
        class's first draw (its straddling slot ends by then, every entry being a whole slot,
        so only tail items its head passed over land in the chunk, in the first entry), and
        the rounds of the ``misfits`` entries (straddled, their head running past the chunk).

        Only classes with at least twice as many members as a batch ever takes qualify: the
        previous round's tail is then its base permutation (no chain), so the rule needs base
        draws alone, the memo's or computed here. This spares a resumed (or chunk-starting)
        pass a rotation per class, and its blocks, for these rounds. Returns which of
        ``heads`` had their leading round settled, and the misfits it left.
        """
        sizes, lo = self.index.counts[heads], first[heads]
        most = self.max_count[heads]
        led = sizes >= 2 * most
        r = lo // sizes
        into = lo - r * sizes  # the first draw's offset in its round
        need = np.flatnonzero(led & (r >= 1) & (into > 0) & (into < most))
        classes = heads[need]
        boundary = r[need] * sizes[need]
        bounds = [
            oracle(c, b - 1) for c, b in zip(classes.tolist(), boundary.tolist(), strict=True)
        ]
        slots = np.array(bounds, dtype=np.int64).reshape(-1, 2)
        # A slot reaching past lo would break the premise: leave that class to the rotations.
        past = slots[:, 1] > lo[need]
        led[need[past]] = False
        # One row per round: the leading rounds, then the misfits' (whose entry is the slot).
        leading = need[~past]
        entry = np.full(self.num_classes, -1, dtype=np.int64)
        opening = np.flatnonzero((count > 0) & (start == first[cls]))
        entry[cls[opening]] = opening
        m = self.index.counts[cls[misfits]]
        c = np.concatenate((classes[~past], cls[misfits]))
        b = np.concatenate((boundary[~past], (start[misfits] // m + 1) * m))
        e = np.concatenate((entry[classes[~past]], misfits))
        s0 = np.concatenate((slots[~past, 0], start[misfits]))
        s1 = np.concatenate((slots[~past, 1], start[misfits] + count[misfits]))
        # The rule applies where the slot straddles b and holds at most a round.
        act = np.flatnonzero((s1 > b) & (s1 - s0 <= self.index.counts[c]))
        if act.size == 0:
            return led, misfits[:0]
        c, b, e, s0, s1 = c[act], b[act], e[act], s0[act], s1[act]
        x, width = b - s0, s1 - s0
        base = self._base_draws(
            cache,
            np.concatenate((c, c)),
            np.concatenate((s0, b)),
            np.concatenate((x, width)),
        )
        split = int(x.sum())
        tails = _padded(base[:split], x, -2)
        prefix = _padded(base[split:], width, -1)
        adjusted, changed = adjust_heads(prefix, tails, width - x)
        # Entry e must take every changed draw of the chunk from its start on: none may
        # follow it unless the class has no later draw in the chunk.
        es = start[e]
        stop = es + count[e]
        ok = (e >= 0) & ((b + changed <= stop) | (stop > last[c]))
        position = b[:, None] + np.arange(prefix.shape[1])
        write = (position >= es[:, None]) & (position < np.minimum(b + changed, stop)[:, None])
        write &= ok[:, None]
        flat = entry_start[e][:, None] + position - es[:, None]
        drawn[flat[write]] = adjusted[write]
        failed = act[~ok]
        led[leading[failed[failed < leading.size]]] = False
        return led, misfits[failed[failed >= leading.size] - leading.size]

    def _base_draws(
        self, cache: MemberCache, classes: IntVector, starts: IntVector, lengths: IntVector
    ) -> npt.NDArray[Any]:
        """Dataset positions of the base rounds (before the head rule) at stream positions
        ``starts[i] .. starts[i] + lengths[i] - 1`` of each class ``classes[i]``, concatenated;
        a run of an eagerly read class lies in one round. From the memo where it holds the
        run's block, else computed (without touching the memo)."""
        total = int(lengths.sum())
        out = np.empty(total, dtype=self.index.positions.dtype)
        at = np.cumsum(lengths) - lengths
        length = self.block_len[classes]
        block = starts // length
        lazy = self.lazy[classes]
        held = ~lazy & (cache.block[classes] == block)
        if held.any():
            source = self.memo_start[classes] + starts - block * length - at
            take = np.repeat(held, lengths)
            out[take] = cache.memo[(np.repeat(source, lengths) + np.arange(total))[take]]
        if lazy.any():
            out[np.repeat(lazy, lengths)] = self._lazy_draws(
                classes[lazy], starts[lazy], lengths[lazy]
            )
        left = ~lazy & ~held
        rest = np.flatnonzero(left)
        if rest.size:
            # One gather of every remaining run: (class offset + item) per draw, built run by
            # run from Python ints (numpy scalars would cost a microsecond per access).
            made: dict[tuple[int, int], IntVector] = {}
            wanted = []
            runs = zip(
                classes[rest].tolist(),
                block[rest].tolist(),
                (starts[rest] - block[rest] * length[rest]).tolist(),
                lengths[rest].tolist(),
                strict=True,
            )
            for c, b, offset, n in runs:
                items = made.get((c, b))
                if items is None:
                    items = self._block_items(cache, c, b) + self.index.offsets.item(c)
                    made[c, b] = items
                wanted.append(items[offset : offset + n])
            out[np.repeat(left, lengths)] = self.index.positions.take(np.concatenate(wanted))
        return out

    def _vector_heads(
        self,
        cls: IntVector,
        start: IntVector,
        count: IntVector,
        entry_start: IntVector,
        first: IntVector,
        last: IntVector,
        heads: IntVector,
        drawn: npt.NDArray[Any],
    ) -> tuple[IntVector, IntVector]:
        """The head rule of many classes' rounds at once, from the chunk's own entries.

        Where a class's entries in the chunk are one run of its stream (one rank reads it)
        and the class has at least twice as many members as a batch ever takes (so no round's
        changed head reaches the tail the next boundary reads), the batch that straddles a
        round boundary inside the chunk is one of these entries, and the round's first items
        and the previous round's last ones are draws of this chunk. Those rounds are patched
        here in one vectorised pass; returns the classes it covered (their rounds straddled
        inside the chunk) and the entries whose straddled round it left to
        :meth:`_edge_heads` (a head running past the chunk's last draw).
        """
        sizes, most = self.index.counts, self.max_count
        eligible = heads[sizes[heads] >= 2 * most[heads]]
        if eligible.size == 0:
            return eligible, eligible
        mask = np.zeros(sizes.size, dtype=bool)
        mask[eligible] = True
        sel = np.flatnonzero(mask[cls])
        # Entries come batch by batch, so a stable sort by class keeps each class's entries
        # in stream order (a radix sort when class ids fit in 16 bits).
        narrow = cls[sel].astype(np.uint16) if sizes.size <= 1 << 16 else cls[sel]
        order = sel[np.argsort(narrow, kind="stable")]
        ec, es, en, ef = cls[order], start[order], count[order], entry_start[order]
        same = ec[1:] == ec[:-1]
        broken = _distinct_sorted(ec[1:][same & (es[1:] != es[:-1] + en[:-1])])
        if broken.size:  # other ranks' batches in between: leave those classes alone
            keep = ~np.isin(ec, broken)
            ec, es, en, ef, order = ec[keep], es[keep], en[keep], ef[keep], order[keep]
        if ec.size == 0:
            return ec, ec
        n = sizes[ec]
        boundary = (es // n + 1) * n  # the one boundary an entry (of < n draws) can straddle
        straddles = boundary < es + en
        fits = boundary + en <= last[ec] + 1  # the head's positions are draws of this chunk
        covered = _distinct_sorted(ec)
        misfits = order[straddles & ~fits]  # at most one per class: its last entry
        rows = np.flatnonzero(straddles & fits)
        if rows.size == 0:
            return covered, misfits
        b, x, length = boundary[rows], boundary[rows] - es[rows], en[rows]
        width = int(length.max())
        # Flat index of every head position: the entry of the class holding it.
        span = int((last - first).max()) + 2
        rank_of = np.zeros(sizes.size, dtype=np.int64)
        rank_of[covered] = np.arange(covered.size)
        keys = rank_of[ec] * span + (es - first[ec])
        step = np.arange(width)
        position = b[:, None] + step
        inside = step < length[:, None]
        wanted = rank_of[ec[rows]][:, None] * span + (position - first[ec[rows]][:, None])
        at = np.searchsorted(keys, np.where(inside, wanted, keys[0]), side="right") - 1
        flat = np.where(inside, ef[at] + position - es[at], -1)
        prefix = np.where(inside, drawn[np.maximum(flat, 0)], -1)
        tail_step = np.arange(int(x.max()))
        tail_at = ef[rows][:, None] + np.minimum(tail_step, x[:, None] - 1)
        tails = np.where(tail_step < x[:, None], drawn[tail_at], -2)
        adjusted, changed = adjust_heads(prefix, tails, length - x)
        write = step < changed[:, None]
        drawn[flat[write]] = adjusted[write]
        return covered, misfits

    def _remember(self, cache: MemberCache, c: int, b: int) -> None:
        """Put block ``b`` of class ``c``'s base rounds into the memo, as dataset positions
        (a class read eagerly; see :meth:`_remember_lazy`)."""
        # .item() and the take method: Python-level costs count here, once per class block
        region = cache.memo[self.memo_start.item(c) : self.memo_start.item(c + 1)]
        self.index.members(c).take(self._block_items(cache, c, b), out=region)
        cache.block[c] = b

    def _block_items(self, cache: MemberCache, c: int, b: int) -> IntVector:
        """Block ``b`` of class ``c``'s base rounds as item indices, flat (eager classes)."""
        keys.seat(cache.bits, self._start(c), b)  # as block_generator reads block b
        size = self.index.counts.item(c)
        return keys.uniform_order(cache.rng, size, self.rounds_per_block.item(c)).reshape(-1)

    def _remember_lazy(self, cache: MemberCache, classes: IntVector, blocks: IntVector) -> None:
        """:meth:`_remember` for many lazily read classes at once."""
        length = int(self.block_len[classes[0]])  # equal for every lazy class
        lengths = np.full(classes.size, length, dtype=np.int64)
        drawn = self._lazy_draws(classes, blocks * length, lengths)
        dest = self.memo_start[classes][:, None] + np.arange(length)
        cache.memo[dest.reshape(-1)] = drawn
        cache.block[classes] = blocks

    def _lazy_draws(
        self, classes: IntVector, starts: IntVector, lengths: IntVector
    ) -> npt.NDArray[Any]:
        """Dataset positions at stream positions ``starts[i] .. starts[i] + lengths[i] - 1`` of
        each lazily read class ``classes[i]``, concatenated: one vectorised evaluation of their
        Feistel bijections (the keys of :meth:`Rotation.base_items
        <refsampler.rotation.Rotation.base_items>`)."""
        class_sizes = self.index.counts[classes]
        first_round = starts // class_sizes
        spans = (starts + lengths - 1) // class_sizes - first_round + 1
        # One row per (run, round): the part of the run in that round. (Per row, not per
        # draw: no division per draw.)
        run = np.repeat(np.arange(classes.size), spans)
        row_round = np.repeat(first_round - (np.cumsum(spans) - spans), spans)
        row_round += np.arange(run.size)
        row_size = class_sizes[run]
        round_start = row_round * row_size
        lo = np.maximum(starts[run], round_start)
        row_len = np.minimum(starts[run] + lengths[run], round_start + row_size) - lo
        # One bijection per (class, round), however many runs read it (a rank's many runs
        # of a class under replicas share a few rounds).
        cycle_class, cycle_round, row_cycle = _distinct_pairs(
            classes[run], row_round, self.num_classes
        )
        table = np.stack(
            [
                keys.feistel_keys(self.seed, keys.TAG_CYCLE, c, r)
                for c, r in zip(cycle_class.tolist(), cycle_round.tolist(), strict=True)
            ]
        )
        which = np.repeat(row_cycle, row_len)
        offset = np.repeat(lo - round_start - (np.cumsum(row_len) - row_len), row_len)
        offset += np.arange(offset.size)
        items = keys.feistel_permute(offset, self.index.counts[cycle_class], table, which)
        items += np.repeat(self.index.offsets[classes[run]], row_len)
        return self.index.positions.take(items)

    def _fill_scratch(
        self, cache: MemberCache, classes: IntVector, first: IntVector, last: IntVector
    ) -> IntVector:
        """Copy stream positions ``first[i] .. last[i]`` of each class ``classes[i]`` (which
        start in the memo's block) to a scratch area after the memo, generating the later
        blocks in turn; returns the memo slot of each class's stream position 0 there."""
        need = int((last - first + 1).sum())
        end = int(self.memo_start[-1])
        if cache.memo.size < end + need:
            grown = np.zeros(end + max(need, 2 * (cache.memo.size - end)), dtype=cache.memo.dtype)
            grown[:end] = cache.memo[:end]
            cache.memo = grown
        memo = cache.memo
        origin = np.empty(classes.size, dtype=np.int64)
        lengths = last - first + 1
        placed = np.cumsum(lengths) - lengths + end
        lazy = self.lazy[classes]
        if lazy.any():  # straight from the bijections, in one evaluation
            origin[lazy] = placed[lazy] - first[lazy]
            drawn = self._lazy_draws(classes[lazy], first[lazy], lengths[lazy])
            runs = lengths[lazy]
            dest = np.repeat(placed[lazy] - (np.cumsum(runs) - runs), runs)
            memo[dest + np.arange(dest.size)] = drawn
        spans = zip(classes.tolist(), first.tolist(), last.tolist(), strict=True)
        for i, (c, s0, s1) in enumerate(spans):
            if lazy[i]:
                continue
            at = int(placed[i])
            length = int(self.block_len[c])
            region = int(self.memo_start[c])
            origin[i] = at - s0
            s = s0
            while True:
                b = s // length
                if cache.block[c] != b:
                    self._remember(cache, c, b)
                stop = min(s1 + 1, (b + 1) * length)
                source = region - b * length
                memo[at : at + stop - s] = memo[source + s : source + stop]
                at += stop - s
                s = stop
                if s > s1:
                    break
        return origin


def _padded(values: npt.NDArray[Any], lengths: IntVector, fill: int) -> IntVector:
    """Runs of ``lengths`` consecutive ``values`` as the rows of an int64 matrix, padded on
    the right with ``fill``."""
    column = np.arange(int(lengths.max()))
    inside = column < lengths[:, None]
    out = np.full(inside.shape, fill, dtype=np.int64)
    out[inside] = values
    return out


def _distinct_pairs(
    first: IntVector, second: IntVector, first_limit: int
) -> tuple[IntVector, IntVector, IntVector]:
    """The distinct pairs ``(first[i], second[i])`` in ascending order, as two arrays, and the
    index of each input pair among them; ``first`` lies in ``range(first_limit)``."""
    low = int(second.min())
    width = int(second.max()) - low + 1
    if width * first_limit < 1 << 62:  # one int key per pair: a plain sort
        key, inverse = np.unique(first * width + (second - low), return_inverse=True)
        a, b = np.divmod(key, width)
        return a, b + low, inverse.reshape(-1)
    pairs, inverse = np.unique(np.stack((first, second)), axis=1, return_inverse=True)
    return pairs[0], pairs[1], inverse.reshape(-1)


def _distinct_sorted(values: IntVector) -> IntVector:
    """The distinct values of a sorted array (``np.unique`` without its sort, and without the
    first-call import of ``numpy.ma`` that costs a fresh process several milliseconds)."""
    keep = np.ones(values.size, dtype=bool)
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _write_heads(
    found: dict[tuple[int, int], npt.NDArray[Any]],
    spans: list[tuple[int, int, int]],
    cls: IntVector,
    start: IntVector,
    count: IntVector,
    entry_start: IntVector,
    sizes: IntVector,
    drawn: npt.NDArray[Any],
) -> None:
    """Write the changed prefixes ``found[c, r]`` over the draws of the entries that take
    them, every class at once: ``spans`` lists each class's rounds ``r_lo .. r_hi`` that the
    entries may reach, and ``found`` holds only rounds of those spans."""
    num_spans = len(spans)
    span_class, span_lo, span_hi = (
        np.array(column, dtype=np.int64).reshape(num_spans) for column in zip(*spans, strict=True)
    )
    span_rounds = span_hi - span_lo + 1
    span_base = np.cumsum(span_rounds) - span_rounds  # the spans' rounds, laid end to end
    span_of = np.full(sizes.size, -1, dtype=np.int64)
    span_of[span_class] = np.arange(num_spans)
    keys_c, keys_r = np.array(list(found), dtype=np.int64).reshape(-1, 2).T
    prefixes = list(found.values())
    lengths = np.array([p.size for p in prefixes], dtype=np.int64)
    at = span_base[span_of[keys_c]] + keys_r - span_lo[span_of[keys_c]]
    changed = np.zeros(int(span_rounds.sum()), dtype=np.int64)
    changed[at] = lengths
    table_start = np.zeros_like(changed)
    table_start[at] = np.cumsum(lengths) - lengths
    table = np.concatenate(prefixes)
    # Every draw of a spanned class: its flat index, stream position and round in its span.
    mine = np.flatnonzero((span_of[cls] >= 0) & (count > 0))
    runs = count[mine]
    within = np.arange(int(runs.sum())) - np.repeat(np.cumsum(runs) - runs, runs)
    flat = np.repeat(entry_start[mine], runs) + within
    pos = np.repeat(start[mine], runs) + within
    span = np.repeat(span_of[cls[mine]], runs)
    size = sizes[span_class[span]]
    whole = pos // size
    r_of = whole - span_lo[span]
    offset = pos - whole * size
    inside = np.flatnonzero((r_of >= 0) & (r_of < span_rounds[span]))
    round_at = span_base[span[inside]] + r_of[inside]
    keep = offset[inside] < changed[round_at]
    inside, round_at = inside[keep], round_at[keep]
    drawn[flat[inside]] = table[table_start[round_at] + offset[inside]]
