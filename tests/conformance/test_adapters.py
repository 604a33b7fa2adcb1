"""Tests of refsampler.conformance.adapters: the protocol and the three APIs."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from refsampler import InvalidArgumentError, sample_weights
from refsampler import kinds as _kinds
from refsampler.conformance import adapters, calls, mutants, verify

from ._shared import TEST_LEVEL

LABELS = np.repeat(np.arange(3, dtype=np.int64), [6, 3, 1])
ARGS = {"alpha": 1.0, "batch_size": 3, "n_batches": 4, "seed": 0}


def test_refsampler_adapter_gives_the_requested_batches() -> None:
    """refsampler's adapter returns n_batches lists of batch_size in-range positions."""
    for kind in adapters.api_kinds("batches"):
        options = {"samples_per_class": 1} if _kinds.get(kind).options else {}
        array = np.asarray(adapters.refsampler(LABELS, kind=kind, **ARGS, **options))
        assert array.shape == (4, 3) and array.min() >= 0 and array.max() < LABELS.size


def test_api_kinds_are_chosen_by_properties() -> None:
    """Per-sample weights draw i.i.d.: only kinds whose every property allows that."""
    assert adapters.weights_kinds() == ("random",)
    assert adapters.api_kinds("weights") == ("random",)
    assert adapters.api_kinds("factory")[:3] == ("fixed", "quota", "random")


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on sys.path for throw-away implementation modules."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("kit_probe_")]:
        del sys.modules[name]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "raise RuntimeError('no GPU')",
            "`impl` could not be imported (importing it raised RuntimeError: no GPU); "
            "got 'kit_probe_{n}:f'.",
        ),
        (
            "import sys\nsys.exit(3)",
            "`impl` could not be imported (importing it raised SystemExit: 3); "
            "got 'kit_probe_{n}:f'.",
        ),
        ("f = 3", "`impl` must name a callable; got 'kit_probe_{n}:f'."),
    ],
)
def test_load_turns_any_import_failure_into_a_usage_error(
    modules: Path, source: str, message: str, request: pytest.FixtureRequest
) -> None:
    """Any exception while importing (SystemExit too) is an InvalidArgumentError."""
    n = request.node.callspec.indices["source"]
    (modules / f"kit_probe_{n}.py").write_text(source)
    with pytest.raises(InvalidArgumentError, match=re.escape(message.format(n=n))):
        adapters.load(f"kit_probe_{n}:f")


@pytest.mark.parametrize(
    ("spec", "api", "message"),
    [
        (
            "m:f",
            "tensor",
            '`api` must be one of "batches", "factory", "weights", "sampler"; got \'tensor\'.',
        ),
        ("no_colon", "batches", "`impl` must look like MODULE:CALLABLE; got 'no_colon'."),
        (
            "refsampler.nowhere:f",
            "batches",
            "`impl` could not be imported (No module named 'refsampler.nowhere'); "
            "got 'refsampler.nowhere:f'.",
        ),
    ],
)
def test_load_rejects_bad_specs(spec: str, api: str, message: str) -> None:
    """Malformed specs, missing modules and unknown APIs are usage errors."""
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        adapters.load(spec, api)


class _Broken:
    def __init__(self) -> None:
        raise OSError("no config file")

    def get(self) -> None:  # pragma: no cover - never reached
        """Unused."""


def test_a_factory_that_cannot_be_built_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Instantiating the factory class is part of loading it."""
    monkeypatch.setattr(mutants, "Broken", _Broken, raising=False)
    message = "`impl` could not be instantiated (OSError: no config file); got "
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        adapters.load("refsampler.conformance.mutants:Broken", "factory")


def test_from_factory_rejects_an_object_without_get() -> None:
    """A factory needs a .get method."""
    message = (
        "`factory` must have a .get(class_idxs, batch_size, n_batches, alpha, kind) method; "
        "got object."
    )
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        adapters.from_factory(object())


def test_a_factory_that_rejects_a_kind_declines_it() -> None:
    """pytorch_balanced_sampler's 'Received kind quota, ...' is a decline, not a failure."""
    make_batches = adapters.from_factory(mutants.KindRejectingFactory)
    with pytest.raises(NotImplementedError, match="the factory rejects kind 'quota': Received"):
        make_batches(LABELS, kind="quota", **ARGS)
    assert len(make_batches(LABELS, kind="fixed", **ARGS)) == 4


