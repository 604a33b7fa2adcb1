"""The seat schedule's state inside a sampler state: what makes a deep resume cheap.

A ``quota`` or ``pk`` schedule whose extra seats are shared by three or more rate groups
comes from PD2, which is sequential (see :mod:`refsampler.seats`). A fresh process reaches
global slot ``t`` by running PD2 from the last multiple of the rates' common denominator
``D``, and ``D`` is often astronomically large (class counts at a fractional alpha), so
without help that is every slot since the start of the run. A sampler state therefore
carries PD2's state at a checkpoint before the slot it resumes at: one bit per rate group,
and a digest that ties it to the configuration. The checkpoint lies at least :data:`BEHIND`
slots back, and at least two rounds of the slowest group of several equal-rate classes (whose
rounds can begin thousands of slots back), and no later than the earliest slot the sampler
read while computing the batches around that position; so a resumed process runs PD2 from
there, whatever the epoch. (Should a batch still read an earlier slot -- a chain of head-rule
rounds longer than that -- PD2 runs from the last multiple of ``D`` instead: slower, never
different.)

That far checkpoint is a safe bound, not where the reads are: a resumed batch reads the
schedule at its own block and at the blocks where its groups' current rounds began, a few
blocks at most, and between them PD2 would run for nothing. So the entry also carries, under
``more``, the states at up to :data:`MORE_CHECKPOINTS` later block starts the process holds:
those of the blocks it read computing the batches around the resume point (the nearest block
always among them), then others spread evenly between the far checkpoint and the resume
point. A resumed process runs PD2 only from the checkpoint before each block it reads, which
is that block's own start whenever the saving process noted the read.

Beside the block states, a resumed batch reads single values far back: where a round of a
group of several classes began, a group's extra seats before one slot. Under ``reads`` the
entry carries those the sampler read computing the batches around the resume point, between
the far checkpoint and the resume point's block (:data:`MAX_VALUES` at most, the latest), so
a resumed batch computes no block for them: it steps PD2 for its own block alone.

It only saves time: the batches are the same with or without it (a state from an older
release, or one edited to drop it, resumes exactly, later).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
from collections.abc import Sequence
from typing import Any, NamedTuple

from .errors import InvalidArgumentError
from .seats import BLOCK_SLOTS, CHECKPOINT_SLOTS, SeatSchedule

__all__ = [
    "BEHIND",
    "MAX_VALUES",
    "MORE_CHECKPOINTS",
    "Reads",
    "carried_values",
    "checkpoint_slot",
    "later_slots",
    "pack",
    "unpack",
]

#: The saved checkpoint lies at least this many slots before the slot it resumes at.
BEHIND = 2 * BLOCK_SLOTS
#: At most this many further checkpoints, between that one and the resume point, go with it
#: (each is one bit per rate group: a state stays a few kilobytes at 10,000 groups).
MORE_CHECKPOINTS = 7
#: At most this many single values go with it, under ``reads`` (three ints each).
MAX_VALUES = 256


def checkpoint_slot(slot: int, lowest_read: int | None = None, behind: int = BEHIND) -> int:
    """The checkpoint a state resuming at global ``slot`` carries (0: none).

    Parameters
    ----------
    slot : int
        The global slot of the batch the state resumes at.
    lowest_read : int, optional
        The earliest slot of the schedule read while computing the batches around it.
    behind : int, default BEHIND
        The fewest slots between the checkpoint and ``slot``: at least :data:`BEHIND`, and
        two rounds of the slowest group of several classes (a batch's computation reads
        the schedule where its groups' rounds began, possibly in a pass whose rounds are
        cached, so that the read was not noted).

    Returns
    -------
    int
        The last multiple of :data:`~refsampler.seats.BLOCK_SLOTS` that is at least
        ``behind`` slots before ``slot`` and not after ``lowest_read``: the start of a block
        the sampler computed, so the process that saves the state still holds it (see
        :func:`pack` when it does not).
    """
    limit = slot - behind if lowest_read is None else min(slot - behind, lowest_read)
    return max(0, limit // BLOCK_SLOTS * BLOCK_SLOTS)


class Reads(NamedTuple):
    """What computing (part of) a chunk of batches read of the schedule: the earliest slot,
    the blocks, and the single values ``(group, t, E_g(t))`` in the order of their slots
    (``slots``: those slots, for bisection)."""

    lowest: int
    blocks: frozenset[int]
    values: tuple[tuple[int, int, int], ...] = ()
    slots: tuple[int, ...] = ()

    @classmethod
    def make(
        cls, lowest: int, blocks: frozenset[int], values: dict[tuple[int, int], int]
    ) -> Reads:
        """The record of these reads (``values``: ``(group, t) -> E_g(t)``)."""
        ordered = sorted(((g, t, v) for (g, t), v in values.items()), key=lambda x: x[1])
        return cls(lowest, blocks, tuple(ordered), tuple(t for _, t, _ in ordered))

    def merged(self, other: Reads) -> Reads:
        """Both computations' reads together."""
        values = {(g, t): v for g, t, v in (*self.values, *other.values)}
        return Reads.make(min(self.lowest, other.lowest), self.blocks | other.blocks, values)

    def key(self, at: int, slot: int) -> tuple[frozenset[int], int, int]:
        """What of these reads a state resuming at ``slot`` with its checkpoint at ``at``
        carries: the blocks up to the slot's, and the range of :attr:`values` from ``at`` up
        to the slot's block (as indices, by bisection: a state is made at every batch)."""
        last = slot // BLOCK_SLOTS
        return (
            frozenset(b for b in self.blocks if b <= last),
            bisect.bisect_left(self.slots, at),
            bisect.bisect_left(self.slots, last * BLOCK_SLOTS),
        )


