"""Deliberately broken samplers: the proof that the kit catches typical defects.

:func:`control` is a correct, compact numpy implementation of the contract (all three kinds).
Every mutant in :data:`MUTANTS` is ``control`` with exactly one typical defect, named in its
docstring, so ``refsampler verify refsampler.conformance.mutants:NAME`` must exit 1 for each.

Every function follows the adapter protocol
``make_batches(labels, *, kind, alpha, batch_size, n_batches, seed)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ..allocation import allocate, quota_schedule
from ..targets import interpolate

__all__ = ["MUTANTS", "control"]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]


def _sample(
    labels: IntVector,
    kind: str,
    alpha: float,
    batch_size: int,
    n_batches: int,
    seed: int | None,
    defect: str = "",
) -> IntMatrix:
    """The contract in a few lines of numpy, with at most one ``defect`` switched on."""
    rng = np.random.default_rng(seed)
    class_counts = np.bincount(labels)
    k = class_counts.size
    if defect == "inverted_alpha":
        alpha = 1.0 - alpha
    if defect == "ignores_alpha":
        alpha = 1.0
    target = interpolate(class_counts, alpha)
    if defect == "drops_tiny_class":
        target = np.where(class_counts < 5, 0.0, target)
        target /= target.sum()
    members = [np.flatnonzero(labels == c) for c in range(k)]
    if kind == "random":
        if defect == "biased_target":
            # Reads the target from a rounded table: +1.5 points on the smallest class.
            target = target.copy()
            target[int(np.argmin(target))] += 0.015
            target /= target.sum()
        draws = n_batches * batch_size
        classes = rng.choice(k, size=draws, p=target)
        u = rng.random(draws)
        if defect == "nonuniform_members":
            u = u**2  # favours the first members of every class
        within = np.floor(u * class_counts[classes]).astype(np.int64)
        offsets = np.cumsum(class_counts) - class_counts
        order = np.argsort(labels, kind="stable")
        flat = order[offsets[classes] + within]
        if defect == "serial_repeat":
            repeat = np.flatnonzero(rng.random(draws) < 0.1)
            repeat = repeat[repeat > 0]
            # Each repeat copies the draw before it (sequentially, as a stateful sampler would).
            source = np.arange(draws)
            source[repeat] = repeat - 1
            for _ in range(8):
                source = source[source]
            flat = flat[source]
        return flat.reshape(n_batches, batch_size)
    if kind == "fixed":
        if defect == "np_round":
            counts = np.round(batch_size * target).astype(np.int64)
            counts[int(np.argmax(counts))] += batch_size - int(counts.sum())
        else:
            counts = allocate(target, batch_size)
        rows = np.broadcast_to(counts, (n_batches, k))
    elif kind == "quota":
        if defect == "quota_drift":
            # Largest remainder in every batch on its own: no memory of earlier batches.
            rows = np.broadcast_to(allocate_loose(target, batch_size), (n_batches, k))
        else:
            rows = quota_schedule(target, batch_size, n_batches)
    else:
        raise NotImplementedError(f"unknown kind {kind!r}")
    out = np.empty((n_batches, batch_size), dtype=np.int64)
    slot = np.cumsum(rows, axis=1) - rows
    for c in np.flatnonzero(rows.sum(axis=0)):
        size = members[c].size
        total = int(rows[:, c].sum())
        cycles = -(-total // size)
        if defect == "with_replacement":
            stream = rng.integers(0, size, total)
        elif defect == "no_reshuffle":
            stream = np.tile(rng.permutation(size), cycles)[:total]
        else:
            stream = rng.permuted(np.tile(np.arange(size), (cycles, 1)), axis=1).ravel()[:total]
        batch_of = np.repeat(np.arange(n_batches), rows[:, c])
        within = np.arange(total) - (np.cumsum(rows[:, c]) - rows[:, c])[batch_of]
        out[batch_of, slot[batch_of, c] + within] = members[c][stream]
    if defect == "same_batch":
        out[:] = out[0]
    if defect == "sorted_by_class":
        return out
    return rng.permuted(out, axis=1)


def allocate_loose(target: FloatVector, batch_size: int) -> IntVector:
    """Largest-remainder rounding without the floor of one (a valid quota row, but static)."""
    quotas = batch_size * target
    floors = np.floor(quotas).astype(np.int64)
    order = np.argsort(-(quotas - floors), kind="stable")
    floors[order[: batch_size - int(floors.sum())]] += 1
    return floors


def control(
    labels: IntVector, *, kind: str, alpha: float, batch_size: int, n_batches: int, seed: int
) -> list[list[int]]:
    """A correct implementation of every kind (the control group of the mutants).

    Examples
    --------
    >>> import numpy as np
    >>> from refsampler.conformance.mutants import control
    >>> labels = np.array([0, 0, 0, 1, 1, 2])
    >>> batches = control(labels, kind="fixed", alpha=1.0, batch_size=3, n_batches=2, seed=0)
    >>> [sorted(labels[b].tolist()) for b in batches]
    [[0, 1, 2], [0, 1, 2]]
    """
    return _sample(labels, kind, alpha, batch_size, n_batches, seed).tolist()


def _mutant(defect: str, doc: str) -> Callable[..., list[list[int]]]:
    def make_batches(
        labels: IntVector, *, kind: str, alpha: float, batch_size: int, n_batches: int, seed: int
    ) -> list[list[int]]:
        return _sample(labels, kind, alpha, batch_size, n_batches, seed, defect).tolist()

    make_batches.__name__ = make_batches.__qualname__ = defect
    make_batches.__doc__ = doc
    return make_batches


np_round = _mutant(
    "np_round",
    "Fixed kind rounds with np.round and gives the remainder to the largest class (the "
    "original's defect): tiny classes get 0 and counts leave {floor, ceil}.",
)
drops_tiny_class = _mutant(
    "drops_tiny_class", "Classes with fewer than 5 samples are silently dropped (renormalised)."
)
ignores_alpha = _mutant("ignores_alpha", "Always balances uniformly: alpha is ignored.")
inverted_alpha = _mutant(
    "inverted_alpha", "Alpha interpolation inverted: uses 1 - alpha (0 is uniform, 1 empirical)."
)
biased_target = _mutant(
    "biased_target",
    "Random kind puts 1.5 extra percentage points on the smallest class, then renormalises.",
)
nonuniform_members = _mutant(
    "nonuniform_members", "Random kind picks members non-uniformly (u**2): early members win."
)
serial_repeat = _mutant(
    "serial_repeat", "Random kind repeats the previous draw with probability 0.1."
)
with_replacement = _mutant(
    "with_replacement", "Fixed and quota kinds draw members with replacement, not in cycles."
)
no_reshuffle = _mutant(
    "no_reshuffle",
    "One permutation per class, reused on every cycle wrap (the original's defect).",
)
same_batch = _mutant("same_batch", "Yields the first batch over and over.")
sorted_by_class = _mutant(
    "sorted_by_class", "No within-batch shuffle: fixed and quota batches are sorted by class."
)
quota_drift = _mutant(
    "quota_drift",
    "Quota kind rounds every batch on its own (largest remainder, no floor of one): each row "
    "is within quota but the prefix error grows without bound.",
)


def unseeded(
    labels: IntVector, *, kind: str, alpha: float, batch_size: int, n_batches: int, seed: int
) -> list[list[int]]:
    """Ignores ``seed`` and draws from fresh OS entropy: runs are not reproducible."""
    return _sample(labels, kind, alpha, batch_size, n_batches, None).tolist()


def constant_seed(
    labels: IntVector, *, kind: str, alpha: float, batch_size: int, n_batches: int, seed: int
) -> list[list[int]]:
    """Ignores ``seed`` and always uses seed 1234: every seed gives the same batches."""
    return _sample(labels, kind, alpha, batch_size, n_batches, 1234).tolist()


def extra_batch(
    labels: IntVector, *, kind: str, alpha: float, batch_size: int, n_batches: int, seed: int
) -> list[list[int]]:
    """Off by one: yields ``n_batches + 1`` batches."""
    return _sample(labels, kind, alpha, batch_size, n_batches + 1, seed).tolist()


def short_batches(
    labels: IntVector, *, kind: str, alpha: float, batch_size: int, n_batches: int, seed: int
) -> list[list[int]]:
    """Wrong batch size: drops the last position of every batch."""
    return _sample(labels, kind, alpha, batch_size, n_batches, seed)[:, :-1].tolist()


def one_based(
    labels: IntVector, *, kind: str, alpha: float, batch_size: int, n_batches: int, seed: int
) -> list[list[int]]:
    """Out-of-range positions: indexes from 1 (so position N appears, 0 never)."""
    return (_sample(labels, kind, alpha, batch_size, n_batches, seed) + 1).tolist()


def mutates_labels(
    labels: IntVector, *, kind: str, alpha: float, batch_size: int, n_batches: int, seed: int
) -> list[list[int]]:
    """Shuffles the caller's labels in place (the original shuffled the caller's lists)."""
    batches = _sample(labels, kind, alpha, batch_size, n_batches, seed).tolist()
    np.random.default_rng(seed).shuffle(labels)
    return batches


#: Every mutant by name.
MUTANTS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        np_round,
        drops_tiny_class,
        ignores_alpha,
        inverted_alpha,
        biased_target,
        nonuniform_members,
        serial_repeat,
        with_replacement,
        no_reshuffle,
        same_batch,
        sorted_by_class,
        quota_drift,
        unseeded,
        constant_seed,
        extra_batch,
        short_batches,
        one_based,
        mutates_labels,
    )
}
