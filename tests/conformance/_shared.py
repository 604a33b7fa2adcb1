"""Helpers shared by the kit's tests: running one check family on a known sample."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

import numpy as np
import pytest

from refsampler.conformance import mixing, properties
from refsampler.conformance.checks import far_seed_names, far_seeds
from refsampler.conformance.configs import Config, by_name
from refsampler.conformance.results import CheckResult
from refsampler.conformance.runner import REPEAT_BATCHES, plan_run
from refsampler.conformance.sample import Sample, Setting

#: Family-wise level of every verify run of a correct implementation in tests/ (each one
#: counts once in property_tests/test_budget.py).
TEST_LEVEL = 1e-8


def slow_except(names: Iterable[str], fast: Collection[str]) -> list[Any]:
    """``names`` as parameters, each but those in ``fast`` marked ``slow``: a sweep over
    every mutant is a meta-test, so `make test` runs a few (one per structure the kit must
    see) and `make test-all` all of them."""
    unknown = set(fast) - set(names := list(names))
    if unknown:
        raise ValueError(f"fast names not in the sweep: {sorted(unknown)}")
    return [pytest.param(n, marks=() if n in fast else pytest.mark.slow) for n in names]


def setting(kind: str, config: str | Config, n_batches: int | None = None) -> Setting:
    """The run's setting of (kind, config), optionally with another batch count."""
    chosen = by_name([config])[0] if isinstance(config, str) else config
    planned = next(iter(plan_run([kind], [chosen])))
    if n_batches is None:
        return planned
    return Setting(kind, chosen, n_batches, min(n_batches, REPEAT_BATCHES), planned.floor)


def sample(make_batches: Callable[..., Any], where: Setting, seed: int = 0) -> Sample:
    """The implementation's main run and determinism runs for ``where``, as verify makes
    them, and the start check's further seeds (not the tie check's)."""
    config = where.config
    labels = config.labels()

    def run(n: int, s: int) -> np.ndarray:
        rows = make_batches(
            labels.copy(),
            kind=where.kind,
            alpha=config.alpha,
            batch_size=config.batch_size,
            n_batches=n,
            seed=s,
        )
        return np.asarray(rows, dtype=np.int64)

    drawn = Sample(
        where,
        labels,
        run(where.n_batches, seed),
        run(where.n_repeat, seed),
        run(where.n_batches, seed),
        run(where.n_repeat, seed + 1),
        [
            (name, run(where.n_repeat, s))
            for name, s in zip(far_seed_names(seed), far_seeds(seed), strict=True)
        ],
    )
    further = mixing.start_seeds(where, where.floor)
    length = min(mixing.START_BATCHES, where.n_repeat)
    drawn.start_rows = [drawn.counts_of(run(length, seed + 2 + i)) for i in range(further - 2)]
    return drawn


def failed(results: list[CheckResult], level: float = TEST_LEVEL) -> set[str]:
    """Names of the results that fail: exact violations, or p-values at or below the
    Bonferroni share of ``level`` (so a correct sampler fails with probability <= level)."""
    floor = level / max(sum(not r.exact for r in results), 1)
    return {
        r.check
        for r in results
        if (r.exact and r.verdict == "fail") or (not r.exact and (r.pvalue or 0.0) <= floor)
    }


def run_properties(
    make_batches: Callable[..., Any], kind: str, config: str, seed: int = 0
) -> list[CheckResult]:
    """The property checks of one (kind, configuration) of ``make_batches``."""
    return properties.run_properties(sample(make_batches, setting(kind, config), seed))


