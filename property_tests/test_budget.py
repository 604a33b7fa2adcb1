"""The error budget of the whole test suite: every probabilistic test, in one place.

A correct implementation fails a statistical test with a small, known probability, and a
test that expects the kit to catch a broken sampler can miss it with a small, known
probability. The suite's family-wise budget is ``FAMILY_LEVEL`` = 1e-6 (Bonferroni over the
tests; Holm inside a test). ``BUDGET`` lists every such test of ``tests/`` and
``property_tests/`` (which runs the shipped suite against refsampler) with its number of cases
and the bound of each; the tests below prove the table equals the ``statistical`` marks, that
every test that looks probabilistic is marked or explained in ``EXACT``, and that it fits.

Each ``verify`` run of a correct implementation in ``tests/`` uses a family-wise level of 1e-8
(``tests/conformance/_shared.TEST_LEVEL``), the shipped suite's run here 1e-8 (``conftest``).
Mutant tests miss with probability below 1e-12 each (``tests/conformance/test_mutants``). The
slow meta-tests (``make test-all``) are in the table too.

Total: 238 cases, 9.9e-7 < 1e-6 (``test_family_wise_budget_is_met``); the mutant tests' share is
139 x 1e-12 = 1.4e-10, and two cases at 1e-13 (the tie check and the start check accepting
the control).
"""

from __future__ import annotations

import importlib
import inspect
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from refsampler.conformance.stats import FAMILY_LEVEL

ROOT = Path(__file__).resolve().parents[1]
TEST = 1e-8  # a verify run or one assertion
MISS = 1e-12  # a mutant test

