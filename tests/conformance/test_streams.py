"""Tests of refsampler.conformance.streams: ``--api sampler`` over epochs, ranks and resumes.

Each check has a sampler mutant it catches (``SAMPLER_CAUGHT_BY``) and is passed by a correct
sampler (refsampler's own; torch's WeightedRandomSampler as a per-index sampler). The
statistically caught mutants miss with negligible probability: a rank that never draws a
class of target share 0.06 in thousands of draws, or epochs whose targets are up to 2/3
alpha apart, give p-values far below 1e-100, so 1e-12 per case bounds the miss.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
import pytest
import torch

from refsampler.cli import main
from refsampler.conformance import checks, mutants, properties, verify
from refsampler.conformance.adapters import refsampler_sampler, weighted_random_sampler
from refsampler.conformance.configs import by_name
from refsampler.conformance.mutants import SAMPLER_MUTANTS
from refsampler.conformance.runner import default_kinds, plan_run
from refsampler.conformance.streams import (
    COUNTED_BATCHES,
    MAX_WORLD_SIZE,
    REPEAT_BOUND,
    SamplerAdapter,
    StreamPlan,
    _rank_checks,
    _Run,
    epoch_batches,
    index_sampler_hint,
    plain_loop_note,
    sampler_options,
)
from refsampler.errors import InvalidArgumentError

from ._shared import TEST_LEVEL, slow_except

#: Sampler mutant -> the (kind, configuration, check) that catches it.
SAMPLER_CAUGHT_BY = {
    "replays_epoch_0": ("fixed", "long-tail", "epochs_differ"),
    "ignores_set_epoch": ("fixed", "long-tail", "epoch_reproducible"),
    "unequal_rank_lengths": ("fixed", "long-tail", "ranks_equal_length[2]"),
    "len_lies": ("fixed", "long-tail", "epochs_shape"),
    "ranks_share_members": ("quota", "long-tail", "ranks_disjoint_in_cycle[2]"),
    "per_shard_renormalisation": ("random", "long-tail", "rank_shares[2/1]"),
    "resume_off_by_one": ("fixed", "long-tail", "resume_continues_exactly"),
    "resume_off_by_one_without_len": ("fixed", "long-tail", "resume_continues_exactly"),
    "resume_restarts_epoch": ("fixed", "long-tail", "resume_continues_exactly"),
    "accepts_foreign_state": ("fixed", "long-tail", "resume_refuses_foreign_state"),
    "restarts_cycles_each_epoch": ("quota", "long-tail", "cycles_continue_across_epochs"),
    "schedule_ignored": ("random", "schedule", "epochs_pooled_shares"),
    "same_ties_every_epoch": ("fixed", "tied-remainders", "tied_seats_take_turns"),
    "same_batches_on_every_rank": ("random", "long-tail", "ranks_differ[2]"),
    "same_contents_on_every_rank": ("random", "long-tail", "ranks_differ[2]"),
    "sorts_labels_later": ("fixed", "long-tail", "epochs_shape"),
    "state_forgets_epoch": ("quota", "long-tail", "resume_continues_exactly"),
    "state_forgets_load": ("random", "long-tail", "resume_continues_exactly"),
    "state_holds_numpy_ints": ("fixed", "long-tail", "resume_state_is_json"),
    "epoch_rank_seed_collide": ("random", "long-tail", "ranks_batches_not_repeated[2]"),
    "shifted_epochs": ("random", "long-tail", "batches_not_repeated"),
    "state_in_process": ("fixed", "long-tail", "resume_in_fresh_process"),
    "splits_the_epoch": ("random", "long-tail", "ranks_equal_length[2]"),
    "len_counts_every_rank": ("random", "long-tail", "ranks_equal_length[2]"),
    "seed_plus_epoch": ("random", "long-tail", "batches_not_repeated"),
    "seed_xor_epoch": ("random", "long-tail", "batches_not_repeated"),
    "same_classes_every_rank": ("random", "long-tail", "ranks_independent[2]"),
    "classes_a_step_apart_on_ranks": ("random", "long-tail", "ranks_independent[2]"),
    "seed_plus_rank": ("random", "long-tail", "ranks_differ[2]"),
}
#: The sampler mutants `make test` runs: one each for ranks, epochs, ties across epochs and
#: resume, the structures earlier samplers got wrong while their marginals were right.
FAST_SAMPLER_MUTANTS = (
    "same_classes_every_rank",
    "ranks_share_members",
    "restarts_cycles_each_epoch",
    "replays_epoch_0",
    "same_ties_every_epoch",
    "state_forgets_epoch",
)
#: Stream checks no designated catch above covers, with the mutant that also fails them.
SAMPLER_ALSO_CAUGHT = {
    "run_prefix_below_1": ("restarts_cycles_each_epoch", "quota", "long-tail"),
    "ranks_pooled_prefix": ("ranks_share_members", "quota", "long-tail"),
    "ranks_pooled_shares": ("per_shard_renormalisation", "random", "long-tail"),
    "ranks_have_properties": ("per_shard_renormalisation", "fixed", "long-tail"),
    "epochs_have_properties": ("schedule_ignored", "fixed", "schedule"),
}


def _failures(name: str, kind: str, config: str) -> set[str]:
    report = verify(
        SamplerAdapter(SAMPLER_MUTANTS[name]),
        kinds=[kind],
        configs=[config],
        family_level=TEST_LEVEL,
        world_sizes=(1, 2),
    )
    assert report.exit_code == 1
    return {r.check for r in report.failures}


@pytest.mark.statistical(level=TEST_LEVEL)
def test_refsampler_sampler_conforms_over_epochs_ranks_and_resumes() -> None:
    """refsampler's sampler passes every stream check of every kind on a configuration with
    an alpha schedule and a long tail, world sizes 1-3 (one run at rate 1e-8)."""
    report = verify(
        SamplerAdapter(refsampler_sampler),
        configs=["long-tail", "schedule", "pk-long-tail"],
        family_level=TEST_LEVEL,
        world_sizes=(1, 2, 3),
    )
    assert report.conforms, report.table(failures_only=True)
    checks = {r.check for r in report.results}
    assert {
        "resume_refuses_foreign_state",
        "resume_in_fresh_process",
        "ranks_disjoint_in_cycle[3]",
        "epochs_differ",
    } <= checks
    assert {"batches_not_repeated", "ranks_batches_not_repeated[3]"} <= checks
    assert any("set_epoch, state_dict/load_state_dict, len" in n for n in report.notes)
    assert any("distinct epochs" in n for n in report.notes)


@pytest.mark.statistical(level=TEST_LEVEL)
def test_torch_weighted_random_sampler_as_an_index_sampler_conforms() -> None:
    """The WRS recipe batched by BatchSampler passes the random kind (rate 1e-8); the
    schedule configuration is declined, not failed, and it has no resume checks."""
    report = verify(
        SamplerAdapter(weighted_random_sampler, index_sampler=True),
        kinds=["random"],
        configs=["long-tail", "schedule"],
        family_level=TEST_LEVEL,
    )
    assert report.conforms, report.table(failures_only=True)
    assert "ranks_batches_not_repeated[2]" in {r.check for r in report.results}
    assert [r.config for r in report.declined("random")] == ["schedule"]
    assert not any(r.check.startswith("resume") for r in report.results)


@pytest.mark.statistical(level=1e-12)
@pytest.mark.parametrize("name", slow_except(sorted(SAMPLER_CAUGHT_BY), FAST_SAMPLER_MUTANTS))
def test_every_sampler_mutant_is_caught_by_its_check(name: str) -> None:
    """Each sampler mutant fails its designated check (misses below 1e-12, module notes)."""
    kind, config, check = SAMPLER_CAUGHT_BY[name]
    assert check in _failures(name, kind, config)


def test_every_stream_check_has_a_mutant() -> None:
    """Every stream check a run plans (all methods present, a claim to refuse foreign
    states) is some mutant's designated or documented catch."""
    plan = StreamPlan(3, (1, 2), refuses_foreign=True)
    names = {
        c.check.split("[")[0]
        for s in plan_run(
            default_kinds(),
            by_name(["long-tail", "schedule", "pk-long-tail", "tied-remainders"]),
            streams=plan,
        )
        for c in properties.plan(s)
        if c.check.split("[")[0] in {n for n, _ in _stream_names(s)}
    }
    caught = {c.split("[")[0] for _, _, c in SAMPLER_CAUGHT_BY.values()} | set(SAMPLER_ALSO_CAUGHT)
    assert names == caught
    assert set(SAMPLER_CAUGHT_BY) == set(SAMPLER_MUTANTS)


