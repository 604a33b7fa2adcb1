"""``ClassIndex``: which dataset positions belong to which class. Imports numpy only.

Class ids are dense: ``K`` classes are ``0 .. K-1``, and ``K`` (``max(labels) + 1``, or
``num_classes``) may be at most ``max(2 N, 2**20)`` for ``N`` samples (:func:`max_classes`).
Per-class arrays cost 8 bytes a class, so this keeps memory ``O(N)``: sparse ids such as
``[0, 1, 10**8]`` are refused before anything is allocated, with a message saying how to remap
them (``numpy.unique(labels, return_inverse=True)``).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _validate
from .errors import InvalidArgumentError

__all__ = ["ClassIndex", "class_counts"]

IntVector = npt.NDArray[np.int64]
PositionVector = npt.NDArray[np.integer[Any]]

#: Positions are hashed for :meth:`ClassIndex.digest` in slices of this many, converted to
#: int64 first so the digest does not depend on the storage dtype.
_DIGEST_SLICE = 1 << 20
#: Labels are grouped by a stable argsort in slices of this many (see ``_group_stably``).
_SORT_SLICE = 1 << 20
#: ``K`` may always be up to this many classes (2**20), whatever ``N``: 8 MiB per per-class
#: int64 array. Beyond it ``K`` may be up to ``2 N``.
CLASS_FLOOR = 1 << 20


def class_counts(labels: Any, num_classes: int | None = None) -> IntVector:
    """Number of samples of each class ``0 .. K-1``.

    Parameters
    ----------
    labels : array_like of int, shape (N,)
        Class id of every sample: a sequence, numpy array or CPU tensor of non-negative ints.
    num_classes : int, optional
        ``K``. Defaults to ``max(labels) + 1``; give it when the last classes may be absent.

    Returns
    -------
    numpy.ndarray of int64, shape (K,)

    Raises
    ------
    InvalidArgumentError
        If the labels are not non-negative ints, ``num_classes`` is below ``max(labels) + 1``,
        or ``K`` exceeds :func:`max_classes` of ``N`` (sparse class ids).

    Notes
    -----
    ``K <= max(2 N, 2**20)`` keeps the cost ``O(N)``: class ids must be dense. Remap sparse
    ids first, e.g. ``ids, dense = numpy.unique(labels, return_inverse=True)``.

    Examples
    --------
    >>> from refsampler import class_counts
    >>> class_counts([0, 2, 2, 1, 2]).tolist()
    [1, 1, 3]
    >>> class_counts([0, 1], num_classes=4).tolist()
    [1, 1, 0, 0]
    """
    array = _validate.int_array("labels", labels)
    k = num_classes_of(array, num_classes)
    return _bincount(_narrow_keys(array, k), k)


def max_classes(n: int) -> int:
    """The largest ``K`` accepted for ``n`` samples: ``max(2 n, 2**20)``.

    Not public: the one home of the dense-class-id rule, for every module that sizes per-class
    arrays from labels.

    Examples
    --------
    >>> from refsampler.classes import max_classes
    >>> max_classes(10), max_classes(10**7)
    (1048576, 20000000)
    """
    return max(2 * n, CLASS_FLOOR)


def num_classes_of(labels: npt.NDArray[np.integer[Any]], num_classes: Any = None) -> int:
    """``K`` for validated labels: ``num_classes``, or ``max(labels) + 1`` when it is None.

    Not public: shared by :func:`class_counts`, :meth:`ClassIndex.from_labels` and any code
    that counts labels, so that the rule of :func:`max_classes` is enforced in one place,
    before any per-class array is allocated. ``labels`` come from
    :func:`refsampler._validate.int_array`.

    Raises
    ------
    InvalidArgumentError
        If a label or ``num_classes`` exceeds the limit, or ``num_classes`` is not above the
        largest label.
    """
    n = int(labels.size)
    limit = max_classes(n)
    largest = int(labels.max()) if n else -1
    if largest >= limit:
        raise _validate.fail(
            "labels",
            f"must be dense class ids below max(2 * N, 2**20) = {limit} for N = {n} samples, "
            f"but holds {largest}; remap sparse ids to 0 .. K-1 with "
            "`numpy.unique(labels, return_inverse=True)`",
            labels,
        )
    if num_classes is None:
        return largest + 1
    k = _validate.positive_int("num_classes", num_classes)
    if k > limit:
        raise _validate.fail(
            "num_classes", f"must be <= max(2 * N, 2**20) = {limit} for N = {n} samples", k
        )
    if k <= largest:
        raise InvalidArgumentError(
            f"`num_classes` must exceed the largest label ({largest}); got {k}."
        )
    return k


def subset_labels(labels: IntVector, indices: Any, *, name: str) -> IntVector:
    """``labels[indices]``, for the labels of a ``Subset`` of a dataset with these labels.

    Not public: the one check of ``Subset.indices`` (a ``random_split`` part, possibly
    nested), so that an index outside the dataset is an
    :class:`~refsampler.errors.InvalidArgumentError` instead of an ``IndexError``.

    Parameters
    ----------
    labels : numpy.ndarray of int64, shape (M,)
        Labels of the dataset the subset indexes (validated).
    indices : array_like of int, shape (N,)
        The subset's indices into that dataset; may be empty.
    name : str
        The indices' name in messages, e.g. ``"dataset.indices"``.

    Returns
    -------
    numpy.ndarray of int64, shape (N,)
        A new array.

    Examples
    --------
    >>> import numpy as np
    >>> from refsampler.classes import subset_labels
    >>> subset_labels(np.array([0, 1, 1, 2]), [3, 0], name="dataset.indices").tolist()
    [2, 0]
    >>> try:
    ...     subset_labels(np.array([0, 1]), [2], name="dataset.indices")
    ... except ValueError as error:
    ...     print(error)
    `dataset.indices` must be < 2 (the length of the dataset it indexes), but holds 2; got [2].
    """
    positions = _validate.int_array(name, indices, allow_empty=True)
    if positions.size and int(positions.max()) >= labels.size:
        bad = int(positions[np.argmax(positions >= labels.size)])
        raise _validate.fail(
            name,
            f"must be < {labels.size} (the length of the dataset it indexes), but holds {bad}",
            indices,
        )
    return labels[positions].astype(np.int64, copy=False)


@dataclass(frozen=True, eq=False)
class ClassIndex:
    """Immutable map from classes to the dataset positions they hold.

    Class ``c``'s members are ``positions[offsets[c]:offsets[c + 1]]``, in ascending order of
    the input. All arrays are private copies, made read-only.

    Build it with :meth:`from_labels` or :meth:`from_class_indices`. Direct construction
    ``ClassIndex(positions, offsets)`` checks both fields: ``positions`` 1-D, non-empty,
    non-negative and without repeats; ``offsets`` 1-D ints with at least two entries, starting
    at 0, non-decreasing and ending at ``len(positions)``.

    Attributes
    ----------
    positions : numpy.ndarray of uint32 or int64, shape (N,)
        Every dataset position, grouped by class. Stored as uint32 when every position is
        below 2**32 (4 bytes a sample instead of 8), else int64; :mod:`refsampler.plan`
        widens to int64 per chunk.
    offsets : numpy.ndarray of int64, shape (K + 1,)
        Start of each class's group in ``positions``.
    """

    positions: PositionVector
    offsets: IntVector
    _digest: list[str] = field(default_factory=list, repr=False)
    #: True when a constructor below built the arrays itself; otherwise they are the caller's
    #: and are copied, so that the caller's arrays stay writeable and unaliased.
    _owned: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if not self._owned:
            positions, offsets = _checked_fields(self.positions, self.offsets)
            object.__setattr__(self, "positions", positions)
            object.__setattr__(self, "offsets", offsets)
        self.positions.flags.writeable = False
        self.offsets.flags.writeable = False

    @classmethod
    def from_labels(cls, labels: Any, num_classes: int | None = None) -> ClassIndex:
        """Index labels ``0 .. K-1``; position ``i`` is sample ``i``.

        Parameters
        ----------
        labels : array_like of int, shape (N,)
            Non-empty, non-negative integer class ids. A valid integer array (or CPU tensor)
            is read in place, not copied.
        num_classes : int, optional
            ``K``; defaults to ``max(labels) + 1``.

        Raises
        ------
        InvalidArgumentError
            As :func:`class_counts`; in particular when ``K > max(2 N, 2**20)`` (sparse class
            ids), which is refused before anything of size ``K`` is allocated.
        """
        array = _validate.int_array("labels", labels)
        k = num_classes_of(array, num_classes)
        # A stable sort keeps each class's members in input order; numpy's stable sort is a
        # radix sort for 8- and 16-bit keys, so narrow the labels first when they fit.
        keys = _narrow_keys(array, k)
        offsets = _offsets(_bincount(keys, k))
        return cls(_group_stably(keys, offsets), offsets, _owned=True)

    @classmethod
    def from_class_indices(cls, class_idxs: Any) -> ClassIndex:
        """Index explicit per-class position lists (pytorch_balanced_sampler's ``class_idxs``).

        Parameters
        ----------
        class_idxs : sequence of sequences of int
            ``class_idxs[c]`` lists the dataset positions of class ``c``. Lists may be empty,
            but positions must be non-negative and appear at most once overall. A 2-D array
            or tensor (classes of equal size) gives one class per row.
        """
        if getattr(class_idxs, "ndim", None) == 2:  # rows of an array or tensor, as views
            class_idxs = [class_idxs[c] for c in range(len(class_idxs))]
        if isinstance(class_idxs, str | bytes) or not isinstance(class_idxs, Sequence):
            raise _validate.fail("class_idxs", "must be a sequence of index lists", class_idxs)
        if len(class_idxs) == 0:
            raise _validate.fail("class_idxs", "must not be empty", class_idxs)
        groups = [
            _validate.int_vector(f"class_idxs[{c}]", idxs, allow_empty=True)
            for c, idxs in enumerate(class_idxs)
        ]
        positions = np.concatenate(groups)
        if positions.size == 0:
            raise _validate.fail("class_idxs", "must hold at least one index", class_idxs)
        unique, seen = np.unique(positions, return_counts=True)
        if unique.size != positions.size:
            dup = int(unique[np.argmax(seen > 1)])
            owners = [c for c, g in enumerate(groups) if np.any(g == dup)]
            where = f"classes {owners}" if len(owners) > 1 else f"class {owners[0]} twice"
            raise InvalidArgumentError(
                f"`class_idxs` must not repeat an index; got index {dup} in {where}."
            )
        counts = np.array([g.size for g in groups], dtype=np.int64)
        return cls(_narrow(positions), _offsets(counts), _owned=True)

    @property
    def num_classes(self) -> int:
        """``K``."""
        return int(self.offsets.size - 1)

    def __getstate__(self) -> dict[str, Any]:
        # Without the cached counts: a copy rebuilds them read-only (a pickled array comes
        # back writeable, and the member streams read that very array).
        return {k: v for k, v in self.__dict__.items() if k != "counts"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.positions.flags.writeable = False
        self.offsets.flags.writeable = False

    @functools.cached_property
    def counts(self) -> IntVector:
        """Samples per class, shape (K,), read-only (computed once: hot paths read it per
        class, and recomputing it over all K classes each time made them O(K^2))."""
        counts = np.diff(self.offsets)
        counts.flags.writeable = False
        return counts

    @property
    def size(self) -> int:
        """``N``, the number of indexed positions."""
        return int(self.positions.size)

    def members(self, c: int) -> PositionVector:
        """The positions of class ``c`` (a read-only view)."""
        return self.positions[self.offsets.item(c) : self.offsets.item(c + 1)]

    def digest(self) -> str:
        """A hex digest of the class membership, for resume fingerprints (cached)."""
        if not self._digest:
            h = hashlib.blake2b(digest_size=16)
            h.update(self.offsets.tobytes())
            for lo in range(0, self.positions.size, _DIGEST_SLICE):
                part = self.positions[lo : lo + _DIGEST_SLICE]
                h.update(part.astype(np.int64, copy=False).tobytes())
            self._digest.append(h.hexdigest())
        return self._digest[0]


def _narrow_keys(labels: npt.NDArray[np.integer[Any]], k: int) -> npt.NDArray[np.integer[Any]]:
    """Labels below ``k`` in the narrowest unsigned dtype that holds them (no copy if already).

    Never uint64, which bincount cannot take; labels below ``k`` fit int64.
    """
    dtype = np.min_scalar_type(max(k - 1, 0))
    return labels.astype(np.int64 if dtype == np.uint64 else dtype, copy=False)


def _bincount(keys: npt.NDArray[np.integer[Any]], k: int) -> IntVector:
    """Counts of ``0 .. k-1`` in ``keys`` (all below ``k``), as int64."""
    # bincount widens its input to intp: count slice by slice to keep that O(slice).
    counts = np.zeros(k, dtype=np.int64)
    for lo in range(0, keys.size, _SORT_SLICE):
        counts += np.bincount(keys[lo : lo + _SORT_SLICE], minlength=k)
    return counts


def _checked_fields(positions: Any, offsets: Any) -> tuple[PositionVector, IntVector]:
    """Private copies of directly given ``ClassIndex`` fields, or the error naming the field."""
    pos = _validate.int_array("positions", positions)
    unique, seen = np.unique(pos, return_counts=True)
    if unique.size != pos.size:
        dup = int(unique[np.argmax(seen > 1)])
        raise _validate.fail(
            "positions", f"must not repeat a position, but holds {dup} twice", positions
        )
    off = _validate.int_array("offsets", offsets)
    if off.size < 2:
        raise _validate.fail("offsets", "must have at least 2 entries (one class)", offsets)
    if off[0] != 0:
        raise _validate.fail("offsets", "must start at 0", offsets)
    falls = np.flatnonzero(np.diff(off) < 0)
    if falls.size:
        c = int(falls[0])
        raise _validate.fail(
            "offsets",
            f"must be non-decreasing, but offsets[{c + 1}] = {off[c + 1]} < "
            f"offsets[{c}] = {off[c]}",
            offsets,
        )
    if off[-1] != pos.size:
        raise _validate.fail("offsets", f"must end at len(positions) ({pos.size})", offsets)
    return _narrow(pos), off.astype(np.int64, copy=True)


def _group_stably(keys: npt.NDArray[np.integer[Any]], offsets: IntVector) -> PositionVector:
    """Positions ``0 .. N-1`` grouped by key, in input order within a key: a stable argsort.

    Large inputs are sorted in slices of ``_SORT_SLICE`` and each slice's members are placed
    after the earlier slices' members of the same class, so the temporary int64 indices cost
    O(slice) memory instead of 8 bytes a sample.
    """
    n = keys.size
    if n <= _SORT_SLICE:
        return _narrow(np.argsort(keys, kind="stable"))
    positions = np.empty(n, dtype=np.uint32 if n <= 2**32 else np.int64)
    next_free = offsets[:-1].copy()
    for lo in range(0, n, _SORT_SLICE):
        part = keys[lo : lo + _SORT_SLICE]
        order = np.argsort(part, kind="stable")
        part_counts = np.bincount(part, minlength=next_free.size)
        part_start = np.cumsum(part_counts) - part_counts
        dest = np.repeat(next_free - part_start, part_counts)
        dest += np.arange(part.size)
        order += lo
        positions[dest] = order
        next_free += part_counts
    return positions


def _narrow(positions: npt.NDArray[np.integer[Any]]) -> PositionVector:
    """``positions`` as uint32 when they all fit (a copy either way), else as int64."""
    fits = positions.size == 0 or int(positions.max()) < 2**32
    return positions.astype(np.uint32 if fits else np.int64)


def _offsets(counts: npt.NDArray[np.integer[Any]]) -> IntVector:
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets
