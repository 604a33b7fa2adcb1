"""Spies shared by the test modules."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from refsampler.seats import SeatSchedule

__all__ = ["pd2_slots"]

IntArray = npt.NDArray[np.int64]


def pd2_slots(schedule: SeatSchedule) -> list[tuple[int, int]]:
    """Make ``schedule`` record each run of PD2 as ``(first slot, slots run)``; returns the
    record."""
    ran: list[tuple[int, int]] = []
    advance = schedule._advance

    def spy(
        extra: IntArray, start: int, slots: int, record: IntArray | None, **options: bool
    ) -> IntArray:
        ran.append((start, slots))
        return advance(extra, start, slots, record, **options)

    schedule._advance = spy  # type: ignore[method-assign]
    return ran
