"""Tests of :mod:`refsampler.plan`: batch ``k`` of epoch ``e`` on rank ``r`` as a pure function."""

from __future__ import annotations

import numpy as np
import pytest

import refsampler.plan as plan_module
from refsampler.allocation import allocate, quota_schedule
from refsampler.classes import ClassIndex
from refsampler.plan import Plan
from refsampler.targets import explicit, interpolate

KINDS = ("fixed", "quota", "random")
#: 5 classes with counts 37/7/15/2/5 in shuffled order (66 samples).
LABELS = np.random.default_rng(20240601).permutation(np.repeat(np.arange(5), [37, 7, 15, 2, 5]))


def _plan(
    kind: str,
    *,
    labels: np.ndarray = LABELS,
    alpha: float = 0.5,
    target: np.ndarray | None = None,
    batch_size: int = 8,
    n_batches: int = 40,
    seed: int = 7,
    num_replicas: int = 1,
) -> Plan:
    """A Plan over ``labels`` (targets from alpha unless given)."""
    index = ClassIndex.from_labels(labels)
    p = interpolate(index.counts, alpha) if target is None else target
    return Plan(index, kind, p, batch_size, n_batches, seed, num_replicas)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 3 batches of 8, so that ranges cross many chunk boundaries."""
    monkeypatch.setattr(plan_module, "CHUNK_DRAWS", 24)


def _batch_counts(batches: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per-batch class counts, shape (n_batches, K)."""
    ys = labels[batches]
    return np.stack([np.bincount(row, minlength=k) for row in ys])


def _cumulative_member_counts(batches: np.ndarray, members: np.ndarray) -> np.ndarray:
    """After each batch, how often each member of a class has been drawn: (n_batches, n_c)."""
    ordinal = np.full(int(max(batches.max(), members.max())) + 1, -1)
    ordinal[members] = np.arange(members.size)
    hits = ordinal[batches]
    per_batch = np.zeros((batches.shape[0], members.size), dtype=np.int64)
    rows, _ = np.nonzero(hits >= 0)
    np.add.at(per_batch, (rows, hits[hits >= 0]), 1)
    return np.cumsum(per_batch, axis=0)