def _stream_names(setting: Any) -> list[tuple[str, bool]]:
    from refsampler.conformance.streams import plan_streams

    return [(n.split("[")[0], e) for n, e in plan_streams(setting)]


@pytest.mark.statistical(level=1e-12)
@pytest.mark.parametrize("check", sorted(SAMPLER_ALSO_CAUGHT))
def test_stream_checks_without_a_designated_mutant_catch_a_neighbour(check: str) -> None:
    """Exact catches (shard counts, cycles restarted, a wrong epoch target), and one
    statistical (a rank that never draws a class: misses below 1e-12, module notes)."""
    name, kind, config = SAMPLER_ALSO_CAUGHT[check]
    assert check in {c.split("[")[0] for c in _failures(name, kind, config)}


@pytest.mark.statistical(level=2 * TEST_LEVEL)
def test_a_tie_break_kept_for_the_run_fails_only_the_turns_check() -> None:
    """The fixed kind's tied seats must take turns over epochs: a tie-break drawn once per
    seed passes every other check (ties differ between seeds, every count vector is right)
    and fails ``tied_seats_take_turns``; refsampler's own sampler passes it. Two runs at rate
    1e-8 each: a statistical check of either can fail by chance."""
    seed = 3
    failed = {
        r.check
        for r in verify(
            SamplerAdapter(mutants.same_ties_every_epoch),
            kinds=["fixed"],
            configs=["tied-remainders"],
            seed=seed,
            family_level=TEST_LEVEL,
        ).failures
    }
    assert failed == {"tied_seats_take_turns"}
    report = verify(
        SamplerAdapter(refsampler_sampler),
        kinds=["fixed"],
        configs=["tied-remainders"],
        seed=seed,
        family_level=TEST_LEVEL,
    )
    assert report.conforms, report.table(failures_only=True)
    turns = next(r for r in report.results if r.check == "tied_seats_take_turns")
    assert turns.observed is not None and sorted(turns.observed) == [1, 1, 1, 1, 2, 2, 2, 2]


def test_the_turns_check_fails_when_it_saw_fewer_than_two_epochs() -> None:
    """Turns need two epochs: a run that gave one full epoch fails the check (it looked at
    nothing it could judge), even though that epoch's seats are right."""
    from refsampler.conformance.streams import _turns_check

    setting = next(
        s
        for s in plan_run(["fixed"], by_name(["tied-remainders"]), streams=StreamPlan(3, (1,)))
    )
    config = setting.config
    labels = config.labels()
    batch = mutants.control(
        labels, kind="fixed", alpha=config.alpha, batch_size=config.batch_size, n_batches=1,
        seed=0,
    )
    result = _turns_check(setting, labels, [np.asarray(batch), np.zeros((0, 12), np.int64)])
    assert result.verdict == "fail" and "from at least 2 epochs" in result.detail


