"""Tests of :mod:`refsampler.weights`: per-sample weights for WeightedRandomSampler."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from refsampler.classes import class_counts
from refsampler.targets import interpolate
from refsampler.weights import sample_weights
from tests._assertions import raises_exactly

LABELS = [2, 0, 0, 1, 0, 0, 2, 0, 0, 0]  # counts 7 / 1 / 2


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_weight_is_target_share_over_class_count(alpha: float) -> None:
    """w_i = p_{y_i} / n_{y_i} with p = interpolate(counts, alpha)."""
    weights = sample_weights(LABELS, alpha=alpha)
    counts = class_counts(LABELS)
    p = interpolate(counts, alpha)
    expected = [p[y] / counts[y] for y in LABELS]
    np.testing.assert_allclose(weights, expected, rtol=1e-15)
    assert weights.dtype == np.float64
    assert weights.shape == (len(LABELS),)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_weights_sum_to_one_and_class_mass_is_target(alpha: float) -> None:
    """The weights sum to 1, and the total weight of class c is p_c."""
    labels = np.random.default_rng(3).integers(0, 6, size=1000)
    weights = sample_weights(labels, alpha=alpha)
    assert abs(math.fsum(weights.tolist()) - 1.0) <= 1e-12
    mass = np.bincount(labels, weights=weights, minlength=6)
    np.testing.assert_allclose(mass, interpolate(class_counts(labels), alpha), rtol=1e-12)


def test_alpha_one_is_inverse_class_frequency() -> None:
    """alpha=1 is the common 1 / class_count recipe, up to a constant factor."""
    weights = sample_weights(LABELS, alpha=1.0)
    inverse = np.array([1 / class_counts(LABELS)[y] for y in LABELS])
    np.testing.assert_allclose(weights / weights[0], inverse / inverse[0], rtol=1e-15)


def test_alpha_none_means_one() -> None:
    """Without alpha or target the weights are those of alpha=1."""
    assert sample_weights(LABELS).tolist() == sample_weights(LABELS, alpha=1.0).tolist()


def test_alpha_zero_is_uniform_over_samples() -> None:
    """alpha=0 keeps the empirical shares: every sample weighs 1/N."""
    np.testing.assert_allclose(sample_weights(LABELS, alpha=0.0), np.full(10, 0.1), rtol=1e-15)


def test_target_path() -> None:
    """An explicit target gives w_i = p_{y_i} / n_{y_i}."""
    target = [0.2, 0.5, 0.3]
    weights = sample_weights(LABELS, target=target)
    counts = class_counts(LABELS)
    np.testing.assert_allclose(weights, [target[y] / counts[y] for y in LABELS], rtol=1e-15)


def test_target_zero_share_gives_zero_weight() -> None:
    """A class with zero share gets weight exactly 0."""
    weights = sample_weights(LABELS, target=[0.5, 0.0, 0.5])
    assert weights[3] == 0.0
    assert np.all(weights[np.array(LABELS) != 1] > 0)


def test_num_classes_with_empty_class() -> None:
    """num_classes adds empty classes; with alpha=0 they need no weight and nothing breaks."""
    weights = sample_weights(LABELS, alpha=0.0, num_classes=5)
    np.testing.assert_allclose(weights, np.full(10, 0.1), rtol=1e-15)


def test_both_alpha_and_target_raise() -> None:
    """Giving both alpha and target is an error naming both values."""
    message = "give `alpha` or `target`, not both; got alpha=0.5 and target=[0.2, 0.5, 0.3]."
    with raises_exactly(message):
        sample_weights(LABELS, alpha=0.5, target=[0.2, 0.5, 0.3])


@pytest.mark.parametrize(
    ("labels", "kwargs", "message"),
    [
        (LABELS, {"alpha": 1.5}, "`alpha` must be in [0, 1]; got 1.5."),
        ([], {}, "`labels` must not be empty; got []."),
        ([0, -1], {}, "`labels` must be non-negative, but holds -1; got [0, -1]."),
        ([0.0, 1.0], {}, "`labels` must hold integers, but has dtype float64; got [0.0, 1.0]."),
        (
            [0, 2],
            {"alpha": 0.5},
            "`alpha`=0.5 gives class 1 a target share of 0.166667, but it has no samples; give "
            "it share 0 with an explicit `target`, or relabel so that every class id has "
            "samples; got class counts [1 0 1].",
        ),
        (
            LABELS,
            {"target": [0.5, 0.5]},
            "`target` must have one entry per class (3); got 2 entries.",
        ),
        ([0, 1], {"num_classes": 1}, "`num_classes` must exceed the largest label (1); got 1."),
    ],
)
def test_bad_input_raises(labels: Any, kwargs: dict[str, Any], message: str) -> None:
    """Bad labels, alpha, target and num_classes raise with the exact message."""
    with raises_exactly(message):
        sample_weights(labels, **kwargs)


def test_tensors_that_require_grad_are_accepted() -> None:
    """A target tensor tracking gradients is read like any other, through a detached view."""
    target = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64, requires_grad=True)
    weights = sample_weights(torch.tensor(LABELS), target=target)
    np.testing.assert_array_equal(weights, sample_weights(LABELS, target=[0.2, 0.5, 0.3]))
    assert target.requires_grad


def test_sparse_label_ids_are_refused() -> None:
    """A huge label id is refused up front (the weights never need a counter per id)."""
    message = (
        "`labels` must be dense class ids below max(2 * N, 2**20) = 1048576 for N = 2 samples, "
        "but holds 10000000000; remap sparse ids to 0 .. K-1 with "
        "`numpy.unique(labels, return_inverse=True)`; got [ 0 10000000000]."
    )
    with raises_exactly(message):
        sample_weights([0, 10**10])


def test_inputs_not_mutated() -> None:
    """Labels (list, array, tensor) and the target are unchanged; arrays stay writeable."""
    labels_list = list(LABELS)
    labels_array = np.array(LABELS)
    labels_tensor = torch.tensor(LABELS)
    target = np.array([0.2, 0.5, 0.3])
    for labels in (labels_list, labels_array, labels_tensor):
        weights = sample_weights(labels, target=target)
        assert not np.shares_memory(weights, target)
    assert labels_list == LABELS
    assert labels_array.tolist() == LABELS
    assert labels_array.flags.writeable
    assert labels_tensor.tolist() == LABELS
    assert target.tolist() == [0.2, 0.5, 0.3]
    assert target.flags.writeable


def test_weights_feed_weighted_random_sampler() -> None:
    """The weights are accepted by torch's WeightedRandomSampler as is."""
    weights = sample_weights(LABELS)
    sampler = torch.utils.data.WeightedRandomSampler(weights.tolist(), num_samples=5)
    draws = list(sampler)
    assert len(draws) == 5
    assert all(0 <= i < len(LABELS) for i in draws)
