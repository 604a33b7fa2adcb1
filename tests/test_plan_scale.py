"""Scale and fast-path tests of :mod:`refsampler.plan` (and the label grouping of
:mod:`refsampler.classes` it stands on).

They pin the contract on the code paths that exist for speed and size: the member streams'
blocks of rounds (many blocks per chunk, a couple, one), chunks of a few batches, the sliced
stable grouping of labels, narrow position storage, stream positions beyond 32 bits and
datasets beyond 2**24 samples. These are exact checks; the alias table and the random kind's
member draws are tested in ``tests/kinds/test_random.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import refsampler.classes as classes_module
from refsampler.allocation import quota_schedule
from refsampler.classes import ClassIndex
from refsampler.plan import Plan
from refsampler.targets import explicit, interpolate

IntArray = npt.NDArray[np.int64]

#: Long-tailed: 9 classes, 1 to 400 members, shuffled (1,000 samples).
SIZES = np.array([400, 250, 150, 90, 50, 30, 17, 12, 1])
LABELS = np.random.default_rng(5).permutation(np.repeat(np.arange(SIZES.size), SIZES))
K = SIZES.size


def _plan(
    kind: str,
    *,
    num_replicas: int = 1,
    n_batches: int = 30,
    batch_size: int = 16,
    alpha: float = 1.0,
    chunk_draws: int = 80,
    block_draws: int = 4096,
) -> Plan:
    """A Plan over LABELS with target ``interpolate(counts, alpha)`` (uniform by default) and
    chunks of 5 batches, so that chunk boundaries fall everywhere."""
    index = ClassIndex.from_labels(LABELS)
    p = interpolate(index.counts, alpha)
    return Plan(
        index,
        kind,
        p,
        batch_size,
        n_batches,
        11,
        num_replicas,
        chunk_draws=chunk_draws,
        block_draws=block_draws,
    )


def _class_counts(batches: IntArray) -> IntArray:
    return np.stack([np.bincount(LABELS[row], minlength=K) for row in batches])


#: Block sizes that send classes down each path of the member streams: many blocks per chunk
#: (a block is smaller than one batch's draws), a few, and one block for the whole run.
BLOCKS = pytest.mark.parametrize("block_draws", [4, 64, 4096], ids=["many", "few", "one"])


@BLOCKS
@pytest.mark.parametrize(
    ("kind", "alpha"), [("fixed", 1.0), ("quota", 1.0), ("quota", 0.3), ("quota", 0.0)]
)
@pytest.mark.parametrize("num_replicas", [1, 3])
def test_counts_and_cycle_coverage_on_every_block_path(
    block_draws: int, kind: str, alpha: float, num_replicas: int
) -> None:
    """Per-batch counts match count_rows, and over epochs 0..2 and all ranks each member of a
    class is drawn floor(D/n_c) or ceil(D/n_c) times, D the class's planned draws, whatever
    the block size. alpha < 1 mixes classes with a floor of 0 (quota extras only) and classes
    with a positive floor."""
    plan = _plan(kind, num_replicas=num_replicas, alpha=alpha, block_draws=block_draws)
    drawn = []
    total = np.zeros(K, dtype=np.int64)
    for epoch in range(3):
        for rank in range(num_replicas):
            batches = plan.batches(epoch, rank)
            rows = plan.count_rows(epoch, rank)
            np.testing.assert_array_equal(_class_counts(batches), rows)
            total += rows.sum(axis=0)
            drawn.append(batches.ravel())
    hits = np.bincount(np.concatenate(drawn), minlength=LABELS.size)
    lo, hi = total // SIZES, -(-total // SIZES)
    assert ((hits >= lo[LABELS]) & (hits <= hi[LABELS])).all()


@BLOCKS
@pytest.mark.parametrize("kind", ["fixed", "quota"])
def test_ranks_split_each_cycle_disjointly(block_draws: int, kind: str) -> None:
    """Walking a class stream in global slot order (step by step, rank by rank), after every
    rank's share each member has been drawn floor(D/n_c) or ceil(D/n_c) times, D the draws so
    far: within one cycle no member goes to two ranks."""
    replicas = 3
    plan = _plan(kind, num_replicas=replicas, n_batches=40, block_draws=block_draws)
    per_rank = [plan.batches(0, r) for r in range(replicas)]
    for c in range(K):
        members = np.flatnonzero(LABELS == c)
        hits = np.zeros(LABELS.size, dtype=np.int64)
        drawn = 0
        for step in range(plan.n_batches):
            for r in range(replicas):
                row = per_rank[r][step]
                mine = row[LABELS[row] == c]
                np.add.at(hits, mine, 1)
                drawn += mine.size
                lo, hi = drawn // members.size, -(-drawn // members.size)
                assert ((hits[members] >= lo) & (hits[members] <= hi)).all()


@BLOCKS
@pytest.mark.parametrize("kind", ["fixed", "quota", "random", "pk"])
def test_chunks_do_not_depend_on_access_order(block_draws: int, kind: str) -> None:
    """Chunk j is the same computed first, last, twice, or by a fresh Plan: the caches only
    remember."""
    extra: dict[str, Any] = {"alpha": 1.0}
    if kind == "pk":  # uniform over 9 classes, 4 per batch of 16; class 8 has 1 member
        index = ClassIndex.from_labels(LABELS)
        target = explicit(np.where(SIZES >= 4, 1.0, 0.0))

        def make() -> Plan:
            return Plan(
                index, "pk", target, 16, 30, 11, 2, {"samples_per_class": 4},
                chunk_draws=80, block_draws=block_draws,
            )
    else:

        def make() -> Plan:
            return _plan(kind, num_replicas=2, block_draws=block_draws, **extra)

    forward = make()
    expected = {
        (e, r, j): forward.chunk(e, r, j)
        for e in range(2)
        for r in range(2)
        for j in range(forward.n_chunks)
    }
    shuffled = make()
    cache = shuffled.new_cache()
    order = list(expected)
    for i in np.random.default_rng(0).permutation(len(order)).tolist():
        e, r, j = order[i]
        np.testing.assert_array_equal(shuffled.chunk(e, r, j, cache), expected[e, r, j])
    e, r, j = order[-1]
    np.testing.assert_array_equal(shuffled.chunk(e, r, j), expected[e, r, j])


def test_quota_rows_match_the_schedule() -> None:
    """The quota Plan's counts equal quota_schedule with its seed, from any start."""
    index = ClassIndex.from_labels(LABELS)
    p = interpolate(index.counts, 0.7)
    plan = Plan(index, "quota", p, 16, 50, 0)
    full = quota_schedule(p, 16, 100, seed=0)
    np.testing.assert_array_equal(plan.count_rows(0, 0, 0, 50), full[:50])
    np.testing.assert_array_equal(plan.count_rows(0, 0, 17, 31), full[17:31])
    np.testing.assert_array_equal(plan.count_rows(1, 0, 23, 50), full[73:])


