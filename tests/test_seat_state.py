"""Tests of :mod:`refsampler.seat_state`: the seat schedule's checkpoint inside a sampler
state, which makes resuming deep into a run cheap when the schedule comes from PD2 and its
period is out of reach, without changing a single batch."""

from __future__ import annotations

import base64
import functools
import itertools
import json
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refsampler import BalancedBatchSampler, InvalidArgumentError
from refsampler.seat_state import (
    BEHIND,
    MAX_VALUES,
    MORE_CHECKPOINTS,
    checkpoint_slot,
    later_slots,
    pack,
    unpack,
)
from refsampler.seats import BLOCK_SLOTS, CHECKPOINT_SLOTS, SeatSchedule
from tests._spies import pd2_slots

IntArray = npt.NDArray[np.int64]
# 24 classes and a target of plain floats: their exact values put the extra-seat rates'
# common denominator far beyond any slot reached here (as class counts at a fractional alpha
# do at scale), so without a checkpoint a fresh process runs PD2 from slot 0.
SIZES = [97, 91, 83, 79, 73, 71, 67, 61, 59, 53, 47, 43, 41, 37, 31, 29, 23, 19, 17, 13, 11,
         7, 5, 5]
LABELS = np.repeat(np.arange(len(SIZES)), SIZES)
TARGET = 1 / (np.arange(len(SIZES)) + 1.7)
TARGET /= TARGET.sum()


def make(**overrides: Any) -> BalancedBatchSampler:
    """A quota sampler whose schedule comes from PD2."""
    kwargs: dict[str, Any] = {"batch_size": 16, "kind": "quota", "target": TARGET, "seed": 3}
    kwargs.update(overrides)
    return BalancedBatchSampler(LABELS, **kwargs)


def state_at(sampler: BalancedBatchSampler, epoch: int, position: int) -> dict[str, Any]:
    """The state a run saves at (epoch, position), having computed the batch there."""
    sampler.load_state_dict(sampler.state_dict() | {"epoch": epoch, "batches_yielded": position})
    next(iter(sampler))
    sampler.load_state_dict(sampler.state_dict() | {"epoch": epoch, "batches_yielded": position})
    return json.loads(json.dumps(sampler.state_dict()))


def spy_on_pd2(sampler: BalancedBatchSampler) -> list[tuple[int, int]]:
    """Record the slots PD2 runs in ``sampler``'s seat schedule."""
    schedule = sampler.plan.seat_schedule()
    assert schedule is not None
    return pd2_slots(schedule)


def test_the_fixture_has_a_pd2_schedule_with_a_period_out_of_reach() -> None:
    schedule = make().plan.seat_schedule()
    assert isinstance(schedule, SeatSchedule) and schedule.sequential
    assert schedule.den > 10**15


@pytest.mark.parametrize(("num_replicas", "rank"), [(1, 0), (3, 2)])
def test_deep_resume_runs_pd2_from_the_saved_checkpoint_and_continues_exactly(
    num_replicas: int, rank: int
) -> None:
    """Resumed at epoch 70 (about 4,700 global slots in), a fresh sampler runs PD2 only from
    a checkpoint the state carries (the block start BEHIND slots or a little more back, or
    one of the later ones under ``more``), for the block it reads (at most two blocks) to
    its first batch, and its batches are the uninterrupted run's; the same state without its
    checkpoint gives the same batches, after running PD2 from slot 0."""
    epoch, position = 70, 10
    runner = make(num_replicas=num_replicas, rank=rank)
    state = state_at(runner, epoch, position)
    slot = (epoch * runner.n_batches + position) * num_replicas + rank
    assert state["schedule"]["slot"] == checkpoint_slot(slot) > 0
    expected = epochs_of_rest(runner, state)
    resumed = make(num_replicas=num_replicas, rank=rank)
    ran = spy_on_pd2(resumed)
    resumed.load_state_dict(state)
    rest = iter(resumed)
    got = [next(rest)]
    assert min(start for start, _ in ran) in carried(state["schedule"])
    assert 0 < sum(slots for _, slots in ran) <= 2 * BLOCK_SLOTS
    assert got + list(rest) == expected
    bare = make(num_replicas=num_replicas, rank=rank)
    ran_bare = spy_on_pd2(bare)
    bare.load_state_dict({key: value for key, value in state.items() if key != "schedule"})
    assert list(bare) == expected
    assert min(start for start, _ in ran_bare) == 0
    assert sum(slots for _, slots in ran_bare) > slot - BLOCK_SLOTS


