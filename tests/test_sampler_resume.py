"""Checkpoint and resume of ``BalancedBatchSampler`` (specification: Resume, Determinism).

A sampler restored at batch ``k`` of epoch ``e`` yields exactly what the uninterrupted one
would have yielded from there on, including the following epochs; the state names the epoch,
the position and a configuration fingerprint; a state of another configuration is refused with
a message saying what differs; and batch ``k`` is computed directly, without replaying the
batches before it.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from refsampler import BalancedBatchSampler, InvalidArgumentError, RefSamplerWarning

LABELS = np.repeat(np.arange(4), [40, 25, 10, 5])


def make(**overrides: Any) -> BalancedBatchSampler:
    """A small sampler; ``overrides`` replace its keyword arguments."""
    kwargs: dict[str, Any] = {
        "labels": LABELS,
        "batch_size": 8,
        "kind": "quota",
        "alpha": 0.5,
        "seed": 11,
        "n_batches": 9,
    }
    kwargs.update(overrides)
    return BalancedBatchSampler(**kwargs)


def epochs_of(sampler: BalancedBatchSampler, count: int) -> list[list[list[int]]]:
    """``count`` consecutive passes, each a list of batches."""
    return [list(sampler) for _ in range(count)]


def take(iterator: Any, count: int) -> list[list[int]]:
    """The next ``count`` batches of ``iterator``."""
    return [next(iterator) for _ in range(count)]


# -- exact continuation -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fixed", "quota", "random"])
def test_resume_at_every_batch_continues_identically(kind: str) -> None:
    """Saved after k batches of epoch 1 (every k), a fresh sampler yields the rest of the
    uninterrupted run: the remainder of epoch 1 and then epochs 2 and 3."""
    reference = epochs_of(make(kind=kind), 4)
    for k in range(len(reference[1]) + 1):
        sampler = make(kind=kind)
        list(sampler)  # epoch 0
        iterator = iter(sampler)
        assert take(iterator, k) == reference[1][:k]
        restored = make(kind=kind)
        restored.load_state_dict(sampler.state_dict())
        assert restored.epoch == 1
        assert list(restored) == reference[1][k:], k
        assert epochs_of(restored, 2) == reference[2:4], k


@pytest.mark.parametrize(
    "kind",
    ["fixed", "quota", "random"],
)
def test_resume_across_chunk_boundaries(kind: str) -> None:
    """With several plan chunks per epoch, resuming inside any chunk, or at a boundary, is exact.

    A batch of 4096 makes a chunk 16 batches long, so 40 batches span three chunks.
    """
    labels = np.repeat(np.arange(3), [300, 150, 50])
    sampler = BalancedBatchSampler(
        labels, 4096, kind=kind, alpha=1.0, seed=5, n_batches=40, num_replicas=2, rank=1
    )
    assert sampler.plan.n_chunks >= 3
    reference = np.array(list(sampler))
    chunk = sampler.plan.chunk_batches
    for k in sorted({0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 39, 40}):
        restored = BalancedBatchSampler(
            labels, 4096, kind=kind, alpha=1.0, seed=5, n_batches=40, num_replicas=2, rank=1
        )
        state = restored.state_dict() | {"batches_yielded": k}
        restored.load_state_dict(state)
        rest = np.array(list(restored)).reshape(-1, 4096)
        np.testing.assert_array_equal(rest, reference[k:])


def test_resume_does_not_replay_earlier_batches() -> None:
    """Resuming at batch k computes batch k alone first, then the rest of its chunk, and never
    a batch before it."""
    labels = np.repeat(np.arange(3), [300, 150, 50])
    sampler = BalancedBatchSampler(labels, 4096, kind="quota", seed=5, n_batches=40)
    calls: list[tuple[int, int, int]] = []
    rows = sampler.plan.rows

    def spy(epoch: int, rank: int, j: int, lo: int, hi: int, cache: Any = None) -> Any:
        """Record which rows of which chunk are computed."""
        calls.append((j, lo, hi))
        return rows(epoch, rank, j, lo, hi, cache)

    sampler.plan.rows = spy  # type: ignore[method-assign]
    chunk = sampler.plan.chunk_batches
    k = 2 * chunk + 3
    sampler.load_state_dict(sampler.state_dict() | {"batches_yielded": k})
    iterator = iter(sampler)
    next(iterator)
    assert calls == [(2, 3, 4)]
    next(iterator)
    assert calls == [(2, 3, 4), (2, 4, sampler.plan.chunk_rows(2))]


def test_state_after_last_batch_ends_the_epoch_then_continues() -> None:
    """Saved after the last batch but before the pass ended, a restored sampler first ends
    that pass (no batches, as the uninterrupted loop would) and then yields the next epochs."""
    reference = epochs_of(make(), 3)
    sampler = make()
    iterator = iter(sampler)
    take(iterator, len(sampler))
    state = sampler.state_dict()
    assert (state["epoch"], state["batches_yielded"]) == (0, len(sampler))
    restored = make()
    restored.load_state_dict(state)
    assert list(restored) == []
    assert epochs_of(restored, 2) == reference[1:]


def test_state_after_a_completed_pass_is_the_next_epoch() -> None:
    """Once a pass is exhausted the state points at batch 0 of the next epoch."""
    sampler = make()
    list(sampler)
    state = sampler.state_dict()
    assert (state["epoch"], state["batches_yielded"]) == (1, 0)


def test_set_epoch_after_restore_keeps_the_position() -> None:
    """The DDP loop ``set_epoch(epoch)`` after a restore keeps the restored batch of that epoch;
    setting another epoch starts that epoch at batch 0."""
    reference = epochs_of(make(), 3)
    sampler = make()
    sampler.set_epoch(2)
    take(iter(sampler), 4)
    state = sampler.state_dict()

    restored = make()
    restored.load_state_dict(state)
    restored.set_epoch(2)
    assert list(restored) == reference[2][4:]

    other = make()
    other.load_state_dict(state)
    other.set_epoch(1)
    assert list(other) == reference[1]


def test_an_unread_iterator_before_set_epoch_keeps_the_restored_position() -> None:
    """A loader may call ``iter()`` before the loop's ``set_epoch(epoch)``: an iterator that
    yielded nothing consumes nothing, so the restored batch survives it, and a state saved in
    between still carries the position."""
    labels = np.repeat([0, 1, 2], [500, 50, 20])
    kwargs: dict[str, Any] = {"labels": labels, "alpha": 0.5, "seed": 0, "n_batches": None}
    reference = make(batch_size=16, **kwargs)
    reference.set_epoch(2)
    epoch_2 = list(reference)
    sampler = make(batch_size=16, **kwargs)
    sampler.set_epoch(2)
    take(iter(sampler), 5)
    state = sampler.state_dict()

    restored = make(batch_size=16, **kwargs)
    restored.load_state_dict(state)
    iter(restored)
    assert restored.state_dict() == state
    restored.set_epoch(2)
    assert list(restored) == epoch_2[5:]
    assert len(epoch_2) - 5 == 31

    elsewhere = make(batch_size=16, **kwargs)
    elsewhere.load_state_dict(state)
    iter(elsewhere)
    elsewhere.set_epoch(3)
    reference.set_epoch(3)
    assert list(elsewhere) == list(reference)


def test_set_epoch_after_iter_keeps_that_iterator_live() -> None:
    """Lightning's order -- set_epoch(e), iter(loader), set_epoch(e), then read the iterator
    made before the second call: the state follows that iterator, a resume from it does not
    replay batches, and the pass after it is the next epoch."""
    reference = epochs_of(make(), 2)
    sampler = make()
    sampler.set_epoch(0)
    iterator = iter(sampler)
    sampler.set_epoch(0)
    assert take(iterator, 4) == reference[0][:4]
    state = sampler.state_dict()
    assert (state["epoch"], state["batches_yielded"]) == (0, 4)
    assert list(iterator) == reference[0][4:]
    assert list(sampler) == reference[1]

    restored = make()
    restored.load_state_dict(state)
    resumed = iter(restored)
    restored.set_epoch(0)
    assert take(resumed, 2) == reference[0][4:6]
    assert restored.state_dict()["batches_yielded"] == 6
    assert list(resumed) == reference[0][6:]
    assert list(restored) == reference[1]


def test_abandoned_pass_still_advances_the_epoch() -> None:
    """Breaking out of a pass (a steps-per-epoch loop) does not replay it: the next pass is
    the next epoch, as for a completed pass, unless set_epoch chose one."""
    reference = epochs_of(make(), 3)
    sampler = make()
    assert take(iter(sampler), 3) == reference[0][:3]
    assert sampler.epoch == 1
    assert take(iter(sampler), 2) == reference[1][:2]
    sampler.set_epoch(0)
    assert list(sampler) == reference[0]


def test_an_iterator_dropped_before_its_first_batch_does_not_skip_an_epoch() -> None:
    """DataLoader workers and Lightning may make an iterator and replace it before reading
    it: a pass that yielded nothing is made again, so epoch 0 is not skipped; a pass that
    yielded a batch counts."""
    reference = epochs_of(make(), 2)
    sampler = make()
    iter(sampler)
    iter(sampler)
    assert sampler.epoch == 0
    assert list(sampler) == reference[0]
    assert sampler.epoch == 1
    restored = make()
    restored.load_state_dict(sampler.state_dict() | {"epoch": 1, "batches_yielded": 2})
    iter(restored)
    assert list(restored) == reference[1][2:]


def test_state_is_json_and_names_epoch_position_fingerprint() -> None:
    """The state is JSON-serialisable and carries epoch, position, fingerprint, config."""
    sampler = make()
    sampler.set_epoch(3)
    take(iter(sampler), 2)
    state = json.loads(json.dumps(sampler.state_dict()))
    assert {"epoch", "batches_yielded", "fingerprint", "config"} <= set(state)
    assert (state["epoch"], state["batches_yielded"]) == (3, 2)
    assert state["fingerprint"] == make().state_dict()["fingerprint"]
    restored = make()
    restored.load_state_dict(state)
    assert restored.state_dict() == sampler.state_dict()


def test_editing_a_returned_state_leaves_the_sampler_alone() -> None:
    """The state is the caller's: editing its config (as a checkpoint tool might, to drop or
    rename fields) changes neither the sampler's next states nor what it accepts."""
    sampler, other = make(), make()
    good = other.state_dict()
    edited = sampler.state_dict()
    edited["config"].pop("labels")
    edited["config"]["seed"] = 5
    it = iter(sampler)
    it.state_dict()["config"]["kind"] = "random"
    assert sampler.state_dict() == good
    assert it.state_dict()["config"] == good["config"]
    sampler.load_state_dict(good)
    other.load_state_dict(sampler.state_dict())


