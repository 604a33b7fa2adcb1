"""The ``fixed`` kind: every batch of an epoch has the same class counts.

The count vector is largest-remainder rounding of ``B p`` (:func:`refsampler.allocation.allocate`):
each count is ``floor(B p_c)`` or ``ceil(B p_c)`` and every class with a positive share gets at
least one. When exact ties leave ``s`` of the last seats to ``s`` of ``T`` tied classes, the
tied seats are handed out in rounds of random order (a :class:`~refsampler.rotation.Rotation`
of the tied classes, ``s`` seats per epoch): the vector is the same in every batch of an
epoch, and over ``E`` epochs every tied class gets its extra seat ``floor(E s / T)`` or
``ceil(E s / T)`` times. Imports numpy only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import keys
from ..allocation import _ties, allocate
from ..errors import InvalidArgumentError
from ..rotation import Rotation
from . import get
from .base import CountedPlan, Entries, Setting

__all__ = ["FixedPlan", "build", "check"]

IntVector = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]


class FixedPlan(CountedPlan):
    """The fixed kind's plan for one :class:`~refsampler.kinds.base.Setting`."""

    def __init__(self, setting: Setting) -> None:
        self.traits = get("fixed")
        self.setting = setting
        self.certain, self.tied, self.tied_seats = _ties(setting.target, setting.batch_size)
        self._tie_index = np.full(setting.target.size, -1, dtype=np.int64)
        self._tie_index[self.tied] = np.arange(self.tied.size)
        seats = self.tied_seats
        # One target for the run: rotate the tied seats over epochs. A plan for one epoch (a
        # moving target): that epoch keys a fresh random order.
        self._local = setting.epoch is not None
        self.rotation = (
            Rotation(
                int(self.tied.size),
                (*setting.key, keys.TAG_TIE_ROTATION),
                self._tie_slot,
                max_slot=seats,
            )
            if seats
            else None
        )
        self._starts: Callable[[int], IntVector] | None = None
        self.max_count = self.certain + (self._tie_index >= 0)
        self.present = np.flatnonzero(self.max_count > 0)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_starts"] = None  # a cache
        return state

    def _tie_slot(self, position: int) -> tuple[int, int]:
        """The tied seats of the epoch that holds tie position ``position``."""
        start = position - position % self.tied_seats
        return start, start + self.tied_seats

    def counts(self, epoch: int) -> IntVector:
        """The count vector of every batch of ``epoch`` (0 for a plan of one epoch)."""
        counts = self.certain.copy()
        if self.rotation is not None:
            s = self.tied_seats
            counts[self.tied[self.rotation.items(epoch * s, (epoch + 1) * s)]] += 1
        return counts

    def _epoch_start(self, epoch: int) -> IntVector:
        """Draws of every class in the epochs before ``epoch`` (all ranks)."""
        return self._epoch_starts(epoch).copy()

    def _epoch_starts(self, epoch: int) -> IntVector:
        # Member oracles ask for the same few epochs over and over: keep them (read-only).
        if self._starts is None:
            self._starts = functools.lru_cache(maxsize=8)(self._compute_epoch_start)
        return self._starts(epoch)

    def _compute_epoch_start(self, epoch: int) -> IntVector:
        drawn = self.certain * epoch
        if self.rotation is not None:
            drawn[self.tied] += self.rotation.counts_before(epoch * self.tied_seats)
        out = drawn * self.setting.slots_per_epoch
        out.flags.writeable = False
        return out

    def entries(self, slots: IntVector) -> Entries:
        per_epoch = self.setting.slots_per_epoch
        epochs = slots // per_epoch
        if epochs[0] != epochs[-1]:  # slots across an epoch boundary: one part per epoch
            cut = np.flatnonzero(np.diff(epochs)) + 1
            parts = [self.entries(part) for part in np.split(slots, cut)]
            offsets = np.concatenate(([0], cut))
            return Entries(
                np.concatenate([p.row + o for p, o in zip(parts, offsets.tolist(), strict=True)]),
                np.concatenate([p.cls for p in parts]),
                np.concatenate([p.count for p in parts]),
                np.concatenate([p.start for p in parts]),
            )
        epoch = int(epochs[0])
        counts = self.counts(epoch)
        cls = np.flatnonzero(counts)
        rows = slots.size
        within = slots - epoch * per_epoch
        start = self._epoch_start(epoch)[cls] + within[:, None] * counts[cls]
        return Entries(
            np.repeat(np.arange(rows), cls.size),
            np.tile(cls, rows),
            np.tile(counts[cls], rows),
            start.ravel(),
        )

    def drawn_before(self, slot: int) -> IntVector:
        per_epoch = self.setting.slots_per_epoch
        epoch, within = divmod(slot, per_epoch)
        return self._epoch_start(epoch) + within * self.counts(epoch)

    def _class_epoch_start(self, c: int, epoch: int) -> int:
        return int(self._epoch_starts(epoch)[c])

    def slot_of(self, c: int, position: int) -> tuple[int, int]:
        per_epoch = self.setting.slots_per_epoch
        share = float(self.certain[c])
        if self._tie_index[c] >= 0:
            share += self.tied_seats / self.tied.size
        epoch = max(0, int(position / (share * per_epoch)) - 1)
        while self._class_epoch_start(c, epoch + 1) <= position:
            epoch += 1
        while epoch > 0 and self._class_epoch_start(c, epoch) > position:
            epoch -= 1
        first = self._class_epoch_start(c, epoch)
        count = (self._class_epoch_start(c, epoch + 1) - first) // per_epoch
        start = first + (position - first) // count * count
        return start, start + count

    def describe(self) -> dict[str, Any]:
        return {
            "certain": self.certain,
            "tied": self.tied,
            "tied_seats": self.tied_seats,
        }


def check(
    class_counts: IntVector,
    batch_size: int,
    options: dict[str, Any],
    targets: list[tuple[FloatVector, float | None]],
) -> dict[str, Any]:
    """The fixed kind's checks at construction (see :func:`refsampler.kinds.check`): every
    target of the run, each knot of an alpha schedule included, has a count vector
    (:func:`~refsampler.allocation.allocate`), so that an infeasible knot is refused when the
    sampler is built rather than when training reaches its epoch.

    Parameters
    ----------
    class_counts : numpy.ndarray of int64, shape (K,)
        Samples per class.
    batch_size : int
        ``B``.
    options : dict
        The kind's options (fixed has none; returned as given).
    targets : list of (numpy.ndarray, float or None)
        Every ``(target, alpha)`` the run can use (``alpha`` None for an explicit target).

    Returns
    -------
    dict
        ``options``, unchanged.

    Raises
    ------
    InvalidArgumentError
        If a target leaves more classes with a positive share than quota rounding can seat;
        for a knot of a schedule the message names its alpha.
    """
    several = len(targets) > 1
    for target, alpha in targets:
        try:
            allocate(target, batch_size)
        except InvalidArgumentError as error:
            if not several:
                raise
            raise InvalidArgumentError(
                f"{str(error).rstrip('.')}, at the alpha schedule's knot `alpha`={alpha!r}."
            ) from None
    return dict(options)


def build(setting: Setting) -> FixedPlan:
    """The fixed kind's plan."""
    return FixedPlan(setting)