def carried(entry: dict[str, Any]) -> set[int]:
    """The slots of the checkpoints a ``state['schedule']`` entry carries."""
    return {entry["slot"], *(item["slot"] for item in entry.get("more", []))}


def test_a_state_without_later_checkpoints_resumes_from_its_far_one() -> None:
    """A state whose entry has no ``more`` (as states saved before those existed) resumes
    exactly, running PD2 from its one checkpoint."""
    runner = make()
    state = state_at(runner, 70, 10)
    assert state["schedule"]["more"]
    expected = epochs_of_rest(runner, state)
    state["schedule"] = {key: state["schedule"][key] for key in ("slot", "ahead", "digest")}
    resumed = make()
    ran = spy_on_pd2(resumed)
    resumed.load_state_dict(state)
    assert list(resumed) == expected
    assert min(start for start, _ in ran) == state["schedule"]["slot"]


@given(at=st.integers(0, 1 << 14), gap=st.integers(0, 1 << 14))
def test_later_slots_spread_evenly_up_to_the_last_block(at: int, gap: int) -> None:
    """At most MORE_CHECKPOINTS block starts in (at, slot], ascending, the last block start
    of that range among them, and no two more than ceil(n / MORE_CHECKPOINTS) blocks apart
    (n the block starts in the range), nor the first that far from ``at``'s block."""
    slot = at + gap
    got = later_slots(at, slot)
    blocks = [b * BLOCK_SLOTS for b in range(at // BLOCK_SLOTS + 1, slot // BLOCK_SLOTS + 1)]
    assert len(got) <= MORE_CHECKPOINTS and got == sorted(set(got)) and set(got) <= set(blocks)
    if not blocks:
        assert got == []
        return
    assert got[-1] == blocks[-1]
    step = -(-len(blocks) // MORE_CHECKPOINTS) * BLOCK_SLOTS
    edges = [at - at % BLOCK_SLOTS, *got]
    assert all(b - a <= step for a, b in itertools.pairwise(edges))


@given(
    at=st.integers(0, 1 << 12),
    gap=st.integers(0, 1 << 12),
    read=st.frozensets(st.integers(0, 1 << 7), max_size=12),
)
def test_later_slots_put_the_blocks_read_first(at: int, gap: int, read: frozenset[int]) -> None:
    """With the blocks read computing the batches around ``slot``, the states offered are
    the starts of those blocks in (at, slot] (the latest MORE_CHECKPOINTS of them, the last
    block start always among them), and the room left goes to evenly spread ones."""
    slot = at + gap
    got = later_slots(at, slot, read)
    first, last = at // BLOCK_SLOTS + 1, slot // BLOCK_SLOTS
    wanted = sorted({b for b in read if first <= b <= last} | ({last} if last >= first else set()))
    assert len(got) <= MORE_CHECKPOINTS and got == sorted(set(got))
    assert all(first * BLOCK_SLOTS <= s <= last * BLOCK_SLOTS and s % BLOCK_SLOTS == 0 for s in got)
    assert {b * BLOCK_SLOTS for b in wanted[-MORE_CHECKPOINTS:]} <= set(got)
    assert len(got) == min(MORE_CHECKPOINTS, len(set(later_slots(at, slot)) | set(got)))


def test_the_entry_stays_small() -> None:
    """However far back the checkpoint lies, the entry holds at most 1 + MORE_CHECKPOINTS
    states of one bit per group: those of :func:`later_slots` the sampler holds, the
    nearest block start among them."""
    runner = make()
    runner._seat_behind = 40 * BLOCK_SLOTS  # as a group of very long rounds would
    state = state_at(runner, 70, 10)
    entry = state["schedule"]
    slot = 70 * runner.n_batches + 10
    schedule = runner.plan.seat_schedule()
    assert schedule is not None
    held = [s for s in later_slots(entry["slot"], slot) if schedule.holds(s)]
    assert [item["slot"] for item in entry["more"]] == held
    assert 0 < len(held) <= MORE_CHECKPOINTS and held[-1] == slot // BLOCK_SLOTS * BLOCK_SLOTS
    assert all(len(item["ahead"]) == len(entry["ahead"]) for item in entry["more"])


def epochs_of_rest(sampler: BalancedBatchSampler, state: dict[str, Any]) -> list[list[int]]:
    """The rest of the epoch from ``state``, from ``sampler`` (which holds the schedule)."""
    sampler.load_state_dict(state)
    return list(sampler)


def test_the_checkpoint_entry_is_made_once_per_checkpoint() -> None:
    """state_dict() stays O(1): the entry is encoded once per checkpoint slot, then reused
    (as a copy, so editing one state leaves the next alone)."""
    sampler = make()
    state = state_at(sampler, 60, 0)
    first = sampler.state_dict()
    first["schedule"]["slot"] = -1
    assert sampler.state_dict()["schedule"] == state["schedule"]
    made = sampler._seat_entry
    iterator = iter(sampler)
    for _ in range(5):
        next(iterator)
        iterator.state_dict()
    assert sampler._seat_entry is made


def test_the_entry_falls_back_to_the_checkpoint_grid_when_the_block_state_is_gone() -> None:
    """pack() gives the state at the block start it is asked for while the schedule still
    holds it, else at the last multiple of CHECKPOINT_SLOTS before it (never a later one,
    which could lie after the slots a resumed batch reads), else no entry."""
    schedule = make().plan.seat_schedule()
    assert schedule is not None
    at = 3 * CHECKPOINT_SLOTS + 6 * BLOCK_SLOTS
    schedule.slots(at, at + BLOCK_SLOTS)
    entry = pack(schedule, at, "fp")
    assert entry is not None and entry["slot"] == at
    schedule._recent.clear()  # as if later blocks had pushed it out
    entry = pack(schedule, at, "fp")
    assert entry is not None and entry["slot"] == 3 * CHECKPOINT_SLOTS
    assert pack(schedule, CHECKPOINT_SLOTS - BLOCK_SLOTS, "fp") is None  # holds neither
    assert checkpoint_slot(at + BEHIND + 5) == at
    assert checkpoint_slot(at + BEHIND + 5, lowest_read=at - 1) == at - BLOCK_SLOTS


def test_no_entry_when_none_is_needed() -> None:
    """Early in the run, and for schedules that are closed forms (alpha 1: one rate group)."""
    assert "schedule" not in make().state_dict()
    assert "schedule" not in state_at(make(), 0, 10)
    assert "schedule" not in state_at(make(target=None, alpha=1.0), 70, 10)
    assert make(target=None, alpha=1.0).plan.seat_schedule() is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda entry: entry | {"slot": entry["slot"] + CHECKPOINT_SLOTS}, "digest"),
        (lambda entry: entry | {"ahead": "AAAA" + entry["ahead"][4:]}, "digest"),
        (lambda entry: entry | {"ahead": "not base64!"}, "not base64"),
        (lambda entry: entry | {"slot": "1024"}, "an int 'slot'"),
        (lambda entry: {"slot": entry["slot"]}, "keys 'slot', 'ahead', 'digest'"),
        (lambda entry: [entry], "must be a dict"),
        (lambda entry: entry | {"extra": 1}, "possibly 'more'"),
        (lambda entry: entry | {"more": entry}, r"\['more'\]` must be a list"),
        (lambda entry: entry | {"more": [{"slot": 1}]}, r"\['more'\]` must be a list"),
        (
            lambda entry: entry | {"more": [m | {"slot": m["slot"] + 1} for m in entry["more"]]},
            r"\['more'\]\[0\]` does not match its digest",
        ),
    ],
)
def test_an_edited_entry_is_refused(edit: Any, message: str) -> None:
    state = state_at(make(), 70, 0)
    state["schedule"] = edit(state["schedule"])
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        make().load_state_dict(state)
    assert "state['schedule']" in str(caught.value)