#: Mutant -> the (kind, configuration, check) that catches it. Every check of the kit appears
#: here at least once (test_mutants), and each mutant's CLI run narrows to it (test_cli).
CAUGHT_BY = {
    "partial_dedupe": ("fixed", "wrap-in-batch", "distinct_in_batch"),
    "np_round": ("fixed", "tiny-classes", "positive_classes_present"),
    "tail_boost": ("fixed", "long-tail", "largest_remainder"),
    "random_rounding": ("fixed", "long-tail", "largest_remainder"),
    "id_order_seats": ("fixed", "remainder-order", "largest_remainder"),
    "low_index_ties": ("fixed", "tied-remainders", "ties_broken_at_random"),
    "rotating_ties": ("fixed", "tied-remainders", "ties_broken_at_random"),
    "varying_fixed_counts": ("fixed", "long-tail", "same_counts_every_batch"),
    "drops_tiny_class": ("fixed", "long-tail", "positive_classes_present"),
    "ignores_alpha": ("fixed", "long-tail", "counts_within_quota"),
    "inverted_alpha": ("quota", "tiny-classes", "counts_within_quota"),
    "counts_by_frequency": ("fixed", "tiny-classes", "largest_remainder"),
    "biased_target": ("random", "long-tail", "class_share[7]"),
    "nonuniform_members": ("random", "long-tail", "within_class_uniform"),
    "random_in_cycles": ("random", "long-tail", "member_repeats"),
    "serial_repeat": ("random", "long-tail", "serial_draws"),
    "stratified_random": ("random", "long-tail", "per_batch_dispersion[0]"),
    "repeated_batch_classes": ("random", "long-tail", "serial_batches"),
    "with_replacement": ("fixed", "long-tail", "without_replacement_in_cycle"),
    "no_reshuffle": ("fixed", "long-tail", "cycles_reshuffled"),
    "alternating_cycles": ("fixed", "long-tail", "cycles_reshuffled"),
    "repeats_at_wrap": ("fixed", "tied-remainders", "distinct_in_batch"),
    "same_batch": ("quota", "long-tail", "prefix_error_below_1"),
    "sorted_by_class": ("fixed", "uniform", "within_batch_exchangeable"),
    "class_blocks": ("fixed", "uniform", "same_class_adjacency"),
    "quota_drift": ("quota", "long-tail", "prefix_error_below_1"),
    "locked_rotation": ("quota", "rotation", "classes_meet"),
    "index_ties_at_start": ("quota", "rotation", "start_seats_random"),
    "unseeded": ("fixed", "uniform", "same_seed_same_batches"),
    "diverges_late": ("fixed", "uniform", "same_seed_same_batches"),
    "constant_seed": ("quota", "rotation", "schedule_varies_with_seed"),
    "seed_only_orders": ("random", "long-tail", "other_seed_other_batches"),
    "seed_shifts_batches": ("random", "long-tail", "other_seed_other_batches"),
    "low_seed_bits": ("fixed", "uniform", "far_seed_other_batches"),
    "extra_batch": ("fixed", "uniform", "batch_shape"),
    "short_batches": ("fixed", "uniform", "batch_shape"),
    "nested_batches": ("fixed", "uniform", "batch_shape"),
    "float_positions": ("fixed", "uniform", "batch_shape"),
    "one_based": ("fixed", "uniform", "positions_in_range"),
    "mutates_labels": ("fixed", "uniform", "inputs_unchanged"),
    "seeds_global_numpy": ("fixed", "uniform", "inputs_unchanged"),
    "crashes_on_short_runs": ("fixed", "uniform", "runs"),
    "declines_late": ("fixed", "uniform", "runs"),
    "pk_with_replacement": ("pk", "pk-long-tail", "without_replacement_in_cycle"),
    "pk_locked_rotation": ("pk", "pk-rotation", "classes_meet"),
    "pk_index_ties_at_start": ("pk", "pk-rotation", "start_seats_random"),
    "pk_class_twice": ("pk", "pk-rotation", "pk_shape"),
    "pk_appearance_drift": ("pk", "pk-long-tail", "appearance_prefix_below_1"),
    "four_permutations": ("fixed", "long-tail", "cycles_reshuffled"),
    "small_class_repeats": ("fixed", "long-tail", "cycle_positions_uniform"),
    "paired_shuffle": ("fixed", "long-tail", "cycle_positions_uniform"),
}

#: Checks a mutant above does not catch in its own configuration, with the mutant that does.
ALSO_CAUGHT = {
    "classes_not_locked": ("locked_rotation", "quota", "rotation"),
    "class_shares": ("biased_target", "random", "long-tail"),
}
