"""Checks of the cycles property: members come from shuffled cycles without replacement.

Repeated cycles
---------------
``cycles_reshuffled`` compares pairs of complete cycles of a class at every distance ``d``
it can afford. A pair "repeats" when every member's offset interval in one cycle (batches are
shuffled internally, so a draw's offset is known only up to its batch) meets its interval in
the other, which a reused permutation always does. For two fresh uniform permutations of
``n`` members, with at most ``w`` draws of the class per batch, each member may sit at most
``L = min(3w - 2, n)`` offsets of the other cycle, so by Bregman's bound on the permanent a
pair repeats with probability at most ``rho = (L!)^(n / L) / n!`` (``1 / n!`` for ``w = 1``,
where the cycles are known exactly). A class is compared at distances ``1 .. D``, ``D`` the
largest for which ``pairs(D) * rho`` stays within :data:`REPEAT_BOUND` ``/ K`` (``pairs``
counted for the most cycles the run can hold), so the check is exact; for classes of a few
dozen members or more ``D`` covers every pair. ``rho`` takes no account of where cycles
start, so a permutation reused every fourth cycle fails like one reused every cycle.

Positions within cycles
-----------------------
Where a repeat is not negligible (small classes) or a shuffle is restricted (members swapped
only within fixed pairs or blocks, never a uniform permutation), ``cycle_positions_uniform``
tests the cycles statistically. It uses the classes drawn at most once per batch (by the
target; a class the implementation draws twice in some batch is left to the counts checks,
which fail it, rather than blamed on its cycles): their draws' stream positions, hence
every member's offset in every complete cycle, are exact, and
no cycle wraps inside a batch, so a correct sampler's cycles are independent uniform
permutations. The table of members by offset bins (bins of consecutive offsets, as many as
keep every expected count ``C s_b / n >= 5``) sums ``C`` independent permutation tables;
each has covariance ``n / (n - 1) P_n (x) (diag(pi) - pi pi^T)``, so Pearson's statistic times
``(n - 1) / n`` is chi-square on ``(n - 1)(G - 1)`` dof. The classes' statistics add up.
Two-sided: a reused permutation concentrates each member on its offsets (too spread), a
rotation that walks every member through every offset in turn is too even.
"""

from __future__ import annotations

from collections.abc import Callable
from math import lgamma, log

import numpy as np

from .. import kinds as _kinds
from .checks import exact, pending
from .results import CheckResult
from .sample import EPS, Sample, Setting
from .stats import MIN_EXPECTED, two_sided

__all__ = [
    "REPEAT_BOUND",
    "cycle_checks",
    "distinct_check",
    "plan_cycles",
    "position_classes",
    "repeat_distances",
    "reshuffle_observable",
]

#: The chance a correct sampler fails one exact check planned under a chance bound: here the
#: union bound, per (kind, configuration), on showing a repeated pair of cycles in
#: ``cycles_reshuffled`` (shared equally by the classes); the sampler API's repeat checks
#: (:mod:`~refsampler.conformance.streams`) plan theirs to the same bound.
REPEAT_BOUND = 1e-11
#: Pairs of cycles compared at once (memory: pairs x members booleans).
_PAIR_CHUNK = 1 << 20


def _most_per_batch(setting: Setting, c: int) -> int:
    return int(setting.largest_count_of(c))