def test_a_sampler_without_optional_methods_skips_their_checks() -> None:
    """A plain iterable of batches: no resume checks, the epoch checks run on passes, and
    replaying every pass is a failure (zero distinct epochs is never a pass)."""

    def plain(labels: Any, **kwargs: Any) -> list[list[int]]:
        return [list(range(kwargs["batch_size"]))] * kwargs["n_batches"]

    report = verify(SamplerAdapter(plain), kinds=["random"], configs=["uniform"])
    assert report.exit_code == 1
    assert not any(r.check.startswith("resume") for r in report.results)
    assert "epochs_differ" in {r.check for r in report.failures}
    assert (
        "absent (their checks skipped): set_epoch, state_dict/load_state_dict;" in (report.notes[0])
    )


class _Slotted:
    """A sampler that takes no new attributes (``__slots__``), wrapping refsampler's."""

    __slots__ = ("inner",)

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __iter__(self) -> Any:
        return iter(self.inner)

    def __len__(self) -> int:
        return len(self.inner)

    def set_epoch(self, epoch: int) -> None:
        self.inner.set_epoch(epoch)


@pytest.mark.statistical(level=TEST_LEVEL)
def test_a_sampler_that_takes_no_new_attributes_conforms() -> None:
    """The kit keeps what it notes about a sampler to itself: a correct sampler whose class
    has ``__slots__`` passes the stream checks (one run at rate 1e-8)."""
    report = verify(
        SamplerAdapter(lambda labels, **kw: _Slotted(refsampler_sampler(labels, **kw))),
        kinds=["fixed"],
        configs=["uniform"],
        family_level=TEST_LEVEL,
        world_sizes=(1, 2),
    )
    assert report.conforms, report.table(failures_only=True)
    assert "epochs_differ" in {r.check for r in report.results}


def test_a_sampler_that_edits_its_labels_fails_the_epoch_shape_check() -> None:
    """Labels the sampler changes in place, after it was built, are named by the epoch
    shape check, whether or not the sampler takes new attributes."""

    class Editing(_Slotted):
        __slots__ = ("labels",)

        def __iter__(self) -> Any:
            self.labels[:] = np.roll(self.labels, 1)  # a class per position shifted
            return iter(self.inner)

    def editing(labels: Any, **kw: Any) -> Editing:
        sampler = Editing(refsampler_sampler(labels, **kw))
        sampler.labels = labels
        return sampler

    report = verify(SamplerAdapter(editing), kinds=["fixed"], configs=["uniform"])
    failed = {r.check: r for r in report.failures}
    assert "epochs_shape" in failed
    assert "labels modified by the sampler" in failed["epochs_shape"].detail


@pytest.mark.statistical(level=TEST_LEVEL)
def test_the_cli_runs_the_sampler_api_with_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    """exit 0 for refsampler's sampler, 1 for a mutant, 2 for a bad --world-size, 3 when
    everything is declined (one conforming run at rate 1e-8)."""
    base = ["verify", "--api", "sampler", "--kind", "fixed", "--config", "uniform"]
    good = "refsampler.conformance.adapters:refsampler_sampler"
    assert main([*base[:1], good, *base[1:], "--world-size", "1,2,3"]) == 0
    out = capsys.readouterr().out
    assert "ranks_disjoint_in_cycle[3]" in out and "notes:" in out
    bad = "refsampler.conformance.mutants:resume_off_by_one"
    assert main([*base[:1], bad, *base[1:]]) == 1
    assert main([*base[:1], good, *base[1:], "--world-size", "two"]) == 2
    declines = "refsampler.conformance.mutants:declines_every_sampler"
    assert main([*base[:1], declines, *base[1:]]) == 3
    capsys.readouterr()


def test_pk_configurations_decline_adapters_without_samples_per_class() -> None:
    """An adapter without ``samples_per_class`` declines every pk configuration cleanly."""

    def no_m(
        labels: Any, *, kind: str, alpha: Any, batch_size: int, n_batches: int, seed: int
    ) -> list[list[int]]:
        raise AssertionError("never called for pk")

    report = verify(no_m, kinds=["pk"], configs=["pk-rotation"])
    assert report.exit_code == 3
    assert "samples_per_class" in report.runs[0].reason
    assert np.isfinite(report.seconds)


def test_a_sampler_without_replicas_fails_the_rank_checks_saying_how_to_opt_out() -> None:
    """A constructor that raises NotImplementedError for num_replicas > 1 fails the rank
    checks (it served world size 1), each saying that only the first build declines and how
    to test without replicas; a failed statistical check shows no made-up p-value."""

    def single_process(labels: Any, **kwargs: Any) -> Any:
        if kwargs.get("num_replicas", 1) > 1:
            raise NotImplementedError("single process only")
        return refsampler_sampler(labels, **kwargs)

    report = verify(
        SamplerAdapter(single_process), kinds=["random"], configs=["long-tail"], world_sizes=(1, 2)
    )
    assert "ranks_equal_length[2]" in {r.check for r in report.failures}
    lines = report.failure_lines()
    assert (
        "    the sampler raised NotImplementedError: single process only (NotImplementedError "
        "declines a configuration only when the first build of its sampler, with one replica, "
        "raises it; a sampler that does not shard is tested with world size 1 alone "
        "(--world-size 1, or world_sizes=(1,)))" in lines
    )
    assert "    no statistic: nothing was examined, so the check fails" in lines
    assert not any(line.startswith("    p = 0") for line in lines)