#: Per module, per test: (parametrised cases, bound on each case's false-failure rate).
BUDGET_BY_MODULE: dict[str, dict[str, tuple[int, float]]] = {
    # refsampler's own properties, and the shipped suite against refsampler
    "property_tests/test_random_statistics.py": {
        "test_weighted_random_sampler_with_sample_weights": (3, TEST),
        "test_chisquare_rejects_a_sampler_two_points_off": (1, 1e-100),
    },
    "property_tests/test_refsampler_epochs.py": {
        "test_set_epoch_changes_the_batches": (1, 1e-40),
    },
    "property_tests/test_shipped_suite.py": {
        "test_check": (1, TEST),
        "test_class_shares_binomial_per_class": (5, TEST),
        "test_class_shares_chisquare": (5, TEST),
        "test_different_seeds_give_different_batches": (3, 1e-40),
        "test_members_are_uniform_within_their_class": (5, TEST),
        "test_members_repeat_as_with_replacement": (5, TEST),
        "test_per_batch_counts_are_binomial": (5, TEST),
    },
    # the kit's tests
    "tests/conformance/test_adapters.py": {
        "test_samplerfactory_through_the_factory_api_conforms": (3, TEST),
        "test_weighted_random_sampler_with_sample_weights_passes_at_level_full": (1, TEST),
    },
    "tests/conformance/test_checks.py": {
        "test_batches_that_must_hold_the_whole_dataset_are_compared_in_order_only": (1, TEST),
    },
    "tests/conformance/test_cli.py": {
        "test_a_conforming_implementation_exits_0_with_table_and_verdicts": (1, TEST),
        "test_a_factory_without_a_kind_declines_it": (1, TEST),
        "test_alpha_one_samplers_are_tested_on_their_configurations": (3, TEST),
        "test_every_mutant_exits_1": (51, MISS),
        "test_full_run_of_refsampler_exits_0": (1, FAMILY_LEVEL / 10),
        "test_without_kind_the_chosen_configurations_pick_the_kinds": (1, TEST),
    },
    "tests/conformance/test_counts.py": {
        "test_ties_check_passes_ties_broken_at_random": (1, 1e-13),
    },
    "tests/conformance/test_cycles.py": {
        "test_positions_leave_out_a_class_drawn_twice_where_the_target_allows_one": (1, TEST),
    },
    "tests/conformance/test_iid.py": {
        "test_a_biased_share_fails_the_share_tests_only": (1, TEST),
        "test_random_checks_accept_the_control": (1, TEST),
    },
    "tests/conformance/test_meta.py": {
        "test_pvalues_are_uniform_under_a_correct_sampler": (3, TEST),
    },
    "tests/conformance/test_mixing.py": {
        "test_random_schedules_pass": (1, 1e-11),
        "test_the_start_check_passes_the_control": (1, 1e-13),
        "test_index_ties_while_starting_fail_the_start_check_only": (1, 1e-11),
    },
    "tests/conformance/test_mutants.py": {
        "test_control_conforms": (1, TEST),
        "test_seed_and_shape_mutants_fail_only_their_checks": (7, TEST),
        "test_verify_catches_every_mutant_with_its_check": (51, MISS),
    },
    "tests/conformance/test_order.py": {
        "test_order_checks_pass_a_uniform_shuffle": (3, TEST),
    },
    "tests/conformance/test_parametrize.py": {
        "test_a_correct_sampler_passes_one_test_per_check": (1, TEST),
        "test_a_declined_configuration_skips_its_tests_with_the_reason": (1, TEST),
        "test_a_failing_sampler_api_check_fails_the_kind_tested_test": (1, TEST),
        "test_run_wide_notes_reach_the_warnings_summary": (1, TEST),
    },
    "tests/conformance/test_properties.py": {
        "test_a_new_kind_is_checked_by_declaring_its_properties": (1, TEST),
    },
    "tests/conformance/test_pytest_plugin.py": {
        "test_refsampler_verify_runs_the_named_implementation": (1, TEST),
    },
    "tests/conformance/test_runner.py": {
        "test_a_declined_configuration_skips_only_itself": (1, TEST),
        "test_an_alpha_one_wrapper_of_refsampler_is_tested_on_alpha_one": (3, TEST),
        "test_refsampler_conforms_at_level_quick": (3, TEST),
    },
    "tests/conformance/test_stats.py": {
        "test_chisquare_shares_accepts_multinomial_counts": (1, TEST),
        "test_per_batch_dispersion_is_conditional_on_the_observed_share": (1, TEST),
        "test_within_group_uniformity_pools_sparse_members": (1, TEST),
    },
    "tests/conformance/test_streams.py": {
        "test_refsampler_sampler_conforms_over_epochs_ranks_and_resumes": (1, TEST),
        "test_torch_weighted_random_sampler_as_an_index_sampler_conforms": (1, TEST),
        "test_every_sampler_mutant_is_caught_by_its_check": (29, MISS),
        "test_ranks_with_the_same_contents_in_another_order_fail_ranks_differ": (1, 2e-11),
        "test_a_tie_break_kept_for_the_run_fails_only_the_turns_check": (1, 2 * TEST),
        "test_repeated_batches_are_caught_by_the_repeat_checks_only": (2, MISS),
        "test_stream_checks_without_a_designated_mutant_catch_a_neighbour": (5, MISS),
        "test_the_cli_runs_the_sampler_api_with_exit_codes": (1, TEST),
        "test_a_sampler_that_takes_no_new_attributes_conforms": (1, TEST),
    },
    "tests/conformance/test_suite.py": {
        "test_a_correct_sampler_passes_the_suite": (1, TEST),
        "test_declined_configurations_are_skipped_with_the_reason": (1, TEST),
    },
    # the core's own tests
    "tests/kinds/test_random.py": {
        "test_every_member_is_reached": (1, 1e-12),
        "test_class_shares_chisquare": (1, TEST),
        "test_positions_in_a_batch_are_independent": (1, TEST),
        "test_members_are_uniform_within_their_class": (2, TEST),
    },
    "tests/test_docs.py": {
        "test_the_verify_how_to_adapter_declines_what_it_cannot_serve": (1, TEST),
    },
    "tests/test_keys.py": {
        "test_feistel_positions_are_uniform_over_keys": (2, TEST),
    },
    "tests/test_seats.py": {
        "test_pd2_ties_give_every_order_of_equal_rate_groups_alike": (1, TEST),
    },
}
BUDGET = {f"{m}::{t}": v for m, tests in BUDGET_BY_MODULE.items() for t, v in tests.items()}

