"""Tests of :mod:`refsampler.members`: the per-class member streams (cycles of fresh
permutations, keyed per class, random access, the head rule inside batches)."""

from __future__ import annotations

import pickle

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refsampler import keys
from refsampler.classes import ClassIndex
from refsampler.members import MemberStreams
from refsampler.plan import Plan
from refsampler.targets import interpolate

IntArray = npt.NDArray[np.int64]

SIZES = np.array([1, 2, 3, 7, 20, 64])
LABELS = np.random.default_rng(11).permutation(np.repeat(np.arange(SIZES.size), SIZES))
INDEX = ClassIndex.from_labels(LABELS)
#: Draws one batch takes of each class (<= its size, so the head rule applies where >= 2).
RUN = np.array([1, 2, 2, 5, 6, 9])


class _Runs:
    """Fixed runs of RUN[c] stream positions per batch: the member streams' slot oracle."""

    def __call__(self, c: int, position: int) -> tuple[int, int]:
        start = position - position % int(RUN[c])
        return start, start + int(RUN[c])


def _streams(seed: int = 3, block_draws: int = 4096, head_rule: bool = True) -> MemberStreams:
    return MemberStreams(INDEX, seed, RUN, _Runs() if head_rule else None, block_draws=block_draws)


def _draw(streams: MemberStreams, c: int, start: int, stop: int) -> IntArray:
    """Positions start .. stop - 1 of class c's stream, in one entry, with a fresh cache."""
    drawn = streams.draw(
        np.array([c]), np.array([start]), np.array([stop - start]), streams.new_cache()
    )
    return drawn.astype(np.int64)


@pytest.mark.parametrize("block_draws", [1, 5, 64, 4096])
@pytest.mark.parametrize("head_rule", [False, True])
def test_every_prefix_draws_each_member_floor_or_ceil(block_draws: int, head_rule: bool) -> None:
    """After any prefix of D draws of class c, each member has been drawn floor(D/n_c) or
    ceil(D/n_c) times, and only members of c are drawn."""
    streams = _streams(block_draws=block_draws, head_rule=head_rule)
    for c in range(SIZES.size):
        members = INDEX.members(c).astype(np.int64)
        n = members.size
        stream = _draw(streams, c, 0, 7 * n + 3)
        assert np.isin(stream, members).all()
        ordinal = np.searchsorted(members, stream)
        hits = np.zeros(n, dtype=np.int64)
        for d, m in enumerate(ordinal, start=1):
            hits[m] += 1
            assert hits.min() >= d // n and hits.max() <= -(-d // n)


@pytest.mark.parametrize("block_draws", [1, 5, 4096])
def test_no_member_repeats_inside_a_batch(block_draws: int) -> None:
    """With the head rule, every batch's run of RUN[c] <= n_c positions holds distinct
    members, also where a run straddles two cycles, far into the stream."""
    streams = _streams(block_draws=block_draws)
    for c in range(SIZES.size):
        run = int(RUN[c])
        for first in (0, 10**9 * run):
            stream = _draw(streams, c, first, first + 40 * run)
            for b in range(40):
                assert np.unique(stream[b * run : (b + 1) * run]).size == run


@settings(max_examples=40, deadline=None)
@given(
    c=st.integers(0, SIZES.size - 1),
    start=st.integers(0, 500),
    length=st.integers(0, 200),
    block_draws=st.sampled_from([1, 3, 64, 4096]),
    head_rule=st.booleans(),
)
def test_random_access_equals_sequential(
    c: int, start: int, length: int, block_draws: int, head_rule: bool
) -> None:
    """Any run of positions read by itself, with a fresh cache or a used one, equals that
    slice of the stream read from 0."""
    streams = _streams(block_draws=block_draws, head_rule=head_rule)
    sequential = _draw(streams, c, 0, start + length)
    np.testing.assert_array_equal(_draw(streams, c, start, start + length), sequential[start:])
    cache = streams.new_cache()
    pieces = [
        streams.draw(np.array([c]), np.array([p]), np.array([1]), cache)
        for p in reversed(range(start, start + length))
    ]
    got = np.array([int(p[0]) for p in reversed(pieces)], dtype=np.int64)
    np.testing.assert_array_equal(got, sequential[start:])


def test_entries_of_many_classes_in_one_call_equal_separate_calls() -> None:
    """draw() over interleaved entries of several classes returns, entry by entry, what each
    class's stream holds at those positions: a class's draws do not depend on the others."""
    streams = _streams(block_draws=5)
    rng = np.random.default_rng(0)
    cls = rng.integers(0, SIZES.size, size=60)
    start = rng.integers(0, 300, size=60)
    count = rng.integers(1, 12, size=60)
    drawn = streams.draw(cls, start, count, streams.new_cache()).astype(np.int64)
    at = 0
    for c, s, n in zip(cls.tolist(), start.tolist(), count.tolist(), strict=True):
        np.testing.assert_array_equal(drawn[at : at + n], _draw(streams, c, s, s + n))
        at += n
    assert at == drawn.size
    empty = streams.draw(cls[:0], start[:0], count[:0], streams.new_cache())
    assert empty.size == 0


