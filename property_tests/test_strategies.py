"""The kit's Hypothesis strategies: validated arguments, and values that keep their promises.

Proves that every strategy in :mod:`refsampler.conformance.strategies` rejects bad arguments
when it is built (``InvalidArgumentError``, exact message), and that what it generates meets
its documented contract: counts within bounds, every label class present, alphas in [0, 1]
with exact endpoints reachable, valid targets, and configurations the samplers accept (fixed
always feasible).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import find, given, settings

from refsampler import InvalidArgumentError, allocate, interpolate
from refsampler.conformance import strategies as rst
from refsampler.conformance.strategies import Configuration


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: rst.class_counts(min_classes=0), "`min_classes` must be >= 1; got 0."),
        (
            lambda: rst.class_counts(min_classes=3, max_classes=2),
            "`max_classes` must be >= `min_classes` (3); got 2.",
        ),
        (lambda: rst.class_counts(min_count=-1), "`min_count` must be >= 0; got -1."),
        (
            lambda: rst.class_counts(min_count=0, max_count=0),
            "`max_count` must be >= 1, so that the total is positive; got 0.",
        ),
        (lambda: rst.class_counts(long_tail=1), "`long_tail` must be a bool; got 1."),
        (
            lambda: rst.class_counts(max_count=2.5),
            "`max_count` must be a non-negative int; got 2.5.",
        ),
        (
            lambda: rst.labels(min_classes=5, max_size=4),
            "`max_size` must be >= `min_classes` (5); got 4.",
        ),
        (lambda: rst.labels(min_size=0), "`min_size` must be >= 1; got 0."),
        (
            lambda: rst.alphas(include_endpoints="yes"),
            "`include_endpoints` must be a bool; got 'yes'.",
        ),
        (lambda: rst.batch_sizes(min_size=0), "`min_size` must be >= 1; got 0."),
        (
            lambda: rst.batch_sizes(min_size=8, max_size=4),
            "`max_size` must be >= `min_size` (8); got 4.",
        ),
        (lambda: rst.targets(max_classes=True), "`max_classes` must be a positive int; got True."),
        (lambda: rst.targets(allow_zero=None), "`allow_zero` must be a bool; got None."),
        (
            lambda: rst.configurations(kinds="fixed"),
            '`kinds` must be a non-empty sequence of "fixed", "quota", "random"; got \'fixed\'.',
        ),
        (
            lambda: rst.configurations(kinds=()),
            '`kinds` must be a non-empty sequence of "fixed", "quota", "random"; got ().',
        ),
        (lambda: rst.configurations(max_batch_size=0), "`max_batch_size` must be >= 1; got 0."),
        (lambda: rst.configurations(max_batches=-2), "`max_batches` must be >= 1; got -2."),
    ],
)
def test_bad_arguments_raise_when_the_strategy_is_built(
    build: Callable[[], object], message: str
) -> None:
    """Validation is eager: the call itself raises, before any example is drawn."""
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        build()


@given(counts=rst.class_counts(min_classes=2, max_classes=7, min_count=0, max_count=50))
def test_class_counts_respect_their_bounds(counts: np.ndarray) -> None:
    """int64, 2..7 classes, every count in 0..50, positive total."""
    assert counts.dtype == np.int64
    assert 2 <= counts.size <= 7
    assert counts.min() >= 0 and counts.max() <= 50 and counts.sum() > 0


@settings(max_examples=200)
@given(y=rst.labels(min_classes=2, max_classes=6, min_size=10, max_size=80))
def test_labels_hold_every_class(y: np.ndarray) -> None:
    """1-D int64, size within bounds, every class 0..K-1 present."""
    assert y.dtype == np.int64 and y.ndim == 1
    assert 10 <= y.size <= 80
    counts = np.bincount(y)
    assert 2 <= counts.size <= 6 and counts.min() >= 1


def test_long_tail_strategies_reach_tiny_classes_and_exact_endpoints() -> None:
    """Long tails with a single-sample class, and alpha exactly 0.0 and 1.0, are all found."""
    tail = find(
        rst.labels(min_classes=3, max_size=500),
        lambda y: np.bincount(y).min() == 1 and np.bincount(y).max() >= 100,
    )
    assert np.bincount(tail).min() == 1
    assert find(rst.alphas(), lambda a: a == 0.0) == 0.0
    assert find(rst.alphas(), lambda a: a >= 1.0) == 1.0


@given(alpha=rst.alphas(include_endpoints=False))
def test_interior_alphas_exclude_the_endpoints(alpha: float) -> None:
    """include_endpoints=False draws from the open interval (0, 1)."""
    assert 0.0 < alpha < 1.0


@given(batch=rst.batch_sizes(min_size=3, max_size=9))
def test_batch_sizes_respect_their_bounds(batch: int) -> None:
    """Integers in [min_size, max_size]."""
    assert isinstance(batch, int) and 3 <= batch <= 9


@given(p=rst.targets(min_classes=1, max_classes=12, allow_zero=True))
def test_targets_are_valid(p: np.ndarray) -> None:
    """Non-negative float64 shares summing to 1 within 1e-12, one positive at least."""
    assert p.dtype == np.float64 and 1 <= p.size <= 12
    assert (p >= 0).all() and p.max() > 0
    assert abs(p.sum() - 1.0) <= 1e-12


@given(p=rst.targets(max_classes=12))
def test_targets_without_zero_are_positive(p: np.ndarray) -> None:
    """allow_zero=False gives every class a positive share."""
    assert (p > 0).all()


@given(config=rst.configurations(max_classes=5, max_batch_size=16, max_batches=4))
def test_configurations_are_valid_for_their_kind(config: Configuration) -> None:
    """Every class present, arguments in range, and the fixed kind feasible."""
    assert np.bincount(config.labels).min() >= 1
    assert 1 <= config.batch_size <= 16 and 1 <= config.n_batches <= 4
    assert 0 <= config.seed < 2**32
    assert config.target.tolist() == interpolate(np.bincount(config.labels), config.alpha).tolist()
    if config.kind == "fixed":
        assert allocate(config.target, config.batch_size).sum() == config.batch_size
    assert set(config.kwargs()) == {"kind", "alpha", "batch_size", "n_batches", "seed"}


@given(config=rst.configurations(kinds=["quota"]))
def test_configurations_honour_kinds(config: Configuration) -> None:
    """Only the requested kinds are drawn (a list is accepted as well as a tuple)."""
    assert config.kind == "quota"
