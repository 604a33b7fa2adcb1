"""Tests of refsampler.conformance.runner: verify, its sample sizes, declines and failures."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np
import pytest

from refsampler import InvalidArgumentError
from refsampler.conformance import adapters, checks, mutants, runner, stats, streams, verify
from refsampler.conformance.adapters import refsampler_sampler
from refsampler.conformance.configs import CONFIGS, by_name

from ._shared import TEST_LEVEL


def test_planned_assertions_count_every_statistical_check() -> None:
    """The planned family size equals the number of p-values a run produces."""
    report = verify(mutants.control, kinds=["fixed", "random"], configs=["long-tail", "uniform"])
    planned = runner.planned_assertions(["fixed", "random"], by_name(["long-tail", "uniform"]))
    assert report.n_statistical == planned == sum(not r.exact for r in report.results)


def test_full_level_draws_reach_the_promised_power() -> None:
    """At level full every iid configuration has >= draws_for_family(m) draws.

    That is the Bonferroni floor of Holm, so each per-class binomial test detects a 1-point
    shift of any share with power >= 0.999 (docs of runner).
    """
    m = runner.planned_assertions(runner.default_kinds(), level="full")
    needed = stats.draws_for_family(m)
    settings = runner.plan_run(runner.default_kinds(), CONFIGS, "full")
    iid = [s for s in settings if s.kind == "random"]
    assert iid and all(s.n_batches * s.config.batch_size >= needed for s in iid)
    assert stats.detectable_shift(needed, level=stats.FAMILY_LEVEL / m) <= 0.0101


@pytest.mark.statistical(level=TEST_LEVEL)
@pytest.mark.parametrize(
    "kind",
    ["fixed", "quota", "random"],
)
def test_refsampler_conforms_at_level_quick(kind: str, stat_seed: int) -> None:
    """refsampler's own adapter conforms (false-failure rate 1e-8: one run per kind).

    Every statistical check records its Holm level, at least (family_level - the share
    reserved for the exact checks bounded by chance) / m.
    """
    report = verify(
        adapters.refsampler, kinds=[kind], seed=stat_seed % 2**31, family_level=TEST_LEVEL
    )
    assert report.conforms, report.table(failures_only=True)
    reserved = (
        sum(r.exact and r.check.split("[")[0] in runner.CHANCE_BOUNDED for r in report.results)
        * streams.REPEAT_BOUND
    )
    assert 0 < reserved < TEST_LEVEL / 10
    levels = [r.level for r in report.results if not r.exact]
    assert min(levels) == pytest.approx((TEST_LEVEL - reserved) / report.n_statistical)


@pytest.mark.statistical(level=TEST_LEVEL)
@pytest.mark.parametrize(
    "kind",
    ["fixed", "quota", "random"],
)
def test_an_alpha_one_wrapper_of_refsampler_is_tested_on_alpha_one(kind: str) -> None:
    """refsampler declining every alpha but 1 conforms, with its alpha = 1 configurations
    tested and more than zero checks passed (rate 1e-8 per kind)."""
    report = verify(mutants.alpha_one_refsampler, kinds=[kind], family_level=TEST_LEVEL)
    assert report.conforms, report.table(failures_only=True)
    assert {r.config for r in report.tested(kind)} >= {"uniform", "tied-remainders"}
    assert sum(r.verdict == "pass" for r in report.results) > 0


@pytest.mark.statistical(level=TEST_LEVEL)
def test_a_declined_configuration_skips_only_itself() -> None:
    """An alpha = 1 sampler is still tested on every alpha = 1 configuration of every kind;
    the others are listed as declined with the reason (rate 1e-8)."""
    report = verify(mutants.alpha_one_control, family_level=TEST_LEVEL)
    assert report.exit_code == 0 and report.conforms
    for kind in report.kinds:
        tested = {r.config for r in report.tested(kind)}
        alpha_one = {c.name for c in CONFIGS if c.applies_to(kind) and c.alpha == 1.0}
        assert tested == alpha_one and len(tested) >= 1
        declined = {r.config for r in report.declined(kind)}
        assert declined and declined.isdisjoint(alpha_one)
        assert sum(r.kind == kind and r.verdict == "pass" for r in report.results) > 0
    assert {"uniform", "tied-remainders"} <= {r.config for r in report.tested("fixed")}
    assert {"long-tail", "tiny-classes"} <= {r.config for r in report.declined("fixed")}
    reasons = {r.reason for r in report.declined("fixed")}
    assert "NotImplementedError: only alpha = 1 (uniform classes); got alpha = 0.5" in reasons


def test_declining_everything_tests_nothing_and_does_not_conform() -> None:
    """No configuration ran: every kind is 'not tested' and the exit code is 3."""
    report = verify(mutants.declines_everything)
    assert (report.exit_code, report.conforms, report.results) == (3, False, [])
    assert {report.verdict(k) for k in report.kinds} == {"not tested"}


def test_an_exception_in_a_re_run_fails_runs_without_a_traceback() -> None:
    """The determinism re-run raises: that configuration's runs check fails (cut short);
    every configuration still runs."""
    report = verify(mutants.crashes_on_short_runs, kinds=["fixed"])
    assert report.exit_code == 1
    assert {r.check for r in report.failures} == {"runs"}
    first = report.failures[0]
    assert re.fullmatch(
        r"the re-run with seed \d+ \(256 batches\) raised ValueError: n_batches=256 is too "
        r"small for the warm-up",
        first.detail,
    )
    assert all(r.status == "failed" for r in report.runs)
    assert len(report.results) == 4 * len(report.runs)


def test_fail_fast_stops_after_the_first_failing_configuration() -> None:
    """The remaining configurations are listed as stopped, not run."""
    report = verify(mutants.one_based, kinds=["quota"], fail_fast=True)
    assert report.stopped_early and report.exit_code == 1
    assert [r.status for r in report.runs][:2] == ["failed", "stopped"]
    assert report.runs[1].reason == "not run: stopped at the first failure"


def test_select_runs_only_the_named_pairs() -> None:
    """select keeps the (kind, configuration) pairs named."""
    report = verify(
        mutants.control,
        select=[("quota", "rotation"), ("fixed", "uniform")],
        family_level=TEST_LEVEL,
    )
    assert [(r.kind, r.config) for r in report.runs] == [
        ("fixed", "uniform"),
        ("quota", "rotation"),
    ]


def test_seeds_follow_names_so_one_configuration_reruns_alike() -> None:
    """A configuration run alone gets the seed (and the batches) it got in the full run."""
    assert runner.run_seed(0, "rotation", "quota") == runner.run_seed(0, "rotation", "quota")
    seeds = {runner.run_seed(0, c, k) for c in ("uniform", "rotation") for k in ("fixed", "quota")}
    assert len(seeds) == 4 and max(seeds) < 2**31
    alone = verify(mutants.control, kinds=["quota"], configs=["rotation"])
    full = verify(mutants.control, kinds=["quota"], configs=["uniform", "rotation"])
    assert alone.runs[0].seed == full.runs[1].seed


def test_verify_passes_its_own_copy_of_the_labels() -> None:
    """Labels reach the adapter as a 1-D int64 array with classes 0..K-1, all non-empty."""
    seen: list[np.ndarray] = []

    def spy(labels: np.ndarray, **kwargs: Any) -> list[list[int]]:
        seen.append(labels)
        return mutants.control(labels, **kwargs)

    verify(spy, kinds=["fixed"], configs=["long-tail"])
    assert len(seen) == 7 and all(a.dtype == np.int64 and a.ndim == 1 for a in seen)
    assert len({id(a) for a in seen}) == 7 and all(np.bincount(a).min() > 0 for a in seen)


def test_the_runs_of_one_configuration_and_their_seeds() -> None:
    """The main run; a short run of its seed s; the whole main run again; short runs of
    s + 1, s XOR 2**16, s XOR 2**30 and s +- FOLD_STEP (all below 2**31); one batch per
    further tie seed."""
    calls: list[tuple[int, int]] = []

    def spy(labels: np.ndarray, **kwargs: Any) -> list[list[int]]:
        calls.append((kwargs["seed"], kwargs["n_batches"]))
        return mutants.control(labels, **kwargs)

    for config, ties in (("long-tail", False), ("tied-remainders", True)):
        calls.clear()
        run = verify(spy, kinds=["fixed"], configs=[config]).runs[0]
        s, n = run.seed, run.n_batches
        assert calls[:7] == [
            (s, n),
            (s, 256),
            (s, n),
            (s + 1, 256),
            (s ^ 2**16, 256),
            (s ^ 2**30, 256),
            (checks.far_seeds(s)[-1], 256),
        ]
        assert calls[7:] == [(s + 2 + i, 1) for i in range(len(calls) - 7)]
        assert (len(calls) > 7) == ties and all(seed < 2**31 for seed, _ in calls)


def test_a_re_run_in_the_same_seed_is_compared_whole() -> None:
    """A sampler reproducible for its first 256 batches only fails same_seed_same_batches,
    naming batch 256 (the mutant diverges_late)."""
    report = verify(mutants.diverges_late, kinds=["fixed"], configs=["uniform"])
    (result,) = [r for r in report.results if r.check == "same_seed_same_batches"]
    assert result.verdict == "fail" and result.detail.endswith("; the first in batch 256")
    assert result.draws == report.runs[0].n_batches * 10


def test_verify_reports_progress_and_declines() -> None:
    """progress is called per (kind, configuration), and for each decline."""
    messages: list[str] = []
    verify(
        mutants.alpha_one_control,
        kinds=["fixed"],
        configs=["uniform", "long-tail"],
        progress=messages.append,
    )
    assert messages[0].startswith("fixed  uniform")
    assert messages[-1].startswith("fixed  long-tail       declined: NotImplementedError")


def test_default_kinds_are_the_checkable_registered_kinds() -> None:
    """Kinds needing options the protocol cannot pass are left out."""
    assert runner.default_kinds()[:3] == ("fixed", "quota", "random")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kinds": ["sorted"]}, "`kinds` must hold only 'fixed', 'quota', 'random'"),
        ({"kinds": []}, "`kinds` must not be empty; got ()."),
        ({"level": "slow"}, '`level` must be "quick" or "full"; got \'slow\'.'),
        ({"seed": -1}, "`seed` must be >= 0; got -1."),
        ({"family_level": 0.0}, "`family_level` must be in (0, 1); got 0.0."),
        ({"timeout": 0}, "`timeout` must be a positive number of seconds; got 0."),
        ({"configs": ["nope"]}, "`configs` must name configurations among uniform"),
        (
            {"kinds": ["fixed"], "configs": ["rotation"]},
            "`configs` must include a configuration kind 'fixed' applies to; got ['rotation'].",
        ),
    ],
)
def test_verify_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    """Bad arguments raise InvalidArgumentError naming the argument and the value."""
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        verify(mutants.control, **kwargs)


def test_default_kinds_follow_the_chosen_configurations() -> None:
    """Without ``kinds``, the kinds the chosen configurations serve are checked; naming a kind
    no chosen configuration serves is still an error."""
    selected, _, _ = runner.validate_options(
        None, ["rotation"], level="quick", seed=0, family_level=1e-6, timeout=None
    )
    assert selected == runner.served_kinds(runner.default_kinds(), by_name(["rotation"]))
    assert "fixed" not in selected and {"quota", "random"} <= set(selected)
    with pytest.raises(InvalidArgumentError, match="configuration kind 'fixed' applies to"):
        runner.validate_options(
            ["fixed"], ["rotation"], level="quick", seed=0, family_level=1e-6, timeout=None
        )


def _renamed(
    labels: np.ndarray, *, kind: str, alpha: float, bs: int, n_batches: int, seed: int
) -> list[list[int]]:
    """A sampler whose batch size keyword is not the protocol's."""
    return mutants.control(
        labels, kind=kind, alpha=alpha, batch_size=bs, n_batches=n_batches, seed=seed
    )