def test_iterator_is_resumable_on_its_own() -> None:
    """The pass iterator has state_dict/load_state_dict (as StatefulDataLoader uses them)."""
    reference = epochs_of(make(), 2)
    sampler = make()
    iterator = iter(sampler)
    take(iterator, 5)
    state = iterator.state_dict()  # type: ignore[attr-defined]
    assert state == sampler.state_dict()
    fresh = make()
    restored = iter(fresh)
    restored.load_state_dict(state)  # type: ignore[attr-defined]
    assert list(restored) == reference[0][5:]
    assert list(fresh) == reference[1]


def test_exhausted_iterator_state_leaves_the_sampler_at_the_next_epoch() -> None:
    """Loading an end-of-epoch state into a pass iterator that is then dropped (as a loader
    restored after a finished epoch does) leaves the sampler at the next epoch."""
    reference = epochs_of(make(), 2)
    sampler = make()
    iterator = iter(sampler)
    take(iterator, len(sampler))
    state = iterator.state_dict()  # type: ignore[attr-defined]
    fresh = make()
    fresh.load_state_dict(state)
    iter(fresh).load_state_dict(state)  # type: ignore[attr-defined]
    assert list(fresh) == reference[1]


def test_stale_iterator_does_not_move_the_epoch() -> None:
    """A pass started before ``set_epoch`` does not advance the newly set epoch when it ends;
    reading it warns (once), since the state no longer describes its batches."""
    sampler = make()
    old = iter(sampler)
    sampler.set_epoch(5)
    with pytest.warns(RefSamplerWarning, match="a pass of epoch 0 is still being read") as seen:
        list(old)
    assert len([w for w in seen if issubclass(w.category, RefSamplerWarning)]) == 1
    assert seen[0].filename == __file__  # points at the line that reads the stale pass
    assert sampler.epoch == 5
    assert sampler.state_dict()["epoch"] == 5 and sampler.state_dict()["batches_yielded"] == 0


