"""The protocol every kind implements, and what the kinds share. Imports numpy only.

A kind turns a :class:`Setting` (the configuration of one target) into a plan object:

* a :class:`CountedPlan` (``fixed``, ``quota``, ``pk``) says, for any *slot* (global batch
  index ``t = (epoch * n_batches + k) * num_replicas + rank``), how many draws every class gets
  and where in the class's member stream they start; :class:`refsampler.plan.Plan` draws the
  members from :mod:`refsampler.members`;
* a :class:`SampledPlan` (``random``) draws whole batches itself.

Adding a kind means one module here with a ``build(setting)`` function and its traits
registered in :mod:`refsampler.kinds`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from .. import keys
from ..classes import ClassIndex
from . import KindTraits

if TYPE_CHECKING:
    from ..groups import RateGroups

__all__ = [
    "CountedPlan",
    "Entries",
    "SampledPlan",
    "Setting",
    "SlotSeats",
    "batch_major",
    "occurrences",
    "slot_seats",
]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Setting:
    """One configuration of a kind (validated by the caller).

    Attributes
    ----------
    index : ClassIndex
    target : numpy.ndarray of float64, shape (K,)
        Class shares; every class with a positive share has members.
    batch_size, n_batches, num_replicas, seed : int
    options : mapping
        The kind's own keyword arguments (``samples_per_class`` for ``pk``).
    epoch : int or None
        None when one target serves every epoch: slots are global over the whole run. An
        epoch number when this plan serves that epoch alone (a target that moves with the
        epoch): slots count from the epoch's start and the epoch keys the plan's randomness.
    """

    index: ClassIndex
    target: FloatVector
    batch_size: int
    n_batches: int
    num_replicas: int
    seed: int
    options: Mapping[str, Any] = field(default_factory=dict)
    epoch: int | None = None

    @property
    def key(self) -> tuple[int, ...]:
        """The prefix of every key this plan draws from: the seed, then (if the plan serves
        one epoch) its own tag and the epoch, so that no per-epoch key meets another stream's."""
        if self.epoch is None:
            return (self.seed,)
        return (self.seed, keys.TAG_EPOCH_PLAN, self.epoch)

    @property
    def slots_per_epoch(self) -> int:
        """Global batches per epoch: ``n_batches * num_replicas``."""
        return self.n_batches * self.num_replicas


@dataclass(frozen=True)
class Entries:
    """Per-batch class counts in sparse form, batch-major.

    Entry ``i`` gives row ``row[i]`` ``count[i]`` draws of class ``cls[i]``, taken from the
    class's member stream at positions ``start[i] .. start[i] + count[i] - 1``. A class has at
    most one entry per row, and every row's counts sum to the batch size.
    """

    row: IntVector
    cls: IntVector
    count: IntVector
    start: IntVector


class CountedPlan(ABC):
    """A kind whose per-batch class counts are planned (members from the cycle streams)."""

    traits: KindTraits
    setting: Setting
    #: The most draws one batch ever takes from each class, shape (K,).
    max_count: IntVector

    @abstractmethod
    def entries(self, slots: IntVector) -> Entries:
        """The entries of the batches at global slots ``slots`` (increasing, evenly spaced),
        one row per slot."""

    @abstractmethod
    def slot_of(self, c: int, position: int) -> tuple[int, int]:
        """The run ``(start, stop)`` of class ``c``'s stream positions taken by the batch
        whose draws include ``position``."""

    @abstractmethod
    def drawn_before(self, slot: int) -> IntVector:
        """Draws of every class in slots ``0 .. slot - 1``, shape (K,)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What :func:`refsampler.diagnostics.describe` shows of this kind's plan."""


class SampledPlan(ABC):
    """A kind that draws whole batches itself (no planned counts)."""

    traits: KindTraits
    setting: Setting

    @abstractmethod
    def draw(self, epoch: int, rank: int, chunk: int, rows: int) -> IntMatrix:
        """Positions of ``rows`` batches of one chunk, shape (rows, batch_size), each batch
        already in uniformly random order (the plan does not shuffle sampled batches)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What :func:`refsampler.diagnostics.describe` shows of this kind's plan."""


def occurrences(values: IntVector) -> IntVector:
    """For each element, how many equal elements come before it (a stable rank in its group).

    Examples
    --------
    >>> import numpy as np
    >>> from refsampler.kinds.base import occurrences
    >>> occurrences(np.array([3, 1, 3, 3, 1])).tolist()
    [0, 0, 1, 2, 1]
    """
    out = np.empty(values.size, dtype=np.int64)
    if values.size == 0:
        return out
    if int(values.min()) >= 0 and int(values.max()) < 1 << 16:
        # Class ids: a radix sort on 16 bits, and each value's first place from its count.
        order = np.argsort(values.astype(np.uint16), kind="stable")
        counts = np.bincount(values)
        group_start = (np.cumsum(counts) - counts)[values[order]]
    else:
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        group_start = np.searchsorted(ordered, ordered, side="left")
    out[order] = np.arange(values.size) - group_start
    return out