def _digest(fingerprint: str, slot: int, bits: bytes) -> str:
    data = f"{fingerprint}:{slot}:".encode() + bits
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def later_slots(at: int, slot: int, read: frozenset[int] | set[int] = frozenset()) -> list[int]:
    """The block starts after ``at`` and not after ``slot`` whose states a state resuming at
    ``slot`` offers beside its checkpoint at ``at`` (:data:`MORE_CHECKPOINTS` at most), the
    last block start always among them, ascending.

    First the starts of the blocks in ``read`` (the blocks the process read computing the
    batches around ``slot``, which hold the reads a resumed batch makes: its own block and
    those where its groups' rounds began), the latest first; the rest of the room goes to
    block starts spread evenly over the range, so that a read elsewhere still starts near.

    Examples
    --------
    >>> from refsampler.seat_state import later_slots
    >>> later_slots(128, 400)
    [192, 256, 320, 384]
    >>> later_slots(0, 64 * 20)
    [128, 320, 512, 704, 896, 1088, 1280]
    >>> later_slots(0, 64 * 20, read={3, 17, 20})
    [192, 320, 512, 704, 896, 1088, 1280]
    """
    last = slot // BLOCK_SLOTS
    first = at // BLOCK_SLOTS + 1
    count = last - first + 1
    if count <= 0:
        return []
    step = -(-count // MORE_CHECKPOINTS)
    spread = [b * BLOCK_SLOTS for b in range(last, first - 1, -step)]
    if not read:
        return spread[::-1]
    wanted = sorted({b for b in read if first <= b <= last} | {last}, reverse=True)
    chosen = [b * BLOCK_SLOTS for b in wanted[:MORE_CHECKPOINTS]]
    room = MORE_CHECKPOINTS - len(chosen)
    chosen += [s for s in spread if s not in chosen][:room]
    return sorted(chosen)


def pack(
    schedule: SeatSchedule,
    at: int,
    fingerprint: str,
    later: list[int] | None = None,
    made: dict[int, dict[str, Any]] | None = None,
    values: Sequence[tuple[int, int, int]] = (),
) -> dict[str, Any] | None:
    """The ``state['schedule']`` entry holding ``schedule``'s state at slot ``at`` (see
    :func:`checkpoint_slot`), or, when it no longer holds that (the block's state was
    dropped from its recent ones), at the last multiple of
    :data:`~refsampler.seats.CHECKPOINT_SLOTS` before it; None when it holds neither.

    Under ``more`` it lists the states at the slots of ``later`` (:func:`later_slots`) that
    the schedule holds, as entries of the same form. ``made`` memoises the encoded entries
    by slot, so that consecutive states share the work (it is trimmed to the latest ones).
    Under ``reads`` it carries ``values``, ``(group, t, E_g(t))`` triples that
    :meth:`~refsampler.seats.SeatSchedule.values_read` gave, those after the checkpoint (the
    last :data:`MAX_VALUES`), with a digest.
    """
    main = None
    for slot in (at, at - at % CHECKPOINT_SLOTS):
        main = _entry(schedule, slot, fingerprint, made) if slot > 0 else None
        if main is not None:
            break
    if main is None:
        return None
    more = [
        entry
        for slot in later or ()
        if slot > main["slot"]
        and (entry := _entry(schedule, slot, fingerprint, made)) is not None
    ]
    if made is not None:
        while len(made) > 4 * (MORE_CHECKPOINTS + 1):
            made.pop(next(iter(made)))
    entry = main | {"more": more} if more else main
    kept = [list(v) for v in values if v[1] >= main["slot"]][-MAX_VALUES:]
    if kept:
        entry = entry | {"reads": {"values": kept, "digest": _values_digest(fingerprint, kept)}}
    return entry


def _values_digest(fingerprint: str, values: list[list[int]]) -> str:
    data = f"{fingerprint}:reads:{values}".encode()
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _entry(
    schedule: SeatSchedule, slot: int, fingerprint: str, made: dict[int, dict[str, Any]] | None
) -> dict[str, Any] | None:
    """One checkpoint's entry (memoised in ``made``), or None if ``schedule`` does not hold
    its state."""
    entry = None if made is None else made.get(slot)
    if entry is not None:
        return entry
    bits = schedule.checkpoint_bits(slot)
    if bits is None:
        return None
    entry = {
        "slot": slot,
        "ahead": base64.b64encode(bits).decode("ascii"),
        "digest": _digest(fingerprint, slot, bits),
    }
    if made is not None:
        made[slot] = entry
    return entry


def unpack(schedule: SeatSchedule | None, entry: Any, fingerprint: str) -> None:
    """Restore the checkpoint of a ``state['schedule']`` entry into ``schedule``.

    Raises
    ------
    InvalidArgumentError
        If the entry is malformed, was edited (its digest does not match), or describes no
        state of this schedule.
    """
    name = "state['schedule']"
    keys = {"slot", "ahead", "digest"}
    if not isinstance(entry, dict) or not keys <= set(entry) <= keys | {"more", "reads"}:
        raise InvalidArgumentError(
            f"`{name}` must be a dict with keys 'slot', 'ahead', 'digest' and possibly "
            f"'more' and 'reads' from state_dict(); got {entry!r:.80}."
        )
    more = entry.get("more", [])
    if not isinstance(more, list) or not all(
        isinstance(item, dict) and set(item) == keys for item in more
    ):
        raise InvalidArgumentError(
            f"`{name}['more']` must be a list of dicts with keys 'slot', 'ahead' and "
            f"'digest' from state_dict(); got {more!r:.80}."
        )
    _restore(schedule, entry, fingerprint, name)
    for i, item in enumerate(more):
        _restore(schedule, item, fingerprint, f"{name}['more'][{i}]")
    if "reads" in entry:
        _restore_values(schedule, entry["reads"], fingerprint, f"{name}['reads']")


def carried_values(entry: dict[str, Any]) -> dict[tuple[int, int], int]:
    """The values a valid ``state['schedule']`` entry carries, ``(group, t) -> E_g(t)`` (as
    :meth:`~refsampler.seats.SeatSchedule.values_read` gives them)."""
    return _by_slot(entry.get("reads", {}).get("values", ()))


def _by_slot(triples: Any) -> dict[tuple[int, int], int]:
    """``[group, t, E_g(t)]`` triples as ``(group, t) -> E_g(t)``."""
    return {(g, t): v for g, t, v in triples}


def _restore_values(
    schedule: SeatSchedule | None, reads: Any, fingerprint: str, name: str
) -> None:
    """Check the ``reads`` of an entry (called ``name`` in messages) and restore them."""
    values = reads.get("values") if isinstance(reads, dict) else None
    if (
        not isinstance(reads, dict)
        or set(reads) != {"values", "digest"}
        or not isinstance(values, list)
        or not all(
            isinstance(v, list)
            and len(v) == 3
            and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
            for v in values
        )
    ):
        raise InvalidArgumentError(
            f"`{name}` must be a dict with keys 'values' (a list of [group, slot, seats] "
            f"int triples) and 'digest' from state_dict(); got {reads!r:.80}."
        )
    if reads["digest"] != _values_digest(fingerprint, values):
        raise InvalidArgumentError(
            f"`{name}` does not match its digest (the state was edited); got "
            f"{len(values)} values."
        )
    if schedule is None:
        raise InvalidArgumentError(
            f"`{name}` holds seat-schedule values, but this sampler's schedule has none "
            f"(the state was edited); got {len(values)} values."
        )
    try:
        schedule.restore_values(_by_slot(values))
    except ValueError as error:
        raise InvalidArgumentError(f"`{name}` is not a state of this schedule: {error}.") from None


def _restore(
    schedule: SeatSchedule | None, entry: dict[str, Any], fingerprint: str, name: str
) -> None:
    """Check one checkpoint's entry (called ``name`` in messages) and restore it."""
    slot, ahead, digest = entry["slot"], entry["ahead"], entry["digest"]
    if schedule is None:
        raise InvalidArgumentError(
            f"`{name}` holds a seat-schedule checkpoint, but this sampler's schedule has "
            f"none (the state was edited); got slot={slot!r}."
        )
    if not isinstance(slot, int) or isinstance(slot, bool) or not isinstance(ahead, str):
        raise InvalidArgumentError(
            f"`{name}` must hold an int 'slot' and a str 'ahead'; got slot={slot!r:.40}, "
            f"ahead={ahead!r:.40}."
        )
    try:
        bits = base64.b64decode(ahead.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise InvalidArgumentError(
            f"`{name}['ahead']` is not base64 ({error}); got {ahead!r:.40}."
        ) from None
    if digest != _digest(fingerprint, slot, bits):
        raise InvalidArgumentError(
            f"`{name}` does not match its digest (the state was edited); got slot={slot}."
        )
    try:
        schedule.restore_checkpoint(slot, bits)
    except ValueError as error:
        raise InvalidArgumentError(f"`{name}` is not a state of this schedule: {error}.") from None