def _most_cycles(setting: Setting, c: int) -> int:
    """The most complete cycles of class ``c`` the main run can hold."""
    return int(setting.n_batches * _most_per_batch(setting, c) // setting.config.class_counts[c])


def _log_pair_bound(n: int, w: int) -> float:
    """log of the chance that two fresh permutations of ``n`` members look repeated through
    batches of at most ``w`` draws of the class (Bregman's bound, see the module notes)."""
    width = min(3 * w - 2, n)
    return (n / width) * lgamma(width + 1) - lgamma(n + 1)


def repeat_distances(setting: Setting) -> dict[int, int]:
    """Class -> the largest distance ``D`` at which ``cycles_reshuffled`` compares its cycles.

    Only classes with (with a margin) three whole cycles expected and ``D >= 1``.

    Parameters
    ----------
    setting : Setting
        The (kind, configuration) of the run.

    Returns
    -------
    dict of int to int
    """
    sizes = setting.config.class_counts
    budget = log(REPEAT_BOUND / len(sizes))
    out = {}
    for c, n in enumerate(sizes):
        w = _most_per_batch(setting, c)
        if w < 1 or n < 2 or setting.expected_draws[c] < 3 * n:
            continue
        cycles = _most_cycles(setting, c)
        rho = _log_pair_bound(int(n), w)
        pairs = np.cumsum(np.maximum(cycles - np.arange(1, cycles), 0))  # pairs(D), D = 1..
        within = np.flatnonzero(np.log(np.maximum(pairs, 1)) + rho <= budget)
        if within.size:
            out[c] = int(within[-1]) + 1
    return out


def reshuffle_observable(setting: Setting) -> list[int]:
    """Classes whose cycles ``cycles_reshuffled`` compares (:func:`repeat_distances`)."""
    return sorted(repeat_distances(setting))


def _bins(cycles: int, n: int) -> int:
    """Offset bins of a class of ``n`` members seen over ``cycles`` cycles: the most that
    keep every expected count at least 5 (1 when none can)."""
    widths = np.arange(1, n + 1)
    fit = widths[cycles * widths >= MIN_EXPECTED * n]
    return int(n // fit[0]) if fit.size else 1


def position_classes(setting: Setting) -> list[int]:
    """Classes ``cycle_positions_uniform`` tests: at least 2 members, at most one draw per
    batch, and enough complete cycles (from the fewest draws a correct run can have) for two
    offset bins.

    Parameters
    ----------
    setting : Setting
        The (kind, configuration) of the run.

    Returns
    -------
    list of int
    """
    sizes = setting.config.class_counts
    out = []
    for c, n in enumerate(sizes):
        if n < 2 or _most_per_batch(setting, c) != 1:
            continue
        if _kinds.PROPERTY_FIXED_COUNTS in setting.properties:
            # Fixed counts draw their allocation every batch, which can lie below B p_c.
            draws = min(setting.achievable_counts(c)) * setting.n_batches
        else:  # the quota bound: within one draw of B p_c per batch, cumulatively
            draws = max(setting.expected_draws[c] - 1 - EPS, 0)
        fewest = int(draws // n)
        if _bins(fewest, int(n)) >= 2:
            out.append(c)
    return out


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
    if position_classes(setting):
        names.append(("cycle_positions_uniform", False))
    return names


def cycle_checks(
    sample: Sample, name_batch: Callable[[int], str] | None = None
) -> list[CheckResult]:
    """Within a class, members are drawn in cycles without replacement; cycles are reshuffled;
    no member repeats inside a batch when its class has enough members.

    ``name_batch(k)`` names batch ``k`` of ``sample.batches`` in a detail (default ``"batch
    k"``): a run of several epochs or ranks names the epoch and the batch within it.

    Notes
    -----
    Batches are shuffled internally, so a draw's place in its class's stream is known only up
    to the batch: the interval ``[C_k, C_k + a_k)`` of stream positions of batch ``k``. The
    ``j``-th occurrence of a member must lie in cycle ``j``, i.e. its batch interval must meet
    ``[j n_c, (j + 1) n_c)``; this is exact and holds for every correct output.

    Cycle ``j`` *repeats* cycle ``j - d`` when every member's offset interval in one meets
    its interval in the other, which a repeated permutation always satisfies; the distances
    compared, and why the check is exact, are in the module notes. So are those of
    ``cycle_positions_uniform``.

    ``distinct_in_batch`` looks at every batch and class with ``n_c >= a_kc``: a cycle that
    wraps inside such a batch must start its new permutation with members the batch has not
    drawn yet.
    """
    setting, batches, labels = sample.setting, sample.batches, sample.labels
    name = name_batch or (lambda k: f"batch {k}")
    config = setting.config
    n, _ = batches.shape
    counts = sample.counts
    class_of = labels[batches]
    before = np.cumsum(counts, axis=0) - counts  # stream position of each batch's first draw
    reuse_violations, repeated_pairs, observable_pairs = 0, 0, 0
    reuse_detail, repeat_detail = "", ""
    batch_of = np.broadcast_to(np.arange(n)[:, None], batches.shape)
    distances = repeat_distances(setting)
    observable = set(distances)
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
                    f"{_ordinal(int(occurrence[i]) + 1)} time in {name(int(rows[i]))}, "
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
        first_pair, pairs, repeated = _repeated_pairs(low, high, distances[c])
        observable_pairs += pairs
        repeated_pairs += repeated
        if repeated and not repeat_detail:
            j, k = first_pair
            repeat_detail = f"; class {c}: cycle {k} repeats cycle {j}"
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
                f"{repeated_pairs} of {observable_pairs} observable pairs of cycles repeated "
                f"(classes {sorted(observable)}, distances up to "
                f"{max(distances.values())})" + repeat_detail,
            )
        )
    if "cycle_positions_uniform" in dict(plan_cycles(setting)):
        results.append(_positions(sample, before))
    return results


def _repeated_pairs(
    low: np.ndarray, high: np.ndarray, most: int
) -> tuple[tuple[int, int], int, int]:
    """(first repeated pair, pairs compared, pairs repeated) of the cycles whose offset
    intervals are ``[low, high)`` (one row per cycle), at distances ``1 .. most``."""
    cycles, size = low.shape
    first, compared, repeated = (-1, -1), 0, 0
    ds = np.arange(1, min(most, cycles - 1) + 1)
    if not ds.size:
        return first, 0, 0
    later = np.concatenate([np.arange(d, cycles) for d in ds])
    earlier = later - np.repeat(ds, cycles - ds)
    chunk = max(_PAIR_CHUNK // size, 1)
    for begin in range(0, later.size, chunk):
        a, b = earlier[begin : begin + chunk], later[begin : begin + chunk]
        repeats = ((low[b] < high[a]) & (low[a] < high[b])).all(axis=1)
        compared += int(a.size)
        repeated += int(repeats.sum())
        if repeats.any() and first == (-1, -1):
            i = int(np.argmax(repeats))
            first = (int(a[i]), int(b[i]))
    return first, compared, repeated


def _positions(sample: Sample, before: np.ndarray) -> CheckResult:
    """``cycle_positions_uniform``: members by offset bins in complete cycles, per class."""
    setting, batches, labels, counts = sample.setting, sample.batches, sample.labels, sample.counts
    statistic, dof, cells, smallest = 0.0, 0, 0, np.inf
    detail = []
    doubled = []
    for c in position_classes(setting):
        if (counts[:, c] > 1).any():
            # Planned at one draw per batch but drawn more: the counts checks report that;
            # testing its offsets would blame the cycles for it.
            doubled.append(c)
            continue
        size = int(setting.config.class_counts[c])
        drawn = counts[:, c] > 0
        complete = int(counts[:, c].sum()) // size
        bins = _bins(complete, size)
        if bins < 2:
            continue
        # One draw per batch: the batch's first stream position is the draw's.
        rows = np.flatnonzero(drawn)
        where = np.argmax(labels[batches[rows]] == c, axis=1)
        members = np.searchsorted(np.flatnonzero(labels == c), batches[rows, where])
        position = before[rows, c]
        keep = position < complete * size
        offset_bin = (position[keep] % size) * bins // size
        table = np.bincount(members[keep] * bins + offset_bin, minlength=size * bins).reshape(
            size, bins
        )
        expected = complete * np.bincount(np.arange(size) * bins // size, minlength=bins) / size
        statistic += float(np.sum((table - expected) ** 2 / expected)) * (size - 1) / size
        dof += (size - 1) * (bins - 1)
        cells += int(keep.sum())
        smallest = min(smallest, float(expected.min()))
        detail.append(f"{c} ({complete} cycles, {bins} bins)")
    text = (
        "members' offsets within their cycles uniform, classes drawn at most once per batch: "
        + (", ".join(detail) if detail else "no class had two offset bins")
    )
    if doubled:
        text += (
            f"; class{'es' if len(doubled) > 1 else ''} {', '.join(map(str, doubled))} left "
            "out: drawn more than once in a batch where the target allows one (the counts "
            "checks report it)"
        )
    if not dof:  # planned, yet nothing to test: a failure, never a pass
        return pending("cycle_positions_uniform", setting, 0.0, 0, text)
    pvalue, direction, _ = two_sided(statistic, dof, smallest)
    result = pending("cycle_positions_uniform", setting, pvalue, cells, text)
    result.statistic, result.dof = statistic, dof
    if pvalue < 0.5:
        result.direction = {
            "high": "members keep to some offsets",
            "low": "members rotate through the offsets too evenly",
        }.get(direction, "")
    return result


def distinct_check(sample: Sample) -> CheckResult | None:
    """``distinct_in_batch`` of ``sample`` alone (None where no class can have two draws
    within its size): the stream checks run it on every epoch and rank, not only on the
    first pass that :func:`cycle_checks` reads."""
    if not _distinct_applies(sample.setting):
        return None
    return _distinct(sample, sample.labels[sample.batches])


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


def _ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``21st``."""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"
