"""The ``quota`` kind: counts vary by one so that every prefix of the run is exact.

Class ``c`` gets ``f_c = floor(B p_c)`` draws in every batch plus one *extra* draw in a fraction
``r_c = B p_c - f_c`` of the batches; the extra seats (``d = B - sum(f)`` per batch) come from
:class:`~refsampler.groups.RateGroups` over the global slots, so the schedule runs across
epochs and ranks: after every global batch ``t`` of the run, every class's cumulative count is
within 1 of ``t B p_c``, and which classes share the extra seats is random from the seed.
Imports numpy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .. import keys
from ..groups import RateGroups, exact_values
from . import get
from .base import CountedPlan, Entries, Setting, batch_major, slot_seats

__all__ = ["QuotaPlan", "build"]

IntVector = npt.NDArray[np.int64]


class QuotaPlan(CountedPlan):
    """The quota kind's plan for one :class:`~refsampler.kinds.base.Setting`."""

    def __init__(self, setting: Setting) -> None:
        self.traits = get("quota")
        self.setting = setting
        p = setting.target
        # B p_c as the fraction it stands for, so that an integral quota is exactly integral.
        values, inverse = exact_values(setting.batch_size * p)
        floors = np.array([v.numerator // v.denominator for v in values], dtype=np.int64)
        remainders = np.array([float(v - int(f)) for v, f in zip(values, floors, strict=True)])
        self.floors = floors[inverse]
        rates = np.where(p > 0, remainders[inverse], 0.0)
        extra = setting.batch_size - int(self.floors.sum())
        self.groups = RateGroups(
            rates, extra, (*setting.key, keys.TAG_GROUP_ROTATION), setting.num_replicas
        )
        self.rates = np.zeros(p.size)
        positive = self.groups.group_of >= 0
        self.rates[positive] = self.groups.rates[self.groups.group_of[positive]]
        self.max_count = self.floors + positive
        #: Classes in every batch (floor >= 1), in the order of their entries.
        self.base_classes = np.flatnonzero(self.floors > 0)
        self._base_index = np.full(p.size, -1, dtype=np.int64)
        self._base_index[self.base_classes] = np.arange(self.base_classes.size)

    def entries(self, slots: IntVector) -> Entries:
        rows = slots.size
        rel, pick_cls, earlier, mine, before, step = slot_seats(
            self.groups, slots, self.base_classes
        )
        nb = self.base_classes.size
        if before is None:  # asked for with columns
            raise TypeError("slot_seats gave no seats before the rows")
        # Base classes: floor every batch, plus the extra seat when picked; their stream starts
        # after their floors and extra seats before each row's slot (other ranks' too).
        in_base = self._base_index[pick_cls]
        sel = in_base >= 0
        base_count = np.broadcast_to(self.floors[self.base_classes], (rows, nb)).copy()
        mine_base = mine & sel
        base_count[rel[mine_base] // step, in_base[mine_base]] += 1
        base_start = slots[:, None] * self.floors[self.base_classes] + before
        # Classes with floor 0: one draw when picked, starting after their earlier picks.
        lone = mine & ~sel
        lone_cls = pick_cls[lone]
        lone_start = earlier[lone]
        return batch_major(
            rows,
            self.base_classes,
            base_count,
            base_start,
            rel[lone] // step,
            lone_cls,
            np.ones(lone_cls.size, dtype=np.int64),
            lone_start,
        )

    def drawn_before(self, slot: int) -> IntVector:
        return self.floors * slot + self.groups.seats_before_all(slot)

    def _drawn_before(self, c: int, slot: int) -> int:
        return int(self.floors[c]) * slot + self.groups.seats_before(c, slot)

    def slot_of(self, c: int, position: int) -> tuple[int, int]:
        rate = int(self.floors[c]) + float(self.rates[c])
        t = max(0, int(position / rate) - 1)
        while self._drawn_before(c, t + 1) <= position:
            t += 1
        while t > 0 and self._drawn_before(c, t) > position:
            t -= 1
        return self._drawn_before(c, t), self._drawn_before(c, t + 1)

    def describe(self) -> dict[str, Any]:
        return {
            "floors": self.floors,
            "extra_rates": self.rates,
            "extra_seats": self.groups.seats_per_slot,
            "rate_groups": self.groups.num_groups,
            "sequential_schedule": self.groups.schedule.sequential,
        }


def build(setting: Setting) -> QuotaPlan:
    """The quota kind's plan."""
    return QuotaPlan(setting)