def test_a_load_state_dict_that_consumes_its_dict_still_resumes() -> None:
    """Each load of the resume check gets its own copy of the saved state: a sampler whose
    load_state_dict empties the dict it is given (after reading it) passes, as it did before
    the check also saved a state right after loading."""

    class Consumes(mutants.Wrapped):
        def load_state_dict(self, state: dict[str, Any]) -> None:
            inner = dict(state)
            state.clear()
            super().load_state_dict(inner)

    report = verify(
        SamplerAdapter(lambda labels, **kwargs: Consumes(refsampler_sampler(labels, **kwargs))),
        kinds=["fixed"],
        configs=["uniform"],
        world_sizes=(1,),
    )
    resume = {r.check: r.verdict for r in report.results if r.check.startswith("resume")}
    assert resume["resume_continues_exactly"] == "pass"
    assert resume["resume_state_is_json"] == "pass"


def test_a_set_epoch_that_raises_not_implemented_is_no_set_epoch() -> None:
    """A sampler whose set_epoch raises NotImplementedError is read as one without set_epoch
    (as a len that raises is no len): its epochs by passes are checked, not declined, and
    the notes say why set_epoch is absent."""

    class NoSetEpoch(mutants.Wrapped):
        def set_epoch(self, epoch: int) -> None:
            raise NotImplementedError("epochs advance by passes")

    report = verify(
        SamplerAdapter(lambda labels, **kwargs: NoSetEpoch(refsampler_sampler(labels, **kwargs))),
        kinds=["fixed"],
        configs=["uniform"],
        world_sizes=(1,),
    )
    assert report.exit_code != 3  # tested, not declined
    assert "epochs_shape" in {r.check for r in report.results}
    assert any(
        "absent (their checks skipped): set_epoch (set_epoch(0) raised NotImplementedError: "
        "epochs advance by passes: taken as no set_epoch)" in note
        for note in report.notes
    )


def test_the_plain_loop_note_says_how_passes_are_counted() -> None:
    """For a sampler that advances its epoch by itself, the note says whether an iterator
    dropped unread and a pass abandoned after one batch count as passes; refsampler keeps the
    specification's rule, a sampler that counts every iter() does not, and a sampler whose
    builds differ is not judged."""

    class CountsEveryIter(mutants.Wrapped):
        epoch = 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch - 1  # the next iter() counts itself

        def __iter__(self) -> Any:
            self.epoch += 1
            self.inner.set_epoch(self.epoch)
            return iter(self.inner)

    def counts_every_iter(labels: Any, **kwargs: Any) -> Any:
        wrapped = CountsEveryIter(refsampler_sampler(labels, **kwargs))
        wrapped.epoch = -1
        return wrapped

    builds = itertools.count()

    def unreproducible(labels: Any, **kwargs: Any) -> Any:
        kwargs["seed"] += next(builds)  # every build another seed, as an unseeded sampler
        return refsampler_sampler(labels, **kwargs)

    notes = {}
    makers = [
        ("refsampler", refsampler_sampler),
        ("every iter", counts_every_iter),
        ("unreproducible", unreproducible),
    ]
    setting = plan_run(["random"], by_name(["uniform"]), streams=StreamPlan(3, (1,)))[0]
    for name, make in makers:
        notes[name] = plain_loop_note(SamplerAdapter(make), setting, setting.config.labels(), 1)
    assert notes["refsampler"].endswith(
        "3 distinct epochs; after an iterator dropped unread, epoch 0 again; after a pass "
        "abandoned after one batch, epoch 1"
    )
    assert notes["unreproducible"].endswith(
        "a fresh build's first pass differs from the first build's, so how passes are counted "
        "is not judged"
    )
    assert notes["every iter"].endswith(
        "after an iterator dropped unread, not epoch 0: it counted as a pass; after a pass "
        "abandoned after one batch, epoch 1 (the specification: an iterator is a pass once "
        "it has yielded a batch)"
    )


def test_a_sampler_that_hangs_in_a_later_epoch_fails_under_the_timeout() -> None:
    """Every call the stream checks make goes through ``timeout``: a pass of epoch 1 that
    never ends fails the epoch, rank and resume checks, each naming the pass, in seconds."""
    refsampler_sampler(  # import torch before the clock runs: an import is no hang
        np.arange(4) % 2,
        kind="quota",
        alpha=1.0,
        batch_size=2,
        n_batches=2,
        seed=0,
        num_replicas=1,
        rank=0,
    )
    report = verify(
        SamplerAdapter(mutants.hangs_in_epoch_1), kinds=["quota"], configs=["uniform"], timeout=1
    )
    assert report.exit_code == 1
    details = {r.check: r.detail for r in report.failures}
    assert details["epochs_differ"] == "the epoch 1 pass did not finish within 1 s (--timeout)"
    assert details["ranks_equal_length[2]"] == (
        "the epoch 1 pass of rank 0 of 2 did not finish within 1 s (--timeout)"
    )
    assert "did not finish within 1 s" in details["resume_continues_exactly"]
    assert "runs" not in details  # epoch 0 is fine


def test_a_len_that_raises_is_no_len_and_hides_no_other_method() -> None:
    """``__len__`` raising NotImplementedError: the note says so, set_epoch and the state
    methods are still found, and the resume checks run (and catch the skipped batch)."""
    report = verify(
        SamplerAdapter(mutants.resume_off_by_one_without_len), kinds=["fixed"], configs=["uniform"]
    )
    assert report.exit_code == 1
    assert "resume_continues_exactly" in {r.check for r in report.failures}
    assert report.notes[0].startswith(
        "sampler methods found: set_epoch, state_dict/load_state_dict; absent (their checks "
        "skipped): len (len() raised NotImplementedError: length unknown: taken as no len)"
    )


