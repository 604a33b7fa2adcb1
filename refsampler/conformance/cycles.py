"""Checks of the cycles property: members come from shuffled cycles without replacement."""

from __future__ import annotations

import numpy as np

from .checks import exact
from .results import CheckResult
from .sample import Sample, Setting

__all__ = ["cycle_checks", "plan_cycles", "reshuffle_observable"]

#: A class's consecutive cycles are compared only when it has this many members ...
MIN_MEMBERS = 16
#: ... and draws at most 1/8 of them per batch (see ``cycle_checks``).
MAX_BATCH_FRACTION = 8


def _most_per_batch(setting: Setting, c: int) -> int:
    # ceil(B p_c) draws, or m draws per appearance under the pk shape.
    return setting.unit if setting.unit > 1 else int(setting.ceils[c])


def reshuffle_observable(setting: Setting) -> list[int]:
    """Classes whose consecutive cycles the main run shows well enough to compare.

    At least :data:`MIN_MEMBERS` members, at most 1/8 of them per batch, and (with a margin)
    three whole cycles expected over the run.
    """
    sizes = np.asarray(setting.config.class_counts)
    return [
        c
        for c in range(sizes.size)
        if sizes[c] >= MIN_MEMBERS
        and _most_per_batch(setting, c) * MAX_BATCH_FRACTION <= sizes[c]
        and setting.expected_draws[c] >= 3 * sizes[c]
    ]


def _distinct_applies(setting: Setting) -> bool:
    sizes = setting.config.class_counts
    return any(
        any(2 <= a <= sizes[c] for a in setting.achievable_counts(c)) for c in range(len(sizes))
    )


def plan_cycles(setting: Setting) -> list[tuple[str, bool]]:
    """Checks of the cycles property."""
    names = [("without_replacement_in_cycle", True)]
    if _distinct_applies(setting):
        names.append(("distinct_in_batch", True))
    if reshuffle_observable(setting):
        names.append(("cycles_reshuffled", True))
    return names


