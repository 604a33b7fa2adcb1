"""What a batch of positions may look like: the one rule of the kit's APIs and processes.

A batch is accepted when ``numpy.asarray`` makes it a 1-D array of integers; nested batches,
single values and non-integer positions are refused. Imports numpy only, so the fresh process
of :mod:`~refsampler.conformance.fresh` reads batches by the same rule without the kit's
statistics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["NESTED", "SINGLE_VALUE", "as_array", "batch_positions", "malformed"]

#: Why a batch that is one value is refused.
SINGLE_VALUE = "is a single value, not a sequence of positions"
#: How the reason a nested batch is refused begins.
NESTED = "is nested"

IntVector = npt.NDArray[np.int64]


def as_array(batch: Any) -> tuple[npt.NDArray[Any] | None, str]:
    """``numpy.asarray(batch)``, or None and why it failed."""
    try:
        return np.asarray(batch), ""
    except (TypeError, ValueError, RuntimeError) as exc:
        problem = f"is not a sequence of positions ({exc})"
    if hasattr(batch, "tolist"):  # a tensor numpy cannot read in place (on a GPU)
        try:
            return np.asarray(batch.tolist()), ""
        except (TypeError, ValueError, RuntimeError):
            pass
    return None, problem


def malformed(array: npt.NDArray[Any]) -> str:
    """What keeps ``array`` from being one batch of positions ("" when it is one)."""
    if array.ndim == 0:
        return SINGLE_VALUE
    if array.ndim > 1:
        return f"{NESTED} (an array of shape {array.shape}), not a flat sequence of positions"
    if array.size and array.dtype.kind not in "iu":  # signed or unsigned integers, not bool
        return f"holds positions of dtype {array.dtype}, not integers"
    return ""


def batch_positions(batch: Any) -> tuple[IntVector | None, str]:
    """One batch as the positions a ``DataLoader`` indexes a dataset with.

    A batch is accepted when ``numpy.asarray`` makes it a 1-D array of integers (Python or
    numpy ints, an integer array or tensor, a list of 0-d integer tensors). Everything else
    is refused, even when it holds the right numbers: a nested batch (``[[1, 2], [3, 4]]``, a
    2-D array), a single value, and floats (``1.0``), bools, complex numbers or objects.

    Returns
    -------
    positions : numpy.ndarray of int64, shape (size,), or None
        None when the batch is refused.
    problem : str
        Why it was refused, as a phrase about the batch ("is nested (...)"); "" otherwise.

    Examples
    --------
    >>> from refsampler.conformance.positions import batch_positions
    >>> batch_positions([3, 1, 2])[0].tolist()
    [3, 1, 2]
    >>> batch_positions([[3, 1], [2, 0]])[1]
    'is nested (an array of shape (2, 2)), not a flat sequence of positions'
    >>> batch_positions([3.0, 1.0])[1]
    'holds positions of dtype float64, not integers'
    """
    array, problem = as_array(batch)
    if array is None:
        return None, problem
    problem = malformed(array)
    if problem:
        return None, problem
    return array.astype(np.int64), ""