def test_methods_that_cannot_be_detected_fail_the_stream_checks() -> None:
    """A sampler that cannot be built for the kit's probe (2 batches) in any configuration,
    though its runs work: no method is found, and every stream check fails saying why."""

    def needs_three_batches(labels: Any, **kwargs: Any) -> Any:
        if kwargs["n_batches"] < 3:
            raise ValueError("the warm-up needs 3 batches")
        return refsampler_sampler(labels, **kwargs)

    report = verify(SamplerAdapter(needs_three_batches), kinds=["quota"], configs=["uniform"])
    assert report.exit_code == 1
    failed = {r.check: r.detail for r in report.failures}
    assert "runs" not in failed and "epochs_differ" in failed
    assert failed["epochs_differ"] == (
        "the sampler's methods could not be detected: quota/uniform: building the sampler "
        "raised ValueError: the warm-up needs 3 batches"
    )


#: Forms of a batch [p0, p1, ...]: refused ones with the reason, for both APIs.
FORMS: dict[str, tuple[Any, str]] = {
    "float tensor": (
        lambda b: torch.tensor(b, dtype=torch.float32),
        "holds positions of dtype float32, not integers",
    ),
    "float list": (
        lambda b: [float(p) for p in b],
        "holds positions of dtype float64, not integers",
    ),
    "2-D tensor": (
        lambda b: torch.tensor(b).reshape(-1, 2),
        "is nested (an array of shape (5, 2)), not a flat sequence of positions",
    ),
    "nested list": (
        lambda b: [list(b[i : i + 2]) for i in range(0, len(b), 2)],
        "is nested (an array of shape (5, 2)), not a flat sequence of positions",
    ),
    "0-d int tensors": (lambda b: [torch.tensor(p) for p in b], ""),
    "int32 array": (lambda b: np.asarray(b, dtype=np.int32), ""),
}


class _Form(mutants.Wrapped):
    """refsampler's sampler, its batches reshaped by ``form`` from epoch ``start`` on."""

    def __init__(self, inner: Any, form: Any, start: int) -> None:
        super().__init__(inner)
        self.form, self.start, self.epoch = form, start, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        super().set_epoch(epoch)

    def __iter__(self) -> Any:
        batches = super().__iter__()
        if self.epoch < self.start:
            return batches
        return (self.form(list(b)) for b in batches)


def _formed(form: Any, start: int = 0) -> Any:
    def make_sampler(labels: Any, **kwargs: Any) -> _Form:
        return _Form(refsampler_sampler(labels, **kwargs), form, start)

    return make_sampler


def _formed_batches(form: Any) -> Any:
    def make_batches(labels: Any, **kwargs: Any) -> list[Any]:
        return [form(b) for b in mutants.control(labels, **kwargs)]

    return make_batches


@pytest.mark.parametrize("name", sorted(FORMS))
def test_both_apis_accept_and_refuse_the_same_batches(name: str) -> None:
    """A sampler's batches go through the batches API's rule: the same refusal, for the same
    reason, whether the batches come from make_batches or from a sampler's pass; accepted
    forms reach the checks as the same positions."""
    form, problem = FORMS[name]
    labels = by_name(["uniform"])[0].labels()
    options = {"kind": "fixed", "alpha": 1.0, "batch_size": 10, "n_batches": 4, "seed": 1}
    through_sampler = list(SamplerAdapter(_formed(form))(labels.copy(), **options))
    through_batches = _formed_batches(form)(labels.copy(), **options)
    judged = [checks.as_batch_array(b, 10) for b in (through_sampler, through_batches)]
    if problem:
        assert [j[0] for j in judged] == [None, None]
        assert [j[2] for j in judged] == [f"batch 0 {problem} (3 more batches refused)"] * 2
    else:
        assert judged[0][2] == judged[1][2] == ""
        reference = refsampler_sampler(labels.copy(), num_replicas=1, rank=0, **options)
        reference.set_epoch(0)
        assert judged[0][0].tolist() == [list(b) for b in reference]  # type: ignore[union-attr]
    run = _Run(
        SamplerAdapter(_formed(form)), plan_run(["fixed"], by_name(["uniform"]))[0], labels, 1
    )
    read = run.read(run.build(4), 0)
    assert [p.size for p in read] == [0 if problem else 10] * 4
    assert run.refused == ([f"batch 0 of the epoch 0 pass {problem}"] if problem else [])


def test_refused_batches_fail_the_shape_checks_of_both_apis() -> None:
    """Float batches from the first pass fail batch_shape (the run stops there); from epoch 1
    on they fail epochs_shape, which names the batch and the reason."""
    form, problem = FORMS["float tensor"]
    first = verify(SamplerAdapter(_formed(form)), kinds=["fixed"], configs=["uniform"])
    assert {r.check for r in first.failures} == {"batch_shape"}
    assert f"batch 0 {problem}" in first.failures[0].detail
    later = verify(SamplerAdapter(_formed(form, start=1)), kinds=["fixed"], configs=["uniform"])
    details = {r.check: r.detail for r in later.failures}
    assert "batch_shape" not in details
    assert f"batch 0 of the epoch 1 pass {problem}" in details["epochs_shape"]


def test_refused_batches_of_a_rank_are_named_by_the_rank_checks() -> None:
    """Float batches on every rank of world size 2 from epoch 0 fail ranks_have_properties,
    naming the pass of that rank."""
    form, problem = FORMS["float list"]
    setting = plan_run(["fixed"], by_name(["uniform"]), streams=StreamPlan(2, (1, 2)))[0]
    run = _Run(SamplerAdapter(_formed(form)), setting, setting.config.labels(), 1)
    results = {r.check: r for r in _rank_checks(run, {}, 2)}
    result = results["ranks_have_properties[2]"]
    assert result.verdict == "fail"
    assert f"(batch 0 of the epoch 0 pass of rank 0 of 2 {problem})" in result.detail


#: The repeat checks' mutants, with everything else they fail (nothing: no earlier check
#: sees a batch that comes back in another epoch or on another rank).
REPEAT_MUTANTS = {
    "epoch_rank_seed_collide": {"ranks_batches_not_repeated[2]"},
    "shifted_epochs": {"batches_not_repeated", "ranks_batches_not_repeated[2]"},
}