NOTHING = "no check runs"
EXACT_FAILURE = "an exact check fails"
NAMES_ONLY = "only names, counts or arguments are compared"
EXACT_ONLY = "only exact checks' verdicts are compared"
#: Tests that look probabilistic (they run the kit or an implementation) but cannot fail by
#: chance, per module, with the reason.
EXACT_BY_MODULE: dict[str, dict[str, str]] = {
    "tests/conformance/test_adapters.py": {
        "test_a_factory_that_rejects_a_kind_declines_it": NOTHING,
        "test_a_factory_error_that_names_the_kind_is_a_crash_not_a_decline": EXACT_FAILURE,
    },
    "tests/conformance/test_cli.py": {
        "test_a_json_path_in_a_missing_directory_exits_2_before_the_run": NOTHING,
        "test_an_implementation_the_api_cannot_call_exits_2": NOTHING,
        "test_a_factory_that_shuffles_the_class_lists_exits_1": EXACT_FAILURE,
        "test_an_implementation_that_hangs_fails_runs_under_a_timeout": EXACT_FAILURE,
        "test_declining_everything_exits_3": NOTHING,
        "test_usage_errors_exit_2_with_one_line": NOTHING,
        "test_an_import_that_raises_anything_exits_2": NOTHING,
        "test_bad_flag_exits_2": NOTHING,
        "test_list_configs_prints_every_configuration": NOTHING,
        "test_list_configs_follows_the_api": NOTHING,
        "test_help_says_verify_runs_the_named_code_and_lists_exit_codes": NOTHING,
        "test_json_report_and_the_printed_rerun_command": EXACT_FAILURE,
        "test_the_documented_command_works_from_the_project_directory": EXACT_FAILURE,
        "test_an_implementation_that_exits_is_an_adapter_error": NOTHING,
        "test_sampler_api_options_without_the_sampler_api_exit_2": NOTHING,
        "test_bad_sampler_api_options_exit_2_with_one_line": NOTHING,
        "test_help_states_the_fewest_epochs": NOTHING,
    },
    "tests/conformance/test_counts.py": {
        "test_ties_check_gives_the_probability_of_one_choice_for_every_seed": NAMES_ONLY,
    },
    "tests/conformance/test_fresh.py": {
        "test_a_position_kept_in_the_process_fails_only_the_fresh_process_check": EXACT_FAILURE,
        "test_refsampler_sampler_resumes_in_a_fresh_process": EXACT_ONLY,
        "test_the_cli_names_the_target_for_the_fresh_process": EXACT_FAILURE,
        "test_a_target_that_cannot_be_imported_by_name_is_noted_not_passed": NAMES_ONLY,
        "test_a_child_that_hangs_fails_the_check_under_the_timeout": EXACT_FAILURE,
        "test_a_child_deaf_to_the_timer_is_killed": EXACT_FAILURE,
        "test_a_child_that_dies_fails_the_check_and_the_next_run_starts_another": EXACT_FAILURE,
        "test_one_child_serves_every_configuration_and_stops_when_asked": EXACT_ONLY,
        "test_a_module_of_the_same_name_from_another_file_is_imported_afresh": EXACT_FAILURE,
    },
    "tests/conformance/test_mutants.py": {
        # Deterministic catches: a fixed schedule, a fixed seed, shares 1.5 points off.
        "test_checks_without_a_designated_mutant_catch_a_neighbour": EXACT_FAILURE,
    },
    "tests/conformance/test_parametrize.py": {
        "test_a_failing_check_fails_its_test_with_the_message": EXACT_FAILURE,
        "test_declining_everything_fails_the_kind_tested_test": NOTHING,
    },
    "tests/conformance/test_properties.py": {
        "test_a_kind_with_unchecked_properties_is_refused": NOTHING,
    },
    "tests/conformance/test_pytest_plugin.py": {
        "test_bad_options_end_the_session_before_collection": NOTHING,
        "test_a_bad_ini_value_is_a_usage_error": NOTHING,
        "test_an_implementation_the_api_cannot_call_is_a_usage_error": NOTHING,
        "test_refsampler_check_gives_one_test_per_check": NOTHING,
        "test_check_tests_run_on_one_worker_under_dist_loadscope": NOTHING,
        "test_the_shipped_suite_is_collected_only_when_named": NOTHING,
        "test_an_unloadable_implementation_is_a_usage_error": NOTHING,
        "test_deselected_checks_are_not_run": EXACT_FAILURE,
        "test_k_never_deselects_the_kind_tested_test": EXACT_FAILURE,
        "test_k_selecting_only_declined_checks_fails": NOTHING,
        "test_a_session_whose_kit_tests_were_all_skipped_fails": NOTHING,
        "test_the_implementation_can_come_from_the_ini_file": EXACT_FAILURE,
        "test_sampler_api_options_reach_the_run": NAMES_ONLY,
        "test_the_index_sampler_flag_can_come_from_the_ini_file": EXACT_ONLY,
        "test_a_per_index_sampler_without_the_flag_fails_with_the_reason": EXACT_FAILURE,
        "test_bad_sampler_api_options_are_a_usage_error": NOTHING,
        "test_without_an_implementation_the_session_ends_with_one_line": NOTHING,
    },
    "tests/conformance/test_runner.py": {
        "test_verify_refuses_what_it_cannot_call_or_would_ignore": NOTHING,
        "test_an_exception_in_a_re_run_fails_runs_without_a_traceback": EXACT_FAILURE,
        "test_declining_everything_tests_nothing_and_does_not_conform": NOTHING,
        "test_fail_fast_stops_after_the_first_failing_configuration": EXACT_FAILURE,
        "test_planned_assertions_count_every_statistical_check": NAMES_ONLY,
        "test_seeds_follow_names_so_one_configuration_reruns_alike": NAMES_ONLY,
        "test_select_runs_only_the_named_pairs": NAMES_ONLY,
        "test_verify_passes_its_own_copy_of_the_labels": NAMES_ONLY,
        "test_the_runs_of_one_configuration_and_their_seeds": NAMES_ONLY,
        "test_a_re_run_in_the_same_seed_is_compared_whole": EXACT_FAILURE,
        "test_verify_reports_progress_and_declines": NAMES_ONLY,
        "test_verify_rejects_bad_arguments": NOTHING,
    },
    "tests/conformance/test_streams.py": {
        "test_every_stream_check_has_a_mutant": NAMES_ONLY,
        "test_a_sampler_without_optional_methods_skips_their_checks": EXACT_FAILURE,
        "test_a_sampler_that_hangs_in_a_later_epoch_fails_under_the_timeout": EXACT_FAILURE,
        "test_the_plain_loop_note_says_how_passes_are_counted": NAMES_ONLY,
        "test_a_set_epoch_that_raises_not_implemented_is_no_set_epoch": NAMES_ONLY,
        "test_a_load_state_dict_that_consumes_its_dict_still_resumes": EXACT_ONLY,
        "test_a_sampler_without_replicas_fails_the_rank_checks_saying_how_to_opt_out": (
            EXACT_FAILURE
        ),
        "test_a_len_that_raises_is_no_len_and_hides_no_other_method": EXACT_FAILURE,
        "test_methods_that_cannot_be_detected_fail_the_stream_checks": EXACT_FAILURE,
        "test_pk_configurations_decline_adapters_without_samples_per_class": NOTHING,
        "test_refused_batches_fail_the_shape_checks_of_both_apis": EXACT_FAILURE,
        "test_the_turns_check_fails_when_it_saw_fewer_than_two_epochs": EXACT_FAILURE,
        "test_verify_refuses_too_few_epochs_with_one_message": NOTHING,
        "test_the_resume_check_calls_set_epoch_with_the_states_epoch": EXACT_ONLY,
        "test_cycle_failures_name_the_epoch_and_the_batch_within_it": EXACT_FAILURE,
        "test_a_run_of_world_size_1_says_the_rank_checks_did_not_run": EXACT_FAILURE,
        "test_a_sampler_that_edits_its_labels_fails_the_epoch_shape_check": EXACT_FAILURE,
        "test_a_repeat_inside_a_batch_of_a_later_epoch_fails_epochs_have_properties": (
            EXACT_FAILURE
        ),
        "test_a_repeat_inside_a_batch_on_another_rank_fails_ranks_have_properties": (
            EXACT_FAILURE
        ),
    },
    "tests/conformance/test_suite.py": {
        "test_a_wrong_sampler_fails_the_suite": EXACT_FAILURE,
        "test_a_seed_that_changes_only_the_order_or_the_high_bits_fails_the_suite": EXACT_FAILURE,
        "test_from_any_directory_a_wrong_sampler_exits_1": EXACT_FAILURE,
        "test_from_any_directory_without_an_implementation_it_fails_with_one_line": NOTHING,
    },
}
EXACT = {f"{m}::{t}": v for m, tests in EXACT_BY_MODULE.items() for t, v in tests.items()}

