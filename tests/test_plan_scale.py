"""Scale and fast-path tests of :mod:`refsampler.plan` and :mod:`refsampler.classes`.

They pin the contract on the code paths that exist for speed and size: the alias table, the
exact member draw, the memo of cycle blocks (one block, two blocks and many blocks per chunk),
the sliced stable grouping of labels, narrow position storage, and stream positions beyond
32 bits. Statistical shares are tested elsewhere (property_tests); these are exact checks.
"""

from __future__ import annotations

import numpy as np
import pytest

import refsampler.classes as classes_module
import refsampler.plan as plan_module
from refsampler.allocation import quota_rows, quota_schedule
from refsampler.classes import ClassIndex
from refsampler.plan import Plan, alias_table
from refsampler.targets import explicit, interpolate

#: Long-tailed: 9 classes, 1 to 400 members, shuffled (1,000 samples).
SIZES = np.array([400, 250, 150, 90, 50, 30, 17, 12, 1])
LABELS = np.random.default_rng(5).permutation(np.repeat(np.arange(SIZES.size), SIZES))


def _plan(
    kind: str,
    *,
    num_replicas: int = 1,
    n_batches: int = 30,
    batch_size: int = 16,
    alpha: float = 1.0,
) -> Plan:
    """A Plan over LABELS with target ``interpolate(counts, alpha)`` (uniform by default)."""
    index = ClassIndex.from_labels(LABELS)
    p = interpolate(index.counts, alpha)
    return Plan(index, kind, p, batch_size, n_batches, 11, num_replicas)