def test_the_stale_pass_warning_read_through_a_loader_points_at_the_users_line() -> None:
    """A DataLoader (or StatefulDataLoader) reads the stale pass on the user's behalf: the
    warning skips the loaders' frames and names the line that asked for the batch."""
    from torch.utils.data import DataLoader

    sampler = make()
    loader = DataLoader(list(range(len(LABELS))), batch_sampler=sampler)
    batches = iter(loader)
    sampler.set_epoch(3)
    with pytest.warns(RefSamplerWarning, match="still being read") as seen:
        next(batches)
    assert seen[0].filename == __file__


def test_a_pass_abandoned_before_set_epoch_does_not_warn() -> None:
    """Breaking out of a pass and choosing the next epoch (a steps-per-epoch loop) reads no
    stale pass: no warning."""
    sampler = make()
    iterator = iter(sampler)
    next(iterator)
    sampler.set_epoch(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RefSamplerWarning)
        assert len(list(sampler)) == len(sampler)


# -- refusing another configuration ---------------------------------------------------------


def differs(key: str, state_value: Any, sampler_value: Any) -> str:
    """One entry of the mismatch message."""
    return f"{key} (state {state_value!r}, sampler {sampler_value!r})"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"labels": LABELS[::-1].copy()}, "labels"),
        ({"batch_size": 10}, "batch_size"),
        ({"kind": "fixed"}, "kind"),
        ({"alpha": 1.0}, "target"),
        ({"seed": 12}, "seed"),
        ({"num_replicas": 2, "rank": 0}, "num_replicas"),
        ({"n_batches": 10}, "n_batches"),
    ],
)
def test_state_from_another_configuration_is_refused(overrides: dict[str, Any], key: str) -> None:
    """Loading a state of another configuration raises and names the field that differs."""
    state = make().state_dict()
    other = make(**overrides)
    mine = other.state_dict()["config"]
    message = (
        "`state` comes from another sampler configuration; differs in "
        + differs(key, state["config"][key], mine[key])
        + "."
    )
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        other.load_state_dict(state)


