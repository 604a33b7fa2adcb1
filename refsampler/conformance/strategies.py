"""Hypothesis strategies for the inputs of class-balanced samplers.

Use them to write property tests of your own sampler, or of code that consumes one::

    from hypothesis import given
    from refsampler.conformance import strategies as rst

    @given(rst.configurations(kinds=("fixed",)))
    def test_my_sampler(config): ...

Every strategy takes keyword-only arguments and validates them when it is built: a bad
argument raises :class:`~refsampler.errors.InvalidArgumentError` at once, naming the argument
and the value, instead of failing later inside a test. Long-tailed class sizes (geometric and
Zipf-like decays, single-sample classes) and the exact endpoints ``alpha = 0`` and ``alpha = 1``
are generated often, because that is where samplers break.

Notes
-----
This module imports :mod:`hypothesis` at the top. Hypothesis is a development dependency of
refsampler (``pip install refsampler[dev]``); nothing else in the package imports this module,
so users who never write property tests never need it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import _validate
from .. import kinds as _kinds
from ..allocation import allocate
from ..errors import InvalidArgumentError
from ..targets import interpolate

__all__ = [
    "Configuration",
    "alphas",
    "batch_sizes",
    "class_counts",
    "configurations",
    "labels",
    "targets",
]

IntVector = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]

#: Seeds are drawn below 2**32 so that implementations that seed 32-bit generators accept them.
_MAX_SEED = 2**32 - 1


# -- argument checks ------------------------------------------------------------------------


def _bounds(
    low_name: str, low: Any, high_name: str, high: Any, *, smallest: int
) -> tuple[int, int]:
    """Validate an integer interval ``smallest <= low <= high``."""
    check = _validate.positive_int if smallest >= 1 else _validate.non_negative_int
    lo, hi = check(low_name, low), check(high_name, high)
    if hi < lo:
        raise _validate.fail(high_name, f"must be >= `{low_name}` ({lo})", high)
    return lo, hi


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _validate.fail(name, "must be a bool", value)
    return value


# -- class counts ---------------------------------------------------------------------------


def class_counts(
    *,
    min_classes: int = 1,
    max_classes: int = 20,
    min_count: int = 1,
    max_count: int = 10_000,
    long_tail: bool = True,
) -> st.SearchStrategy[IntVector]:
    """Per-class sample counts: 1-D int64 arrays with a positive total.

    Parameters
    ----------
    min_classes, max_classes : int, default 1 and 20
        Bounds on the number of classes ``K`` (``1 <= min_classes <= max_classes``).
    min_count, max_count : int, default 1 and 10_000
        Bounds on every count (``0 <= min_count <= max_count``, ``max_count >= 1``).
        ``min_count=0`` allows empty classes; the total is always positive.
    long_tail : bool, default True
        Also generate geometric and Zipf-like decays (in shuffled class order) with some
        classes pinned to the smallest counts, besides independent uniform counts.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of numpy.ndarray of int64, shape (K,)

    Raises
    ------
    InvalidArgumentError
        If an argument is not an int (or bool for ``long_tail``) or the bounds are inverted.

    Examples
    --------
    >>> from hypothesis import given
    >>> from refsampler.conformance import strategies as rst
    >>> @given(rst.class_counts(max_classes=6, max_count=100))
    ... def check(counts):
    ...     assert 1 <= counts.size <= 6 and counts.min() >= 1 and counts.max() <= 100
    >>> check()
    >>> rst.class_counts(min_count=5, max_count=2)
    Traceback (most recent call last):
    ...
    refsampler.errors.InvalidArgumentError: `max_count` must be >= `min_count` (5); got 2.
    """
    lo_k, hi_k = _bounds("min_classes", min_classes, "max_classes", max_classes, smallest=1)
    lo_n, hi_n = _bounds("min_count", min_count, "max_count", max_count, smallest=0)
    if hi_n < 1:
        raise _validate.fail("max_count", "must be >= 1, so that the total is positive", hi_n)
    tail = _flag("long_tail", long_tail)
    uniform = st.integers(lo_k, hi_k).flatmap(
        lambda k: hnp.arrays(np.int64, k, elements=st.integers(lo_n, hi_n))
    )
    if lo_n == 0:
        uniform = uniform.filter(lambda counts: bool(counts.sum() > 0))
    if not tail:
        return uniform
    return st.one_of(_decaying_counts(lo_k, hi_k, lo_n, hi_n), uniform)


@st.composite
def _decaying_counts(draw: st.DrawFn, lo_k: int, hi_k: int, lo_n: int, hi_n: int) -> IntVector:
    """Geometric or Zipf-like decay from a head count, shuffled, with some tiny classes."""
    k = draw(st.integers(lo_k, hi_k))
    head = draw(st.integers(max(lo_n, 1), hi_n))
    rank = np.arange(k, dtype=np.float64)
    if draw(st.booleans()):
        raw = head * draw(st.floats(0.05, 0.95)) ** rank  # geometric
    else:
        raw = head / (1.0 + rank) ** draw(st.floats(0.5, 3.0))  # Zipf-like
    counts = np.clip(np.floor(raw), lo_n, hi_n).astype(np.int64)
    tiny = draw(hnp.arrays(np.bool_, k, elements=st.booleans()))
    tiny[0] = False  # keep the head, so the total stays positive
    counts[tiny] = draw(st.integers(lo_n, min(hi_n, lo_n + 2)))
    order = np.array(draw(st.permutations(range(k))), dtype=np.int64)
    return counts[order]


# -- labels ---------------------------------------------------------------------------------


def labels(
    *,
    min_classes: int = 1,
    max_classes: int = 20,
    min_size: int = 1,
    max_size: int = 1_000,
    long_tail: bool = True,
) -> st.SearchStrategy[IntVector]:
    """Label arrays in which every class ``0 .. K-1`` occurs, in shuffled order.

    Parameters
    ----------
    min_classes, max_classes : int, default 1 and 20
        Bounds on ``K``. ``K`` never exceeds the size, since every class is present.
    min_size, max_size : int, default 1 and 1_000
        Bounds on the number of samples ``N``; ``max_size >= min_classes``.
    long_tail : bool, default True
        Class sizes follow :func:`class_counts` with ``long_tail``, scaled to ``N`` (so
        single-sample classes next to large ones are common).

    Returns
    -------
    hypothesis.strategies.SearchStrategy of numpy.ndarray of int64, shape (N,)

    Raises
    ------
    InvalidArgumentError
        If an argument is invalid or no array can satisfy the bounds.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given
    >>> from refsampler.conformance import strategies as rst
    >>> @given(rst.labels(max_classes=5, max_size=50))
    ... def check(labels):
    ...     assert np.bincount(labels).min() >= 1 and labels.size <= 50
    >>> check()
    """
    lo_k, hi_k = _bounds("min_classes", min_classes, "max_classes", max_classes, smallest=1)
    lo_n, hi_n = _bounds("min_size", min_size, "max_size", max_size, smallest=1)
    if hi_n < lo_k:
        raise _validate.fail("max_size", f"must be >= `min_classes` ({lo_k})", max_size)
    tail = _flag("long_tail", long_tail)
    return _labels(lo_k, min(hi_k, hi_n), lo_n, hi_n, tail)


@st.composite
def _labels(draw: st.DrawFn, lo_k: int, hi_k: int, lo_n: int, hi_n: int, tail: bool) -> IntVector:
    k = draw(st.integers(lo_k, hi_k))
    n = draw(st.integers(max(lo_n, k), hi_n))
    shape = draw(class_counts(min_classes=k, max_classes=k, long_tail=tail))
    counts = 1 + _apportion(n - k, shape)
    seed = draw(st.integers(0, _MAX_SEED))
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(k), counts))


def _apportion(total: int, weights: IntVector) -> IntVector:
    """Split ``total`` in proportion to ``weights`` by largest remainder (vectorised)."""
    quotas = total * (weights / weights.sum())
    counts = np.floor(quotas).astype(np.int64)
    left = min(max(total - int(counts.sum()), 0), counts.size)
    counts[np.argsort(counts - quotas, kind="stable")[:left]] += 1
    return counts


# -- scalars --------------------------------------------------------------------------------


def alphas(*, include_endpoints: bool = True) -> st.SearchStrategy[float]:
    """Interpolation weights ``alpha`` in [0, 1].

    Parameters
    ----------
    include_endpoints : bool, default True
        If True, exactly 0.0 and exactly 1.0 are drawn about half of the time (the endpoints
        that must be exact); if False, only the open interval (0, 1) is drawn.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of float

    Raises
    ------
    InvalidArgumentError
        If ``include_endpoints`` is not a bool.

    Examples
    --------
    >>> from hypothesis import given
    >>> from refsampler.conformance import strategies as rst
    >>> @given(rst.alphas(include_endpoints=False))
    ... def check(alpha):
    ...     assert 0.0 < alpha < 1.0
    >>> check()
    """
    interior = st.floats(0.0, 1.0, exclude_min=True, exclude_max=True)
    if not _flag("include_endpoints", include_endpoints):
        return interior
    return st.one_of(st.sampled_from([0.0, 1.0]), st.just(0.5), interior)


def batch_sizes(*, min_size: int = 1, max_size: int = 512) -> st.SearchStrategy[int]:
    """Batch sizes ``B`` in ``[min_size, max_size]``, small ones more often.

    Parameters
    ----------
    min_size, max_size : int, default 1 and 512
        Bounds, ``1 <= min_size <= max_size``.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of int

    Raises
    ------
    InvalidArgumentError
        If a bound is not a positive int or the bounds are inverted.

    Examples
    --------
    >>> from refsampler.conformance import strategies as rst
    >>> rst.batch_sizes(min_size=0)
    Traceback (most recent call last):
    ...
    refsampler.errors.InvalidArgumentError: `min_size` must be >= 1; got 0.
    """
    lo, hi = _bounds("min_size", min_size, "max_size", max_size, smallest=1)
    return st.one_of(st.integers(lo, min(hi, lo + 15)), st.integers(lo, hi))


# -- targets --------------------------------------------------------------------------------


def targets(
    *, min_classes: int = 1, max_classes: int = 20, allow_zero: bool = False
) -> st.SearchStrategy[FloatVector]:
    """Valid target vectors: finite, non-negative float64 shares that sum to 1.

    Parameters
    ----------
    min_classes, max_classes : int, default 1 and 20
        Bounds on ``K``.
    allow_zero : bool, default False
        Allow zero shares (at least one share stays positive).

    Returns
    -------
    hypothesis.strategies.SearchStrategy of numpy.ndarray of float64, shape (K,)
        Normalised weights of three families: continuous (arbitrary floats), rational (small
        integer weights, so ``B p`` often lands exactly on or halfway between integers, where
        rounding ties live) and long-tailed (:func:`class_counts`). Sums are within 1e-12 of 1.

    Raises
    ------
    InvalidArgumentError
        If an argument is invalid.

    Examples
    --------
    >>> from hypothesis import given
    >>> from refsampler.conformance import strategies as rst
    >>> @given(rst.targets(max_classes=8))
    ... def check(p):
    ...     assert abs(p.sum() - 1.0) <= 1e-12 and p.min() > 0
    >>> check()
    """
    lo_k, hi_k = _bounds("min_classes", min_classes, "max_classes", max_classes, smallest=1)
    return _targets(lo_k, hi_k, _flag("allow_zero", allow_zero))


@st.composite
def _targets(draw: st.DrawFn, lo_k: int, hi_k: int, allow_zero: bool) -> FloatVector:
    k = draw(st.integers(lo_k, hi_k))
    family = draw(st.sampled_from(["continuous", "rational", "long_tail"]))
    weights: FloatVector
    if family == "continuous":
        weights = draw(hnp.arrays(np.float64, k, elements=st.floats(2.0**-20, 1.0)))
    elif family == "rational":
        weights = draw(hnp.arrays(np.int64, k, elements=st.integers(1, 12))).astype(np.float64)
    else:
        weights = draw(class_counts(min_classes=k, max_classes=k)).astype(np.float64)
    if allow_zero and k > 1:
        zero = draw(hnp.arrays(np.bool_, k, elements=st.booleans()))
        zero[draw(st.integers(0, k - 1))] = False
        weights[zero] = 0.0
    return weights / weights.sum()


# -- whole configurations -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Configuration:
    """One call of the adapter protocol: labels plus the keyword arguments.

    Attributes
    ----------
    labels : numpy.ndarray of int64, shape (N,)
        Every class ``0 .. K-1`` is present.
    kind : str
        A registered kind name.
    alpha : float
    batch_size, n_batches, seed : int
    """

    labels: IntVector
    kind: str
    alpha: float
    batch_size: int
    n_batches: int
    seed: int

    @property
    def target(self) -> FloatVector:
        """The target shares ``interpolate(class_counts(labels), alpha)``."""
        return interpolate(np.bincount(self.labels), self.alpha)

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``make_batches(labels, **kwargs)``."""
        return {
            "kind": self.kind,
            "alpha": self.alpha,
            "batch_size": self.batch_size,
            "n_batches": self.n_batches,
            "seed": self.seed,
        }


