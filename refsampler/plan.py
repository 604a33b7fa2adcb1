"""Batch ``k`` of epoch ``e`` on rank ``r`` -> dataset positions. Imports numpy only.

A :class:`Plan` composes a kind's plan (:mod:`refsampler.kinds`) -- which says how many draws
each class gets in each batch, or draws whole batches itself -- with the class member streams
(:mod:`refsampler.members`), and shuffles every batch. Batches are computed in chunks of
:attr:`Plan.chunk_batches`.

Batch ``k`` of epoch ``e`` on rank ``r`` is *global slot* ``t = (e * n_batches + k) *
num_replicas + r``. With one target for the run, a counted kind plans one schedule over the
global slots, so it runs across epochs and ranks and a global step of ``num_replicas``
batches is itself balanced. With a target that moves with the epoch, each epoch has its own
plan over its own slots, and the member streams continue from where the epochs before left
them.

Every random number comes from a keyed generator (:mod:`refsampler.keys`), so batch ``k`` is a
pure function of ``(seed, epoch, rank, k)`` and the configuration, and any batch is computed
without the ones before it. A plan holds no mutable state that changes a result: what a
caller builds while computing (the current cycle blocks of the classes) lives in the
:class:`PlanCache` it passes, and the plan's own caches are bounded or append-only, hold
immutable values and are thread-safe, so one plan can serve many threads.

:data:`STREAM_VERSION` names the algorithm that maps a configuration and seed to batches; it
changes whenever any batch a seed produces changes.
"""

from __future__ import annotations

import bisect
import functools
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _validate, keys
from . import kinds as kinds_registry
from .classes import ClassIndex
from .errors import InvalidArgumentError
from .kinds.base import CountedPlan, Entries, SampledPlan, Setting
from .members import BLOCK_DRAWS, LAZY_SIZE, MemberCache, MemberStreams
from .seats import SeatSchedule

__all__ = ["CHUNK_DRAWS", "STREAM_VERSION", "Plan", "PlanCache"]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]
#: A target for every epoch.
TargetOf = Callable[[int], FloatVector]

#: The stream algorithm. Version 2: counted kinds plan one schedule over global slots
#: (epochs and ranks) with random tie-breaks, and the head rule keeps repeats out of a batch.
#: Version 3: the same contract; large classes read their cycles lazily (keyed bijections),
#: the others start from vectorised keys. Version 4: the random kind's batches are its
#: i.i.d. draws as drawn, without a redundant shuffle (the changelog on the determinism page).
#: Version 5: exact seat rates. Version 6: a chunk's within-batch shuffles restart their stream
#: every SHUFFLE_ROWS rows, and PD2's tie priorities are fully mixed. Version 7: large classes'
#: cycles come from a Feistel network over mixed radices (almost no cycle walking).
STREAM_VERSION = 7
#: Draws per chunk: large enough to amortise numpy call overhead, small enough that the
#: first batch comes quickly and memory stays O(N + chunk).
CHUNK_DRAWS = 1 << 16
#: Under a moving target, the member streams' offsets (a vector of K counts per epoch) are
#: held for the latest epochs placed, for every this many epochs before them, and for a few
#: earlier epochs recomputed on demand; the rest are recomputed from the one held before
#: them. So a run of many epochs over many classes does not hold a vector per epoch.
OFFSETS_RECENT = 16
OFFSETS_EVERY = 16
#: Rows of a chunk shuffled by one stretch of the chunk's shuffle stream (the within-batch
#: shuffles of counted kinds): a batch computed alone, as after a resume, replays the
#: shuffles of at most this many rows before it instead of a chunk's.
SHUFFLE_ROWS = 16


class PlanCache:
    """What one caller (an iterator, a diagnostics call) has built; never shared."""

    def __init__(self, plan: Plan) -> None:
        self.members: MemberCache | None = (
            plan.members.new_cache() if plan.members is not None else None
        )


