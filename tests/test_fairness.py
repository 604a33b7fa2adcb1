"""Fairness of the counted kinds as a user sees it: no class favoured by its id, one schedule
across epochs and ranks, no repeats in a batch, no replayed epochs.

Each test is a scenario a user would try, with the exact claim of the specification; all are
exact (no statistics) unless the docstring says otherwise.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest

from refsampler import BalancedBatchSampler, allocate
from refsampler.conformance.sample import per_batch_counts
from refsampler.targets import interpolate

IntArray = npt.NDArray[np.int64]


def run(sampler: BalancedBatchSampler, epochs: int) -> IntArray:
    """Batches of epochs 0 .. epochs - 1 (set_epoch called), stacked."""
    out = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        out.extend(sampler)
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("seed", [0, 1])
def test_few_shot_classes_are_all_drawn_and_evenly(seed: int) -> None:
    """1,000 classes of 5, quota, alpha 1, 10 batches of 32 per epoch, 20 epochs: 6,400
    seats for 1,000 classes, so every class is drawn 6 or 7 times (the schedule runs on across
    epochs instead of restarting), and the classes drawn in epoch 0 depend on the seed."""
    labels = np.repeat(np.arange(1000), 5)
    sampler = BalancedBatchSampler(
        labels, 32, kind="quota", alpha=1.0, n_batches=10, seed=seed
    )
    batches = run(sampler, 20)
    drawn = np.bincount(labels[batches.ravel()], minlength=1000)
    assert drawn.min() == 6 and drawn.max() == 7
    other = BalancedBatchSampler(labels, 32, kind="quota", alpha=1.0, n_batches=10, seed=seed + 2)
    mine = set(labels[sampler.plan.batches(0, 0).ravel()].tolist())
    assert mine != set(labels[other.plan.batches(0, 0).ravel()].tolist())


def test_quota_has_no_preference_by_class_id_over_epochs() -> None:
    """1,000 classes (sizes 1..20 in a shuffled order), quota at alpha 1, default n_batches,
    10 epochs: every class's count is within 1 of its ideal after every batch of the run, so
    over the run no two classes' counts differ by more than 1, whatever their ids."""
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 21, size=1000)
    labels = np.repeat(np.arange(1000), sizes)
    sampler = BalancedBatchSampler(labels, 64, kind="quota", alpha=1.0, seed=0)
    batches = run(sampler, 10)
    counts = per_batch_counts(batches, labels, 1000)
    ideal = np.arange(1, batches.shape[0] + 1)[:, None] * 64 / 1000
    assert np.abs(np.cumsum(counts, axis=0) - ideal).max() < 1
    total = counts.sum(axis=0)
    assert total.max() - total.min() <= 1


def test_a_global_step_holds_distinct_classes_under_replicas() -> None:
    """100 uniform classes, batch 32, 4 ranks: each global step of 4 x 32 = 128 seats holds
    all 100 classes (min(K, R B)), and the ranks' batches differ."""
    labels = np.repeat(np.arange(100), 50)
    ranks = [
        BalancedBatchSampler(
            labels, 32, kind="quota", alpha=1.0, n_batches=20, num_replicas=4, rank=r, seed=9
        )
        for r in range(4)
    ]
    per_rank = [np.array(list(s)) for s in ranks]
    for step in range(20):
        classes = [set(labels[b[step]].tolist()) for b in per_rank]
        assert len(set().union(*classes)) == 100
        assert classes[0] != classes[1]


def test_every_pair_of_uniform_classes_meets() -> None:
    """10 uniform classes, batch 4, quota: over one epoch of 100 batches every pair of
    classes shares a batch, and no pair is locked together (shares every batch either is in)."""
    labels = np.repeat(np.arange(10), 30)
    sampler = BalancedBatchSampler(labels, 4, kind="quota", alpha=1.0, n_batches=100, seed=4)
    batches = np.array(list(sampler))
    sets = [frozenset(labels[b].tolist()) for b in batches]
    for a, b in itertools.combinations(range(10), 2):
        with_a = [s for s in sets if a in s]
        together = sum(b in s for s in with_a)
        assert 0 < together < len(with_a), (a, b)


def test_fixed_ties_rotate_across_epochs() -> None:
    """5 equal classes, batch 32, fixed: every batch of an epoch has the counts
    allocate(target, 32) up to which two classes win the tied seats, the winners change with
    the epoch, and over 10 epochs (two seats per epoch, one rotation per 5 / 2 epochs) each
    class has 2.0 x 2 = 4 extra seats per batch position: exactly 20 % of the run."""
    labels = np.repeat(np.arange(5), 40)
    target = interpolate(np.full(5, 40), 1.0)
    sampler = BalancedBatchSampler(labels, 32, kind="fixed", alpha=1.0, n_batches=7, seed=0)
    winners = []
    for epoch in range(10):
        sampler.set_epoch(epoch)
        counts = per_batch_counts(list(sampler), labels, 5)
        assert (counts == counts[0]).all()
        assert sorted(counts[0].tolist()) == sorted(allocate(target, 32).tolist())
        winners.append(frozenset(np.flatnonzero(counts[0] == 7).tolist()))
    assert len(set(winners)) > 1
    total = sum(np.bincount(list(w), minlength=5) for w in winners)
    assert total.tolist() == [4, 4, 4, 4, 4]


@pytest.mark.parametrize("kind", ["fixed", "quota", "pk"])
def test_no_sample_twice_in_a_batch_when_classes_wrap(kind: str) -> None:
    """Classes of 300, 40 and 9 samples at batch 16: a class cycle that wraps inside a batch
    never hands out a member the end of the previous cycle already put there."""
    labels = np.repeat(np.arange(3), [300, 40, 9])
    options = {"samples_per_class": 4} if kind == "pk" else {}
    alpha = 1.0 if kind == "pk" else 0.5
    batch = 12 if kind == "pk" else 16
    sampler = BalancedBatchSampler(labels, batch, kind=kind, alpha=alpha, seed=0, **options)
    batches = run(sampler, 20)
    repeats = [b for b in batches if np.unique(b).size < b.size]
    assert not repeats


def test_a_pass_cut_short_does_not_replay_the_epoch() -> None:
    """A steps-per-epoch loop (islice) without set_epoch gets a new epoch on every pass."""
    labels = np.repeat(np.arange(4), [50, 20, 10, 5])
    sampler = BalancedBatchSampler(labels, 8, kind="fixed", seed=0)
    first = list(itertools.islice(sampler, 3))
    second = list(itertools.islice(sampler, 3))
    assert first != second
    assert sampler.epoch == 2
