"""Tests of refsampler.conformance.mutants: the kit catches every deliberately broken sampler."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from refsampler.conformance import mutants, verify
from refsampler.conformance.mutants import MUTANTS


def test_there_are_at_least_12_documented_mutants() -> None:
    """Each mutant is a module-level callable with a docstring naming its defect."""
    assert len(MUTANTS) >= 12
    for name, mutant in MUTANTS.items():
        assert getattr(mutants, name) is mutant
        assert mutant.__doc__ and len(mutant.__doc__) > 20


def test_mutants_follow_the_adapter_protocol() -> None:
    """Every mutant takes labels and the keyword-only protocol arguments."""
    for mutant in MUTANTS.values():
        parameters = inspect.signature(mutant).parameters
        assert list(parameters) == ["labels", "kind", "alpha", "batch_size", "n_batches", "seed"]


def test_control_conforms(stat_seed: int) -> None:
    """The unbroken control passes every kind (false-failure rate 1e-6, one verify run)."""
    report = verify(mutants.control, level="quick", seed=stat_seed % 2**32)
    assert report.conforms, report.table(failures_only=True)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_verify_rejects_every_mutant(name: str, stat_seed: int) -> None:
    """verify at level quick rejects each mutant (power: each defect fails >= 1 exact check
    or a statistical check at p < 1e-20 in the runs of the task description)."""
    report = verify(MUTANTS[name], level="quick", seed=stat_seed % 2**32)
    assert not report.conforms


def test_mutates_labels_really_mutates() -> None:
    """The label-mutating mutant shuffles its input in place (so the kit must copy)."""
    labels = np.repeat(np.arange(3), [5, 4, 3])
    before = labels.copy()
    mutants.mutates_labels(labels, kind="fixed", alpha=1.0, batch_size=3, n_batches=2, seed=0)
    assert not np.array_equal(labels, before)
    assert sorted(labels.tolist()) == sorted(before.tolist())