def _assert_cycle_balance(batches: np.ndarray, members: np.ndarray) -> None:
    """After every batch, each member was drawn floor(D/n_c) or ceil(D/n_c) times (DESIGN 2)."""
    cumulative = _cumulative_member_counts(batches, members)
    draws = cumulative.sum(axis=1, keepdims=True)
    n_c = members.size
    assert np.all(cumulative >= draws // n_c)
    assert np.all(cumulative <= -(-draws // n_c))


# -- geometry and slicing ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_batches_shape_dtype_and_range(kind: str) -> None:
    """batches() returns (n_batches, B) int64 positions, all valid dataset positions."""
    batches = _plan(kind).batches(0, 0)
    assert batches.shape == (40, 8)
    assert batches.dtype == np.int64
    assert batches.min() >= 0
    assert batches.max() < LABELS.size


@pytest.mark.usefixtures("small_chunks")
def test_chunk_geometry_follows_chunk_draws() -> None:
    """chunk_batches = CHUNK_DRAWS // B (at least 1); n_chunks = ceil(n_batches / chunk)."""
    plan = _plan("fixed", n_batches=40)
    assert plan.chunk_batches == 3
    assert plan.n_chunks == 14
    huge = _plan("fixed", batch_size=100, n_batches=5)
    assert huge.chunk_batches == 1
    assert huge.n_chunks == 5


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("start", "stop"), [(0, 40), (0, 1), (2, 4), (3, 6), (5, 5), (6, 6), (7, 38), (39, 40)]
)
def test_batch_range_equals_slice(kind: str, start: int, stop: int) -> None:
    """batches(e, r, start, stop) equals batches(e, r)[start:stop], across chunk boundaries."""
    plan = _plan(kind)
    full = plan.batches(1, 0)
    part = _plan(kind).batches(1, 0, start, stop)
    assert part.shape == (stop - start, 8)
    np.testing.assert_array_equal(part, full[start:stop])


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("kind", KINDS)
def test_chunks_concatenate_to_batches(kind: str) -> None:
    """chunk(e, r, j) for j = 0..n_chunks-1 concatenate to batches(); the last may be short."""
    plan = _plan(kind, n_batches=40)
    chunks = [plan.chunk(2, 0, j) for j in range(plan.n_chunks)]
    assert [c.shape[0] for c in chunks] == [3] * 13 + [1]
    np.testing.assert_array_equal(np.concatenate(chunks), _plan(kind).batches(2, 0))


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("kind", KINDS)
def test_batches_independent_of_call_order(kind: str) -> None:
    """Computing later chunks first (memo of cycle blocks) changes no result."""
    forward = _plan(kind).batches(0, 0)
    plan = _plan(kind)
    backward = np.concatenate([plan.batches(0, 0, k, k + 1) for k in reversed(range(40))][::-1])
    np.testing.assert_array_equal(backward, forward)


@pytest.mark.parametrize("kind", ("fixed", "quota"))
def test_batch_contents_independent_of_chunk_size(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunking only moves the within-batch shuffle: each batch's multiset of positions is the
    same for any CHUNK_DRAWS (cycles are keyed by stream position, not by chunk)."""
    reference = np.sort(_plan(kind).batches(3, 0), axis=1)
    for chunk_draws in (8, 24, 40, 1000):
        monkeypatch.setattr(plan_module, "CHUNK_DRAWS", chunk_draws)
        np.testing.assert_array_equal(np.sort(_plan(kind).batches(3, 0), axis=1), reference)


@pytest.mark.parametrize("kind", KINDS)
def test_batches_rejects_out_of_range(kind: str) -> None:
    """A batch range outside 0..n_batches is a ValueError (an internal caller bug)."""
    plan = _plan(kind)
    with pytest.raises(ValueError, match=r"^batch range 5\.\.41 outside 0\.\.40$"):
        plan.batches(0, 0, 5, 41)
    with pytest.raises(ValueError, match=r"^batch range 6\.\.5 outside 0\.\.40$"):
        plan.batches(0, 0, 6, 5)


# -- counts ------------------------------------------------------------------------------------


def test_counts_rows_fixed_equals_allocate() -> None:
    """Fixed kind: every row of counts_rows is allocate(target, B)."""
    plan = _plan("fixed")
    expected = allocate(plan.target, 8)
    rows = plan.counts_rows(0, 40)
    assert rows.shape == (40, 5)
    assert np.all(rows == expected)
    np.testing.assert_array_equal(plan.counts_rows(7, 9), [expected, expected])


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize(("start", "stop"), [(0, 40), (0, 3), (4, 17), (39, 40), (12, 12)])
def test_counts_rows_quota_equals_quota_schedule(start: int, stop: int) -> None:
    """Quota kind: counts_rows(start, stop) is that slice of quota_schedule, from checkpoints."""
    plan = _plan("quota")
    expected = quota_schedule(plan.target, 8, 40)[start:stop]
    np.testing.assert_array_equal(plan.counts_rows(start, stop), expected)


def test_counts_rows_random_is_an_error() -> None:
    """The random kind has no fixed counts."""
    with pytest.raises(ValueError, match=r"^kind 'random' has no fixed counts$"):
        _plan("random").counts_rows(0, 1)


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("kind", ("fixed", "quota"))
@pytest.mark.parametrize("epoch", [0, 3])
def test_every_batch_has_the_planned_class_counts(kind: str, epoch: int) -> None:
    """Each batch's class counts (via the labels) equal counts_rows."""
    plan = _plan(kind)
    batches = plan.batches(epoch, 0)
    np.testing.assert_array_equal(_batch_counts(batches, LABELS, 5), plan.counts_rows(0, 40))


@pytest.mark.parametrize("kind", ("fixed", "quota"))
def test_epoch_draws(kind: str) -> None:
    """epoch_draws is the per-class total of one epoch on one rank."""
    plan = _plan(kind)
    np.testing.assert_array_equal(plan.epoch_draws, plan.counts_rows(0, 40).sum(axis=0))


def test_epoch_draws_random_is_zero() -> None:
    """The random kind uses no cycles, so it advances no class stream."""
    assert _plan("random").epoch_draws.tolist() == [0] * 5


# -- within-class cycles -----------------------------------------------------------------------


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("kind", ("fixed", "quota"))
def test_cycles_balance_members_within_an_epoch(kind: str) -> None:
    """After every batch, each member of class c was drawn floor(D/n_c) or ceil(D/n_c) times;
    in particular over ceil(n_c / a_c) batches every member appears."""
    plan = _plan(kind, n_batches=60)
    batches = plan.batches(0, 0)
    index = plan.index
    for c in range(index.num_classes):
        _assert_cycle_balance(batches, index.members(c))
    fixed = allocate(plan.target, 8)
    for c in range(index.num_classes):
        span = -(-int(index.counts[c]) // int(fixed[c]))
        if kind == "fixed":
            seen = np.isin(index.members(c), batches[:span])
            assert seen.all(), f"class {c}: not every member within {span} batches"


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("kind", ("fixed", "quota"))
def test_cycles_continue_across_epochs(kind: str) -> None:
    """Epochs 0, 1, 2 in sequence keep the floor/ceil balance: cycles do not restart."""
    plan = _plan(kind, n_batches=7)
    batches = np.concatenate([plan.batches(e, 0) for e in range(3)])
    for c in range(plan.index.num_classes):
        _assert_cycle_balance(batches, plan.index.members(c))


def test_cycles_cross_block_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """With tiny cycle blocks (several generators per class), balance still holds."""
    monkeypatch.setattr(plan_module, "BLOCK_DRAWS", 5)
    monkeypatch.setattr(plan_module, "CHUNK_DRAWS", 16)
    plan = _plan("quota", n_batches=50)
    batches = plan.batches(0, 0)
    for c in range(plan.index.num_classes):
        _assert_cycle_balance(batches, plan.index.members(c))


def test_small_class_many_cycles_per_block() -> None:
    """A class of 2 members drawn thousands of times (many cycles per block, several blocks)
    alternates perfectly: after every batch both members are within one draw of each other."""
    labels = np.array([0] * 2 + [1] * 50)
    plan = _plan("fixed", labels=labels, target=np.array([0.5, 0.5]), batch_size=2, n_batches=5000)
    batches = plan.batches(0, 0)
    _assert_cycle_balance(batches, plan.index.members(0))
    _assert_cycle_balance(batches, plan.index.members(1))


def test_each_cycle_is_a_fresh_permutation() -> None:
    """With one draw of a class per batch, consecutive cycles are permutations of the class,
    and not the same permutation repeated (the original never reshuffled on wrap-around)."""
    labels = np.array([0] * 20 + [1] * 20)
    plan = _plan("fixed", labels=labels, target=np.array([0.5, 0.5]), batch_size=2, n_batches=60)
    batches = plan.batches(0, 0)
    stream = batches[np.isin(batches, plan.index.members(1))]
    assert stream.size == 60
    cycles = stream.reshape(3, 20)
    for cycle in cycles:
        assert sorted(cycle.tolist()) == list(range(20, 40))
    assert not np.array_equal(cycles[0], cycles[1])
    assert not np.array_equal(cycles[1], cycles[2])


@pytest.mark.parametrize("kind", ("fixed", "quota"))
def test_replicas_split_cycles_disjointly(kind: str) -> None:
    """With 2 replicas, rank 0 and rank 1 interleave one class stream: the union of their first
    k batches is balanced floor/ceil, so no cycle member goes to both ranks."""
    plan = _plan(kind, n_batches=30, num_replicas=2)
    rank0, rank1 = plan.batches(0, 0), plan.batches(0, 1)
    union = np.stack([rank0, rank1], axis=1).reshape(60, 8)  # step k: rank 0 then rank 1
    for c in range(plan.index.num_classes):
        _assert_cycle_balance(union, plan.index.members(c))
    assert not np.array_equal(rank0, rank1)


# -- determinism -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_batches_are_a_pure_function_of_coordinates(kind: str) -> None:
    """Two plans of the same configuration give identical batches for the same coordinates."""
    np.testing.assert_array_equal(_plan(kind).batches(4, 0), _plan(kind).batches(4, 0))


@pytest.mark.parametrize("kind", KINDS)
def test_batches_depend_on_epoch_rank_and_seed(kind: str) -> None:
    """Changing the epoch, the rank or the seed changes the batches."""
    base = _plan(kind, num_replicas=2).batches(0, 0)
    assert not np.array_equal(base, _plan(kind, num_replicas=2).batches(1, 0))
    assert not np.array_equal(base, _plan(kind, num_replicas=2).batches(0, 1))
    assert not np.array_equal(base, _plan(kind, num_replicas=2, seed=8).batches(0, 0))


def test_within_batch_order_is_shuffled() -> None:
    """Batches are not grouped by class: some batch has its classes out of sorted order."""
    plan = _plan("fixed")
    ys = LABELS[plan.batches(0, 0)]
    assert np.any(np.diff(ys, axis=1) < 0)


# -- random kind -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [[0.5, 0.0, 0.2, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]],
    ids=["middle-zero", "last-zero", "single"],
)
def test_random_never_draws_a_zero_target_class(target: list[float]) -> None:
    """Classes with p_c = 0 never appear, wherever they sit in the CDF."""
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
    assert set(np.unique(batches).tolist()) <= {100, 7, 55, 3, 1000, 2000}


def test_counted_positions_come_from_the_index() -> None:
    """Fixed and quota draws hit only indexed positions, each class from its own list."""
    class_idxs = [[100, 7, 55], [3], [1000, 2000]]
    index = ClassIndex.from_class_indices(class_idxs)
    for kind in ("fixed", "quota"):
        plan = Plan(index, kind, interpolate(index.counts, 1.0), 6, 10, 3)
        batches = plan.batches(0, 0)
        rows = plan.counts_rows(0, 10)
        for c, idxs in enumerate(class_idxs):
            np.testing.assert_array_equal(np.isin(batches, idxs).sum(axis=1), rows[:, c])
