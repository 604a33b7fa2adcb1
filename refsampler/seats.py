"""Seat schedules: how many of a batch's seats each *rate group* of classes gets, batch by batch.

The ``quota`` and ``pk`` kinds give class ``c`` a seat in a batch at rate ``r_c`` (its extra
seat above ``floor(B p_c)`` for quota, its appearance for pk), ``d`` seats in every batch. Classes
of equal rate form a *rate group* ``g`` with rate ``rho_g = |g| * r_g``; this module decides
how many seats each group gets in every *slot* (global batch) ``t``, and
:mod:`refsampler.rotation` then hands a group's seats to its classes in rounds of fresh
permutations. Write ``rho_g = n_g + sigma_g`` (``n_g`` an integer, ``0 <= sigma_g < 1``). A
group gets ``n_g`` seats in every slot plus *extra* seats whose cumulative count
``E_g(t)`` after ``t`` slots satisfies

    |E_g(t) - t * sigma_g| < 1   for every t  (the Pfair lag bound),

with ``sum_g E_g(t) = t * (d - sum_g n_g)`` exactly.

How the extra seats are scheduled depends on the number of groups with ``sigma_g > 0``:

* none or one: nothing to choose (one group takes every extra seat);
* two: a Sturmian sequence, ``E_A(t) = floor(t sigma_A + phi)`` with a random phase ``phi``
  from the seed, and ``E_B = t (sigma_A + sigma_B) - E_A``; a closed form, so any slot costs
  O(1);
* three or more: PD2, the optimal Pfair algorithm (earliest pseudo-deadline, then the
  successor bit, then the later group deadline, then a random priority from the seed). PD2 is
  sequential: slots are computed :data:`BLOCK_SLOTS` at a time from the state before them,
  kept at the ends of recent blocks and every :data:`CHECKPOINT_SLOTS` slots once computed; a
  block far from both is computed from the checkpoint before it, or from the last multiple of
  the rates' common denominator ``D`` (below), where every lag is 0 and the state is known,
  whichever is later. So reaching any slot runs PD2 for at most ``D + CHECKPOINT_SLOTS``
  slots, however far into the run it is; it is not O(1) when ``D`` is large. A checkpoint
  can be saved and restored in another process (:meth:`SeatSchedule.checkpoint_bits`,
  :meth:`SeatSchedule.restore_checkpoint`; :mod:`refsampler.seat_state` puts one in every
  sampler state), so a resumed run starts PD2 there.

Arithmetic is exact. The ``sigma_g`` are written over one denominator ``D``: the least common
denominator of the rates when it is at most ``2**58`` (rates that are fractions with small
denominators, as targets from class counts and decimal alphas are, stay exact), otherwise
``D`` between ``2**57`` and ``2**58``, a multiple of the common denominator of the simplest
rates (which stay exact: 1/3 gives one seat in every three slots), with the other rates
rounded to it by largest remainder so they still sum to an integer (such a class's ideal then
moves by less than ``2**-56`` of a seat per batch). PD2 works on
each group's lag numerator ``t * num_g - E_g * D``, below ``D`` in magnitude, in 64-bit
integers. Imports numpy only.

References
----------
.. [1] S. K. Baruah, N. K. Cohen, C. G. Plaxton, D. A. Varvel, "Proportionate progress: a
   notion of fairness in resource allocation", Algorithmica 15, 1996.
.. [2] J. H. Anderson and A. Srinivasan, "Mixed Pfair/ERfair scheduling of asynchronous
   periodic tasks", Journal of Computer and System Sciences 68(1), 2004.
"""

from __future__ import annotations

import functools
import math
import threading
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from . import keys, pd2

__all__ = [
    "BLOCK_SLOTS",
    "CHECKPOINT_SLOTS",
    "KNOWN_VALUES",
    "RATE_BITS",
    "SeatSchedule",
    "fraction_sum",
]

IntMatrix = npt.NDArray[np.int64]
IntVector = npt.NDArray[np.int64]

