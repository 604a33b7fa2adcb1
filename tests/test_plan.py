"""Tests of :mod:`refsampler.plan`: batch ``k`` of epoch ``e`` on rank ``r`` as a pure function.

Expectations come from the documented contracts (:mod:`refsampler.plan`, the kind modules and
:mod:`refsampler.members`), never from recorded streams.
"""

from __future__ import annotations

import pickle
import re
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from refsampler import keys
from refsampler import plan as plan_module
from refsampler.allocation import allocate, allocate_with_ties, quota_schedule
from refsampler.classes import ClassIndex
from refsampler.conformance.sample import per_batch_counts
from refsampler.errors import InvalidArgumentError
from refsampler.plan import CHUNK_DRAWS, SHUFFLE_ROWS, Plan
from refsampler.schedules import linear
from refsampler.targets import explicit, interpolate

IntArray = npt.NDArray[np.int64]

KINDS = ("fixed", "quota", "random", "pk")
COUNTED = ("fixed", "quota", "pk")
#: 5 classes with counts 37/7/15/2/5 in shuffled order (66 samples).
SIZES = np.array([37, 7, 15, 2, 5])
LABELS = np.random.default_rng(20240601).permutation(np.repeat(np.arange(5), SIZES))
K = SIZES.size
B = 8
#: pk batches: P = 4 classes x m = 2 members.
PK_OPTIONS = {"samples_per_class": 2}


def _plan(
    kind: str,
    *,
    labels: Any = LABELS,
    alpha: float | None = None,
    target: Any = None,
    batch_size: int = B,
    n_batches: int = 40,
    seed: int = 7,
    num_replicas: int = 1,
    chunk_draws: int = CHUNK_DRAWS,
    block_draws: int | None = None,
) -> Plan:
    """A Plan over ``labels``; the target is ``interpolate(counts, alpha)`` unless given (alpha
    defaults to 0.5, or 1.0 for pk, whose P p_c must stay <= 1)."""
    index = labels if isinstance(labels, ClassIndex) else ClassIndex.from_labels(labels)
    if target is None:
        default = 1.0 if kind == "pk" else 0.5
        target = interpolate(index.counts, default if alpha is None else alpha)
    options = dict(PK_OPTIONS) if kind == "pk" else None
    extra: dict[str, int] = {"chunk_draws": chunk_draws}
    if block_draws is not None:
        extra["block_draws"] = block_draws
    return Plan(index, kind, target, batch_size, n_batches, seed, num_replicas, options, **extra)