# -- class index at scale ------------------------------------------------------------------------


def test_sliced_grouping_equals_a_stable_argsort(monkeypatch: pytest.MonkeyPatch) -> None:
    """Grouping labels slice by slice gives exactly numpy's stable argsort."""
    monkeypatch.setattr(classes_module, "_SORT_SLICE", 97)
    labels = np.random.default_rng(2).integers(0, 300, size=5000)
    index = ClassIndex.from_labels(labels)
    assert index.positions.tolist() == np.argsort(labels, kind="stable").tolist()
    assert index.positions.dtype == np.uint32


def test_from_labels_does_not_copy_or_touch_valid_arrays() -> None:
    """A valid integer array is left unchanged and writeable, and indexes like its int64 copy."""
    labels = np.random.default_rng(3).integers(0, 7, size=1000).astype(np.uint16)
    before = labels.copy()
    index = ClassIndex.from_labels(labels)
    assert (labels == before).all() and labels.flags.writeable
    assert index.digest() == ClassIndex.from_labels(labels.astype(np.int64)).digest()


def test_stream_positions_beyond_32_bits() -> None:
    """Late epochs of a long run: member stream positions past 2**34 keep the counts and the
    membership exact, and draw distinct members in every batch (every count <= n_c here)."""
    index = ClassIndex.from_labels(LABELS)
    p = explicit(np.where(SIZES >= 2, 1.0, 0.0))
    n = 2**30
    for kind in ("fixed", "quota"):
        plan = Plan(index, kind, p, 16, n, 1, num_replicas=4)
        epoch = 3
        entries = plan.entries(epoch, 3, n - 3, n)
        assert int(entries.start.max()) > 2**34
        last = plan.batches(epoch, 3, n - 3, n)
        rows = plan.count_rows(epoch, 3, n - 3, n)
        assert np.all(rows <= SIZES)
        np.testing.assert_array_equal(_class_counts(last), rows)
        assert all(np.unique(row).size == 16 for row in last)
        # Consecutive batches take consecutive runs of each class stream: within one cycle
        # (class 0's 400 members) the three batches' members are all distinct.
        both = last.ravel()
        zero = both[LABELS[both] == 0]
        assert np.unique(zero).size == zero.size


