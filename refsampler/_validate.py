"""Argument checks shared by every module, so that every message has one shape.

Each check raises :class:`~refsampler.errors.InvalidArgumentError` with the message
``"`name` <requirement>; got <value>."`` and returns the value converted to its canonical type.
This module imports numpy only.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import InvalidArgumentError

KINDS = ("fixed", "quota", "random")
#: A target is accepted when its sum is within this distance of 1. Targets that refsampler
#: computes itself meet 1e-12; user input gets slack for decimal literals, never renormalisation.
TARGET_SUM_TOLERANCE = 1e-9


def _show(value: Any) -> str:
    """Render a rejected value for a message, kept short for long arrays."""
    if isinstance(value, np.generic):  # np.int64(0) -> 0, as the user would write it
        value = value.item()
    if isinstance(value, np.ndarray):
        return np.array2string(value, threshold=8, precision=6)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def fail(name: str, requirement: str, value: Any) -> InvalidArgumentError:
    """Build the standard error: "`name` requirement; got value."."""
    return InvalidArgumentError(f"`{name}` {requirement}; got {_show(value)}.")


def is_int(value: Any) -> bool:
    """True for Python and numpy integers, False for bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def positive_int(name: str, value: Any) -> int:
    """A Python or numpy integer >= 1."""
    if not is_int(value):
        raise fail(name, "must be a positive int", value)
    if value < 1:
        raise fail(name, "must be >= 1", value)
    return int(value)


def non_negative_int(name: str, value: Any) -> int:
    """A Python or numpy integer >= 0."""
    if not is_int(value):
        raise fail(name, "must be a non-negative int", value)
    if value < 0:
        raise fail(name, "must be >= 0", value)
    return int(value)


def unit_interval(name: str, value: Any) -> float:
    """A real number in [0, 1]; NaN, bools and strings are rejected."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise fail(name, "must be a real number in [0, 1]", value)
    result = float(value)
    if not 0.0 <= result <= 1.0:  # also rejects NaN
        raise fail(name, "must be in [0, 1]", value)
    return result


def kind(value: Any) -> str:
    """One of :data:`KINDS`."""
    if not isinstance(value, str) or value not in KINDS:
        raise fail("kind", 'must be one of "fixed", "quota", "random"', value)
    return value


def int_vector(name: str, value: Any, *, allow_empty: bool = False) -> npt.NDArray[np.int64]:
    """A 1-D array of non-negative integers, returned as a fresh int64 array.

    Accepts sequences, numpy arrays and anything with ``__array__`` (CPU torch tensors), so that
    this module needs no torch import. The caller's object is never modified.
    """
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise fail(name, "must be a 1-D sequence of ints", value) from exc
    if array.ndim != 1:
        raise fail(name, f"must be 1-D, but has shape {array.shape}", value)
    if array.size == 0:
        if allow_empty:
            return np.zeros(0, dtype=np.int64)
        raise fail(name, "must not be empty", value)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise fail(name, f"must hold integers, but has dtype {array.dtype}", value)
    if np.issubdtype(array.dtype, np.signedinteger) and array.min() < 0:
        bad = int(array[np.argmax(array < 0)])
        raise fail(name, f"must be non-negative, but holds {bad}", value)
    if array.dtype == np.uint64 and array.max() > np.iinfo(np.int64).max:
        raise fail(name, "must fit in int64", value)
    return array.astype(np.int64, copy=True)


def class_counts_vector(name: str, value: Any) -> npt.NDArray[np.int64]:
    """Per-class sample counts: 1-D, non-negative ints, with a positive total."""
    counts = int_vector(name, value)
    if counts.sum() == 0:
        raise fail(name, "must have a positive total", value)
    return counts


def probability_vector(name: str, value: Any) -> npt.NDArray[np.float64]:
    """A 1-D float vector with finite, non-negative entries that sum to 1."""
    try:
        array = np.array(value, dtype=np.float64)  # a copy: the caller's data is never touched
    except (TypeError, ValueError) as exc:
        raise fail(name, "must be a 1-D sequence of real numbers", value) from exc
    if array.ndim != 1 or array.size == 0:
        raise fail(name, "must be a non-empty 1-D sequence", value)
    if not np.all(np.isfinite(array)):
        raise fail(name, "must hold finite numbers", value)
    if np.any(array < 0):
        raise fail(name, "must be non-negative", value)
    total = math.fsum(array.tolist())
    if abs(total - 1.0) > TARGET_SUM_TOLERANCE:
        raise fail(
            name,
            f"must sum to 1 (within {TARGET_SUM_TOLERANCE:g}), but sums to {total!r}; "
            "use refsampler.targets.explicit(weights) to normalise weights",
            value,
        )
    return array


def feasible_target(
    target: npt.NDArray[np.float64], class_counts: npt.NDArray[np.int64], source: str
) -> None:
    """Every class with a positive target share must have at least one sample.

    ``source`` names the argument the target came from, e.g. "`alpha`=0.5" or "`target`".
    """
    if target.shape != class_counts.shape:
        raise InvalidArgumentError(
            f"`target` must have one entry per class ({class_counts.size}); "
            f"got {target.size} entries."
        )
    starved = np.flatnonzero((target > 0) & (class_counts == 0))
    if starved.size:
        c = int(starved[0])
        raise InvalidArgumentError(
            f"{source} gives class {c} a target share of {target[c]:.6g}, but it has no "
            "samples; give it share 0 with an explicit `target`, or relabel so that every "
            f"class id has samples; got class counts {_show(class_counts)}."
        )