def test_streams_are_keyed_per_class_and_seed() -> None:
    """Each class's stream is its own: same seed, same stream (also after pickling); another
    seed, another stream; two classes of equal size are not the same permutation of their
    members."""
    a = _draw(_streams(seed=3), 5, 0, 640)
    np.testing.assert_array_equal(_draw(_streams(seed=3), 5, 0, 640), a)
    np.testing.assert_array_equal(_draw(pickle.loads(pickle.dumps(_streams(seed=3))), 5, 0, 640), a)
    assert not np.array_equal(_draw(_streams(seed=4), 5, 0, 640), a)
    twins = ClassIndex.from_labels(np.repeat([0, 1], 30))
    streams = MemberStreams(twins, 9, np.array([1, 1]))
    first = _draw(streams, 0, 0, 300)
    second = _draw(streams, 1, 0, 300) - 30
    assert not np.array_equal(first, second)


def test_each_cycle_is_a_fresh_permutation() -> None:
    """Consecutive cycles of a class are permutations of its members, not one repeated."""
    streams = _streams(head_rule=False)
    stream = _draw(streams, 4, 0, 20 * 5).reshape(5, 20)
    members = sorted(INDEX.members(4).tolist())
    for cycle in stream:
        assert sorted(cycle.tolist()) == members
    assert len({tuple(cycle.tolist()) for cycle in stream}) == 5


def test_rotation_matches_the_drawn_stream() -> None:
    """rotation(c) is the stream over item indices: members(c)[rotation.items] is the draw."""
    streams = _streams(block_draws=7)
    for c in range(SIZES.size):
        rot = streams.rotation(c)
        items = rot.items(0, 50)
        np.testing.assert_array_equal(
            INDEX.members(c)[items].astype(np.int64), _draw(streams, c, 0, 50)
        )


def _plan_pair(
    seed: int, rng: np.random.Generator, draws: list[int], lazy: list[int] | None = None
) -> tuple[list[Plan], int]:
    """Two equal random plans of a counted kind (1 to 3 ranks, chunk sizes from ``draws``,
    lazy class sizes from ``lazy``), the second reading every round through its rotation
    (the reference path); and the number of ranks."""
    k = int(rng.integers(2, 10))
    sizes = rng.integers(3, 90, k)
    index = ClassIndex.from_labels(np.repeat(np.arange(k), sizes))
    kind = ("fixed", "quota", "pk")[seed % 3]
    batch, options, alpha = int(rng.integers(k, 3 * k)), None, 0.5
    if kind == "pk":
        batch, options, alpha = 2 * min(k, 3), {"samples_per_class": 2}, 1.0
    replicas = 1 + seed % 3
    target = interpolate(index.counts, alpha)
    extra: dict[str, int] = {"chunk_draws": int(rng.choice(draws))}
    if lazy is not None:
        extra |= {"block_draws": 32, "lazy_size": int(rng.choice(lazy))}
    plans = [
        Plan(index, kind, target, batch, 30, seed, replicas, options, **extra) for _ in range(2)
    ]
    assert plans[1].members is not None
    plans[1].members.vector_heads = False
    return plans, replicas


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_heads_equal_the_rotations(seed: int) -> None:
    """The head rule applied to a chunk's straddled rounds in one vectorised pass gives
    exactly the draws of the reference path (every round through its rotation), for every
    counted kind, one to three ranks, and chunk and block sizes that put boundaries
    everywhere."""
    plans, replicas = _plan_pair(seed, np.random.default_rng(seed), [16, 64, 4096])
    for epoch in range(3):
        for rank in range(replicas):
            np.testing.assert_array_equal(
                plans[0].batches(epoch, rank), plans[1].batches(epoch, rank)
            )


@pytest.mark.parametrize("seed", range(12))
def test_a_resumed_batch_equals_its_row_of_the_chunk(seed: int) -> None:
    """A batch computed alone, from a fresh cache, as a resumed pass computes its first one
    (the head rule of the rounds at the chunk's edges applied from base draws, across
    classes), equals that row of the whole chunk and of the reference path (every round
    through its rotation): every counted kind, one to three ranks, lazily read classes,
    chunk and block sizes that put boundaries everywhere."""
    rng = np.random.default_rng(1000 + seed)
    plans, replicas = _plan_pair(seed, rng, [16, 64, 256], lazy=[20, 60, 1 << 14])
    for epoch in range(3):
        for rank in range(replicas):
            for j in range(plans[0].n_chunks):
                whole = plans[0].chunk(epoch, rank, j)
                for lo in range(plans[0].chunk_rows(j)):
                    alone = [p.rows(epoch, rank, j, lo, lo + 1) for p in plans]
                    np.testing.assert_array_equal(alone[0], whole[lo : lo + 1])
                    np.testing.assert_array_equal(alone[1], whole[lo : lo + 1])