#: PD2 state checkpoints are kept every this many slots.
CHECKPOINT_SLOTS = 1 << 10
#: PD2 slots are computed (and cached) in blocks of this many, so a first batch is cheap
#: (at most 255: a cached block holds its seat counts as byte offsets from its first row).
BLOCK_SLOTS = 1 << 6
#: States kept at recent block boundaries (continuing a pass, or a saved state, uses them).
RECENT_STATES = 64
#: Checkpoints on the grid kept (the latest made; slot 0 and restored states stay too), so
#: that a long run with thousands of groups does not keep a state every CHECKPOINT_SLOTS
#: slots for good: a read before the earliest kept steps PD2 from an earlier one, or slot 0.
MAX_CHECKPOINTS = 64
#: About the most memory the cached PD2 blocks take (they hold at least 4 blocks).
BLOCK_CACHE_BYTES = 1 << 21
#: Single values (one group's extra seats before one slot) a schedule keeps from saved states.
KNOWN_VALUES = 1 << 12
#: Extra-seat rates are written over a denominator of at most ``2**RATE_BITS``.
RATE_BITS = 58
#: When they cannot all be exact, the rates whose common denominator stays within
#: ``2**EXACT_BITS`` are (the rest are rounded to a grid at least ``2**(RATE_BITS -
#: EXACT_BITS - 1)`` times finer than one over that denominator).
EXACT_BITS = 24


