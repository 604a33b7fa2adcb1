"""The error budget of ``property_tests``: every probabilistic assertion, in one place.

A correct implementation fails a statistical test with a small, known probability. DESIGN
section 5 caps the sum over a full run at ``FAMILY_LEVEL`` = 1e-6 (Bonferroni; Holm inside
tests). This table lists every such test with its number of cases and its level each; the
tests below prove the table is complete (it equals the ``statistical`` marks on the tests,
and every test that computes a p-value carries one) and that it fits the budget.

=====================================================================  =====  =========
test                                                                   cases  level
=====================================================================  =====  =========
test_random_statistics::test_class_shares_chisquare                        5  1e-8
test_random_statistics::test_class_shares_binomial_per_class               5  1e-8 (Holm)
test_random_statistics::test_per_batch_counts_are_binomial                 5  1e-8 (Holm)
test_random_statistics::test_members_are_uniform_within_their_class        5  1e-8
test_random_statistics::test_weighted_random_sampler_with_sample_weights   3  1e-8
test_random_statistics::test_chisquare_rejects_a_sampler_two_points_off    1  1e-100
test_sampler_properties::test_different_seeds_give_different_batches       1  1e-40
test_refsampler_epochs::test_set_epoch_changes_the_batches                 1  1e-40
=====================================================================  =====  =========

Total: 26 assertions, 2.3e-7 (< 1e-6). Everything else in ``property_tests`` is exact.
"""

from __future__ import annotations

import importlib
import inspect
import math
from pathlib import Path
from types import ModuleType

from refsampler.conformance.stats import FAMILY_LEVEL

BUDGET: dict[str, tuple[int, float]] = {
    "test_random_statistics::test_class_shares_chisquare": (5, 1e-8),
    "test_random_statistics::test_class_shares_binomial_per_class": (5, 1e-8),
    "test_random_statistics::test_per_batch_counts_are_binomial": (5, 1e-8),
    "test_random_statistics::test_members_are_uniform_within_their_class": (5, 1e-8),
    "test_random_statistics::test_weighted_random_sampler_with_sample_weights": (3, 1e-8),
    "test_random_statistics::test_chisquare_rejects_a_sampler_two_points_off": (1, 1e-100),
    "test_sampler_properties::test_different_seeds_give_different_batches": (1, 1e-40),
    "test_refsampler_epochs::test_set_epoch_changes_the_batches": (1, 1e-40),
}


def property_test_modules() -> list[ModuleType]:
    """Every test module of this package except this one."""
    here = Path(__file__).parent
    names = sorted(p.stem for p in here.glob("test_*.py") if p.stem != "test_budget")
    return [importlib.import_module(f"{__package__}.{name}") for name in names]


def declared() -> dict[str, tuple[int, float]]:
    """``statistical`` marks found on the tests: name -> (parametrised cases, level)."""
    found = {}
    for module in property_test_modules():
        for name, function in vars(module).items():
            marks = getattr(function, "pytestmark", [])
            levels = [m.kwargs["level"] for m in marks if m.name == "statistical"]
            if name.startswith("test_") and levels:
                cases = math.prod(len(m.args[1]) for m in marks if m.name == "parametrize")
                found[f"{module.__name__.rsplit('.', 1)[-1]}::{name}"] = (cases, levels[0])
    return found


def test_budget_table_lists_every_statistical_mark() -> None:
    """The table above equals the ``statistical`` marks on the tests (nothing missing)."""
    assert declared() == BUDGET


def test_every_test_with_a_p_value_is_marked() -> None:
    """A test that computes a p-value or draws a probabilistic conclusion carries a mark."""
    unmarked = []
    for module in property_test_modules():
        for name, function in vars(module).items():
            if not name.startswith("test_") or not callable(function):
                continue
            source = inspect.getsource(function)
            marks = [m.name for m in getattr(function, "pytestmark", [])]
            if ("pvalue" in source or "stat_seed" in source) and "statistical" not in marks:
                unmarked.append(f"{module.__name__}::{name}")
    assert unmarked == []


def test_family_wise_budget_is_met() -> None:
    """Bonferroni over all assertions: at most 100 of them, summing to at most 1e-6."""
    cases = sum(n for n, _ in BUDGET.values())
    total = sum(n * level for n, level in BUDGET.values())
    assert cases <= 100
    assert total <= FAMILY_LEVEL
    assert max(level for _, level in BUDGET.values()) <= 1e-8