@pytest.mark.statistical(level=1e-12)
@pytest.mark.parametrize("name", sorted(REPEAT_MUTANTS))
def test_repeated_batches_are_caught_by_the_repeat_checks_only(name: str) -> None:
    """Epochs or ranks that repeat batches pass every other stream check (seed 0: the
    pooled share tests see each batch twice, but stay far from their floor)."""
    assert _failures(name, "random", "long-tail") == REPEAT_MUTANTS[name]


def test_pair_repeat_bound_bounds_the_exact_chance_of_a_repeat() -> None:
    """For i.i.d. draws on a small dataset the chance that two batches are equal as
    multisets (summed over all of them) is below B! (sum q^2)^B."""
    import itertools
    from math import factorial

    from refsampler.conformance.configs import Config
    from refsampler.conformance.sample import Setting
    from refsampler.conformance.streams import pair_repeat_bound

    config = Config("small", (3, 2, 1), 3, 0.5, "three classes")
    setting = Setting("random", config, 10, 10, streams=StreamPlan(2, (1,)))
    labels = np.repeat(np.arange(3), config.class_counts)
    q = config.target()[labels] / np.asarray(config.class_counts)[labels]
    chance: dict[tuple[int, ...], float] = {}
    for batch in itertools.product(range(labels.size), repeat=3):
        key = tuple(sorted(batch))
        chance[key] = chance.get(key, 0.0) + float(np.prod(q[list(batch)]))
    exact = sum(p * p for p in chance.values())
    bound = pair_repeat_bound(setting)
    assert exact <= bound == pytest.approx(factorial(3) * float(np.sum(q * q)) ** 3)


def test_a_repeat_check_that_saw_fewer_than_two_batches_fails() -> None:
    """Nothing to compare is a failure, never a pass; a repeat names both batches."""
    from refsampler.conformance.streams import _not_repeated

    where = plan_run(["random"], by_name(["long-tail"]))[0]
    empty = np.zeros((0, 16), np.int64)
    assert _not_repeated("batches_not_repeated", where, [("epoch 0", empty)]).verdict == "fail"
    rows = np.arange(48).reshape(3, 16)
    again = rows[[2, 0]][:, ::-1]  # reshuffled inside the batch: still a repeat
    result = _not_repeated("batches_not_repeated", where, [("epoch 0", rows), ("epoch 1", again)])
    assert result.verdict == "fail" and result.statistic == 2
    assert result.detail.endswith("batch 0 of epoch 1 repeats batch 2 of epoch 0")


@pytest.mark.parametrize(
    ("given", "want"),
    [
        ({}, (False, None, None)),
        ({"index_sampler": True, "epochs": "2", "world_size": "1,2,3"}, (True, 2, (1, 2, 3))),
        ({"epochs": 5, "world_size": " 3"}, (False, 5, (3,))),
        ({"epochs": "", "world_size": ""}, (False, None, None)),  # ini keys left empty
    ],
)
def test_sampler_options_read_what_a_command_line_gives(
    given: dict[str, Any], want: tuple[Any, ...]
) -> None:
    """Numbers as text or ints; absent options stay None (the run's defaults)."""
    assert tuple(sampler_options("sampler", **given)) == want


#: The start of the message for a bad --world-size.
WORLD_SIZE = "`--world-size` must be comma-separated positive integers; got "


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"epochs": 0}, "`--epochs` must be an int >= 2; got 0."),
        ({"epochs": 1}, "`--epochs` must be an int >= 2; got 1."),
        ({"epochs": "1"}, "`--epochs` must be an int >= 2; got 1."),
        ({"epochs": "2.5"}, "`--epochs` must be an int >= 2; got '2.5'."),
        ({"world_size": "0"}, WORLD_SIZE + "'0'."),
        ({"world_size": "2,a"}, WORLD_SIZE + "'2,a'."),
        ({"world_size": ","}, WORLD_SIZE + "','."),
    ],
)
def test_sampler_options_refuse_bad_values_naming_the_option(
    given: dict[str, Any], message: str
) -> None:
    """One message per option whatever the bad value (0 and 1 epochs alike), naming the
    option as the command line spells it."""
    with pytest.raises(InvalidArgumentError) as exc:
        sampler_options("sampler", **given)
    assert str(exc.value) == message


def test_sampler_options_need_the_sampler_api_and_name_the_plugins_options() -> None:
    """With another API every sampler option is refused; the prefix names the pytest
    plugin's options."""
    for given in ({"index_sampler": True}, {"epochs": 3}, {"world_size": "2"}):
        with pytest.raises(InvalidArgumentError, match="need --api sampler"):
            sampler_options("batches", **given)
    with pytest.raises(InvalidArgumentError) as exc:
        sampler_options("weights", epochs=3, prefix="--refsampler-")
    assert str(exc.value) == (
        "--refsampler-index-sampler, --refsampler-epochs and --refsampler-world-size need "
        "--refsampler-api sampler"
    )
    assert tuple(sampler_options("weights")) == (False, None, None)


def test_verify_refuses_too_few_epochs_with_one_message() -> None:
    """verify's own epochs argument: 0 and 1 get the same message, with the real minimum."""
    for epochs in (0, 1, 2.0):
        with pytest.raises(InvalidArgumentError) as exc:
            verify(SamplerAdapter(refsampler_sampler), kinds=["fixed"], epochs=epochs)
        assert str(exc.value) == f"`epochs` must be an int >= 2; got {epochs}."