def test_chained_rounds_of_small_classes_are_read_every_class_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Classes with fewer than twice the draws a batch takes chain their rounds' heads (each
    round's head reads the previous round as read). A batch computed alone deep in a run
    reads those chains link by link for every class at once, without building any round
    through its rotation, and equals the reference path (every round through its rotation)
    and its row of the whole chunk."""
    from refsampler import rotation

    lengths: list[int] = []
    built: list[int] = []
    chain, compute = rotation.Rotation.chain, rotation.Rotation._compute_round

    def spy_chain(self: rotation.Rotation, r: int) -> list[tuple[int, int, int, int]]:
        links = chain(self, r)
        lengths.append(len(links))
        return links

    def spy_compute(self: rotation.Rotation, r: int) -> tuple[IntArray, int]:
        built.append(self.size)
        return compute(self, r)

    monkeypatch.setattr(rotation.Rotation, "chain", spy_chain)
    monkeypatch.setattr(rotation.Rotation, "_compute_round", spy_compute)
    sizes = np.array([5, 7, 9, 6, 8, 7])
    index = ClassIndex.from_labels(np.repeat(np.arange(sizes.size), sizes))
    target = interpolate(index.counts, 1.0)
    plans = [
        Plan(index, "pk", target, 10, 30, 5, 1, {"samples_per_class": 5}, chunk_draws=80)
        for _ in range(2)
    ]
    assert plans[1].members is not None
    plans[1].members.vector_heads = False
    longest = 0
    for epoch in (0, 7):
        whole = plans[0].chunk(epoch, 0, 1)
        for lo in range(plans[0].chunk_rows(1)):
            lengths.clear()
            built.clear()
            alone = plans[0].rows(epoch, 0, 1, lo, lo + 1)
            # The class rotation (6 classes) may build its rounds; no member cycle does.
            assert set(built) <= {sizes.size}
            longest = max(longest, *lengths)
            np.testing.assert_array_equal(alone, whole[lo : lo + 1])
            np.testing.assert_array_equal(alone, plans[1].rows(epoch, 0, 1, lo, lo + 1))
    assert longest >= 4


def test_long_rounds_are_read_only_where_the_head_rule_looks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The vectorised head rule reads a round longer than a batch's reach only at its first
    head + tail positions and its last tail positions (a row of that width, not of the
    largest class's size), alongside the whole rounds of short classes, under three ranks;
    the draws equal the reference path's (every round through its rotation)."""
    from refsampler import members

    widths: list[int] = []
    adjust = members.adjust_heads

    def spy(prefix: IntArray, tails: IntArray, heads: IntArray) -> tuple[IntArray, IntArray]:
        widths.append(prefix.shape[1])
        return adjust(prefix, tails, heads)

    monkeypatch.setattr(members, "adjust_heads", spy)
    sizes = np.arange(600, 100, -25)  # 20 classes of 600 down to 125 members
    index = ClassIndex.from_labels(np.repeat(np.arange(sizes.size), sizes))
    target = interpolate(index.counts, 1.0)
    plans = [
        Plan(index, "quota", target, 32, 40, 3, 4, None, chunk_draws=256, block_draws=256)
        for _ in range(2)
    ]
    assert plans[1].members is not None
    plans[1].members.vector_heads = False
    for epoch in range(4):
        for rank in range(4):
            np.testing.assert_array_equal(
                plans[0].batches(epoch, rank), plans[1].batches(epoch, rank)
            )
    # 32 seats over 20 classes at alpha 1: 1 or 2 draws of a class a batch, so a head of at
    # most 2 after a tail of at most 2: rows of at most 6 items, against rounds of 125 to 600.
    assert widths and max(widths) <= 6


