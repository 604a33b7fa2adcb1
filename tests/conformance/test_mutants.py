"""Tests of refsampler.conformance.mutants: every defect is caught, every check catches one.

Miss probabilities
------------------
A mutant test fails wrongly only if its catching check passes the mutant. Exact checks catch
their mutants deterministically. For the statistical ones, ``MISS_BOUNDS`` computes an upper
bound on that probability from the mutant's construction (``miss_bound_*`` below, with
:mod:`scipy.stats`); all are below ``MISS_BOUND`` = 1e-12, so the mutant tests together add at
most ``len(CAUGHT_BY) * 1e-12`` to the suite's false-failure budget (``test_budget.py``).
"""

from __future__ import annotations

import inspect
import itertools
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from refsampler.conformance import mutants, properties, verify
from refsampler.conformance.configs import CONFIGS, by_name
from refsampler.conformance.mutants import MUTANTS, PARTIAL
from refsampler.conformance.runner import default_kinds, plan_run, planned_assertions

from ._shared import ALSO_CAUGHT, CAUGHT_BY, TEST_LEVEL

#: Bound on P(the designated check misses its mutant), for every mutant.
MISS_BOUND = 1e-12


def _floor(kind: str, config: str) -> float:
    """The smallest Holm threshold of a mutant test's run: p <= it is always rejected."""
    return TEST_LEVEL / planned_assertions([kind], by_name([config]))


def _draws(kind: str, config: str) -> int:
    setting = plan_run([kind], by_name([config]))[0]
    return setting.n_batches * setting.config.batch_size


def miss_bound_biased_target() -> float:
    """class_share[7]: X ~ Binomial(n, p1) exactly, p1 = (p0 + 0.015) / 1.015. Sum P1 over
    the counts whose exact two-sided binomial p-value under p0 exceeds the floor."""
    config = by_name(["long-tail"])[0]
    p0 = float(config.target()[7])
    p1 = (p0 + 0.015) / 1.015
    n, floor = _draws("random", "long-tail"), _floor("random", "long-tail")
    sd = np.sqrt(n * p1 * (1 - p1))
    low, high = int(n * p1 - 12 * sd), int(n * p1 + 12 * sd)
    accepted = [x for x in range(low, high + 1) if scipy_stats.binomtest(x, n, p0).pvalue > floor]
    inside = float(sum(scipy_stats.binom.pmf(accepted, n, p1)))
    outside = float(scipy_stats.binom.cdf(low - 1, n, p1) + scipy_stats.binom.sf(high, n, p1))
    return inside + outside


def miss_bound_random_in_cycles() -> float:
    """member_repeats: class 6 has 2 members, so its disjoint pairs are whole cycles and never
    repeat; with m pairs it alone adds m to the statistic (dof <= 7). A miss needs m below the
    critical value: P(Binomial(n, p_6) < 2 * critical + 2)."""
    config = by_name(["long-tail"])[0]
    critical = scipy_stats.chi2.isf(_floor("random", "long-tail"), 7)
    n = _draws("random", "long-tail")
    return float(scipy_stats.binom.cdf(2 * critical + 2, n, float(config.target()[6])))


def miss_bound_serial_repeat() -> float:
    """serial_draws: the second of a disjoint pair copies the first with probability 0.1, so
    pairs follow 0.9 p p^T + 0.1 diag(p). Collapsing to class 0 versus the rest only lowers
    the noncentrality; the statistic has at most (K - 1)^2 dof."""
    p = float(by_name(["long-tail"])[0].target()[0])
    shares = np.array([p, 1 - p])
    null = np.outer(shares, shares)
    alternative = 0.9 * null + 0.1 * np.diag(shares)
    pairs = _draws("random", "long-tail") // 2
    noncentrality = pairs * float(np.sum((alternative - null) ** 2 / null))
    dof = 49
    critical = scipy_stats.chi2.isf(_floor("random", "long-tail") / 2, dof)
    return float(scipy_stats.ncx2.cdf(critical, dof, noncentrality))


