"""Tests of refsampler.conformance.adapters: the protocol and the three APIs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from refsampler import InvalidArgumentError, sample_weights
from refsampler.conformance import adapters, verify

LABELS = np.repeat(np.arange(3, dtype=np.int64), [6, 3, 1])


def test_refsampler_adapter_gives_the_requested_batches() -> None:
    """refsampler's adapter returns n_batches lists of batch_size in-range positions."""
    for kind in ("fixed", "quota", "random"):
        batches = adapters.refsampler(
            LABELS, kind=kind, alpha=1.0, batch_size=3, n_batches=4, seed=0
        )
        array = np.asarray(batches)
        assert array.shape == (4, 3) and array.min() >= 0 and array.max() < LABELS.size


def test_load_rejects_an_unknown_api() -> None:
    """The api must be one of batches, factory, weights."""
    message = '`api` must be one of "batches", "factory", "weights"; got \'tensor\'.'
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        adapters.load("refsampler.conformance.adapters:refsampler", "tensor")


def test_from_factory_rejects_an_object_without_get() -> None:
    """A factory needs a .get method."""
    message = (
        "`factory` must have a .get(class_idxs, batch_size, n_batches, alpha, kind) method; "
        "got object."
    )
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        adapters.from_factory(object())


def test_from_weights_passes_alpha_by_keyword_or_position() -> None:
    """sample_weights (keyword-only alpha) and a positional (labels, a) function both work."""
    seen: list[float] = []

    def positional(labels: np.ndarray, a: float) -> np.ndarray:
        seen.append(a)
        return np.ones(labels.size)

    for weights_fn in (sample_weights, positional):
        batches = adapters.from_weights(weights_fn)(
            LABELS, kind="random", alpha=0.25, batch_size=2, n_batches=3, seed=0
        )
        assert np.asarray(batches).shape == (3, 2)
    assert seen == [0.25]


def test_from_weights_declines_counted_kinds() -> None:
    """Per-sample weights cannot implement fixed or quota: NotImplementedError (a skip)."""
    make_batches = adapters.from_weights(sample_weights)
    with pytest.raises(NotImplementedError, match="per-sample weights can only implement"):
        make_batches(LABELS, kind="fixed", alpha=1.0, batch_size=2, n_batches=1, seed=0)


def test_weighted_random_sampler_with_sample_weights_passes_the_random_kind(
    stat_seed: int,
) -> None:
    """torch's WeightedRandomSampler fed with refsampler.sample_weights conforms (full level).

    False-failure rate 1e-6 (one verify run); each class share test detects a 1-point shift
    with power 0.999.
    """
    make_batches = adapters.load("refsampler.weights:sample_weights", "weights")
    report = verify(make_batches, kinds=["random"], level="full", seed=stat_seed % 2**32)
    assert report.conforms, report.table(failures_only=True)
    assert max(r.detectable or 0.0 for r in report.results) <= 0.0101


def test_samplerfactory_through_the_factory_api_conforms(stat_seed: int) -> None:
    """refsampler.SamplerFactory adapted with --api factory passes every kind (rate 1e-6)."""
    make_batches = adapters.load("refsampler.sampler:SamplerFactory", "factory")
    report = verify(make_batches, level="quick", seed=stat_seed % 2**32)
    assert report.conforms, report.table(failures_only=True)
