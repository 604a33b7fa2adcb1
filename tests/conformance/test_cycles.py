"""Tests of refsampler.conformance.cycles: cycles without replacement, reshuffled, distinct."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest

from refsampler.conformance import cycles, mutants
from refsampler.conformance.sample import Sample

from ._shared import failed, sample, setting

LONG_TAIL = ("long-tail", 600)


@pytest.mark.parametrize("kind", ["fixed", "quota"])
def test_cycle_checks_pass_for_the_control(kind: str) -> None:
    """The control's cycles are fresh permutations, distinct within a batch (exact)."""
    results = cycles.cycle_checks(sample(mutants.control, setting(kind, *LONG_TAIL), seed=3))
    assert [r.check for r in results] == [
        "without_replacement_in_cycle",
        "distinct_in_batch",
        "cycles_reshuffled",
    ] + (["cycle_positions_uniform"] if kind == "fixed" else [])
    assert failed(results) == set()
    assert "0 of" in results[2].detail and "0 of 0" not in results[2].detail


@pytest.mark.parametrize(
    ("mutant", "config", "caught"),
    [
        ("with_replacement", "long-tail", {"without_replacement_in_cycle", "distinct_in_batch"}),
        ("no_reshuffle", "long-tail", {"cycles_reshuffled", "cycle_positions_uniform"}),
        ("alternating_cycles", "long-tail", {"cycles_reshuffled", "cycle_positions_uniform"}),
        ("repeats_at_wrap", "tied-remainders", {"distinct_in_batch"}),
        ("partial_dedupe", "wrap-in-batch", {"distinct_in_batch"}),
        ("four_permutations", "long-tail", {"cycles_reshuffled", "cycle_positions_uniform"}),
        ("small_class_repeats", "long-tail", {"cycle_positions_uniform"}),
        ("paired_shuffle", "long-tail", {"cycle_positions_uniform"}),
    ],
)
def test_cycle_checks_catch_replacement_reuse_and_repeats(
    mutant: str, config: str, caught: set[str]
) -> None:
    """Draws with replacement, reused permutations (one, two or four in turn, or one for the
    small classes only), shuffles restricted to fixed pairs, and a wrap that repeats a member,
    or moves only the head's clashes out of the batch (seed 3; the statistical catches are far
    below the Bonferroni floor)."""
    where = setting("fixed", config, 600)
    results = cycles.cycle_checks(sample(getattr(mutants, mutant), where, seed=3))
    assert failed(results) == caught


@pytest.mark.parametrize(
    ("mutant", "config", "draws"),
    [
        ("repeats_at_wrap", "tied-remainders", "2 draws of a class of 3"),
        ("partial_dedupe", "wrap-in-batch", "4 draws of a class of 5"),
    ],
)
def test_distinct_in_batch_names_the_repeated_member(mutant: str, config: str, draws: str) -> None:
    """The detail says which batch drew which position of which class twice."""
    where = setting("fixed", config, 600)
    result = cycles.cycle_checks(sample(getattr(mutants, mutant), where, seed=3))[1]
    assert result.check == "distinct_in_batch"
    assert re.search(
        rf"; batch \d+ draws position \d+ of class \d+ twice \({draws}\)$", result.detail
    )


@pytest.mark.parametrize("kind", ["fixed", "quota"])
def test_a_wrap_that_moves_only_the_heads_clashes_fails_every_seed(kind: str) -> None:
    """partial_dedupe keeps every cycle a permutation; only a member already in the batch that
    moves up into the next cycle's head shows it. On wrap-in-batch (a class of 5 drawn 4 times a
    batch wraps 1, 2 or 3 draws in) distinct_in_batch catches it at each of 5 seeds (a miss
    is below 1e-50 a seed, test_mutants), and passes the control, which moves every member
    already in the batch out of the head."""
    where = setting(kind, "wrap-in-batch")
    assert ("distinct_in_batch", True) in cycles.plan_cycles(where)
    for seed in range(5):
        broken = cycles.cycle_checks(sample(mutants.partial_dedupe, where, seed))
        assert failed(broken) == {"distinct_in_batch"}, seed
        assert "of class 1 twice (4 draws of a class of 5)" in broken[1].detail
        assert failed(cycles.cycle_checks(sample(mutants.control, where, seed))) == set()