def test_the_index_sampler_hint_names_the_switch_of_the_front_end() -> None:
    """A single-value batch from a sampler adapter without index_sampler suggests it; a nested
    one from an adapter with it suggests leaving it out; other adapters get no hint."""
    single = "batch 0 is a single value, not a sequence of positions"
    nested = "batch 0 is nested (an array of shape (2, 2)), not a flat sequence of positions"
    plain = SamplerAdapter(refsampler_sampler)
    assert index_sampler_hint(plain, single) == (
        "; a per-index sampler (one that yields single positions) needs "
        "SamplerAdapter(make_sampler, index_sampler=True)"
    )
    assert index_sampler_hint(plain, nested) == ""
    flagged = SamplerAdapter(weighted_random_sampler, index_sampler=True)
    flagged.index_sampler_option = "--index-sampler"
    assert index_sampler_hint(flagged, nested).endswith("must be checked without --index-sampler")
    assert index_sampler_hint(flagged, single) == ""
    assert index_sampler_hint(refsampler_sampler, single) == ""


@pytest.mark.statistical(level=2 * REPEAT_BOUND)
def test_ranks_with_the_same_contents_in_another_order_fail_ranks_differ() -> None:
    """Ranks that yield rank 0's batches reshuffled inside fail ranks_differ, which compares
    contents; refsampler's own sampler passes it on the same configurations, where contents
    are compared too. The mutant cannot pass (its ranks share every batch's contents); the
    control fails each of its two ranks_differ checks with probability at most REPEAT_BOUND,
    as a run reserves for it."""
    configs = ["long-tail", "uniform"]
    broken = verify(
        SamplerAdapter(SAMPLER_MUTANTS["same_contents_on_every_rank"]),
        kinds=["fixed"],
        configs=configs,
        family_level=TEST_LEVEL,
    )
    failed = {(r.config, r.check): r.detail for r in broken.failures}
    for config in configs:
        assert "only the order inside each batch differs" in failed[(config, "ranks_differ[2]")]
    control = verify(SamplerAdapter(refsampler_sampler), kinds=["fixed"], configs=configs)
    checked = [r for r in control.results if r.check == "ranks_differ[2]"]
    assert [r.verdict for r in checked] == ["pass", "pass"], [r.detail for r in checked]
    details = [r.detail for r in checked]
    ending = "; compared as contents (the order inside a batch ignored)"
    assert all(d.endswith(ending) for d in details)


def test_ranks_differ_compares_only_positions_where_contents_must_repeat() -> None:
    """Batches that must hold the same positions (every batch the whole of a class) are not
    compared as contents, so ranks of a correct sampler cannot fail for holding them."""
    from refsampler.conformance.streams import _contents_compared

    whole = np.array([[2, 0, 1], [1, 2, 0], [0, 1, 2]] * 20)
    assert not _contents_compared(whole)
    varied = np.random.default_rng(0).integers(0, 1000, size=(64, 8))
    assert _contents_compared(varied)


def _names_the_next_epoch_at_its_end(labels: Any, **kwargs: Any) -> mutants.Wrapped:
    """refsampler's sampler whose state, after an epoch's last batch, points at the start of
    the next epoch instead (the same place; refsampler's own says so once the pass ends)."""

    class Normalised(mutants.Wrapped):
        def state_dict(self) -> dict[str, Any]:
            state = super().state_dict()
            if state["batches_yielded"] == len(self.inner):
                state["epoch"], state["batches_yielded"] = state["epoch"] + 1, 0
            return state

    return Normalised(mutants._inner(labels, **kwargs))


def _names_an_epoch_ahead(labels: Any, **kwargs: Any) -> mutants.Wrapped:
    """A state whose "epoch" is always one ahead of where the sampler stands."""

    class Ahead(mutants.Wrapped):
        def state_dict(self) -> dict[str, Any]:
            state = super().state_dict()
            state["epoch"] += 1
            return state

        def state_in(self, state: dict[str, Any]) -> dict[str, Any]:
            state["epoch"] -= 1
            return state

    return Ahead(mutants._inner(labels, **kwargs))


def _resume_results(make_sampler: Any) -> dict[str, Any]:
    report = verify(SamplerAdapter(make_sampler), kinds=["fixed"], configs=["long-tail"])
    return {r.check: r for r in report.results if r.check.startswith("resume_")}


def test_the_resume_check_calls_set_epoch_with_the_states_epoch() -> None:
    """A state saved after the last batch of epoch 0 may name epoch 1 at its start: loaded and
    given set_epoch(1), as a loop that reads the epoch from the state calls it, the sampler
    continues exactly. A state that names an epoch it was not saved in fails, saying so."""
    normalised = _resume_results(_names_the_next_epoch_at_its_end)
    assert normalised["resume_continues_exactly"].verdict == "pass"
    ahead = _resume_results(_names_an_epoch_ahead)["resume_continues_exactly"]
    assert ahead.verdict == "fail"
    # Every save point but the end of epoch 0, where "epoch 1" is the start of the next one.
    assert ahead.statistic == 3
    assert "; saved after 0 of 32 batches of epoch 0, the state names epoch 1" in ahead.detail


def test_a_resume_starts_where_the_states_epoch_says() -> None:
    """The state's integer "epoch" entry, or the epoch saved in without one; the next epoch
    only for a state saved after the last batch."""
    from refsampler.conformance.streams import _resume_start

    assert _resume_start({"epoch": 0, "batches_yielded": 5}, 0, 5, 8) == (0, 5)
    assert _resume_start({"position": 5}, 1, 5, 8) == (1, 5)
    assert _resume_start({"epoch": True}, 1, 5, 8) == (1, 5)  # not an epoch
    assert _resume_start(["a", "list"], 1, 5, 8) == (1, 5)
    assert _resume_start({"epoch": 1, "batches_yielded": 0}, 0, 8, 8) == (1, 0)
    assert _resume_start({"epoch": 0, "batches_yielded": 8}, 0, 8, 8) == (0, 8)
    assert _resume_start({"epoch": 1}, 0, 5, 8) == (
        "saved after 5 of 8 batches of epoch 0, the state names epoch 1 (a loop that resumes "
        "from it calls set_epoch(1))"
    )
    assert isinstance(_resume_start({"epoch": 2}, 0, 8, 8), str)


