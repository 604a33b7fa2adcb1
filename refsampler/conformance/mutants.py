"""Deliberately broken samplers: the proof that the kit catches typical defects.

:func:`control` is a correct, compact numpy implementation of the contract (every kind the kit
checks, chosen by its contract properties, never by name). Every mutant in :data:`MUTANTS` is
``control`` with exactly one typical defect, named in its docstring, so ``refsampler verify
refsampler.conformance.mutants:NAME`` exits 1 for each.

Besides the mutants, :data:`PARTIAL` holds correct implementations that serve only some
configurations (exit 0 with the others listed as declined, or 3 when a requested kind has
nothing left), and a few adapters that are broken as *adapters*: :func:`exits` (exit 2),
:func:`hangs` (a failed ``runs`` check under ``--timeout``) and its sampler-API twin
:func:`hangs_in_epoch_1` (failed epoch, rank and resume checks under ``--timeout``), the factories
:class:`ShufflingFactory` (exit 1: it shuffles the caller's lists),
:class:`CrashingFactory` (exit 1: an error naming the kind is no decline) and
:class:`KindRejectingFactory` (declines ``quota`` as pytorch_balanced_sampler does).

Every function above :data:`SAMPLER_MUTANTS` follows the adapter protocol
``make_batches(labels, *, kind, alpha, batch_size, n_batches, seed)``.

Sampler mutants (``--api sampler``)
-----------------------------------
Each ``make_sampler`` in :data:`SAMPLER_MUTANTS` is refsampler's sampler
(:func:`~refsampler.conformance.adapters.refsampler_sampler`, which conforms) with one
typical defect of a sampler under a training loop -- replayed or
unreproducible epochs, unequal or overlapping ranks, per-shard targets, broken resumes -- so
``refsampler verify refsampler.conformance.mutants:NAME --api sampler`` exits 1 for each.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import kinds as _kinds
from ..allocation import allocate
from ..targets import interpolate

__all__ = [
    "MUTANTS",
    "PARTIAL",
    "SAMPLER_MUTANTS",
    "CrashingFactory",
    "KindRejectingFactory",
    "ShufflingFactory",
    "Wrapped",
    "allocate_loose",
    "control",
    "declines_every_sampler",
    "declines_everything",
    "exits",
    "hangs",
    "hangs_in_epoch_1",
    "imbalanced_dataset_sampler",
    "inverse_count_weights",
    "only_alpha_one",
    "quota_rows",
]

IntVector = npt.NDArray[np.int64]
IntMatrix = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]

MakeBatches = Callable[..., list[list[int]]]


#: Batches whose schedule ties the ``index_ties_at_start`` mutants break by class index.
INDEX_TIES_UNTIL = 8


def _snap(values: FloatVector) -> FloatVector:
    """Round values within 1e-9 (relative) of an integer to it (1 / 0.2 is 5, not 5 + ulp)."""
    nearest = np.round(values)
    close = np.abs(values - nearest) <= 1e-9 * np.maximum(1.0, np.abs(values))
    return np.where(close, nearest, values)


def quota_rows(
    target: FloatVector,
    batch_size: int,
    n_batches: int,
    rng: np.random.Generator | None,
    index_ties_until: int = 0,
) -> IntMatrix:
    """Per-batch counts with the quota property, extra seats chosen by PD2.

    Every class gets ``floor(B p_c)``; the ``d`` extra seats of each batch go to the ``d``
    classes with the highest PD2 priority (earliest pseudo-deadline, successor bit, later
    group deadline), which keeps every prefix within one seat of ``k B p_c``. PD2 is optimal
    whatever breaks its remaining ties: ``rng`` breaks them at random (so the schedule depends
    on the seed and classes mix); ``rng=None`` breaks them by class index, which locks the
    schedule into one rotation, and so does ``index_ties_until`` for the batches before it.
    """
    quotas = _snap(batch_size * np.asarray(target, dtype=np.float64))
    floors = np.floor(quotas).astype(np.int64)
    rates = quotas - floors
    seats = batch_size - int(floors.sum())
    rows = np.tile(floors, (n_batches, 1))
    candidates = np.flatnonzero(rates > 0)
    if seats <= 0 or candidates.size == 0:
        return rows
    # Every subtask's keys depend on its number alone: list those of the subtasks each class
    # can reach in the run (at most ceil(n_batches * rate) + 1), then read the current ones.
    reach = np.ceil(n_batches * rates[candidates]).astype(np.int64) + 2
    owner = np.repeat(np.arange(candidates.size), reach)
    first = np.concatenate(([0], np.cumsum(reach)[:-1]))
    subtask = np.arange(owner.size) - first[owner] + 1
    rate = rates[candidates][owner]
    release = np.floor(_snap((subtask - 1) / rate))
    ratio = _snap(subtask / rate)
    deadline = np.ceil(ratio)
    successor = deadline - np.floor(ratio)
    group = np.zeros(owner.size)
    heavy = rate >= 0.5
    if heavy.any():
        w = rate[heavy]
        group[heavy] = np.ceil(_snap(np.ceil(_snap(deadline[heavy] * (1 - w))) / (1 - w)))
    current = first.copy()
    for k in range(n_batches):
        if rng is None or k < index_ties_until:
            ties = np.arange(candidates.size, dtype=np.float64)
        else:
            ties = rng.random(candidates.size)
        # lexsort: the last key is the primary one.
        priority = (-group[current], -successor[current], deadline[current], release[current] > k)
        chosen = np.lexsort((ties, *priority))[:seats]
        rows[k, candidates[chosen]] += 1
        current[chosen] += 1
    return rows


def _scheduled_rows(
    target: FloatVector, seats: int, n_batches: int, rng: np.random.Generator, defect: str
) -> IntMatrix:
    """:func:`quota_rows` with the tie-break a defect asks for (random from ``rng`` if none)."""
    return quota_rows(
        target,
        seats,
        n_batches,
        None if defect == "locked_rotation" else rng,
        INDEX_TIES_UNTIL if defect == "index_ties_at_start" else 0,
    )


def _fixed_counts(
    target: FloatVector, batch_size: int, rng: np.random.Generator | None, defect: str
) -> IntVector:
    """Largest remainder with a floor of one; exact ties broken by ``rng`` (or by index)."""
    quotas = batch_size * target
    floors = np.floor(quotas).astype(np.int64)
    fractions = np.round(quotas - floors, 9)
    forced = (target > 0) & (floors == 0)
    seats = batch_size - int(floors.sum())
    ties = rng.random(target.size) if rng is not None else np.arange(target.size)
    order = np.lexsort((ties, -fractions, ~forced))
    counts = floors.copy()
    counts[order[:seats]] += 1
    if defect == "id_order_seats" and rng is not None:
        # After the forced seats the leftover ones go to the lowest class ids, shuffled only
        # when every candidate's remainder is the same (so exact ties still vary by seed).
        free = np.flatnonzero(~forced & (fractions > 0))
        if np.unique(fractions[free]).size > 1:
            counts = floors + forced
            counts[free[: seats - int(forced.sum())]] += 1
            return counts
    if defect == "random_rounding" and rng is not None and seats > int(forced.sum()):
        # Stochastic rounding: after the forced seats, the leftover ones go to classes drawn
        # in proportion to their fractional parts, once per run. Every count stays floor or
        # ceil, and some seeds draw the largest remainders anyway.
        counts = floors + forced
        free = np.flatnonzero(~forced & (fractions > 0))
        weights = fractions[free] / fractions[free].sum()
        picks = rng.choice(free, size=seats - int(forced.sum()), replace=False, p=weights)
        counts[picks] += 1
        return counts
    if defect == "rotating_ties" and rng is not None and seats > 0:
        # The seats of an exact tie at the cut go to a window of consecutive tied classes
        # that starts at a seeded offset: seeds differ, but only T of the C(T, s) choices come.
        tied = np.flatnonzero(~forced & (fractions == fractions[order[seats - 1]]))
        won = int(np.count_nonzero(counts[tied] > floors[tied]))
        if 0 < won < tied.size:
            counts[tied] = floors[tied]
            start = int(rng.integers(tied.size))
            counts[tied[(start + np.arange(won)) % tied.size]] += 1
    big, small = int(np.argmax(target)), int(np.argmin(target))
    if defect == "tail_boost" and counts[big] > floors[big] and quotas[small] > counts[small]:
        # A seat moves from the head to the tail: both counts stay floor or ceil.
        counts[big] -= 1
        counts[small] += 1
    return counts


def _pk_rows(
    target: FloatVector,
    batch_size: int,
    n_batches: int,
    samples_per_class: int | None,
    rng: np.random.Generator,
    defect: str,
) -> IntMatrix:
    """Per-batch counts of P x m batches: the appearances follow a PD2 schedule of the
    appearance rates ``P p_c`` (so every prefix is within one appearance), times ``m``."""
    if not samples_per_class:
        raise NotImplementedError("P x m batches need samples_per_class")
    m = int(samples_per_class)
    seats = batch_size // m
    if defect == "appearance_drift":
        # Rounds every batch on its own: the same P classes in every batch.
        appear = np.broadcast_to(allocate_loose(target, seats), (n_batches, target.size)).copy()
    else:
        appear = _scheduled_rows(target, seats, n_batches, rng, defect)
    rows = m * appear
    if defect == "class_twice":
        # Every batch gives its last class's m seats to its first class: 2m of one class.
        for row in rows:
            present = np.flatnonzero(row)
            if present.size >= 2:
                row[present[0]] += row[present[-1]]
                row[present[-1]] = 0
    return rows


def _stream(rng: np.random.Generator, size: int, rows: IntVector, defect: str) -> IntVector:
    """Member offsets ``0 .. size-1`` for a class drawn ``rows[k]`` times in batch ``k``.

    Consecutive fresh permutations (cycles). When a cycle ends inside a batch that can hold
    distinct members (``rows[k] <= size``), the new cycle starts with members the batch has
    not drawn yet, so no member repeats inside the batch.
    """
    total = int(rows.sum())
    cycles = -(-total // size)
    if defect == "with_replacement":
        return rng.integers(0, size, total)
    if defect == "no_reshuffle":
        return np.tile(rng.permutation(size), cycles)[:total]
    perm = rng.permuted(np.tile(np.arange(size), (cycles, 1)), axis=1)
    if defect == "alternating_cycles":
        perm = perm[np.arange(cycles) % 2].copy()  # cycles A, B, A, B, ...
    if defect == "four_permutations":
        perm = perm[np.arange(cycles) % 4].copy()  # A, B, C, D, A, ...
    if defect == "small_class_repeats" and size < 16:
        perm = perm[np.zeros(cycles, dtype=np.int64)].copy()
    if defect == "paired_shuffle":
        # One base order; each cycle only swaps member i of its first half with member i of
        # its second half, or not.
        base, half = rng.permutation(size), size // 2
        first, second = np.arange(half), np.arange(half) + size - half
        swap = rng.random((cycles, half)) < 0.5
        order = np.tile(np.arange(size), (cycles, 1))
        order[:, first] = np.where(swap, second, first)
        order[:, second] = np.where(swap, first, second)
        perm = base[order]
    if defect != "repeats_at_wrap":
        starts = np.cumsum(rows) - rows
        for j in range(1, cycles):
            edge = j * size
            k = int(np.searchsorted(starts, edge, side="right")) - 1
            begin, count = int(starts[k]), int(rows[k])
            if not begin < edge < begin + count or count > size:
                continue
            tail = set(perm[j - 1, size - (edge - begin) :].tolist())
            head = begin + count - edge
            if defect == "partial_dedupe":
                # Moves the head's clashes out to just behind it; the members that move up
                # into the head are not checked against the batch.
                row = perm[j].tolist()
                moved = [m for m in row[:head] if m in tail]
                rest = [m for m in row if m not in moved]
                perm[j] = rest[:head] + moved + rest[head:]
                continue
            clash = [i for i in range(head) if perm[j, i] in tail]
            free = [i for i in range(head, size) if perm[j, i] not in tail]
            for i, f in zip(clash, rng.permutation(free)[: len(clash)], strict=False):
                perm[j, i], perm[j, f] = perm[j, f], perm[j, i]
    return perm.ravel()[:total]


def _sample(
    labels: IntVector,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int | None,
    defect: str = "",
    samples_per_class: int | None = None,
    epoch: int = 0,
) -> IntMatrix:
    """The contract in a few lines of numpy, with at most one ``defect`` switched on.

    An alpha schedule is read at ``epoch`` (the batches API is epoch 0).
    """
    properties = _kinds.get(kind).properties
    rng = np.random.default_rng(seed)
    if callable(alpha):
        alpha = float(alpha(epoch))
    class_counts = np.bincount(labels)
    k = class_counts.size
    if defect == "inverted_alpha":
        alpha = 1.0 - alpha
    if defect == "ignores_alpha":
        alpha = 1.0
    if defect == "counts_by_frequency":  # Counter.most_common() counts, read by class id
        target = interpolate(np.sort(class_counts)[::-1], alpha)
    else:
        target = interpolate(class_counts, alpha)
    if defect == "drops_tiny_class" and (class_counts >= 5).any():
        target = np.where(class_counts < 5, 0.0, target)
        target /= target.sum()
    members = [np.flatnonzero(labels == c) for c in range(k)]
    if _kinds.PROPERTY_IID_CLASSES in properties:
        return _sample_iid(rng, labels, target, batch_size, n_batches, defect)
    if _kinds.PROPERTY_FIXED_COUNTS in properties:
        if defect == "np_round":
            counts = np.round(batch_size * target).astype(np.int64)
            counts[int(np.argmax(counts))] += batch_size - int(counts.sum())
        elif defect == "low_index_ties":
            counts = allocate(target, batch_size)
        else:
            counts = _fixed_counts(target, batch_size, rng, defect)
        rows = np.broadcast_to(counts, (n_batches, k))
        if defect == "varying_fixed_counts":
            rows = quota_rows(target, batch_size, n_batches, rng)
    elif _kinds.PROPERTY_PK_SHAPE in properties:
        rows = _pk_rows(target, batch_size, n_batches, samples_per_class, rng, defect)
    elif _kinds.PROPERTY_QUOTA_COUNTS in properties:
        if defect == "quota_drift":
            # Largest remainder in every batch on its own: no memory of earlier batches.
            rows = np.broadcast_to(allocate_loose(target, batch_size), (n_batches, k))
        else:
            rows = _scheduled_rows(target, batch_size, n_batches, rng, defect)
    else:
        raise NotImplementedError(f"the control has no counts rule for kind {kind!r}")
    out = np.empty((n_batches, batch_size), dtype=np.int64)
    slot = np.cumsum(rows, axis=1) - rows
    for c in np.flatnonzero(rows.sum(axis=0)):
        total = int(rows[:, c].sum())
        stream = _stream(rng, int(members[c].size), rows[:, c], defect)
        batch_of = np.repeat(np.arange(n_batches), rows[:, c])
        within = np.arange(total) - (np.cumsum(rows[:, c]) - rows[:, c])[batch_of]
        out[batch_of, slot[batch_of, c] + within] = members[c][stream]
    return _order(rng, labels, out, defect)


def _sample_iid(
    rng: np.random.Generator,
    labels: IntVector,
    target: FloatVector,
    batch_size: int,
    n_batches: int,
    defect: str,
) -> IntMatrix:
    class_counts = np.bincount(labels)
    k = class_counts.size
    if defect == "biased_target":
        # Reads the target from a rounded table: +1.5 points on the smallest class.
        target = target.copy()
        target[int(np.argmin(target))] += 0.015
        target /= target.sum()
    draws = n_batches * batch_size
    if defect == "stratified_random":
        rows = quota_rows(target, batch_size, n_batches, rng)
        classes = rng.permuted(
            np.repeat(np.tile(np.arange(k), n_batches), rows.ravel()).reshape(
                n_batches, batch_size
            ),
            axis=1,
        ).ravel()
    else:
        classes = rng.choice(k, size=draws, p=target)
    if defect == "repeated_batch_classes":
        grid = classes.reshape(n_batches, batch_size)
        grid[1::2] = grid[: n_batches // 2 * 2 : 2]
        classes = grid.ravel()
    u = rng.random(draws)
    if defect == "nonuniform_members":
        u = u**2  # favours the first members of every class
    within = np.floor(u * class_counts[classes]).astype(np.int64)
    if defect == "random_in_cycles":
        # Members from shuffled cycles per class: never a repeat until the class is used up.
        for c in range(k):
            mine = np.flatnonzero(classes == c)
            cycles = -(-mine.size // class_counts[c])
            perm = rng.permuted(np.tile(np.arange(class_counts[c]), (cycles, 1)), axis=1)
            within[mine] = perm.ravel()[: mine.size]
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
    batches = flat.reshape(n_batches, batch_size)
    if defect in ("same_batch", "sorted_by_class", "class_blocks"):
        return _order(rng, labels, batches, defect)
    # I.i.d. draws are already in uniform order; a shuffle would hide serial defects.
    return batches


def _order(rng: np.random.Generator, labels: IntVector, out: IntMatrix, defect: str) -> IntMatrix:
    """The within-batch order: a uniform shuffle, unless a defect says otherwise."""
    if defect == "same_batch":
        out[:] = out[0]
    if defect == "sorted_by_class":
        return out[np.arange(out.shape[0])[:, None], np.argsort(labels[out], axis=1)]
    if defect == "class_blocks":
        # Each batch is its classes' blocks in random block order: counts and slot shares
        # look right, but members of a class always sit together.
        key = rng.random((out.shape[0], int(labels.max()) + 1))
        rank = key[np.arange(out.shape[0])[:, None], labels[out]]
        return out[np.arange(out.shape[0])[:, None], np.argsort(rank, axis=1, kind="stable")]
    return rng.permuted(out, axis=1)


def allocate_loose(target: FloatVector, batch_size: int) -> IntVector:
    """Largest-remainder rounding without the floor of one (a valid quota row, but static)."""
    quotas = batch_size * target
    floors = np.floor(quotas).astype(np.int64)
    order = np.argsort(-(quotas - floors), kind="stable")
    floors[order[: batch_size - int(floors.sum())]] += 1
    return floors


def control(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """A correct implementation of every kind the kit checks (the mutants' control group).

    Examples
    --------
    >>> import numpy as np
    >>> from refsampler.conformance.mutants import control
    >>> labels = np.array([0, 0, 0, 1, 1, 2])
    >>> batches = control(labels, kind="fixed", alpha=1.0, batch_size=3, n_batches=2, seed=0)
    >>> [sorted(labels[b].tolist()) for b in batches]
    [[0, 1, 2], [0, 1, 2]]
    """
    return _sample(
        labels, kind, alpha, batch_size, n_batches, seed, samples_per_class=samples_per_class
    ).tolist()


def _mutant(defect: str, doc: str, name: str | None = None) -> MakeBatches:
    def make_batches(
        labels: IntVector,
        *,
        kind: str,
        alpha: Any,
        batch_size: int,
        n_batches: int,
        seed: int,
        samples_per_class: int | None = None,
    ) -> list[list[int]]:
        return _sample(
            labels,
            kind,
            alpha,
            batch_size,
            n_batches,
            seed,
            defect,
            samples_per_class=samples_per_class,
        ).tolist()

    make_batches.__name__ = make_batches.__qualname__ = name or defect
    make_batches.__doc__ = doc
    return make_batches


np_round = _mutant(
    "np_round",
    "Fixed kind rounds with np.round and gives the remainder to the largest class (the "
    "original's defect): tiny classes get 0 and counts leave {floor, ceil}.",
)
tail_boost = _mutant(
    "tail_boost",
    "Fixed kind moves the largest class's leftover seat to the smallest class: every count "
    "floor or ceil, but [5,3,2,1,1,1,1,2] where largest remainder gives [6,3,2,1,1,1,1,1].",
)
random_rounding = _mutant(
    "random_rounding",
    "Fixed kind hands the leftover seats to classes drawn in proportion to their fractional "
    "parts (stochastic rounding), once per run: every count floor or ceil, and about four "
    "seeds in ten of the long-tail configuration get the largest remainder anyway.",
)
id_order_seats = _mutant(
    "id_order_seats",
    "Fixed kind gives the leftover seats to the lowest class ids (at random only among exact "
    "ties): right wherever remainders fall with the class id, as in most configurations.",
)
low_index_ties = _mutant(
    "low_index_ties",
    "Fixed kind breaks exact ties by class index, the same way for every seed.",
)
rotating_ties = _mutant(
    "rotating_ties",
    "Fixed kind gives the seats of an exact tie to a window of consecutive tied classes from a "
    "seeded offset: the winners change with the seed, but only T of the C(T, s) choices can "
    "come out (8 of 70 on tied-remainders).",
)
varying_fixed_counts = _mutant(
    "varying_fixed_counts",
    "Fixed kind uses a quota schedule: counts change from batch to batch.",
)
drops_tiny_class = _mutant(
    "drops_tiny_class", "Classes with fewer than 5 samples are silently dropped (renormalised)."
)
ignores_alpha = _mutant("ignores_alpha", "Always balances uniformly: alpha is ignored.")
counts_by_frequency = _mutant(
    "counts_by_frequency",
    "Takes the class counts from Counter.most_common() (largest first) and reads them by "
    "class id: right only where counts fall with the class id.",
)
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
random_in_cycles = _mutant(
    "random_in_cycles",
    "Random kind draws members from shuffled cycles (no repeat until a class is used up), "
    "not with replacement: shares are right, members too evenly spread.",
)
serial_repeat = _mutant(
    "serial_repeat", "Random kind repeats the previous draw with probability 0.1."
)
stratified_random = _mutant(
    "stratified_random",
    "Random kind takes its per-batch class counts from a quota schedule: shares right, "
    "batches far more even than i.i.d. draws.",
)
repeated_batch_classes = _mutant(
    "repeated_batch_classes",
    "Random kind reuses each even batch's class sequence in the next batch (new members).",
)
with_replacement = _mutant(
    "with_replacement", "Fixed and quota kinds draw members with replacement, not in cycles."
)
no_reshuffle = _mutant(
    "no_reshuffle",
    "One permutation per class, reused on every cycle wrap (the original's defect).",
)
alternating_cycles = _mutant(
    "alternating_cycles",
    "Two permutations per class, taking turns: every cycle repeats the one two before it.",
)
four_permutations = _mutant(
    "four_permutations",
    "Four permutations per class, taking turns: every cycle repeats the one four before it.",
)
small_class_repeats = _mutant(
    "small_class_repeats",
    "Classes under 16 members reuse one permutation on every wrap; larger ones reshuffle.",
)
paired_shuffle = _mutant(
    "paired_shuffle",
    "Each cycle only swaps fixed pairs of members (i and i + n/2 of one base order): no cycle "
    "repeats, yet a member only ever takes two offsets in its cycle.",
)
repeats_at_wrap = _mutant(
    "repeats_at_wrap",
    "A cycle that ends inside a batch starts its next permutation anywhere: a member can "
    "appear twice in one batch although its class has enough members.",
)
partial_dedupe = _mutant(
    "partial_dedupe",
    "A cycle that ends inside a batch moves the batch's members out of the next cycle's head "
    "by dropping them behind it: the members that move up take their places unchecked, so "
    "once two or more of the class are in the batch one can appear twice.",
)
same_batch = _mutant("same_batch", "Yields the first batch over and over.")
sorted_by_class = _mutant(
    "sorted_by_class", "No within-batch shuffle: batches are sorted by class."
)
class_blocks = _mutant(
    "class_blocks",
    "Batches are blocks of one class in random block order ([3,3,0,0,4,4,1,1,2,2]): "
    "counts and slot shares right, order not a uniform shuffle.",
)
quota_drift = _mutant(
    "quota_drift",
    "Quota kind rounds every batch on its own (largest remainder, no floor of one): each row "
    "is within quota but the prefix error grows without bound.",
)
locked_rotation = _mutant(
    "locked_rotation",
    "Quota kind breaks schedule ties by class index: one rotation for every seed (10 uniform "
    "classes, 4 seats: classes 0 and 1 always together, 0 never with 5).",
)
index_ties_at_start = _mutant(
    "index_ties_at_start",
    "Quota kind breaks schedule ties by class index in its first 8 batches and at random "
    "after them: every seed starts with the same classes (10 uniform classes, 4 seats: 0-3, "
    "4-7, then 8, 9, 0, 1), while over the run the classes meet and nothing is locked.",
)

pk_with_replacement = _mutant(
    "with_replacement",
    "P x m kind draws the m members of a class with replacement, not from its cycle.",
    "pk_with_replacement",
)
pk_locked_rotation = _mutant(
    "locked_rotation",
    "P x m kind breaks appearance-schedule ties by class index: one rotation for every seed "
    "(10 uniform classes, P = 4: some pairs of classes never share a batch).",
    "pk_locked_rotation",
)
pk_index_ties_at_start = _mutant(
    "index_ties_at_start",
    "P x m kind breaks appearance-schedule ties by class index in its first 8 batches and at "
    "random after them: every seed starts with the same classes.",
    "pk_index_ties_at_start",
)
pk_class_twice = _mutant(
    "class_twice",
    "P x m kind gives one class two of the P slots of every batch (2m members of it, P - 1 "
    "classes).",
    "pk_class_twice",
)
pk_appearance_drift = _mutant(
    "appearance_drift",
    "P x m kind rounds every batch on its own: the P classes with the largest rates appear in "
    "every batch, the others never (the appearance bound drifts without limit).",
    "pk_appearance_drift",
)


def unseeded(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Ignores ``seed`` and draws from fresh OS entropy: runs are not reproducible."""
    return _sample(
        labels, kind, alpha, batch_size, n_batches, None, samples_per_class=samples_per_class
    ).tolist()


def constant_seed(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Ignores ``seed`` and always uses seed 1234: every seed gives the same batches."""
    return _sample(
        labels, kind, alpha, batch_size, n_batches, 1234, samples_per_class=samples_per_class
    ).tolist()


def low_seed_bits(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Keeps only the low 16 bits of ``seed`` (``seed % 2**16``): seeds 2**16 apart give the
    same batches."""
    return _sample(
        labels,
        kind,
        alpha,
        batch_size,
        n_batches,
        seed % 2**16,
        samples_per_class=samples_per_class,
    ).tolist()


def seed_only_orders(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Draws the batches of seed 0 for every seed; ``seed`` only shuffles the positions inside
    each batch and, for i.i.d. kinds (whose batch order is free), the order of the batches:
    other seeds, other orders, the same batch contents."""
    batches = _sample(
        labels, kind, alpha, batch_size, n_batches, 0, samples_per_class=samples_per_class
    )
    rng = np.random.default_rng(seed)
    if _kinds.PROPERTY_IID_CLASSES in _kinds.get(kind).properties:
        batches = batches[rng.permutation(n_batches)]
    return rng.permuted(batches, axis=1).tolist()


def seed_shifts_batches(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Batch ``k`` of seed ``s`` is batch ``k + s mod 997`` of one stream (as a generator
    seeded by ``seed + k`` for batch ``k`` gives): seed ``s + 1`` is seed ``s`` shifted by one
    batch, so two seeds share almost every batch, in other places. (On counted kinds the
    shift also cuts the first cycle short, which the cycle checks see.)"""
    shift = seed % 997
    batches = _sample(
        labels,
        kind,
        alpha,
        batch_size,
        n_batches + 996,  # one stream for every seed: its length must not depend on the seed
        0,
        samples_per_class=samples_per_class,
    )
    return batches[shift : shift + n_batches].tolist()


#: Batches :func:`diverges_late` keeps reproducible: as many as the kit's short re-runs.
_REPRODUCIBLE_BATCHES = 256


def diverges_late(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Reproducible for its first 256 batches only: later batches are shuffled inside with
    fresh OS entropy (a sampler that falls back to unseeded randomness mid-run)."""
    batches = _sample(
        labels, kind, alpha, batch_size, n_batches, seed, samples_per_class=samples_per_class
    )
    late = batches[_REPRODUCIBLE_BATCHES:]
    batches[_REPRODUCIBLE_BATCHES:] = np.random.default_rng().permuted(late, axis=1)
    return batches.tolist()


def extra_batch(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Off by one: yields ``n_batches + 1`` batches."""
    return _sample(
        labels, kind, alpha, batch_size, n_batches + 1, seed, samples_per_class=samples_per_class
    ).tolist()


def short_batches(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Wrong batch size: drops the last position of every batch."""
    return _sample(
        labels, kind, alpha, batch_size, n_batches, seed, samples_per_class=samples_per_class
    )[:, :-1].tolist()


def nested_batches(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[list[int]]]:
    """Returns every batch nested, as rows of 2 positions (of 1 for an odd batch size): the
    right positions once flattened, but no ``DataLoader`` can index a dataset with them."""
    width = 2 if batch_size % 2 == 0 else 1
    batches = _sample(
        labels, kind, alpha, batch_size, n_batches, seed, samples_per_class=samples_per_class
    )
    return [batch.reshape(-1, width).tolist() for batch in batches]


def float_positions(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[float]]:
    """Returns positions as floats (``3.0`` for 3): the right numbers, but no ``DataLoader``
    can index a dataset with them."""
    return (
        _sample(
            labels, kind, alpha, batch_size, n_batches, seed, samples_per_class=samples_per_class
        )
        .astype(np.float64)
        .tolist()
    )


def one_based(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Out-of-range positions: indexes from 1 (so position N appears, 0 never)."""
    return (
        _sample(
            labels, kind, alpha, batch_size, n_batches, seed, samples_per_class=samples_per_class
        )
        + 1
    ).tolist()


def mutates_labels(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Shuffles the caller's labels in place (the original shuffled the caller's lists)."""
    batches = _sample(
        labels, kind, alpha, batch_size, n_batches, seed, samples_per_class=samples_per_class
    ).tolist()
    np.random.default_rng(seed).shuffle(labels)
    return batches


def seeds_global_numpy(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Calls ``numpy.random.seed(seed)`` and draws its batch shuffles from numpy's global
    generator: reproducible, but it resets the caller's global random state on every call."""
    batches = _sample(
        labels, kind, alpha, batch_size, n_batches, seed, samples_per_class=samples_per_class
    )
    np.random.seed(seed % 2**32)  # noqa: NPY002
    for row in batches:
        np.random.shuffle(row)  # noqa: NPY002
    return batches.tolist()


def crashes_on_short_runs(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Raises ``ValueError`` for runs of fewer than 300 batches (the kit's re-runs)."""
    if n_batches < 300:
        raise ValueError(f"n_batches={n_batches} is too small for the warm-up")
    return control(
        labels,
        kind=kind,
        alpha=alpha,
        batch_size=batch_size,
        n_batches=n_batches,
        seed=seed,
        samples_per_class=samples_per_class,
    )


def declines_late(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> Iterator[list[int]]:
    """Raises a bare ``NotImplementedError`` after 1000 batches (an unfinished code path
    reached mid-run): a crash, not a decline, since batches were already produced."""
    batches = control(
        labels,
        kind=kind,
        alpha=alpha,
        batch_size=batch_size,
        n_batches=n_batches,
        seed=seed,
        samples_per_class=samples_per_class,
    )
    for k, batch in enumerate(batches):
        if k == 1000:
            raise NotImplementedError
        yield batch


#: Every mutant by name: each exits 1 under ``refsampler verify``.
MUTANTS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        np_round,
        tail_boost,
        random_rounding,
        id_order_seats,
        low_index_ties,
        rotating_ties,
        varying_fixed_counts,
        drops_tiny_class,
        counts_by_frequency,
        ignores_alpha,
        inverted_alpha,
        biased_target,
        nonuniform_members,
        random_in_cycles,
        serial_repeat,
        stratified_random,
        repeated_batch_classes,
        with_replacement,
        no_reshuffle,
        alternating_cycles,
        repeats_at_wrap,
        partial_dedupe,
        same_batch,
        sorted_by_class,
        class_blocks,
        quota_drift,
        locked_rotation,
        index_ties_at_start,
        unseeded,
        constant_seed,
        low_seed_bits,
        seed_only_orders,
        seed_shifts_batches,
        diverges_late,
        extra_batch,
        short_batches,
        nested_batches,
        float_positions,
        one_based,
        mutates_labels,
        seeds_global_numpy,
        crashes_on_short_runs,
        declines_late,
        pk_with_replacement,
        pk_locked_rotation,
        pk_index_ties_at_start,
        pk_class_twice,
        pk_appearance_drift,
        four_permutations,
        small_class_repeats,
        paired_shuffle,
    )
}


# -- partial implementations: correct where they run ---------------------------------------


def only_alpha_one(make_batches: Callable[..., Any], name: str | None = None) -> MakeBatches:
    """Wrap an implementation so that it declines every ``alpha`` other than 1.

    Examples
    --------
    >>> import numpy as np
    >>> from refsampler.conformance.mutants import control, only_alpha_one
    >>> uniform_only = only_alpha_one(control)
    >>> uniform_only(np.array([0, 1]), kind="fixed", alpha=0.5, batch_size=2, n_batches=1,
    ...              seed=0)
    Traceback (most recent call last):
    ...
    NotImplementedError: only alpha = 1 (uniform classes); got alpha = 0.5
    """

    def make(
        labels: IntVector,
        *,
        kind: str,
        alpha: Any,
        batch_size: int,
        n_batches: int,
        seed: int,
        samples_per_class: int | None = None,
    ) -> list[list[int]]:
        if callable(alpha) or alpha != 1.0:
            raise NotImplementedError(f"only alpha = 1 (uniform classes); got alpha = {alpha}")
        extra = {} if samples_per_class is None else {"samples_per_class": samples_per_class}
        batches = make_batches(
            labels,
            kind=kind,
            alpha=alpha,
            batch_size=batch_size,
            n_batches=n_batches,
            seed=seed,
            **extra,
        )
        return [list(map(int, b)) for b in batches]

    make.__name__ = make.__qualname__ = name or f"only_alpha_one({make_batches.__name__})"
    make.__doc__ = "Declines alpha != 1; otherwise " + (make_batches.__name__ or "the original")
    return make


alpha_one_control = only_alpha_one(control, "alpha_one_control")


def alpha_one_refsampler(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """refsampler's own sampler, declining every alpha other than 1."""
    from .adapters import refsampler

    wrapped = only_alpha_one(refsampler)
    return wrapped(
        labels,
        kind=kind,
        alpha=alpha,
        batch_size=batch_size,
        n_batches=n_batches,
        seed=seed,
        samples_per_class=samples_per_class,
    )


def declines_everything(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Declines every configuration: nothing can be tested (exit 3)."""
    raise NotImplementedError("not implemented yet")


def inverse_count_weights(labels: IntVector, alpha: float) -> FloatVector:
    """The 1/count recipe for ``WeightedRandomSampler`` (``--api weights``): alpha = 1 only.

    ``w_i = 1 / n_{y_i}`` makes every class equally likely, which is the target at alpha = 1
    and no other alpha.
    """
    if callable(alpha) or alpha != 1.0:
        raise NotImplementedError("1/count weights give alpha = 1 only")
    counts = np.bincount(labels)
    return np.asarray(1.0 / counts[labels], dtype=np.float64)


def imbalanced_dataset_sampler(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """torchsampler's ``ImbalancedDatasetSampler`` recipe: 1/count weights drawn with
    replacement by ``torch.multinomial``, batched in order (random kind, alpha = 1 only)."""
    if _kinds.PROPERTY_IID_CLASSES not in _kinds.get(kind).properties:
        raise NotImplementedError("ImbalancedDatasetSampler draws i.i.d. (random kind only)")
    weights = inverse_count_weights(labels, alpha)
    import torch

    generator = torch.Generator().manual_seed(seed)
    drawn = torch.multinomial(
        torch.as_tensor(weights), n_batches * batch_size, replacement=True, generator=generator
    )
    return drawn.reshape(n_batches, batch_size).tolist()


#: Correct implementations that decline some configurations, by name.
PARTIAL: dict[str, Callable[..., Any]] = {
    "alpha_one_control": alpha_one_control,
    "alpha_one_refsampler": alpha_one_refsampler,
    "declines_everything": declines_everything,
    "imbalanced_dataset_sampler": imbalanced_dataset_sampler,
}


# -- broken adapters -----------------------------------------------------------------------


def exits(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Calls ``sys.exit(3)``: an adapter error (exit 2), never a silent verdict."""
    raise SystemExit(3)


def hangs(
    labels: IntVector,
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """Never returns for runs of fewer than 300 batches (the kit's re-runs): ``--timeout``
    turns that into a failed ``runs`` check."""
    if n_batches < 300:
        deadline = time.monotonic() + 3600.0
        while time.monotonic() < deadline:
            time.sleep(0.01)
    return control(
        labels,
        kind=kind,
        alpha=alpha,
        batch_size=batch_size,
        n_batches=n_batches,
        seed=seed,
        samples_per_class=samples_per_class,
    )


class ShufflingFactory:
    """pytorch_balanced_sampler's factory API (``--api factory``), correct except that
    ``get`` shuffles the caller's ``class_idxs`` lists in place (the original's defect)."""

    def get(
        self,
        class_idxs: list[list[int]],
        batch_size: int,
        n_batches: int,
        alpha: float,
        kind: str,
        seed: int = 0,
    ) -> list[list[int]]:
        """Batches of ``kind``; shuffles ``class_idxs`` first."""
        rng = np.random.default_rng(seed)
        for members in class_idxs:
            rng.shuffle(members)
        return _from_class_idxs(class_idxs, batch_size, n_batches, alpha, kind, seed)


class KindRejectingFactory:
    """A correct factory (``--api factory``) that has no ``quota`` kind and says so the way
    pytorch_balanced_sampler does: ``Exception("Received kind quota, must be random or
    fixed")``."""

    def get(
        self,
        class_idxs: list[list[int]],
        batch_size: int,
        n_batches: int,
        alpha: float,
        kind: str,
        seed: int = 0,
    ) -> list[list[int]]:
        """Batches of ``kind``; raises for ``quota``."""
        if kind not in ("random", "fixed"):
            raise Exception(f"Received kind {kind}, must be `random` or `fixed`")
        return _from_class_idxs(class_idxs, batch_size, n_batches, alpha, kind, seed)


class CrashingFactory:
    """A factory (``--api factory``) that crashes with ``ValueError`` on a class of a single
    sample, its message naming the kind: a crash, not pytorch_balanced_sampler's refusal of a
    kind, so it fails ``runs`` where the kind is not declined."""

    def get(
        self,
        class_idxs: list[list[int]],
        batch_size: int,
        n_batches: int,
        alpha: float,
        kind: str,
        seed: int = 0,
    ) -> list[list[int]]:
        """Batches of ``kind``; raises for a class of one sample."""
        if min(len(members) for members in class_idxs) < 2:
            raise ValueError(f"cannot build {kind} batches: class with a single sample")
        return _from_class_idxs(class_idxs, batch_size, n_batches, alpha, kind, seed)


def _from_class_idxs(
    class_idxs: list[list[int]],
    batch_size: int,
    n_batches: int,
    alpha: float,
    kind: str,
    seed: int,
) -> list[list[int]]:
    index = np.concatenate([np.asarray(m, dtype=np.int64) for m in class_idxs])
    labels = np.repeat(np.arange(len(class_idxs)), [len(m) for m in class_idxs])
    order = np.argsort(index, kind="stable")
    batches = _sample(labels[order], kind, alpha, batch_size, n_batches, seed)
    return index[order][batches].tolist()


# -- sampler mutants (--api sampler) ------------------------------------------------------


class Wrapped:
    """A :class:`~refsampler.BalancedBatchSampler` behind the sampler protocol, with hooks a
    mutant overrides: ``epoch_of(e)`` (what ``set_epoch`` passes on, None to drop it),
    ``state_in(state)`` (what ``load_state_dict`` passes on), ``length`` and ``yielded``."""

    def __init__(self, inner: Any, *, drop: int = 0, length_bonus: int = 0) -> None:
        self.inner, self.drop, self.length_bonus = inner, drop, length_bonus

    def epoch_of(self, epoch: int) -> int | None:
        """The epoch handed to the inner sampler."""
        return epoch

    def set_epoch(self, epoch: int) -> None:
        """Choose the next pass's epoch (through :meth:`epoch_of`)."""
        chosen = self.epoch_of(epoch)
        if chosen is not None:
            self.inner.set_epoch(chosen)

    def __iter__(self) -> Iterator[list[int]]:
        if not self.drop:
            return iter(self.inner)  # lazily, so state_dict() follows the batches taken
        batches = list(self.inner)
        return iter(batches[: len(batches) - self.drop])

    def __len__(self) -> int:
        return len(self.inner) - self.drop + self.length_bonus

    def state_dict(self) -> dict[str, Any]:
        """The inner sampler's state."""
        return dict(self.inner.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore (through :meth:`state_in`)."""
        self.inner.load_state_dict(self.state_in(dict(state)))

    def state_in(self, state: dict[str, Any]) -> dict[str, Any]:
        """The state handed to the inner sampler."""
        return state


def _inner(labels: Any, **kwargs: Any) -> Any:
    from .adapters import refsampler_sampler

    return refsampler_sampler(labels, **kwargs)


def replays_epoch_0(labels: Any, **kwargs: Any) -> Wrapped:
    """``set_epoch`` is ignored and every pass starts epoch 0 again: a replay every epoch."""

    class Replay(Wrapped):
        def epoch_of(self, epoch: int) -> int | None:
            return 0

        def __iter__(self) -> Iterator[list[int]]:
            self.inner.set_epoch(0)
            return super().__iter__()

    return Replay(_inner(labels, **kwargs))


def ignores_set_epoch(labels: Any, **kwargs: Any) -> Wrapped:
    """``set_epoch`` does nothing: passes advance on their own, so a fresh sampler asked for
    epoch e (a restarted job) yields epoch 0."""

    class Ignore(Wrapped):
        def epoch_of(self, epoch: int) -> int | None:
            return None

    return Ignore(_inner(labels, **kwargs))


def unequal_rank_lengths(labels: Any, **kwargs: Any) -> Wrapped:
    """The last rank drops its last batch (its shard came out one batch short): DDP hangs."""
    last = kwargs["rank"] == kwargs["num_replicas"] - 1 and kwargs["num_replicas"] > 1
    return Wrapped(_inner(labels, **kwargs), drop=int(last))


def seed_plus_epoch(labels: Any, **kwargs: Any) -> Wrapped:
    """Epoch ``e`` comes from a generator seeded by ``seed + e`` (a common recipe): every
    epoch differs, and resumes are exact, but seed ``s + 1``'s epoch 0 is seed ``s``'s
    epoch 1."""
    return _reseeded_per_epoch(labels, kwargs, operator.add)


def seed_xor_epoch(labels: Any, **kwargs: Any) -> Wrapped:
    """Epoch ``e`` comes from a generator seeded by ``seed ^ e``: as :func:`seed_plus_epoch`,
    but for an odd seed ``s`` it is seed ``s - 1``'s epoch 0 that is seed ``s``'s epoch 1."""
    return _reseeded_per_epoch(labels, kwargs, operator.xor)


def _reseeded_per_epoch(
    labels: Any, kwargs: dict[str, Any], combine: Callable[[int, int], int]
) -> Wrapped:
    """A fresh sampler every epoch ``e``, seeded by ``combine(seed, e)``, resumable."""
    kwargs = dict(kwargs)
    seed = kwargs.pop("seed")

    class Reseeded(Wrapped):
        def __init__(self) -> None:
            super().__init__(_inner(labels, seed=seed, **kwargs))
            self.epoch = self.next_epoch = 0  # epoch of self.inner's pass; of the next pass
            self.resume = False  # self.inner holds a restored position of self.epoch

        def _start(self, epoch: int) -> None:
            self.epoch = epoch
            self.inner = _inner(labels, seed=combine(seed, epoch), **kwargs)
            self.inner.set_epoch(0)

        def set_epoch(self, epoch: int) -> None:
            self.resume = self.resume and epoch == self.epoch
            self.next_epoch = epoch

        def __iter__(self) -> Iterator[list[int]]:
            if not self.resume:
                self._start(self.next_epoch)
            self.resume, self.next_epoch = False, self.epoch + 1
            return iter(self.inner)

        def state_dict(self) -> dict[str, Any]:
            inner = self.inner.state_dict()
            if inner["epoch"] >= 1:  # the pass is over: the next one starts afresh
                return {"epoch": self.next_epoch, "inner": None}
            return {"epoch": self.epoch, "inner": inner}

        def load_state_dict(self, state: dict[str, Any]) -> None:
            self.next_epoch = int(state["epoch"])
            self.resume = state["inner"] is not None
            if self.resume:
                self._start(self.next_epoch)
                self.inner.load_state_dict(state["inner"])

    return Reseeded()


def same_classes_every_rank(labels: Any, *, shift: int = 0, **kwargs: Any) -> Wrapped:
    """Every rank draws rank 0's classes, slot for slot, each position swapped for a member of
    its class drawn by the rank's own generator: each rank alone is right, but the ranks of a
    step see the same classes (a shared class generator, per-rank member generators). With
    ``shift``, rank ``r`` reads them ``r * shift`` steps later."""
    world, rank = kwargs.pop("num_replicas"), kwargs.pop("rank")
    array = np.asarray(labels)
    order = np.argsort(array, kind="stable")
    starts = np.searchsorted(array[order], np.arange(int(array.max()) + 1))
    sizes = np.bincount(array)

    class SameClasses(Wrapped):
        epoch = 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch
            super().set_epoch(epoch)

        def __iter__(self) -> Iterator[list[int]]:
            epoch = self.epoch  # the member generator's epoch; passes move on as refsampler's
            self.epoch = epoch + 1
            batches = iter(self.inner)
            if rank == 0:
                return batches
            rng = np.random.default_rng([kwargs["seed"], rank, epoch])
            if shift:  # rank r reads the shared classes r steps after rank 0
                whole = list(batches)
                batches = iter(whole[rank * shift :] + whole[: rank * shift])
            return (self._swap(b, rng) for b in batches)

        @staticmethod
        def _swap(batch: list[int], rng: np.random.Generator) -> list[int]:
            cls = array[batch]
            picks = starts[cls] + (rng.random(cls.size) * sizes[cls]).astype(np.int64)
            return order[picks].tolist()

    return SameClasses(_inner(labels, num_replicas=world, rank=0, **kwargs))


def classes_a_step_apart_on_ranks(labels: Any, **kwargs: Any) -> Wrapped:
    """As :func:`same_classes_every_rank`, but rank ``r`` reads the shared classes ``r`` steps
    after rank 0 (batch ``k`` of rank 1 has rank 0's classes of batch ``k + 1``): no two ranks
    see the same classes at a step, yet the global stream repeats every class draw."""
    return same_classes_every_rank(labels, shift=1, **kwargs)


def splits_the_epoch(labels: Any, **kwargs: Any) -> Wrapped:
    """Under W ranks each rank yields ``n_batches // W`` batches (and says so in ``len()``), as
    ``DistributedSampler`` splits an epoch: the ranks agree with each other, but every rank
    trains on a W-th of the batches it was asked for."""
    world, n = kwargs["num_replicas"], kwargs["n_batches"]
    return Wrapped(_inner(labels, **kwargs), drop=n - n // world)


def len_counts_every_rank(labels: Any, **kwargs: Any) -> Wrapped:
    """``len()`` counts the batches of all ranks (``n_batches * W``), not this rank's."""
    world, n = kwargs["num_replicas"], kwargs["n_batches"]
    return Wrapped(_inner(labels, **kwargs), length_bonus=n * (world - 1))


def len_lies(labels: Any, **kwargs: Any) -> Wrapped:
    """``len()`` says one batch more than a pass yields."""
    return Wrapped(_inner(labels, **kwargs), length_bonus=1)


def ranks_share_members(labels: Any, **kwargs: Any) -> Wrapped:
    """Every rank runs its own single-replica sampler (seed + rank): the ranks' cycles are
    independent, so one member goes to two ranks within a cycle."""
    world, rank = kwargs.pop("num_replicas"), kwargs.pop("rank")
    kwargs["seed"] = kwargs["seed"] + rank * (world > 1)
    return Wrapped(_inner(labels, num_replicas=1, rank=0, **kwargs))


def per_shard_renormalisation(labels: Any, **kwargs: Any) -> Any:
    """Each rank balances its own shard (positions ``rank::W``, DistributedSampler-style) with
    the target renormalised over the shard's classes."""
    world, rank = kwargs.pop("num_replicas"), kwargs.pop("rank")
    positions = np.arange(len(labels))[rank::world]
    shard = np.asarray(labels)[positions]
    if world > 1:
        # The shard's classes, renumbered 0..K'-1 (a class missing from the shard is gone).
        _, shard = np.unique(shard, return_inverse=True)
    inner = _inner(shard, num_replicas=1, rank=0, **kwargs)

    class Shard(Wrapped):
        def __iter__(self) -> Iterator[list[int]]:
            return iter([positions[b].tolist() for b in self.inner])

    return Shard(inner)


class _ResumesLate(Wrapped):
    def state_in(self, state: dict[str, Any]) -> dict[str, Any]:
        if 0 < state["batches_yielded"] < len(self.inner):
            state["batches_yielded"] += 1
        return state


def resume_off_by_one(labels: Any, **kwargs: Any) -> Wrapped:
    """``load_state_dict`` resumes one batch late (a batch is skipped)."""
    return _ResumesLate(_inner(labels, **kwargs))


def resume_off_by_one_without_len(labels: Any, **kwargs: Any) -> Wrapped:
    """:func:`resume_off_by_one` whose ``__len__`` raises ``NotImplementedError`` (a length
    "not known", as many custom samplers say): a broken ``len`` must not hide the resume."""

    class NoLen(_ResumesLate):
        def __len__(self) -> int:
            raise NotImplementedError("length unknown")

    return NoLen(_inner(labels, **kwargs))


def resume_restarts_epoch(labels: Any, **kwargs: Any) -> Wrapped:
    """``load_state_dict`` keeps the epoch but restarts it at its first batch."""

    class Restart(Wrapped):
        def state_in(self, state: dict[str, Any]) -> dict[str, Any]:
            state["batches_yielded"] = 0
            return state

    return Restart(_inner(labels, **kwargs))


def accepts_foreign_state(labels: Any, **kwargs: Any) -> Wrapped:
    """Claims to refuse foreign states but loads a state of another seed as its own."""

    class Accept(Wrapped):
        def state_in(self, state: dict[str, Any]) -> dict[str, Any]:
            mine = self.inner.state_dict()
            return {**mine, "epoch": state["epoch"], "batches_yielded": state["batches_yielded"]}

    return Accept(_inner(labels, **kwargs))


accepts_foreign_state.refuses_foreign_states = True  # type: ignore[attr-defined]


def restarts_cycles_each_epoch(labels: Any, **kwargs: Any) -> Wrapped:
    """A new sampler every epoch (seeded from seed and epoch): cycles and the quota schedule
    start afresh at every epoch instead of running on."""
    base = dict(kwargs)

    class Fresh(Wrapped):
        def set_epoch(self, epoch: int) -> None:
            self.inner = _inner(labels, **{**base, "seed": base["seed"] * 1009 + epoch})
            self.inner.set_epoch(0)

    return Fresh(_inner(labels, **kwargs))


def schedule_ignored(labels: Any, **kwargs: Any) -> Wrapped:
    """Reads an alpha schedule once, at epoch 0: every epoch gets epoch 0's target."""
    alpha = kwargs["alpha"]
    if callable(alpha):
        kwargs["alpha"] = float(alpha(0))
    return Wrapped(_inner(labels, **kwargs))


def seed_plus_rank(labels: Any, **kwargs: Any) -> Any:
    """Each rank runs its own sampler seeded by ``seed + rank`` (a common DDP recipe): ranks
    differ and each is right on its own, but seed ``s + 1``'s rank 0 is seed ``s``'s rank 1,
    so two runs of neighbouring seeds share a rank's batches. (Counted kinds also lose the
    global schedule of their ranks; the random kind has none to lose.)"""
    rank = kwargs.pop("rank")
    kwargs.pop("num_replicas")
    return _inner(labels, **{**kwargs, "seed": kwargs["seed"] + rank}, num_replicas=1, rank=0)


def same_ties_every_epoch(labels: Any, **kwargs: Any) -> Any:
    """The fixed kind's exact ties are broken once per seed and kept: a seeded draw picks the
    tied classes that get the last seats, and they get them in every epoch of the run instead
    of taking turns (the target is nudged by ``1e-6`` of a seat so that refsampler's own
    rounding makes that choice; every batch still has a correct count vector)."""
    from ..allocation import allocate_with_ties
    from ..sampler import BalancedBatchSampler

    alpha, batch = kwargs["alpha"], kwargs["batch_size"]
    if kwargs["kind"] != "fixed" or callable(alpha):
        return _inner(labels, **kwargs)
    target = interpolate(np.bincount(np.asarray(labels)), float(alpha))
    _, tied, seats = allocate_with_ties(target, batch)
    if not seats:
        return _inner(labels, **kwargs)
    winners = np.random.default_rng(kwargs["seed"]).choice(tied, seats, replace=False)
    nudged = target.copy()
    step = 1e-6 / batch
    nudged[tied] -= step * seats / tied.size  # the sum stays 1
    nudged[winners] += step
    return BalancedBatchSampler(
        labels,
        batch,
        kind="fixed",
        target=nudged,
        n_batches=kwargs["n_batches"],
        seed=kwargs["seed"],
        num_replicas=kwargs["num_replicas"],
        rank=kwargs["rank"],
    )


def same_batches_on_every_rank(labels: Any, **kwargs: Any) -> Wrapped:
    """Every rank yields rank 0's batches (the rank is not passed on): R ranks train on one
    batch R times."""
    kwargs["rank"] = 0
    return Wrapped(_inner(labels, **kwargs))


def same_contents_on_every_rank(labels: Any, **kwargs: Any) -> Wrapped:
    """Every rank yields rank 0's batches, each reshuffled inside by a generator keyed by the
    rank (rank 0 keeps its order): no two ranks yield the same batches position by position,
    yet at every step all ranks train on the same samples."""
    rank, seed = kwargs["rank"], kwargs["seed"]
    kwargs["rank"] = 0

    class Reordered(Wrapped):
        def __iter__(self) -> Iterator[list[int]]:
            if rank == 0:
                return super().__iter__()
            return self._reordered(self.inner.epoch)

        def _reordered(self, epoch: int) -> Iterator[list[int]]:
            for k, batch in enumerate(self.inner):
                order = np.random.default_rng([seed, epoch, rank, k]).permutation(len(batch))
                yield [batch[i] for i in order]

    return Reordered(_inner(labels, **kwargs))


def sorts_labels_later(labels: Any, **kwargs: Any) -> Wrapped:
    """Sorts the caller's labels in place when its second pass starts (a lazy index built on
    first use): building leaves them alone, training does not."""

    class Sorts(Wrapped):
        passes = 0

        def __iter__(self) -> Iterator[list[int]]:
            self.passes += 1
            if self.passes == 2 and isinstance(labels, np.ndarray):
                labels.sort()
            return super().__iter__()

    return Sorts(_inner(np.array(labels, copy=True), **kwargs))


def state_forgets_epoch(labels: Any, **kwargs: Any) -> Wrapped:
    """``load_state_dict`` keeps the position but not the epoch: a job restarted in epoch 5
    resumes in epoch 0."""

    class Forget(Wrapped):
        def state_in(self, state: dict[str, Any]) -> dict[str, Any]:
            state["epoch"] = 0
            return state

    return Forget(_inner(labels, **kwargs))


def state_forgets_load(labels: Any, **kwargs: Any) -> Wrapped:
    """``state_dict()`` right after ``load_state_dict()`` (before a batch is read) describes
    the start of the epoch: a job that checkpoints again as soon as it resumes restarts the
    epoch from that checkpoint."""

    class Forget(Wrapped):
        fresh_load = False

        def load_state_dict(self, state: dict[str, Any]) -> None:
            super().load_state_dict(state)
            self.fresh_load = True

        def __iter__(self) -> Iterator[list[int]]:
            self.fresh_load = False
            return super().__iter__()

        def state_dict(self) -> dict[str, Any]:
            state = super().state_dict()
            if self.fresh_load:
                state["batches_yielded"] = 0
            return state

    return Forget(_inner(labels, **kwargs))


def state_holds_numpy_ints(labels: Any, **kwargs: Any) -> Wrapped:
    """``state_dict`` holds numpy integers: no JSON checkpoint (nor StatefulDataLoader's JSON
    state) can store it."""

    class Numpy(Wrapped):
        def state_dict(self) -> dict[str, Any]:
            state = super().state_dict()
            state["batches_yielded"] = np.int64(state["batches_yielded"])
            return state

        def state_in(self, state: dict[str, Any]) -> dict[str, Any]:
            state["batches_yielded"] = int(state["batches_yielded"])
            return state

    return Numpy(_inner(labels, **kwargs))


def epoch_rank_seed_collide(labels: Any, **kwargs: Any) -> Wrapped:
    """Each rank runs its own single-replica sampler at epoch ``epoch + rank`` (a generator
    seeded by ``seed + epoch + rank``): rank 1's epoch 0 is rank 0's epoch 1, so every batch
    is trained on twice per epoch pair, though no two ranks share an epoch."""
    rank = kwargs.pop("rank")
    kwargs.pop("num_replicas")

    class Collide(Wrapped):
        def epoch_of(self, epoch: int) -> int | None:
            return epoch + rank

    sampler = Collide(_inner(labels, num_replicas=1, rank=0, **kwargs))
    sampler.set_epoch(0)
    return sampler


def shifted_epochs(labels: Any, **kwargs: Any) -> Wrapped:
    """Epoch ``e`` is epoch ``e - 1`` rotated by one batch (epoch 0 from batch ``e`` on):
    no epoch equals another, and each is reproducible and resumable, but every batch comes
    back every epoch."""

    class Shifted(Wrapped):
        shift, start, taken, passes = 0, 0, 0, 0
        chosen = restored = loaded = False

        def set_epoch(self, epoch: int) -> None:
            if not (self.restored and epoch == self.shift):
                self.start = 0
            self.shift, self.chosen, self.restored = epoch, True, False

        def __iter__(self) -> Iterator[list[int]]:
            if self.passes and not self.chosen:
                self.shift += 1  # passes without set_epoch advance, as refsampler's do
            self.passes, self.chosen, self.restored = self.passes + 1, False, False
            self.loaded = False
            self.inner.set_epoch(0)
            batches = list(self.inner)
            k = self.shift % max(len(batches), 1)
            rest = (batches[k:] + batches[:k])[self.start :]
            self.taken, self.start = self.start, 0
            return self._count(rest)

        def _count(self, rest: list[list[int]]) -> Iterator[list[int]]:
            for batch in rest:
                self.taken += 1
                yield batch

        def state_dict(self) -> dict[str, Any]:
            # Before the first pass after a load, the position is the one loaded.
            position = self.start if self.loaded else self.taken
            return {"epoch": self.shift, "batches_yielded": position}

        def load_state_dict(self, state: dict[str, Any]) -> None:
            self.shift, self.start = int(state["epoch"]), int(state["batches_yielded"])
            self.chosen = self.restored = self.loaded = True

    return Shifted(_inner(labels, **kwargs))


#: Positions saved by :func:`state_in_process`, by the key its ``state_dict()`` returns.
_SAVED_IN_PROCESS: dict[int, dict[str, Any]] = {}


def state_in_process(labels: Any, **kwargs: Any) -> Wrapped:
    """``state_dict()`` returns a key into a module-level dict that holds the position: a
    resume in the process that saved it is exact, and a restarted job (a new process) finds
    nothing under the key and silently starts the epoch again."""

    class InProcess(Wrapped):
        def state_dict(self) -> dict[str, Any]:
            key = len(_SAVED_IN_PROCESS)
            _SAVED_IN_PROCESS[key] = super().state_dict()
            return {"key": key}

        def load_state_dict(self, state: dict[str, Any]) -> None:
            saved = _SAVED_IN_PROCESS.get(int(state["key"]))
            if saved is not None:
                self.inner.load_state_dict(saved)

    return InProcess(_inner(labels, **kwargs))


#: Every sampler mutant by name: each exits 1 under ``refsampler verify --api sampler``.
SAMPLER_MUTANTS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        replays_epoch_0,
        ignores_set_epoch,
        unequal_rank_lengths,
        len_lies,
        ranks_share_members,
        per_shard_renormalisation,
        resume_off_by_one,
        resume_off_by_one_without_len,
        resume_restarts_epoch,
        accepts_foreign_state,
        restarts_cycles_each_epoch,
        schedule_ignored,
        same_ties_every_epoch,
        same_batches_on_every_rank,
        same_contents_on_every_rank,
        sorts_labels_later,
        state_forgets_epoch,
        state_forgets_load,
        state_holds_numpy_ints,
        epoch_rank_seed_collide,
        shifted_epochs,
        state_in_process,
        splits_the_epoch,
        len_counts_every_rank,
        seed_plus_epoch,
        seed_xor_epoch,
        same_classes_every_rank,
        classes_a_step_apart_on_ranks,
        seed_plus_rank,
    )
}


def hangs_in_epoch_1(labels: Any, **kwargs: Any) -> Wrapped:
    """Correct in epoch 0; every pass of a later epoch never ends (a deadlock after the first
    epoch): ``--timeout`` turns each hang into failed stream checks naming the pass."""

    class Hangs(Wrapped):
        epoch = 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch
            super().set_epoch(epoch)

        def __iter__(self) -> Iterator[list[int]]:
            if self.epoch >= 1:
                deadline = time.monotonic() + 3600.0
                while time.monotonic() < deadline:  # short sleeps: a timer signal ends it
                    time.sleep(0.01)
            return super().__iter__()

    return Hangs(_inner(labels, **kwargs))


def declines_every_sampler(labels: Any, **kwargs: Any) -> Any:
    """Declines every configuration (``--api sampler`` exits 3: nothing tested)."""
    raise NotImplementedError("not implemented yet")