def test_plan_cycles_leaves_out_what_a_configuration_cannot_show() -> None:
    """One class of 3 drawn 4 times a batch cannot be distinct; tiny classes never complete
    enough observable cycles to compare."""
    assert cycles.plan_cycles(setting("fixed", "single-class")) == [
        ("without_replacement_in_cycle", True)
    ]
    assert ("cycles_reshuffled", True) in cycles.plan_cycles(setting("fixed", "long-tail"))
    assert cycles.reshuffle_observable(setting("fixed", "long-tail")) == [0, 1, 2, 3]


def test_every_pair_of_cycles_is_compared_where_a_repeat_is_negligible() -> None:
    """Large classes are compared at every distance; a class of 20 drawn twice a batch,
    whose fresh cycles can look repeated (Bregman: 3e-12 a pair), is left out."""
    where = setting("fixed", "uniform")
    most = {c: where.n_batches * 2 // where.config.class_counts[c] for c in range(5)}
    assert cycles.repeat_distances(where) == {c: most[c] - 1 for c in (0, 1, 2)}
    result = cycles.cycle_checks(sample(mutants.four_permutations, setting("fixed", "long-tail")))
    later, earlier = re.search(r"cycle (\d+) repeats cycle (\d+)$", result[2].detail).groups()
    assert int(later) - int(earlier) == 4  # beyond the three neighbours once compared


def test_the_pair_bound_bounds_every_window_alignment() -> None:
    """Brute force over the 720 permutations of 6 members in windows of 2: the share that
    looks like a fixed permutation through windows shifted by 0 or 1 is below the bound."""
    bound = math.exp(cycles._log_pair_bound(6, 2))
    for shift in (0, 1):
        edges = np.arange(-shift, 8, 2)
        window = np.searchsorted(edges, np.arange(6), side="right") - 1
        low, high = edges[window], edges[window] + 2
        identity_low, identity_high = np.arange(6) // 2 * 2, np.arange(6) // 2 * 2 + 2
        looks = 0
        for perm in itertools.permutations(range(6)):
            at = np.argsort(perm)  # offset of each member in the other cycle
            looks += bool(np.all((low[at] < identity_high) & (identity_low < high[at])))
        assert looks / 720 <= bound


def test_positions_of_a_planned_class_without_two_bins_fail() -> None:
    """A run too short for the planned offset bins examined nothing: p = 0, a failure."""
    where = setting("fixed", *LONG_TAIL)
    full = sample(mutants.control, where, seed=3)
    short = Sample(where, full.labels, full.batches[:8], full.first, full.again, full.other)
    result = cycles.cycle_checks(short)[-1]
    assert result.check == "cycle_positions_uniform" and result.pvalue == 0.0
    assert "no class had two offset bins" in result.detail


@pytest.mark.statistical(level=1e-8)
def test_positions_leave_out_a_class_drawn_twice_where_the_target_allows_one() -> None:
    """Stochastic rounding (seed 0) gives class 4 two seats where largest remainder gives
    one: the counts checks fail it, and cycle_positions_uniform leaves class 4 out instead of
    reading its first draw of each batch as the cycle's (which would blame its cycles). The
    other classes' cycles are uniform, so only a p-value below the Bonferroni share of the
    tests' level 1e-8 would fail here: that happens with probability at most 1e-8."""
    where = setting("fixed", *LONG_TAIL)
    drawn = sample(mutants.random_rounding, where, seed=0)
    assert drawn.counts[0].tolist()[4] == 2 and 4 in cycles.position_classes(where)
    result = next(r for r in cycles.cycle_checks(drawn) if r.check == "cycle_positions_uniform")
    assert "class 4 left out: drawn more than once in a batch" in result.detail
    assert "4 (" not in result.detail.split(":")[1]
    assert "cycle_positions_uniform" not in failed([result])


def test_a_reused_member_is_named_by_the_callers_batch_names() -> None:
    """The reuse detail names the batch as the caller names it (by default its row)."""
    where = setting("fixed", "long-tail", 64)
    drawn = sample(mutants.with_replacement, where, seed=3)
    default = cycles.cycle_checks(drawn)[0]
    assert re.search(r"time in batch \d+, before its cycle", default.detail)
    named = cycles.cycle_checks(drawn, lambda k: f"row {k} of the run")[0]
    assert re.search(r"time in row \d+ of the run, before its cycle", named.detail)