def test_an_entry_for_a_closed_form_schedule_is_refused() -> None:
    state = state_at(make(), 70, 0)
    other = make(target=None, alpha=1.0)
    fixed = other.state_dict() | {"schedule": state["schedule"]}
    with pytest.raises(InvalidArgumentError, match="schedule has none"):
        other.load_state_dict(fixed)


def test_stateful_dataloader_carries_the_checkpoint_and_resumes_exactly() -> None:
    """torchdata's StatefulDataLoader saves the sampler's state with each batch; deep in the
    run that state holds the checkpoint, survives the loader's state dict, and a new loader
    restored from it continues with the same batches, running PD2 from the checkpoint."""
    import torch
    from torch.utils.data import TensorDataset
    from torchdata.stateful_dataloader import StatefulDataLoader

    dataset = TensorDataset(torch.arange(LABELS.size))

    def loader(sampler: BalancedBatchSampler) -> StatefulDataLoader:
        return StatefulDataLoader(dataset, batch_sampler=sampler, num_workers=0)

    sampler = make()
    sampler.set_epoch(70)
    first = loader(sampler)
    run = iter(first)
    for _ in range(3):
        next(run)
    state = first.state_dict()
    expected = [batch[0].tolist() for batch in run]
    resumed_sampler = make()
    ran = spy_on_pd2(resumed_sampler)
    second = loader(resumed_sampler)
    second.load_state_dict(state)
    rest = iter(second)
    got = [next(rest)[0].tolist()]
    entry = next(v for v in _values(state) if isinstance(v, dict) and "ahead" in v)
    assert min(start for start, _ in ran) in carried(entry)
    assert 0 < sum(slots for _, slots in ran) <= 2 * BLOCK_SLOTS
    got += [batch[0].tolist() for batch in rest]
    assert got == expected


