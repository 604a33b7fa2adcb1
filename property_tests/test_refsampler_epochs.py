"""Properties of refsampler's own ``BalancedBatchSampler`` that the adapter protocol cannot see.

The protocol has no epoch and no explicit target, so these tests use refsampler directly
(they ignore ``--refsampler-impl``). They prove: cycles continue across ``set_epoch(0..E-1)``,
so coverage and the cycle structure hold over the concatenated epochs; a completed pass
advances the epoch exactly like ``set_epoch``; the same seed and epoch give the same batches
and another epoch gives other ones; the sampler yields exactly ``Plan.batches``; and with an
explicit target, classes with a zero share are never drawn, by any kind; and replicas split
every class cycle between ranks without overlap.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from refsampler import BalancedBatchSampler, InvalidArgumentError, allocate
from refsampler.conformance import strategies as rst
from refsampler.conformance.sample import per_batch_counts
from refsampler.conformance.strategies import Configuration

from ._support import coverage_violations, cycle_violations


def sampler_of(config: Configuration, num_replicas: int = 1, rank: int = 0) -> BalancedBatchSampler:
    """refsampler's sampler for a generated configuration (one replica unless given)."""
    return BalancedBatchSampler(
        config.labels,
        config.batch_size,
        kind=config.kind,
        alpha=config.alpha,
        n_batches=config.n_batches,
        seed=config.seed,
        num_replicas=num_replicas,
        rank=rank,
    )


def feasible(target: np.ndarray, batch_size: int) -> bool:
    """Whether the fixed kind accepts ``target`` at ``batch_size``."""
    try:
        allocate(target, batch_size)
    except InvalidArgumentError:
        return False
    return True


def epochs_of(sampler: BalancedBatchSampler, epochs: int) -> np.ndarray:
    """Batches of epochs ``0 .. epochs-1`` (via ``set_epoch``), stacked in order."""
    parts = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        parts.append(np.array(list(sampler), dtype=np.int64))
    return np.concatenate(parts)


@given(config=rst.configurations(kinds=("fixed", "quota")), epochs=st.integers(1, 4))
def test_coverage_and_cycles_continue_across_epochs(config: Configuration, epochs: int) -> None:
    """Over set_epoch(0..E-1), members are drawn floor/ceil(D/n_c) times after every batch.

    Each class's stream of cycles continues across epochs, so the concatenation of the
    epochs is itself a stream of consecutive permutations per class (docs/specification.md,
    "Members within a class").
    """
    batches = epochs_of(sampler_of(config), epochs)
    problems = coverage_violations(config.labels, batches)
    problems += cycle_violations(config.labels, batches)
    assert not problems, "\n".join(problems)


@given(config=rst.configurations(max_batches=6), epochs=st.integers(2, 3))
def test_completed_pass_advances_the_epoch_like_set_epoch(
    config: Configuration, epochs: int
) -> None:
    """Iterating E times without set_epoch yields epochs 0..E-1, as set_epoch would."""
    plain = sampler_of(config)
    passes = [list(plain) for _ in range(epochs)]
    assert plain.epoch == epochs
    explicit = epochs_of(sampler_of(config), epochs)
    assert np.concatenate([np.array(p) for p in passes]).tolist() == explicit.tolist()


@given(config=rst.configurations(max_batches=6), epoch=st.integers(0, 5))
def test_sampler_yields_the_plan_and_same_seed_epoch_repeats(
    config: Configuration, epoch: int
) -> None:
    """The sampler yields ``plan.batches(epoch, 0)``; a second sampler yields the same.

    For the counted kinds the class counts are ``plan.count_rows`` (the sampler is a thin
    layer over the pure plan).
    """
    first, second = sampler_of(config), sampler_of(config)
    first.set_epoch(epoch)
    second.set_epoch(epoch)
    batches = np.array(list(first), dtype=np.int64)
    assert batches.tolist() == list(second)
    assert batches.tolist() == first.plan.batches(epoch, 0).tolist()
    if config.kind != "random":
        counts = per_batch_counts(batches, config.labels, config.target.size)
        assert counts.tolist() == first.plan.count_rows(epoch, 0).tolist()


