"""Tests of :mod:`refsampler.classes`: class counts and the immutable ClassIndex."""

from __future__ import annotations

import copy
import pickle
import re
import tracemalloc
from typing import Any

import numpy as np
import pytest
import torch

from refsampler.classes import ClassIndex, class_counts, max_classes, subset_labels
from refsampler.errors import InvalidArgumentError
from tests._assertions import raises_exactly

LABELS = [2, 0, 2, 1, 0, 2, 2, 1]


# -- class_counts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels",
    [LABELS, tuple(LABELS), np.array(LABELS, dtype=np.uint8), torch.tensor(LABELS)],
    ids=["list", "tuple", "uint8", "tensor"],
)
def test_class_counts_is_a_bincount(labels: Any) -> None:
    """Counts of each class 0..K-1 with K = max + 1, as int64, for any container."""
    counts = class_counts(labels)
    assert counts.dtype == np.int64
    assert counts.tolist() == [2, 2, 4]


def test_class_counts_num_classes_pads_absent_classes() -> None:
    """num_classes adds trailing empty classes."""
    assert class_counts([0, 1], num_classes=4).tolist() == [1, 1, 0, 0]


def test_class_counts_counts_missing_middle_class_as_zero() -> None:
    """A label gap is an empty class, not a renumbering."""
    assert class_counts([0, 2, 2]).tolist() == [1, 0, 2]


@pytest.mark.parametrize(
    ("labels", "num_classes", "message"),
    [
        ([0, 3], 3, "`num_classes` must exceed the largest label (3); got 3."),
        ([0, 1], 0, "`num_classes` must be >= 1; got 0."),
        ([0, 1], 2.0, "`num_classes` must be a positive int; got 2.0."),
        ([], None, "`labels` must not be empty; got []."),
        ([0, -1], None, "`labels` must be non-negative, but holds -1; got [0, -1]."),
        ([0.0, 1.0], None, "`labels` must hold integers, but has dtype float64; got [0.0, 1.0]."),
        ([[0], [1]], None, "`labels` must be 1-D, but has shape (2, 1); got [[0], [1]]."),
    ],
)
def test_class_counts_rejects(labels: Any, num_classes: Any, message: str) -> None:
    """Too small num_classes and bad labels are rejected with the exact message."""
    with raises_exactly(message):
        class_counts(labels, num_classes)


def _sparse_message(n: int, largest: int, shown: str) -> str:
    """The refusal of a label id of ``largest`` among ``n`` labels."""
    return (
        f"`labels` must be dense class ids below max(2 * N, 2**20) = {max(2 * n, 2**20)} for "
        f"N = {n} samples, but holds {largest}; remap sparse ids to 0 .. K-1 with "
        f"`numpy.unique(labels, return_inverse=True)`; got {shown}."
    )


@pytest.mark.parametrize(
    ("labels", "shown"),
    [
        (np.array([0, 10**10]), "[ 0 10000000000]"),
        ([0, 1, 1, 3 * 2**20], "[ 0 1 1 3145728]"),
    ],
)
@pytest.mark.parametrize("build", [class_counts, ClassIndex.from_labels], ids=["counts", "index"])
def test_sparse_class_ids_are_refused_before_allocating(
    labels: Any, shown: str, build: Any
) -> None:
    """A label id far beyond the number of samples is refused, saying how to remap, instead of
    allocating one counter per id."""
    largest = int(np.max(labels))
    with raises_exactly(_sparse_message(len(labels), largest, shown)):
        build(labels)


@pytest.mark.parametrize("build", [class_counts, ClassIndex.from_labels], ids=["counts", "index"])
def test_num_classes_beyond_the_limit_is_refused(build: Any) -> None:
    """An explicit num_classes obeys the same limit as the largest label."""
    with raises_exactly(
        "`num_classes` must be <= max(2 * N, 2**20) = 1048576 for N = 2 samples; got 10000000000."
    ):
        build([0, 1], num_classes=10**10)


def test_class_limit_is_max_of_twice_n_and_a_floor() -> None:
    """K may be up to max(2 N, 2**20): the floor for small N, twice the samples beyond it."""
    assert max_classes(1) == 2**20
    assert max_classes(2**19) == 2**20
    assert max_classes(2**19 + 1) == 2**20 + 2
    assert max_classes(10**7) == 2 * 10**7


