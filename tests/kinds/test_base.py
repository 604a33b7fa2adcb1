"""Tests of :mod:`refsampler.kinds.base`: helpers the counted kinds share."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

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
