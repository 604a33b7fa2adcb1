"""Rate groups: classes that get one seat per slot at a fractional rate, and who gets them.

Given a rate ``r_c`` in [0, 1) for every class with ``sum_c r_c`` an integer ``d``,
:class:`RateGroups` decides which ``d`` distinct classes get a seat in every slot (global
batch) ``t``: classes of equal rate form a group; a :class:`~refsampler.seats.SeatSchedule`
gives each group its seats slot by slot; a :class:`~refsampler.rotation.Rotation` of each
group's classes hands them out, so inside a group every class gets one seat per round of
fresh random order. After ``t`` slots class ``c`` has had ``floor(t r_c)`` or ``ceil(t r_c)``
seats (its group's lag is below 1, and a round-robin share of it adds below ``1 - 1/|g|``),
and no class has two seats in one slot. The quota kind uses it for the extra seat above
``floor(B p_c)``, the pk kind for the classes a batch holds. Imports numpy only.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from . import keys
from .rotation import Rotation
from .seats import SeatSchedule, fraction_sum

__all__ = ["RateGroups", "exact_values", "snap"]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]


#: Floats within a few ulps of a fraction with a denominator up to this are taken as that
#: fraction: ``B * p`` for ``p = 0.45`` and ``B = 3`` is 27/20, not the float's binary value, so
#: that after 20 batches the ideal is exactly 27.
SNAP_DENOMINATOR = 1 << 24
#: :meth:`RateGroups.picks` reads at most about this many (slot, group) seat counts at once.
PICK_ENTRIES = 1 << 18


def snap(value: float) -> Fraction:
    """The fraction ``value`` stands for: the closest fraction with a denominator up to
    :data:`SNAP_DENOMINATOR` if it lies within 4 ulps of ``value``, else ``value`` exactly.

    Examples
    --------
    >>> from refsampler.groups import snap
    >>> snap(3 * 0.45), snap(0.1 + 0.2), snap(2.0**-40)
    (Fraction(27, 20), Fraction(3, 10), Fraction(1, 1099511627776))
    """
    exact = Fraction(value)
    if value == 0 or exact.denominator == 1:
        return exact
    near = exact.limit_denominator(SNAP_DENOMINATOR)
    return near if abs(near - exact) <= 4 * math.ulp(value) else exact


def exact_values(values: FloatVector) -> tuple[list[Fraction], IntVector]:
    """The exact fractions of the distinct ``values`` (:func:`snap`), and the index of each
    value among them."""
    unique, inverse = np.unique(values, return_inverse=True)
    return [snap(float(v)) for v in unique], inverse.astype(np.int64)


class RateGroups:
    """Seats for classes at fractional rates, ``d`` per slot.

    Parameters
    ----------
    rates : numpy.ndarray of float64, shape (K,)
        ``r_c`` in [0, 1); classes with rate 0 never get a seat. Each rate is taken as the
        fraction it stands for (:func:`snap`).
    seats : int
        ``d``: seats per slot. ``sum(rates)`` must equal ``seats`` up to float rounding; any
        residual goes to the largest group, so the exact rates sum to ``seats``.
    key : tuple of int
        Keys the seat schedule and the rotations (seed first).
    replicas : int, default 1
        Slots per global step (``num_replicas``): a group's seats in one step are as distinct
        as they can be (``min(|g|, seats)`` different classes), as well as in every slot.

    Attributes
    ----------
    group_of : numpy.ndarray of int64, shape (K,)
        Group of each class (-1 for rate 0).
    local : numpy.ndarray of int64, shape (K,)
        Each class's index inside its group.
    members : list of numpy.ndarray
        Classes of each group, ascending.
    """

    def __init__(
        self, rates: FloatVector, seats: int, key: tuple[int, ...], replicas: int = 1
    ) -> None:
        k = rates.size
        self.replicas = int(replicas)
        self.num_classes = k
        self.seats_per_slot = int(seats)
        self.key = tuple(key)
        positive = np.flatnonzero(rates > 0)
        values, inverse = exact_values(rates[positive])
        members: list[IntVector] = []
        exact: list[Fraction] = []
        for g, value in enumerate(values):
            cls = positive[inverse == g]
            # A group that never has two seats in a slot would keep its classes apart for
            # good; when a slot has room for two, such classes are scheduled one by one.
            if cls.size > 1 and value * cls.size <= 1 and self.seats_per_slot >= 2:
                members.extend(cls[i : i + 1] for i in range(cls.size))
                exact.extend([value] * cls.size)
            else:
                members.append(cls)
                exact.append(value)
        self.members = members
        self.group_of = np.full(k, -1, dtype=np.int64)
        self.local = np.zeros(k, dtype=np.int64)
        for g, cls in enumerate(self.members):
            self.group_of[cls] = g
            self.local[cls] = np.arange(cls.size)
        # Groups of one class (most groups when class sizes differ): their seats are the
        # class's, so per-class totals need no loop over them.
        sizes = np.array([cls.size for cls in self.members], dtype=np.int64)
        self._sizes = sizes
        self._first_class = np.array([int(m[0]) for m in self.members], dtype=np.int64)
        self._single = np.flatnonzero(sizes == 1)
        self._single_class = self._first_class[self._single]
        self._several_array = np.flatnonzero(sizes > 1)
        self._several = self._several_array.tolist()
        # (Fraction arithmetic only where it changes something: thousands of groups.)
        rho = [
            value if cls.size == 1 else value * int(cls.size)
            for value, cls in zip(exact, self.members, strict=True)
        ]
        residual = self.seats_per_slot - fraction_sum(rho)
        if rho and residual:
            # The float rounding residual goes to the group whose rate has the largest
            # denominator (then the largest rate): a simple rate such as 3/4 stays exact, or
            # the residual could hand its group a seat early at a slot where its ideal is a
            # whole number, and the chosen group's ideal is whole only every denominator slots.
            # Among rates that dwarf the residual (a tiny rate could turn negative); when none
            # does, the largest rate, as the residual is then no rounding error of one.
            pool = [g for g, r in enumerate(rho) if r > abs(residual) * (1 << 20)] or [
                max(range(len(rho)), key=lambda g: (rho[g], g))
            ]
            largest = max(pool, key=lambda g: (rho[g].denominator, rho[g], g))
            rho[largest] += residual  # the rest now sum to exactly seats_per_slot
        #: Exact group rates; member rate is ``rho[g] / len(members[g])``.
        self.rho = rho
        # Python's int / int is correctly rounded, as float(Fraction) is: the same floats.
        per_class = [
            r.numerator / (r.denominator * int(cls.size))
            for r, cls in zip(rho, self.members, strict=True)
        ]
        self.rates = np.array(per_class, dtype=np.float64)
        self.schedule = SeatSchedule(rho, (*self.key, keys.TAG_PHASE))
        # Built on first use (rotation()): most groups hold one class and never need one, and
        # building thousands up front dominated construction at a fractional alpha.
        self._rotations: dict[int, Rotation] = {}

    def rotation(self, g: int) -> Rotation:
        """The rotation that hands group ``g``'s seats to its classes (built on first use; a
        race builds two equal ones and keeps either)."""
        rot = self._rotations.get(g)
        if rot is None:
            rate = self.rho[g]
            rot = Rotation(
                int(self.members[g].size),
                (*self.key, keys.TAG_GROUP_ROTATION, g),
                self._oracle(g, 1),
                max_slot=-(-rate.numerator // rate.denominator) if rate > 0 else 1,
                step_of=self._oracle(g, self.replicas) if self.replicas > 1 else None,
                period=self._period(g),
                min_slot=rate.numerator // rate.denominator,  # the group's base seats
            )
            self._rotations[g] = rot
        return rot

    def longest_round(self) -> int:
        """Slots spanned by a round of the slowest group of several classes (0 if none):
        computing a batch reads the schedule back at the start of its groups' rounds."""
        longest = 0
        for g in self._several:
            rate = self.rho[g]
            if rate > 0:
                longest = max(longest, math.ceil(len(self.members[g]) / rate) + 1)
        return longest

    def _period(self, g: int) -> int | None:
        """Group ``g``'s seats per slot when they are the same in every slot and slots are
        not grouped into steps (its rotation then reads many rounds at once), else None."""
        schedule = self.schedule
        if self.replicas > 1 or (schedule.active.size > 1 and g in schedule.active):
            return None
        # Not a PD2 group, so this reads no schedule (a rotation built during a pass must
        # not count as a read of slot 1: a saved state's checkpoint precedes every read).
        seats = schedule.cumulative_of(g, 1)
        return seats if seats > 0 else None

    @property
    def num_groups(self) -> int:
        """Number of rate groups."""
        return len(self.members)

    def _oracle(self, g: int, width: int) -> Any:
        return functools.partial(self._run_of, g, width)

    def _run_of(self, g: int, width: int, position: int) -> tuple[int, int]:
        """The run of group ``g``'s seat positions given out by the ``width`` slots (one
        slot, or one global step) that hold seat ``position``."""
        # Rotations ask for the runs of consecutive round boundaries, many of which share a
        # run when rounds are short: keep the last run of each (group, width). A tuple is
        # replaced whole, so threads sharing it read one run or another, never a mix.
        memo: dict[tuple[int, int], tuple[int, int]] = self.__dict__.setdefault("_last_run", {})
        last = memo.get((g, width))
        if last is not None and last[0] <= position < last[1]:
            return last
        schedule = self.schedule
        t = schedule.slot_containing(g, position)
        first = t - t % width
        run = schedule.cumulative_of(g, first), schedule.cumulative_of(g, first + width)
        memo[(g, width)] = run
        return run

    # -- per class -------------------------------------------------------------------------

    def seats_before(self, c: int, t: int) -> int:
        """Seats class ``c`` has had in slots ``0 .. t - 1``."""
        g = int(self.group_of[c])
        if g < 0:
            return 0
        position = self.schedule.cumulative_of(g, t)
        if self.members[g].size == 1:
            return position
        rot = self.rotation(g)
        r, offset = divmod(position, rot.size)
        if offset == 0:
            return r
        head = rot.round(r)[:offset]
        return r + int(np.any(head == self.local[c]))

    def seats_at(
        self, slots: IntVector, columns: IntVector | None = None
    ) -> tuple[IntVector, IntVector, IntVector, IntMatrix | None]:
        """The seats of ``slots`` alone (ascending), without the slots in between: what
        :meth:`picks` gives for those slots, for a rank under many replicas that would
        otherwise hand out every other rank's seats too.

        Returns ``(row, cls, earlier, before)``: each seat's row in ``slots``, its class and
        the seats its class had before that slot (from slot 0), ordered as :meth:`picks`
        orders them (by slot, then group, then the group's order); and, for the classes of
        ``columns``, the seats each had before each slot, shape ``(slots.size,
        columns.size)`` (None without ``columns``). A group's seat number ``q`` goes to the
        item at ``q mod n`` of its round ``q // n`` as read (``n`` classes), which each class
        holds once: the seat is that class's ``q // n``-th. So only the rounds the slots
        touch are read, each with its own chain of head rules, not every round in between.
        """
        rows = slots.size
        schedule = self.schedule
        sizes = self._sizes
        asked = np.zeros(0, dtype=np.int64) if columns is None else columns
        column_group = self.group_of[asked]
        # The columns' groups' seats before each slot (rows x columns: never rows x groups,
        # which thousands of groups would make large).
        at_columns = np.zeros((rows, asked.size), dtype=np.int64)
        has_group = column_group >= 0
        # Each slot's seats before and after it, in slot order (a PD2 schedule keeps only a
        # few recent blocks: a second pass over the slots would compute them all again).
        parts = []
        for i, t in enumerate(slots.tolist()):
            now, then = schedule.cumulative(t), schedule.cumulative(t + 1)
            seated = np.flatnonzero(then != now)
            parts.append((np.full(seated.size, i), seated, now[seated], then[seated] - now[seated]))
            at_columns[i, has_group] = now[column_group[has_group]]
        row, group, first_seat, times = (np.concatenate(p) for p in zip(*parts, strict=True))
        # One seat per element: its row, group and seat number within its group.
        seat = np.repeat(first_seat - (np.cumsum(times) - times), times) + np.arange(times.sum())
        row, group = np.repeat(row, times), np.repeat(group, times)
        n = sizes[group]
        earlier = seat // n
        cls = np.empty(seat.size, dtype=np.int64)
        single = n == 1
        cls[single] = self._first_class[group[single]]
        before = None if columns is None else np.zeros((rows, asked.size), dtype=np.int64)
        if before is not None:
            alone = np.flatnonzero(has_group)
            alone = alone[sizes[column_group[alone]] == 1]
            before[:, alone] = at_columns[:, alone]
        # The groups of several classes that have seats here or columns asked for, each
        # with its seats (a slice of them sorted by group) and its columns.
        several = np.flatnonzero(~single)
        several = several[np.argsort(group[several], kind="stable")]
        seated = group[several]
        asked_several = column_group[column_group >= 0]
        asked_several = asked_several[sizes[asked_several] > 1]
        for g in np.union1d(seated, asked_several).tolist():
            lo, hi = np.searchsorted(seated, [g, g + 1])
            mine = several[lo:hi]
            size = int(sizes[g])
            # Rounds read: those of the seats, and each slot's first round when the caller
            # asks which classes it had already passed.
            wanted = [earlier[mine]]
            cols = np.flatnonzero(column_group == g) if before is not None else mine[:0]
            start = at_columns[:, cols[0]] if cols.size else mine[:0]
            if cols.size:
                wanted.append(start // size)
            rounds = np.unique(np.concatenate(wanted))
            rot = self.rotation(g)
            table = np.stack([rot.round(r) for r in rounds.tolist()])
            at = np.searchsorted(rounds, earlier[mine])
            cls[mine] = self.members[g][table[at, seat[mine] % size]]
            if cols.size and before is not None:
                # Where in its round each class stands, round by round.
                place = np.empty_like(table)
                np.put_along_axis(place, table, np.arange(size)[None, :], axis=1)
                r, offset = np.divmod(start, size)
                local = self.local[asked[cols]]
                passed = place[np.searchsorted(rounds, r)][:, local] < offset[:, None]
                before[:, cols] = r[:, None] + passed
        order = np.lexsort((seat, group, row))
        return row[order], cls[order], earlier[order], before

    def seats_before_all(self, t: int) -> IntVector:
        """Seats of every class in slots ``0 .. t - 1``, shape (K,)."""
        out = np.zeros(self.num_classes, dtype=np.int64)
        cumulative = self.schedule.cumulative(t)
        out[self._single_class] = cumulative[self._single]
        for g in self._several:
            out[self.members[g]] = self.rotation(g).counts_before(int(cumulative[g]))
        return out

    # -- per slot --------------------------------------------------------------------------

    def picks(self, start: int, stop: int) -> tuple[IntVector, IntVector]:
        """The seats of slots ``start .. stop - 1``: ``(slot, class)`` pairs, by slot.

        Every slot has exactly ``d`` pairs and no class twice.
        """
        if stop <= start or not self.members:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        # A stretch of slots at a time, so that its (slots, groups) seat counts stay small
        # with thousands of groups (a group's rotation reads its seats in order either way).
        stretch = max(1, PICK_ENTRIES // self.num_groups)
        if stop - start > stretch:
            parts = [self.picks(a, min(stop, a + stretch)) for a in range(start, stop, stretch)]
            return (
                np.concatenate([slot for slot, _ in parts]),
                np.concatenate([cls for _, cls in parts]),
            )
        per_slot = self.schedule.slots(start, stop)
        # Groups of one class (a rate below 1: at most one seat a slot) all at once; then
        # the groups of several classes, each through its rotation. Pairs come out by slot,
        # then group, then the group's own order.
        seated = per_slot[:, self._single]
        rows, single = np.nonzero(seated)
        times = seated[rows, single]  # 1 but for a base seat: a rate below 1 has none
        slot_parts = [np.repeat(rows + start, times)]
        group_parts = [np.repeat(self._single[single], times)]
        class_parts = [np.repeat(self._single_class[single], times)]
        several = self._several_array
        first = self.schedule.cumulative(start)
        totals = per_slot[:, several].sum(axis=0)
        slots = np.arange(start, stop, dtype=np.int64)
        for g in several[totals > 0].tolist():  # only groups seated in these slots
            at = int(first[g])
            count = per_slot[:, g]
            items = self.rotation(g).items(at, at + int(count.sum()))
            slot_parts.append(np.repeat(slots, count))
            group_parts.append(np.full(items.size, g, dtype=np.int64))
            class_parts.append(self.members[g][items])
        slot = np.concatenate(slot_parts).astype(np.int64, copy=False)
        order = np.lexsort((np.concatenate(group_parts), slot))
        return slot[order], np.concatenate(class_parts)[order]
