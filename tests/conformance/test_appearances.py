"""Tests of refsampler.conformance.appearances: the pk-shape and appearance-bound checks,
on every seed's run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from refsampler.conformance import appearances, mutants
from refsampler.conformance.sample import Sample, Setting

from ._shared import failed, sample, setting

LONG_TAIL = setting("pk", "pk-long-tail")
ROTATION = setting("pk", "pk-rotation")


def _with_m(make: Callable[..., Any], where: Setting) -> Callable[..., Any]:
    """``make`` with the configuration's ``samples_per_class`` (the kit passes it too)."""
    m = where.config.samples_per_class

    def make_batches(labels: np.ndarray, **kwargs: Any) -> Any:
        return make(labels, samples_per_class=m, **kwargs)

    return make_batches


def _checks(drawn: Sample) -> dict[str, Any]:
    results = appearances.pk_shape_checks(drawn) + appearances.appearance_checks(drawn)
    return {r.check: r for r in results}


def test_the_control_passes_both_checks_on_every_seeds_run() -> None:
    """Correct P x m batches within one appearance of k P p_c: both checks pass, and their
    draws count the other seeds' runs too."""
    drawn = sample(_with_m(mutants.control, LONG_TAIL), LONG_TAIL)
    results = _checks(drawn)
    assert failed(list(results.values())) == set()
    runs = [drawn.batches, drawn.other, *(run for _, run in drawn.far)]
    assert results["pk_shape"].draws == sum(r.size for r in runs)
    assert "every seed's run" in results["appearance_prefix_below_1"].detail


def test_a_wrong_far_seed_run_fails_with_its_seed_named() -> None:
    """The main run is right; one far seed's run puts a class in a batch twice (pk_shape)
    and drifts (appearances): both checks fail and name that seed."""
    good = sample(_with_m(mutants.control, ROTATION), ROTATION)
    twice = sample(_with_m(mutants.pk_class_twice, ROTATION), ROTATION)
    far = [*good.far[:-1], (good.far[-1][0], twice.far[-1][1])]
    mixed = Sample(ROTATION, good.labels, good.batches, good.first, good.again, good.other, far)
    shape = _checks(mixed)["pk_shape"]
    assert shape.verdict == "fail"
    assert f"seed {good.far[-1][0]} batch" in shape.detail


def test_appearance_drift_in_the_next_seeds_run_is_caught() -> None:
    """pk_appearance_drift's run of seed s + 1 in an otherwise correct sample: the prefix
    bound fails for that run, counted from its own start."""
    good = sample(_with_m(mutants.control, LONG_TAIL), LONG_TAIL)
    drift = sample(_with_m(mutants.pk_appearance_drift, LONG_TAIL), LONG_TAIL)
    mixed = Sample(
        LONG_TAIL, good.labels, good.batches, good.first, good.again, drift.other, good.far
    )
    prefix = _checks(mixed)["appearance_prefix_below_1"]
    assert prefix.verdict == "fail"
    assert "batches of seed s + 1" in prefix.detail
