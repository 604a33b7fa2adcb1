"""Tests of :mod:`refsampler.targets`: the target families of the specification, exactly."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from refsampler.targets import effective_number, explicit, interpolate, power, resolve
from tests._assertions import raises_exactly

COUNTS = np.array([740, 70, 150, 20, 20], dtype=np.int64)
SKEWED = [
    np.array([1000, 1000, 10]),
    np.array([1, 2, 3, 4, 5, 6, 7]),
    np.array([3, 10**9 + 7]),
    np.array([5]),
    np.array([123, 456, 789, 1, 1, 1, 99999]),
]


def _check_is_target(p: np.ndarray, k: int) -> None:
    """A target is float64, shape (K,), non-negative, and sums to 1 within 1e-12."""
    assert p.dtype == np.float64
    assert p.shape == (k,)
    assert np.all(p >= 0)
    assert abs(math.fsum(p.tolist()) - 1.0) <= 1e-12


# -- interpolate ---------------------------------------------------------------------------


@pytest.mark.parametrize("counts", SKEWED, ids=str)
def test_interpolate_alpha_zero_is_empirical_bitwise(counts: np.ndarray) -> None:
    """alpha=0 gives exactly counts / N, bit for bit."""
    p = interpolate(counts, 0.0)
    expected = counts / counts.sum()
    assert p.tobytes() == expected.tobytes()


@pytest.mark.parametrize("counts", SKEWED, ids=str)
def test_interpolate_alpha_one_is_uniform_bitwise(counts: np.ndarray) -> None:
    """alpha=1 gives exactly 1/K in every entry, bit for bit."""
    p = interpolate(counts, 1.0)
    assert p.tobytes() == np.full(counts.size, 1.0 / counts.size).tobytes()


@pytest.mark.parametrize("alpha", [0, 1])
def test_interpolate_integer_endpoints_are_exact(alpha: int) -> None:
    """The int endpoints 0 and 1 behave exactly like 0.0 and 1.0."""
    assert interpolate(COUNTS, alpha).tobytes() == interpolate(COUNTS, float(alpha)).tobytes()


@pytest.mark.parametrize("alpha", [0.1, 0.25, 0.5, 0.9, 1e-12, 1 - 1e-12])
@pytest.mark.parametrize("counts", SKEWED, ids=str)
def test_interpolate_matches_formula(counts: np.ndarray, alpha: float) -> None:
    """p_c = alpha/K + (1-alpha) n_c/N, and the result is a valid target."""
    p = interpolate(counts, alpha)
    k, n = counts.size, counts.sum()
    expected = np.array([alpha / k + (1 - alpha) * c / n for c in counts.tolist()])
    np.testing.assert_allclose(p, expected, rtol=1e-14, atol=1e-16)
    _check_is_target(p, k)


def test_interpolate_accepts_numpy_alpha() -> None:
    """numpy floats are accepted as alpha."""
    assert interpolate(COUNTS, np.float32(0.5)).tolist() == interpolate(COUNTS, 0.5).tolist()


def test_interpolate_zero_count_class_gets_zero_at_alpha_zero() -> None:
    """With alpha=0 an empty class simply has share 0 (its empirical share)."""
    p = interpolate([3, 0, 1], 0.0)
    assert p.tolist() == [0.75, 0.0, 0.25]


def test_interpolate_zero_count_class_with_positive_alpha_raises() -> None:
    """With alpha > 0 an empty class would get alpha/K > 0: an error, not a renormalisation."""
    message = (
        "`alpha`=0.5 gives class 1 a target share of 0.166667, but it has no samples; give it "
        "share 0 with an explicit `target`, or relabel so that every class id has samples; "
        "got class counts [3 0 1]."
    )
    with raises_exactly(message):
        interpolate([3, 0, 1], 0.5)


@pytest.mark.parametrize(
    ("alpha", "message"),
    [
        (1.5, "`alpha` must be in [0, 1]; got 1.5."),
        (-0.5, "`alpha` must be in [0, 1]; got -0.5."),
        (float("nan"), "`alpha` must be in [0, 1]; got nan."),
        ("0.5", "`alpha` must be a real number in [0, 1]; got '0.5'."),
        (True, "`alpha` must be a real number in [0, 1]; got True."),
    ],
)
def test_interpolate_rejects_bad_alpha(alpha: Any, message: str) -> None:
    """alpha outside [0, 1], NaN, a string or a bool is rejected with the exact message."""
    with raises_exactly(message):
        interpolate(COUNTS, alpha)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ([], "`class_counts` must not be empty; got []."),
        ([0, 0], "`class_counts` must have a positive total; got [0, 0]."),
        ([3, -1], "`class_counts` must be non-negative, but holds -1; got [3, -1]."),
        ([1.5, 2], "`class_counts` must hold integers, but has dtype float64; got [1.5, 2]."),
    ],
)
def test_interpolate_rejects_bad_counts(counts: Any, message: str) -> None:
    """Empty, all-zero, negative and fractional counts are rejected with the exact message."""
    with raises_exactly(message):
        interpolate(counts, 0.5)


# -- power ---------------------------------------------------------------------------------


@pytest.mark.parametrize("counts", SKEWED, ids=str)
def test_power_one_is_instance_balanced(counts: np.ndarray) -> None:
    """q=1 gives the empirical shares n_c / N."""
    p = power(counts, 1.0)
    np.testing.assert_allclose(p, counts / counts.sum(), rtol=1e-15)
    _check_is_target(p, counts.size)


@pytest.mark.parametrize("counts", SKEWED, ids=str)
def test_power_zero_is_class_balanced(counts: np.ndarray) -> None:
    """q=0 gives uniform shares 1/K."""
    p = power(counts, 0)
    np.testing.assert_allclose(p, np.full(counts.size, 1 / counts.size), rtol=1e-15)
    _check_is_target(p, counts.size)


@pytest.mark.parametrize("counts", SKEWED, ids=str)
def test_power_half_is_square_root_sampling(counts: np.ndarray) -> None:
    """q=1/2 gives sqrt(n_c) / sum_j sqrt(n_j)."""
    p = power(counts, 0.5)
    roots = np.sqrt(counts.astype(np.float64))
    np.testing.assert_allclose(p, roots / roots.sum(), rtol=1e-14)
    _check_is_target(p, counts.size)


def test_power_negative_exponent_favours_small_classes() -> None:
    """q=-1 gives shares proportional to 1 / n_c."""
    p = power([1, 2, 4], -1.0)
    np.testing.assert_allclose(p, np.array([1, 0.5, 0.25]) / 1.75, rtol=1e-15)


def test_power_empty_class_gets_zero_share_for_positive_exponent() -> None:
    """An empty class gets exactly 0 when q > 0 (0**q = 0), and the rest renormalise."""
    p = power([4, 0, 1], 0.5)
    assert p[1] == 0.0
    np.testing.assert_allclose(p, [2 / 3, 0.0, 1 / 3], rtol=1e-15)


@pytest.mark.parametrize("exponent", [0, -1.0])
def test_power_empty_class_with_non_positive_exponent_raises(exponent: float) -> None:
    """q <= 0 would give an empty class a positive (or infinite) share: an error."""
    message = (
        f"`class_counts` must all be positive when `exponent` is {float(exponent)!r} (<= 0), "
        "but class 1 has none; got [3 0 1]."
    )
    with raises_exactly(message):
        power([3, 0, 1], exponent)


@pytest.mark.parametrize(
    ("exponent", "shown"),
    [(float("nan"), "nan"), (float("inf"), "inf"), (True, "True"), ("1", "'1'"), (None, "None")],
)
def test_power_rejects_bad_exponent(exponent: Any, shown: str) -> None:
    """A non-finite or non-real exponent is rejected with the exact message."""
    with raises_exactly(f"`exponent` must be a finite real number; got {shown}."):
        power(COUNTS, exponent)


@pytest.mark.parametrize(
    ("counts", "exponent", "expected"),
    [
        ([1, 2], 1e6, [0.0, 1.0]),
        ([1, 2], 1e308, [0.0, 1.0]),
        ([1, 2], -1e6, [1.0, 0.0]),
        ([1, 2], -1e308, [1.0, 0.0]),
        ([3, 5, 5], 1e300, [0.0, 0.5, 0.5]),
        ([2, 2, 9], -1e300, [0.5, 0.5, 0.0]),
        ([4, 0, 4], 1e308, [0.5, 0.0, 0.5]),
        ([10**18, 10**18 - 10**3], 1e20, [1.0, 0.0]),
        ([7, 7], 1e308, [0.5, 0.5]),
    ],
)
def test_power_huge_exponents_reach_the_limit(
    counts: list[int], exponent: float, expected: list[float]
) -> None:
    """A huge finite |q| puts all mass on the largest (q > 0) or smallest (q < 0) classes,
    shared equally by ties -- finite, exact, never NaN."""
    p = power(counts, exponent)
    assert p.tolist() == expected
    _check_is_target(p, len(counts))


@pytest.mark.parametrize("exponent", [50, 200, -50, -200])
def test_power_large_exponents_match_exact_arithmetic(exponent: int) -> None:
    """Where n**q alone overflows float64 (1000**200), shares still equal n**q / sum(n**q),
    computed here exactly with fractions."""
    counts = [1, 2, 3, 1000]
    powers = [Fraction(n) ** exponent for n in counts]
    expected = [float(w / sum(powers)) for w in powers]
    p = power(counts, float(exponent))
    np.testing.assert_allclose(p, expected, rtol=1e-13, atol=0)
    _check_is_target(p, len(counts))


@pytest.mark.parametrize("exponent", [1e-300, -1e-300, 5e-324])
def test_power_tiny_exponents_are_uniform(exponent: float) -> None:
    """An exponent next to 0 gives the class-balanced shares, as q = 0 does."""
    assert power([1, 2, 3, 1000], exponent).tolist() == [0.25] * 4


def test_power_accepts_zero_d_exponent() -> None:
    """A 0-d array exponent is the number it holds."""
    assert power(COUNTS, np.array(0.5)).tolist() == power(COUNTS, 0.5).tolist()


# -- effective_number ----------------------------------------------------------------------


@pytest.mark.parametrize("counts", SKEWED, ids=str)
def test_effective_number_beta_zero_is_uniform(counts: np.ndarray) -> None:
    """beta=0 gives exactly 1/K (every class's effective number is 1)."""
    p = effective_number(counts, 0.0)
    assert p.tobytes() == np.full(counts.size, 1.0 / counts.size).tobytes()


@pytest.mark.parametrize("beta", [0.5, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("counts", SKEWED[:2] + SKEWED[3:], ids=str)
def test_effective_number_matches_formula(counts: np.ndarray, beta: float) -> None:
    """p_c is proportional to (1-b)/(1-b**n_c) (Cui et al. 2019), normalised."""
    p = effective_number(counts, beta)
    raw = np.array([(1 - beta) / (1 - beta ** int(n)) for n in counts])
    np.testing.assert_allclose(p, raw / raw.sum(), rtol=1e-12)
    _check_is_target(p, counts.size)


def test_effective_number_close_to_one_approaches_inverse_frequency() -> None:
    """As beta -> 1, p_c approaches (1/n_c) normalised (expm1 keeps this accurate)."""
    counts = np.array([1000, 100, 10])
    p = effective_number(counts, 1 - 1e-12)
    inverse = 1 / counts
    np.testing.assert_allclose(p, inverse / inverse.sum(), rtol=1e-6)
    _check_is_target(p, 3)


def test_effective_number_empty_class_raises() -> None:
    """Every class must be non-empty: (1-b)/(1-b**0) is infinite."""
    message = (
        "`class_counts` must all be positive for effective_number, but class 1 has none; "
        "got [3 0 1]."
    )
    with raises_exactly(message):
        effective_number([3, 0, 1], 0.5)


def test_effective_number_accepts_zero_d_beta() -> None:
    """A 0-d array beta is the number it holds."""
    assert (
        effective_number(COUNTS, np.array(0.9)).tolist() == effective_number(COUNTS, 0.9).tolist()
    )


@pytest.mark.parametrize(
    ("beta", "message"),
    [
        (1.0, "`beta` must be in [0, 1); got 1.0."),
        (1, "`beta` must be in [0, 1); got 1."),
        (-0.1, "`beta` must be in [0, 1); got -0.1."),
        (float("nan"), "`beta` must be in [0, 1); got nan."),
        (True, "`beta` must be a real number in [0, 1); got True."),
        ("0.5", "`beta` must be a real number in [0, 1); got '0.5'."),
    ],
)
def test_effective_number_rejects_bad_beta(beta: Any, message: str) -> None:
    """beta outside [0, 1), NaN, a bool or a string is rejected with the exact message."""
    with raises_exactly(message):
        effective_number(COUNTS, beta)


# -- explicit ------------------------------------------------------------------------------


def test_explicit_normalises() -> None:
    """Weights are divided by their sum."""
    p = explicit([2, 1, 1])
    assert p.tolist() == [0.5, 0.25, 0.25]
    _check_is_target(p, 3)


def test_explicit_keeps_zero_weights() -> None:
    """Zero weights stay exactly zero."""
    p = explicit(np.array([0.0, 3.0, 0.0, 1.0]))
    assert p.tolist() == [0.0, 0.75, 0.0, 0.25]


def test_explicit_returns_new_array_and_leaves_input_untouched() -> None:
    """The result is a new array; the caller's weights are unchanged and stay writeable."""
    weights = np.array([2.0, 1.0, 1.0])
    before = weights.copy()
    p = explicit(weights)
    assert not np.shares_memory(p, weights)
    np.testing.assert_array_equal(weights, before)
    assert weights.flags.writeable


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([1e308, 1e308], [0.5, 0.5]),
        ([1.7976931348623157e308, 1.7976931348623157e308, 0.0], [0.5, 0.5, 0.0]),
        ([1e308, 1e308, 1e308, 1e308], [0.25, 0.25, 0.25, 0.25]),
        ([5e-324, 5e-324], [0.5, 0.5]),
        ([1e308, 1e-300], [1.0, 0.0]),
    ],
)
def test_explicit_extreme_weights(weights: list[float], expected: list[float]) -> None:
    """Weights near the float64 maximum or minimum normalise exactly, without inf or NaN."""
    p = explicit(weights)
    assert p.tolist() == expected
    _check_is_target(p, len(weights))


@pytest.mark.parametrize("seed", range(5))
def test_explicit_is_bitwise_weights_over_sum(seed: int) -> None:
    """For ordinary weights the result is bit for bit weights / sum(weights)."""
    weights = np.random.default_rng(seed).exponential(size=17) * 10.0 ** (seed * 40 - 80)
    assert explicit(weights).tobytes() == (weights / weights.sum()).tobytes()


def test_explicit_accepts_tensors_that_require_grad() -> None:
    """A weight tensor tracking gradients is read through a detached copy."""
    import torch

    weights = torch.tensor([3.0, 1.0], requires_grad=True)
    assert explicit(weights).tolist() == [0.75, 0.25]
    assert weights.requires_grad
    assert weights.tolist() == [3.0, 1.0]


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (np.array(2.0), "`weights` must be 1-D, but has shape (); got array(2.)."),
        ([1, -1], "`weights` must be finite and non-negative; got [1, -1]."),
        ([1, float("nan")], "`weights` must be finite and non-negative; got [1, nan]."),
        ([0, 0], "`weights` must have a positive sum; got [0, 0]."),
        ([], "`weights` must be a non-empty 1-D sequence; got []."),
        ([[1, 2]], "`weights` must be a non-empty 1-D sequence; got [[1, 2]]."),
        ("ab", "`weights` must be a 1-D sequence of real numbers; got 'ab'."),
    ],
)
def test_explicit_rejects(weights: Any, message: str) -> None:
    """Negative, NaN, all-zero, empty, 2-D and non-numeric weights are rejected."""
    with raises_exactly(message):
        explicit(weights)