def _values(tree: Any) -> Any:
    """Every value nested in dicts and lists of ``tree``, depth first."""
    if isinstance(tree, dict):
        for value in tree.values():
            yield value
            yield from _values(value)
    elif isinstance(tree, list | tuple):
        for value in tree:
            yield from _values(value)


# 3,000 classes of equal rate form one group at 1.5 seats a batch, whose rounds span 2,000
# batches, beside five classes of rates with a far period.
MANY = 3000
LARGE_LABELS = np.repeat(np.arange(MANY + 5), [1] * MANY + SIZES[:5])
_REST = 1 / (np.arange(5) + 1.7)
LARGE_TARGET = np.concatenate(
    [np.full(MANY, 1.5 / 16 / MANY), _REST * (1 - 1.5 / 16) / _REST.sum()]
)


def make_large() -> BalancedBatchSampler:
    """A quota sampler with a group of rounds far longer than a block."""
    return BalancedBatchSampler(LARGE_LABELS, 16, kind="quota", target=LARGE_TARGET, seed=3)


def test_long_rounds_of_a_large_group_move_the_checkpoint_back() -> None:
    """Computing a batch reads the schedule where its large group's round began, so the
    checkpoint lies two rounds back. The state carries the value read there under
    ``reads``, and the start of the batch's block, so a resumed sampler runs PD2 for that
    one block. A run that reached the batch batch by batch holds the later block states, and
    with them under ``more`` the resumed sampler runs PD2 for fewer than a quarter of the
    slots between the far checkpoint and the batch."""
    assert make_large().plan.seat_reach() >= 2000
    runner = make_large()
    for epoch in (27, 60):
        state = state_at(runner, epoch, 122)
        slot = epoch * runner.n_batches + 122
        entry = state["schedule"]
        assert entry["slot"] <= slot - 2 * 2000
        assert entry["reads"]["values"]
        assert all(entry["slot"] <= t < slot for _, t, _ in entry["reads"]["values"])
        expected = runner.plan.rows(epoch, 0, *_first_row(runner, 122))
        resumed = make_large()
        ran = spy_on_pd2(resumed)
        resumed.load_state_dict(state)
        assert next(iter(resumed)) == expected[0].tolist()
        assert ran == [(slot - slot % BLOCK_SLOTS, BLOCK_SLOTS)]
        # Without the values, PD2 runs again for the block where the round began.
        bare = make_large()
        ran_bare = spy_on_pd2(bare)
        bare.load_state_dict(state | {"schedule": {k: v for k, v in entry.items() if k != "reads"}})
        assert next(iter(bare)) == expected[0].tolist()
        assert len(ran_bare) >= 2 and all(start in carried(entry) for start, _ in ran_bare)
    walker = make_large()
    for epoch in range(27):
        walker.set_epoch(epoch)
        for _ in walker:
            pass
    walker.set_epoch(27)
    iterator = iter(walker)
    for _ in range(122):
        next(iterator)
    state = json.loads(json.dumps(iterator.state_dict()))
    slot, entry = 27 * walker.n_batches + 122, state["schedule"]
    assert entry["slot"] <= slot - 2 * 2000 and len(entry["more"]) == MORE_CHECKPOINTS
    resumed = make_large()
    ran = spy_on_pd2(resumed)
    resumed.load_state_dict(state)
    assert next(iter(resumed)) == next(iterator)
    assert min(start for start, _ in ran) in carried(entry)
    assert sum(slots for _, slots in ran) < (slot - entry["slot"]) / 4