def test_cycle_failures_name_the_epoch_and_the_batch_within_it() -> None:
    """Cycles that restart at every epoch: the detail names the epoch, the batch in it and the
    epoch's length, not a position in the whole run; the rank check names the rank too."""
    report = verify(
        SamplerAdapter(SAMPLER_MUTANTS["restarts_cycles_each_epoch"]),
        kinds=["fixed"],
        configs=["uniform"],
    )
    details = {r.check: r.detail for r in report.failures}
    assert re.search(
        r"drawn for the \w+ time in batch \d+ of epoch [12] \(512 batches an epoch\), before",
        details["cycles_continue_across_epochs"],
    )
    assert re.search(
        r"time in batch \d+ of epoch 1 on rank [01], before", details["ranks_disjoint_in_cycle[2]"]
    )


def test_stacked_epochs_are_named_by_epoch_and_batch() -> None:
    """Row k of stacked epochs of unequal lengths (malformed batches left out)."""
    from refsampler.conformance.streams import _epoch_namer

    name = _epoch_namer([3, 0, 2])
    assert name(0) == "batch 0 of epoch 0 (3 batches an epoch)"
    assert name(3) == "batch 0 of epoch 2 (2 batches an epoch)"
    assert name(4) == "batch 1 of epoch 2 (2 batches an epoch)"


def test_a_run_of_world_size_1_says_the_rank_checks_did_not_run() -> None:
    """Every rank yielding the same batches passes a run whose only world size is 1: the
    notes say plainly that no rank check ran; a run with size 2 has no such note."""
    from refsampler.conformance.runner import NO_RANK_CHECKS

    options = {"kinds": ["fixed"], "configs": ["uniform"]}
    same = SamplerAdapter(SAMPLER_MUTANTS["same_batches_on_every_rank"])
    alone = verify(same, world_sizes=(1,), **options)
    assert NO_RANK_CHECKS in alone.notes
    assert not any(r.check.startswith("rank") for r in alone.results)
    both = verify(same, world_sizes=(1, 2), **options)
    assert NO_RANK_CHECKS not in both.notes
    assert "ranks_differ[2]" in {r.check for r in both.failures}


def test_the_maximum_world_size_keeps_two_counted_batches_per_rank() -> None:
    """At the largest world size each rank of a counted kind still reads its share of the
    epoch's batches, at least 2; one more rank would exceed that budget."""
    setting = plan_run(["fixed"], by_name(["uniform"]))[0]
    largest = MAX_WORLD_SIZE
    assert epoch_batches(setting, 2, largest) * largest <= COUNTED_BATCHES
    assert epoch_batches(setting, 2, largest + 1) * (largest + 1) > COUNTED_BATCHES


@pytest.mark.parametrize("text", ["1,,2", "1,2,", ",2", "3,"])
def test_a_world_size_with_an_empty_item_is_refused(text: str) -> None:
    """``1,,2`` is a typo, not the world sizes 1 and 2."""
    message = f"`--world-size` must be comma-separated positive integers; got {text!r}."
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        sampler_options("sampler", world_size=text)


class _RepeatsAfterEpoch0:
    """refsampler's sampler in epoch 0 of rank 0, the ``partial_dedupe`` mutant's batches in
    later epochs (``on_rank_0``) or on the other ranks (not)."""

    on_rank_0 = True

    def __init__(self, labels: Any, **kw: Any) -> None:
        self.labels, self.epoch, self.rank = labels, 0, kw.get("rank", 0)
        self.kw = {k: v for k, v in kw.items() if k not in ("num_replicas", "rank")}
        self.good = refsampler_sampler(labels, **kw)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.good.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.good)

    def __iter__(self) -> Any:
        if (self.epoch == 0) if self.on_rank_0 else (self.rank == 0):
            return iter(self.good)
        kw = self.kw | {"seed": self.kw["seed"] + 1000 * self.epoch + self.rank}
        rows = mutants.partial_dedupe(self.labels, **kw)
        return iter(rows[: len(self.good)])


class _RepeatsOffRank0(_RepeatsAfterEpoch0):
    on_rank_0 = False


def test_a_repeat_inside_a_batch_of_a_later_epoch_fails_epochs_have_properties() -> None:
    """The no-repeat rule is checked in every epoch, not only in the first pass the batches
    API's checks read: a sampler right in epoch 0 that repeats members later fails."""
    report = verify(
        SamplerAdapter(_RepeatsAfterEpoch0),
        kinds=["fixed"],
        configs=["wrap-in-batch"],
        world_sizes=(1,),
    )
    failed = {r.check: r for r in report.failures}
    assert "distinct_in_batch" not in failed  # epoch 0 is right
    assert "epochs_have_properties" in failed
    assert "distinct_in_batch" in failed["epochs_have_properties"].detail


def test_a_repeat_inside_a_batch_on_another_rank_fails_ranks_have_properties() -> None:
    """The same on the ranks: a sampler right on rank 0 that repeats members on rank 1."""
    report = verify(
        SamplerAdapter(_RepeatsOffRank0),
        kinds=["fixed"],
        configs=["wrap-in-batch"],
        world_sizes=(1, 2),
    )
    failed = {r.check: r for r in report.failures}
    assert "distinct_in_batch" not in failed and "epochs_have_properties" not in failed
    assert "distinct_in_batch" in failed["ranks_have_properties[2]"].detail