def _assert_cycle_balance(batches: IntArray, members: npt.NDArray[Any]) -> None:
    """Reading ``batches`` in order, after every batch each member of the class was drawn
    floor(D / n_c) or ceil(D / n_c) times, D the class's draws so far."""
    members = np.asarray(members, dtype=np.int64)
    ordinal = np.full(int(max(batches.max(), members.max())) + 1, -1)
    ordinal[members] = np.arange(members.size)
    hits = ordinal[batches]
    per_batch = np.zeros((batches.shape[0], members.size), dtype=np.int64)
    rows, _ = np.nonzero(hits >= 0)
    np.add.at(per_batch, (rows, hits[hits >= 0]), 1)
    cumulative = np.cumsum(per_batch, axis=0)
    draws = cumulative.sum(axis=1, keepdims=True)
    n_c = members.size
    assert np.all(cumulative >= draws // n_c)
    assert np.all(cumulative <= -(-draws // n_c))


def _global_order(plan: Plan, epochs: range) -> IntArray:
    """Every batch of ``epochs`` and every rank, in global slot order (epoch, batch, rank)."""
    per_epoch = []
    for e in epochs:
        ranks = [plan.batches(e, r) for r in range(plan.num_replicas)]
        per_epoch.append(np.stack(ranks, axis=1).reshape(-1, plan.batch_size))
    return np.concatenate(per_epoch)


# -- geometry and slicing ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_batches_shape_dtype_and_range(kind: str) -> None:
    """batches() returns (n_batches, B) int64 positions, all valid dataset positions."""
    batches = _plan(kind).batches(0, 0)
    assert batches.shape == (40, B)
    assert batches.dtype == np.int64
    assert batches.min() >= 0
    assert batches.max() < LABELS.size


def test_chunk_geometry_follows_chunk_draws() -> None:
    """chunk_batches = max(1, chunk_draws // B); n_chunks = ceil(n_batches / chunk_batches)."""
    plan = _plan("fixed", n_batches=40, chunk_draws=24)
    assert plan.chunk_batches == 3
    assert plan.n_chunks == 14
    huge = _plan("fixed", batch_size=100, n_batches=5, chunk_draws=24)
    assert huge.chunk_batches == 1
    assert huge.n_chunks == 5
    default = _plan("fixed", n_batches=40)
    assert default.chunk_batches == CHUNK_DRAWS // B
    assert default.n_chunks == 1


@pytest.mark.parametrize("name", ["chunk_draws", "block_draws"])
@pytest.mark.parametrize("value", [0, -3])
def test_chunk_and_block_draws_must_be_positive(name: str, value: int) -> None:
    """A non-positive chunk_draws / block_draws is an InvalidArgumentError naming it."""
    kwargs: dict[str, Any] = {name: value}
    with pytest.raises(InvalidArgumentError, match=f"`{name}`.*{value}"):
        _plan("fixed", **kwargs)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("start", "stop"), [(0, 40), (0, 1), (2, 4), (3, 6), (5, 5), (6, 6), (7, 38), (39, 40)]
)
def test_batch_range_equals_slice(kind: str, start: int, stop: int) -> None:
    """batches(e, r, start, stop) equals batches(e, r)[start:stop], across chunk boundaries
    (chunks of 3 batches), computed by a fresh plan."""
    full = _plan(kind, chunk_draws=24).batches(1, 0)
    part = _plan(kind, chunk_draws=24).batches(1, 0, start, stop)
    assert part.shape == (stop - start, B)
    assert part.dtype == np.int64
    np.testing.assert_array_equal(part, full[start:stop])


@pytest.mark.parametrize("kind", KINDS)
def test_chunks_concatenate_to_batches(kind: str) -> None:
    """chunk(e, r, j) for j = 0..n_chunks-1 concatenate to batches(); the last may be short."""
    plan = _plan(kind, n_batches=40, chunk_draws=24)
    chunks = [plan.chunk(2, 0, j) for j in range(plan.n_chunks)]
    assert [c.shape[0] for c in chunks] == [3] * 13 + [1]
    np.testing.assert_array_equal(
        np.concatenate(chunks), _plan(kind, chunk_draws=24).batches(2, 0)
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("moving", [False, True])
def test_rows_of_a_chunk_equal_those_rows_of_the_chunk(kind: str, moving: bool) -> None:
    """rows(e, r, j, lo, hi) is chunk(e, r, j)[lo:hi] for every range of a 7-batch chunk,
    each computed by a fresh plan (the first batch of a pass is computed this way, alone)."""
    options: dict[str, Any] = {"chunk_draws": 7 * B, "num_replicas": 2}
    if moving:
        options["target"] = lambda epoch: interpolate(SIZES, 0.9 if epoch % 2 else 1.0)
    full = {j: _plan(kind, **options).chunk(3, 1, j) for j in range(3)}
    for j in range(3):
        for lo, hi in [(0, 1), (1, 7), (3, 5), (6, 7), (0, 7)]:
            part = _plan(kind, **options).rows(3, 1, j, lo, hi)
            np.testing.assert_array_equal(part, full[j][lo:hi])


@pytest.mark.parametrize("kind", COUNTED)
def test_rows_across_shuffle_stretches_equal_the_chunk_and_replay_one_stretch(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a chunk of 40 batches (three stretches of SHUFFLE_ROWS = 16 shuffles), rows
    computed alone equal the chunk's rows across the stretch boundaries, and computing them
    seats only the stretches they lie in: a resumed batch never replays the shuffles of an
    earlier stretch."""
    options: dict[str, Any] = {"chunk_draws": 40 * B, "n_batches": 80}
    full = _plan(kind, **options).chunk(2, 0, 1)
    assert full.shape[0] == 40 > 2 * SHUFFLE_ROWS
    plan = _plan(kind, **options)
    shuffles = keys.stream_start(plan.seed, keys.TAG_SHUFFLE, 2, 0, 1)
    seated: list[int] = []
    seat = keys.seat

    def spy(bits: np.random.PCG64, start: tuple[int, int], block: int) -> None:
        if start == shuffles:  # member cycles seat their blocks too
            seated.append(block)
        seat(bits, start, block)

    monkeypatch.setattr(keys, "seat", spy)
    for lo, hi, stretches in [
        (15, 16, [0]), (16, 17, [1]), (17, 18, [1]), (15, 17, [0, 1]), (31, 40, [1, 2]),
        (39, 40, [2]), (0, 40, [0, 1, 2]),
    ]:
        seated.clear()
        part = _plan(kind, **options).rows(2, 0, 1, lo, hi)
        np.testing.assert_array_equal(part, full[lo:hi])
        assert seated == stretches, (lo, hi)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("block_draws", [3, 4096])
def test_batches_independent_of_call_order(kind: str, block_draws: int) -> None:
    """Computing batches in a random order (60 of 160, later chunks first), with one cache
    or a fresh one per call, changes no result: the caches only remember."""
    forward = _plan(kind, num_replicas=2, chunk_draws=24, block_draws=block_draws)
    expected = {(e, r): forward.batches(e, r) for e in range(2) for r in range(2)}
    plan = _plan(kind, num_replicas=2, chunk_draws=24, block_draws=block_draws)
    cache = plan.new_cache()
    coordinates = [(e, r, k) for e in range(2) for r in range(2) for k in range(40)]
    order = np.random.default_rng(0).permutation(len(coordinates))[:60].tolist()
    for n, i in enumerate(order):
        e, r, k = coordinates[i]
        row = plan.batches(e, r, k, k + 1, cache if n % 2 else None)
        np.testing.assert_array_equal(row[0], expected[e, r][k])


@pytest.mark.parametrize("kind", COUNTED)
def test_batch_contents_independent_of_chunk_size(kind: str) -> None:
    """Chunking only moves the within-batch shuffle: each batch's multiset of positions is the
    same for any chunk_draws (member streams are keyed by stream position, not by chunk)."""
    reference = np.sort(_plan(kind, num_replicas=2).batches(3, 1), axis=1)
    for chunk_draws in (1, 8, 24, 40, 1000):
        batches = _plan(kind, num_replicas=2, chunk_draws=chunk_draws).batches(3, 1)
        np.testing.assert_array_equal(np.sort(batches, axis=1), reference)


@pytest.mark.parametrize("kind", COUNTED)
def test_count_rows_independent_of_chunk_and_block_size(kind: str) -> None:
    """The planned counts depend on neither tuning knob, and every batch has them for any
    block size (block_draws changes which members, never how many of each class)."""
    reference = _plan(kind).count_rows(2, 0)
    for chunk_draws, block_draws in ((1, 1), (24, 5), (1000, 64), (CHUNK_DRAWS, 1 << 14)):
        plan = _plan(kind, chunk_draws=chunk_draws, block_draws=block_draws)
        np.testing.assert_array_equal(plan.count_rows(2, 0), reference)
        np.testing.assert_array_equal(per_batch_counts(plan.batches(2, 0), LABELS, K), reference)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("start", "stop"), [(5, 41), (6, 5), (-1, 3), (0, 41)])
def test_batches_rejects_out_of_range(kind: str, start: int, stop: int) -> None:
    """A batch range outside 0..n_batches is an InvalidArgumentError showing the range."""
    plan = _plan(kind)
    message = f"the batch range must lie in 0 .. 40; got {start} .. {stop}."
    with pytest.raises(InvalidArgumentError, match="^" + re.escape(message) + "$"):
        plan.batches(0, 0, start, stop)


@pytest.mark.parametrize("kind", KINDS)
def test_batches_rejects_bad_epoch_and_rank(kind: str) -> None:
    """A negative epoch, a negative rank or a rank >= num_replicas names the argument."""
    plan = _plan(kind, num_replicas=2)
    with pytest.raises(InvalidArgumentError, match=r"`epoch`.*-1"):
        plan.batches(-1, 0)
    with pytest.raises(InvalidArgumentError, match=r"`rank`.*-1"):
        plan.batches(0, -1)
    with pytest.raises(InvalidArgumentError, match=r"`rank` must be < `num_replicas` \(2\).*2"):
        plan.batches(0, 2)


# -- counts ------------------------------------------------------------------------------------


def test_count_rows_fixed_equals_allocate_without_ties() -> None:
    """Fixed kind, a target without exact ties: every row of count_rows is allocate(target, B),
    in every epoch."""
    plan = _plan("fixed")
    _, tied, seats = allocate_with_ties(plan.target(), B)
    assert tied.size == 0 and seats == 0  # this target has no ties
    expected = allocate(plan.target(), B)
    for epoch in (0, 5):
        rows = plan.count_rows(epoch, 0)
        assert rows.shape == (40, K)
        assert rows.dtype == np.int64
        assert np.all(rows == expected)
    np.testing.assert_array_equal(plan.count_rows(1, 0, 7, 9), [expected, expected])
    assert plan.count_rows(1, 0, 9, 9).shape == (0, K)


def test_count_rows_fixed_with_ties_is_allocate_up_to_the_tie_rotation() -> None:
    """Uniform over 5 classes with B = 8: every epoch's rows are one vector, with the certain
    seats of allocate and its tied seats on some `seats` of the tied classes."""
    plan = _plan("fixed", alpha=1.0, num_replicas=2)
    certain, tied, seats = allocate_with_ties(plan.target(), B)
    assert seats == 3 and tied.tolist() == [0, 1, 2, 3, 4]
    canonical = allocate(plan.target(), B)
    for epoch in range(6):
        rows = np.concatenate([plan.count_rows(epoch, r) for r in range(2)])
        assert np.all(rows == rows[0])
        extra = rows[0] - certain
        assert set(extra.tolist()) <= {0, 1}
        assert extra.sum() == seats and np.all(extra[np.setdiff1d(np.arange(K), tied)] == 0)
        assert sorted(rows[0].tolist()) == sorted(canonical.tolist())


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("num_replicas", [1, 3])
def test_count_rows_quota_satisfies_the_quota_bounds(alpha: float, num_replicas: int) -> None:
    """Quota kind: every count is floor or ceil of B p_c, rows sum to B, and in global slot
    order every class's running total is within 1 of t B p_c, across epochs and ranks."""
    plan = _plan("quota", alpha=alpha, num_replicas=num_replicas, n_batches=13)
    quota = B * plan.target()
    rows = np.concatenate(
        [
            np.stack([plan.count_rows(e, r) for r in range(num_replicas)], axis=1).reshape(-1, K)
            for e in range(3)
        ]
    )
    assert np.all(rows.sum(axis=1) == B)
    assert np.all((rows == np.floor(quota)) | (rows == np.ceil(quota)))
    t = np.arange(1, rows.shape[0] + 1)[:, None]
    assert np.all(np.abs(np.cumsum(rows, axis=0) - t * quota) < 1 + 1e-9)


@pytest.mark.parametrize("seed", [0, 7])
def test_count_rows_quota_continue_quota_schedule(seed: int) -> None:
    """One replica: epoch e's rows are global slots e*n .. (e+1)*n - 1 of quota_schedule with
    the same seed, so the schedule continues across epochs."""
    plan = _plan("quota", seed=seed, n_batches=10)
    full = quota_schedule(plan.target(), B, 30, seed=seed)
    for epoch in range(3):
        np.testing.assert_array_equal(plan.count_rows(epoch, 0), full[epoch * 10 : epoch * 10 + 10])
    np.testing.assert_array_equal(plan.count_rows(1, 0, 3, 7), full[13:17])


def test_count_rows_random_is_an_error() -> None:
    """The random kind has no planned counts."""
    message = "kind 'random' draws classes at random; it has no planned counts."
    with pytest.raises(InvalidArgumentError, match="^" + re.escape(message) + "$"):
        _plan("random").count_rows(0, 0, 0, 1)
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        _plan("random").entries(0, 0)


@pytest.mark.parametrize("kind", COUNTED)
@pytest.mark.parametrize("epoch", [0, 3])
def test_every_batch_has_the_planned_class_counts(kind: str, epoch: int) -> None:
    """Each batch's class counts (via the labels) equal count_rows, on every rank, and the
    entries are count_rows in sparse form (one entry per class and row, counts sum to B)."""
    plan = _plan(kind, num_replicas=2, chunk_draws=24)
    for rank in range(2):
        batches = plan.batches(epoch, rank)
        rows = plan.count_rows(epoch, rank)
        np.testing.assert_array_equal(per_batch_counts(batches, LABELS, K), rows)
        entries = plan.entries(epoch, rank)
        dense = np.zeros_like(rows)
        np.add.at(dense, (entries.row, entries.cls), entries.count)
        np.testing.assert_array_equal(dense, rows)
        assert np.all(entries.count > 0)
        pairs = entries.row * K + entries.cls
        assert np.unique(pairs).size == pairs.size


def test_pk_batches_hold_p_distinct_classes_of_m_distinct_members() -> None:
    """pk: every batch holds P = B / m classes with exactly m members each, all distinct."""
    plan = _plan("pk", num_replicas=2)
    for rank in range(2):
        batches = plan.batches(1, rank)
        counts = per_batch_counts(batches, LABELS, K)
        assert np.all(np.sort(counts, axis=1)[:, -4:] == 2)
        assert np.all((counts > 0).sum(axis=1) == 4)
        assert all(np.unique(row).size == B for row in batches)


@pytest.mark.parametrize("kind", COUNTED)
def test_moving_target_rows_follow_each_epochs_target(kind: str) -> None:
    """A target that moves with the epoch: each epoch's counts sum to B per batch and match
    that epoch's target (fixed: allocate's certain seats; quota: floor/ceil of B p_c)."""
    index = ClassIndex.from_labels(LABELS)
    schedule = linear(0.9 if kind == "pk" else 0.0, 1.0, 4)

    def target(epoch: int) -> npt.NDArray[np.float64]:
        return interpolate(index.counts, schedule(epoch))

    options = dict(PK_OPTIONS) if kind == "pk" else None
    plan = Plan(index, kind, target, B, 12, 3, 2, options)
    assert plan.moving
    for epoch in range(6):
        np.testing.assert_array_equal(plan.target(epoch), target(epoch))
        for rank in range(2):
            rows = plan.count_rows(epoch, rank)
            np.testing.assert_array_equal(
                per_batch_counts(plan.batches(epoch, rank), LABELS, K), rows
            )
            assert np.all(rows.sum(axis=1) == B)
            quota = B * target(epoch)
            if kind == "fixed":
                certain, _, _ = allocate_with_ties(target(epoch), B)
                assert np.all(rows >= certain) and np.all(rows <= certain + 1)
            elif kind == "quota":
                assert np.all((rows == np.floor(quota)) | (rows == np.ceil(quota)))


# -- within-class cycles -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", COUNTED)
def test_cycles_balance_members_within_an_epoch(kind: str) -> None:
    """After every batch, each member of class c was drawn floor(D/n_c) or ceil(D/n_c) times;
    for fixed, every member appears within ceil(n_c / a_c) batches."""
    plan = _plan(kind, n_batches=60, chunk_draws=24)
    batches = plan.batches(0, 0)
    index = plan.index
    for c in range(K):
        _assert_cycle_balance(batches, index.members(c))
    if kind == "fixed":
        counts = plan.count_rows(0, 0, 0, 1)[0]
        for c in range(K):
            span = -(-int(index.counts[c]) // int(counts[c]))
            seen = np.isin(index.members(c), batches[:span])
            assert seen.all(), f"class {c}: not every member within {span} batches"


@pytest.mark.parametrize("kind", COUNTED)
@pytest.mark.parametrize(("n_batches", "replicas"), [(3, 2), (1, 1)])
@pytest.mark.parametrize(("recent", "every"), [(16, 16), (2, 3)])
def test_the_epoch_of_a_stream_position_is_the_scan_from_epoch_0(
    kind: str, n_batches: int, replicas: int, recent: int, every: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under a moving target a class's stream position belongs to the epoch whose offset is
    the last at or below it: the bisection over the epochs held, the walk between them and
    the walk past them agree with a scan from epoch 0, for every position of every class over
    8 epochs (with one pk batch an epoch a class skips some epochs, so equal offsets occur),
    whatever epochs were placed first; also when only a few epochs are held (the others
    recomputed from the spaced ones)."""
    monkeypatch.setattr(plan_module, "OFFSETS_RECENT", recent)
    monkeypatch.setattr(plan_module, "OFFSETS_EVERY", every)
    index = ClassIndex.from_labels(LABELS)
    schedule = linear(0.9 if kind == "pk" else 0.0, 1.0, 5)

    def target(epoch: int) -> npt.NDArray[np.float64]:
        return interpolate(index.counts, schedule(epoch))

    options = dict(PK_OPTIONS) if kind == "pk" else None
    reference = Plan(index, kind, target, B, n_batches, 3, replicas, options)
    ends = np.stack([reference.stream_offsets(e) for e in range(9)])
    for placed in (0, 4, 8):
        plan = Plan(index, kind, target, B, n_batches, 3, replicas, options)
        plan.stream_offsets(placed)
        for c in range(K):
            for position in range(int(ends[8, c])):
                scan = 0
                while ends[scan + 1, c] <= position:
                    scan += 1
                assert plan._epoch_of(c, position) == scan
    if kind == "pk" and n_batches == 1:
        assert (np.diff(ends, axis=0) == 0).any()  # a class with no draws in an epoch


@pytest.mark.parametrize("kind", COUNTED)
def test_a_long_schedule_holds_few_offset_vectors(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over many epochs of a moving target the plan holds the stream offsets of the latest
    epochs, of every OFFSETS_EVERY-th epoch and of a few recomputed ones, not one vector per
    epoch; an evicted epoch's offsets, recomputed, and the batches of every epoch equal those
    of a plan that held them all."""
    index = ClassIndex.from_labels(LABELS)
    schedule = linear(0.9 if kind == "pk" else 0.0, 1.0, 40)

    def target(epoch: int) -> npt.NDArray[np.float64]:
        return interpolate(index.counts, schedule(epoch))

    options = dict(PK_OPTIONS) if kind == "pk" else None
    monkeypatch.setattr(plan_module, "OFFSETS_RECENT", 1000)
    everything = Plan(index, kind, target, B, 2, 3, 1, options)
    batches = [everything.batches(e, 0) for e in range(61)]
    expected = [everything.stream_offsets(e) for e in range(61)]
    assert len(everything._offsets) >= 61
    monkeypatch.setattr(plan_module, "OFFSETS_RECENT", 4)
    monkeypatch.setattr(plan_module, "OFFSETS_EVERY", 8)
    plan = Plan(index, kind, target, B, 2, 3, 1, options)
    for epoch in range(61):
        np.testing.assert_array_equal(plan.batches(epoch, 0), batches[epoch])
    top = plan._offsets_top
    assert top in (60, 61)  # the last epoch, or the next one, for a walk past its draws
    assert set(plan._offsets) == {*range(0, top + 1, 8), *range(top - 3, top + 1)}
    for epoch in (5, 13, 60, 3, 5):
        np.testing.assert_array_equal(plan.stream_offsets(epoch), expected[epoch])
    assert len(plan._older) <= 4


@pytest.mark.parametrize("kind", COUNTED)
@pytest.mark.parametrize("moving", [False, True])
def test_cycles_continue_across_epochs(kind: str, moving: bool) -> None:
    """Epochs 0, 1, 2 in sequence keep the floor/ceil balance: cycles do not restart, with one
    target or a target that moves with the epoch."""
    if moving:
        index = ClassIndex.from_labels(LABELS)
        schedule = linear(0.9 if kind == "pk" else 0.0, 1.0, 3)

        def target(epoch: int) -> npt.NDArray[np.float64]:
            return interpolate(index.counts, schedule(epoch))

        options = dict(PK_OPTIONS) if kind == "pk" else None
        plan = Plan(index, kind, target, B, 7, 7, 1, options, chunk_draws=24)
    else:
        plan = _plan(kind, n_batches=7, chunk_draws=24)
    batches = _global_order(plan, range(3))
    for c in range(K):
        _assert_cycle_balance(batches, plan.index.members(c))


@pytest.mark.parametrize("kind", COUNTED)
@pytest.mark.parametrize("block_draws", [1, 2, 5, 17])
def test_cycles_cross_block_boundaries(kind: str, block_draws: int) -> None:
    """With tiny blocks of member rounds (many generators per class, blocks spanning chunks),
    balance still holds over epochs and ranks."""
    plan = _plan(kind, n_batches=25, num_replicas=2, chunk_draws=16, block_draws=block_draws)
    batches = _global_order(plan, range(2))
    for c in range(K):
        _assert_cycle_balance(batches, plan.index.members(c))


def test_small_class_many_cycles_per_block() -> None:
    """A class of 2 members drawn thousands of times (many cycles per block, several blocks)
    alternates perfectly: after every batch both members are within one draw of each other."""
    labels = np.array([0] * 2 + [1] * 50)
    plan = _plan("fixed", labels=labels, target=explicit([0.5, 0.5]), batch_size=2, n_batches=5000)
    batches = plan.batches(0, 0)
    _assert_cycle_balance(batches, plan.index.members(0))
    _assert_cycle_balance(batches, plan.index.members(1))


def test_each_cycle_is_a_fresh_permutation() -> None:
    """With one draw of a class per batch, consecutive cycles are permutations of the class,
    and not the same permutation repeated."""
    labels = np.array([0] * 20 + [1] * 20)
    plan = _plan("fixed", labels=labels, target=explicit([0.5, 0.5]), batch_size=2, n_batches=60)
    batches = plan.batches(0, 0)
    stream = batches[np.isin(batches, plan.index.members(1))]
    assert stream.size == 60
    cycles = stream.reshape(3, 20)
    for cycle in cycles:
        assert sorted(cycle.tolist()) == list(range(20, 40))
    assert not np.array_equal(cycles[0], cycles[1])
    assert not np.array_equal(cycles[1], cycles[2])


@pytest.mark.parametrize("kind", COUNTED)
def test_no_member_repeats_in_a_batch(kind: str) -> None:
    """The head rule: no position repeats inside a batch where the class has at least as many
    members as its count there (here every class does), across cycle wraps, epochs, ranks."""
    plan = _plan(kind, n_batches=30, num_replicas=2, chunk_draws=24, block_draws=7)
    for epoch in range(3):
        for rank in range(2):
            batches = plan.batches(epoch, rank)
            rows = plan.count_rows(epoch, rank)
            assert np.all(rows <= SIZES)
            assert all(np.unique(row).size == B for row in batches)


@pytest.mark.parametrize("kind", COUNTED)
@pytest.mark.parametrize("num_replicas", [2, 3])
def test_replicas_split_cycles_disjointly(kind: str, num_replicas: int) -> None:
    """The ranks interleave one class stream: walking the batches in global slot order (batch
    by batch, rank by rank) keeps the floor/ceil balance, so no cycle member goes to two ranks
    before every member has had its turn."""
    plan = _plan(kind, n_batches=30, num_replicas=num_replicas)
    union = _global_order(plan, range(2))
    for c in range(K):
        _assert_cycle_balance(union, plan.index.members(c))
    assert not np.array_equal(plan.batches(0, 0), plan.batches(0, 1))


# -- determinism -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_batches_are_a_pure_function_of_coordinates(kind: str) -> None:
    """Two plans of the same configuration, and a pickled copy, give identical batches."""
    first = _plan(kind, num_replicas=2)
    expected = first.batches(4, 1)
    np.testing.assert_array_equal(_plan(kind, num_replicas=2).batches(4, 1), expected)
    first.batches(0, 0)
    copy = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(copy.batches(4, 1), expected)
    np.testing.assert_array_equal(first.batches(4, 1), expected)


@pytest.mark.parametrize("kind", KINDS)
def test_batches_depend_on_epoch_rank_and_seed(kind: str) -> None:
    """Changing the epoch, the rank or the seed changes the batches."""
    base = _plan(kind, num_replicas=2).batches(0, 0)
    assert not np.array_equal(base, _plan(kind, num_replicas=2).batches(1, 0))
    assert not np.array_equal(base, _plan(kind, num_replicas=2).batches(0, 1))
    assert not np.array_equal(base, _plan(kind, num_replicas=2, seed=8).batches(0, 0))


@pytest.mark.parametrize("kind", KINDS)
def test_within_batch_order_is_shuffled(kind: str) -> None:
    """Batches are not grouped by class, nor in stream order: some batch has its classes out
    of sorted order, and every class shows up in the first and in the last column."""
    plan = _plan(kind, alpha=1.0, n_batches=200)
    ys = LABELS[plan.batches(0, 0)]
    assert np.any(np.diff(ys, axis=1) < 0)
    assert set(ys[:, 0].tolist()) == set(range(K))
    assert set(ys[:, -1].tolist()) == set(range(K))


# -- random kind -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [[0.5, 0.0, 0.2, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]],
    ids=["middle-zero", "last-zero", "single"],
)
def test_random_never_draws_a_zero_target_class(target: list[float]) -> None:
    """Classes with p_c = 0 never appear, wherever they sit in the alias table."""
    p = explicit(target)
    plan = _plan("random", target=p, batch_size=64, n_batches=200)
    batches = plan.batches(0, 0)
    drawn = np.unique(LABELS[batches])
    assert set(drawn.tolist()) <= set(np.flatnonzero(p > 0).tolist())


def test_random_positions_come_from_the_index() -> None:
    """Random draws hit only indexed positions (from_class_indices with gaps)."""
    index = ClassIndex.from_class_indices([[100, 7, 55], [3], [1000, 2000]])
    plan = Plan(index, "random", interpolate(index.counts, 1.0), 16, 30, 3)
    batches = plan.batches(0, 0)
    assert set(np.unique(batches).tolist()) == {100, 7, 55, 3, 1000, 2000}


@pytest.mark.parametrize("kind", COUNTED)
def test_counted_positions_come_from_the_index(kind: str) -> None:
    """Counted kinds draw only indexed positions, each class from its own list."""
    class_idxs = [[100, 7, 55], [3, 9], [1000, 2000]]
    index = ClassIndex.from_class_indices(class_idxs)
    options = {"samples_per_class": 2} if kind == "pk" else None
    plan = Plan(index, kind, interpolate(index.counts, 1.0), 6, 10, 3, 1, options)
    batches = plan.batches(0, 0)
    rows = plan.count_rows(0, 0)
    for c, idxs in enumerate(class_idxs):
        np.testing.assert_array_equal(np.isin(batches, idxs).sum(axis=1), rows[:, c])


@pytest.mark.parametrize("kind", ["fixed", "quota", "pk"])
@pytest.mark.parametrize("replicas", [1, 2])
def test_lazily_read_classes_keep_every_contract(kind: str, replicas: int) -> None:
    """Classes above ``lazy_size`` read their cycles from keyed bijections (any stretch of a
    cycle in O(its length)): with three of four classes lazy, the interleaved stream of all
    ranks still draws each member floor or ceil of its share after every batch, no batch
    repeats a member, and random access equals sequential reads."""
    labels = np.repeat(np.arange(4), [300, 120, 40, 9])
    index = ClassIndex.from_labels(labels)
    options = {"samples_per_class": 3} if kind == "pk" else None
    p = interpolate(index.counts, 1.0 if kind == "pk" else 0.5)

    def make() -> Plan:
        return Plan(index, kind, p, 12, 50, 3, replicas, options, lazy_size=30, block_draws=64)

    plan = make()
    assert plan.members is not None and int(plan.members.lazy.sum()) == 3
    steps = [np.stack([plan.batches(e, r) for r in range(replicas)], 1) for e in range(6)]
    stream = np.concatenate(steps).reshape(-1, 12)
    drawn = np.zeros(labels.size, dtype=np.int64)
    for batch in stream:
        assert np.unique(batch).size == batch.size
        drawn += np.bincount(batch, minlength=labels.size)
        for c in range(4):
            mine = drawn[labels == c]
            assert mine.max() - mine.min() <= 1
    np.testing.assert_array_equal(
        make().batches(5, replicas - 1, 20, 30), plan.batches(5, replicas - 1)[20:30]
    )


@pytest.mark.parametrize("kind", ["Fixed", "quota ", "", 3])
def test_an_unknown_kind_is_refused_by_name(kind: Any) -> None:
    """A misspelt kind is an InvalidArgumentError naming `kind`, never another kind."""
    target = explicit(np.full(K, 1.0))
    with pytest.raises(InvalidArgumentError, match=r"^`kind` must be one of"):
        Plan(ClassIndex.from_labels(LABELS), kind, target, 4, 3, 0)
