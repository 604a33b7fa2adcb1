"""Checks of the per-batch class counts: the fixed-counts and the quota-counts properties."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from .checks import exact, pending
from .results import CheckResult
from .sample import EPS, Sample, Setting

__all__ = [
    "MAX_TIE_SEEDS",
    "fixed_checks",
    "plan_fixed",
    "plan_quota",
    "quota_checks",
    "seed_batches",
    "seed_runs",
    "tie_seeds",
    "ties_check",
]

IntMatrix = npt.NDArray[np.int64]


def seed_batches(sample: Sample) -> list[tuple[str, IntMatrix]]:
    """Every run the kit made, labelled by seed: the main run, then the short runs of seed
    ``s + 1`` and of the far seeds.

    The exact per-batch checks hold for every seed, so they read all of them: a rounding
    that only some seeds get wrong (seats handed out at random once per run, say) is caught
    whichever seed the run starts from.

    Parameters
    ----------
    sample : Sample

    Returns
    -------
    list of (str, numpy.ndarray of int64, shape (n, B))
        ``("seed s", batches)``, ``("seed s + 1", batches)``, then every far seed's
        (``("seed s XOR 2**16", batches)``, ...).
    """
    others = [("seed s + 1", sample.other)]
    others += [(f"seed {name}", run) for name, run in sample.far]
    # Samples built from one run (the sampler API's epochs) pass it as every run: skip those.
    return [("seed s", sample.batches)] + [
        (name, run)
        for name, run in others
        if run.size and not np.may_share_memory(run, sample.batches)
    ]


def seed_runs(sample: Sample) -> list[tuple[str, IntMatrix]]:
    """The class counts of every run of :func:`seed_batches`, shape (n, K) each.

    Parameters
    ----------
    sample : Sample

    Returns
    -------
    list of (str, numpy.ndarray of int64, shape (n, K))
        ``("seed s", counts)``, ``("seed s + 1", counts)``, then every far seed's.
    """
    runs = seed_batches(sample)
    return [("seed s", sample.counts)] + [(name, sample.counts_of(b)) for name, b in runs[1:]]


def _first_bad(bad: list[Any]) -> tuple[int, int] | None:
    """``(run, row)`` of the first flagged row (``bad[i]`` flags run i's rows), or None."""
    for i, rows in enumerate(bad):
        if rows.any():
            return i, int(np.argmax(rows))
    return None


def _seeds_note(runs: list[tuple[str, IntMatrix]]) -> str:
    return f" (seed s: {runs[0][1].shape[0]} batches; {len(runs) - 1} other seeds' runs too)"


def _within_quota(setting: Setting, runs: list[tuple[str, IntMatrix]]) -> CheckResult:
    bad = [((c < setting.floors) | (c > setting.ceils)) for _, c in runs]
    detail = f"every count in floor/ceil of B*p = {np.round(setting.quotas, 3).tolist()}"
    detail += _seeds_note(runs)
    first = _first_bad([b.any(axis=1) for b in bad])
    if first:
        i, k = first
        c = int(np.argmax(bad[i][k]))
        detail += f"; {runs[i][0]} batch {k} has {runs[i][1][k, c]} of class {c}"
    violations = sum(int(b.sum()) for b in bad)
    draws = sum(int(c.sum()) for _, c in runs)
    return exact("counts_within_quota", setting, violations, draws, detail)


def plan_fixed(setting: Setting) -> list[tuple[str, bool]]:
    """Checks of the fixed-counts property: ``(name, exact)``."""
    names = [
        ("counts_within_quota", True),
        ("same_counts_every_batch", True),
        ("positive_classes_present", True),
        ("largest_remainder", True),
    ]
    if setting.ties[0].size:
        names.append(("ties_broken_at_random", False))
    return names


def fixed_checks(sample: Sample) -> list[CheckResult]:
    """Every batch has the same counts: the largest-remainder rounding of ``B p``.

    ``largest_remainder`` compares each batch with :func:`~refsampler.allocation.allocate`
    and allows a difference only among the classes tied at the cut (``Setting.ties``), as
    long as the tied group gets the same number of seats. Every check reads the main run and
    the other seeds' short runs (:func:`seed_runs`); ``same_counts_every_batch`` compares
    each run's batches with that run's first (tied seats may go elsewhere under another
    seed).
    """
    from ..allocation import allocate

    setting = sample.setting
    runs = seed_runs(sample)
    target = setting.target
    draws = sum(int(c.sum()) for _, c in runs)
    note = _seeds_note(runs)
    results = [_within_quota(setting, runs)]
    differ = [np.any(c != c[:1], axis=1) if c.shape[0] else np.zeros(0, bool) for _, c in runs]
    head = runs[0][1]
    shown = head[0].tolist() if head.shape[0] else []
    differing = sum(int(d.sum()) for d in differ)
    detail = f"{differing} batches differ from their run's batch 0 (seed s: {shown})"
    first = _first_bad(differ)
    if first:
        detail += f"; {runs[first[0]][0]} batch {first[1]} differs"
    results.append(exact("same_counts_every_batch", setting, differing, draws, detail + note))
    missing = [((c == 0) & (target > 0)).any(axis=1) for _, c in runs]
    detail = "every class with a positive target in every batch" + note
    first = _first_bad(missing)
    if first:
        i, k = first
        row = runs[i][1][k]
        lacks = int(np.flatnonzero((row == 0) & (target > 0))[0])
        detail += f"; {runs[i][0]} batch {k} lacks class {lacks}"
    lacking = sum(int(m.sum()) for m in missing)
    results.append(exact("positive_classes_present", setting, lacking, draws, detail))
    expected = allocate(target, setting.config.batch_size)
    group, _ = setting.ties
    tied = np.zeros(target.size, dtype=bool)
    tied[group] = True
    bad = [
        ((c != expected) & ~tied).any(axis=1) | (c[:, tied].sum(axis=1) != expected[tied].sum())
        for _, c in runs
    ]
    detail = "largest remainder: forced classes first, then the largest fractional parts"
    if group.size:
        detail += f" (classes {group.tolist()} are tied: any {int(expected[tied].sum())}"
        detail += " seats among them)"
    detail += note
    observed = None
    first = _first_bad(bad)
    if first:
        i, k = first
        observed = runs[i][1][k].tolist()
        detail += f"; {runs[i][0]} batch {k} has {observed}"
    results.append(
        exact(
            "largest_remainder",
            setting,
            sum(int(b.sum()) for b in bad),
            draws,
            detail,
            expected=expected.tolist(),
            observed=observed,
        )
    )
    return results


#: The most seeds (runs of one batch) the tie check asks for a statistic beyond "every seed
#: chose alike"; where more would be needed to make one decisive, it is left out.
MAX_TIE_SEEDS = 24


def _at_most_distinct(distinct: int, seeds: int, choices: int) -> float:
    """P(``seeds`` uniform draws from ``choices`` equally likely values take at most
    ``distinct`` different values), exactly: ``sum_j choices!/(choices-j)! S(seeds, j) /
    choices**seeds`` with Stirling numbers of the second kind (integer arithmetic; one and two
    values in closed form, which is all the seed plan asks for)."""
    if distinct >= min(seeds, choices):
        return 1.0
    if distinct == 1:
        return float(choices) ** -(seeds - 1) if seeds else 1.0
    if distinct == 2:  # S(n, 2) = 2**(n-1) - 1
        return (choices + choices * (choices - 1) * (2 ** (seeds - 1) - 1)) / choices**seeds
    stirling = _stirling_row(seeds)
    ways, falling = 0, 1
    for j in range(1, distinct + 1):
        falling *= choices - j + 1
        ways += falling * stirling[j]
    return ways / choices**seeds


@functools.lru_cache(maxsize=64)
def _stirling_row(n: int) -> tuple[int, ...]:
    """``S(n, j)`` for ``j = 0 .. n`` (Stirling numbers of the second kind)."""
    row = [1]  # S(0, 0)
    for m in range(1, n + 1):
        row = [0] + [j * (row[j] if j < len(row) else 0) + row[j - 1] for j in range(1, m + 1)]
    return tuple(row)


def _most_repeated(repeats: int, seeds: int, choices: int) -> float:
    """An upper bound on P(some value is drawn ``repeats`` times or more in ``seeds`` uniform
    draws from ``choices``): ``choices`` times one value's binomial tail (a union bound, so
    the p-value is conservative; it is exact when ``repeats == seeds``)."""
    tail = sum(
        math.comb(seeds, i) * (choices - 1) ** (seeds - i) for i in range(repeats, seeds + 1)
    )
    return min(1.0, choices * tail / choices**seeds)


def _choice_pvalues(picks: list[tuple[int, ...]], choices: int) -> tuple[list[float], int, int]:
    """``([few distinct, one repeated], distinct, most repeated)`` of the ``picks`` of several
    seeds among ``choices`` equally likely ways: :func:`_at_most_distinct` of the distinct
    picks and :func:`_most_repeated` of the most common one."""
    distinct = len(set(picks))
    repeats = max(picks.count(p) for p in set(picks))
    seeds = len(picks)
    pvalues = [_at_most_distinct(distinct, seeds, choices), _most_repeated(repeats, seeds, choices)]
    return pvalues, distinct, repeats


def _tie_chances(group: int, winners: int, seeds: int, runs: bool, *, two: bool) -> float:
    """The tie check's largest p-value for the patterns it must catch, with ``seeds`` seeds:
    every seed the same choice (``two``: at most two choices), or (``runs``) every seed a
    cyclic run, whichever is likelier, times the number of statistics (Bonferroni)."""
    choices = math.comb(group, winners)
    few = _at_most_distinct(2 if two else 1, seeds, choices)
    if not runs:
        return 2.0 * few
    return 3.0 * max(few, (group / choices) ** seeds)


def _tie_plan(setting: Setting, family_floor: float) -> tuple[int, bool]:
    """(seeds, whether the cyclic-run statistic is used) of the tie check: the fewest seeds
    that put the check's p-value below a tenth of ``family_floor`` when the seeds show one of
    the patterns it is planned for: every seed alike, always; every seed a cyclic run and only
    two choices, where at most :data:`MAX_TIE_SEEDS` seeds do it (the runs kept first)."""
    group, winners = setting.ties
    size = int(group.size)
    if not size:
        return 0, False
    choices = math.comb(size, winners)

    def fewest(runs: bool, two: bool, limit: int) -> int | None:
        for seeds in range(2, limit + 1):
            if _tie_chances(size, winners, seeds, runs, two=two) <= family_floor / 10:
                return seeds
        return None

    # A cyclic run says something only when not every choice is one (1 < s < T - 1); two
    # choices say something only when there are more than two.
    cyclic = 1 < winners < size - 1
    many = choices > 2
    # Keep the cyclic runs before the two-choices statistic: a rotating window is the likelier
    # defect, and its statistic needs more seeds.
    candidates = [(True, True), (True, False), (False, True)] if cyclic else [(False, True)]
    for runs, two in candidates:
        if two and not many:
            continue
        seeds = fewest(runs, two, MAX_TIE_SEEDS)
        if seeds is not None:
            return seeds, runs
    seeds = fewest(False, False, 10_000)  # one choice: C**-(n-1) falls for every C >= 2
    return (seeds if seeds is not None else 10_000), False


def tie_seeds(setting: Setting, family_floor: float) -> int:
    """Runs (seeds) the tie check needs so that its statistics are findings when they fire.

    With ``C`` equally likely ways to break the tie of ``T`` classes for ``s`` seats, ``n``
    seeds show at most ``d`` different choices with probability
    ``sum_{j <= d} C!/(C-j)! S(n, j) / C**n`` (``C ** -(n - 1)`` for ``d = 1``), and all give
    a cyclic run of ``s`` consecutive tied classes (in class-id order; ``T`` of the ``C``
    choices when ``1 < s < T - 1``) with probability ``(T / C) ** n``. ``n`` is the fewest
    seeds that put the check's p-value (:func:`ties_check`) below a tenth of the smallest Holm
    threshold ``family_floor`` for one choice and, where :data:`MAX_TIE_SEEDS` suffice, for two
    choices and for cyclic runs.
    """
    return _tie_plan(setting, family_floor)[0]


def _cyclic_run(picked: tuple[int, ...], size: int, winners: int) -> bool:
    """Whether ``picked`` (indices into the tied group) are ``winners`` consecutive ones,
    wrapping around: ``{r, r + 1, ..., r + s - 1} mod T``."""
    if len(picked) != winners or not picked:
        return False
    gaps = np.diff(np.r_[picked, picked[0] + size])
    return int(np.count_nonzero(gaps > 1)) <= 1


def ties_check(sample: Sample) -> CheckResult:
    """Exact ties at the cut are broken at random: every one of the ways to break them
    equally likely, whatever the seed.

    The first batch's counts of the tied classes, under ``n`` seeds (the run's, the next
    seed's, and ``n - 2`` more; :func:`tie_seeds`). Under a uniformly random tie-break each of
    the ``C`` choices has probability ``1 / C`` independently per seed. Three statistics, each
    with its exact (or, for the second, conservative) p-value under that null:

    * few distinct choices: P(at most the ``d`` observed different choices), so a tie-break
      that only ever gives one or two ways (a fixed order, a seed's parity) fails;
    * one choice repeated: P(some choice comes up ``r`` times or more, ``r`` the most
      observed), a union bound over the choices, so a tie-break that usually goes by class id
      fails;
    * cyclic runs: P(every choice is a run of consecutive tied classes) ``(T / C) ** n``, so a
      window rotated by a seeded offset fails (when ``1 < s < T - 1`` and the plan uses it).

    The check's p-value is the smallest of them times their number (Bonferroni), so a correct
    sampler fails with at most the level Holm gives the check.
    """
    setting = sample.setting
    group, winners = setting.ties
    size = int(group.size)
    rows = [sample.counts_of(sample.first[:1])[0], sample.counts_of(sample.other[:1])[0]]
    rows += list(sample.tie_rows)
    picks = [tuple(np.flatnonzero(row[group] > setting.floors[group]).tolist()) for row in rows]
    choices = math.comb(size, winners)
    _, use_runs = _tie_plan(setting, setting.floor)
    seeds = len(rows)
    pvalues, distinct, repeats = _choice_pvalues(picks, choices)
    runs = sum(_cyclic_run(p, size, winners) for p in picks)
    if use_runs:
        pvalues.append((size / choices) ** seeds if runs == seeds else 1.0)
    pvalue = min(1.0, len(pvalues) * min(pvalues))
    detail = (
        f"classes {group.tolist()} tie for {winners} seats ({choices} ways); "
        f"{distinct} distinct choices in {seeds} seeds, the most common {repeats} times"
    )
    if use_runs:
        detail += f"; {runs} of them runs of consecutive tied classes ({size} of the {choices})"
    return pending(
        "ties_broken_at_random",
        setting,
        pvalue,
        seeds,
        detail,
        detects="",
        expected=f"{choices} equally likely choices",
        observed=[list(p) for p in sorted(set(picks))],
    )


def plan_quota(setting: Setting) -> list[tuple[str, bool]]:
    """Checks of the quota-counts property."""
    return [("counts_within_quota", True), ("prefix_error_below_1", True)]


def quota_checks(sample: Sample) -> list[CheckResult]:
    """Every count floor/ceil of ``B p_c``; every prefix within 1 of ``k B p_c``, in the main
    run and in the other seeds' short runs (:func:`seed_runs`; each from its own start)."""
    setting = sample.setting
    runs = seed_runs(sample)
    drift: list[npt.NDArray[np.bool_]] = []
    errors: list[npt.NDArray[np.float64]] = []
    worst = 0.0
    for _, counts in runs:
        n = counts.shape[0]
        error = np.cumsum(counts, axis=0) - np.arange(1, n + 1)[:, None] * setting.quotas
        worst = max(worst, float(np.abs(error).max()) if error.size else 0.0)
        errors.append(error)
        drift.append(np.abs(error) >= 1 - EPS)
    detail = f"max |cumulative - k*B*p| = {worst:.3f}" + _seeds_note(runs)
    first = _first_bad([d.any(axis=1) for d in drift])
    if first:
        i, k = first
        c = int(np.argmax(drift[i][k]))
        detail += (
            f"; class {c} after {k + 1} batches of {runs[i][0]}: off by {errors[i][k, c]:+.3f}"
        )
    return [
        _within_quota(setting, runs),
        exact(
            "prefix_error_below_1",
            setting,
            sum(int(d.sum()) for d in drift),
            sum(int(counts.sum()) for _, counts in runs),
            detail,
        ),
    ]
