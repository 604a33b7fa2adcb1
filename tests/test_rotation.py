"""Tests of :mod:`refsampler.rotation`: rounds of keyed permutations read in slots, the head
rule, and random access."""

from __future__ import annotations

import bisect
import itertools
import pickle
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refsampler import rotation
from refsampler.classes import ClassIndex
from refsampler.plan import Plan
from refsampler.rotation import Rotation, adjust_round, block_rounds
from refsampler.targets import interpolate

IntArray = npt.NDArray[np.int64]
Oracle = Callable[[int], tuple[int, int]]


class _Periodic:
    """Slots of the given lengths, repeated forever: ``slot_of(position) -> (start, stop)``
    (a class, so that rotations holding it pickle)."""

    def __init__(self, lengths: list[int]) -> None:
        self.bounds = np.concatenate([[0], np.cumsum(lengths)]).tolist()
        self.period = self.bounds[-1]

    def __call__(self, position: int) -> tuple[int, int]:
        q, within = divmod(position, self.period)
        i = bisect.bisect_right(self.bounds, within) - 1
        return q * self.period + self.bounds[i], q * self.period + self.bounds[i + 1]


def _periodic_oracle(lengths: list[int]) -> Oracle:
    return _Periodic(lengths)


def _slots(oracle: Oracle, stop: int) -> list[tuple[int, int]]:
    """The slots that tile positions 0 .. stop - 1 (the last may reach past stop)."""
    out, pos = [], 0
    while pos < stop:
        start, end = oracle(pos)
        assert start == pos
        out.append((start, end))
        pos = end
    return out


def _steps(lengths: list[int], replicas: int) -> list[int]:
    """Step lengths: ``replicas`` consecutive slots each (the slot period repeated enough)."""
    slots = lengths * replicas
    return [sum(slots[i : i + replicas]) for i in range(0, len(slots), replicas)]


ROTATIONS = st.integers(1, 12).flatmap(
    lambda size: st.tuples(
        st.just(size),
        st.lists(st.integers(1, size), min_size=1, max_size=6),
        st.integers(1, 3),
        st.integers(0, 2**32),
    )
)


def _rotation(
    size: int, lengths: list[int], replicas: int, seed: int, rounds_per_block: int | None = None
) -> Rotation:
    steps = _steps(lengths, replicas) if replicas > 1 else None
    return Rotation(
        size,
        (seed, 9),
        _periodic_oracle(lengths),
        max(lengths),
        rounds_per_block=rounds_per_block,
        step_of=_periodic_oracle(steps) if steps else None,
    )


@settings(max_examples=40, deadline=None)
@given(case=ROTATIONS)
def test_rounds_are_permutations_and_slots_do_not_repeat(
    case: tuple[int, list[int], int, int],
) -> None:
    """Every round as read is a permutation of the items; under the head rule no item repeats
    inside a slot of at most `size` positions, and a step of `replicas` slots holds
    min(size, step length) distinct items."""
    size, lengths, replicas, seed = case
    rot = _rotation(size, lengths, replicas, seed)
    rounds = 8
    stream = rot.items(0, rounds * size)
    for r in range(rounds):
        assert sorted(rot.round(r).tolist()) == list(range(size))
        np.testing.assert_array_equal(stream[r * size : (r + 1) * size], rot.round(r))
    for start, stop in _slots(_periodic_oracle(lengths), rounds * size - size):
        assert np.unique(stream[start:stop]).size == stop - start
    if replicas > 1:
        step_oracle = _periodic_oracle(_steps(lengths, replicas))
        for start, stop in _slots(step_oracle, rounds * size - 2 * size):
            assert np.unique(stream[start:stop]).size == min(size, stop - start)


