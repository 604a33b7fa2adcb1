"""Tests of :mod:`refsampler._validate`: the shared argument checks and their one message shape."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

from refsampler import _validate, kinds
from refsampler.errors import InvalidArgumentError, RefSamplerError
from tests._assertions import raises_exactly

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
    """A long list shows its first ten items and its length; a long string is cut to 80."""
    assert _validate._show(list(range(100))) == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...] (length 100)"
    assert (
        _validate._show((1.5,) * 11)
        == "(1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, ...) (length 11)"
    )
    shown = _validate._show("x" * 500)
    assert len(shown) <= 80
    assert "..." in shown


def test_show_never_builds_the_full_repr_of_a_long_list() -> None:
    """Only the shown items are rendered, so the cost does not grow with the list's length."""
    rendered = []

    class Item:
        def __repr__(self) -> str:
            rendered.append(self)
            return "item"

    shown = _validate._show([Item() for _ in range(10_000)])
    assert len(rendered) <= 10
    assert shown.endswith(" (length 10000)")


def test_show_marks_zero_d_arrays() -> None:
    """A 0-d array is shown as array(...), so that it is not mistaken for a plain number."""
    assert _validate._show(np.array(4)) == "array(4)"
    assert _validate._show(np.int64(4)) == "4"


def test_show_summarises_long_arrays() -> None:
    """Long numpy arrays are summarised with an ellipsis instead of printed in full."""
    shown = _validate._show(np.arange(1000))
    assert "..." in shown
    assert len(shown) < 80


def test_show_summarises_masked_arrays_as_numpy_prints_them() -> None:
    """A masked array shows its masked entries as ``--`` and is summarised when long, without
    the warning numpy's array2string gives on masked integers."""
    mask = np.arange(10**6) % 7 == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _validate._show(np.ma.array(np.arange(10**6), mask=mask)) == (
            "[-- 1 2 ... 999997 999998 --]"
        )
        assert _validate._show(np.ma.array([[0, 1]], mask=[[1, 0]])) == "[[-- 1]]"


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
    with raises_exactly(message):
        _validate.positive_int("batch_size", value)


@pytest.mark.parametrize("value", [np.array(4), np.array(4, dtype=np.uint8), torch.tensor(4)])
def test_positive_int_accepts_zero_d_integer_arrays(value: Any) -> None:
    """A 0-d integer array or tensor is an int like the number it holds."""
    result = _validate.positive_int("batch_size", value)
    assert type(result) is int
    assert result == 4


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.array(2.5), "`batch_size` must be a positive int; got array(2.5)."),
        (np.array(True), "`batch_size` must be a positive int; got array(True)."),
        (np.array([4]), "`batch_size` must be a positive int; got [4]."),
        (np.array(0), "`batch_size` must be >= 1; got array(0)."),
    ],
)
def test_positive_int_rejects_other_arrays(value: Any, message: str) -> None:
    """0-d float or bool arrays and 1-D arrays are not ints; a 0-d 0 is out of range."""
    with raises_exactly(message):
        _validate.positive_int("batch_size", value)


def test_positive_int_maximum() -> None:
    """``maximum`` is an inclusive upper bound, named with the value in the message."""
    assert _validate.positive_int("n", 10, maximum=10) == 10
    with raises_exactly("`n` must be <= 10; got 11."):
        _validate.positive_int("n", 11, maximum=10)
    with raises_exactly("`n` must be <= 10; got 11."):
        _validate.non_negative_int("n", np.int64(11), maximum=10)


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
    with raises_exactly(message):
        _validate.non_negative_int("seed", value)


# -- bounded integers -------------------------------------------------------------------------


