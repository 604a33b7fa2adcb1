"""Checks of the mixes-classes property: which classes share a batch is random from the seed.

A class whose quota ``B p_c`` is fractional gets its ceiling in some batches and its floor in
others (an *extra seat*; for a class with ``floor(B p_c) = 0`` the extra seat is its presence
in the batch). The counts properties fix how often; this property says the choice of *which*
batches is random. Classes with the same fractional quota are interchangeable, so a schedule
that is random from the seed must mix them: the schedule changes with the seed, no two of them
are kept apart, no two are locked together, and where one group takes every extra seat, the
classes that take them in each of the first batches vary with the seed as a uniformly random
choice would. A schedule locked to one rotation (10 uniform classes, 4 seats: classes 0 and 1
always together, 0 never with 5) passes every counts check and fails these; so does one that
breaks its ties by class index only while it starts (every seed opens with classes 0 to 3),
which over a whole run meets, splits and varies like a random one.

Only interchangeable classes are compared: for classes with different quotas the prefix
bound itself can force a deterministic order (a class of quota 0.016 next to two of 0.988),
and a correct scheduler may legitimately follow it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .. import kinds as _kinds
from .checks import exact, pending
from .counts import MAX_TIE_SEEDS, _at_most_distinct, _choice_pvalues
from .results import CheckResult
from .sample import Sample, Setting

__all__ = [
    "MIN_MEETINGS",
    "MIN_SPLITS",
    "START_BATCHES",
    "interchangeable_groups",
    "meeting_pairs",
    "mixing_checks",
    "plan_mixing",
    "start_check",
    "start_group",
    "start_seeds",
]

#: A pair of classes is expected to meet at least this often (were the extra seats handed out
#: at random) before zero meetings count as a violation; a random schedule misses by chance
#: with probability about ``exp(-40)``.
MIN_MEETINGS = 40.0
#: Batches in which a random schedule is expected to split an interchangeable group (some of
#: it gets extra seats, some not) before the seed must visibly change the schedule; about half
#: of the splits are free choices, so identical schedules from two seeds have probability
#: about ``2 ** -40``.
MIN_SPLITS = 80.0

#: Batches at the start of a run whose choice of interchangeable classes
#: :func:`start_check` reads under every seed, each batch on its own.
START_BATCHES = 8

IntVector = npt.NDArray[np.int64]


def interchangeable_groups(setting: Setting) -> list[tuple[IntVector, float]]:
    """Groups of at least two part-time classes with the same fractional quota ``r``."""
    rate = np.round(setting.seat_quotas - setting.seat_floors, 9)
    classes = setting.part_time
    groups = []
    for value in np.unique(rate[classes]):
        group = classes[rate[classes] == value]
        if group.size >= 2:
            groups.append((group, float(value)))
    return groups


def _splits(setting: Setting, batches: int) -> float:
    """Expected batches, out of ``batches``, that split some interchangeable group."""
    return sum(
        batches * (1.0 - r**g.size - (1.0 - r) ** g.size)
        for g, r in interchangeable_groups(setting)
    )


def meeting_pairs(setting: Setting) -> list[tuple[int, int, float]]:
    """Pairs ``(c, d, expected meetings)`` of interchangeable classes that must meet.

    With ``D`` extra seats per batch and fractional quota ``r``, a batch gives extra seats to
    both with probability about ``r**2 (D - 1) / D`` when the seats go to random classes;
    pairs expected to meet at least :data:`MIN_MEETINGS` times over the main run are listed.
    ``D < 2`` means no two classes can get extra seats together.
    """
    seats = setting.extra_seats
    if seats < 2:
        return []
    pairs = []
    for group, r in interchangeable_groups(setting):
        expected = setting.n_batches * r * r * (seats - 1) / seats
        if expected >= MIN_MEETINGS:
            pairs += [
                (int(c), int(d), float(expected))
                for i, c in enumerate(group)
                for d in group[i + 1 :]
            ]
    return pairs


def start_group(setting: Setting) -> tuple[IntVector, int] | None:
    """``(group, seats)`` when the kind mixes classes and one interchangeable group holds
    every part-time class, so that each batch hands exactly ``seats`` extra seats
    (``0 < seats < len(group)``) to classes of the group, at most one each; otherwise None.

    The classes of a group are interchangeable, so whatever a correct schedule does, the
    classes that take the seats of batch ``k`` are, by symmetry, each of the
    ``C(len(group), seats)`` choices with the same chance, for every ``k``.
    """
    if _kinds.PROPERTY_MIXES_CLASSES not in setting.properties:
        return None  # the random kind's classes have quotas too, but no schedule to mix
    groups = interchangeable_groups(setting)
    if len(groups) != 1 or groups[0][0].size != setting.part_time.size:
        return None
    group, seats = groups[0][0], setting.extra_seats
    if not 0 < seats < group.size or setting.n_repeat < 1:
        return None
    return group, seats


def _start_pvalue(seeds: int, choices: int, batches: int, *, two: bool) -> float:
    """The start check's p-value when, at some batch, ``seeds`` seeds show one choice (or
    only two, ``two``): both statistics of each of ``batches`` batches, Bonferroni."""
    return 2.0 * batches * _at_most_distinct(2 if two else 1, seeds, choices)


def start_seeds(setting: Setting, family_floor: float) -> int:
    """Seeds the start check reads (0 where it does not run): the fewest that put its
    p-value below a tenth of the smallest Holm threshold ``family_floor`` when every seed
    makes one choice at some batch, and, where at most
    :data:`~refsampler.conformance.counts.MAX_TIE_SEEDS` seeds do it, when the seeds make only
    two choices there.
    """
    found = start_group(setting)
    if found is None:
        return 0
    group, seats = found
    choices = math.comb(int(group.size), seats)
    batches = min(START_BATCHES, setting.n_repeat)
    if choices > 2:
        for seeds in range(2, MAX_TIE_SEEDS + 1):
            if _start_pvalue(seeds, choices, batches, two=True) <= family_floor / 10:
                return seeds
    seeds = 2
    while _start_pvalue(seeds, choices, batches, two=False) > family_floor / 10:
        seeds += 1  # the chance of one choice, C ** -(n - 1), falls for every C >= 2
    return seeds


def plan_mixing(setting: Setting) -> list[tuple[str, bool]]:
    """Checks of the mixes-classes property (none without interchangeable part-time classes)."""
    names: list[tuple[str, bool]] = []
    if _splits(setting, setting.n_repeat) >= MIN_SPLITS:
        names.append(("schedule_varies_with_seed", True))
    if meeting_pairs(setting):
        names.append(("classes_meet", True))
    if _splits(setting, setting.n_batches) >= MIN_SPLITS:
        names.append(("classes_not_locked", True))
    if start_group(setting) is not None:
        names.append(("start_seats_random", False))
    return names


def _together(setting: Setting, c: int, d: int) -> str:
    if setting.seat_floors[c] == 0 and setting.seat_floors[d] == 0:
        return "share a batch"
    return "get their extra seats in the same batch"


def mixing_checks(sample: Sample) -> list[CheckResult]:
    """The schedule changes with the seed; pairs that can meet do; no pair is locked."""
    setting = sample.setting
    plan = dict(plan_mixing(setting))
    counts = sample.counts
    n = counts.shape[0]
    classes = setting.part_time
    # Seats of each class per batch (draws, or appearances of m draws under the pk shape).
    extra = counts[:, classes] // setting.unit > setting.seat_floors[classes]
    results = []
    if "schedule_varies_with_seed" in plan:
        same = bool(np.array_equal(sample.counts_of(sample.first), sample.counts_of(sample.other)))
        results.append(
            exact(
                "schedule_varies_with_seed",
                setting,
                int(same),
                sample.first.size,
                f"per-batch counts of {sample.first.shape[0]} batches under seeds s and s + 1 "
                + ("are identical" if same else "differ"),
            )
        )
    if "classes_meet" in plan:
        column = {int(c): i for i, c in enumerate(classes)}
        apart = []
        pairs = meeting_pairs(setting)
        for c, d, expected in pairs:
            met = int(np.count_nonzero(extra[:, column[c]] & extra[:, column[d]]))
            if met == 0:
                apart.append((c, d, expected))
        detail = f"{len(pairs) - len(apart)} of {len(pairs)} pairs met"
        if apart:
            c, d, expected = min(apart, key=lambda t: -t[2])
            detail += (
                f"; classes {c} and {d} never {_together(setting, c, d)} in {n} batches "
                f"(about {expected:.0f} times expected if the seats were spread at random)"
            )
        results.append(
            exact(
                "classes_meet",
                setting,
                len(apart),
                int(counts.sum()),
                detail,
                expected=round(min((e for _, _, e in apart), default=0.0), 1) if apart else None,
                observed=0 if apart else None,
            )
        )
    if "classes_not_locked" in plan:
        column = {int(c): i for i, c in enumerate(classes)}
        locked = []
        for group, _ in interchangeable_groups(setting):
            columns = extra[:, [column[int(c)] for c in group]].T
            _, first, inverse = np.unique(columns, axis=0, return_index=True, return_inverse=True)
            inverse = np.asarray(inverse).reshape(-1)
            locked += [
                (int(group[first[g]]), int(group[i]))
                for i, g in enumerate(inverse)
                if first[g] != i
            ]
        detail = f"{len(locked)} pairs of interchangeable classes locked together"
        if locked:
            c, d = locked[0]
            times = int(extra[:, column[c]].sum())
            verb = "appear" if setting.seat_floors[c] == 0 else "get their extra seats"
            detail += f"; classes {c} and {d} {verb} in exactly the same {times} of {n} batches"
        results.append(exact("classes_not_locked", setting, len(locked), int(counts.sum()), detail))
    if "start_seats_random" in plan:
        results.append(start_check(sample))
    return results


def start_check(sample: Sample) -> CheckResult:
    """The classes of the one interchangeable group that take each of the first
    :data:`START_BATCHES` batches' extra seats are a uniformly random choice, whatever the
    seed.

    Reads the first batches of seed ``s``, of ``s + 1`` and of the further seeds
    (``Sample.start_rows``; :func:`start_seeds` of them in all). Under a correct schedule the
    group's classes are interchangeable, so at every batch each seed's choice is one of the
    ``C`` ways to give the group's seats, each with chance ``1 / C``, independently of the
    other seeds. Per batch, the two statistics of the fixed kind's tie check, each with its
    exact or conservative p-value under that null: few distinct choices, and one choice
    repeated; the check's p-value is the smallest of them times their number (Bonferroni over
    both statistics of every batch read). A schedule that breaks ties by class index while it
    starts gives one choice for every seed there and fails; one whose ties only lean towards
    low ids (a bias that moves a choice's chance by a few percent) is beyond it.
    """
    setting = sample.setting
    found = start_group(setting)
    if found is None:
        raise ValueError("start_check needs one interchangeable group that takes every seat")
    group, seats = found
    runs = [sample.counts_of(sample.first), sample.counts_of(sample.other)]
    runs += list(sample.start_rows)
    batches = min(START_BATCHES, min(r.shape[0] for r in runs))
    size = int(group.size)
    choices = math.comb(size, seats)
    floors = setting.seat_floors[group]
    pvalues: list[float] = []
    worst = (1.0, 0, 0, 0)  # (p, batch, distinct, most repeated)
    for k in range(batches):
        picks = [tuple(np.flatnonzero(r[k, group] // setting.unit > floors).tolist()) for r in runs]
        here, distinct, repeats = _choice_pvalues(picks, choices)
        pvalues += here
        if min(here) < worst[0]:
            worst = (min(here), k, distinct, repeats)
    pvalue = min(1.0, len(pvalues) * min(pvalues))
    _, k, distinct, repeats = worst
    detail = (
        f"classes {group.tolist()} share {seats} extra seats a batch ({choices} ways); "
        f"first {batches} batches under {len(runs)} seeds"
    )
    if worst[0] < 1.0:
        detail += f"; batch {k}: {distinct} distinct choices, the most common {repeats} times"
    return pending(
        "start_seats_random",
        setting,
        pvalue,
        len(runs),
        detail,
        detects="",
        expected=f"{choices} equally likely choices at every batch",
        observed=None,
    )