@given(
    config=rst.configurations(kinds=("fixed", "quota"), max_batches=8), replicas=st.integers(2, 3)
)
def test_replicas_split_every_cycle_disjointly(config: Configuration, replicas: int) -> None:
    """With R replicas, ranks take turns in each class's stream of consecutive permutations.

    Interleaving the ranks' batches step by step (step k: rank 0, rank 1, ...) must give a
    valid cycle stream with even coverage, so no member goes to two ranks within a cycle;
    and every rank's batches have the counts its plan gives that rank.
    """
    per_rank = [sampler_of(config, replicas, rank) for rank in range(replicas)]
    batches = np.stack([np.array(list(s), dtype=np.int64) for s in per_rank], axis=1)
    counts = [
        per_batch_counts(b, config.labels, config.target.size) for b in batches.swapaxes(0, 1)
    ]
    for rank, rank_counts in enumerate(counts):
        assert rank_counts.tolist() == per_rank[rank].plan.count_rows(0, rank).tolist()
    interleaved = batches.reshape(-1, config.batch_size)
    problems = coverage_violations(config.labels, interleaved)
    problems += cycle_violations(config.labels, interleaved)
    assert not problems, "\n".join(problems)


#: Bound on P(a correct sampler repeats an epoch) in the test below.
EPOCH_COLLISION = 1e-40


@pytest.mark.statistical(level=EPOCH_COLLISION)
def test_set_epoch_changes_the_batches() -> None:
    """Epochs 0 and 1 differ for every kind (a probabilistic check).

    60 samples in classes of 40/12/6/2, alpha = 1, B = 8, 20 batches. fixed and quota give
    every class 2 distinct members per batch, so a batch repeats only if its uniform shuffle
    of 8 distinct positions repeats: at most ``1/8!`` per batch, ``(1/8!)**20 < 1e-92`` in
    all. random repeats a draw with probability at most ``max_c p_c / n_c = 1/8``:
    ``(1/8)**160 < 1e-144``. False-failure rate below 1e-40 (listed in ``test_budget.py``).
    """
    labels = np.repeat(np.arange(4), [40, 12, 6, 2])
    for kind in ("fixed", "quota", "random"):
        sampler = BalancedBatchSampler(labels, 8, kind=kind, n_batches=20, seed=3)
        sampler.set_epoch(0)
        epoch0 = list(sampler)
        sampler.set_epoch(1)
        assert list(sampler) != epoch0, kind


@given(
    data=st.data(),
    target=rst.targets(min_classes=2, max_classes=8, allow_zero=True),
    kind=st.sampled_from(["fixed", "quota", "random"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_zero_share_classes_are_never_drawn(
    data: st.DataObject, target: np.ndarray, kind: str, seed: int
) -> None:
    """With an explicit target, no kind ever draws a class whose share is 0."""
    k = target.size
    labels = data.draw(rst.labels(min_classes=k, max_classes=k, max_size=200))
    batch = data.draw(rst.batch_sizes(max_size=48))
    if kind == "fixed" and not feasible(target, batch):
        batch = min(48, math.floor(1 / target[target > 0].min()) + 1)
        assume(feasible(target, batch))
    sampler = BalancedBatchSampler(labels, batch, kind=kind, target=target, n_batches=8, seed=seed)
    drawn = np.unique(labels[np.array(list(sampler))])
    assert (target[drawn] > 0).all(), (target, drawn)


def test_single_member_class_drawn_twice_per_batch() -> None:
    """A one-sample class at B=2 yields that sample twice per batch (a cycle per draw)."""
    sampler = BalancedBatchSampler([0], 2, kind="fixed", n_batches=2, seed=0)
    assert list(sampler) == [[0, 0], [0, 0]]
