"""Tests of :mod:`refsampler._validate`: the shared argument checks and their one message shape."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import torch

from refsampler import _validate
from refsampler.errors import InvalidArgumentError, RefSamplerError


def _raises(message: str) -> Any:
    """pytest.raises for InvalidArgumentError with exactly ``message``."""
    return pytest.raises(InvalidArgumentError, match="^" + re.escape(message) + "$")


# -- fail / _show ---------------------------------------------------------------------------


def test_fail_builds_the_standard_message() -> None:
    """fail() returns (does not raise) an InvalidArgumentError: "`name` requirement; got value."."""
    error = _validate.fail("alpha", "must be in [0, 1]", 1.5)
    assert isinstance(error, InvalidArgumentError)
    assert isinstance(error, ValueError)
    assert isinstance(error, RefSamplerError)
    assert str(error) == "`alpha` must be in [0, 1]; got 1.5."


def test_fail_shows_strings_with_repr() -> None:
    """A string value is quoted so that '0.5' and 0.5 are told apart."""
    assert str(_validate.fail("kind", "is bad", "x")) == "`kind` is bad; got 'x'."


def test_show_truncates_long_reprs() -> None:
    """Values with a long repr are cut to 80 characters ending in '...'."""
    shown = _validate._show(list(range(100)))
    assert len(shown) == 80
    assert shown.endswith("...")
    assert shown.startswith("[0, 1, 2")


def test_show_summarises_long_arrays() -> None:
    """Long numpy arrays are summarised with an ellipsis instead of printed in full."""
    shown = _validate._show(np.arange(1000))
    assert "..." in shown
    assert len(shown) < 80


# -- integers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, -5, np.int8(3), np.int64(7), np.uint16(9)])
def test_is_int_accepts_python_and_numpy_ints(value: Any) -> None:
    """Python ints and every numpy integer type count as ints."""
    assert _validate.is_int(value)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 1.0, "1", None, np.float64(1)])
def test_is_int_rejects_bools_floats_strings(value: Any) -> None:
    """Bools (also numpy's), floats, strings and None are not ints."""
    assert not _validate.is_int(value)


@pytest.mark.parametrize("value", [1, 32, np.int32(4), np.uint8(2), np.int64(2**40)])
def test_positive_int_returns_python_int(value: Any) -> None:
    """Accepted values come back as Python ints of the same value."""
    result = _validate.positive_int("batch_size", value)
    assert type(result) is int
    assert result == int(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "`batch_size` must be >= 1; got 0."),
        (-3, "`batch_size` must be >= 1; got -3."),
        (np.int64(0), "`batch_size` must be >= 1; got 0."),
        (2.0, "`batch_size` must be a positive int; got 2.0."),
        (True, "`batch_size` must be a positive int; got True."),
        ("8", "`batch_size` must be a positive int; got '8'."),
        (None, "`batch_size` must be a positive int; got None."),
    ],
)
def test_positive_int_rejects(value: Any, message: str) -> None:
    """Zero, negatives, floats, bools, strings and None are rejected with the exact message."""
    with _raises(message):
        _validate.positive_int("batch_size", value)


def test_non_negative_int_accepts_zero() -> None:
    """Zero is a valid non-negative int."""
    assert _validate.non_negative_int("seed", 0) == 0
    assert _validate.non_negative_int("seed", np.uint64(5)) == 5


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "`seed` must be >= 0; got -1."),
        (1.5, "`seed` must be a non-negative int; got 1.5."),
        (False, "`seed` must be a non-negative int; got False."),
    ],
)
def test_non_negative_int_rejects(value: Any, message: str) -> None:
    """Negatives, floats and bools are rejected with the exact message."""
    with _raises(message):
        _validate.non_negative_int("seed", value)


# -- unit interval and kind -------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 0.0, 0.5, 1.0, np.float32(0.25), np.int64(1)])
def test_unit_interval_accepts(value: Any) -> None:
    """Reals in [0, 1], including numpy scalars and the ints 0 and 1, are accepted as floats."""
    result = _validate.unit_interval("alpha", value)
    assert type(result) is float
    assert result == float(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "`alpha` must be in [0, 1]; got 1.5."),
        (-0.1, "`alpha` must be in [0, 1]; got -0.1."),
        (float("nan"), "`alpha` must be in [0, 1]; got nan."),
        (float("inf"), "`alpha` must be in [0, 1]; got inf."),
        ("0.5", "`alpha` must be a real number in [0, 1]; got '0.5'."),
        (True, "`alpha` must be a real number in [0, 1]; got True."),
        (np.bool_(False), "`alpha` must be a real number in [0, 1]; got False."),
        (None, "`alpha` must be a real number in [0, 1]; got None."),
    ],
)
def test_unit_interval_rejects(value: Any, message: str) -> None:
    """Out of range, NaN, inf, strings, bools and None are rejected with the exact message."""
    with _raises(message):
        _validate.unit_interval("alpha", value)


@pytest.mark.parametrize("value", ["fixed", "quota", "random"])
def test_kind_accepts_the_three_kinds(value: str) -> None:
    """The three kinds of DESIGN 2 are accepted unchanged."""
    assert _validate.kind(value) == value


@pytest.mark.parametrize(
    ("value", "shown"), [("Fixed", "'Fixed'"), ("balanced", "'balanced'"), (1, "1")]
)
def test_kind_rejects_others(value: Any, shown: str) -> None:
    """Any other value (case matters) is rejected, listing the valid kinds."""
    with _raises(f'`kind` must be one of "fixed", "quota", "random"; got {shown}.'):
        _validate.kind(value)