class Plan:
    """The batches of one sampler configuration, as a pure function of (epoch, rank, k).

    Parameters
    ----------
    index : ClassIndex
        Class membership.
    kind : str
        A registered kind (:func:`refsampler.kinds.names`).
    target : numpy.ndarray of float64, shape (K,), or callable
        Validated target shares; every class with a positive share has members. A callable
        ``target(epoch)`` gives a target that moves with the epoch.
    batch_size, n_batches, seed, num_replicas : int
        Validated configuration.
    options : dict, optional
        The kind's own options (``samples_per_class`` for ``pk``).
    chunk_draws : int, default CHUNK_DRAWS
        Draws per chunk (a chunk holds ``max(1, chunk_draws // batch_size)`` batches). The
        within-batch shuffles and the random kind's draws are keyed per chunk, so this is part
        of the configuration: other values give other batches.
    block_draws : int, default members.BLOCK_DRAWS
        Draws of a class's member stream generated together (a tuning knob of the member
        streams; part of the configuration too).
    lazy_size : int, default members.LAZY_SIZE
        Classes with more members than this read their cycles lazily, from keyed Feistel
        bijections instead of shuffles (part of the configuration too).
    """

    def __init__(
        self,
        index: ClassIndex,
        kind: str,
        target: FloatVector | TargetOf,
        batch_size: int,
        n_batches: int,
        seed: int,
        num_replicas: int = 1,
        options: dict[str, Any] | None = None,
        *,
        chunk_draws: int = CHUNK_DRAWS,
        block_draws: int = BLOCK_DRAWS,
        lazy_size: int = LAZY_SIZE,
    ) -> None:
        self.index = index
        self.kind = _validate.kind(kind)
        self.batch_size = batch_size
        self.n_batches = n_batches
        self.seed = seed
        self.num_replicas = num_replicas
        self.options = dict(options or {})
        #: Batches per chunk.
        draws = _validate.positive_int("chunk_draws", chunk_draws)
        self.chunk_batches = max(1, draws // batch_size)
        self.block_draws = _validate.positive_int("block_draws", block_draws)
        self.lazy_size = _validate.positive_int("lazy_size", lazy_size)
        self.moving = callable(target)
        self._target_of: TargetOf | None = target if callable(target) else None
        self._constant = None if callable(target) else self._build(target, None)
        self._make_caches()
        first = self.kind_plan(0)
        self.traits = first.traits
        self.members: MemberStreams | None = None
        if isinstance(first, CountedPlan):
            most = first.max_count if self._constant is not None else self._max_counts(first)
            self.members = MemberStreams(
                index,
                seed,
                most,
                self._slot_of,
                block_draws=self.block_draws,
                lazy_size=self.lazy_size,
            )

    def _make_caches(self) -> None:
        self._epoch_plan = functools.lru_cache(maxsize=16)(self._build_epoch)
        self._offsets: dict[int, IntVector] = {0: np.zeros(self.index.num_classes, np.int64)}
        # _offsets holds the latest epoch placed, the OFFSETS_RECENT epochs before it and every
        # multiple of OFFSETS_EVERY below it; _older, a few others recomputed. _held: _offsets
        # by epoch, for readers without the lock (replaced, never changed).
        self._held: tuple[tuple[int, IntVector], ...] = tuple(self._offsets.items())
        self._older: dict[int, IntVector] = {}
        self._offsets_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in ("_epoch_plan", "_offsets", "_held", "_older", "_offsets_lock"):
            del state[name]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._make_caches()

    # -- the kind's plans ------------------------------------------------------------------

    def _build(self, target: FloatVector, epoch: int | None) -> CountedPlan | SampledPlan:
        setting = Setting(
            self.index,
            target,
            self.batch_size,
            self.n_batches,
            self.num_replicas,
            self.seed,
            self.options,
            epoch,
        )
        built: CountedPlan | SampledPlan = kinds_registry.load(self.kind).build(setting)
        return built

    def _build_epoch(self, epoch: int) -> CountedPlan | SampledPlan:
        if self._target_of is None:  # plans of a constant target are built once, up front
            raise TypeError("per-epoch plans exist only for a moving target")
        return self._build(self._target_of(epoch), epoch)

    def kind_plan(self, epoch: int) -> CountedPlan | SampledPlan:
        """The kind's plan that serves ``epoch``."""
        if self._constant is not None:
            return self._constant
        return self._epoch_plan(epoch)

    def seat_schedule(self) -> SeatSchedule | None:
        """The run-long seat schedule of a ``quota`` or ``pk`` plan of a constant target when
        it comes from PD2 (three or more rate groups share the extra seats), else None."""
        groups = getattr(self._constant, "groups", None)
        schedule: SeatSchedule | None = getattr(groups, "schedule", None)
        return schedule if schedule is not None and schedule.sequential else None

    def seat_reach(self) -> int:
        """How far back (in slots) a batch's computation reads the schedule of
        :meth:`seat_schedule` for the rounds of its groups (0 without one)."""
        groups = getattr(self._constant, "groups", None)
        return 0 if groups is None or self.seat_schedule() is None else groups.longest_round()

    def target(self, epoch: int = 0) -> FloatVector:
        """The target of ``epoch``."""
        return self.kind_plan(epoch).setting.target

    def _max_counts(self, plan: CountedPlan) -> IntVector:
        # A moving target can draw any class up to its count at any alpha; bound by the most
        # a batch can hold of it.
        return np.minimum(self.index.counts, self.batch_size).astype(np.int64)

    # -- geometry --------------------------------------------------------------------------

    @property
    def slots_per_epoch(self) -> int:
        """Global slots per epoch: ``n_batches * num_replicas``."""
        return self.n_batches * self.num_replicas

    @property
    def n_chunks(self) -> int:
        """Chunks per epoch."""
        return -(-self.n_batches // self.chunk_batches)

    def new_cache(self) -> PlanCache:
        """A fresh cache for one caller (pass it to every call of that caller)."""
        return PlanCache(self)

    def slots(self, epoch: int, rank: int, start: int, stop: int) -> IntVector:
        """The slots of batches ``start .. stop - 1`` of ``epoch`` on ``rank`` in the plan that
        serves the epoch (global over the run for one target, from the epoch's start for a
        moving one)."""
        k = np.arange(start, stop, dtype=np.int64)
        first = 0 if self.moving else epoch * self.n_batches
        return (first + k) * self.num_replicas + rank

    def _check(self, epoch: Any, rank: Any) -> tuple[int, int]:
        positions = _validate.epoch_positions(self.batch_size, self.n_batches, self.num_replicas)
        epoch = _validate.epoch(epoch, positions=positions)
        rank = _validate.non_negative_int("rank", rank)
        if rank >= self.num_replicas:
            raise _validate.fail("rank", f"must be < `num_replicas` ({self.num_replicas})", rank)
        return epoch, rank

    # -- member streams across epochs (moving targets) -------------------------------------

    def stream_offsets(self, epoch: int) -> IntVector:
        """Draws of every class in all epochs before ``epoch`` (all ranks), for a moving target;
        zeros for one target (its slots are already global)."""
        if not self.moving:
            return np.zeros(self.index.num_classes, dtype=np.int64)
        hit = self._offsets.get(epoch)
        if hit is None:
            hit = self._older.get(epoch)
        if hit is not None:
            return hit
        with self._offsets_lock:
            top = self._offsets_top
            if epoch > top:
                offsets = self._walk(top, self._offsets[top], epoch, self._offsets)
                # Keep the latest epochs and the spaced ones.
                old = epoch - OFFSETS_RECENT
                for e in [e for e in self._offsets if e % OFFSETS_EVERY and e <= old]:
                    del self._offsets[e]
                self._held = tuple(sorted(self._offsets.items()))
                return offsets
            # An epoch placed long ago: from the spaced one before it.
            at = epoch - epoch % OFFSETS_EVERY
            offsets = self._walk(at, self._offsets[at], epoch, None)
            self._older[epoch] = offsets
            while len(self._older) > OFFSETS_RECENT:
                del self._older[next(iter(self._older))]
            return offsets

    @property
    def _offsets_top(self) -> int:
        """The latest epoch placed (moving targets)."""
        return self._held[-1][0]

    def _walk(
        self, at: int, offsets: IntVector, epoch: int, keep: dict[int, IntVector] | None
    ) -> IntVector:
        """The offsets of ``epoch`` from those of epoch ``at`` before it, adding each epoch's
        draws; with ``keep``, every epoch passed is put there (read-only)."""
        while at < epoch:
            plan = self.kind_plan(at)
            if isinstance(plan, CountedPlan):
                offsets = offsets + plan.drawn_before(self.slots_per_epoch)
            at += 1
            offsets.flags.writeable = False
            if keep is not None:
                keep[at] = offsets
        return offsets

    def _epoch_of(self, c: int, position: int) -> int:
        """The epoch whose draws of class ``c`` include its stream ``position`` (moving
        targets): the largest epoch whose offset is at most ``position``, found by bisection
        over the epochs held (a scan from epoch 0 would cost every oracle call the epoch
        number), then a walk between the two held epochs around it, if they are not
        consecutive."""
        held = self._held
        if int(held[-1][1][c]) <= position:  # at or past the latest epoch placed
            epoch = held[-1][0]
            while int(self.stream_offsets(epoch + 1)[c]) <= position:
                epoch += 1
            return epoch
        # Offsets are non-decreasing in the epoch.
        i = bisect.bisect_right(held, position, key=lambda item: int(item[1][c])) - 1
        epoch, stop = held[i][0], held[i + 1][0]
        while epoch + 1 < stop and int(self.stream_offsets(epoch + 1)[c]) <= position:
            epoch += 1
        return epoch

    def _slot_of(self, c: int, position: int) -> tuple[int, int]:
        """The run of class ``c``'s stream positions one batch takes, for the batch whose draws
        include ``position`` (the member streams' oracle)."""
        if not self.moving:
            return self._counted(0).slot_of(c, position)
        epoch = self._epoch_of(c, position)
        offset = int(self.stream_offsets(epoch)[c])
        start, stop = self._counted(epoch).slot_of(c, position - offset)
        return start + offset, stop + offset

    def _counted(self, epoch: int) -> CountedPlan:
        """The kind's plan of ``epoch``, which the member streams (and their oracle) only
        exist for when it is a counted plan."""
        plan = self.kind_plan(epoch)
        if not isinstance(plan, CountedPlan):
            raise TypeError(f"kind {self.kind!r} has no counted plan")
        return plan

    # -- batches ---------------------------------------------------------------------------

    def batches(
        self,
        epoch: int,
        rank: int,
        start: int = 0,
        stop: int | None = None,
        cache: PlanCache | None = None,
    ) -> IntMatrix:
        """Positions of batches ``start .. stop - 1`` of ``epoch`` on ``rank``.

        Returns
        -------
        numpy.ndarray of int64, shape (stop - start, batch_size)
        """
        epoch, rank = self._check(epoch, rank)
        start, stop = self._range(start, stop)
        first = start // self.chunk_batches
        last = -(-stop // self.chunk_batches)
        cache = cache or self.new_cache()
        parts = [self.chunk(epoch, rank, j, cache) for j in range(first, last)]
        if not parts:
            return np.zeros((0, self.batch_size), dtype=np.int64)
        offset = first * self.chunk_batches
        return np.concatenate(parts)[start - offset : stop - offset]

    def _range(self, start: Any, stop: Any) -> tuple[int, int]:
        stop = self.n_batches if stop is None else stop
        if not (_validate.is_int(start) and _validate.is_int(stop)) or not (
            0 <= start <= stop <= self.n_batches
        ):
            raise InvalidArgumentError(
                f"the batch range must lie in 0 .. {self.n_batches}; got {start!r} .. {stop!r}."
            )
        return int(start), int(stop)

    def chunk(self, epoch: int, rank: int, j: int, cache: PlanCache | None = None) -> IntMatrix:
        """All batches of chunk ``j`` of ``epoch`` on ``rank``, int64 (n, batch_size)."""
        return self.rows(epoch, rank, j, 0, self.chunk_rows(j), cache)

    def chunk_rows(self, j: int) -> int:
        """Batches in chunk ``j`` (the last chunk of an epoch may be short)."""
        return min(self.chunk_batches, self.n_batches - j * self.chunk_batches)

    def rows(
        self, epoch: int, rank: int, j: int, lo: int, hi: int, cache: PlanCache | None = None
    ) -> IntMatrix:
        """Batches ``lo .. hi - 1`` of chunk ``j`` of ``epoch`` on ``rank``: exactly those rows
        of :meth:`chunk`, computed without the chunk's other rows (a counted kind's first batch
        then costs one batch, not a chunk), int64 (hi - lo, batch_size)."""
        k0 = j * self.chunk_batches
        plan = self.kind_plan(epoch)
        if isinstance(plan, SampledPlan):
            # Every position is its own draw, so a batch is already in uniformly random order.
            return plan.draw(epoch, rank, j, self.chunk_rows(j))[lo:hi]
        entries = plan.entries(self.slots(epoch, rank, k0 + lo, k0 + hi))
        start = entries.start
        if self.moving:
            start = start + self.stream_offsets(epoch)[entries.cls]
        cache = cache or self.new_cache()
        members, memo = self.members, cache.members
        if members is None or memo is None:  # a counted kind always has both
            raise TypeError("a counted plan without member streams")
        drawn = members.draw(entries.cls, start, entries.count, memo, slots=True)
        batches = drawn.astype(np.int64).reshape(hi - lo, self.batch_size)
        # Counted batches come class by class: shuffle each, so that no order by class is left.
        # The chunk's shuffle stream is cut into stretches of SHUFFLE_ROWS rows, each shuffling
        # its rows in turn; rows from ``lo`` continue from the state the stretch's rows before
        # ``lo`` leave (shuffling stand-ins gets there), so a batch computed alone replays
        # fewer than SHUFFLE_ROWS shuffles. (In place, and on int64, which numpy shuffles
        # faster than uint32.)
        stream = keys.stream_start(self.seed, keys.TAG_SHUFFLE, epoch, rank, j)
        bits = np.random.PCG64(0)
        rng = np.random.Generator(bits)
        row = lo
        while row < hi:
            stretch, skip = divmod(row, SHUFFLE_ROWS)
            end = min(hi, row - skip + SHUFFLE_ROWS)
            keys.seat(bits, stream, stretch)
            if skip:
                standin = np.empty((skip, self.batch_size), dtype=np.int64)
                rng.permuted(standin, axis=1, out=standin)
            rows = batches[row - lo : end - lo]
            rng.permuted(rows, axis=1, out=rows)
            row = end
        return batches

    # -- counts (counted kinds) ------------------------------------------------------------

    def entries(self, epoch: int, rank: int, start: int = 0, stop: int | None = None) -> Entries:
        """Per-batch class counts of batches ``start .. stop - 1`` (counted kinds), sparse:
        row ``i`` is batch ``start + i``; ``start`` fields are the member stream positions."""
        epoch, rank = self._check(epoch, rank)
        start, stop = self._range(start, stop)
        plan = self.kind_plan(epoch)
        if not isinstance(plan, CountedPlan):
            raise InvalidArgumentError(
                f"kind {self.kind!r} draws classes at random; it has no planned counts."
            )
        if stop == start:
            empty = np.zeros(0, dtype=np.int64)
            return Entries(empty, empty, empty, empty)
        entries = plan.entries(self.slots(epoch, rank, start, stop))
        if not self.moving:
            return entries
        offsets = self.stream_offsets(epoch)[entries.cls]
        return Entries(entries.row, entries.cls, entries.count, entries.start + offsets)

    def count_rows(
        self, epoch: int, rank: int, start: int = 0, stop: int | None = None
    ) -> IntMatrix:
        """Per-class counts of batches ``start .. stop - 1`` as a dense ``(stop - start, K)``
        matrix (counted kinds; meant for short ranges: it costs that much memory)."""
        entries = self.entries(epoch, rank, start, stop)
        stop = self.n_batches if stop is None else stop
        rows = np.zeros((stop - start, self.index.num_classes), dtype=np.int64)
        rows[entries.row, entries.cls] = entries.count
        return rows
