"""Tests of :mod:`refsampler.kinds.base`: helpers the counted kinds share."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refsampler.groups import RateGroups
from refsampler.kinds import base
from refsampler.kinds.base import occurrences


def _occurrences_by_definition(values: npt.NDArray[np.int64]) -> list[int]:
    seen: dict[int, int] = {}
    out = []
    for v in values.tolist():
        out.append(seen.get(v, 0))
        seen[v] = seen.get(v, 0) + 1
    return out


@settings(max_examples=150, deadline=None)
@given(
    values=hnp.arrays(
        np.int64,
        st.integers(0, 300),
        elements=st.one_of(
            st.integers(0, 40),  # class ids: the 16-bit radix path
            st.integers(-(2**40), 2**40),  # anything else: the general path
        ),
    )
)
def test_occurrences_counts_equal_elements_before_each(values: npt.NDArray[np.int64]) -> None:
    """Both paths (class ids below 2**16, and any other ints) give, for each element, how
    many equal elements come before it."""
    assert occurrences(values).tolist() == _occurrences_by_definition(values)


@pytest.mark.parametrize("replicas", [8, 13])
def test_slot_seats_reads_the_same_seats_alone_as_over_the_span(
    replicas: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From SPARSE_STEP replicas on, a rank's seats are read for its slots alone; read over
    every slot of the span instead, its seats, their earlier seats and the columns' seats
    before each row are the same."""
    rates = np.array([0.5] * 6 + [0.3] * 10 + [0.2] * 5 + [0.7])  # three rates: PD2
    columns = np.array([0, 3, 7, 20, 21])
    for rank in (0, replicas - 1):
        slots = (37 + np.arange(20)) * replicas + rank
        read = {}
        for sparse_step in (replicas, replicas + 1):
            monkeypatch.setattr(base, "SPARSE_STEP", sparse_step)
            read[sparse_step] = base.slot_seats(
                RateGroups(rates, 7, (4, 3), replicas), slots, columns
            )
        alone, span = read[replicas], read[replicas + 1]
        assert alone.mine.all() and not span.mine.all()
        for field in ("rel", "cls", "earlier"):
            np.testing.assert_array_equal(getattr(alone, field), getattr(span, field)[span.mine])
        np.testing.assert_array_equal(alone.before, span.before)