def cycle_checks(sample: Sample) -> list[CheckResult]:
    """Within a class, members are drawn in cycles without replacement; cycles are reshuffled;
    no member repeats inside a batch when its class has enough members.

    Notes
    -----
    Batches are shuffled internally, so a draw's place in its class's stream is known only up
    to the batch: the interval ``[C_k, C_k + a_k)`` of stream positions of batch ``k``. The
    ``j``-th occurrence of a member must lie in cycle ``j``, i.e. its batch interval must meet
    ``[j n_c, (j + 1) n_c)``; this is exact and holds for every correct output.

    Cycle ``j`` *repeats* cycle ``j - d`` (``d`` = 1, 2 or 3: a permutation reused, or two or
    three taking turns) when every member's offset interval in one meets its interval in the
    other, which a repeated permutation always satisfies. For a fresh permutation of
    ``n_c >= 16`` members with at most ``n_c / 8`` of them per batch the chance of that is
    below ``(1/4) ** n_c`` per pair, so the check is treated as exact.

    ``distinct_in_batch`` looks at every batch and class with ``n_c >= a_kc``: a cycle that
    wraps inside such a batch must start its new permutation with members the batch has not
    drawn yet.
    """
    setting, batches, labels = sample.setting, sample.batches, sample.labels
    config = setting.config
    n, _ = batches.shape
    counts = sample.counts
    class_of = labels[batches]
    before = np.cumsum(counts, axis=0) - counts  # stream position of each batch's first draw
    reuse_violations, repeated_pairs, observable_pairs = 0, 0, 0
    reuse_detail, repeat_detail = "", ""
    batch_of = np.broadcast_to(np.arange(n)[:, None], batches.shape)
    observable = set(reshuffle_observable(setting))
    for c in range(config.num_classes):
        size = int(config.class_counts[c])
        mask = class_of == c
        members = batches[mask]  # row-major: batch order
        if members.size == 0:
            continue
        rows = batch_of[mask]
        start, stop = before[rows, c], before[rows, c] + counts[rows, c]
        order = np.argsort(members, kind="stable")
        sorted_members = members[order]
        first = np.r_[True, sorted_members[1:] != sorted_members[:-1]]
        group_start = np.maximum.accumulate(np.where(first, np.arange(first.size), 0))
        occurrence = np.empty(members.size, dtype=np.int64)
        occurrence[order] = np.arange(members.size) - group_start
        # Interval [start, stop) must meet [occurrence * size, (occurrence + 1) * size).
        bad = (stop <= occurrence * size) | (start >= (occurrence + 1) * size)
        if bad.any():
            reuse_violations += int(bad.sum())
            if not reuse_detail:
                i = int(np.flatnonzero(bad)[0])
                reuse_detail = (
                    f"; class {c}: position {int(members[i])} drawn for the "
                    f"{int(occurrence[i]) + 1}th time in batch {int(rows[i])}, "
                    f"before its cycle of {size} ended"
                )
        complete_cycles = int(counts[:, c].sum()) // size
        if c not in observable or complete_cycles < 2 or bad.any():
            continue
        # Offset interval of every member in every complete cycle: (cycle, member) tables.
        in_cycles = occurrence < complete_cycles
        member_rank = np.searchsorted(np.unique(members), members)
        if member_rank.max() + 1 != size:
            continue  # some member never drawn: already a reuse violation
        low = np.full((complete_cycles, size), -1, dtype=np.int64)
        high = np.full((complete_cycles, size), -1, dtype=np.int64)
        cyc, rank = occurrence[in_cycles], member_rank[in_cycles]
        low[cyc, rank] = start[in_cycles] - cyc * size
        high[cyc, rank] = stop[in_cycles] - cyc * size
        for d in range(1, min(3, complete_cycles - 1) + 1):
            meets = (low[d:] < high[:-d]) & (low[:-d] < high[d:])
            repeats = meets.all(axis=1)
            observable_pairs += repeats.size
            repeated_pairs += int(repeats.sum())
            if repeats.any() and not repeat_detail:
                j = int(np.argmax(repeats))
                repeat_detail = f"; class {c}: cycle {j + d} repeats cycle {j}"
    draws = int(batches.size)
    results = [
        exact(
            "without_replacement_in_cycle",
            setting,
            reuse_violations,
            draws,
            "no member drawn twice before its class's cycle ends" + reuse_detail,
        )
    ]
    if _distinct_applies(setting):
        results.append(_distinct(sample, class_of))
    if observable:
        # Planned classes that showed no comparable pair are a failure: nothing was checked.
        unchecked = 1 if observable_pairs == 0 and reuse_violations == 0 else 0
        results.append(
            exact(
                "cycles_reshuffled",
                setting,
                repeated_pairs + unchecked,
                draws,
                f"{repeated_pairs} of {observable_pairs} observable pairs of cycles 1 to 3 "
                "apart repeated" + repeat_detail,
            )
        )
    return results


def _distinct(sample: Sample, class_of: np.ndarray) -> CheckResult:
    setting, batches, counts = sample.setting, sample.batches, sample.counts
    sizes = np.asarray(setting.config.class_counts)
    n, batch = batches.shape
    # A repeat shows as equal neighbours once each batch is sorted by (class, position).
    order = np.lexsort((batches, class_of), axis=1)
    rows = np.arange(n)[:, None]
    positions, classes = batches[rows, order], class_of[rows, order]
    repeat = (positions[:, 1:] == positions[:, :-1]) & (classes[:, 1:] == classes[:, :-1])
    enough = sizes[classes[:, 1:]] >= counts[rows, classes[:, 1:]]
    bad = repeat & enough
    detail = "no member twice in a batch whose class has at least as many members as draws"
    if bad.any():
        k, j = np.argwhere(bad)[0]
        c = int(classes[k, j + 1])
        detail += (
            f"; batch {int(k)} draws position {int(positions[k, j + 1])} of class {c} twice "
            f"({int(counts[k, c])} draws of a class of {int(sizes[c])})"
        )
    return exact("distinct_in_batch", setting, int(bad.any(axis=1).sum()), batch * n, detail)
