"""``ClassIndex``: which dataset positions belong to which class. Imports numpy only."""

from __future__ import annotations

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

    Examples
    --------
    >>> from refsampler import class_counts
    >>> class_counts([0, 2, 2, 1, 2]).tolist()
    [1, 1, 3]
    >>> class_counts([0, 1], num_classes=4).tolist()
    [1, 1, 0, 0]
    """
    array = _validate.int_vector("labels", labels)
    k = _num_classes(array, num_classes)
    return np.bincount(array, minlength=k).astype(np.int64)


def _num_classes(labels: npt.NDArray[np.integer[Any]], num_classes: int | None) -> int:
    observed = int(labels.max()) + 1 if labels.size else 0
    if num_classes is None:
        return observed
    k = _validate.positive_int("num_classes", num_classes)
    if k < observed:
        raise InvalidArgumentError(
            f"`num_classes` must exceed the largest label ({observed - 1}); got {k}."
        )
    return k


@dataclass(frozen=True, eq=False)
class ClassIndex:
    """Immutable map from classes to the dataset positions they hold.

    Class ``c``'s members are ``positions[offsets[c]:offsets[c + 1]]``, in ascending order of
    the input. All arrays are private copies, made read-only.

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
            object.__setattr__(self, "positions", np.array(self.positions, copy=True))
            object.__setattr__(self, "offsets", np.array(self.offsets, dtype=np.int64, copy=True))
        self.positions.flags.writeable = False
        self.offsets.flags.writeable = False

    @classmethod
    def from_labels(cls, labels: Any, num_classes: int | None = None) -> ClassIndex:
        """Index labels ``0 .. K-1``; position ``i`` is sample ``i``.

        Parameters
        ----------
        labels : array_like of int, shape (N,)
            Non-empty, non-negative integer class ids.
        num_classes : int, optional
            ``K``; defaults to ``max(labels) + 1``.
        """
        array = _label_array(labels)
        k = _num_classes(array, num_classes)
        # A stable sort keeps each class's members in input order; numpy's stable sort is a
        # radix sort for 8- and 16-bit keys, so narrow the labels first when they fit.
        keys = array.astype(np.min_scalar_type(max(k - 1, 0)), copy=False)
        # bincount widens its input to intp: count slice by slice to keep that O(slice).
        counts = np.zeros(k, dtype=np.int64)
        for lo in range(0, keys.size, _SORT_SLICE):
            counts += np.bincount(keys[lo : lo + _SORT_SLICE], minlength=k)
        offsets = _offsets(counts)
        return cls(_group_stably(keys, offsets), offsets, _owned=True)

    @classmethod
    def from_class_indices(cls, class_idxs: Any) -> ClassIndex:
        """Index explicit per-class position lists (pytorch_balanced_sampler's ``class_idxs``).

        Parameters
        ----------
        class_idxs : sequence of sequences of int
            ``class_idxs[c]`` lists the dataset positions of class ``c``. Lists may be empty,
            but positions must be non-negative and appear at most once overall.
        """
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

    @property
    def counts(self) -> IntVector:
        """Samples per class, shape (K,)."""
        return np.diff(self.offsets)

    @property
    def size(self) -> int:
        """``N``, the number of indexed positions."""
        return int(self.positions.size)

    def members(self, c: int) -> PositionVector:
        """The positions of class ``c`` (a read-only view)."""
        return self.positions[self.offsets[c] : self.offsets[c + 1]]

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


def _label_array(labels: Any) -> npt.NDArray[np.integer[Any]]:
    """``labels`` as a 1-D integer array, without a copy when it is one already.

    Valid integer arrays (and CPU tensors, through ``__array__``) are used in place -- they are
    only read -- so that 1e8 labels do not cost another 800 MB; anything else goes through
    :func:`refsampler._validate.int_vector`, which converts or raises the standard error.
    """
    if isinstance(labels, np.ndarray) or hasattr(labels, "__array__"):
        try:
            array = np.asarray(labels)
        except Exception:  # let the shared check produce the message
            array = None
        if (
            array is not None
            and array.ndim == 1
            and array.size > 0
            and array.dtype.kind in "iu"
            and (array.dtype.kind == "u" or int(array.min()) >= 0)
            and (array.dtype != np.uint64 or int(array.max()) <= np.iinfo(np.int64).max)
        ):
            return array
    return _validate.int_vector("labels", labels)


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
