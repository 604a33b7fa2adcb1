"""Tests of refsampler.conformance.positions: the one rule for what a batch may look like."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from refsampler.conformance import fresh
from refsampler.conformance.positions import batch_positions


@pytest.mark.parametrize(
    ("batch", "positions"),
    [
        ([3, 1, 2], [3, 1, 2]),
        (np.array([3, 1], dtype=np.int32), [3, 1]),
        (torch.tensor([4, 0]), [4, 0]),
        ([torch.tensor(5), torch.tensor(6)], [5, 6]),
        ([], []),
    ],
)
def test_flat_integer_batches_are_accepted(batch: object, positions: list[int]) -> None:
    """Lists, integer arrays and tensors, and lists of 0-d integer tensors."""
    got, problem = batch_positions(batch)
    assert problem == "" and got is not None and got.tolist() == positions


@pytest.mark.parametrize(
    ("batch", "problem"),
    [
        ([[3, 1], [2, 0]], "is nested"),
        (7, "is a single value"),
        ([3.0, 1.0], "holds positions of dtype float64"),
        ([True, False], "holds positions of dtype bool"),
    ],
)
def test_other_forms_are_refused_with_the_reason(batch: object, problem: str) -> None:
    """Even when the values are the right numbers, a DataLoader cannot index with them."""
    got, why = batch_positions(batch)
    assert got is None and why.startswith(problem)


def test_the_fresh_process_reads_batches_by_the_same_rule() -> None:
    """A refused batch is empty in the fresh process's passes, as in the kit's own."""
    assert fresh._pass([[1, 2], [[1], [2]], [1.0, 2.0], np.array([4, 5])]) == [
        [1, 2],
        [],
        [],
        [4, 5],
    ]