# -- inputs are never mutated ----------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: interpolate(c, 0.0),
        lambda c: interpolate(c, 0.5),
        lambda c: power(c, 0.5),
        lambda c: effective_number(c, 0.9),
    ],
    ids=["interpolate0", "interpolate", "power", "effective_number"],
)
def test_counts_input_not_mutated_or_aliased(call: Any) -> None:
    """The counts array is unchanged, stays writeable, and the result does not alias it."""
    counts = COUNTS.copy()
    p = call(counts)
    np.testing.assert_array_equal(counts, COUNTS)
    assert counts.flags.writeable
    assert not np.shares_memory(p, counts)


# -- resolve (shared by the samplers and sample_weights) --------------------------------------


def test_resolve_alpha_none_means_uniform() -> None:
    """No alpha and no target means alpha=1: uniform."""
    assert resolve(COUNTS, None, None).tobytes() == interpolate(COUNTS, 1.0).tobytes()


def test_resolve_alpha_uses_interpolate() -> None:
    """An alpha gives interpolate(counts, alpha)."""
    assert resolve(COUNTS, 0.5, None).tobytes() == interpolate(COUNTS, 0.5).tobytes()


def test_resolve_target_is_used_as_given_and_copied() -> None:
    """An explicit target is returned unchanged in value, as a copy."""
    target = np.array([0.5, 0.2, 0.1, 0.1, 0.1])
    p = resolve(COUNTS, None, target)
    np.testing.assert_array_equal(p, target)
    assert not np.shares_memory(p, target)


def test_resolve_rejects_both_alpha_and_target() -> None:
    """Giving both alpha and target is an error naming both values."""
    message = "give `alpha` or `target`, not both; got alpha=0.5 and target=[0.5, 0.5]."
    with raises_exactly(message):
        resolve(np.array([1, 1]), 0.5, [0.5, 0.5])


def test_resolve_target_positive_on_empty_class_raises() -> None:
    """An explicit target cannot give a positive share to an empty class."""
    message = (
        "`target` gives class 1 a target share of 0.25, but it has no samples; give it share 0 "
        "with an explicit `target`, or relabel so that every class id has samples; "
        "got class counts [3 0 1]."
    )
    with raises_exactly(message):
        resolve(np.array([3, 0, 1]), None, [0.5, 0.25, 0.25])


def test_resolve_target_wrong_length_raises() -> None:
    """An explicit target with the wrong number of classes is rejected."""
    with raises_exactly("`target` must have one entry per class (2); got 3 entries."):
        resolve(np.array([1, 1]), None, [0.5, 0.25, 0.25])