def test_bounds_keep_arithmetic_exact() -> None:
    """The bounds are the documented powers of two; B * p_c and stream offsets stay exact."""
    assert _validate.MAX_BATCH_SIZE == _validate.MAX_N_BATCHES == _validate.MAX_EPOCH == 2**40
    assert _validate.MAX_SEED == 2**64 - 1
    assert _validate.MAX_STREAM_POSITION == 2**62
    # B * p_c for the largest B: float64 spacing below 2**40 is 2**-12, well under 1.
    assert np.spacing(np.float64(_validate.MAX_BATCH_SIZE)) <= 2.0**-12


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (
            _validate.batch_size,
            2**62,
            "`batch_size` must be <= 1099511627776; got 4611686018427387904.",
        ),
        (_validate.batch_size, 0, "`batch_size` must be >= 1; got 0."),
        (
            _validate.n_batches,
            2**40 + 1,
            "`n_batches` must be <= 1099511627776; got 1099511627777.",
        ),
        (
            _validate.epoch,
            2**70,
            "`epoch` must be <= 1099511627776; got 1180591620717411303424.",
        ),
        (_validate.epoch, -1, "`epoch` must be >= 0; got -1."),
        (
            _validate.seed,
            2**64,
            "`seed` must be <= 18446744073709551615 (2**64 - 1: streams are keyed by 64-bit "
            "hashes of the seed, so a larger one would share them with its low 64 bits; reduce "
            "it yourself, e.g. `seed % 2**64`); got 18446744073709551616.",
        ),
        (_validate.seed, 1.0, "`seed` must be a non-negative int; got 1.0."),
    ],
)
def test_bounded_ints_reject(check: Any, value: Any, message: str) -> None:
    """Values beyond the documented bounds are refused up front with the exact message."""
    with raises_exactly(message):
        check(value)


def test_bounded_ints_accept_their_bounds() -> None:
    """Each bound itself is accepted, as a Python int."""
    assert _validate.batch_size(2**40) == 2**40
    assert _validate.n_batches(np.int64(2**40)) == 2**40
    assert _validate.epoch(2**40) == 2**40
    assert _validate.seed(2**64 - 1) == 2**64 - 1
    assert _validate.seed(0) == 0


def test_a_seed_beyond_64_bits_is_refused_not_folded() -> None:
    """Streams are keyed by 64-bit hashes of the seed: 5 and 5 + 2**64 gave the fixed kind
    batches of the same contents in another order. A seed of 2**64 or more is refused, at
    the sampler too, instead of aliasing its low 64 bits."""
    from refsampler import BalancedBatchSampler, InvalidArgumentError

    labels = np.repeat([0, 1, 2, 3, 4], [500, 300, 200, 37, 11])
    with pytest.raises(InvalidArgumentError, match=r"`seed` must be <= 18446744073709551615"):
        BalancedBatchSampler(labels, 10, seed=5 + 2**64)
    BalancedBatchSampler(labels, 10, seed=2**64 - 1)


def test_bounded_ints_use_the_given_name() -> None:
    """The name defaults to the argument's usual name and can be replaced."""
    with raises_exactly("`state['epoch']` must be <= 1099511627776; got 1180591620717411303424."):
        _validate.epoch(2**70, name="state['epoch']")


def test_epoch_positions_is_the_product() -> None:
    """Positions an epoch draws over all ranks: batch_size * n_batches * num_replicas."""
    assert _validate.epoch_positions(32, 100, 4) == 12800
    assert _validate.epoch_positions(2**40, 2**22, 1) == 2**62


def test_epoch_positions_refuses_overflowing_epochs() -> None:
    """An epoch longer than 2**62 positions is refused, naming the largest n_batches."""
    message = (
        "`n_batches` must be <= 4194304 with `batch_size` 1099511627776 and `num_replicas` 1 "
        "(at most 4611686018427387904 positions an epoch); got 1099511627776."
    )
    with raises_exactly(message):
        _validate.epoch_positions(2**40, 2**40, 1)


def test_epoch_limit_follows_the_epoch_length() -> None:
    """With long epochs the largest epoch shrinks so that (epoch + 1) * positions <= 2**62."""
    assert _validate.epoch(2**31 - 1, positions=2**31) == 2**31 - 1
    with raises_exactly("`epoch` must be <= 2147483647; got 2147483648."):
        _validate.epoch(2**31, positions=2**31)


# -- unit interval and kind -------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 0.0, 0.5, 1.0, np.float32(0.25), np.int64(1)])
def test_unit_interval_accepts(value: Any) -> None:
    """Reals in [0, 1], including numpy scalars and the ints 0 and 1, are accepted as floats."""
    result = _validate.unit_interval("alpha", value)
    assert type(result) is float
    assert result == float(value)


def test_unit_interval_accepts_zero_d_arrays() -> None:
    """A 0-d float array or tensor is a real number like the value it holds."""
    assert _validate.unit_interval("alpha", np.array(0.5)) == 0.5
    assert _validate.unit_interval("alpha", torch.tensor(0.25, requires_grad=True)) == 0.25


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
    with raises_exactly(message):
        _validate.unit_interval("alpha", value)


@pytest.mark.parametrize("value", kinds.names())
def test_kind_accepts_every_registered_kind(value: str) -> None:
    """Every kind of the registry is accepted unchanged."""
    assert _validate.kind(value) == value