def test_a_factory_error_that_names_the_kind_is_a_crash_not_a_decline() -> None:
    """Only pytorch_balanced_sampler's own wording declines a kind: a ValueError that names
    the kind fails runs where the kit used to list the configuration as declined."""
    make_batches = adapters.load("refsampler.conformance.mutants:CrashingFactory", "factory")
    report = verify(make_batches, kinds=["fixed"], configs=["long-tail"])
    assert report.exit_code == 1 and not report.declined("fixed")
    assert [(r.check, r.detail) for r in report.failures] == [
        ("runs", "raised ValueError: cannot build fixed batches: class with a single sample")
    ]


def test_the_factory_adapter_sees_class_lists_shuffled_in_place() -> None:
    """The original shuffles the caller's class_idxs in get(): reported with the stage."""
    make_batches = adapters.from_factory(mutants.ShufflingFactory)
    result = calls.call(make_batches, LABELS, kind="fixed", **ARGS)
    assert result.inputs_changed == ["class_idxs[0] reordered while building the sampler"]


def test_the_factory_adapter_sees_class_lists_changed_while_reading() -> None:
    """A factory whose sampler edits the lists during iteration is caught too."""

    class Lazy:
        def get(self, class_idxs: list[list[int]], *args: Any, seed: int = 0) -> Any:
            yield [0, 1, 2]
            class_idxs[1].append(99)

    result = calls.call(adapters.from_factory(Lazy), LABELS, kind="fixed", **ARGS)
    assert result.inputs_changed == ["class_idxs[1] modified while reading the batches"]


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


def test_from_weights_declines_kinds_and_alphas_it_cannot_serve() -> None:
    """Counted kinds, and (for the 1/count recipe) alphas other than 1, are declines."""
    make_batches = adapters.from_weights(mutants.inverse_count_weights)
    with pytest.raises(NotImplementedError, match="per-sample weights can only implement random"):
        make_batches(LABELS, kind="fixed", **ARGS)
    with pytest.raises(NotImplementedError, match="1/count weights give alpha = 1 only"):
        make_batches(LABELS, kind="random", **{**ARGS, "alpha": 0.5})


@pytest.mark.statistical(level=TEST_LEVEL)
def test_weighted_random_sampler_with_sample_weights_passes_at_level_full(stat_seed: int) -> None:
    """torch's WeightedRandomSampler fed with refsampler.sample_weights conforms (rate 1e-8);
    each class share test detects a 1-point shift with power 0.999."""
    make_batches = adapters.load("refsampler.weights:sample_weights", "weights")
    report = verify(
        make_batches,
        kinds=["random"],
        level="full",
        seed=stat_seed % 2**31,
        family_level=TEST_LEVEL,
    )
    assert report.conforms, report.table(failures_only=True)
    shares = [r.detectable for r in report.results if r.detects == "share"]
    assert shares and max(shares) <= 0.0101


@pytest.mark.statistical(level=TEST_LEVEL)
@pytest.mark.parametrize(
    "kind",
    # The factory API's path is the same for every kind: `make test` runs the cheapest.
    [
        "fixed",
        pytest.param("quota", marks=pytest.mark.slow),
        pytest.param("random", marks=pytest.mark.slow),
    ],
)
def test_samplerfactory_through_the_factory_api_conforms(kind: str, stat_seed: int) -> None:
    """refsampler.SamplerFactory adapted with --api factory passes (rate 1e-8 per kind)."""
    make_batches = adapters.load("refsampler.sampler:SamplerFactory", "factory")
    report = verify(make_batches, kinds=[kind], seed=stat_seed % 2**31, family_level=TEST_LEVEL)
    assert report.conforms, report.table(failures_only=True)
