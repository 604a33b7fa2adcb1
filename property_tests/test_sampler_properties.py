"""Invariants of any sampler, checked through the kit's adapter protocol.

Every test here takes the ``make_batches`` fixture, so ``pytest property_tests
--refsampler-impl=MODULE:CALLABLE`` checks another implementation, and a broken one fails.
For generated configurations (:func:`refsampler.conformance.strategies.configurations`) it
proves the deterministic parts of the contract (DESIGN section 2):

* fixed: every batch has the same class counts, equal to ``allocate`` of the alpha target;
* quota: every batch within quota, summing to ``B``; every prefix within one sample of
  ``k B p_c``;
* fixed and quota: coverage after every whole batch (each member drawn ``floor(D/n_c)`` or
  ``ceil(D/n_c)`` times) and the cycle structure (draws of a class are consecutive
  permutations), both over the whole call, which spans several class cycles ("epochs");
* every kind: positions in range, drawn only from classes with a positive target; the same
  seed gives the same batches, a different seed different ones.

There is no statistical assertion here: the random kind's distribution is tested in
``test_random_statistics.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given

from refsampler import allocate
from refsampler.conformance import adapters
from refsampler.conformance import strategies as rst
from refsampler.conformance.strategies import Configuration

from ._support import (
    PREFIX_TOLERANCE,
    coverage_violations,
    cycle_violations,
    per_batch_counts,
    prefix_errors,
    quota_bounds,
    run,
)

COUNTED = ("fixed", "quota")


@given(config=rst.configurations(kinds=("fixed",)))
def test_fixed_every_batch_has_the_allocated_counts(
    make_batches: adapters.MakeBatches, config: Configuration
) -> None:
    """fixed: all batches share one count vector: ``allocate(target, B)``, within quota."""
    batches = run(make_batches, config)
    target = config.target
    counts = per_batch_counts(config.labels, batches, target.size)
    floors, ceils = quota_bounds(target, config.batch_size)
    assert (counts == counts[0]).all(), f"batch counts differ: {np.unique(counts, axis=0)}"
    assert ((counts[0] >= floors) & (counts[0] <= ceils)).all(), (counts[0], floors, ceils)
    assert (counts[0][target > 0] >= 1).all()
    assert counts[0].tolist() == allocate(target, config.batch_size).tolist()


@given(config=rst.configurations(kinds=("quota",)))
def test_quota_batches_within_quota_and_prefix_error_below_one(
    make_batches: adapters.MakeBatches, config: Configuration
) -> None:
    """quota: counts in {floor, ceil} of ``B p_c``, rows sum to B, prefix error < 1.

    The prefix error after batch ``k`` is ``|cumulative count - k B p_c|``; the 1e-9 float
    tolerance is explained at ``_support.PREFIX_TOLERANCE``.
    """
    batches = run(make_batches, config)
    target = config.target
    counts = per_batch_counts(config.labels, batches, target.size)
    floors, ceils = quota_bounds(target, config.batch_size)
    assert (counts.sum(axis=1) == config.batch_size).all()
    assert ((counts >= floors) & (counts <= ceils)).all(), (counts, floors, ceils)
    lag = np.abs(prefix_errors(counts, target, config.batch_size))
    assert lag.max() < 1 + PREFIX_TOLERANCE, f"prefix error {lag.max()} at {np.argwhere(lag >= 1)}"


@given(config=rst.configurations(kinds=COUNTED))
def test_counted_kinds_cover_members_evenly_after_every_batch(
    make_batches: adapters.MakeBatches, config: Configuration
) -> None:
    """fixed/quota: after every whole batch each member of class c was drawn floor/ceil(D/n_c).

    ``D`` is the number of draws of class c so far. The call spans several cycles of the
    classes (``n_batches * B`` often exceeds ``N``), so this is coverage across "epochs".
    """
    batches = run(make_batches, config)
    problems = coverage_violations(config.labels, batches)
    assert not problems, "\n".join(problems)


@given(config=rst.configurations(kinds=COUNTED))
def test_counted_kinds_draw_each_class_in_consecutive_permutations(
    make_batches: adapters.MakeBatches, config: Configuration
) -> None:
    """fixed/quota: no member repeats within a cycle; each cycle is a whole permutation.

    Checked at batch granularity (positions within a batch are shuffled): some order within
    each batch must make every class's draws a sequence of consecutive permutations of its
    members (see ``_support.cycle_violations`` for the exact rule).
    """
    batches = run(make_batches, config)
    problems = cycle_violations(config.labels, batches)
    assert not problems, "\n".join(problems)


@given(config=rst.configurations())
def test_positions_are_in_range_and_from_positive_classes(
    make_batches: adapters.MakeBatches, config: Configuration
) -> None:
    """Every kind: positions index ``labels`` and belong to classes with a positive target."""
    batches = run(make_batches, config)
    assert batches.min() >= 0
    assert batches.max() < config.labels.size
    drawn = np.unique(config.labels[batches])
    assert (config.target[drawn] > 0).all()


@given(config=rst.configurations())
def test_same_seed_gives_the_same_batches(
    make_batches: adapters.MakeBatches, config: Configuration
) -> None:
    """Every kind: two calls with the same arguments return identical batches."""
    first = run(make_batches, config)
    second = run(make_batches, config)
    assert first.tolist() == second.tolist()


LONG_TAIL = np.repeat(np.arange(4), [40, 12, 6, 2])


def _log10_collision_bound(kind: str, labels: np.ndarray, draws: int) -> float:
    """log10 of a bound on P(two seeds give identical batches) for LONG_TAIL configurations.

    fixed/quota: the first cycle of class 0 (fully drawn) must repeat: ``1 / n_0!``.
    random (alpha=1): every draw must repeat; one draw matches with probability at most
    ``max_c p_c / n_c`` per position, so ``(max p_c / n_c) ** draws``.
    """
    counts = np.bincount(labels)
    if kind == "random":
        return draws * math.log10(0.25 / counts.min())
    return -math.lgamma(counts[0] + 1) / math.log(10)


#: Bound on P(a correct sampler gives identical batches for two seeds) in the test below.
SEED_COLLISION = 1e-40


@pytest.mark.statistical(level=SEED_COLLISION)
def test_different_seeds_give_different_batches(make_batches: adapters.MakeBatches) -> None:
    """Every kind: seeds 1 and 2 give different batches (a probabilistic check).

    On a 60-sample long-tailed dataset, B=8, 20 batches (each class cycles at least twice),
    the chance that a correct sampler repeats itself is below 1e-40 for every kind (see
    ``_log10_collision_bound``, asserted below): the false-failure rate, listed in
    ``test_budget.py``.
    """
    for kind in ("fixed", "quota", "random"):
        bound = _log10_collision_bound(kind, LONG_TAIL, 8 * 20)
        assert bound < np.log10(SEED_COLLISION)
        config = Configuration(LONG_TAIL, kind, 1.0, 8, 20, 1)
        other = Configuration(LONG_TAIL, kind, 1.0, 8, 20, 2)
        assert run(make_batches, config).tolist() != run(make_batches, other).tolist(), kind