def test_another_number_of_replicas_says_how_to_go_on() -> None:
    """An elastic restart (2 ranks saved, 3 loaded) is refused with the way forward: the
    epoch carries over through set_epoch, the position does not."""
    runner = make(num_replicas=2, rank=0)
    runner.set_epoch(4)
    iterator = iter(runner)
    next(iterator)
    state = iterator.state_dict()
    with pytest.raises(InvalidArgumentError, match=re.escape("afresh with set_epoch(4).")):
        make(num_replicas=3, rank=2).load_state_dict(state)


def test_several_differences_are_all_named() -> None:
    """Every differing field is listed, in configuration order."""
    state = make().state_dict()
    message = (
        "`state` comes from another sampler configuration; differs in "
        f"{differs('batch_size', 8, 10)}; {differs('seed', 11, 12)}."
    )
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        make(batch_size=10, seed=12).load_state_dict(state)


def test_tampered_fingerprint_is_refused() -> None:
    """A config edited by hand no longer matches; the error names what differs."""
    state = make().state_dict()
    state["config"]["seed"] = 99
    message = "`state` comes from another sampler configuration; differs in " + differs(
        "seed", 99, 11
    )
    with pytest.raises(InvalidArgumentError, match=re.escape(message + ".")):
        make().load_state_dict(state)


def test_rank_is_not_part_of_the_configuration() -> None:
    """Ranks share one configuration, so any rank's state loads on another rank."""
    state = make(num_replicas=2, rank=0).state_dict()
    other = make(num_replicas=2, rank=1)
    other.load_state_dict(state)
    assert other.state_dict() == state


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            [1, 2],
            "`state` must be a dict from BalancedBatchSampler.state_dict(); got [1, 2].",
        ),
        (
            {"epoch": 0},
            "`state` must be a dict from BalancedBatchSampler.state_dict(), but has no "
            "'version', 'batches_yielded', 'fingerprint', 'config'; got {'epoch': 0}.",
        ),
    ],
)
def test_malformed_state_is_refused(state: Any, message: str) -> None:
    """Something that is not a sampler state raises with the standard message."""
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        make().load_state_dict(state)