def fraction_sum(values: list[Fraction]) -> Fraction:
    """The exact sum of ``values``: integer numerators over a running least common
    denominator, a few times faster than adding :class:`~fractions.Fraction` objects (a
    construction at a fractional alpha sums one rate per group, thousands of them)."""
    num, den = 0, 1
    for value in values:
        n, d = value.numerator, value.denominator
        if d == den:
            num += n
            continue
        g = math.gcd(den, d)
        num = num * (d // g) + n * (den // g)
        den = den // g * d
    return Fraction(num, den)


def _common(sigma: list[Fraction], total: int) -> tuple[list[int], int]:
    """Numerators of ``sigma`` over one denominator ``D``, summing to ``total * D``: exact
    when the rates' least common denominator is at most ``2**RATE_BITS``. Otherwise ``D`` is
    the least common denominator ``L`` of the simplest rates (smallest denominators first,
    while ``L <= 2**EXACT_BITS``) times a power of two, at most ``2**RATE_BITS``: those
    rates stay exact (a rate of 1/3 must give exactly one seat every three slots), and the
    others are rounded to ``1/D`` by largest remainder (every positive rate stays positive)."""
    den = 1
    for s in sigma:
        den = math.lcm(den, s.denominator)
        if den > 1 << RATE_BITS:
            break
    else:
        return [s.numerator * (den // s.denominator) for s in sigma], den
    simple = 1
    exact = set()
    for j in sorted(range(len(sigma)), key=lambda j: sigma[j].denominator):
        wider = math.lcm(simple, sigma[j].denominator)
        if wider > 1 << EXACT_BITS:
            break
        simple = wider
        exact.add(j)
    den = simple << (RATE_BITS - simple.bit_length())
    scaled = [s * den for s in sigma]
    nums = [max(1, int(x)) for x in scaled]
    short = total * den - sum(nums)
    rounded = [j for j in range(len(sigma)) if j not in exact]
    order = sorted(rounded, key=lambda j: (-(scaled[j] - int(scaled[j])), j))
    step = 1 if short > 0 else -1
    i = 0
    while short:
        j = order[i % len(order)]
        if step > 0 or nums[j] > 1:
            nums[j] += step
            short -= step
        i += 1
    return nums, den


class SeatSchedule:
    """Seats per rate group per slot, for groups of rates ``rho`` summing to an integer.

    Parameters
    ----------
    rho : sequence of fractions.Fraction
        Group rates ``rho_g`` (exact, non-negative); their sum must be an integer ``d``.
    key : tuple of int
        Keys the random phase (two groups) or the random priorities (PD2).

    Notes
    -----
    Instances are safe to share between threads: their only mutable state is caches (PD2
    checkpoints and recent blocks), whose entries are immutable and computed
    deterministically.
    """

    def __init__(self, rho: list[Fraction], key: tuple[int, ...]) -> None:
        self.rho = list(rho)
        total = fraction_sum(self.rho)
        if total.denominator != 1:
            raise ValueError(f"group rates must sum to an integer; got {float(total)!r}")
        self.seats = int(total)
        self.base = np.array([r.numerator // r.denominator for r in self.rho], dtype=np.int64)
        sigma = [r if r.numerator < r.denominator else r - int(r) for r in self.rho]
        #: Groups that take part in the extra seats.
        self.active = np.array([g for g, s in enumerate(sigma) if s > 0], dtype=np.int64)
        active_sigma = [sigma[g] for g in self.active]
        self.extra = self.seats - int(self.base.sum())  # the sum of the sigma, exactly
        self.key = tuple(key)
        nums, self.den = _common(active_sigma, self.extra)
        #: Numerators of the active groups' rates over :attr:`den`.
        self.num = np.array(nums, dtype=np.int64)
        rng = keys.generator(*self.key, keys.TAG_PHASE)
        # Two groups: a phase in [0, 1) on the rates' grid. PD2: a random salt per group for
        # the priorities of exact ties.
        self._phase = int(rng.integers(0, self.den))
        self._salt = rng.integers(0, 1 << 63, size=self.active.size, dtype=np.int64).astype(
            np.uint64
        )
        # Groups outside the extra seats get base seats only: no PD2 read for them.
        self._takes_extra = np.zeros(len(self.rho), dtype=bool)
        self._takes_extra[self.active] = True
        self._make_caches()

    def _make_caches(self) -> None:
        # Python lists for the scalar reads of the oracles' hot path (cumulative_of): each
        # group's index among the active ones (-1 if none), and its base seats.
        self._slot_in_active = [-1] * len(self.rho)
        for i, g in enumerate(self.active.tolist()):
            self._slot_in_active[g] = i
        self._base = self.base.tolist()
        # The earliest slot read since start_reads() (what a saved checkpoint must precede),
        # and the blocks read since then (None until start_reads(): nothing is noted).
        self._lowest: int | None = None
        self._blocks_read: set[int] | None = None
        # Single values E_g(t) read since start_reads() ((group, t) -> E_g), and those a saved
        # state handed over (read before any block is computed for them).
        self._values_read: dict[tuple[int, int], int] | None = None
        self._known: dict[tuple[int, int], int] = {}
        self._checkpoints: dict[int, IntVector] = {}
        self._restored: set[int] = set()  # checkpoints a saved state handed over: kept
        self._recent: dict[int, IntVector] = {}
        self._lock = threading.RLock()  # _checkpoint remembers states while holding it
        # At most 32 blocks, and about BLOCK_CACHE_BYTES of them with thousands of groups
        # (each is a byte per slot per group): an evicted block is recomputed from the state
        # kept at its start, one block of PD2.
        size = BLOCK_CACHE_BYTES // ((BLOCK_SLOTS + 1) * max(1, self.active.size))
        self._block = functools.lru_cache(maxsize=min(32, max(4, size)))(self._compute_block)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in (
            "_checkpoints",
            "_restored",
            "_recent",
            "_lock",
            "_block",
            "_lowest",
            "_blocks_read",
            "_values_read",
            "_known",
            "_slot_in_active",
            "_base",
        ):
            del state[name]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._make_caches()

    @property
    def num_groups(self) -> int:
        """``G``."""
        return len(self.rho)

    @property
    def sequential(self) -> bool:
        """True when slots come from PD2 (three or more groups share the extra seats)."""
        return self.active.size >= 3

    # -- cumulative seats ------------------------------------------------------------------

    def cumulative(self, t: int) -> IntVector:
        """Seats of each group in slots ``0 .. t - 1``, shape (G,)."""
        out = self.base * t
        out[self.active] += self._extra_before(t)
        return out

    def _extra_before(self, t: int) -> IntVector:
        """``E_g(t)`` of the active groups."""
        n = self.active.size
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        if n == 1:
            return np.array([t * self.extra], dtype=np.int64)
        if n == 2:
            first = self._first_of_two(t)
            return np.array([first, t * self.extra - first], dtype=np.int64)
        self._note_read(t)
        block, row = divmod(t, BLOCK_SLOTS)
        start, offsets = self._block(block)
        return start + offsets[row]

    def slots(self, start: int, stop: int) -> IntMatrix:
        """Seats of each group in slots ``start .. stop - 1``, shape (stop - start, G)."""
        n = stop - start
        out = np.empty((max(n, 0), self.num_groups), dtype=np.int64)
        out[:] = self.base
        if self.active.size == 0 or n <= 0:
            return out
        if self.active.size == 1:
            out[:, self.active[0]] += self.extra
            return out
        if self.active.size == 2:
            seats = [self._first_of_two(t) for t in range(start, stop + 1)]
            inc = np.diff(np.array(seats, dtype=np.int64)).astype(np.int64)
            out[:, self.active[0]] += inc
            out[:, self.active[1]] += self.extra - inc
            return out
        self._note_read(start, stop - 1)
        lo, hi = start // BLOCK_SLOTS, (stop - 1) // BLOCK_SLOTS
        gained = np.concatenate([np.diff(self._block(b)[1], axis=0) for b in range(lo, hi + 1)])
        out[:, self.active] += gained[start - lo * BLOCK_SLOTS :][:n]
        return out

    def _first_of_two(self, t: int) -> int:
        """Two active groups: the first's extra seats in slots ``0 .. t - 1``, the Sturmian
        ``floor(t sigma_A + phi)`` on the rates' grid."""
        return (t * int(self.num[0]) + self._phase) // self.den

    def cumulative_of(self, group: int, t: int) -> int:
        """``cumulative(t)[group]`` alone (O(1) unless the slots come from PD2)."""
        if self.active.size >= 3 and self._takes_extra[group]:
            # One entry of the cached block, without building the (G,) vector: slot oracles
            # call this for every round boundary they look up (a value a saved state handed
            # over spares computing a block far behind the resume point).
            self._note_read(t)
            value = self._known.get((group, t))
            if value is None:
                block, row = divmod(t, BLOCK_SLOTS)
                start, offsets = self._block(block)
                i = self._slot_in_active[group]
                value = int(start[i]) + int(offsets[row, i])
            noted = self._values_read
            if noted is not None:
                noted[group, t] = value
            return self._base[group] * t + value
        seats = int(self.base[group]) * t
        if self.active.size == 1 and group == int(self.active[0]):
            seats += t * self.extra
        elif self.active.size == 2 and group in (int(self.active[0]), int(self.active[1])):
            first = self._first_of_two(t)
            seats += first if group == int(self.active[0]) else t * self.extra - first
        return seats

    def slot_containing(self, group: int, position: int) -> int:
        """The slot ``t`` whose seats of ``group`` include seat number ``position``:
        ``cumulative(t)[group] <= position < cumulative(t + 1)[group]``."""
        rho = self.rho[group]
        if rho == 0:
            raise ValueError(f"group {group} never gets a seat")
        if self.active.size <= 1 or group not in self.active:
            # The same seats in every slot.
            return position // int(self.cumulative_of(group, 1))
        # cumulative is within 1 of t * rho: start just below the estimate and step.
        t = max(0, position * rho.denominator // rho.numerator - 1)
        while self.cumulative_of(group, t + 1) <= position:
            t += 1
        while t > 0 and self.cumulative_of(group, t) > position:
            t -= 1
        return t

    # -- PD2 state, saved and restored ----------------------------------------------------

    def start_reads(self) -> None:
        """Start noting the earliest slot PD2's slots are read at (see :meth:`lowest_read`),
        the blocks read (see :meth:`blocks_read`) and the single values read (see
        :meth:`values_read`)."""
        self._lowest = None
        self._blocks_read = set()
        self._values_read = {}

    def values_read(self) -> dict[tuple[int, int], int]:
        """The single values read since :meth:`start_reads`: ``(group, t) -> E_g(t)``, the
        group's extra seats before slot ``t`` (what :meth:`cumulative_of` adds to the base
        seats), for the groups whose seats come from PD2."""
        noted = self._values_read
        return {} if noted is None else noted.copy()

    def restore_values(self, values: dict[tuple[int, int], int]) -> None:
        """Adopt single values :meth:`values_read` gave (a saved state's), so that reading
        them computes no block; at most :data:`KNOWN_VALUES` are kept, the latest given.

        Raises
        ------
        ValueError
            If a group's seats do not come from PD2, or a value is not a state of these rates
            (``floor(t * sigma_g)`` or one more, and exactly that when it is whole). Whether
            it is *the* value PD2 reaches is the caller's to vouch for (a digest).
        """
        if values and not self.sequential:
            raise ValueError("no PD2 values to restore")
        for (group, t), value in values.items():
            if not 0 <= group < len(self.rho) or not self._takes_extra[group] or t < 0:
                raise ValueError(f"no PD2 value of group {group} at slot {t}")
            floor, remainder = divmod(t * int(self.num[self._slot_in_active[group]]), self.den)
            if value - floor not in ((0, 1) if remainder else (0,)):
                raise ValueError(f"{value} is not a state of group {group} at slot {t}")
        known = self._known
        known.update(values)
        while len(known) > KNOWN_VALUES:
            known.pop(next(iter(known)), None)  # another thread may have taken it

    def blocks_read(self) -> frozenset[int]:
        """The blocks (slot // :data:`BLOCK_SLOTS`) of PD2's slots read since
        :meth:`start_reads` (shared between threads, like :meth:`lowest_read`)."""
        blocks = self._blocks_read
        return frozenset() if blocks is None else frozenset(blocks.copy())

    def lowest_read(self) -> int | None:
        """The earliest slot read from PD2 since :meth:`start_reads`, or None.

        Computing a batch reads the schedule at its own slots and at the slots where the
        rounds of its groups' rotations began, which can lie thousands of slots back; a
        checkpoint saved for resuming at that batch must not lie after them. Threads that
        share a schedule share this note, so another thread's :meth:`start_reads` can make
        it come out later than this computation's reads: a checkpoint saved from it may then
        lie too late, which costs a resumed process time (PD2 from the period), never a
        different batch.
        """
        return self._lowest

    def _note_read(self, slot: int, last: int | None = None) -> None:
        """Note a read of slots ``slot .. last`` (``slot`` alone by default)."""
        lowest = self._lowest
        if lowest is None or slot < lowest:
            self._lowest = slot
        blocks = self._blocks_read
        if blocks is not None:
            first = slot // BLOCK_SLOTS
            blocks.update(range(first, (slot if last is None else last) // BLOCK_SLOTS + 1))

    def unknown_slots(self, slot: int) -> int:
        """How many slots PD2 would step to reach ``slot`` from the latest state this
        instance holds at or before it (a checkpoint, a recent block's start or end, or the
        last multiple of :attr:`den`, where every lag is 0); 0 when the schedule is not
        sequential."""
        if not self.sequential:
            return 0
        # Copies of the keys: another thread may add one meanwhile.
        held = (*tuple(self._checkpoints), *tuple(self._recent))
        known = max((s for s in held if s <= slot), default=0)
        return slot - max(known, slot - slot % self.den)

    def holds(self, slot: int) -> bool:
        """Whether :meth:`checkpoint_bits` has the state before ``slot`` (O(1))."""
        return self.sequential and (slot in self._checkpoints or slot in self._recent)

    def checkpoint_bits(self, slot: int) -> bytes | None:
        """The PD2 state before ``slot`` (a multiple of :data:`BLOCK_SLOTS`) as packed bits,
        one per active group: the parity of its extra seats ``E_g``; None unless this
        instance holds that state (a checkpoint, or the start or end of a recent block).

        Every ``E_g`` is ``floor(slot * sigma_g)`` or one more (the lag bound), so the parity
        and the slot determine the state exactly, and :meth:`restore_checkpoint` in a fresh
        process resumes PD2 there instead of replaying it from the last multiple of
        :attr:`den`. (The parity costs O(G) integer operations; the floors, which need
        Python integers, are left to the restoring side.)
        """
        extra = self._checkpoints.get(slot)
        if extra is None:
            extra = self._recent.get(slot)
        if extra is None or not self.sequential:
            return None
        return np.packbits((extra & 1).astype(np.uint8)).tobytes()

    def restore_checkpoint(self, slot: int, bits: bytes) -> None:
        """Adopt the PD2 state before ``slot`` that :meth:`checkpoint_bits` gave.

        Raises
        ------
        ValueError
            If ``slot`` is not a positive multiple of :data:`BLOCK_SLOTS`, or ``bits`` do
            not describe a state of these rates at that slot (every lag within 1, the seats
            summing to ``slot * extra``). Whether it is *the* state PD2 reaches there is the
            caller's to vouch for (the sampler checks a digest).
        """
        n = self.active.size
        if not self.sequential or slot <= 0 or slot % BLOCK_SLOTS:
            raise ValueError(f"no PD2 checkpoint at slot {slot}")
        if len(bits) != (n + 7) // 8:
            raise ValueError(f"expected {(n + 7) // 8} bytes of state, got {len(bits)}")
        parity = np.unpackbits(np.frombuffer(bits, dtype=np.uint8)).astype(np.int64)
        if parity[n:].any():
            raise ValueError("padding bits are set")
        floors, exact = self._floors(slot)
        ahead = (parity[:n] ^ floors) & 1  # E_g has the parity given, and is floor or floor + 1
        extra = floors + ahead
        if (ahead[exact] != 0).any() or int(extra.sum()) != slot * self.extra:
            raise ValueError(f"not a state of this schedule at slot {slot}")
        extra.flags.writeable = False
        with self._lock:
            held = self._checkpoints.setdefault(slot, extra)
            self._restored.add(slot)
        if held is not extra and not np.array_equal(held, extra):
            raise ValueError(f"not the state this schedule computed at slot {slot}")

    def _floors(self, slot: int) -> tuple[IntVector, npt.NDArray[np.bool_]]:
        """``floor(slot * num / D)`` of the active groups, exactly, and where it is exact (no
        remainder). In 64-bit integers when every product fits, else in Python integers
        (a hundred times slower, and a restore of thousands of groups is on a resume's path)."""
        product = (
            self.num * slot
            if slot * int(self.num.max(initial=0)) < 1 << 63
            else self.num.astype(object) * slot
        )
        return (
            np.asarray(product // self.den, dtype=np.int64),
            np.asarray(product % self.den == 0, dtype=bool),
        )

    # -- PD2 -------------------------------------------------------------------------------

    def _compute_block(self, block: int) -> tuple[IntVector, npt.NDArray[np.uint8]]:
        """``E`` of the active groups at slots ``block * C .. (block + 1) * C`` (both ends),
        ``C`` = :data:`BLOCK_SLOTS`: the first row, shape (active,), and every row minus
        it, shape (C + 1, active), in bytes (a group gains at most one extra seat a slot),
        so that the cached blocks take an eighth of the memory of 64-bit rows."""
        start = block * BLOCK_SLOTS
        extra = self._state(start)
        out = np.empty((BLOCK_SLOTS + 1, self.active.size), dtype=np.int64)
        self._advance(extra, start, BLOCK_SLOTS, out)
        first, last = out[0].copy(), out[-1].copy()
        offsets = (out - first).astype(np.uint8)
        first.flags.writeable = last.flags.writeable = offsets.flags.writeable = False
        # Both ends: a saved state's checkpoint is the start of the block it first read.
        self._remember(start, first)
        self._remember(start + BLOCK_SLOTS, last)
        return first, offsets

    def _remember(self, slot: int, extra: IntVector) -> None:
        """Keep ``extra`` (read-only) as the state before ``slot``, a multiple of the block
        length: among the recent ones, and as a checkpoint on the checkpoint grid."""
        with self._lock:
            self._recent.setdefault(slot, extra)
            while len(self._recent) > RECENT_STATES:
                del self._recent[next(iter(self._recent))]
            if slot % CHECKPOINT_SLOTS == 0:
                self._keep(slot, extra)

    def _keep(self, slot: int, extra: IntVector) -> None:
        """Keep ``extra`` as the checkpoint before ``slot`` (on the grid; the caller holds the
        lock), and drop the earliest made beyond :data:`MAX_CHECKPOINTS`."""
        self._checkpoints.setdefault(slot, extra)
        made = [s for s in self._checkpoints if s and s not in self._restored]
        for old in made[: max(0, len(made) - MAX_CHECKPOINTS)]:
            del self._checkpoints[old]

    def _state(self, slot: int) -> IntVector:
        """``E`` of the active groups before ``slot`` (a multiple of the block length): from
        a recent block's end, else advanced from the checkpoint before it."""
        hit = self._recent.get(slot)
        if hit is not None:
            return hit
        at = slot - slot % CHECKPOINT_SLOTS
        # A restored checkpoint can lie between the checkpoint grid and `slot`. (A copy of
        # the keys: another thread may add one meanwhile.)
        restored = max((s for s in tuple(self._checkpoints) if at < s <= slot), default=None)
        if restored is not None:
            at, extra = restored, self._checkpoints[restored]
        else:
            extra = self._checkpoint(at)
        if at == slot:
            return extra
        # Keep the states at the block starts on the way: a saved state's checkpoint lies a
        # few blocks before the first block a resumed pass computes.
        return self._advance(extra, at, slot - at, None, remember=True)

    def _checkpoint(self, slot: int) -> IntVector:
        """``E`` of the active groups before ``slot`` (a multiple of the checkpoint spacing)."""
        hit = self._checkpoints.get(slot)
        if hit is not None:
            return hit
        with self._lock:
            # Slot 0 is always known (a restored state may be the only other one).
            self._checkpoints.setdefault(0, np.zeros(self.active.size, dtype=np.int64))
            at = max(s for s in self._checkpoints if s <= slot)
            extra = self._checkpoints[at]
            # Every D slots each lag t * num - E * D is a multiple of D below D in magnitude,
            # so 0: the state there is t * num / D whatever came before, and PD2 never runs
            # more than D slots (plus the checkpoint spacing) to reach any slot.
            period = slot - slot % self.den
            if period > at:
                at, extra = period, self.num * (period // self.den)
            while at < slot:
                step = min(CHECKPOINT_SLOTS - at % CHECKPOINT_SLOTS, slot - at)
                # The last stretch keeps its block starts too (see _state).
                extra = self._advance(extra, at, step, None, remember=at + step == slot)
                at += step
                extra.flags.writeable = False
                self._keep(at, extra)
            return extra

    def _advance(
        self,
        extra: IntVector,
        start: int,
        slots: int,
        record: IntMatrix | None,
        *,
        remember: bool = False,
    ) -> IntVector:
        """Run PD2 for ``slots`` slots from slot ``start``, where the active groups have had
        ``extra`` seats; write ``E`` before every slot and after the last into ``record``,
        and with ``remember`` keep it at every block boundary after ``start``.

        Each group's state is its lag numerator ``lag = t * num - E * D`` (its lag times
        ``D``); :func:`refsampler.pd2.run_span` runs the slots up to each block boundary.
        """
        num, den = self.num, self.den
        count = extra.copy()
        # |lag| < den for every slot; only start * num can need more than 64 bits.
        if start * (int(num.max()) + den) < 1 << 62:
            lag = start * num - count * den
        else:
            lag = np.array(num.astype(object) * start - count.astype(object) * den, dtype=np.int64)
        if record is not None:
            record[0] = count
        done = 0
        while done < slots:
            span = min(BLOCK_SLOTS - (start + done) % BLOCK_SLOTS, slots - done)
            taken, ran = pd2.run_span(
                num, den, self._salt, self.extra, count, lag, span, record=record is not None
            )
            if record is not None and ran is not None:
                record[done : done + span + 1] = ran
            count = count + taken
            # span * num can pass 2**63; the lag itself stays below den, and wrapping
            # arithmetic gives it exactly.
            lag = lag + span * num - taken * den
            done += span
            if remember and done < slots:
                kept = count.copy()
                kept.flags.writeable = False
                self._remember(start + done, kept)
        if remember:
            count.flags.writeable = False
            self._remember(start + slots, count)
        return count