def _extra(schedule: SeatSchedule, group: int, t: int) -> int:
    """E_g(t): the group's extra seats before slot ``t`` (what a carried value holds)."""
    return schedule.cumulative_of(group, t) - int(schedule.base[group]) * t


def test_carried_values_are_the_values_pd2_reaches() -> None:
    """Values restored from a state are those PD2 computes for the same (group, slot); they
    are read without running PD2, and read again they are noted for the next state."""
    runner = make_large()
    entry = state_at(runner, 27, 122)["schedule"]
    values = entry["reads"]["values"]
    schedule = make_large().plan.seat_schedule()
    assert schedule is not None
    unpack(schedule, entry, runner.state_dict()["fingerprint"])
    ran = pd2_slots(schedule)
    schedule.start_reads()
    got = [_extra(schedule, g, t) for g, t, _ in values]
    assert ran == [] and got == [v for _, _, v in values]
    assert schedule.values_read() == {(g, t): v for g, t, v in values}
    fresh = make_large().plan.seat_schedule()
    assert fresh is not None
    assert [_extra(fresh, g, t) for g, t, _ in values] == got


def test_editing_a_states_values_leaves_the_next_state_alone() -> None:
    runner = make_large()
    state = state_at(runner, 27, 122)
    edited = runner.state_dict()
    edited["schedule"]["reads"]["values"][0][2] += 1
    edited["schedule"]["reads"]["values"].pop()
    assert runner.state_dict()["schedule"] == state["schedule"]


def test_the_carried_values_stay_few() -> None:
    """pack() keeps the values at or after its checkpoint, the latest MAX_VALUES of them."""
    schedule = make_large().plan.seat_schedule()
    assert schedule is not None
    at = 4 * CHECKPOINT_SLOTS
    schedule.slots(at, at + BLOCK_SLOTS)
    group = int(np.flatnonzero(schedule._takes_extra)[0])
    values = [(group, t, _extra(schedule, group, t)) for t in range(at - 50, at + MAX_VALUES + 50)]
    entry = pack(schedule, at, "fp", values=values)
    assert entry is not None
    assert [tuple(v) for v in entry["reads"]["values"]] == values[-MAX_VALUES:]
    assert "reads" not in (pack(schedule, at, "fp", values=values[:50]) or {})


@functools.cache
def _large_state_json() -> str:
    """A large-group state that carries ``reads`` (made once; each test parses a copy)."""
    return json.dumps(state_at(make_large(), 27, 122))


def _reads_edit(edit: Any) -> Any:
    return lambda entry: entry | {"reads": edit(entry["reads"])}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_reads_edit(lambda r: r | {"digest": "0" * 16}), r"\['reads'\]` does not match"),
        (
            _reads_edit(lambda r: r | {"values": [[*v[:2], v[2] + 1] for v in r["values"]]}),
            r"\['reads'\]` does not match",
        ),
        (_reads_edit(lambda r: {"values": r["values"]}), r"\['reads'\]` must be a dict"),
        (_reads_edit(lambda r: r | {"values": [[1, 2]]}), r"\['reads'\]` must be a dict"),
        (_reads_edit(lambda r: r | {"values": [[1, 2, True]]}), r"\['reads'\]` must be a dict"),
        (_reads_edit(lambda r: [r]), r"\['reads'\]` must be a dict"),
    ],
)
def test_edited_values_are_refused(edit: Any, message: str) -> None:
    state = json.loads(_large_state_json())
    state["schedule"] = edit(state["schedule"])
    with pytest.raises(InvalidArgumentError, match=message):
        make_large().load_state_dict(state)


