"""The ``pk`` kind: every batch holds P distinct classes with exactly m members each.

For metric learning, re-identification and few-shot training. ``m = samples_per_class`` and
``P = batch_size // m``. The target ``p`` is over samples, as everywhere, so class ``c`` appears
in a fraction ``w_c = P p_c`` of the batches (feasible when every ``w_c <= 1`` and at least
``P`` classes have a positive target). Classes with ``w_c = 1`` appear in every batch; the
others share the remaining appearances through :class:`~refsampler.groups.RateGroups` over the
global slots, so after every global batch ``t`` each class's number of appearances is within 1
of ``t w_c``, and which classes meet is random from the seed. Each appearance takes ``m``
consecutive draws of the class's member stream (distinct members; cycles continue across
epochs). Imports numpy only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _validate, keys
from ..errors import InvalidArgumentError
from ..groups import RateGroups
from . import get
from .base import CountedPlan, Entries, Setting, batch_major, slot_seats

__all__ = ["FULL_TOLERANCE", "PkPlan", "build", "check", "check_feasible", "samples_per_class"]

IntVector = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]

#: ``P p_c`` within this of 1 counts as "in every batch" (float rounding of, say, ``P / P``).
FULL_TOLERANCE = 1e-12


def samples_per_class(value: Any, batch_size: int) -> int:
    """Validate ``samples_per_class`` against ``batch_size``; returns ``m``."""
    m = _validate.positive_int("samples_per_class", value)
    if batch_size % m:
        raise InvalidArgumentError(
            f'`batch_size` must be a multiple of `samples_per_class` ({m}) for kind="pk"; '
            f"got {batch_size}."
        )
    return m


def check(
    class_counts: IntVector,
    batch_size: int,
    options: dict[str, Any],
    targets: list[tuple[FloatVector, float | None]],
    schedule: Any = None,
) -> dict[str, Any]:
    """The pk kind's checks at construction (see :func:`refsampler.kinds.check`):
    ``samples_per_class`` divides ``batch_size``, and every target of the run is feasible
    (:func:`check_feasible`). A schedule's knots suffice: ``P p_c`` is linear in alpha, so
    between two knots where it is at most 1 it stays so, and the classes with a positive
    share are the same at every alpha in (0, 1]."""
    m = samples_per_class(options.get("samples_per_class"), batch_size)
    for target, alpha in targets:
        try:
            check_feasible(target, batch_size // m, class_counts, m, alpha)
        except InvalidArgumentError as error:
            if schedule is None:
                raise
            raise InvalidArgumentError(
                f"{str(error).rstrip('.')}, at a knot of the alpha schedule {str(schedule)!r}."
            ) from None
    return {"samples_per_class": m}


def check_feasible(
    target: FloatVector,
    classes_per_batch: int,
    class_counts: IntVector,
    samples: int,
    alpha: float | None = None,
) -> None:
    """Raise :class:`~refsampler.errors.InvalidArgumentError` unless P x m batches can meet
    ``target``: at least P classes with a positive share, every such class with at least m
    members, and every ``P p_c <= 1``.

    With ``alpha`` (the target came from :func:`refsampler.targets.interpolate`) the message
    gives the range of alphas that would be feasible.
    """
    positive = np.flatnonzero(target > 0)
    p_count = classes_per_batch
    if positive.size < p_count:
        raise InvalidArgumentError(
            f'kind="pk" needs at least P = {p_count} classes with a positive target, but '
            f"only {positive.size} have one; use a smaller `batch_size` or a larger "
            f"`samples_per_class` (fewer classes per batch); got target "
            f"{_validate._show(target)}."
        )
    small = positive[class_counts[positive] < samples]
    if small.size:
        c = int(small[0])
        raise InvalidArgumentError(
            f'kind="pk" takes `samples_per_class` = {samples} distinct members of every class '
            f"in a batch, but class {c} has only {int(class_counts[c])}; exclude it by giving "
            "it share 0 with an explicit `target` (e.g. "
            "`refsampler.targets.explicit(weights)` with weight 0 there), or lower "
            "`samples_per_class`."
        )
    load = p_count * target
    over = np.flatnonzero(load > 1 + FULL_TOLERANCE)
    if over.size:
        c = int(over[np.argmax(load[over])])
        advice = (
            "use fewer classes per batch (a smaller `batch_size` or larger `samples_per_class`)"
        )
        if alpha is not None:
            low, high = _feasible_alphas(class_counts, p_count)
            if low <= high:
                advice = f"alpha in {_shown_range(low, high)} is feasible, or " + advice
        raise InvalidArgumentError(
            f'kind="pk" cannot put class {c} in P * p_c = {_above(load[c], 1)} > 1 of the batches '
            f"(P = {p_count} classes per batch, share p_c = {_above(target[c], 1 / p_count)}); "
            f"{advice}; got "
            + (f"alpha={alpha!r}." if alpha is not None else f"target {_validate._show(target)}.")
        )


def _above(value: float, bound: float) -> str:
    """``value`` (> ``bound``) to 6 significant digits, or as many more as it takes to print
    above ``bound`` (1.0000002 would print as 1, a share 0.25000005 as 0.25)."""
    for digits in range(6, 18):
        text = f"{value:.{digits}g}"
        if float(text) > bound:
            return text
    return repr(float(value))


def _shown_range(low: float, high: float) -> str:
    """``[low, high]`` rounded inwards to 6 decimals, so that both printed ends are feasible
    (rounded to nearest, a lower end can print below the bound and be refused); exact when
    the range is narrower than that."""
    inner_low, inner_high = math.ceil(low * 1e6) / 1e6, math.floor(high * 1e6) / 1e6
    if inner_low > inner_high:
        return f"[{low!r}, {high!r}]"
    return f"[{inner_low:g}, {inner_high:g}]"


def _feasible_alphas(class_counts: IntVector, p_count: int) -> tuple[float, float]:
    """The alphas for which ``P * interpolate(counts, alpha) <= 1`` everywhere."""
    k = class_counts.size
    share = class_counts / class_counts.sum()
    # P (alpha / K + (1 - alpha) q) <= 1  <=>  alpha (1/K - q) <= 1/P - q.
    low, high = 0.0, 1.0
    for q in np.unique(share):
        slope, bound = 1.0 / k - q, 1.0 / p_count - q
        if slope > 0:
            high = min(high, bound / slope)
        elif slope < 0:
            low = max(low, bound / slope)
        elif bound < 0:
            return 1.0, 0.0
    return low, high


class PkPlan(CountedPlan):
    """The pk kind's plan for one :class:`~refsampler.kinds.base.Setting`."""

    def __init__(self, setting: Setting) -> None:
        self.traits = get("pk")
        self.setting = setting
        m = samples_per_class(setting.options.get("samples_per_class"), setting.batch_size)
        self.samples = m
        self.classes_per_batch = setting.batch_size // m
        p = setting.target
        check_feasible(
            p, self.classes_per_batch, setting.index.counts, m, setting.options.get("alpha")
        )
        load = self.classes_per_batch * p
        self.full = np.flatnonzero(np.abs(load - 1.0) <= FULL_TOLERANCE)
        rates = np.where(load < 1 - FULL_TOLERANCE, load, 0.0)  # taken as exact fractions
        self.groups = RateGroups(
            rates,
            self.classes_per_batch - self.full.size,
            (*setting.key, keys.TAG_GROUP_ROTATION),
            setting.num_replicas,
        )
        self.appearance_rates = np.zeros(p.size)
        self.appearance_rates[self.full] = 1.0
        grouped = self.groups.group_of >= 0
        self.appearance_rates[grouped] = self.groups.rates[self.groups.group_of[grouped]]
        self.max_count = np.where(self.appearance_rates > 0, m, 0).astype(np.int64)

    def entries(self, slots: IntVector) -> Entries:
        rows = slots.size
        m = self.samples
        seats = slot_seats(self.groups, slots)
        mine = seats.mine
        nf = self.full.size
        full_count = np.full((rows, nf), m, dtype=np.int64)
        full_start = slots[:, None] * m + np.zeros(nf, dtype=np.int64)
        cls = seats.cls[mine]
        return batch_major(
            rows,
            self.full,
            full_count,
            full_start,
            seats.rel[mine] // seats.step,
            cls,
            np.full(cls.size, m, dtype=np.int64),
            seats.earlier[mine] * m,
        )

    def drawn_before(self, slot: int) -> IntVector:
        appearances = self.groups.seats_before_all(slot)
        appearances[self.full] = slot
        return appearances * self.samples

    def slot_of(self, c: int, position: int) -> tuple[int, int]:
        start = position - position % self.samples
        return start, start + self.samples

    def describe(self) -> dict[str, Any]:
        return {
            "samples_per_class": self.samples,
            "classes_per_batch": self.classes_per_batch,
            "appearance_rates": self.appearance_rates,
            "every_batch": self.full,
            "rate_groups": self.groups.num_groups,
            "sequential_schedule": self.groups.schedule.sequential,
        }


def build(setting: Setting) -> PkPlan:
    """The pk kind's plan."""
    return PkPlan(setting)