@pytest.fixture(params=[4, 64, 4096], ids=["many-blocks", "two-blocks", "one-block"])
def block_draws(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Block sizes that send classes down each memo path (walk alone, rounds, one gather),
    with chunks of 5 batches so that chunk boundaries fall everywhere."""
    monkeypatch.setattr(plan_module, "BLOCK_DRAWS", request.param)
    monkeypatch.setattr(plan_module, "CHUNK_DRAWS", 80)
    return int(request.param)


# -- alias table -----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3, 10, 257, 5000])
def test_alias_table_implies_the_target(k: int) -> None:
    """The alias table's implied shares equal the target within its documented bound."""
    rng = np.random.default_rng(k)
    target = rng.dirichlet(np.full(k, 0.3))
    target[rng.random(k) < 0.3] = 0.0
    if not target.any():
        target[0] = 1.0
    target = explicit(target)
    prob, alias = alias_table(target)
    implied = prob.copy()
    np.add.at(implied, alias, 1.0 - prob)
    implied /= k
    assert np.abs(implied - target).max() <= k * 2.0**-52 * target.max() + 1e-15


def test_alias_table_never_reaches_a_zero_share_class() -> None:
    """A zero-share class has probability 0 in its own column and is nobody's alias."""
    target = explicit([0.0, 0.5, 0.0, 0.25, 0.25, 0.0])
    prob, alias = alias_table(target)
    zero = np.flatnonzero(target == 0)
    assert (prob[zero] == 0).all()
    reachable = np.union1d(np.flatnonzero(prob > 0), alias[prob < 1])
    assert not np.isin(zero, reachable).any()


def test_random_kind_draws_only_positive_classes_and_valid_members() -> None:
    """Random draws land on members of positive-share classes only, every position valid."""
    index = ClassIndex.from_labels(LABELS)
    target = explicit(np.where(np.arange(SIZES.size) % 2 == 0, 1.0, 0.0))
    plan = Plan(index, "random", target, 64, 200, 3)
    drawn = plan.batches(0, 0)
    assert drawn.dtype == np.int64
    assert drawn.min() >= 0 and drawn.max() < LABELS.size
    assert set(np.unique(LABELS[drawn]).tolist()) <= {0, 2, 4, 6, 8}


def test_random_kind_reaches_every_member() -> None:
    """Over enough draws every member of every positive class is drawn (no member is lost
    by the multiply-shift mapping), including the one-member class."""
    plan = _plan("random", n_batches=2000, batch_size=64)
    drawn = np.unique(plan.batches(0, 0))
    assert drawn.tolist() == list(range(LABELS.size))


def test_random_kind_with_huge_class_uses_exact_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Classes too big for 32-bit multiply-shift fall back to Generator.integers, same contract."""
    monkeypatch.setattr(plan_module, "_LEMIRE_LIMIT", 64)
    plan = _plan("random", n_batches=200)
    assert not plan._lemire_ok
    drawn = plan.batches(0, 0)
    assert drawn.min() >= 0 and drawn.max() < LABELS.size


# -- memo of cycle blocks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "alpha"), [("fixed", 1.0), ("quota", 1.0), ("quota", 0.3), ("quota", 0.0)]
)
@pytest.mark.parametrize("num_replicas", [1, 3])
def test_counts_and_cycle_coverage_on_every_memo_path(
    block_draws: int, kind: str, alpha: float, num_replicas: int
) -> None:
    """Per-batch counts match counts_rows, and over epochs 0..2 and all ranks each member of
    a class is drawn floor(D/n_c) or ceil(D/n_c) times, whatever the memo path. alpha < 1
    mixes classes with a floor of 0 (quota extras only) and classes with a positive floor."""
    plan = _plan(kind, num_replicas=num_replicas, alpha=alpha)
    k = SIZES.size
    drawn = []
    for epoch in range(3):
        for rank in range(num_replicas):
            batches = plan.batches(epoch, rank)
            counts = np.stack([np.bincount(LABELS[row], minlength=k) for row in batches])
            assert (counts == plan.counts_rows(0, plan.n_batches)).all()
            drawn.append(batches.ravel())
    hits = np.bincount(np.concatenate(drawn), minlength=LABELS.size)
    total = plan.epoch_draws * num_replicas * 3
    sizes = np.bincount(LABELS, minlength=k)
    lo, hi = total // sizes, -(-total // sizes)
    assert ((hits >= lo[LABELS]) & (hits <= hi[LABELS])).all()


@pytest.mark.parametrize("kind", ["fixed", "quota"])
def test_ranks_split_each_cycle_disjointly(block_draws: int, kind: str) -> None:
    """Within one cycle of a class, no member goes to two ranks: walking the class stream in
    order (step by step, rank by rank), after every rank's share each member has been drawn
    floor(D/n_c) or ceil(D/n_c) times, D the draws so far."""
    replicas = 3
    plan = _plan(kind, num_replicas=replicas, n_batches=40)
    per_rank = [plan.batches(0, r) for r in range(replicas)]
    for c in range(SIZES.size):
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


@pytest.mark.parametrize("kind", ["fixed", "quota", "random"])
def test_chunks_do_not_depend_on_access_order(block_draws: int, kind: str) -> None:
    """Chunk j is the same computed first, last, twice, or by a fresh Plan: the memo is only
    a cache."""
    forward = _plan(kind, num_replicas=2)
    expected = [
        [forward.chunk(e, r, j) for j in range(forward.n_chunks)]
        for e in range(2)
        for r in range(2)
    ]
    shuffled = _plan(kind, num_replicas=2)
    order = [(e, r, j) for e in range(2) for r in range(2) for j in range(shuffled.n_chunks)]
    for i in np.random.default_rng(0).permutation(len(order)).tolist():
        e, r, j = order[i]
        assert (shuffled.chunk(e, r, j) == expected[e * 2 + r][j]).all()


def test_quota_rows_match_the_stored_schedule() -> None:
    """The quota Plan's counts equal quota_schedule, and quota_rows continues it from any
    running totals."""
    index = ClassIndex.from_labels(LABELS)
    p = interpolate(index.counts, 0.7)
    plan = Plan(index, "quota", p, 16, 50, 0)
    full = quota_schedule(p, 16, 50)
    assert (plan.counts_rows(0, 50) == full).all()
    assert (plan.counts_rows(17, 31) == full[17:31]).all()
    before = full[:23].sum(axis=0)
    assert (quota_rows(p, 16, 23, 50, before) == full[23:]).all()


# -- class index at scale ------------------------------------------------------------------------


def test_sliced_grouping_equals_a_stable_argsort(monkeypatch: pytest.MonkeyPatch) -> None:
    """Grouping labels slice by slice gives exactly numpy's stable argsort."""
    monkeypatch.setattr(classes_module, "_SORT_SLICE", 97)
    labels = np.random.default_rng(2).integers(0, 300, size=5000)
    index = ClassIndex.from_labels(labels)
    assert index.positions.tolist() == np.argsort(labels, kind="stable").tolist()
    assert index.positions.dtype == np.uint32


def test_from_labels_does_not_copy_or_touch_valid_arrays() -> None:
    """A valid integer array is read in place (no int64 copy) and left unchanged."""
    labels = np.random.default_rng(3).integers(0, 7, size=1000).astype(np.uint16)
    before = labels.copy()
    index = ClassIndex.from_labels(labels)
    assert (labels == before).all() and labels.flags.writeable
    assert index.digest() == ClassIndex.from_labels(labels.astype(np.int64)).digest()


def test_stream_positions_beyond_32_bits() -> None:
    """More than 2**31 summed draws: late epochs of a long fixed epoch keep counts and
    membership exact (stream positions are int64 throughout)."""
    index = ClassIndex.from_labels(LABELS)
    p = interpolate(index.counts, 1.0)
    plan = Plan(index, "fixed", p, 256, 2**24, 1, num_replicas=4)
    epoch = 3  # stream positions near 3 * 4 * 2**24 * 256 = 2**36
    assert int(plan.epoch_draws.sum()) * 4 * epoch > 2**31
    last = plan.batches(epoch, 3, 2**24 - 2, 2**24)
    counts = np.stack([np.bincount(LABELS[row], minlength=SIZES.size) for row in last])
    assert (counts == plan.counts_rows(0, 2)).all()


def test_labels_longer_than_2_to_the_24() -> None:
    """2**24 + 3 labels (WeightedRandomSampler's limit is 2**24): positions past 2**24 are
    drawn and belong to their class, for the random and fixed kinds."""
    n = 2**24 + 3
    labels = np.zeros(n, dtype=np.uint8)
    labels[-3:] = [1, 2, 1]
    index = ClassIndex.from_labels(labels)
    assert index.positions.dtype == np.uint32
    assert index.members(1).tolist() == [n - 3, n - 1]
    p = explicit([0.5, 0.25, 0.25])
    for kind in ("random", "fixed"):
        plan = Plan(index, kind, p, 256, 8, 0)
        batch = plan.batches(0, 0, 0, 4)
        assert batch.max() < n
        assert set(batch[labels[batch] == 2].tolist()) == {n - 2}


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
    assert (counts == quota.counts_rows(0, 2000)).all()
    random = Plan(index, "random", p, 4096, 10_000, 0)
    last = random.batches(5, 0, 9_990, 10_000)
    assert last.max() < n and last.min() >= 0


@pytest.mark.parametrize("kind", ["fixed", "quota"])
@pytest.mark.parametrize(
    ("labels", "batch_size"),
    [([0], 2), ([0, 0, 0], 4), ([0, 1], 8), ([1, 0, 0, 2], 16)],
)
def test_tiny_classes_drawn_many_times_per_batch(
    kind: str, labels: list[int], batch_size: int
) -> None:
    """A class drawn more often per batch than it has members (so more than its whole memo
    block) cycles through its members: every member floor(D/n_c) or ceil(D/n_c) times."""
    array = np.array(labels)
    index = ClassIndex.from_labels(array)
    p = interpolate(index.counts, 1.0)
    plan = Plan(index, kind, p, batch_size, 5, 0)
    drawn = np.concatenate([plan.batches(epoch, 0).ravel() for epoch in range(3)])
    hits = np.bincount(drawn, minlength=array.size)
    total = plan.epoch_draws * 3
    sizes = index.counts
    assert ((hits >= (total // sizes)[array]) & (hits <= (-(-total // sizes))[array])).all()
