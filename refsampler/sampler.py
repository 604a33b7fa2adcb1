"""``BalancedBatchSampler``: a thin torch ``Sampler`` over :class:`refsampler.plan.Plan`."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import Sampler

from . import _validate, kinds, seat_state
from .classes import ClassIndex, subset_labels
from .errors import InvalidArgumentError, RefSamplerWarning
from .plan import STREAM_VERSION, Plan
from .schedules import AlphaSchedule, TargetOfEpoch, alpha_source
from .seats import BLOCK_SLOTS
from .targets import resolve

__all__ = ["STATE_VERSION", "BalancedBatchSampler", "SamplerFactory"]

#: Version of the :meth:`BalancedBatchSampler.state_dict` format.
STATE_VERSION = 2
#: A pass that must step a PD2 schedule through this many global batches or more from the
#: nearest state the sampler holds (a few seconds and up) warns once (``RefSamplerWarning``).
COLD_SCHEDULE_SLOTS = 50_000
#: Keys of a state.
_STATE_KEYS = ("version", "stream_version", "epoch", "batches_yielded", "fingerprint", "config")


class BalancedBatchSampler(Sampler[list[int]]):
    """Yields class-balanced batches of dataset positions, for ``DataLoader(batch_sampler=...)``.

    Parameters
    ----------
    labels : array_like of int, shape (N,)
        Class id (``0 .. K-1``) of every sample: a sequence, numpy array or CPU tensor.
    batch_size : int
        Positions per batch, ``B``.
    kind : {"fixed", "quota", "random", "pk"}, default "fixed"
        ``"fixed"``: every batch of an epoch has the same class counts (largest-remainder
        rounding of ``B p``). ``"quota"``: counts vary by at most one per class so that every
        prefix of the run is within one sample of ``k B p``; the honest choice when K > B.
        ``"random"``: classes i.i.d. from ``p``, members uniform, with replacement. ``"pk"``:
        every batch holds ``B / m`` distinct classes with ``m = samples_per_class`` distinct
        members each. See :doc:`/specification`.
    alpha : float or AlphaSchedule, optional
        Target ``p = alpha / K + (1 - alpha) n / N``. Defaults to 1.0 (uniform over classes)
        unless ``target`` is given; giving both is an error. A
        :class:`~refsampler.schedules.AlphaSchedule` moves the target with the epoch.
    target : array_like of float, shape (K,), optional
        Explicit target shares, e.g. from :mod:`refsampler.targets`.
    n_batches : int, optional
        Batches per epoch (per rank). Defaults to ``ceil(N / (B * num_replicas))``.
    seed : int, optional
        Seed of every stream. ``None`` draws one from torch's global generator, so
        ``torch.manual_seed`` is respected; with ``num_replicas > 1``, or in an initialised
        ``torch.distributed`` process group of any size, it defaults to 0, since every rank
        must use the same seed (as with ``DistributedSampler``).
    num_replicas, rank : int, optional
        Data-parallel sharding. Default from ``torch.distributed`` when it is initialised,
        else 1 and 0; without a process group, ``num_replicas`` > 1 needs ``rank`` too (as
        torch's ``DistributedSampler``). Every rank yields ``n_batches`` batches with its
        kind's properties, and no member of a class cycle goes to two ranks.
    num_classes : int, optional
        ``K``; defaults to ``max(labels) + 1``.
    samples_per_class : int, optional
        ``m`` for ``kind="pk"`` (required there, refused for the other kinds).

    Attributes
    ----------
    classes : numpy.ndarray of int64, shape (K,)
        The class ids, in the order of ``target``.
    class_counts : numpy.ndarray of int64, shape (K,)
        Samples per class.

    Notes
    -----
    Batch ``k`` of epoch ``e`` on rank ``r`` is a pure function of ``(seed, e, r, k)`` and the
    configuration. The counted kinds draw each class's members from a stream of fresh
    permutations (cycles) that continues across epochs and ranks, so over any run of epochs
    every member of a class is drawn ``floor(D / n_c)`` or ``ceil(D / n_c)`` times, and no
    member repeats inside a batch that takes at most ``n_c`` draws of its class. Within a
    batch the order is a uniform shuffle.

    Each pass (``iter(sampler)``) yields one epoch. A new pass starts the epoch after the
    previous pass's, whether or not that pass was completed, unless :meth:`set_epoch` or
    :meth:`load_state_dict` chose an epoch since the previous pass began. Under DDP call
    ``set_epoch(epoch)`` at the start of every epoch, as with ``DistributedSampler``.

    Examples
    --------
    >>> import torch
    >>> from refsampler import BalancedBatchSampler
    >>> labels = [0] * 90 + [1] * 10
    >>> sampler = BalancedBatchSampler(labels, batch_size=10, alpha=1.0, seed=0)
    >>> len(sampler)
    10
    >>> batch = next(iter(sampler))
    >>> sorted(labels[i] for i in batch)
    [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    """

    def __init__(
        self,
        labels: Any,
        batch_size: int,
        *,
        kind: str = "fixed",
        alpha: float | AlphaSchedule | None = None,
        target: Any = None,
        n_batches: int | None = None,
        seed: int | None = None,
        num_replicas: int | None = None,
        rank: int | None = None,
        num_classes: int | None = None,
        samples_per_class: int | None = None,
    ) -> None:
        self._setup(
            ClassIndex.from_labels(labels, num_classes),
            batch_size,
            kind=kind,
            alpha=alpha,
            target=target,
            n_batches=n_batches,
            seed=seed,
            num_replicas=num_replicas,
            rank=rank,
            samples_per_class=samples_per_class,
        )

    @classmethod
    def from_class_indices(
        cls, class_idxs: Any, batch_size: int, **kwargs: Any
    ) -> BalancedBatchSampler:
        """Build from per-class lists of dataset indices (pytorch_balanced_sampler style).

        Parameters
        ----------
        class_idxs : sequence of sequences of int
            ``class_idxs[c]`` lists the dataset indices of class ``c``; they are yielded as
            given. Indices must be non-negative and unique.
        batch_size : int
        **kwargs
            Any keyword argument of :class:`BalancedBatchSampler` except ``num_classes``
            (``K`` is ``len(class_idxs)``).
        """
        if "num_classes" in kwargs:
            raise InvalidArgumentError(
                "`num_classes` is len(class_idxs) for from_class_indices; got "
                f"num_classes={_validate._show(kwargs['num_classes'])}."
            )
        _check_keywords("from_class_indices", kwargs)
        self = cls.__new__(cls)
        self._setup(ClassIndex.from_class_indices(class_idxs), batch_size, **kwargs)
        return self

    @classmethod
    def from_dataset(cls, dataset: Any, batch_size: int, **kwargs: Any) -> BalancedBatchSampler:
        """Build from a dataset with ``.targets``, following ``Subset`` / ``random_split``.

        Parameters
        ----------
        dataset : Dataset
            Has ``.targets`` (e.g. ``ImageFolder``, ``CIFAR10``), or is a (nested) ``Subset``
            of one. Yielded positions index ``dataset`` itself, so a ``random_split`` part can
            be passed straight to ``DataLoader``. ``K`` is ``len(root.classes)`` when the root
            dataset lists its classes.
        batch_size : int
        **kwargs
            Any keyword argument of :class:`BalancedBatchSampler`.
        """
        labels, num_classes = dataset_labels(dataset)
        if "num_classes" not in kwargs and num_classes is not None:
            largest = int(labels.max()) if labels.size else -1
            if largest >= num_classes:
                raise InvalidArgumentError(
                    f"`dataset.classes` must list every class of `dataset.targets`; it lists "
                    f"{num_classes}, but the targets hold label {largest}."
                )
        kwargs.setdefault("num_classes", num_classes)
        return cls(labels, batch_size, **kwargs)

    def _setup(
        self,
        index: ClassIndex,
        batch_size: int,
        *,
        kind: str = "fixed",
        alpha: float | AlphaSchedule | None = None,
        target: Any = None,
        n_batches: int | None = None,
        seed: int | None = None,
        num_replicas: int | None = None,
        rank: int | None = None,
        samples_per_class: int | None = None,
    ) -> None:
        kind = _validate.kind(kind)
        batch_size = _validate.batch_size(batch_size)
        options = _validate.kind_options(kind, {"samples_per_class": samples_per_class})
        num_replicas, rank = _replicas(num_replicas, rank)
        n_batches = _validate.n_batches_or_default(n_batches, index.size, batch_size, num_replicas)
        self._positions = _validate.epoch_positions(batch_size, n_batches, num_replicas)
        if seed is None:
            # Under torch.distributed (any world size, as DistributedSampler) every process
            # must agree, and a restarted job must rebuild the same sampler to resume it.
            seed = 0 if num_replicas > 1 or _in_process_group() else _seed_from_torch()
        seed = _validate.seed(seed)
        counts = index.counts
        schedule = alpha if isinstance(alpha, AlphaSchedule) else None
        if schedule is not None:
            if target is not None:
                resolve(counts, schedule, target)  # the "not both" message, with the schedule
            # Every knot's target: the kind checks them below, and with the schedule the epochs
            # between knots where its feasibility can change.
            targets: list[tuple[Any, float | None]] = [
                (resolve(counts, a, None), a) for _, a in schedule.knots
            ]
            the_target: Any = TargetOfEpoch(counts, schedule)
        else:
            the_target = resolve(counts, cast("float | None", alpha), target)
            the_target.flags.writeable = False
        self._alpha: float | AlphaSchedule | None = alpha_source(alpha, target)
        if schedule is None:  # the target, and the alpha it came from (None for a target)
            targets = [(the_target, cast("float | None", self._alpha))]
        options = kinds.check(kind, counts, batch_size, options, targets, schedule)
        self._plan = Plan(
            index, kind, the_target, batch_size, n_batches, seed, num_replicas, options
        )
        self._rank = rank
        self._config, self._fingerprint = _config(self, the_target, options)
        self._reset_seat_fields()
        self._epoch = 0  # epoch of the next pass when chosen (or before any pass)
        self._start = 0  # first batch of that pass (a restored position)
        self._chosen = False  # set_epoch / load_state_dict chose the next pass
        self._restored = False  # _start came from load_state_dict
        self._last_epoch: int | None = None  # epoch of the most recent pass
        self._pass_id = 0  # id of the most recent pass; only that pass moves the cursor
        self._cursor: tuple[int, int] | None = None  # (epoch, batches yielded) of a live pass
        # (epoch, start) of the most recent pass while it has yielded nothing: a loader that
        # makes an iterator and replaces it before use (DataLoader workers, Lightning) does
        # not skip an epoch.
        self._pending: tuple[int, int] | None = None

    # -- public attributes -----------------------------------------------------------------

    @property
    def plan(self) -> Plan:
        """The pure planner behind this sampler."""
        return self._plan

    @property
    def kind(self) -> str:
        """The kind's name."""
        return self._plan.kind

    @property
    def batch_size(self) -> int:
        """Positions per batch."""
        return self._plan.batch_size

    @property
    def n_batches(self) -> int:
        """Batches per epoch on this rank."""
        return self._plan.n_batches

    @property
    def seed(self) -> int:
        """The seed of every stream."""
        return self._plan.seed

    @property
    def num_replicas(self) -> int:
        """Number of data-parallel ranks."""
        return self._plan.num_replicas

    @property
    def rank(self) -> int:
        """This process's rank among ``num_replicas`` (read-only: it picks the batches)."""
        return self._rank

    @property
    def alpha(self) -> float | AlphaSchedule | None:
        """The ``alpha`` (or schedule) the target comes from; None for an explicit target."""
        return self._alpha

    @property
    def samples_per_class(self) -> int | None:
        """``m`` of the pk kind (None for the others)."""
        value = self._plan.options.get("samples_per_class")
        return None if value is None else int(value)

    @property
    def target(self) -> npt.NDArray[np.float64]:
        """Target class shares of the epoch the next pass yields (read-only), shape (K,)."""
        return self._plan.target(self.epoch)

    @property
    def classes(self) -> npt.NDArray[np.int64]:
        """Class ids ``0 .. K-1``."""
        return np.arange(self._plan.index.num_classes, dtype=np.int64)

    @property
    def class_counts(self) -> npt.NDArray[np.int64]:
        """Samples per class, shape (K,) (read-only)."""
        return self._plan.index.counts

    @property
    def epoch(self) -> int:
        """The epoch the next pass will yield."""
        if self._chosen or self._last_epoch is None:
            return self._epoch
        if self._pending is not None:
            return self._pending[0]
        return self._last_epoch + 1

    # -- torch Sampler protocol -------------------------------------------------------------

    def __len__(self) -> int:
        return self._plan.n_batches

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch of the next pass (call it at the start of every epoch under DDP).

        A position restored by :meth:`load_state_dict` is kept when ``epoch`` is the restored
        epoch, so the usual ``set_epoch(epoch)`` at the top of a resumed loop continues
        mid-epoch; any other epoch starts at its first batch. When a pass of ``epoch`` has
        begun and not yielded a batch yet (Lightning and ``DataLoader`` make their iterator
        before the loop's ``set_epoch``), the call changes nothing: that iterator yields the
        epoch from where it stands and its progress is what :meth:`state_dict` reports.
        """
        epoch = _validate.epoch(epoch, positions=self._positions)
        unread = self._unread_pass()
        if unread is not None and unread[0] == epoch:
            # A pass of this epoch has begun and yielded nothing (a loader made its iterator
            # first): it is already the pass asked for, so it stays live, at its (restored)
            # start, and the iterator the loader holds keeps moving the cursor.
            return
        if not (self._restored and epoch == self._epoch):
            self._start, self._restored = 0, False
        self._epoch, self._chosen = epoch, True
        self._cursor = self._pending = None
        self._pass_id += 1  # a pass begun before this call no longer moves the cursor

    def __iter__(self) -> Iterator[list[int]]:
        """One pass over the rest of the current epoch.

        Returns
        -------
        Iterator[list[int]]
            A resumable iterator (it has ``state_dict`` / ``load_state_dict`` as well, which
            ``torchdata``'s ``StatefulDataLoader`` uses).
        """
        epoch, start = self._next_pass()
        # Passes move the epoch on by themselves; past the last epoch the streams would wrap.
        _validate.epoch(epoch, name="epoch (of the next pass)", positions=self._positions)
        self._pending = (epoch, start)
        self._epoch, self._start, self._chosen, self._restored = epoch, 0, False, False
        self._last_epoch = epoch
        self._pass_id += 1
        return _BatchIterator(self, self._pass_id, epoch, start)

    def _unread_pass(self) -> tuple[int, int] | None:
        """(epoch, start) of the most recent pass while it has yielded nothing and nothing
        chose another pass since."""
        return None if self._chosen else self._pending

    def _next_pass(self) -> tuple[int, int]:
        """(epoch, first batch) of the pass the next ``iter()`` begins."""
        unread = self._unread_pass()
        if unread is not None:
            return unread
        return self.epoch, (self._start if self._chosen else 0)

    # -- resume ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Where the sampler is: epoch, batches yielded in it, and what configuration.

        Returns
        -------
        dict
            JSON-serialisable and small (a few scalars and a fingerprint). Restoring it with
            :meth:`load_state_dict` into a sampler of the same configuration continues exactly
            where this one stands: within the pass in progress if there is one, otherwise at
            the start of the next pass. When a quota or pk schedule of a constant target
            comes from PD2, the position is a few hundred global batches into the run or more
            (more with large groups of equal-rate classes) and this sampler computed batches
            near it, it also holds ``schedule``: PD2's state at a checkpoint before the position
            (one bit per rate group; see :mod:`refsampler.seat_state`), so that resuming does
            not step the schedule from the start of the run.

        Notes
        -----
        The position counts batches handed out by the iterator. A ``DataLoader`` with workers
        fetches batches ahead of the training loop, so save the loader's state with
        ``torchdata``'s ``StatefulDataLoader`` (which snapshots the sampler as each batch is
        fetched) rather than this one directly.
        """
        epoch, position = self._cursor if self._cursor is not None else self._next_pass()
        return self._state(epoch, position)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`; the next pass starts at the saved batch.

        Resuming at batch ``k`` costs about as much as starting the epoch: the plan computes
        batch ``k`` directly and never replays the ones before it (a schedule from PD2 steps
        its seat counts from the state's checkpoint). A state saved after the last batch of an
        epoch resumes with an empty pass (the end of that epoch), exactly as the uninterrupted
        loop would end, and the epoch after it follows.

        Raises
        ------
        InvalidArgumentError
            If ``state`` is malformed, was saved by another version of the state format or of
            the streams, comes from another configuration (the message says which fields
            differ), or holds a ``schedule`` checkpoint that was edited.
        """
        epoch, position = self._check_state(state)
        self._epoch, self._start = epoch, position
        self._chosen = self._restored = True
        self._cursor = self._pending = None
        self._pass_id += 1  # a pass begun before the restore no longer moves the cursor

    def _state(self, epoch: int, position: int) -> dict[str, Any]:
        state = {
            "version": STATE_VERSION,
            "stream_version": STREAM_VERSION,
            "epoch": epoch,
            "batches_yielded": position,
            "fingerprint": self._fingerprint,
            "config": dict(self._config),  # its values are scalars: a caller's edit stays theirs
        }
        entry = self._seat_state(epoch, position)
        if entry is not None:
            state["schedule"] = entry
        return state

    def _reset_seat_fields(self) -> None:
        """What the `state['schedule']` entry needs, none of it made yet."""
        self._seats = self._plan.seat_schedule()
        # The last `state['schedule']` entry made, by what it holds (made once per block),
        # and the checkpoints' encoded entries by slot (consecutive entries share most).
        self._seat_entry: tuple[Any, bool, dict[str, Any]] | None = None
        self._seat_items: dict[int, dict[str, Any]] = {}
        # (epoch, chunk) -> what computing it read of the schedule (the last two chunks).
        self._seat_reads: dict[tuple[int, int], seat_state.Reads] = {}
        self._seat_behind = max(seat_state.BEHIND, 2 * self._plan.seat_reach())
        self._warned_cold = False

    def _global_slot(self, epoch: int, position: int) -> int:
        """The slot of the run-long schedule that batch ``position`` of ``epoch`` on this
        rank takes."""
        return (epoch * self.n_batches + position) * self.num_replicas + self.rank

    def _warn_cold_schedule(self, epoch: int, position: int) -> None:
        """Say, once, when a pass starts far from every state of a PD2 schedule this sampler
        holds: reaching it steps PD2 through every global batch in between."""
        seats = self._seats
        if seats is None or self._warned_cold:
            return
        slot = self._global_slot(epoch, position)
        steps = seats.unknown_slots(slot)
        if steps < COLD_SCHEDULE_SLOTS:
            return
        self._warned_cold = True
        warnings.warn(
            f"batch {position} of epoch {epoch} is global batch {slot:,} of a {self.kind} "
            f"schedule with {seats.active.size} distinct extra-seat rates, which PD2 computes "
            f"in order, and this sampler holds none of its states near there: it steps "
            f"through {steps:,} global batches first (once; seconds or more). A state_dict() "
            "saved with the checkpoint you resume from carries the schedule's state, so "
            "load_state_dict() of it resumes without this.",
            RefSamplerWarning,
            stacklevel=_outside_package(loaders=True),
        )

    def _seat_state(self, epoch: int, position: int) -> dict[str, Any] | None:
        """The seat schedule's checkpoint for a state at (epoch, position), if it is held."""
        seats = self._seats
        if seats is None:
            return None
        slot = self._global_slot(epoch, position)
        # The batch at `position` reads no earlier than its chunk did, or than the chunk
        # before it did when its own was not computed here (a round reaching back into it
        # reached back into that one too).
        chunk = position // self._plan.chunk_batches
        reads = self._seat_reads
        noted = reads.get((epoch, chunk), reads.get((epoch, chunk - 1)))
        if noted is None and position == 0:  # the end of the epoch before (slots are one run)
            noted = reads.get((epoch - 1, (self.n_batches - 1) // self._plan.chunk_batches))
        if noted is None:
            return None  # nothing computed near it here: no checkpoint known to be early enough
        at = seat_state.checkpoint_slot(slot, noted.lowest, self._seat_behind)
        near = slot - slot % BLOCK_SLOTS
        made = self._seat_entry
        # Made once per (checkpoint, block, reads it carries), and again when the nearest
        # block's state comes (once the batches after it are computed).
        blocks, first, stop = noted.key(at, slot)
        key = (at, near, blocks, first, stop)
        if made is None or made[0] != key or (not made[1] and seats.holds(near)):
            later = seat_state.later_slots(at, slot, blocks)
            entry = seat_state.pack(
                seats, at, self._fingerprint, later, self._seat_items, noted.values[first:stop]
            )
            if entry is None:
                return None
            more = entry.get("more", ())
            complete = not later or any(item["slot"] == near for item in more)
            made = self._seat_entry = (key, complete, entry)
        entry = dict(made[2])
        if "more" in entry:  # a copy: a caller's edit must not reach the next state
            entry["more"] = [dict(item) for item in entry["more"]]
        if "reads" in entry:
            reads = entry["reads"]
            entry["reads"] = reads | {"values": [list(v) for v in reads["values"]]}
        return entry

    def _note_reads(self, epoch: int, chunk: int, noted: seat_state.Reads | None) -> None:
        """Keep what computing (part of) a chunk read of the schedule."""
        if noted is None:
            return
        reads = self._seat_reads
        key = (epoch, chunk)
        before = reads.get(key)
        reads[key] = noted if before is None else before.merged(noted)
        while len(reads) > 2:
            reads.pop(next(iter(reads)), None)  # another thread may have taken it

    def _check_state(self, state: Any) -> tuple[int, int]:
        """The (epoch, position) of a valid ``state`` of this configuration."""
        if not isinstance(state, dict):
            raise _validate.fail(
                "state", "must be a dict from BalancedBatchSampler.state_dict()", state
            )
        missing = [key for key in _STATE_KEYS if key != "stream_version" and key not in state]
        if missing:
            raise _validate.fail(
                "state",
                "must be a dict from BalancedBatchSampler.state_dict(), but has no "
                + ", ".join(repr(key) for key in missing),
                state,
            )
        version = _plain(state["version"])
        if version != STATE_VERSION:
            raise InvalidArgumentError(
                f"`state['version']` must be {STATE_VERSION} (this refsampler's state format); "
                f"got {version!r}."
            )
        stream = _plain(state.get("stream_version"))
        if stream != STREAM_VERSION:
            raise InvalidArgumentError(
                f"`state` was saved with stream version {stream!r}, but this refsampler's "
                f"streams are version {STREAM_VERSION}: the same seed gives other batches now, "
                f"so it cannot resume that run; got stream_version={stream!r}."
            )
        theirs = _plain(state["config"])
        fingerprint = _plain(state["fingerprint"])
        if theirs != self._config or fingerprint != self._fingerprint:
            theirs = theirs if isinstance(theirs, dict) else {}
            mine = self._config
            diffs = [
                f"{key} (state {_short(theirs.get(key, '<missing>'))}, sampler "
                f"{_short(mine.get(key, '<missing>'))})"
                for key in sorted(set(mine) | set(theirs))
                if theirs.get(key, "<missing>") != mine.get(key, "<missing>")
            ]
            if not diffs:
                diffs = ["its fingerprint (the state was edited)"]
            hint = ""
            if theirs.get("num_replicas", mine["num_replicas"]) != mine["num_replicas"]:
                # An elastic restart: the position does not carry over, the epoch can.
                hint = (
                    " A position does not carry over to another number of replicas; to go on "
                    "with this one, start the state's epoch afresh with set_epoch("
                    f"{_short(state['epoch'])})."
                )
            raise InvalidArgumentError(
                "`state` comes from another sampler configuration; differs in "
                + "; ".join(diffs)
                + "."
                + hint
            )
        epoch = _validate.epoch(
            _plain(state["epoch"]), name="state['epoch']", positions=self._positions
        )
        position = _validate.non_negative_int(
            "state['batches_yielded']", _plain(state["batches_yielded"])
        )
        if position > self.n_batches:
            raise _validate.fail(
                "state['batches_yielded']", f"must be <= n_batches ({self.n_batches})", position
            )
        if "schedule" in state:
            entry = _plain(state["schedule"])
            seat_state.unpack(self._seats, entry, self._fingerprint)
            # A state saved before this process computes anything carries the same entry.
            carried = [entry["slot"], *(item["slot"] for item in entry.get("more", ()))]
            self._note_reads(
                epoch,
                position // self._plan.chunk_batches,
                seat_state.Reads.make(
                    entry["slot"],
                    frozenset(s // BLOCK_SLOTS for s in carried),
                    seat_state.carried_values(entry),
                ),
            )
        return epoch, position

    def __getstate__(self) -> dict[str, Any]:
        """Pickle as a checkpoint: a copy taken mid-pass resumes at the batch the pass reached."""
        state = self.__dict__.copy()
        if self._cursor is not None:
            state["_epoch"], state["_start"] = self._cursor
            state["_chosen"] = state["_restored"] = True
            state["_cursor"] = None
        # The schedule pickles without its checkpoints: keep the one a state here would carry.
        entry = self.state_dict().get("schedule")
        if entry is not None:
            state["_seat_entry"] = (None, False, entry)
        state["_seat_items"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        if "rank" in state:  # pickled by a release where rank was a plain attribute
            state["_rank"] = state.pop("rank")
        self.__dict__.update(state)
        if "_seat_behind" not in state:  # pickled by a release without schedule checkpoints
            self._reset_seat_fields()
        self.__dict__.setdefault("_seat_items", {})  # pickled before entries had `more`
        self._seat_reads = {  # pickled before more than the lowest read was noted
            key: seat_state.Reads(value, frozenset()) if isinstance(value, int) else value
            for key, value in self._seat_reads.items()
        }
        # The schedule pickles without its checkpoints; give it back the one a state carries.
        made = self._seat_entry
        if made is not None:
            seat_state.unpack(self._seats, made[-1], self._fingerprint)

    def __repr__(self) -> str:
        extra = "".join(f", {name}={value}" for name, value in sorted(self._plan.options.items()))
        return (
            f"{type(self).__name__}(kind={self.kind!r}, batch_size={self.batch_size}, "
            f"n_batches={self.n_batches}, num_classes={self._plan.index.num_classes}, "
            f"seed={self.seed}, rank={self.rank}/{self.num_replicas}{extra})"
        )


class _BatchIterator(Iterator[list[int]]):
    """One pass of a :class:`BalancedBatchSampler`: batches ``start .. n_batches-1`` of an epoch.

    Computes one chunk of the plan at a time, with a plan cache of its own. Its
    ``state_dict`` / ``load_state_dict`` use the sampler's format; ``StatefulDataLoader``
    saves and restores them next to the sampler's.
    """

    def __init__(self, sampler: BalancedBatchSampler, pass_id: int, epoch: int, start: int) -> None:
        self._sampler = sampler
        self._pass_id = pass_id
        self._epoch = epoch
        self._position = start
        # Rows of the current chunk; each becomes a list only when yielded, so that a consumer
        # that drops its batches lets Python recycle the ints of the next one.
        self._rows: list[npt.NDArray[Any]] = []
        self._rows_start = 0  # batch number of self._rows[0]
        self._first_load = True
        self._finished = False
        self._warned_stale = False
        # The cycle blocks this pass builds: its own, so passes in other threads never share.
        self._plan_cache = sampler.plan.new_cache()
        self._publish()

    def __iter__(self) -> _BatchIterator:
        return self

    def __next__(self) -> list[int]:
        k = self._position
        i = k - self._rows_start
        if not 0 <= i < len(self._rows):  # rows never reach past the epoch's last batch
            i = self._load_chunk(k)
        k += 1
        self._position = k
        sampler = self._sampler
        if sampler._pass_id == self._pass_id:  # self._publish(), inlined: a live pass has rows
            sampler._cursor = (self._epoch, k)
            sampler._pending = None
        elif not self._warned_stale:
            self._warn_stale(k)
        row: list[int] = self._rows[i].tolist()
        return row

    def _warn_stale(self, k: int) -> None:
        """This pass is read after set_epoch (or a newer pass) took over: say so, once."""
        self._warned_stale = True
        warnings.warn(
            f"a pass of epoch {self._epoch} is still being read (batch {k - 1}) after "
            "set_epoch() or a newer iter() chose another pass: it keeps yielding epoch "
            f"{self._epoch}, but the sampler's state_dict() now describes the other pass, so "
            "a checkpoint saved now would not resume these batches. Call set_epoch() before "
            "iter(loader), or finish this pass first.",
            RefSamplerWarning,
            stacklevel=_outside_package(loaders=True),
        )

    def _load_chunk(self, k: int) -> int:
        """Compute batch ``k`` and the rest of its chunk; its row number in them, 0 (ends the
        pass at the end)."""
        plan = self._sampler.plan
        if k >= plan.n_batches:
            self._finish()
            raise StopIteration
        j, i = divmod(k, plan.chunk_batches)
        # The first batch of a pass (fresh or resumed) is computed alone, so it comes after one
        # batch's work instead of a chunk's; the rest of its chunk follows on the next call.
        hi = i + 1 if self._first_load else plan.chunk_rows(j)
        if self._first_load:
            self._sampler._warn_cold_schedule(self._epoch, k)
        self._first_load = False
        self._rows_start = k
        seats = self._sampler._seats
        if seats is not None:
            seats.start_reads()
        self._rows = list(plan.rows(self._epoch, self._sampler.rank, j, i, hi, self._plan_cache))
        if seats is not None:
            lowest = seats.lowest_read()
            noted = None
            if lowest is not None:
                noted = seat_state.Reads.make(lowest, seats.blocks_read(), seats.values_read())
            self._sampler._note_reads(self._epoch, j, noted)
        return 0

    def state_dict(self) -> dict[str, Any]:
        """This pass's epoch and batches yielded, in the sampler's state format."""
        return self._sampler._state(self._epoch, self._position)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue this pass from ``state`` (an exhausted state ends the pass at once)."""
        self._epoch, self._position = self._sampler._check_state(state)
        self._rows, self._rows_start, self._finished = [], 0, False
        self._first_load = True
        if self._is_current():
            self._sampler._last_epoch = self._epoch
            self._sampler._pending = None
        if self._position >= self._sampler.n_batches:
            self._finish()
        else:
            self._publish()

    def _is_current(self) -> bool:
        return self._sampler._pass_id == self._pass_id and not self._finished

    def _publish(self) -> None:
        if self._is_current():
            self._sampler._cursor = (self._epoch, self._position)

    def _finish(self) -> None:
        """The pass is over: the sampler has no live pass until the next one begins."""
        if self._is_current():
            self._sampler._cursor = self._sampler._pending = None
        self._finished = True
        self._rows = []


class SamplerFactory:
    """Drop-in replacement for pytorch_balanced_sampler's ``SamplerFactory``.

    Same methods and argument names, returning :class:`BalancedBatchSampler` objects that keep
    none of the original's defects (see Notes).

    Parameters
    ----------
    verbose : int, default 0
        Accepted for compatibility; refsampler does not log.

    Notes
    -----
    Fixed: small classes are never dropped, counts are always within quota, the caller's lists
    are never shuffled in place, streams are seeded (``seed=``) and reshuffle at every cycle,
    and invalid input raises :class:`~refsampler.InvalidArgumentError` instead of ``assert``.

    Examples
    --------
    >>> from refsampler import SamplerFactory
    >>> class_idxs = [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12], [13, 14, 15, 16, 17, 18, 19, 20]]
    >>> sampler = SamplerFactory().get(
    ...     class_idxs=class_idxs, batch_size=32, n_batches=250, alpha=0.5, kind="fixed", seed=0
    ... )
    >>> len(sampler), len(next(iter(sampler)))
    (250, 32)
    """

    def __init__(self, verbose: int = 0) -> None:
        self.verbose = verbose

    def get(
        self,
        class_idxs: Any,
        batch_size: int,
        n_batches: int,
        alpha: float,
        kind: str,
        **kwargs: Any,
    ) -> BalancedBatchSampler:
        """A sampler of ``kind`` ("fixed", "random", or refsampler's "quota" and "pk").

        Parameters
        ----------
        class_idxs : sequence of sequences of int
            Dataset indices of each class.
        batch_size : int
        n_batches : int
            Batches per epoch.
        alpha : float
            0 keeps the true class distribution, 1 makes it uniform.
        kind : {"fixed", "random", "quota", "pk"}
        **kwargs
            ``seed``, ``num_replicas``, ``rank``, ``samples_per_class``: see
            :class:`BalancedBatchSampler`.
        """
        _check_keywords("SamplerFactory.get", kwargs)
        return BalancedBatchSampler.from_class_indices(
            class_idxs, batch_size, kind=kind, alpha=alpha, n_batches=n_batches, **kwargs
        )

    def fixed(
        self, class_idxs: Any, batch_size: int, n_batches: int, alpha: float, **kwargs: Any
    ) -> BalancedBatchSampler:
        """``get(..., kind="fixed")``."""
        return self.get(class_idxs, batch_size, n_batches, alpha, "fixed", **kwargs)

    def random(
        self, class_idxs: Any, batch_size: int, n_batches: int, alpha: float, **kwargs: Any
    ) -> BalancedBatchSampler:
        """``get(..., kind="random")``."""
        return self.get(class_idxs, batch_size, n_batches, alpha, "random", **kwargs)


def dataset_labels(dataset: Any) -> tuple[npt.NDArray[np.int64], int | None]:
    """Labels of ``dataset`` in its own index order, and ``K`` if the root lists its classes."""
    chain = []
    root = dataset
    while hasattr(root, "dataset") and hasattr(root, "indices"):  # Subset, random_split
        chain.append(root.indices)
        root = root.dataset
    targets = getattr(root, "targets", None)
    if targets is None:
        raise InvalidArgumentError(
            "`dataset` must have a `.targets` attribute or be a Subset of a dataset that has "
            f"one; got {type(dataset).__name__}."
        )
    labels = _validate.int_vector("dataset.targets", targets)
    for depth, indices in enumerate(reversed(chain)):  # from the root outwards
        name = "dataset" + ".dataset" * (len(chain) - 1 - depth) + ".indices"
        labels = subset_labels(labels, indices, name=name)
    classes = getattr(root, "classes", None)
    num_classes = len(classes) if classes is not None and hasattr(classes, "__len__") else None
    return labels, num_classes


def _check_keywords(where: str, kwargs: dict[str, Any]) -> None:
    """The TypeError Python raises for an unknown keyword, naming the public entry point
    rather than the private method the keywords go on to."""
    known = inspect.signature(BalancedBatchSampler._setup).parameters
    unknown = [name for name in kwargs if name not in known or name in ("self", "index")]
    if unknown:
        raise TypeError(f"{where}() got an unexpected keyword argument {unknown[0]!r}")


def _outside_package(*, loaders: bool = False) -> int:
    """The ``stacklevel`` at which a warning raised by this module's caller points at the first
    frame outside refsampler (the user's line), however deep the entry point; with
    ``loaders``, outside torch's and torchdata's data loaders too (which call a batch
    sampler's iterator on the user's behalf)."""
    places = [os.path.dirname(os.path.abspath(__file__)) + os.sep]
    if loaders:
        for name in ("torch.utils.data", "torchdata.stateful_dataloader"):
            where = getattr(sys.modules.get(name), "__file__", None)
            if isinstance(where, str):
                places.append(os.path.dirname(os.path.abspath(where)) + os.sep)
    prefixes = tuple(places)
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(prefixes):
        frame, level = frame.f_back, level + 1
    return level


def _in_process_group() -> bool:
    """Whether torch.distributed has an initialised (default) process group."""
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _replicas(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    distributed = _in_process_group()
    if num_replicas is None and not distributed:
        world = os.environ.get("WORLD_SIZE", "1")
        if world.isdigit() and int(world) > 1:
            warnings.warn(
                f"WORLD_SIZE={world} is set but torch.distributed has no process group yet, so "
                "this sampler does not shard (num_replicas=1): every process yields whole, "
                "unsharded epochs (the same batches where the processes' seeds agree; with "
                "seed=None each draws its own from torch). Build it after init_process_group, "
                "or pass num_replicas and rank. "
                "(With Hugging Face Accelerate, do not let accelerator.prepare wrap the "
                "DataLoader of this batch sampler; see the DDP how-to.)",
                RefSamplerWarning,
                stacklevel=_outside_package(),
            )
    explicit = num_replicas is not None
    if num_replicas is None:
        num_replicas = torch.distributed.get_world_size() if distributed else 1
    num_replicas = _validate.positive_int("num_replicas", num_replicas)
    if explicit and rank is None and distributed:
        size = torch.distributed.get_world_size()
        if num_replicas > size:  # fewer: a rank >= num_replicas is refused below
            warnings.warn(
                f"num_replicas={num_replicas} is more than the process group's size ({size}), "
                f"and each process takes its rank from the group: shards {size} "
                f"to {num_replicas - 1} are drawn by no process, so their part of every epoch "
                "is never trained on. Leave num_replicas unset (the group's size), or pass "
                "each process its rank.",
                RefSamplerWarning,
                stacklevel=_outside_package(),
            )
    if rank is None and not distributed and num_replicas > 1:
        # As torch's DistributedSampler: rank 0 by default would make every process rank 0.
        raise InvalidArgumentError(
            f"`rank` is required with `num_replicas` {num_replicas!r} when torch.distributed "
            "has no process group (every process would otherwise be rank 0 and yield the "
            "same batches); pass rank=..., or build the sampler after init_process_group; "
            "got rank=None."
        )
    if rank is None:
        rank = torch.distributed.get_rank() if distributed else 0
    rank = _validate.non_negative_int("rank", rank)
    if rank >= num_replicas:
        raise _validate.fail("rank", f"must be < `num_replicas` ({num_replicas})", rank)
    return num_replicas, rank


def _seed_from_torch() -> int:
    """One seed from torch's global generator, so ``torch.manual_seed`` fixes the sampler."""
    return int(torch.empty((), dtype=torch.int64).random_().item())


def _digest(data: Any) -> str:
    return hashlib.blake2b(json.dumps(data, sort_keys=True).encode(), digest_size=16).hexdigest()


def _config(
    sampler: BalancedBatchSampler, target: Any, options: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """The configuration a state belongs to (small: scalars and digests) and its fingerprint,
    computed once so that ``state_dict`` costs O(1)."""
    plan = sampler.plan
    if isinstance(target, TargetOfEpoch):
        target_text = f"alpha schedule {target.schedule}"
    else:
        target_text = "target " + _digest(np.asarray(target).tolist())
    config = {
        "labels": plan.index.digest(),
        "kind": plan.kind,
        "batch_size": plan.batch_size,
        "n_batches": plan.n_batches,
        "target": target_text,
        "seed": plan.seed,
        "num_replicas": plan.num_replicas,
        **options,
    }
    return config, _digest({**config, "stream_version": STREAM_VERSION})


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars, arrays and tensors turned into Python values (a state may
    come back through another serializer)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        try:
            return _plain(value.tolist())
        except Exception:  # not an array after all
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