def miss_bound_nonuniform_members() -> float:
    """within_class_uniform: class 0's draws land in its first half of members with
    probability sqrt(1/2) instead of 1/2 (u**2). Collapsing class 0 to halves lowers the
    noncentrality (computed for 90 % of its expected draws, plus the binomial chance of fewer
    draws); cells, dof and the scaled chi-square's scale follow the test's pooling at the
    expected draws."""
    config = by_name(["long-tail"])[0]
    target, sizes = config.target(), np.asarray(config.class_counts)
    draws = _draws("random", "long-tail")
    expected = draws * target
    width = np.minimum(np.ceil(5.0 / (expected / sizes)), sizes)
    cells = np.maximum(sizes // width, 1)
    dof = int(np.sum(cells - 1))
    # Equal cells: sum(1 / pi) = k**2 in the exact Pearson variance, leaving (2 - 2k) / N.
    variance = float(np.sum(2 * (cells - 1) + (2 - 2 * cells) / expected))
    scale = max(variance / (2 * dof), 1.0)
    critical = scale * scipy_stats.chi2.isf(_floor("random", "long-tail") / 2, dof / scale)
    class_draws = 0.9 * expected[0]
    first = np.sqrt(0.5)
    noncentrality = class_draws * 2 * (first - 0.5) ** 2 / 0.5
    fewer = float(scipy_stats.binom.cdf(class_draws, draws, float(target[0])))
    return float(scipy_stats.ncx2.cdf(critical, dof, noncentrality)) + fewer


def _positions_floor(rows: dict[int, np.ndarray]) -> float:
    """Miss probability of cycle_positions_uniform (fixed/long-tail) when every member of
    each class in ``rows`` spreads its complete cycles over the offset bins at best as
    ``rows[c]`` does (shape (bins,), the most even split the mutant allows): the statistic is
    at least that (convex; the other classes add >= 0; the fixed counts fix the cycles and
    dof), so its p-value is at most 2 sf. 0 when that is below the floor, else 1."""
    from refsampler.conformance import cycles

    where = plan_run(["fixed"], by_name(["long-tail"]))[0]
    sizes = where.config.class_counts
    draws = {c: where.n_batches * where.largest_count_of(c) for c in cycles.position_classes(where)}
    dof, statistic = 0, 0.0
    for c, drawn in draws.items():
        complete = drawn // sizes[c]
        bins = cycles._bins(complete, sizes[c])
        dof += (sizes[c] - 1) * (bins - 1)
        if c in rows:
            expected = complete * np.bincount(np.arange(sizes[c]) * bins // sizes[c]) / sizes[c]
            split = rows[c] * complete / rows[c].sum()
            row = float(np.sum((split - expected) ** 2 / expected))
            statistic += sizes[c] * row * (sizes[c] - 1) / sizes[c]
    pvalue = 2 * float(scipy_stats.chi2.sf(statistic, dof))
    return 0.0 if pvalue <= _floor("fixed", "long-tail") else 1.0


def miss_bound_small_class_repeats() -> float:
    """cycle_positions_uniform: class 4 (10 members, one draw a batch, 10 offset bins)
    reuses one permutation, so each member has all its cycles in one bin."""
    return _positions_floor({4: np.eye(10)[0]})


def miss_bound_paired_shuffle() -> float:
    """cycle_positions_uniform: a member of class 4 (10 members, 10 bins) is only ever at
    offsets i and i + 5; the statistic is smallest when it splits its cycles evenly."""
    return _positions_floor({4: np.eye(10)[0] + np.eye(10)[5]})


#: Deterministic catches: the catching statistic does not depend on the seed (or only on
#: counts the construction fixes). stratified_random: per-batch counts of class 0 are 5 or 6,
#: every other histogram cell is empty and contributes its expectation (>= 2,400 in all);
#: repeated_batch_classes: paired batches agree exactly, a perfectly associated table
#: (statistic = pairs * (categories - 1) >= 2,048); sorted_by_class / class_blocks: fixed
#: slots and fixed neighbours; low_index_ties: the same winners for every seed, and
#: rotating_ties: a window of consecutive tied classes for every seed, each p below the floor
#: by construction of the seed count (counts.tie_seeds); index_ties_at_start and
#: pk_index_ties_at_start: the same classes open batch 0 for every seed, p below the floor by
#: construction of mixing.start_seeds.
DETERMINISTIC = {
    "stratified_random",
    "repeated_batch_classes",
    "sorted_by_class",
    "class_blocks",
    "low_index_ties",
    "rotating_ties",
    "index_ties_at_start",
    "pk_index_ties_at_start",
}

MISS_BOUNDS = {
    "biased_target": miss_bound_biased_target,
    "random_in_cycles": miss_bound_random_in_cycles,
    "serial_repeat": miss_bound_serial_repeat,
    "nonuniform_members": miss_bound_nonuniform_members,
    "small_class_repeats": miss_bound_small_class_repeats,
    "paired_shuffle": miss_bound_paired_shuffle,
}


def test_statistically_caught_mutants_are_missed_with_negligible_probability() -> None:
    """Every mutant caught by a statistical check has a computed miss bound <= 1e-12, or is
    caught deterministically; the rest are caught by exact checks."""
    statistical = {
        name
        for name, (kind, config, check) in CAUGHT_BY.items()
        if any(
            c.check == check and not c.exact
            for s in plan_run([kind], by_name([config]))
            for c in properties.plan(s)
        )
    }
    assert statistical == set(MISS_BOUNDS) | DETERMINISTIC
    for name, bound in MISS_BOUNDS.items():
        assert bound() <= MISS_BOUND, name


def _partial_dedupe_shows(size: int, already: int, head: int) -> float:
    """P(one wrap of partial_dedupe puts a member twice in its batch): ``already`` members of
    a class of ``size`` are in the batch when its cycle ends, ``head`` more come from the
    next cycle, a fresh uniform permutation (all ``size!`` of them enumerated)."""
    shows = 0
    for row in itertools.permutations(range(size)):  # members 0 .. already-1 are in the batch
        moved = [m for m in row[:head] if m < already]
        rest = [m for m in row if m not in moved]
        shows += any(m < already for m in rest[:head])
    return shows / math.factorial(size)


def test_partial_dedupe_is_missed_with_negligible_probability() -> None:
    """distinct_in_batch is exact, but partial_dedupe shows only where a wrap moves a member
    already in the batch up into the next cycle's head. Every wrap draws a fresh permutation,
    so the wraps are independent: on wrap-in-batch (fixed), the product of ``1 - P(shows)``
    over the wraps of the classes of at most 8 members (leaving the others out only raises it)
    bounds the miss."""
    where = plan_run(["fixed"], by_name(["wrap-in-batch"]))[0]
    miss, wraps = 1.0, 0
    for c, size in enumerate(where.config.class_counts):
        (a,) = where.achievable_counts(c)
        if size > 8 or a > size:
            continue
        for into in np.arange(size, where.n_batches * a, size) % a:
            if into >= 2:
                miss *= 1 - _partial_dedupe_shows(size, int(into), a - int(into))
                wraps += 1
    assert _partial_dedupe_shows(5, 1, 3) == 0  # one member in the batch: the fix is whole
    assert wraps >= 200 and miss <= MISS_BOUND


def test_there_are_documented_mutants_of_every_blind_spot() -> None:
    """Each mutant is a module-level callable with a docstring naming its defect."""
    assert len(MUTANTS) >= 25
    for name, mutant in MUTANTS.items():
        assert getattr(mutants, name) is mutant
        assert mutant.__doc__ and len(mutant.__doc__) > 20
    assert set(CAUGHT_BY) == set(MUTANTS)


def test_mutants_follow_the_adapter_protocol() -> None:
    """Every mutant takes labels and the keyword-only protocol arguments."""
    for mutant in [*MUTANTS.values(), *PARTIAL.values()]:
        parameters = inspect.signature(mutant).parameters
        names = ["labels", "kind", "alpha", "batch_size", "n_batches", "seed"]
        assert list(parameters)[:6] == names


def test_every_check_of_the_kit_catches_some_mutant() -> None:
    """No check is there for show: each is the designated catcher of at least one mutant."""
    planned = {
        c.check.split("[")[0]
        for s in plan_run(default_kinds(), CONFIGS)
        for c in properties.plan(s)
    }
    catching = {check.split("[")[0] for _, _, check in CAUGHT_BY.values()} | set(ALSO_CAUGHT)
    assert planned == catching


@pytest.mark.statistical(level=MISS_BOUND)
@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_verify_catches_every_mutant_with_its_check(name: str, stat_seed: int) -> None:
    """The designated check fails in the designated configuration (miss bound 1e-12)."""
    kind, config, check = CAUGHT_BY[name]
    report = verify(
        MUTANTS[name],
        kinds=[kind],
        configs=[config],
        seed=stat_seed % 2**31,
        family_level=TEST_LEVEL,
    )
    assert check in {r.check for r in report.failures}, report.table()
    assert report.exit_code == 1


@pytest.mark.parametrize("check", sorted(ALSO_CAUGHT))
def test_checks_without_a_designated_mutant_catch_a_neighbour(check: str) -> None:
    """classes_not_locked and class_shares catch their neighbour mutants too
    (deterministically: a fixed schedule, shares 1.5 points off at p < 1e-30 -- the bound of
    biased_target applies)."""
    name, kind, config = ALSO_CAUGHT[check]
    report = verify(MUTANTS[name], kinds=[kind], configs=[config], family_level=TEST_LEVEL)
    assert check in {r.check for r in report.failures}


#: Mutants of the seed and batch-shape checks -> the only checks they fail there. Each passed
#: every check before those were strengthened (the other-seed check compared positions
#: element by element, the same-seed check 256 batches, the shape check flattened batches
#: and took whole floats).
ONLY_CAUGHT_BY = {
    ("seed_only_orders", "random", "long-tail"): {
        "other_seed_other_batches",
        "far_seed_other_batches",
    },
    ("seed_only_orders", "fixed", "uniform"): {
        "other_seed_other_batches",
        "far_seed_other_batches",
    },
    ("low_seed_bits", "fixed", "uniform"): {"far_seed_other_batches"},
    ("seed_shifts_batches", "random", "long-tail"): {"other_seed_other_batches"},
    ("diverges_late", "fixed", "uniform"): {"same_seed_same_batches"},
    ("nested_batches", "fixed", "uniform"): {"batch_shape"},
    ("float_positions", "fixed", "uniform"): {"batch_shape"},
}


@pytest.mark.statistical(level=TEST_LEVEL)
@pytest.mark.parametrize("case", sorted(ONLY_CAUGHT_BY))
def test_seed_and_shape_mutants_fail_only_their_checks(
    case: tuple[str, str, str], stat_seed: int
) -> None:
    """Every other check passes them (false-failure rate 1e-8 per case: a verify run).

    seed_only_orders draws the batches of seed 0: on the fixed kind the seed only shuffles
    inside batches, on the random kind it also permutes the batches.
    """
    name, kind, config = case
    report = verify(
        MUTANTS[name],
        kinds=[kind],
        configs=[config],
        seed=stat_seed % 2**31,
        family_level=TEST_LEVEL,
    )
    assert {r.check for r in report.failures} == ONLY_CAUGHT_BY[case], report.table()


def test_shape_mutants_hold_the_right_positions() -> None:
    """nested_batches and float_positions flatten / cast to the control's batches: only the
    form is wrong, which the shape check used to accept."""
    labels = by_name(["uniform"])[0].labels()
    options = {"kind": "fixed", "alpha": 1.0, "batch_size": 10, "n_batches": 20, "seed": 3}
    right = np.asarray(mutants.control(labels, **options))
    nested = np.asarray(mutants.nested_batches(labels, **options))
    floats = np.asarray(mutants.float_positions(labels, **options))
    assert nested.shape == (20, 5, 2) and np.array_equal(nested.reshape(20, 10), right)
    assert floats.dtype == np.float64 and np.array_equal(floats, right)
    odd = dict(options, batch_size=3)
    assert np.asarray(mutants.nested_batches(labels, **odd)).shape == (20, 3, 1)


def test_seed_mutants_differ_from_the_control_only_where_they_should() -> None:
    """low_seed_bits equals the control below 2**16 and repeats it 2**16 higher;
    diverges_late reproduces its first 256 batches and not the rest."""
    labels = by_name(["uniform"])[0].labels()
    options = {"kind": "fixed", "alpha": 1.0, "batch_size": 10, "n_batches": 300}
    low = mutants.low_seed_bits(labels, seed=5 + 2**16, **options)
    assert low == mutants.control(labels, seed=5, **options)
    late = [np.asarray(mutants.diverges_late(labels, seed=5, **options)) for _ in range(2)]
    assert np.array_equal(late[0][:256], late[1][:256])
    assert not np.array_equal(late[0][256:], late[1][256:])
    assert np.array_equal(np.sort(late[0], axis=1), np.sort(late[1], axis=1))


@pytest.mark.statistical(level=TEST_LEVEL)
def test_control_conforms(stat_seed: int) -> None:
    """The unbroken control passes every kind (false-failure rate 1e-8, one verify run), and
    for every (kind, configuration) the run's check names are :func:`properties.plan`'s, in
    order (the same run serves both: a verify run of every kind is the costliest test)."""
    report = verify(mutants.control, seed=stat_seed % 2**31, family_level=TEST_LEVEL)
    assert report.conforms, report.table(failures_only=True)
    for setting in plan_run(report.kinds, CONFIGS):
        got = [
            r.check
            for r in report.results
            if (r.kind, r.config) == (setting.kind, setting.config.name)
        ]
        assert got == [c.check for c in properties.plan(setting)], setting


def test_mutates_labels_really_mutates() -> None:
    """The label-mutating mutant shuffles its input in place (so the kit must copy)."""
    labels = np.repeat(np.arange(3), [5, 4, 3])
    before = labels.copy()
    mutants.mutates_labels(labels, kind="fixed", alpha=1.0, batch_size=3, n_batches=2, seed=0)
    assert not np.array_equal(labels, before)
    assert sorted(labels.tolist()) == sorted(before.tolist())


def test_control_quota_rows_have_the_quota_property_for_any_tie_breaking() -> None:
    """PD2 keeps every prefix within one seat whether ties go by index or at random."""
    for config in CONFIGS:
        target, batch = config.target(), config.batch_size
        for rng in (None, np.random.default_rng(0)):
            rows = mutants.quota_rows(target, batch, 300, rng)
            error = np.cumsum(rows, axis=0) - np.arange(1, 301)[:, None] * batch * target
            assert (rows.sum(axis=1) == batch).all() and np.abs(error).max() < 1 - 1e-9


def test_only_alpha_one_names_its_wrapper() -> None:
    """The wrapper keeps a readable name for reports."""
    assert mutants.alpha_one_control.__name__ == "alpha_one_control"
    assert mutants.only_alpha_one(mutants.control).__name__ == "only_alpha_one(control)"