# -- integer vectors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        [0, 2, 1],
        (0, 2, 1),
        np.array([0, 2, 1], dtype=np.int8),
        np.array([0, 2, 1], dtype=np.uint32),
        torch.tensor([0, 2, 1]),
    ],
)
def test_int_vector_accepts_sequences_arrays_tensors(value: Any) -> None:
    """Lists, tuples, numpy arrays of any int dtype and CPU tensors become int64 arrays."""
    result = _validate.int_vector("labels", value)
    assert result.dtype == np.int64
    np.testing.assert_array_equal(result, [0, 2, 1])


def test_int_vector_returns_a_copy() -> None:
    """The result never aliases the caller's array, so later writes cannot reach it."""
    source = np.array([0, 1, 2], dtype=np.int64)
    result = _validate.int_vector("labels", source)
    assert not np.shares_memory(result, source)
    result[0] = 9
    assert source[0] == 0


def test_int_vector_allow_empty() -> None:
    """allow_empty=True turns an empty input into an empty int64 array."""
    result = _validate.int_vector("class_idxs[0]", [], allow_empty=True)
    assert result.dtype == np.int64
    assert result.shape == (0,)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "`labels` must not be empty; got []."),
        ([0, -1], "`labels` must be non-negative, but holds -1; got [0, -1]."),
        ([0.0, 1.0], "`labels` must hold integers, but has dtype float64; got [0.0, 1.0]."),
        (
            np.array([True, False]),
            "`labels` must hold integers, but has dtype bool; got [ True False].",
        ),
        (
            [[0, 1], [1, 0]],
            "`labels` must be 1-D, but has shape (2, 2); got [[0, 1], [1, 0]].",
        ),
        (3, "`labels` must be 1-D, but has shape (); got 3."),
        ([[0, 1], [1]], "`labels` must be a 1-D sequence of ints; got [[0, 1], [1]]."),
        (["a", "b"], "`labels` must hold integers, but has dtype <U1; got ['a', 'b']."),
        (
            np.array([0, 2**63], dtype=np.uint64),
            "`labels` must fit in int64; got [                  0 9223372036854775808].",
        ),
    ],
)
def test_int_vector_rejects(value: Any, message: str) -> None:
    """Empty, negative, float, bool, 2-D, scalar, ragged, string and too-large input is rejected."""
    with _raises(message):
        _validate.int_vector("labels", value)


def test_int_vector_names_the_first_negative() -> None:
    """The message names the first negative entry, not just "some"."""
    with _raises("`labels` must be non-negative, but holds -7; got [ 1 -7 -2]."):
        _validate.int_vector("labels", np.array([1, -7, -2]))


def test_class_counts_vector_rejects_zero_total() -> None:
    """Counts that are all zero describe no data: rejected."""
    with _raises("`class_counts` must have a positive total; got [0, 0]."):
        _validate.class_counts_vector("class_counts", [0, 0])


# -- probability vectors ---------------------------------------------------------------------


def test_probability_vector_accepts_and_copies() -> None:
    """A valid target is returned as a float64 copy, leaving the input untouched."""
    source = np.array([0.25, 0.75])
    result = _validate.probability_vector("target", source)
    assert result.dtype == np.float64
    assert not np.shares_memory(result, source)
    np.testing.assert_array_equal(result, source)


def test_probability_vector_tolerates_decimal_literals() -> None:
    """Decimal literals whose float sum is off by ~1e-16 are accepted, not renormalised."""
    result = _validate.probability_vector("target", [0.1, 0.2, 0.7])
    assert result.tolist() == [0.1, 0.2, 0.7]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            [0.5, 0.6],
            "`target` must sum to 1 (within 1e-09), but sums to 1.1; use "
            "refsampler.targets.explicit(weights) to normalise weights; got [0.5, 0.6].",
        ),
        ([0.5, float("nan")], "`target` must hold finite numbers; got [0.5, nan]."),
        ([1.0, float("inf")], "`target` must hold finite numbers; got [1.0, inf]."),
        ([1.5, -0.5], "`target` must be non-negative; got [1.5, -0.5]."),
        ([], "`target` must be a non-empty 1-D sequence; got []."),
        ([[1.0]], "`target` must be a non-empty 1-D sequence; got [[1.0]]."),
        ("ab", "`target` must be a 1-D sequence of real numbers; got 'ab'."),
    ],
)
def test_probability_vector_rejects(value: Any, message: str) -> None:
    """Wrong sum, NaN, inf, negatives, empty, 2-D and non-numeric targets are rejected."""
    with _raises(message):
        _validate.probability_vector("target", value)


def test_feasible_target_rejects_wrong_length() -> None:
    """A target with the wrong number of entries names the expected and actual lengths."""
    with _raises("`target` must have one entry per class (2); got 3 entries."):
        _validate.feasible_target(np.full(3, 1 / 3), np.array([1, 1]), "`target`")


def test_feasible_target_rejects_positive_share_on_empty_class() -> None:
    """A positive share on an empty class is an error (DESIGN 2: never silently renormalised)."""
    message = (
        "`target` gives class 1 a target share of 0.25, but it has no samples; give it share 0 "
        "with an explicit `target`, or relabel so that every class id has samples; "
        "got class counts [3 0 1]."
    )
    with _raises(message):
        _validate.feasible_target(np.array([0.5, 0.25, 0.25]), np.array([3, 0, 1]), "`target`")


def test_feasible_target_allows_zero_share_on_empty_class() -> None:
    """An empty class with a zero share is fine."""
    _validate.feasible_target(np.array([0.5, 0.0, 0.5]), np.array([3, 0, 1]), "`target`")
