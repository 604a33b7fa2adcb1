"""Helpers of the shipped suite: running the implementation, and exact checks of its batches.

Everything here is a plain function of a label array and a batch array (positions into the
labels), so the same checks apply to any implementation seen through the adapter protocol.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ... import kinds as _kinds
from ..positions import batch_positions
from ..strategies import Configuration
from ..streams import index_sampler_hint

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Slack on the quota prefix error ``|cumulative - k B p_c| < 1``. The error is computed in
#: float64, where ``k B p_c`` carries a rounding error of a few ulps of ``k B`` (< 1e-12 for
#: any ``k B`` below 1e4), and a float target stands for a rational share such as 1/3 that a
#: schedule may treat exactly; so a lag that is below 1 for the intended share can compute as
#: 1 + O(1e-13) for the float one. 1e-9 absorbs that. A schedule that really misses a
#: deadline overshoots 1 by ``ceil(i / r) r - i`` (``r`` the fractional quota); that is below
#: 1e-9 only when ``i / r`` is within 1e-9 of an integer -- exactly the snapped case.
PREFIX_TOLERANCE = 1e-9


def kinds_with(prop: str) -> list[str]:
    """Registered kinds the adapter protocol can call that declare ``prop``."""
    return [
        k for k in _kinds.names() if prop in _kinds.get(k).properties and not _kinds.get(k).options
    ]


def every_kind() -> list[str]:
    """Registered kinds the adapter protocol can call."""
    return [k for k in _kinds.names() if not _kinds.get(k).options]


@dataclass
class _Tally:
    ran: int = 0
    declined: str = ""


_TALLY: contextvars.ContextVar[_Tally | None] = contextvars.ContextVar("tally", default=None)


def exercised(test: Callable[..., None]) -> Callable[..., None]:
    """Skip a property test, with the reason, when the implementation declined every
    configuration Hypothesis generated for it (declined examples are skipped one by one)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        import pytest

        tally = _Tally()
        token = _TALLY.set(tally)
        try:
            test(*args, **kwargs)
        finally:
            _TALLY.reset(token)
        if tally.ran == 0:
            pytest.skip(
                f"the implementation declined every generated configuration ({tally.declined})"
            )

    return wrapper


def call(make_batches: Callable[..., Any], labels: IntArray, **kwargs: Any) -> IntArray | None:
    """The implementation's batches as an (n_batches, batch_size) array; None if declined.

    Inside a test wrapped by :func:`exercised` a decline is counted and the example ends;
    elsewhere it skips the test. ``NotImplementedError`` after the first batch is no decline:
    it propagates and fails the test. A batch the kit refuses (a single value, a nested
    batch, float positions: the rule of ``batch_shape``) fails the test with the reason, and
    for a sampler whose ``--refsampler-index-sampler`` setting looks wrong, with that hint.
    """
    rows: list[list[int]] = []
    try:
        batches = make_batches(labels.copy(), **kwargs)
        for k, batch in enumerate(batches):
            positions, problem = batch_positions(batch)
            if positions is None:
                # The kit's rule for a batch (batch_shape's), not a TypeError from reading it.
                raise AssertionError(
                    f"batch {k} {problem}" + index_sampler_hint(make_batches, problem)
                )
            rows.append(positions.tolist())
    except NotImplementedError as exc:
        if rows:
            raise
        tally = _TALLY.get()
        reason = f"NotImplementedError: {exc}"
        if tally is None:
            import pytest

            pytest.skip(
                f"declined kind={kwargs.get('kind')!r}, alpha={kwargs.get('alpha')}: {reason}"
            )
        tally.declined = reason
        return None
    tally = _TALLY.get()
    if tally is not None:
        tally.ran += 1
    array = np.asarray(rows, dtype=np.int64)
    shape = (kwargs["n_batches"], kwargs["batch_size"])
    assert array.shape == shape, f"got batches of shape {array.shape}, want {shape}"
    return array


def run(make_batches: Callable[..., Any], config: Configuration) -> IntArray | None:
    """Batches of ``config`` from the implementation under test (None if declined)."""
    return call(make_batches, config.labels, **config.kwargs())


def quota_bounds(target: FloatArray, batch_size: int) -> tuple[IntArray, IntArray]:
    """``floor(B p_c)`` and ``ceil(B p_c)``, with near-integer quotas taken as integers.

    A float share stands for a rational one: ``6/42`` is stored a hair below, so ``35 p``
    computes as 5 or as 4.999...; the contract means 5, and an implementation that rounds it
    to 4 is wrong. Quotas within 1e-9 (relative) of a positive integer ``m`` therefore allow
    exactly ``m``.
    """
    quotas = batch_size * np.asarray(target, dtype=np.float64)
    nearest = np.round(quotas)
    snap = (np.abs(quotas - nearest) <= 1e-9 * np.maximum(1.0, quotas)) & (nearest >= 1)
    floors = np.where(snap, nearest, np.floor(quotas)).astype(np.int64)
    ceils = np.where(snap, nearest, np.ceil(quotas)).astype(np.int64)
    return floors, ceils


def prefix_errors(rows: IntArray, target: FloatArray, batch_size: int) -> FloatArray:
    """``cumulative count - k B p_c`` after every batch ``k = 1 .. n``: shape (n, K)."""
    k = np.arange(1, rows.shape[0] + 1, dtype=np.float64)[:, None]
    return np.cumsum(rows, axis=0) - k * (batch_size * target)