#: Words in a test's source that suggest an outcome that can change by chance: a seed that
#: varies (``stat_seed``; ``--vary-seed`` draws fresh ones), or a run of an implementation
#: through the kit (a test on fixed, constructed counts is deterministic).
SUSPECT = ("stat_seed", "verify(", 'main(["verify"', "runpytest", "refsampler_check")


def _modules() -> Iterator[tuple[str, ModuleType]]:
    """(path relative to the repository, module) of every test module of both trees."""
    tests = ROOT / "tests"
    if str(tests) not in sys.path:
        sys.path.insert(0, str(tests))  # where pytest's rootdir-relative imports find them
    for path in sorted((ROOT / "property_tests").glob("test_*.py")):
        if path.stem != "test_budget":
            yield (
                f"property_tests/{path.name}",
                importlib.import_module(f"property_tests.{path.stem}"),
            )
    for path in sorted(tests.glob("test_*.py")):
        yield f"tests/{path.name}", importlib.import_module(path.stem)
    for package in ("conformance", "kinds"):
        for path in sorted((tests / package).glob("test_*.py")):
            yield f"tests/{package}/{path.name}", importlib.import_module(f"{package}.{path.stem}")


def _tests(module: ModuleType) -> Iterator[tuple[str, object]]:
    for name, function in vars(module).items():
        if name.startswith("test_") and callable(function):
            yield name, function