@pytest.mark.parametrize(
    ("value", "shown"), [("Fixed", "'Fixed'"), ("balanced", "'balanced'"), (1, "1")]
)
def test_kind_rejects_others(value: Any, shown: str) -> None:
    """Any other value (case matters) is rejected, listing the registered kinds."""
    listed = ", ".join(f'"{name}"' for name in kinds.names())
    with raises_exactly(f"`kind` must be one of {listed}; got {shown}."):
        _validate.kind(value)


def test_kind_message_starts_with_the_builtin_kinds() -> None:
    """The message lists the registry in order, beginning with fixed, quota and random."""
    with pytest.raises(InvalidArgumentError) as info:
        _validate.kind("Fixed")
    assert str(info.value).startswith('`kind` must be one of "fixed", "quota", "random"')
    assert str(info.value).endswith("; got 'Fixed'.")


def test_kind_follows_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kind registered later is accepted and listed last: the registry is the one source."""
    extra = kinds.KindTraits("extra", frozenset({kinds.PROPERTY_CYCLES}), (), "for this test")
    monkeypatch.setitem(kinds._TRAITS, "extra", extra)
    assert _validate.kind("extra") == "extra"
    assert kinds.names()[-1] == "extra"
    listed = ", ".join(f'"{name}"' for name in kinds.names())
    with raises_exactly(f"`kind` must be one of {listed}; got 'Extra'."):
        _validate.kind("Extra")


def test_kinds_alias_lists_the_registered_kinds() -> None:
    """``_validate.KINDS`` stays importable, equal to the registry's names."""
    assert _validate.KINDS == kinds.names()


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
            "`labels` must fit in int64, but holds 9223372036854775808; "
            "got [ 0 9223372036854775808].",
        ),
        (
            [0, 2**63],
            "`labels` must fit in int64, but holds 9223372036854775808; "
            "got [0, 9223372036854775808].",
        ),
        (
            (2**64, 0),
            "`labels` must fit in int64, but holds 18446744073709551616; "
            "got (18446744073709551616, 0).",
        ),
        (
            [2**63, -1],
            "`labels` must be non-negative, but holds -1; got [9223372036854775808, -1].",
        ),
        (np.array(4), "`labels` must be 1-D, but has shape (); got array(4)."),
        (
            torch.tensor(4),
            "`labels` must be 1-D, but has shape (); got tensor(4).",
        ),
    ],
)
def test_int_vector_rejects(value: Any, message: str) -> None:
    """Empty, negative, float, bool, 2-D, scalar, ragged, string and too-large input is rejected."""
    with raises_exactly(message):
        _validate.int_vector("labels", value)


def test_int_vector_names_the_first_negative() -> None:
    """The message names the first negative entry, not just "some"."""
    with raises_exactly("`labels` must be non-negative, but holds -7; got [ 1 -7 -2]."):
        _validate.int_vector("labels", np.array([1, -7, -2]))


def test_int_vector_accepts_tensors_that_require_grad() -> None:
    """A tensor tracking gradients is read through a detached view: its dtype decides."""
    weights = torch.tensor([0.0, 1.0], requires_grad=True)
    message = (
        "`labels` must hold integers, but has dtype float32; "
        "got tensor([0., 1.], requires_grad=True)."
    )
    with raises_exactly(message):
        _validate.int_vector("labels", weights)
    assert weights.requires_grad


def test_as_array_refuses_tensors_on_another_device() -> None:
    """A tensor numpy cannot read (here on the meta device) gets a message saying so."""
    message = (
        "`labels` must be on the CPU, but is on device 'meta' (move it with .cpu()); "
        "got tensor(..., device='meta', size=(2,), dtype=torch.int64)."
    )
    with raises_exactly(message):
        _validate.int_vector("labels", torch.tensor([0, 1], device="meta"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            np.ma.array([0, 1, 1], mask=[0, 1, 0]),
            "`labels` must not have masked entries (fill or drop them first); got [0 -- 1].",
        ),
        (
            {0, 1},
            "`labels` must be an ordered sequence or array, not a set; got {0, 1}.",
        ),
        (
            frozenset({2}),
            "`labels` must be an ordered sequence or array, not a set; got frozenset({2}).",
        ),
        ({0: 3}, "`labels` must be a sequence or array, not a mapping; got {0: 3}."),
        (
            iter([0, 1]),
            "`labels` must be a sequence or array, not an iterator (pass list(...) of it); "
            "got <list_iterator object at ",
        ),
    ],
)
def test_as_array_refuses_what_numpy_would_misread(value: Any, message: str) -> None:
    """numpy reads a masked array's hidden values as data and a set, mapping or iterator as
    one object: each is refused saying what to pass instead (the message is not about its
    shape), and a float vector gets the same refusal."""
    with pytest.raises(InvalidArgumentError) as info:
        _validate.int_vector("labels", value)
    assert str(info.value).startswith(message)
    with pytest.raises(InvalidArgumentError, match=r"^`weights` must "):
        _validate.probability_vector("weights", value)