@pytest.mark.parametrize("key", ["version", "epoch", "batches_yielded", "fingerprint", "config"])
def test_a_state_missing_a_key_names_it(key: str) -> None:
    """A saved state with one field dropped names that field (a missing stream_version is
    refused by the stream-version check, which says what it means)."""
    state = make().state_dict()
    del state[key]
    with pytest.raises(InvalidArgumentError) as info:
        make().load_state_dict(state)
    assert str(info.value).startswith(
        "`state` must be a dict from BalancedBatchSampler.state_dict(), but has no "
        f"{key!r}; got {{"
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batches_yielded", 10, "`state['batches_yielded']` must be <= n_batches (9); got 10."),
        ("batches_yielded", -1, "`state['batches_yielded']` must be >= 0; got -1."),
        ("epoch", -2, "`state['epoch']` must be >= 0; got -2."),
        ("epoch", 1.5, "`state['epoch']` must be a non-negative int; got 1.5."),
    ],
)
def test_out_of_range_position_is_refused(field: str, value: Any, message: str) -> None:
    """Epoch and position must be in range for this configuration."""
    state = make().state_dict() | {field: value}
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        make().load_state_dict(state)


# -- the sampler is a thin cursor over the plan ---------------------------------------------


@settings(max_examples=60)
@given(
    class_sizes=st.lists(st.integers(1, 30), min_size=1, max_size=5),
    kind=st.sampled_from(["fixed", "quota", "random"]),
    batch_size=st.integers(1, 12),
    alpha=st.floats(0.0, 1.0),
    replicas=st.integers(1, 3).flatmap(lambda r: st.tuples(st.just(r), st.integers(0, r - 1))),
    n_batches=st.integers(1, 12),
    epoch=st.integers(0, 3),
    resume_at=st.integers(0, 12),
)
@example(  # one member drawn twice per batch: exercises a class's cycle wrapping in a batch
    class_sizes=[1],
    kind="fixed",
    batch_size=2,
    alpha=0.0,
    replicas=(1, 0),
    n_batches=1,
    epoch=0,
    resume_at=0,
)
def test_resumed_pass_is_the_plan_from_k(
    class_sizes: list[int],
    kind: str,
    batch_size: int,
    alpha: float,
    replicas: tuple[int, int],
    n_batches: int,
    epoch: int,
    resume_at: int,
) -> None:
    """For any configuration, a pass resumed at batch k of epoch e is the plan's batches
    k.. of (e, rank), it completes the uninterrupted pass, and epoch e + 1 follows."""
    num_replicas, rank = replicas
    labels = np.repeat(np.arange(len(class_sizes)), class_sizes)
    kwargs: dict[str, Any] = {
        "kind": kind,
        "alpha": alpha,
        "n_batches": n_batches,
        "seed": 3,
        "num_replicas": num_replicas,
        "rank": rank,
    }
    k = min(resume_at, n_batches)
    try:
        uninterrupted = BalancedBatchSampler(labels, batch_size, **kwargs)
    except InvalidArgumentError as exc:  # fixed counts can be infeasible for the target
        assume("infeasible" not in str(exc))
        raise
    uninterrupted.set_epoch(epoch)
    full = list(uninterrupted)
    sampler = BalancedBatchSampler(labels, batch_size, **kwargs)
    sampler.load_state_dict(sampler.state_dict() | {"epoch": epoch, "batches_yielded": k})
    rest = list(sampler)
    assert rest == sampler.plan.batches(epoch, rank, k).tolist()
    assert full[:k] + rest == full
    assert list(sampler) == sampler.plan.batches(epoch + 1, rank).tolist()


def test_a_state_of_a_nearly_equal_schedule_is_refused() -> None:
    """Schedules that differ past the sixth digit are different configurations: a state of
    one does not resume the other (their targets, and so their batches, differ)."""
    from refsampler.schedules import piecewise

    saved = make(alpha=piecewise([(0, 1 / 3), (90, 1.0)]))
    take(iter(saved), 3)
    other = make(alpha=piecewise([(0, 0.333333), (90, 1.0)]))
    with pytest.raises(InvalidArgumentError, match="target"):
        other.load_state_dict(saved.state_dict())