#: How the kit calls a batches-API and a sampler-API implementation, as messages name them.
BATCHES = "make_batches(labels, *, kind, alpha, batch_size, n_batches, seed)"
SAMPLER = "make_sampler(labels, *, kind, alpha, batch_size, n_batches, seed, num_replicas, rank)"


@pytest.mark.parametrize(
    ("adapter", "kwargs", "message"),
    [
        (42, {}, "`adapter` must be callable; got 42."),
        (
            "mypkg.sampling:make_batches",
            {},
            "`adapter` must be callable (adapters.load imports a MODULE:CALLABLE name); "
            "got 'mypkg.sampling:make_batches'.",
        ),
        (
            _renamed,
            {},
            f"`adapter` cannot be called as {BATCHES} (missing a required argument: 'bs'); "
            f"got {__name__}._renamed.",
        ),
        (
            streams.SamplerAdapter(mutants.control),
            {},
            f"`adapter` cannot be called as {SAMPLER} (got an unexpected keyword argument "
            "'num_replicas'; it takes no num_replicas or rank: check it with the batches API); "
            "got refsampler.conformance.mutants.control.",
        ),
        (
            refsampler_sampler,
            {},
            f"`adapter` cannot be called as {BATCHES} (missing a required argument: "
            "'num_replicas'; it takes num_replicas and rank: check a sampler with the sampler "
            "API); got refsampler.conformance.adapters.refsampler_sampler.",
        ),
        (
            mutants.control,
            {"world_sizes": (1, 2, 3)},
            "`world_sizes` applies only to a SamplerAdapter (the sampler API); got (1, 2, 3).",
        ),
        (
            mutants.control,
            {"epochs": 4},
            "`epochs` applies only to a SamplerAdapter (the sampler API); got 4.",
        ),
        (
            streams.SamplerAdapter(refsampler_sampler),
            {"world_sizes": (1, streams.MAX_WORLD_SIZE + 1)},
            f"`world_sizes` must not exceed {streams.MAX_WORLD_SIZE} ranks; "
            f"got (1, {streams.MAX_WORLD_SIZE + 1}).",
        ),
    ],
)
def test_verify_refuses_what_it_cannot_call_or_would_ignore(
    adapter: Any, kwargs: dict[str, Any], message: str
) -> None:
    """An adapter that is not callable, or whose signature the protocol's keywords do not
    fit, is a bad argument (not a failed ``runs`` check); so are the sampler-only options for
    another adapter (ignored, they would pass checks that never ran) and a world size beyond
    the maximum. Each is refused before anything runs."""
    with pytest.raises(InvalidArgumentError) as raised:
        verify(adapter, kinds=["fixed"], configs=["uniform"], **kwargs)
    assert str(raised.value) == message