def test_labels_up_to_the_limit_are_accepted() -> None:
    """The largest accepted id is limit - 1 (K = limit); one more is refused."""
    counts = class_counts([0, 2**20 - 1])
    assert counts.size == 2**20
    assert counts[0] == counts[-1] == 1
    assert class_counts([0], num_classes=2**20).size == 2**20
    with raises_exactly(_sparse_message(2, 2**20, "[ 0 1048576]")):
        class_counts(np.array([0, 2**20]))


def test_sparse_check_costs_order_n() -> None:
    """Refusing a huge id among few labels allocates O(N), not O(max label)."""
    tracemalloc.start()
    try:
        with pytest.raises(InvalidArgumentError):
            ClassIndex.from_labels(np.array([0, 1, 1, 10**12]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (
            [0, 2**63],
            "`labels` must fit in int64, but holds 9223372036854775808; "
            "got [0, 9223372036854775808].",
        ),
        (np.array(4), "`labels` must be 1-D, but has shape (); got array(4)."),
        (
            torch.tensor([0.0, 1.0], requires_grad=True),
            "`labels` must hold integers, but has dtype float32; "
            "got tensor([0., 1.], requires_grad=True).",
        ),
    ],
)
def test_class_counts_names_the_real_problem(labels: Any, message: str) -> None:
    """Ids beyond int64 are named as such (not as float64), 0-d arrays as 0-d, and a tensor
    that requires grad gets the standard message instead of a RuntimeError."""
    with raises_exactly(message):
        class_counts(labels)


def test_class_counts_reads_uint64_labels() -> None:
    """uint64 labels (which bincount cannot take directly) are counted."""
    assert class_counts(np.array([0, 2, 2], dtype=np.uint64)).tolist() == [1, 0, 2]


# -- ClassIndex.from_labels ------------------------------------------------------------------


def test_from_labels_members_in_input_order() -> None:
    """Each class's members are its positions in ascending (input) order: a stable grouping."""
    index = ClassIndex.from_labels(LABELS)
    assert index.num_classes == 3
    assert index.size == len(LABELS)
    for c in range(3):
        expected = [i for i, y in enumerate(LABELS) if y == c]
        assert index.members(c).tolist() == expected
    assert index.offsets.tolist() == [0, 2, 4, 8]
    assert index.positions.tolist() == [1, 4, 3, 7, 0, 2, 5, 6]


def test_from_labels_counts_match_class_counts() -> None:
    """counts equals class_counts of the same labels."""
    labels = np.random.default_rng(0).integers(0, 7, size=500)
    index = ClassIndex.from_labels(labels)
    np.testing.assert_array_equal(index.counts, class_counts(labels))
    assert index.counts.dtype == np.int64


def pickle_copy(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value))


def test_counts_are_computed_once_and_read_only() -> None:
    """Hot paths read one class's count at a time: ``counts`` is one cached array, not a
    fresh ``diff`` over all K offsets per read (that made a chunk over K classes O(K^2): a
    second batch at 80,000 classes took 1.5 s instead of 0.4 s), and it cannot be edited."""
    index = ClassIndex.from_labels(np.arange(1000) % 37)
    assert index.counts is index.counts
    assert not index.counts.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        index.counts[0] = 5


@pytest.mark.parametrize("duplicate", [pickle_copy, copy.deepcopy], ids=["pickle", "deepcopy"])
def test_a_copy_stays_read_only(duplicate: Any) -> None:
    """A pickled or deep-copied index (a DataLoader worker's, a reloaded checkpoint's) keeps
    its arrays read-only: the cached counts are rebuilt, not restored writeable, since the
    member streams read that very array."""
    index = ClassIndex.from_labels(np.arange(100) % 7)
    _ = index.counts
    again = duplicate(index)
    for array in (again.counts, again.positions, again.offsets):
        assert not array.flags.writeable
    np.testing.assert_array_equal(again.counts, index.counts)


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.int64, np.uint64])
def test_from_labels_stable_for_every_dtype(dtype: type) -> None:
    """The grouping is stable whatever the label dtype (narrowed radix sort or not)."""
    labels = np.random.default_rng(1).integers(0, 5, size=300).astype(dtype)
    index = ClassIndex.from_labels(labels)
    for c in range(5):
        np.testing.assert_array_equal(index.members(c), np.flatnonzero(labels == c))