@pytest.fixture
def evaluated(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of values of every ``keys.feistel_permute`` call the test makes."""
    calls: list[int] = []
    permute = keys.feistel_permute

    def spy(values: IntArray, *args: object) -> IntArray:
        calls.append(int(np.size(values)))
        return permute(values, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(keys, "feistel_permute", spy)
    return calls


def test_a_few_draws_of_a_lazy_class_skip_its_block(evaluated: list[int]) -> None:
    """A lazily read class that needs at most 1/FEW_PART of a block it does not hold (a first
    batch's one or two draws) has those positions evaluated alone, not its block; a later
    call that needs more computes the block. Both give the reference draws."""
    labels = np.repeat(np.arange(2), [200, 5])
    streams = MemberStreams(
        ClassIndex.from_labels(labels), 2, np.array([1, 1]), lazy_size=30, block_draws=64
    )
    length = int(streams.block_len[0])
    assert length == 64  # block_draws positions a block; at most 1/16 of it is 4 draws
    members = streams.index.members(0).astype(np.int64)
    reference = members[streams.rotation(0).items(65, 73)]  # through the rotation
    evaluated.clear()  # the reference's evaluations
    cache = streams.new_cache()
    few = streams.draw(np.array([0, 1]), np.array([65, 0]), np.array([2, 1]), cache)
    assert evaluated == [2]
    assert cache.block[0] == -1  # no block of class 0 computed or held
    np.testing.assert_array_equal(few[:2], reference[:2])
    more = streams.draw(np.array([0]), np.array([67]), np.array([6]), cache)
    assert evaluated == [2, length]  # 6 of 64 is more than a few: the block is computed
    assert cache.block[0] == 1
    np.testing.assert_array_equal(more, reference[2:])


def test_a_lazy_class_spanning_blocks_evaluates_each_draw_once(evaluated: list[int]) -> None:
    """A lazily read class whose draws span several blocks is read straight from its
    bijection, each draw once: no memo block is computed for it on the side."""
    labels = np.repeat(np.arange(2), [40, 5])
    streams = MemberStreams(
        ClassIndex.from_labels(labels), 2, np.array([1, 1]), lazy_size=30, block_draws=8
    )
    cache = streams.new_cache()
    drawn = streams.draw(np.array([0, 1, 0]), np.array([3, 0, 4]), np.array([1, 2, 20]), cache)
    assert sum(evaluated) == 21  # class 0's positions 3 .. 23, over three blocks of 8
    np.testing.assert_array_equal(drawn[[0, *range(3, 23)]], _draw(streams, 0, 3, 24))


def test_a_lazy_class_drawn_far_apart_evaluates_only_its_draws(evaluated: list[int]) -> None:
    """A lazily read class whose draws fill under half of their span (another rank's slots
    between them) is read at its entries' positions alone: the evaluations are its draws,
    not the span, and the draws are the reference's."""
    labels = np.repeat(np.arange(2), [40, 5])
    streams = MemberStreams(
        ClassIndex.from_labels(labels), 2, np.array([1, 1]), lazy_size=30, block_draws=8
    )
    cache = streams.new_cache()
    cls, start, count = np.array([0, 1, 0]), np.array([3, 0, 90]), np.array([2, 2, 3])
    drawn = streams.draw(cls, start, count, cache)
    assert sum(evaluated) == 5  # positions 3, 4 and 90 .. 92, not 3 .. 92
    np.testing.assert_array_equal(drawn[:2], _draw(streams, 0, 3, 5))
    np.testing.assert_array_equal(drawn[4:], _draw(streams, 0, 90, 93))


@pytest.mark.parametrize(
    ("kind", "replicas"),
    [("fixed", 9), ("quota", 3), ("quota", 4), ("quota", 16), ("pk", 5), ("pk", 12)],
)
def test_a_rank_among_many_holds_what_the_rotations_give(kind: str, replicas: int) -> None:
    """Under many replicas a rank reads its own slots' seats (from SPARSE_STEP = 4 ranks on;
    3 reads the span), only the head rules of the rounds its draws meet, and lazily read
    classes at its own positions. Each batch holds exactly the members the class rotations
    give at its entries' stream positions (the rotations apply every round's head rule on
    their own)."""
    rng = np.random.default_rng(replicas)
    sizes = np.concatenate((rng.integers(3, 40, 8), rng.integers(70, 120, 3)))
    index = ClassIndex.from_labels(np.repeat(np.arange(sizes.size), sizes))
    batch, options = (24, None) if kind != "pk" else (12, {"samples_per_class": 2})
    target = interpolate(index.counts, 0.5 if kind != "pk" else 1.0)
    plan = Plan(index, kind, target, batch, 40, 5, replicas, options, lazy_size=60, block_draws=32)
    members = plan.members
    assert members is not None and members.lazy.any()
    for epoch in (0, 2):
        for rank in (0, replicas // 2, replicas - 1):
            batches = plan.batches(epoch, rank)
            entries = plan.entries(epoch, rank)
            for row in range(batches.shape[0]):
                at = np.flatnonzero(entries.row == row)
                expected = np.concatenate(
                    [
                        index.members(c)[members.rotation(c).items(s, s + n)]
                        for c, s, n in zip(
                            entries.cls[at].tolist(),
                            entries.start[at].tolist(),
                            entries.count[at].tolist(),
                            strict=True,
                        )
                    ]
                )
                np.testing.assert_array_equal(np.sort(batches[row]), np.sort(expected))