def largest_remainder_violations(counts: IntArray, target: FloatArray, batch_size: int) -> str:
    """Why ``counts`` is not a largest-remainder vector of ``B p`` ("" if it is one).

    Classes forced up to one seat come first, then the largest fractional parts (compared at
    9 decimals); among classes tied at the cut any choice is right.
    """
    quotas = batch_size * np.asarray(target, dtype=np.float64)
    floors = np.floor(quotas).astype(np.int64)
    fractions = np.round(quotas - floors, 9)
    forced = (target > 0) & (floors == 0)
    extra = counts - floors
    if counts.sum() != batch_size or ((extra != 0) & (extra != 1)).any():
        return f"{counts.tolist()} is not floor or floor + 1 of {np.round(quotas, 6).tolist()}"
    if (forced & (extra == 0)).any():
        return f"{counts.tolist()} leaves out a class with a positive target"
    up = (extra == 1) & ~forced
    down = (extra == 0) & (fractions > 0)
    if up.any() and down.any() and fractions[up].min() < fractions[down].max():
        return (
            f"{counts.tolist()} gives a seat to a fractional part of {fractions[up].min()} "
            f"and none to one of {fractions[down].max()} (B p = {np.round(quotas, 6).tolist()})"
        )
    return ""


def member_ranks(labels: IntArray) -> IntArray:
    """Each position's index among the members of its class (0 .. n_c - 1)."""
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels)
    offsets = np.cumsum(counts) - counts
    ranks = np.empty(labels.size, dtype=np.int64)
    ranks[order] = np.arange(labels.size) - offsets[labels[order]]
    return ranks


def coverage_violations(labels: IntArray, batches: IntArray) -> list[str]:
    """Check coverage after every whole batch; return a description of each violation.

    After the first ``k`` batches, a class drawn ``D`` times in total must have drawn each of
    its ``n_c`` members ``floor(D / n_c)`` or ``ceil(D / n_c)`` times.
    """
    n, size = batches.shape[0], labels.size
    cells = np.arange(n)[:, None] * size + batches
    per_position = np.bincount(cells.ravel(), minlength=n * size).reshape(n, size)
    seen = np.cumsum(per_position, axis=0)  # (n, N): draws of each position after batch k
    class_sizes = np.bincount(labels)
    class_draws = np.zeros((n, class_sizes.size), dtype=np.int64)
    np.add.at(class_draws.T, labels, seen.T)
    lo = class_draws[:, labels] // class_sizes[labels]
    hi = -(-class_draws[:, labels] // class_sizes[labels])
    bad = np.argwhere((seen < lo) | (seen > hi))
    return [
        f"after batch {k + 1}: position {i} (class {labels[i]}) drawn {seen[k, i]} times, "
        f"allowed {lo[k, i]}..{hi[k, i]}"
        for k, i in bad[:5]
    ]


def cycle_violations(labels: IntArray, batches: IntArray) -> list[str]:
    """Check that every class's draws can be a stream of consecutive permutations.

    The draws of class ``c``, in stream order, are consecutive permutations of its members,
    the first cycle starting with the first batch. A batch's positions are shuffled, so only
    the multiset of each batch is observable; this checks the exact condition for *some*
    order within each batch to make the stream valid. With ``seen`` the members already drawn
    in the current cycle and ``r = n_c - |seen|``:

    * a batch with ``a < r`` draws of the class must draw ``a`` distinct unseen members;
    * a batch with ``a >= r`` must draw every unseen member once, then ``q = (a - r) // n_c``
      whole cycles and ``s = (a - r) % n_c`` distinct members of the next cycle: every member
      appears ``q`` or ``q + 1`` more times, exactly ``s`` of them ``q + 1``; those ``s`` are
      the new ``seen``.
    """
    ranks = member_ranks(labels)
    sizes = np.bincount(labels)
    problems: list[str] = []
    for c, size in enumerate(sizes):
        seen = np.zeros(size, dtype=bool)
        for k, row in enumerate(batches):
            drawn = np.bincount(ranks[row[labels[row] == c]], minlength=size)
            a = int(drawn.sum())
            r = int(size - seen.sum())
            if a < r:
                if drawn.max(initial=0) > 1 or drawn[seen].any():
                    problems.append(f"class {c}, batch {k}: a member repeats within a cycle")
                    break
                seen |= drawn > 0
                continue
            rest = drawn - (~seen)
            q, s = divmod(a - r, int(size))
            if rest.min() < q or rest.max() > q + 1 or int((rest == q + 1).sum()) != s:
                problems.append(
                    f"class {c}, batch {k}: {a} draws cannot complete the cycle "
                    f"({r} members left) and continue with fresh permutations"
                )
                break
            seen = rest == q + 1
    return problems


def repeats_in_batches(labels: IntArray, batches: IntArray) -> list[str]:
    """Batches that draw a member twice although its class has at least as many members as
    the batch draws from it."""
    sizes = np.bincount(labels)
    problems = []
    for k, row in enumerate(batches):
        drawn = np.bincount(labels[row], minlength=sizes.size)
        values, times = np.unique(row, return_counts=True)
        for position in values[times > 1]:
            c = labels[position]
            if sizes[c] >= drawn[c]:
                problems.append(
                    f"batch {k}: position {int(position)} twice ({int(drawn[c])} draws of "
                    f"class {int(c)}, which has {int(sizes[c])} members)"
                )
                break
        if len(problems) >= 5:
            break
    return problems