def test_from_labels_many_classes_stable() -> None:
    """With more classes than a uint8 holds, members stay in input order."""
    labels = np.random.default_rng(2).integers(0, 1000, size=5000)
    index = ClassIndex.from_labels(labels)
    for c in (0, 255, 256, 999):
        np.testing.assert_array_equal(index.members(c), np.flatnonzero(labels == c))


def test_from_labels_num_classes_and_empty_classes() -> None:
    """num_classes adds empty classes with empty member lists."""
    index = ClassIndex.from_labels([0, 0, 2], num_classes=5)
    assert index.num_classes == 5
    assert index.counts.tolist() == [2, 0, 1, 0, 0]
    assert index.members(1).tolist() == []
    assert index.members(4).tolist() == []


def test_from_labels_tensor_and_list_agree() -> None:
    """A list, a numpy array and a tensor of the same labels give the same index."""
    a = ClassIndex.from_labels(LABELS)
    b = ClassIndex.from_labels(np.array(LABELS))
    c = ClassIndex.from_labels(torch.tensor(LABELS))
    assert a.digest() == b.digest() == c.digest()


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([], "`labels` must not be empty; got []."),
        ([1, -2], "`labels` must be non-negative, but holds -2; got [1, -2]."),
        ([0.5], "`labels` must hold integers, but has dtype float64; got [0.5]."),
        ([[0, 1]], "`labels` must be 1-D, but has shape (1, 2); got [[0, 1]]."),
    ],
)
def test_from_labels_rejects(labels: Any, message: str) -> None:
    """Empty, negative, float and 2-D labels are rejected with the exact message."""
    with raises_exactly(message):
        ClassIndex.from_labels(labels)


# -- ClassIndex.from_class_indices -----------------------------------------------------------


def test_from_class_indices_keeps_positions_as_given() -> None:
    """Positions are the given dataset indices, in the given order within each class."""
    class_idxs = [[9, 3, 5], [1], [], [12, 0]]
    index = ClassIndex.from_class_indices(class_idxs)
    assert index.num_classes == 4
    assert index.counts.tolist() == [3, 1, 0, 2]
    assert index.size == 6
    for c, idxs in enumerate(class_idxs):
        assert index.members(c).tolist() == idxs


def test_from_class_indices_reads_a_2d_array_or_tensor_row_by_row() -> None:
    """A 2-D array or tensor of equal-sized classes is one class per row (the original
    factory iterates it so), read in place: the caller's array is unchanged."""
    rows = np.array([[5, 1], [0, 3], [2, 4]])
    before = rows.copy()
    for given in (rows, torch.as_tensor(rows)):
        index = ClassIndex.from_class_indices(given)
        assert index.counts.tolist() == [2, 2, 2]
        assert [index.members(c).tolist() for c in range(3)] == [[5, 1], [0, 3], [2, 4]]
    np.testing.assert_array_equal(rows, before)


def test_from_class_indices_accepts_arrays_and_tensors() -> None:
    """Each class list may be a list, numpy array or tensor."""
    index = ClassIndex.from_class_indices([np.array([4, 2]), torch.tensor([0]), (7, 8)])
    assert index.positions.tolist() == [4, 2, 0, 7, 8]


@pytest.mark.parametrize(
    ("class_idxs", "message"),
    [
        ([[0, 1], [1, 2]], "`class_idxs` must not repeat an index; got index 1 in classes [0, 1]."),
        ([[0, 1, 1], [2]], "`class_idxs` must not repeat an index; got index 1 in class 0 twice."),
        (
            [[5], [0, 5], [5]],
            "`class_idxs` must not repeat an index; got index 5 in classes [0, 1, 2].",
        ),
        ([[0, -1], [2]], "`class_idxs[0]` must be non-negative, but holds -1; got [0, -1]."),
        ([[0], [1.5]], "`class_idxs[1]` must hold integers, but has dtype float64; got [1.5]."),
        ([], "`class_idxs` must not be empty; got []."),
        ([[], []], "`class_idxs` must hold at least one index; got [[], []]."),
        ("ab", "`class_idxs` must be a sequence of index lists; got 'ab'."),
        (5, "`class_idxs` must be a sequence of index lists; got 5."),
        ([[[0, 1]]], "`class_idxs[0]` must be 1-D, but has shape (1, 2); got [[0, 1]]."),
    ],
)
def test_from_class_indices_rejects(class_idxs: Any, message: str) -> None:
    """Overlapping, duplicate, negative, float, empty and malformed class_idxs are rejected."""
    with raises_exactly(message):
        ClassIndex.from_class_indices(class_idxs)