def batch_major(
    rows: int,
    dense_cls: IntVector,
    dense_count: IntMatrix,
    dense_start: IntMatrix,
    sparse_row: IntVector,
    sparse_cls: IntVector,
    sparse_count: IntVector,
    sparse_start: IntVector,
) -> Entries:
    """Merge per-row entries of the same classes (a dense ``(rows, len(dense_cls))`` block)
    with extra sparse entries into batch-major :class:`Entries` (each row: its dense entries,
    then its sparse ones). Zero-count entries are dropped."""
    nd = dense_cls.size
    sparse_per_row = np.bincount(sparse_row, minlength=rows)
    row_start = np.arange(rows) * nd + np.cumsum(sparse_per_row) - sparse_per_row
    dense_dest = (row_start[:, None] + np.arange(nd)).ravel()
    sparse_rank = (
        np.arange(sparse_row.size) - (np.cumsum(sparse_per_row) - sparse_per_row)[sparse_row]
    )
    sparse_dest = row_start[sparse_row] + nd + sparse_rank
    total = rows * nd + sparse_row.size
    row = np.empty(total, dtype=np.int64)
    cls = np.empty(total, dtype=np.int64)
    count = np.empty(total, dtype=np.int64)
    start = np.empty(total, dtype=np.int64)
    row[dense_dest] = np.repeat(np.arange(rows), nd)
    cls[dense_dest] = np.tile(dense_cls, rows)
    count[dense_dest] = dense_count.ravel()
    start[dense_dest] = dense_start.ravel()
    row[sparse_dest] = sparse_row
    cls[sparse_dest] = sparse_cls
    count[sparse_dest] = sparse_count
    start[sparse_dest] = sparse_start
    keep = count > 0
    if not keep.all():
        row, cls, count, start = row[keep], cls[keep], count[keep], start[keep]
    return Entries(row, cls, count, start)


class SlotSeats(NamedTuple):
    """The rate groups' seats in the slots from ``slots[0]`` to ``slots[-1]``, one element
    per seat, by slot (see :func:`slot_seats`): every rank's slots in between too, or this
    rank's alone (then ``mine`` is all True)."""

    #: Each seat's slot, counted from ``slots[0]``.
    rel: IntVector
    #: Each seat's class.
    cls: IntVector
    #: Seats of the seat's class before it (all slots from 0 on).
    earlier: IntVector
    #: Whether the seat's slot is one of ``slots`` (this rank's).
    mine: npt.NDArray[np.bool_]
    #: Seats of each class of the caller's ``columns`` before each row's slot, shape
    #: ``(rows, columns.size)`` (None when no columns were asked for). (Earlier releases held
    #: every class's seats before ``slots[0]`` here, shape (K,).)
    before: IntMatrix | None
    #: Slots between two rows (``num_replicas``, or 1 for one row).
    step: int


#: From this many slots between two rows on (``num_replicas``), :func:`slot_seats` reads the
#: seats of the rows' slots alone. Below it the head rules of consecutive rounds chain further
#: back (at 2 ranks, up to 27 rounds at 1e6 labels x 100 classes) and reading every slot in
#: order, which shares them, costs about as much (``benchmarks/replica_seats.py``).
SPARSE_STEP = 4


def slot_seats(
    groups: RateGroups, slots: IntVector, columns: IntVector | None = None
) -> SlotSeats:
    """The seats of ``groups`` in the span of the evenly spaced ``slots`` (the start of the
    entries of the kinds that seat classes by rate group: quota and pk), and the seats each
    class of ``columns`` had before each of ``slots``. Both ways of reading them (every slot
    of the span, or under many replicas the rows' slots alone, :meth:`RateGroups.seats_at
    <refsampler.groups.RateGroups.seats_at>`) give the same seats of ``slots`` in the same
    order."""
    t0, t1 = int(slots[0]), int(slots[-1]) + 1
    step = int(slots[1] - slots[0]) if slots.size > 1 else 1
    if step >= SPARSE_STEP:
        row, cls, earlier, before = groups.seats_at(slots, columns)
        rel = row * step
        return SlotSeats(rel, cls, earlier, np.ones(rel.size, dtype=bool), before, step)
    pick_slot, pick_cls = groups.picks(t0, t1)
    before_all = groups.seats_before_all(t0)
    rel = pick_slot - t0
    earlier = before_all[pick_cls] + occurrences(pick_cls)
    before = None
    if columns is not None:
        # Each column's seats before every slot of the span (other ranks' slots too).
        index = np.full(groups.num_classes, -1, dtype=np.int64)
        index[columns] = np.arange(columns.size)
        picked = np.zeros((t1 - t0 + 1, columns.size), dtype=np.int64)
        sel = index[pick_cls] >= 0
        picked[rel[sel] + 1, index[pick_cls[sel]]] = 1
        np.cumsum(picked, axis=0, out=picked)
        before = before_all[columns] + picked[slots - t0]
    return SlotSeats(rel, pick_cls, earlier, rel % step == 0, before, step)