def test_values_that_are_no_state_of_the_rates_are_refused() -> None:
    """A digest vouches for values a sampler of this configuration gave; restore_values()
    still refuses those no PD2 run of these rates could reach, and groups outside PD2."""
    schedule = make_large().plan.seat_schedule()
    assert schedule is not None
    group = int(np.flatnonzero(schedule._takes_extra)[0])
    at = t = 4 * CHECKPOINT_SLOTS
    value = _extra(schedule, group, t)
    for bad in (value + 2, value - 2, -1):
        entry = pack(schedule, at, "fp", values=[(group, t, bad)])
        assert entry is not None
        with pytest.raises(InvalidArgumentError, match="not a state of this schedule"):
            unpack(make_large().plan.seat_schedule(), entry, "fp")
    with pytest.raises(ValueError, match="slot 0"):
        schedule.restore_values({(len(schedule.rho), 0): 0})
    assert schedule.restore_values({(group, t): value}) is None


def _first_row(sampler: BalancedBatchSampler, position: int) -> tuple[int, int, int]:
    """(chunk, first row, end row) of the batch at ``position`` alone."""
    chunk, row = divmod(position, sampler.plan.chunk_batches)
    return chunk, row, row + 1


def test_a_pickled_sampler_keeps_the_checkpoint() -> None:
    """A sampler pickled deep in the run (its pickle is a checkpoint) resumes PD2 from the
    checkpoint its state carries, not from slot 0."""
    import pickle

    runner = make()
    state = state_at(runner, 70, 10)
    copy = pickle.loads(pickle.dumps(runner))
    expected = list(runner)
    ran = spy_on_pd2(copy)
    assert list(copy) == expected
    assert min(start for start, _ in ran) in carried(state["schedule"])


def test_an_alpha_schedule_carries_no_checkpoint() -> None:
    """Each epoch of an alpha schedule has a schedule of its own, stepped from the epoch's
    start: no entry, and none is needed."""
    from refsampler.schedules import linear

    sampler = make(target=None, alpha=linear(0.2, 0.9, 100))
    assert sampler.plan.seat_schedule() is None
    assert "schedule" not in state_at(sampler, 70, 10)