def _protocol_kinds() -> tuple[str, ...]:
    """Registered kinds the adapter protocol can call (no kind-specific options)."""
    return tuple(k for k in _kinds.names() if not _kinds.get(k).options)


def configurations(
    *,
    kinds: Sequence[str] | None = None,
    min_classes: int = 1,
    max_classes: int = 8,
    max_size: int = 200,
    max_batch_size: int = 64,
    max_batches: int = 16,
    long_tail: bool = True,
) -> st.SearchStrategy[Configuration]:
    """Complete, valid sampler configurations.

    Parameters
    ----------
    kinds : sequence of str, optional
        The kinds to draw from (default: every registered kind the adapter protocol can call).
    min_classes, max_classes : int, default 1 and 8
        Bounds on ``K``.
    max_size : int, default 200
        Largest number of samples ``N``.
    max_batch_size : int, default 64
        Largest batch size.
    max_batches : int, default 16
        Largest ``n_batches``; ``n_batches * batch_size`` often exceeds ``N``, so class cycles
        wrap several times within one call.
    long_tail : bool, default True
        Passed to :func:`labels`.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of Configuration
        Configurations of kinds with the fixed-counts property are always feasible: the batch
        size is raised (up to ``max_batch_size``) until
        :func:`~refsampler.allocation.allocate` accepts the target, and configurations for
        which no such batch size exists are rejected.

    Raises
    ------
    InvalidArgumentError
        If an argument is invalid.

    Examples
    --------
    >>> from hypothesis import given
    >>> from refsampler.allocation import allocate
    >>> from refsampler.conformance import strategies as rst
    >>> @given(rst.configurations(kinds=("fixed",), max_classes=4))
    ... def check(config):
    ...     assert allocate(config.target, config.batch_size).sum() == config.batch_size
    >>> check()
    >>> rst.configurations(kinds=("exact",))
    Traceback (most recent call last):
    ...
    refsampler.errors.InvalidArgumentError: `kinds` must be a non-empty sequence of "fixed", "quota", "random"; got ('exact',).
    """  # noqa: E501
    known = _protocol_kinds()
    if kinds is None:
        kinds = known
    if (
        isinstance(kinds, str)
        or not isinstance(kinds, Sequence)
        or not kinds
        or not all(isinstance(k, str) and k in known for k in kinds)
    ):
        names = ", ".join(f'"{k}"' for k in known)
        raise _validate.fail("kinds", f"must be a non-empty sequence of {names}", kinds)
    labels_strategy = labels(
        min_classes=min_classes, max_classes=max_classes, max_size=max_size, long_tail=long_tail
    )
    batch_max = _validate.positive_int("max_batch_size", max_batch_size)
    batches_max = _validate.positive_int("max_batches", max_batches)
    return _configurations(tuple(kinds), labels_strategy, batch_max, batches_max)


@st.composite
def _configurations(
    draw: st.DrawFn,
    kinds: tuple[str, ...],
    labels_strategy: st.SearchStrategy[IntVector],
    batch_max: int,
    batches_max: int,
) -> Configuration:
    kind = draw(st.sampled_from(kinds))
    y = draw(labels_strategy)
    alpha = draw(alphas())
    p = interpolate(np.bincount(y), alpha)
    if _kinds.PROPERTY_FIXED_COUNTS in _kinds.get(kind).properties:
        positive = int(np.count_nonzero(p))
        batch = draw(st.integers(min(positive, batch_max), batch_max))
        if not _feasible(p, batch):
            # B p_c > 1 for every positive class leaves no class forced up to one seat.
            batch = min(batch_max, math.floor(1.0 / float(p[p > 0].min())) + 1)
        assume(_feasible(p, batch))
    else:
        batch = draw(batch_sizes(max_size=batch_max))
    n_batches = draw(st.integers(1, batches_max))
    seed = draw(st.integers(0, _MAX_SEED))
    return Configuration(y, kind, alpha, batch, n_batches, seed)


def _feasible(target: FloatVector, batch_size: int) -> bool:
    try:
        allocate(target, batch_size)
    except InvalidArgumentError:
        return False
    return True
