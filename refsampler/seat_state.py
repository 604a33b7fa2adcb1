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

It only saves time: the batches are the same with or without it (a state from an older
release, or one edited to drop it, resumes exactly, later).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from .errors import InvalidArgumentError
from .seats import BLOCK_SLOTS, CHECKPOINT_SLOTS, SeatSchedule

__all__ = ["BEHIND", "checkpoint_slot", "pack", "unpack"]

#: The saved checkpoint lies at least this many slots before the slot it resumes at.
BEHIND = 2 * BLOCK_SLOTS


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


def _digest(fingerprint: str, slot: int, bits: bytes) -> str:
    data = f"{fingerprint}:{slot}:".encode() + bits
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def pack(schedule: SeatSchedule, at: int, fingerprint: str) -> dict[str, Any] | None:
    """The ``state['schedule']`` entry holding ``schedule``'s state at slot ``at`` (see
    :func:`checkpoint_slot`), or, when it no longer holds that (the block's state was
    dropped from its recent ones), at the last multiple of
    :data:`~refsampler.seats.CHECKPOINT_SLOTS` before it; None when it holds neither."""
    bits = None
    for slot in (at, at - at % CHECKPOINT_SLOTS):
        bits = schedule.checkpoint_bits(slot) if slot > 0 else None
        if bits is not None:
            at = slot
            break
    if bits is None:
        return None
    return {
        "slot": at,
        "ahead": base64.b64encode(bits).decode("ascii"),
        "digest": _digest(fingerprint, at, bits),
    }


def unpack(schedule: SeatSchedule | None, entry: Any, fingerprint: str) -> None:
    """Restore the checkpoint of a ``state['schedule']`` entry into ``schedule``.

    Raises
    ------
    InvalidArgumentError
        If the entry is malformed, was edited (its digest does not match), or describes no
        state of this schedule.
    """
    name = "state['schedule']"
    if not isinstance(entry, dict) or set(entry) != {"slot", "ahead", "digest"}:
        raise InvalidArgumentError(
            f"`{name}` must be a dict with keys 'slot', 'ahead' and 'digest' from "
            f"state_dict(); got {entry!r:.80}."
        )
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