def test_one_configuration_name_alone_is_taken_like_one_kind() -> None:
    """``configs="uniform"`` is the configuration uniform, as ``kinds="fixed"`` is one kind
    (not the names 'u', 'n', ...)."""
    selected, chosen, _ = runner.validate_options(
        "fixed", "uniform", level="quick", seed=0, family_level=1e-6, timeout=None
    )
    assert (selected, chosen) == (("fixed",), tuple(by_name(["uniform"])))


def test_a_repeated_configuration_runs_once_as_a_repeated_kind_does() -> None:
    """``configs=["uniform", "uniform"]`` is one configuration (as ``kinds=["fixed",
    "fixed"]`` is one kind): the report does not count a run twice."""
    selected, chosen, _ = runner.validate_options(
        ["fixed", "fixed"],
        ["uniform", "long-tail", "uniform"],
        level="quick",
        seed=0,
        family_level=1e-6,
        timeout=None,
    )
    assert (selected, chosen) == (("fixed",), tuple(by_name(["uniform", "long-tail"])))


def test_two_different_configurations_of_one_name_are_refused() -> None:
    """Reports and seeds go by name, so two configurations sharing one would be confused."""
    uniform = by_name(["uniform"])[0]
    other = dataclasses.replace(uniform, batch_size=uniform.batch_size * 2)
    with pytest.raises(InvalidArgumentError) as raised:
        runner.validate_options(
            "fixed", [uniform, other], level="quick", seed=0, family_level=1e-6, timeout=None
        )
    assert "`configs` must not hold two different configurations named 'uniform'" in str(
        raised.value
    )