def test_from_class_indices_does_not_mutate_lists() -> None:
    """The caller's lists are neither shuffled nor sorted (the original shuffled in place)."""
    class_idxs = [[9, 3, 5], [1], [12, 0]]
    snapshot = [list(x) for x in class_idxs]
    index = ClassIndex.from_class_indices(class_idxs)
    assert class_idxs == snapshot
    assert not index.positions.flags.writeable


# -- immutability and digest -----------------------------------------------------------------


def test_arrays_are_read_only() -> None:
    """positions, offsets and members() cannot be written."""
    index = ClassIndex.from_labels(LABELS)
    for array in (index.positions, index.offsets, index.members(2)):
        assert not array.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 99


def test_index_does_not_alias_input() -> None:
    """The index owns its arrays: the caller's labels stay writeable and unchanged."""
    labels = np.array(LABELS, dtype=np.int64)
    index = ClassIndex.from_labels(labels)
    assert labels.flags.writeable
    assert labels.tolist() == LABELS
    assert not np.shares_memory(index.positions, labels)


def test_index_is_frozen() -> None:
    """Attributes cannot be reassigned."""
    index = ClassIndex.from_labels(LABELS)
    with pytest.raises(AttributeError):
        index.positions = np.zeros(3, dtype=np.int64)  # type: ignore[misc]


def test_digest_is_stable() -> None:
    """The same membership gives the same digest, on the same and on a fresh index."""
    a = ClassIndex.from_labels(LABELS)
    assert a.digest() == a.digest()
    assert a.digest() == ClassIndex.from_labels(list(LABELS)).digest()
    assert re.fullmatch(r"[0-9a-f]{32}", a.digest())


def test_digest_matches_equivalent_class_indices() -> None:
    """from_labels and from_class_indices describing the same membership agree."""
    by_labels = ClassIndex.from_labels(LABELS)
    by_lists = ClassIndex.from_class_indices(
        [[i for i, y in enumerate(LABELS) if y == c] for c in range(3)]
    )
    assert by_labels.digest() == by_lists.digest()


@pytest.mark.parametrize(
    "other",
    [
        [2, 0, 2, 1, 0, 2, 1, 2],  # two samples swap classes
        [2, 0, 2, 1, 0, 2, 2, 1, 0],  # one more sample
        [2, 0, 2, 1, 0, 2, 2],  # one fewer
    ],
)
def test_digest_is_sensitive_to_membership(other: list[int]) -> None:
    """Any change of membership changes the digest."""
    assert ClassIndex.from_labels(LABELS).digest() != ClassIndex.from_labels(other).digest()


def test_digest_is_sensitive_to_num_classes() -> None:
    """Adding an empty trailing class changes the digest."""
    a = ClassIndex.from_labels(LABELS)
    b = ClassIndex.from_labels(LABELS, num_classes=4)
    assert a.digest() != b.digest()


def test_digest_is_sensitive_to_order_within_class() -> None:
    """from_class_indices with a different order inside a class is a different index."""
    a = ClassIndex.from_class_indices([[0, 1], [2]])
    b = ClassIndex.from_class_indices([[1, 0], [2]])
    assert a.digest() != b.digest()


def test_direct_construction_checks_the_fields_and_narrows() -> None:
    """Valid fields are accepted from lists; positions are stored as uint32 when they fit."""
    index = ClassIndex([5, 1, 3], [0, 2, 2, 3])
    assert index.positions.dtype == np.uint32
    assert index.offsets.dtype == np.int64
    assert index.counts.tolist() == [2, 0, 1]
    assert index.members(0).tolist() == [5, 1]