def test_as_array_refuses_dict_views_and_reads_array_iterators() -> None:
    """dict.keys() / .values() are refused like the dict; ndarray.flat, an iterator numpy
    reads as an array, is read."""
    with pytest.raises(InvalidArgumentError, match=r"^`labels` must be a sequence or array"):
        _validate.int_vector("labels", {0: 1, 1: 2}.keys())
    with pytest.raises(InvalidArgumentError, match=r"not a view of a mapping"):
        _validate.int_vector("labels", {"a": 0, "b": 1}.values())
    flat = np.array([[0, 1], [1, 2]]).flat
    assert _validate.int_vector("labels", flat).tolist() == [0, 1, 1, 2]


def test_as_array_reads_a_masked_array_without_masked_entries() -> None:
    """A masked array with nothing masked is its data; the caller's array is left alone."""
    labels = np.ma.array([0, 1, 1], mask=[0, 0, 0])
    assert _validate.int_vector("labels", labels).tolist() == [0, 1, 1]
    assert labels.tolist() == [0, 1, 1] and not labels.mask.any()


def test_int_array_reads_valid_arrays_in_place() -> None:
    """int_array does not copy a valid integer array (callers only read it)."""
    labels = np.array([0, 3, 1], dtype=np.uint16)
    assert _validate.int_array("labels", labels) is labels


def test_class_counts_vector_rejects_totals_beyond_int64() -> None:
    """Counts whose total wraps around in int64 are refused with the exact total."""
    message = (
        "`class_counts` must have a total that fits in int64, but sums to "
        "9223372036854775808; got [4611686018427387904, 4611686018427387904]."
    )
    with raises_exactly(message):
        _validate.class_counts_vector("class_counts", [2**62, 2**62])


def test_class_counts_vector_rejects_zero_total() -> None:
    """Counts that are all zero describe no data: rejected."""
    with raises_exactly("`class_counts` must have a positive total; got [0, 0]."):
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
    rng = np.random.default_rng(0)
    for k in (3, 1000, 100_000):  # a float64 vector normalised to 1, however long
        weights = rng.pareto(1.5, size=k) + 1e-3
        _validate.probability_vector("target", weights / weights.sum())


def test_probability_vector_refuses_a_sum_off_by_more_than_rounding() -> None:
    """1 - 9e-10 is no rounding error: the quota schedule would hand the residual to one class,
    which would then drift from its ideal by 9e-10 B per batch (a whole seat within a run)."""
    with pytest.raises(InvalidArgumentError, match=r"within 1e-12\), but sums to 0\.99999"):
        _validate.probability_vector("target", [0.1, 0.2, 0.3, 0.4 - 9e-10])


@pytest.mark.parametrize("make", [np.float32, "torch"])
def test_a_float32_target_is_refused_with_the_reason_and_the_fix(make: Any) -> None:
    """[0.5, 0.3, 0.2] in float32 sums to 1 + 1.5e-8: refused (never renormalised silently),
    and the message says its precision is why and points at explicit(), which then works."""
    import torch

    from refsampler.targets import explicit

    value = torch.tensor([0.5, 0.3, 0.2]) if make == "torch" else np.array([0.5, 0.3, 0.2], make)
    with pytest.raises(InvalidArgumentError) as info:
        _validate.probability_vector("target", value)
    assert "its float32 values cannot sum to 1 that closely, so pass " in str(info.value)
    assert "refsampler.targets.explicit(weights), which normalises them in float64" in str(
        info.value
    )
    assert _validate.probability_vector("target", explicit(value)).sum() == pytest.approx(1, 1e-15)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            [0.5, 0.6],
            "`target` must sum to 1 (within 1e-12), but sums to 1.1; use "
            "refsampler.targets.explicit(weights) to normalise weights; got [0.5, 0.6].",
        ),
        ([0.5, float("nan")], "`target` must hold finite numbers; got [0.5, nan]."),
        ([1.0, float("inf")], "`target` must hold finite numbers; got [1.0, inf]."),
        ([1.5, -0.5], "`target` must be non-negative; got [1.5, -0.5]."),
        ([], "`target` must be a non-empty 1-D sequence; got []."),
        ([[1.0]], "`target` must be a non-empty 1-D sequence; got [[1.0]]."),
        ("ab", "`target` must be a 1-D sequence of real numbers; got 'ab'."),
        (["0.5", "0.5"], "`target` must be a 1-D sequence of real numbers; got ['0.5', '0.5']."),
        ([True, False], "`target` must be a 1-D sequence of real numbers; got [True, False]."),
        (
            np.array([0.5 + 1j, 0.5]),
            "`target` must be a 1-D sequence of real numbers; got [0.5+1.j 0.5+0.j].",
        ),
    ],
)
def test_probability_vector_rejects(value: Any, message: str) -> None:
    """Wrong sum, NaN, inf, negatives, empty, 2-D and non-numeric targets are rejected; strings,
    bools and complex numbers are refused, not cast (a cast would drop the imaginary part)."""
    with raises_exactly(message):
        _validate.probability_vector("target", value)