def test_a_forged_entry_that_contradicts_a_held_checkpoint_is_refused() -> None:
    """Two compensating parity flips keep the seat total, so only the digest guards a fresh
    sampler; one that already holds the checkpoint compares and refuses."""
    from refsampler import seat_state

    runner = make()
    state = state_at(runner, 70, 0)
    entry = state["schedule"]
    bits = bytearray(base64.b64decode(entry["ahead"]))
    schedule = runner.plan.seat_schedule()
    assert schedule is not None
    floors, _ = schedule._floors(entry["slot"])
    parity = np.unpackbits(np.frombuffer(bytes(bits), dtype=np.uint8))[: floors.size]
    ahead = (parity.astype(np.int64) ^ floors) & 1
    up, down = int(np.flatnonzero(ahead == 0)[0]), int(np.flatnonzero(ahead == 1)[0])
    for g in (up, down):
        bits[g // 8] ^= 0x80 >> (g % 8)
    forged = bytes(bits)
    state["schedule"] = entry | {
        "ahead": base64.b64encode(forged).decode("ascii"),
        "digest": seat_state._digest(runner.state_dict()["fingerprint"], entry["slot"], forged),
    }
    with pytest.raises(InvalidArgumentError, match="not the state this schedule computed"):
        runner.load_state_dict(state)


def test_a_sampler_pickled_without_checkpoint_fields_still_loads() -> None:
    """A pickle from a release without schedule checkpoints has none of their fields."""
    import pickle

    runner = make()
    state_at(runner, 70, 10)
    old = runner.__getstate__()
    for name in ("_seats", "_seat_entry", "_seat_reads", "_seat_behind"):
        del old[name]
    copy = BalancedBatchSampler.__new__(BalancedBatchSampler)
    copy.__setstate__(pickle.loads(pickle.dumps(old)))
    assert list(copy) == list(runner)


def _resumes_from_its_checkpoint(make_one: Any, state: dict[str, Any], batches: int = 1) -> None:
    """A fresh sampler restored from ``state`` runs PD2 only from the state's checkpoints."""
    fresh = make_one()
    ran = spy_on_pd2(fresh)
    fresh.load_state_dict(state)
    iterator = iter(fresh)
    for _ in range(batches):
        next(iterator)
    assert min(start for start, _ in ran) in carried(state["schedule"])


def test_a_group_of_integral_rate_reads_no_pd2_slot() -> None:
    """Four classes at half a seat a batch form a group of rate 2, outside the extra seats:
    finding where its rounds began reads no PD2 slot, so the checkpoint stays near."""
    sizes = [*SIZES, *[50] * 4, *[40] * 10]
    labels = np.repeat(np.arange(len(sizes)), sizes)
    target = np.concatenate(
        [TARGET * (1 - 4 * 0.5 / 16 - 10 * 0.35 / 16), np.full(4, 0.5 / 16), np.full(10, 0.35 / 16)]
    )

    def mixed() -> BalancedBatchSampler:
        return BalancedBatchSampler(labels, 16, kind="quota", target=target, seed=3)

    state = state_at(mixed(), 70, 10)
    assert state["schedule"]["slot"] >= 70 * mixed().n_batches - BEHIND - BLOCK_SLOTS
    _resumes_from_its_checkpoint(mixed, state)


def test_a_member_cycle_boundary_reads_no_pd2_slot_a_cycle_back() -> None:
    """A class of 6,007 members drawn 2.37 times a batch has cycles of about 2,535 batches;
    the head rule at a cycle boundary inside the resumed batch decides without asking where
    the previous cycle began, so PD2 still starts at the checkpoint."""
    sizes = [6007, *[2000] * len(SIZES)]
    labels = np.repeat(np.arange(len(sizes)), sizes)
    target = np.concatenate([[2.37 / 256], TARGET * (1 - 2.37 / 256)])

    def large() -> BalancedBatchSampler:
        return BalancedBatchSampler(
            labels, 256, kind="quota", target=target, seed=3, n_batches=2000
        )

    for epoch, position in [(5, 138), (8, 1742)]:  # batches holding a cycle boundary
        runner = large()  # a run that reached the position batch by batch
        runner.set_epoch(epoch)
        iterator = iter(runner)
        for _ in range(position):
            next(iterator)
        state = json.loads(json.dumps(iterator.state_dict()))
        _resumes_from_its_checkpoint(large, state, batches=2)


def test_a_state_saved_at_the_end_of_an_epoch_carries_the_checkpoint() -> None:
    """After a completed pass the state is (next epoch, 0): the checkpoint comes from the end
    of the epoch just computed."""
    sampler = make()
    for epoch in (68, 69):
        sampler.set_epoch(epoch)
        for _ in sampler:
            pass
    state = json.loads(json.dumps(sampler.state_dict()))
    assert (state["epoch"], state["batches_yielded"]) == (70, 0)
    _resumes_from_its_checkpoint(make, state)


def test_a_sampler_pickled_mid_pass_keeps_a_checkpoint_without_a_state_dict_call() -> None:
    import pickle

    runner = make()
    runner.set_epoch(70)
    iterator = iter(runner)
    for _ in range(5):
        next(iterator)
    copy = pickle.loads(pickle.dumps(runner))
    entry = runner.state_dict()["schedule"]
    ran = spy_on_pd2(copy)
    assert next(iter(copy)) == next(iterator)
    assert min(start for start, _ in ran) in carried(entry)


def test_a_pass_far_from_every_state_of_a_pd2_schedule_warns_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fresh sampler set to a late epoch steps PD2 from slot 0 to its first batch: it says
    so, once, naming the global batch and how many it steps, and that a saved state avoids
    it. A state that carries the schedule's checkpoint, a run read in order, and a schedule
    in closed form (alpha 1) step nothing of the sort and stay silent."""
    import warnings

    from refsampler import sampler as sampler_module
    from refsampler.errors import RefSamplerWarning

    monkeypatch.setattr(sampler_module, "COLD_SCHEDULE_SLOTS", 1000)
    cold = make()
    slot = 30 * cold.n_batches
    assert slot >= 1000
    cold.set_epoch(30)
    with pytest.warns(RefSamplerWarning, match=f"global batch {slot:,} .* steps through {slot:,}"):
        next(iter(cold))
    with pytest.warns(RefSamplerWarning):  # the run that saves the state starts cold too
        state = state_at(make(), 30, 5)
    cold.set_epoch(60)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RefSamplerWarning)
        next(iter(cold))  # once per sampler
        resumed = make()
        resumed.load_state_dict(state)
        next(iter(resumed))
        in_order = make()
        for epoch in range(0, 30 * cold.n_batches // in_order.n_batches + 2):
            in_order.set_epoch(epoch)
            for _ in in_order:
                pass
        closed = make(target=None, alpha=1.0)
        closed.set_epoch(60)
        next(iter(closed))