@settings(max_examples=30, deadline=None)
@given(case=ROTATIONS, cuts=st.lists(st.integers(0, 120), max_size=6))
def test_random_access_equals_sequential(
    case: tuple[int, list[int], int, int], cuts: list[int]
) -> None:
    """items(a, b) read by a fresh rotation, in any pieces and any order, equals the stream
    read sequentially; a pickled copy reads the same; the blocking of base rounds is only
    where they are generated from (same stream for the same rounds_per_block)."""
    size, lengths, replicas, seed = case
    sequential = _rotation(size, lengths, replicas, seed)
    total = 12 * size
    stream = np.concatenate([sequential.round(r) for r in range(12)])
    bounds = sorted({0, total, *(min(c * size // 4, total) for c in cuts)})
    fresh = _rotation(size, lengths, replicas, seed)
    pieces = {}
    for a, b in reversed(list(itertools.pairwise(bounds))):
        pieces[a] = fresh.items(a, b)
    np.testing.assert_array_equal(np.concatenate([pieces[a] for a in sorted(pieces)]), stream)
    copy = pickle.loads(pickle.dumps(sequential))
    np.testing.assert_array_equal(copy.items(0, total), stream)
    far = 10**6 * size
    late = _rotation(size, lengths, replicas, seed).items(far, far + 3 * size)
    np.testing.assert_array_equal(late, sequential.items(far, far + 3 * size))


@settings(max_examples=30, deadline=None)
@given(case=ROTATIONS, position=st.integers(0, 200))
def test_counts_before_is_floor_or_ceil_and_matches_the_items(
    case: tuple[int, list[int], int, int], position: int
) -> None:
    """counts_before(n) counts items(0, n); every item has floor(n/size) or ceil(n/size)."""
    size, lengths, replicas, seed = case
    rot = _rotation(size, lengths, replicas, seed)
    counts = rot.counts_before(position)
    np.testing.assert_array_equal(counts, np.bincount(rot.items(0, position), minlength=size))
    assert np.all(counts >= position // size) and np.all(counts <= -(-position // size))


def test_without_an_oracle_rounds_are_the_base_permutations() -> None:
    """No slot oracle (or slots of 1): rounds are their base permutations, fresh each round."""
    plain = Rotation(10, (1, 2))
    ones = Rotation(10, (1, 2), lambda p: (p, p + 1), max_slot=1)
    for r in range(30):
        np.testing.assert_array_equal(plain.round(r), plain.base_round(r))
        np.testing.assert_array_equal(ones.round(r), plain.base_round(r))
    rounds = {tuple(plain.round(r).tolist()) for r in range(30)}
    assert len(rounds) > 25  # 30 uniform permutations of 10 items: repeats are rare


def test_size_one_rotation() -> None:
    """One item: every position is item 0, counts_before(n) is n."""
    rot = Rotation(1, (3,), lambda p: (p - p % 4, p - p % 4 + 4), max_slot=4)
    assert rot.items(5, 12).tolist() == [0] * 7
    assert rot.counts_before(13).tolist() == [13]
    assert rot.items(3, 3).size == 0


@pytest.mark.parametrize("key", [(1, 2), (1, 3), (2, 2)])
def test_rounds_depend_on_the_key(key: tuple[int, int]) -> None:
    """Different keys give different rounds; the same key the same rounds."""
    first = Rotation(20, key).items(0, 100)
    np.testing.assert_array_equal(Rotation(20, key).items(0, 100), first)
    others = [Rotation(20, k).items(0, 100) for k in [(1, 2), (1, 3), (2, 2)] if k != key]
    assert all(not np.array_equal(first, other) for other in others)


def test_block_rounds_are_deterministic_permutations() -> None:
    """block_rounds gives `rows` permutations per block; blocks differ."""
    from refsampler import keys

    start = keys.stream_start(4, 0, 1)
    a = block_rounds(start, 6, 0, 5)
    assert a.shape == (5, 6)
    assert all(sorted(row.tolist()) == list(range(6)) for row in a)
    np.testing.assert_array_equal(block_rounds(start, 6, 0, 5), a)
    assert not np.array_equal(block_rounds(start, 6, 1, 5), a)


def test_adjust_round_example() -> None:
    """The documented example: items of rank 0 first, in base order."""
    actual, changed = adjust_round(np.array([3, 0, 1, 2]), 2, np.array([0, 0, 0, 2]))
    assert actual.tolist() == [0, 1, 3, 2]
    assert changed == 3


@settings(max_examples=60, deadline=None)
@given(
    base=st.integers(1, 10).flatmap(
        lambda n: st.permutations(list(range(n))).map(lambda p: np.array(p, dtype=np.int64))
    ),
    head=st.integers(-1, 12),
    data=st.data(),
)
def test_adjust_round_follows_the_head_rule(base: IntArray, head: int, data: st.DataObject) -> None:
    """The result is a permutation; its first min(head, size) items are the best by (rank,
    base position); the items passed over follow in base order; from `changed` on it equals
    the base."""
    size = base.size
    rank = data.draw(hnp.arrays(np.int64, size, elements=st.integers(0, 2)))
    actual, changed = adjust_round(base, head, rank)
    assert sorted(actual.tolist()) == list(range(size))
    np.testing.assert_array_equal(actual[changed:], base[changed:])
    h = max(0, min(head, size))
    by_preference = sorted(range(size), key=lambda i: (int(rank[base[i]]), i))
    assert actual[:h].tolist() == [int(base[i]) for i in by_preference[:h]]
    chosen = set(by_preference[:h])
    rest = [int(base[i]) for i in range(size) if i not in chosen]
    assert actual[h:].tolist() == rest


@pytest.mark.parametrize("replicas", [1, 2, 3])
def test_lazy_head_of_equals_the_whole_round(replicas: int) -> None:
    """A lazily read class computes the changed head of a round from that round's first
    positions and the previous round's last ones; it equals the head of the whole round as
    read, for every kind's slots (and steps under replicas)."""
    labels = np.repeat(np.arange(4), [300, 120, 40, 9])
    index = ClassIndex.from_labels(labels)
    for kind, options in [("fixed", None), ("quota", None), ("pk", {"samples_per_class": 3})]:
        p = interpolate(index.counts, 1.0 if kind == "pk" else 0.5)
        plan = Plan(index, kind, p, 12, 50, 3, replicas, options, lazy_size=30, block_draws=64)
        assert plan.members is not None
        for c in np.flatnonzero(plan.members.lazy).tolist():
            rotation = plan.members.rotation(c)
            assert rotation.lazy
            for r in range(1, 12):
                head, changed = rotation.head_of(r)
                whole, whole_changed = rotation.round_and_change(r)
                assert changed == whole_changed
                np.testing.assert_array_equal(head, whole[:changed])


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(2, 60),
    period_over=st.integers(0, 62),
    start=st.integers(0, 300),
    length=st.integers(1, 1200),
    seed=st.integers(0, 2**32),
)
def test_regular_slots_read_many_rounds_at_once_exactly(
    size: int, period_over: int, start: int, length: int, seed: int
) -> None:
    """With slots of a fixed period (a group's constant seats per slot) a rotation applies the
    head rule to many rounds in one vectorised pass, including rounds whose predecessor's
    changed head reaches the tail they read (period over half a round) and periods longer
    than a round (no rule): the items equal a reading round by round."""
    period = 1 + period_over % (size + 2)

    def slot(p: int) -> tuple[int, int]:
        return (p // period) * period, (p // period + 1) * period

    fast = Rotation(size, (seed, 1), slot, max_slot=period, period=period)
    plain = Rotation(size, (seed, 1), slot, max_slot=period)
    np.testing.assert_array_equal(
        fast.items(start, start + length), plain.items(start, start + length)
    )


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    rows=st.integers(1, 12),
    width=st.integers(1, 40),
    tail=st.integers(1, 40),
    top=st.sampled_from([3, 60, 4096, 4097, 10**9]),
)
def test_membership_by_table_equals_comparing_every_pair(
    data: st.DataObject, rows: int, width: int, tail: int, top: int
) -> None:
    """The head rule's test of which prefix items are in their row's tail: by a table of
    marks for small items (a group's classes), by comparing every pair for large ones
    (dataset positions); padding (-1 in prefixes, -2 in tails) matches nothing."""
    item = st.integers(0, top - 1)
    prefix = data.draw(hnp.arrays(np.int64, (rows, width), elements=item | st.just(-1)))
    tails = data.draw(hnp.arrays(np.int64, (rows, tail), elements=item | st.just(-2)))
    expected = (prefix[:, :, None] == tails[:, None, :]).any(axis=2)
    np.testing.assert_array_equal(rotation._in_rows(prefix, tails), expected)