def test_probability_vector_reads_tensors_that_require_grad() -> None:
    """A target tensor tracking gradients is accepted, copied, and left as it was."""
    target = torch.tensor([0.25, 0.75], dtype=torch.float64, requires_grad=True)
    result = _validate.probability_vector("target", target)
    assert result.tolist() == [0.25, 0.75]
    assert target.requires_grad


def test_probability_vector_huge_entries_report_the_sum() -> None:
    """Entries near the float maximum are reported as summing to inf, not an OverflowError."""
    message = (
        "`target` must sum to 1 (within 1e-12), but sums to inf; use "
        "refsampler.targets.explicit(weights) to normalise weights; got [1e+308, 1e+308]."
    )
    with raises_exactly(message):
        _validate.probability_vector("target", [1e308, 1e308])


def test_probability_vector_zero_d_says_so() -> None:
    """A 0-d array is named as such, not as a number."""
    with raises_exactly("`target` must be 1-D, but has shape (); got array(1.)."):
        _validate.probability_vector("target", np.array(1.0))


def test_feasible_target_rejects_wrong_length() -> None:
    """A target with the wrong number of entries names the expected and actual lengths."""
    with raises_exactly("`target` must have one entry per class (2); got 3 entries."):
        _validate.feasible_target(np.full(3, 1 / 3), np.array([1, 1]), "`target`")


def test_feasible_target_rejects_positive_share_on_empty_class() -> None:
    """A positive share on an empty class is an error (a target is never silently renormalised)."""
    message = (
        "`target` gives class 1 a target share of 0.25, but it has no samples; give it share 0 "
        "with an explicit `target`, or relabel so that every class id has samples; "
        "got class counts [3 0 1]."
    )
    with raises_exactly(message):
        _validate.feasible_target(np.array([0.5, 0.25, 0.25]), np.array([3, 0, 1]), "`target`")


def test_feasible_target_allows_zero_share_on_empty_class() -> None:
    """An empty class with a zero share is fine."""
    _validate.feasible_target(np.array([0.5, 0.0, 0.5]), np.array([3, 0, 1]), "`target`")


@pytest.mark.parametrize(("text", "value"), [("12", 12), (" -3 ", -3), ("+0", 0), ("007", 7)])
def test_integer_reads_plain_decimal_integers(text: str, value: int) -> None:
    assert _validate.integer(text) == value


@pytest.mark.parametrize("text", ["1_0", "\u0663", "\uff11", "0x10", "1.0", "1e3", "", " ", "--1"])
def test_integer_refuses_what_only_pythons_int_would_read(text: str) -> None:
    """int() reads "1_0" as 10 and other scripts' digits; those are typos in a file."""
    with pytest.raises(ValueError):
        _validate.integer(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.5", 0.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("-5e-1", -0.5),
        ("1E3", 1000.0),
        (" 2 ", 2.0),
        ("inf", float("inf")),
        ("-Infinity", float("-inf")),
    ],
)
def test_number_reads_plain_decimal_numbers(text: str, value: float) -> None:
    assert _validate.number(text) == value


def test_number_reads_nan_for_the_library_to_refuse() -> None:
    assert np.isnan(_validate.number("nan"))


@pytest.mark.parametrize("text", ["0_5", "\u0663", "0x1p-1", "1e", ".", "", "e3", "1..0"])
def test_number_refuses_what_only_pythons_float_would_read(text: str) -> None:
    with pytest.raises(ValueError):
        _validate.number(text)
