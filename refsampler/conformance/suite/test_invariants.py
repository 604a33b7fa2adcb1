"""Exact invariants of any sampler, on configurations Hypothesis generates.

Each test takes the kinds declaring one contract property (never a kind name), draws
configurations with :func:`refsampler.conformance.strategies.configurations` and proves, for
every one the implementation serves:

* fixed counts: every batch has one count vector, the largest-remainder rounding of ``B p``
  (only classes tied at the cut may differ from :func:`~refsampler.allocation.allocate`);
* quota counts: every count floor/ceil of ``B p_c``, rows sum to ``B``, every prefix within
  one sample of ``k B p_c``;
* cycles: coverage after every batch, draws of a class are consecutive permutations, and no
  member repeats inside a batch whose class has enough members;
* every kind: positions in range and from classes with a positive target; the same seed gives
  the same batches, another seed other batches (a probabilistic test, bound 1e-40).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refsampler import kinds as _kinds
from refsampler.conformance import strategies as rst
from refsampler.conformance.sample import per_batch_counts
from refsampler.conformance.strategies import Configuration

from ._support import (
    PREFIX_TOLERANCE,
    call,
    coverage_violations,
    cycle_violations,
    every_kind,
    exercised,
    kinds_with,
    largest_remainder_violations,
    prefix_errors,
    quota_bounds,
    repeats_in_batches,
    run,
)

FIXED = kinds_with(_kinds.PROPERTY_FIXED_COUNTS)
QUOTA = kinds_with(_kinds.PROPERTY_QUOTA_COUNTS)
CYCLES = kinds_with(_kinds.PROPERTY_CYCLES)


def _draw(data: st.DataObject, kind: str, kinds: tuple[str, ...]) -> Configuration:
    if kind not in kinds:
        pytest.skip(f"kind {kind!r} is not among the kinds under test {kinds}")
    return data.draw(rst.configurations(kinds=(kind,)))


@pytest.mark.parametrize("kind", FIXED)
@exercised
@given(data=st.data())
def test_fixed_counts_are_the_largest_remainder(
    refsampler_make_batches: Any, refsampler_kinds: tuple[str, ...], kind: str, data: Any
) -> None:
    """All batches share one count vector: a largest-remainder rounding of ``B p``."""
    config = _draw(data, kind, refsampler_kinds)
    batches = run(refsampler_make_batches, config)
    if batches is None:
        return
    target = config.target
    counts = per_batch_counts(batches, config.labels, target.size)
    assert (counts == counts[0]).all(), f"batch counts differ: {np.unique(counts, axis=0)}"
    floors, ceils = quota_bounds(target, config.batch_size)
    assert ((counts[0] >= floors) & (counts[0] <= ceils)).all(), (counts[0], floors, ceils)
    assert (counts[0][target > 0] >= 1).all(), counts[0]
    problem = largest_remainder_violations(counts[0], target, config.batch_size)
    assert not problem, problem


@pytest.mark.parametrize("kind", QUOTA)
@exercised
@given(data=st.data())
def test_quota_counts_stay_within_one_of_the_target(
    refsampler_make_batches: Any, refsampler_kinds: tuple[str, ...], kind: str, data: Any
) -> None:
    """Counts in floor/ceil of ``B p_c``, rows sum to B, every prefix error below 1.

    The prefix error after batch ``k`` is ``|cumulative count - k B p_c|``; the 1e-9 float
    tolerance is explained at ``_support.PREFIX_TOLERANCE``.
    """
    config = _draw(data, kind, refsampler_kinds)
    batches = run(refsampler_make_batches, config)
    if batches is None:
        return
    target = config.target
    counts = per_batch_counts(batches, config.labels, target.size)
    floors, ceils = quota_bounds(target, config.batch_size)
    assert (counts.sum(axis=1) == config.batch_size).all()
    assert ((counts >= floors) & (counts <= ceils)).all(), (counts, floors, ceils)
    lag = np.abs(prefix_errors(counts, target, config.batch_size))
    assert lag.max() < 1 + PREFIX_TOLERANCE, f"prefix error {lag.max()} at {np.argwhere(lag >= 1)}"


@pytest.mark.parametrize("kind", CYCLES)
@exercised
@given(data=st.data())
def test_cycles_cover_members_evenly_after_every_batch(
    refsampler_make_batches: Any, refsampler_kinds: tuple[str, ...], kind: str, data: Any
) -> None:
    """After every whole batch each member of class c was drawn floor/ceil(D/n_c) times.

    ``D`` is the number of draws of class c so far. The call spans several cycles of the
    classes (``n_batches * B`` often exceeds ``N``), so this is coverage across "epochs".
    """
    config = _draw(data, kind, refsampler_kinds)
    batches = run(refsampler_make_batches, config)
    if batches is None:
        return
    problems = coverage_violations(config.labels, batches)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("kind", CYCLES)
@exercised
@given(data=st.data())
def test_cycles_are_consecutive_permutations(
    refsampler_make_batches: Any, refsampler_kinds: tuple[str, ...], kind: str, data: Any
) -> None:
    """No member repeats within a cycle; each cycle is a whole permutation.

    Checked at batch granularity (positions within a batch are shuffled): some order within
    each batch must make every class's draws a sequence of consecutive permutations of its
    members (see ``_support.cycle_violations`` for the exact rule).
    """
    config = _draw(data, kind, refsampler_kinds)
    batches = run(refsampler_make_batches, config)
    if batches is None:
        return
    problems = cycle_violations(config.labels, batches)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("kind", CYCLES)
@exercised
@given(data=st.data())
def test_cycles_never_repeat_a_member_in_a_batch(
    refsampler_make_batches: Any, refsampler_kinds: tuple[str, ...], kind: str, data: Any
) -> None:
    """A batch draws distinct members of every class that has at least as many members as
    the batch draws from it (a cycle that ends inside a batch continues with new members)."""
    config = _draw(data, kind, refsampler_kinds)
    batches = run(refsampler_make_batches, config)
    if batches is None:
        return
    problems = repeats_in_batches(config.labels, batches)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("kind", every_kind())
@exercised
@given(data=st.data())
def test_positions_are_in_range_and_from_positive_classes(
    refsampler_make_batches: Any, refsampler_kinds: tuple[str, ...], kind: str, data: Any
) -> None:
    """Positions index ``labels`` and belong to classes with a positive target."""
    config = _draw(data, kind, refsampler_kinds)
    batches = run(refsampler_make_batches, config)
    if batches is None:
        return
    assert batches.min() >= 0
    assert batches.max() < config.labels.size
    drawn = np.unique(config.labels[batches])
    assert (config.target[drawn] > 0).all()


@pytest.mark.parametrize("kind", every_kind())
@exercised
@given(data=st.data())
def test_same_seed_gives_the_same_batches(
    refsampler_make_batches: Any, refsampler_kinds: tuple[str, ...], kind: str, data: Any
) -> None:
    """Two calls with the same arguments return identical batches."""
    config = _draw(data, kind, refsampler_kinds)
    first = run(refsampler_make_batches, config)
    if first is None:
        return
    second = run(refsampler_make_batches, config)
    assert second is not None and first.tolist() == second.tolist()


LONG_TAIL = np.repeat(np.arange(4), [40, 12, 6, 2])


def _log10_collision_bound(iid: bool, labels: np.ndarray, draws: int, batch: int) -> float:
    """log10 of a bound on P(two seeds give batches of the same contents, batch by batch) for
    LONG_TAIL configurations at alpha = 1 (each of the K classes a share 1/K).

    Without i.i.d. classes (counted kinds drawing cycles): the first cycle of class 0 (fully
    drawn) must fall into the batches in the same groups, each group in any order: at most
    ``a! ** (n_0 / a) / n_0!`` with ``a = ceil(B / K)`` draws of it per batch. With i.i.d.
    classes: every draw must repeat up to the order inside its batch; one draw matches with
    probability at most ``max_c p_c / n_c`` per position, so ``(B!) ** (draws / B) *
    (max p_c / n_c) ** draws``.
    """
    counts = np.bincount(labels)
    log10 = math.log(10)
    if iid:
        orders = draws // batch * math.lgamma(batch + 1) / log10
        return orders + draws * math.log10(1 / counts.size / counts.min())
    per_batch = -(-batch // counts.size)
    groups = -(-int(counts[0]) // per_batch)
    return (groups * math.lgamma(per_batch + 1) - math.lgamma(counts[0] + 1)) / log10


#: Bound on P(a correct sampler gives identical batches for two seeds) in the test below.
SEED_COLLISION = 1e-40


@pytest.mark.statistical(level=SEED_COLLISION)
@pytest.mark.parametrize("kind", every_kind())
def test_different_seeds_give_different_batches(
    refsampler_make_batches: Any, refsampler_kinds: tuple[str, ...], kind: str
) -> None:
    """Seed 1 and seeds 2 and 1 + 2**16 give batches of different contents (a probabilistic
    check): another seed must change what the batches hold, not only the order inside them,
    and not only in the seed's low bits.

    On a 60-sample long-tailed dataset, B=8, 20 batches (each class cycles at least twice),
    the chance that a correct sampler repeats the contents of every batch for one other seed
    is below 1e-41 for every kind (see ``_log10_collision_bound``, asserted below), so below
    1e-40 for both: the false-failure rate.
    """
    if kind not in refsampler_kinds:
        pytest.skip(f"kind {kind!r} is not among the kinds under test {refsampler_kinds}")
    iid = _kinds.PROPERTY_IID_CLASSES in _kinds.get(kind).properties
    bound = _log10_collision_bound(iid, LONG_TAIL, 8 * 20, 8)
    assert bound < np.log10(SEED_COLLISION / 2)
    options = {"kind": kind, "alpha": 1.0, "batch_size": 8, "n_batches": 20}
    first = call(refsampler_make_batches, LONG_TAIL, seed=1, **options)
    assert first is not None
    for other in (2, 1 + (1 << 16)):
        second = call(refsampler_make_batches, LONG_TAIL, seed=other, **options)
        assert second is not None
        same = np.sort(first, axis=1).tolist() == np.sort(second, axis=1).tolist()
        assert not same, f"seeds 1 and {other} give batches of the same contents"
