"""What the checks look at: a (kind, configuration) :class:`Setting` and the :class:`Sample`
an implementation produced for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import kinds as _kinds
from .configs import Config

__all__ = ["Sample", "Setting", "per_batch_counts"]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]

#: Slack for float round-off when comparing counts with ``B * p`` (never a real deviation).
EPS = 1e-9


def per_batch_counts(batches: npt.ArrayLike, labels: npt.ArrayLike, num_classes: int) -> IntMatrix:
    """Class counts of every batch, shape (n, K).

    The one copy of this count: the kit's checks, the shipped suite and refsampler's own
    tests all use it.

    Parameters
    ----------
    batches : array_like of int, shape (n, B)
        Positions into ``labels``, one row per batch (e.g. ``list(sampler)``).
    labels : array_like of int, shape (N,)
        Class id of every position.
    num_classes : int
        ``K``.
    """
    rows = np.asarray(batches, dtype=np.int64)
    n = rows.shape[0]
    flat = np.arange(n)[:, None] * num_classes + np.asarray(labels)[rows]
    return np.bincount(flat.ravel(), minlength=n * num_classes).reshape(n, num_classes)


@dataclass(frozen=True)
class Setting:
    """One (kind, configuration) of a run, before anything is drawn.

    Attributes
    ----------
    kind : str
    config : Config
    n_batches : int
        Batches of the main run.
    n_repeat : int
        Batches of each short determinism run (the run's seed, the next seed, the far seeds);
        the same-seed re-run repeats the whole main run.
    floor : float
        The smallest Holm threshold of the run (``family_level / m``): smallest-detectable
        figures and the number of seeds of the tie check refer to it.
    epoch : int
        The epoch whose target the batches are checked against (0 for the batches API).
    streams : object, optional
        For ``--api sampler``: the :class:`~refsampler.conformance.streams.StreamPlan` of the
        epoch, rank and resume checks (None otherwise).
    """

    kind: str
    config: Config
    n_batches: int
    n_repeat: int
    floor: float = 1e-8
    epoch: int = 0
    streams: Any = None

    @cached_property
    def properties(self) -> frozenset[str]:
        """The contract properties of the kind."""
        return _kinds.get(self.kind).properties

    @cached_property
    def target(self) -> FloatVector:
        """The target shares of the configuration at :attr:`epoch`."""
        return self.config.target(self.epoch)

    @cached_property
    def options(self) -> dict[str, Any]:
        """The kind's keyword options in this configuration (``samples_per_class``)."""
        return self.config.options(self.kind)

    @cached_property
    def unit(self) -> int:
        """Draws per seat: ``m`` for the pk-shape property (a seat is a class appearance of
        ``m`` members), else 1."""
        if _kinds.PROPERTY_PK_SHAPE in self.properties:
            return int(self.config.samples_per_class or 1)
        return 1

    @cached_property
    def seats(self) -> int:
        """Seats per batch: ``B`` draws, or ``P = B / m`` class appearances (pk shape)."""
        return self.config.batch_size // self.unit

    @cached_property
    def seat_quotas(self) -> FloatVector:
        """Expected seats of each class per batch: ``B p`` draws, or ``P p`` appearances."""
        return self.seats * self.target

    @cached_property
    def seat_floors(self) -> IntVector:
        """``floor`` of :attr:`seat_quotas` (float round-off below 1e-9 ignored)."""
        return np.floor(self.seat_quotas + EPS).astype(np.int64)

    @cached_property
    def seat_ceils(self) -> IntVector:
        """``ceil`` of :attr:`seat_quotas` (float round-off below 1e-9 ignored)."""
        return np.ceil(self.seat_quotas - EPS).astype(np.int64)

    @cached_property
    def quotas(self) -> FloatVector:
        """``B * p``."""
        return self.config.batch_size * self.target

    @cached_property
    def floors(self) -> IntVector:
        """``floor(B p_c)``, with float round-off below 1e-9 ignored."""
        return np.floor(self.quotas + EPS).astype(np.int64)

    @cached_property
    def ceils(self) -> IntVector:
        """``ceil(B p_c)``, with float round-off below 1e-9 ignored."""
        return np.ceil(self.quotas - EPS).astype(np.int64)

    @cached_property
    def part_time(self) -> IntVector:
        """Classes whose per-batch count changes from batch to batch under the kind's counts
        property (fractional quotas); none when every batch has the same counts."""
        if _kinds.PROPERTY_FIXED_COUNTS in self.properties:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(self.seat_ceils > self.seat_floors)

    @cached_property
    def extra_seats(self) -> int:
        """Seats handed out above the floors in every batch: ``B - sum(floor(B p))`` (or
        ``P - sum(floor(P p))`` appearances under the pk-shape property)."""
        return int(self.seats - self.seat_floors.sum())

    @cached_property
    def largest_count(self) -> int:
        """The largest count of one class in one batch the kind can give."""
        if _kinds.PROPERTY_FIXED_COUNTS in self.properties:
            from ..allocation import allocate

            return int(allocate(self.target, self.config.batch_size).max())
        if _kinds.PROPERTY_QUOTA_COUNTS in self.properties:
            return int(self.ceils.max())
        if _kinds.PROPERTY_PK_SHAPE in self.properties:
            return self.unit
        return self.config.batch_size

    @cached_property
    def ties(self) -> tuple[IntVector, int]:
        """Classes tied at the largest-remainder cut, and how many of them get the ceiling.

        Only for the fixed-counts property: classes forced up to one seat come first, then the
        largest fractional parts of ``B p`` (compared at 9 decimals, as ``allocate`` does).
        When the last seat falls inside a group of equal fractional parts, that group is tied
        and every choice of its winners is correct. Empty when there is no such tie.
        """
        none = (np.zeros(0, dtype=np.int64), 0)
        if _kinds.PROPERTY_FIXED_COUNTS not in self.properties:
            return none
        quotas = self.quotas
        floors = np.floor(quotas).astype(np.int64)
        fractions = np.round(quotas - floors, 9)
        forced = (self.target > 0) & (floors == 0)
        left = self.config.batch_size - int(floors.sum()) - int(forced.sum())
        free = np.flatnonzero(~forced & (fractions > 0))
        if left <= 0 or left >= free.size:
            return none
        ranked = free[np.argsort(-fractions[free], kind="stable")]
        cut = fractions[ranked[left - 1]]
        group = free[fractions[free] == cut]
        winners = int(np.count_nonzero(fractions[ranked[:left]] == cut))
        if winners == group.size:
            return none
        return group, winners

    def achievable_counts(self, c: int) -> list[int]:
        """Per-batch counts of class ``c`` the kind can give."""
        if _kinds.PROPERTY_FIXED_COUNTS in self.properties:
            from ..allocation import allocate

            if c in self.ties[0]:
                return [int(self.floors[c]), int(self.ceils[c])]
            return [int(allocate(self.target, self.config.batch_size)[c])]
        if _kinds.PROPERTY_QUOTA_COUNTS in self.properties:
            return sorted({int(self.floors[c]), int(self.ceils[c])})
        if _kinds.PROPERTY_PK_SHAPE in self.properties:
            seats = {int(self.seat_floors[c]), int(self.seat_ceils[c])}
            return sorted(self.unit * a for a in seats)
        return list(range(self.config.batch_size + 1))

    def largest_count_of(self, c: int) -> int:
        """The largest count of class ``c`` in one batch the kind can give."""
        return max(self.achievable_counts(c))

    @cached_property
    def expected_draws(self) -> FloatVector:
        """Expected draws of each class over the main run."""
        return self.n_batches * self.quotas


@dataclass
class Sample:
    """An implementation's output for one :class:`Setting`.

    Attributes
    ----------
    setting : Setting
    labels : numpy.ndarray of int64, shape (N,)
    batches : numpy.ndarray of int64, shape (n_batches, B)
        The main run (validated: right shape, positions in range).
    first : numpy.ndarray of int64, shape (n_repeat, B)
        A short run of the run's seed ``s``: what the other seeds are compared with.
    again : numpy.ndarray of int64, shape (n_batches, B)
        The main run again: its seed, its length.
    other : numpy.ndarray of int64, shape (n_repeat, B)
        A short run of seed ``s + 1``.
    far : list of (str, numpy.ndarray of int64, shape (n_repeat, B))
        ``(name, run)``: a short run of every far seed
        (:func:`~refsampler.conformance.checks.far_seeds`), named as
        :func:`~refsampler.conformance.checks.far_seed_names` names it (``"s XOR 2**16"``).
    tie_rows : list of numpy.ndarray
        Count vectors of the first batch under further seeds (for the tie check).
    start_rows : list of numpy.ndarray
        Count matrices of the first batches under further seeds (for the start check of
        :mod:`~refsampler.conformance.mixing`).
    """

    setting: Setting
    labels: IntVector
    batches: IntMatrix
    first: IntMatrix
    again: IntMatrix
    other: IntMatrix
    far: list[tuple[str, IntMatrix]] = field(default_factory=list)
    tie_rows: list[IntVector] = field(default_factory=list)
    start_rows: list[IntMatrix] = field(default_factory=list)

    @cached_property
    def counts(self) -> IntMatrix:
        """Class counts of every batch of the main run, shape (n, K)."""
        return per_batch_counts(self.batches, self.labels, self.setting.config.num_classes)

    def counts_of(self, batches: IntMatrix) -> IntMatrix:
        """Class counts of every batch of another run."""
        return per_batch_counts(batches, self.labels, self.setting.config.num_classes)