@pytest.mark.parametrize(
    ("positions", "offsets", "message"),
    [
        (
            [0, 1, 2],
            [0, 3, 1, 3],
            "`offsets` must be non-decreasing, but offsets[2] = 1 < "
            "offsets[1] = 3; got [0, 3, 1, 3].",
        ),
        ([0, 1, 2], [1, 3], "`offsets` must start at 0; got [1, 3]."),
        ([0, 1, 2], [0, 2], "`offsets` must end at len(positions) (3); got [0, 2]."),
        ([0, 1, 2], [0, 2, 4], "`offsets` must end at len(positions) (3); got [0, 2, 4]."),
        ([0, 1, 2], [3], "`offsets` must have at least 2 entries (one class); got [3]."),
        ([0, 1, 2], [0, -1, 3], "`offsets` must be non-negative, but holds -1; got [0, -1, 3]."),
        (
            [0, 1, 2],
            [0.0, 3.0],
            "`offsets` must hold integers, but has dtype float64; got [0.0, 3.0].",
        ),
        ([0, 1, 2], [[0, 3]], "`offsets` must be 1-D, but has shape (1, 2); got [[0, 3]]."),
        (
            [0, 1, 1],
            [0, 3],
            "`positions` must not repeat a position, but holds 1 twice; got [0, 1, 1].",
        ),
        ([0, -1], [0, 2], "`positions` must be non-negative, but holds -1; got [0, -1]."),
        ([], [0, 0], "`positions` must not be empty; got []."),
        ([0.5], [0, 1], "`positions` must hold integers, but has dtype float64; got [0.5]."),
    ],
)
def test_direct_construction_rejects_bad_fields(positions: Any, offsets: Any, message: str) -> None:
    """Bad offsets (they would give negative counts) and bad positions are refused, naming
    the field."""
    with raises_exactly(message):
        ClassIndex(positions, offsets)


def test_direct_construction_does_not_touch_caller_arrays() -> None:
    """Building a ClassIndex from arrays leaves the caller's arrays writeable and unaliased."""
    positions = np.array([0, 1, 2], dtype=np.int64)
    offsets = np.array([0, 2, 3], dtype=np.int64)
    index = ClassIndex(positions, offsets)
    assert positions.flags.writeable
    assert offsets.flags.writeable
    assert not np.shares_memory(index.positions, positions)


# -- subset_labels ---------------------------------------------------------------------------


def test_subset_labels_indexes_the_labels() -> None:
    """The labels of a subset are the parent's labels at its indices, as a new int64 array."""
    labels = np.array([4, 5, 6, 7])
    result = subset_labels(labels, [3, 0, 3], name="dataset.indices")
    assert result.tolist() == [7, 4, 7]
    assert result.dtype == np.int64
    assert not np.shares_memory(result, labels)


def test_subset_labels_nested_subsets() -> None:
    """Nested subsets compose from the root outwards, like Subset(Subset(ds, a), b)."""
    root = np.array([0, 1, 2, 3, 4, 5])
    inner = subset_labels(root, [5, 4, 3, 2], name="dataset.dataset.indices")
    assert subset_labels(inner, torch.tensor([1, 3]), name="dataset.indices").tolist() == [4, 2]


def test_subset_labels_empty_subset() -> None:
    """An empty subset has no labels (the sampler then says the labels are empty)."""
    assert subset_labels(np.array([0, 1]), [], name="dataset.indices").tolist() == []


@pytest.mark.parametrize(
    ("indices", "message"),
    [
        (
            [0, 5],
            "`dataset.indices` must be < 3 (the length of the dataset it indexes), but holds 5; "
            "got [0, 5].",
        ),
        ([0, -1], "`dataset.indices` must be non-negative, but holds -1; got [0, -1]."),
        ([0.0], "`dataset.indices` must hold integers, but has dtype float64; got [0.0]."),
    ],
)
def test_subset_labels_rejects_bad_indices(indices: Any, message: str) -> None:
    """Indices outside the parent dataset are an InvalidArgumentError, not an IndexError."""
    with raises_exactly(message):
        subset_labels(np.array([0, 1, 2]), indices, name="dataset.indices")