def _marks(function: object) -> list[object]:
    return list(getattr(function, "pytestmark", []))


def declared() -> dict[str, tuple[int, float]]:
    """``statistical`` marks found on the tests: id -> (parametrised cases, level)."""
    found = {}
    for path, module in _modules():
        for name, function in _tests(module):
            marks = _marks(function)
            levels = [m.kwargs["level"] for m in marks if m.name == "statistical"]  # type: ignore[attr-defined]
            if levels:
                cases = math.prod(
                    len(m.args[1])
                    for m in marks
                    if m.name == "parametrize"  # type: ignore[attr-defined]
                )
                found[f"{path}::{name}"] = (cases, levels[0])
    return found


def test_budget_table_lists_every_statistical_mark() -> None:
    """The table above equals the ``statistical`` marks on the tests (nothing missing)."""
    assert declared() == BUDGET


def test_every_test_that_looks_probabilistic_is_marked_or_explained() -> None:
    """A test that computes a p-value, takes a statistical seed or runs the kit carries a
    mark, or is listed in EXACT with the reason it cannot fail by chance."""
    unmarked = []
    for path, module in _modules():
        for name, function in _tests(module):
            source = inspect.getsource(function)  # type: ignore[arg-type]
            marked = any(m.name == "statistical" for m in _marks(function))  # type: ignore[attr-defined]
            key = f"{path}::{name}"
            if any(word in source for word in SUSPECT) and not marked and key not in EXACT:
                unmarked.append(key)
    assert unmarked == []
    assert set(EXACT) <= {f"{p}::{n}" for p, m in _modules() for n, _ in _tests(m)}


def test_family_wise_budget_is_met() -> None:
    """Bonferroni over every case of both trees: at most 1e-6 in all, and no case above 1e-7
    (a verify run of a correct sampler is at most 1e-8, the slow full acceptance run 1e-7)."""
    cases = sum(n for n, _ in BUDGET.values())
    total = sum(n * level for n, level in BUDGET.values())
    assert cases <= 256  # a sanity bound on the table's size; the level bound is below
    assert total <= FAMILY_LEVEL
    assert max(level for _, level in BUDGET.values()) <= FAMILY_LEVEL / 10
