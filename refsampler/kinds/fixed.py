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
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import keys
from ..allocation import _ties, allocate
from ..errors import InvalidArgumentError
from ..rotation import Rotation
from ..targets import interpolate
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
    schedule: Any = None,
) -> dict[str, Any]:
    """The fixed kind's checks at construction (see :func:`refsampler.kinds.check`): every
    target of the run has a count vector (:func:`~refsampler.allocation.allocate`), with an
    alpha schedule every epoch's, so that an infeasible epoch is refused when the sampler is
    built rather than when training reaches it.

    Feasibility is not convex in alpha (counts 954, 237, 3, 1 at ``B = 10`` are feasible at
    alpha 0.03 and 0.18 and not in between), so the epochs between two knots are checked too:
    those where a class's ``B p_c`` can cross an integer (and the epochs beside them, for the
    float rounding of the crossing), found for every class at once. Between two crossings
    the floors, hence feasibility, do not change.

    Parameters
    ----------
    class_counts : numpy.ndarray of int64, shape (K,)
        Samples per class.
    batch_size : int
        ``B``.
    options : dict
        The kind's options (fixed has none; returned as given).
    targets : list of (numpy.ndarray, float or None)
        Every ``(target, alpha)`` the run can use (``alpha`` None for an explicit target); a
        schedule's knots.
    schedule : AlphaSchedule, optional
        The alpha schedule ``targets`` come from (its epochs between knots are checked).

    Returns
    -------
    dict
        ``options``, unchanged.

    Raises
    ------
    InvalidArgumentError
        If a target leaves more classes with a positive share than quota rounding can seat;
        for a schedule the message names the epoch and its alpha.
    """
    if schedule is None:
        for target, _ in targets:
            allocate(target, batch_size)
        return dict(options)
    for epoch in _turning_epochs(class_counts, batch_size, schedule):
        alpha = schedule(epoch)
        try:
            allocate(interpolate(class_counts, alpha), batch_size)
        except InvalidArgumentError as error:
            raise InvalidArgumentError(
                f"{str(error).rstrip('.')}, at epoch {epoch} of the alpha schedule "
                f"{str(schedule)!r} (`alpha`={alpha!r})."
            ) from None
    return dict(options)


def _turning_epochs(class_counts: IntVector, batch_size: int, schedule: Any) -> list[int]:
    """The epochs of ``schedule`` where the fixed kind's feasibility can change: its knots,
    and between two knots of different alphas the epochs around every alpha where a class's
    ``B p_c`` crosses an integer (``p_c = alpha / K + (1 - alpha) n_c / N`` is linear in
    alpha), or every epoch when there are fewer of those than of crossings."""
    share = class_counts / class_counts.sum()
    uniform = 1.0 / class_counts.size
    # Epoch 0: before the first knot every epoch has its alpha, and the first is the one named.
    epochs = {0, *(e for e, _ in schedule.knots)}
    for (e0, a0), (e1, a1) in itertools.pairwise(schedule.knots):
        if a0 == a1 or e1 - e0 < 2:
            continue
        q0 = batch_size * (a0 * uniform + (1 - a0) * share)
        q1 = batch_size * (a1 * uniform + (1 - a1) * share)
        low = np.floor(np.minimum(q0, q1)).astype(np.int64)
        crossed = np.floor(np.maximum(q0, q1)).astype(np.int64) - low
        # A class at exactly the uniform share keeps its B p_c (the ends may differ in the last
        # bit): it crosses nothing, and the crossing formula would divide by 0.
        crossed[share == uniform] = 0
        if int(crossed.sum()) * 4 >= e1 - e0:
            epochs.update(range(e0 + 1, e1))
            continue
        cls = np.repeat(np.arange(class_counts.size), crossed)
        level = np.repeat(low + 1, crossed) + _within(crossed)  # the integers crossed
        alpha = (level / batch_size - share[cls]) / (uniform - share[cls])
        # A crossing lies between the ends; float noise (a share a bit off uniform) must not
        # throw it far out, past what an int64 epoch holds.
        alpha = np.clip(alpha, min(a0, a1), max(a0, a1))
        at = np.floor(e0 + (alpha - a0) * (e1 - e0) / (a1 - a0)).astype(np.int64)
        near = (at[:, None] + np.arange(-1, 3)).ravel()
        epochs.update(near[(near > e0) & (near < e1)].tolist())
    return sorted(epochs)


def _within(runs: IntVector) -> IntVector:
    """``0 .. n - 1`` for every run length ``n`` of ``runs``, concatenated."""
    ends = np.cumsum(runs)
    return np.arange(int(ends[-1]) if ends.size else 0) - np.repeat(ends - runs, runs)


def build(setting: Setting) -> FixedPlan:
    """The fixed kind's plan."""
    return FixedPlan(setting)