def test_labels_longer_than_2_to_the_24() -> None:
    """2**24 + 3 labels (WeightedRandomSampler's limit is 2**24): positions past 2**24 are
    stored as uint32, drawn, and belong to their class, for every kind."""
    n = 2**24 + 3
    labels = np.zeros(n, dtype=np.uint8)
    labels[-3:] = [1, 2, 1]
    labels[-6:-3] = [3, 3, 2]
    index = ClassIndex.from_labels(labels)
    assert index.positions.dtype == np.uint32
    assert index.members(1).tolist() == [n - 3, n - 1]
    assert index.members(2).tolist() == [n - 4, n - 2]
    # The 2**24-member class 0 only for the random kind: a counted kind shuffles a whole
    # cycle of it, which is correct but costs seconds.
    cases: list[tuple[str, npt.NDArray[np.float64], dict[str, int] | None]]
    cases = [("random", explicit([0.5, 0.25, 0.25, 0.0]), None)]
    cases += [(kind, explicit([0.0, 1.0, 1.0, 1.0]), None) for kind in ("fixed", "quota")]
    cases += [("pk", explicit([0.0, 1.0, 1.0, 1.0]), {"samples_per_class": 2})]
    for kind, p, options in cases:
        plan = Plan(index, kind, p, 6 if kind == "pk" else 256, 8, 0, 1, options)
        batch = plan.batches(0, 0, 0, 4)
        assert batch.max() < n and batch.min() >= 0
        for c in (1, 2, 3):
            expected = set(index.members(c).tolist()) if p[c] > 0 else set()
            assert set(batch[labels[batch] == c].tolist()) == expected


@pytest.mark.slow
def test_large_random_and_quota_epoch() -> None:
    """3e7 labels, 2,000 classes: one full quota epoch and random chunks hold the contract
    (counts per batch, positions in their classes); a scale smoke test."""
    rng = np.random.default_rng(9)
    k, n = 2000, 30_000_000
    labels = rng.integers(0, k, size=n).astype(np.uint16)
    index = ClassIndex.from_labels(labels)
    p = interpolate(index.counts, 1.0)
    quota = Plan(index, "quota", p, 256, 2000, 0)
    batches = quota.batches(0, 0)
    counts = np.stack([np.bincount(labels[row], minlength=k) for row in batches])
    assert (counts == quota.count_rows(0, 0)).all()
    random = Plan(index, "random", p, 4096, 10_000, 0)
    last = random.batches(5, 0, 9_990, 10_000)
    assert last.max() < n and last.min() >= 0


@pytest.mark.parametrize("kind", ["fixed", "quota"])
@pytest.mark.parametrize(
    ("labels", "batch_size"),
    [([0], 2), ([0, 0, 0], 4), ([0, 1], 8), ([1, 0, 0, 2], 16)],
)
@pytest.mark.parametrize("block_draws", [1, 4096])
def test_tiny_classes_drawn_many_times_per_batch(
    kind: str, labels: list[int], batch_size: int, block_draws: int
) -> None:
    """A class drawn more often per batch than it has members (so more than its whole block)
    cycles through its members: every member floor(D/n_c) or ceil(D/n_c) times."""
    array = np.array(labels)
    index = ClassIndex.from_labels(array)
    p = interpolate(index.counts, 1.0)
    plan = Plan(index, kind, p, batch_size, 5, 0, block_draws=block_draws)
    drawn = np.concatenate([plan.batches(epoch, 0).ravel() for epoch in range(3)])
    total = sum(plan.count_rows(epoch, 0).sum(axis=0) for epoch in range(3))
    hits = np.bincount(drawn, minlength=array.size)
    sizes = index.counts
    assert ((hits >= (total // sizes)[array]) & (hits <= (-(-total // sizes))[array])).all()
