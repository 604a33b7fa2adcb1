"""``--api sampler``: the sampler a user hands to a ``DataLoader``, over epochs, ranks and resumes.

The target is ``make_sampler(labels, *, kind, alpha, batch_size, n_batches, seed,
num_replicas, rank)`` (``+ samples_per_class`` for kinds that take it) returning an iterable of
batches (lists, arrays or tensors of positions). ``set_epoch(e)``, ``state_dict()`` /
``load_state_dict()`` and ``len()`` are optional and detected. With ``index_sampler=True`` the
result is a per-index sampler, batched with ``torch.utils.data.BatchSampler(sampler,
batch_size, drop_last=False)``.

Every (kind, configuration) first gets the checks of the batches API on one pass of epoch 0
(rank 0 of 1, ``set_epoch(0)`` when there is one). Then, chosen by the kind's contract
properties:

Epochs (``epochs`` passes, ``set_epoch(e)`` before each, as a training loop calls it)
    ``epochs_shape`` (exact): every pass has ``n_batches`` batches of ``batch_size`` positions in
    range, and ``len()`` (if any) says so. ``epochs_have_properties`` (exact): every epoch has
    the per-batch count properties against *its own* target (an alpha schedule moves it),
    and for kinds with cycles no member twice in a batch (``distinct_in_batch``).
    ``tied_seats_take_turns`` (exact; fixed kind, one target, tied classes): over the ``E``
    epochs each of the ``T`` classes tied for ``s`` seats has its extra seat
    ``floor(E s / T)`` or ``ceil(E s / T)`` times, so a tie-break drawn once per seed (or by
    class index) fails. ``run_prefix_below_1`` (exact): the quota / appearance bound holds
    over the whole run of epochs, not only inside one. ``epochs_differ`` (exact): no epoch
    replays another. ``batches_not_repeated`` (exact, where a correct sampler repeats a batch
    with probability below :data:`REPEAT_BOUND`): no batch of any epoch, or of epoch 0 under
    seeds ``s + 1`` and ``s - 1`` (when ``s >= 1``), equals another as a multiset of
    positions, so an epoch that is an earlier one shifted, or reshuffled inside its batches,
    fails too, and so does a generator seeded by ``seed + epoch`` (seed ``s + 1``'s epoch 0
    is seed ``s``'s epoch 1) or by ``seed ^ epoch`` (seed ``s ^ 1``'s epoch 0 is).
    ``epoch_reproducible`` (exact): a fresh sampler given ``set_epoch(e)`` yields epoch ``e``
    again. ``cycles_continue_across_epochs`` (exact): within-class cycles run on over epoch
    boundaries (each member drawn ``floor`` or ``ceil`` of ``D / n_c`` times, no member twice
    in a cycle). ``epochs_pooled_shares`` (statistical): the pooled classes of all epochs are
    i.i.d. from the epochs' targets. The same passes *without* ``set_epoch`` are summarised as
    a note (what a plain loop gets).
Ranks (every world size ``W >= 2``, two epochs)
    ``ranks_equal_length[W]`` (exact): every rank yields ``n_batches`` an epoch, and ``len()``
    (if any) says so on every rank; ``ranks_have_properties[W]`` (exact): the per-batch
    properties of ``epochs_have_properties`` on every rank;
    ``ranks_differ[W]`` (exact): no two ranks yield the same batches in an epoch, seed
    ``s + 1`` changes every rank's, and seed ``s + 1``'s rank ``r`` is not seed ``s``'s rank
    ``r - 1`` or ``r + 1`` (streams keyed by ``seed + rank``); batches are compared as
    contents, so ranks that reshuffle one stream's batches fail too, except where a correct
    sampler's batches could hold the same positions on two ranks by chance (the seed checks'
    guard: the epoch's contents frequencies put that chance below
    :data:`~refsampler.conformance.checks.REPEAT_CHANCE`), where only positions in order are
    compared;
    ``ranks_disjoint_in_cycle[W]`` (exact): the ranks' draws, interleaved by global step, never
    give one member to two ranks within a cycle; ``ranks_pooled_prefix[W]`` (exact): the
    interleaved counts keep the quota / appearance bound; ``ranks_batches_not_repeated[W]``
    (exact, as ``batches_not_repeated``): no batch of any rank and epoch equals another (a
    generator seeded by ``seed + epoch + rank`` gives rank 1 rank 0's next epoch);
    ``rank_shares[W/r]`` and
    ``ranks_pooled_shares[W]`` (statistical): each rank's stream and the pooled stream meet
    the target; ``ranks_independent[W]`` (statistical, i.i.d. kinds): ranks 0 and 1's counts
    of the top class in epoch 0 are independent at the same step and one step apart either
    way (ranks that share one class generator and draw only their members apart fail it, also
    when one rank reads the shared classes a step later).
Resume (when ``state_dict`` exists)
    ``resume_continues_exactly`` (exact): a state saved after ``k`` batches (``k = 0``, mid
    epoch, end of epoch), loaded into a fresh sampler, continues exactly as the uninterrupted
    run, across the epoch boundary. After ``load_state_dict`` the kit calls ``set_epoch``
    with the state's own epoch, as a training loop that resumes from the state reads it
    there: the state's integer ``"epoch"`` entry, or the epoch it was saved in when it has
    none. A state saved after the last batch of an epoch may name that epoch (nothing left
    of it) or the next (at its start); a state that names any other epoch fails.
    ``resume_state_is_json`` (exact): the states survive ``json.dumps`` / ``json.loads``.
    ``resume_in_fresh_process`` (exact): the state saved
    mid epoch 1 (as JSON, or pickled when JSON cannot hold it) is loaded by a sampler built in
    another Python interpreter -- started afresh, not forked, importing the target by name as
    a restarted job does (:mod:`~refsampler.conformance.fresh`) -- and the rest of epoch 1
    and epoch 2 come out as uninterrupted: a position kept in the process (a module-level
    dict keyed by the state, a class attribute) passes the check before and fails this one.
    A target a fresh interpreter cannot import by name (a lambda, a local function, an
    object of ``__main__``) is not checked, and the report's notes say so.
    ``resume_refuses_foreign_state`` (exact; only when the adapter sets
    ``refuses_foreign_states = True``): a state saved under another seed is refused with an
    exception.

Exact checks never fail a correct sampler, except the repeat checks below and
``ranks_differ``, which can with probability at most :data:`REPEAT_BOUND` each;
:func:`~refsampler.conformance.verify` reserves that much of the run's family level for them,
so the run's false-alarm rate stays within it.
Each reports a failure when it looked at nothing (zero cases is a failure, never a pass).
Statistical checks join the run's Holm family.

Repeated batches
----------------
Two batches of a correct sampler can be equal by chance, so the repeat checks are planned only
where the union bound over all pairs of batches of the run stays below :data:`REPEAT_BOUND`
(1e-11), the chance that a correct sampler fails one. Batches are compared as sorted
position multisets. For a pair of batches :func:`pair_repeat_bound` bounds the chance:

- i.i.d. positions (the iid-classes and with-replacement properties), position ``i`` drawn
  with ``q_i = p_c / n_c``: batch ``Y`` equals batch ``X`` as a multiset only if
  ``Y = sigma(X)`` for one of the ``B!`` orders ``sigma``, each of probability
  ``(sum_i q_i^2)^B``, so the chance is at most ``B! (sum_c p_c^2 / n_c)^B`` (the largest
  over the epochs' targets: ``sum q q' <= max(sum q^2, sum q'^2)``).
- members from cycles (the cycles property), a class drawn ``a`` times per batch, uniform
  permutations independent across classes and of the counts: the class's members in the later
  batch equal a given ``a``-set with probability at most ``1 / C(n_c, a)`` (a window of a
  permutation is a uniform ``a``-set; one that straddles a cycle boundary, its head uniform
  among the members the batch lacks, is no likelier; a window that shares a cycle with the
  earlier batch holds other members). The bound is the product over classes of the largest
  such factor over the counts the kind can give, 1 for a count of 0 or of ``n_c`` or more
  (so under the pk kind, whose classes skip batches, the check is seldom planned).

Only batches of one run are compared (the epoch run; each world size's ranks and epochs): a
correct sampler may give world size 1 and world size 2 the same global stream, so batches of
different world sizes can coincide.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from .. import _validate
from .. import kinds as _kinds
from ..errors import InvalidArgumentError
from . import appearances, calls, counts, cycles, stats
from . import fresh as _fresh
from . import iid as iid_checks
from .checks import (
    REPEAT_CHANCE,
    _log10_contents_chance,
    _same_contents,
    batch_positions,
    exact,
    pending,
)
from .constants import MIN_EPOCHS

# One chance bound for every exact check a correct sampler can fail by chance (the repeat
# checks here, cycles_reshuffled there): verify reserves it per check.
from .cycles import REPEAT_BOUND
from .positions import NESTED, SINGLE_VALUE
from .results import CheckResult
from .sample import EPS, Sample, Setting, per_batch_counts

__all__ = [
    "COUNTED_BATCHES",
    "DEFAULT_WORLD_SIZES",
    "EPOCHS",
    "MAX_WORLD_SIZE",
    "REPEAT_BOUND",
    "RESUME_BATCHES",
    "SamplerAdapter",
    "SamplerOptions",
    "StreamPlan",
    "detect",
    "epoch_batches",
    "index_sampler_hint",
    "pair_repeat_bound",
    "plain_loop_note",
    "plan_streams",
    "sampler_options",
    "stream_checks",
    "validate_streams",
]

T = TypeVar("T")
IntMatrix = npt.NDArray[np.int64]
FloatMatrix = npt.NDArray[np.float64]

#: Epochs of the epoch checks, per level (``--epochs`` overrides).
EPOCHS = {"quick": 3, "full": 4}
#: World sizes of the rank checks (``--world-size``); size 1 is the epoch checks' run.
DEFAULT_WORLD_SIZES = (1, 2)
#: Batches per epoch of the resume checks (at most).
RESUME_BATCHES = 32
#: Batches per epoch of the epoch checks of kinds without the iid-classes property.
COUNTED_BATCHES = 512
#: The largest world size of the rank checks. Each rank builds its own sampler and reads two
#: epochs of at least 2 batches, and the kinds with exact counts share
#: :data:`COUNTED_BATCHES` batches an epoch among the ranks: beyond this many ranks that share
#: falls below 2 batches, the run outgrows its budget and its cost grows with every rank.
MAX_WORLD_SIZE = COUNTED_BATCHES // 2
#: Epochs of each world size's run.
RANK_EPOCHS = 2


@dataclass(frozen=True)
class StreamPlan:
    """What the sampler-API checks of a run do.

    Attributes
    ----------
    epochs : int
        Passes of the epoch checks (>= 2).
    world_sizes : tuple of int
        World sizes of the rank checks (1 is skipped: it is the epoch checks' run).
    set_epoch, resume, has_len : bool
        Whether the sampler has ``set_epoch``, ``state_dict`` + ``load_state_dict``, ``len``.
    refuses_foreign : bool
        Whether the adapter claims to refuse states of another configuration.
    len_problem : str
        What ``len()`` raised when it raised (then ``has_len`` is False), or "".
    epoch_problem : str
        What ``set_epoch(0)`` raised when it raised ``NotImplementedError`` (then
        ``set_epoch`` is False: the sampler is read as one without it), or "".
    problem : str
        Why no sampler could be built to detect the methods ("" when one was): every stream
        check then fails.
    fresh_note : str
        Why ``resume_in_fresh_process`` is not planned although the state methods exist (the
        target cannot be imported by name), for the report's notes; "" when it is planned.
    """

    epochs: int
    world_sizes: tuple[int, ...]
    set_epoch: bool = True
    resume: bool = True
    has_len: bool = True
    refuses_foreign: bool = False
    len_problem: str = ""
    epoch_problem: str = ""
    problem: str = ""
    fresh_note: str = ""


class SamplerAdapter:
    """``make_sampler`` seen as a batches-API adapter (one pass of epoch 0, rank 0 of 1), with
    what the stream checks need.

    Parameters
    ----------
    make_sampler : callable
        ``make_sampler(labels, *, kind, alpha, batch_size, n_batches, seed, num_replicas,
        rank, [samples_per_class])``.
    index_sampler : bool
        The result yields single positions: batch it with ``BatchSampler(drop_last=False)``.
    spec : str, optional
        ``MODULE:NAME`` that ``make_sampler`` was imported from (the command line's); without
        it a fresh interpreter imports ``make_sampler`` by its module and qualified name.
    index_sampler_option : str
        How messages name the switch that sets ``index_sampler``, when a batch suggests it is
        set wrongly (:func:`index_sampler_hint`): ``refsampler verify`` sets
        ``"--index-sampler"``, the pytest plugin ``"--refsampler-index-sampler"``.
    """

    def __init__(
        self,
        make_sampler: Callable[..., Any],
        index_sampler: bool = False,
        spec: str | None = None,
        index_sampler_option: str = "SamplerAdapter(make_sampler, index_sampler=True)",
    ) -> None:
        self.make_sampler = make_sampler
        self.index_sampler = index_sampler
        self.spec = spec
        self.index_sampler_option = index_sampler_option
        self.refuses_foreign = bool(getattr(make_sampler, "refuses_foreign_states", False))
        self.__qualname__ = str(getattr(make_sampler, "__qualname__", repr(make_sampler)))
        self.__signature__ = _signature(make_sampler)

    def build(self, labels: Any, *, num_replicas: int = 1, rank: int = 0, **kwargs: Any) -> Any:
        """The user's sampler (batched when it is a per-index sampler)."""
        sampler = self.make_sampler(labels, num_replicas=num_replicas, rank=rank, **kwargs)
        if self.index_sampler:
            from torch.utils.data import BatchSampler

            return _Batched(sampler, BatchSampler(sampler, kwargs["batch_size"], drop_last=False))
        return sampler

    def __call__(self, labels: Any, **kwargs: Any) -> Iterator[list[int]]:
        sampler = self.build(labels, **kwargs)
        if callable(getattr(sampler, "set_epoch", None)):
            with contextlib.suppress(NotImplementedError):  # no set_epoch (see capabilities)
                sampler.set_epoch(0)
        # Lazily, so that the caller sees when a decline or a change of the labels happens.
        return (_detached(b) for b in sampler)

    def capabilities(
        self, labels: Any, *, timeout: float | None = None, **kwargs: Any
    ) -> tuple[bool, bool, bool, str, str]:
        """(set_epoch, state_dict + load_state_dict, len, why len failed, why set_epoch
        failed) of a sampler built with ``kwargs``.

        Each method is detected on its own. A ``len()`` that raises anything (or outlasts
        ``timeout``) counts as no ``len``, and a ``set_epoch(0)`` that raises
        ``NotImplementedError`` as no ``set_epoch`` (the way a sampler says it has none);
        the last two items say what they raised, so one failing method never hides the
        others.

        Raises
        ------
        Exception
            Whatever building the sampler raised (``NotImplementedError`` is a decline), or
            :class:`~refsampler.conformance.calls.CallTimedOut`.
        """
        sampler = calls.timed(lambda: self.build(labels, **kwargs), timeout, "building the sampler")
        has = [
            callable(getattr(sampler, name, None))
            for name in ("set_epoch", "state_dict", "load_state_dict")
        ]
        why = epoch_why = ""
        try:
            calls.timed(lambda: len(sampler), timeout, "len()")
        except calls.CallTimedOut as exc:
            why = str(exc)
        except Exception as exc:  # a len that raises is no len, whatever it raises
            why = f"len() raised {type(exc).__name__}" + (f": {exc}" if str(exc) else "")
        if has[0]:
            try:
                calls.timed(lambda: sampler.set_epoch(0), timeout, "set_epoch(0)")
            except NotImplementedError as exc:  # anything else is a defect the checks show
                epoch_why = "set_epoch(0) raised NotImplementedError" + (
                    f": {exc}" if str(exc) else ""
                )
        return has[0] and not epoch_why, has[1] and has[2], not why, why, epoch_why


def _signature(function: Any) -> Any:
    import inspect

    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    keep = [p for name, p in signature.parameters.items() if name not in ("num_replicas", "rank")]
    return signature.replace(parameters=keep)


class _Batched:
    """A per-index sampler batched by ``BatchSampler``; ``set_epoch`` and the state methods
    go to the per-index sampler when it has them."""

    def __init__(self, inner: Any, batched: Any) -> None:
        self._inner, self._batched = inner, batched
        for name in ("set_epoch", "state_dict", "load_state_dict"):
            if callable(getattr(inner, name, None)):
                setattr(self, name, getattr(inner, name))

    def __iter__(self) -> Any:
        return iter(self._batched)

    def __len__(self) -> int:
        return len(self._batched)


def _detached(batch: Any) -> Any:
    """``batch`` as the batches API's checks judge it, in memory the sampler cannot reuse.

    An accepted batch (:func:`~refsampler.conformance.checks.batch_positions`) becomes a list
    of ints; any other keeps its shape and dtype, so the batch-shape check refuses it for the
    same reason as the same batch returned through the batches API.
    """
    positions, _ = batch_positions(batch)
    if positions is not None:
        return positions.tolist()
    try:
        return np.asarray(batch).copy()
    except (TypeError, ValueError, RuntimeError):
        return batch


def _positions(batch: Any) -> tuple[npt.NDArray[np.int64], str]:
    """The positions of one batch, or an empty array (a malformed batch) and why it was
    refused: the batches API's rule (:func:`~refsampler.conformance.checks.batch_positions`)."""
    positions, problem = batch_positions(batch)
    if positions is None:
        return np.zeros(0, dtype=np.int64), problem
    return positions, ""


def plan_streams(setting: Setting) -> list[tuple[str, bool]]:
    """The sampler-API checks of ``setting``: ``(name, exact)``; none without a plan."""
    plan: StreamPlan | None = setting.streams
    if plan is None:
        return []
    props = setting.properties
    counted = bool(
        props
        & {_kinds.PROPERTY_FIXED_COUNTS, _kinds.PROPERTY_QUOTA_COUNTS, _kinds.PROPERTY_PK_SHAPE}
    )
    prefix = bool(props & {_kinds.PROPERTY_QUOTA_COUNTS, _kinds.PROPERTY_APPEARANCE_BOUND})
    iid = _kinds.PROPERTY_IID_CLASSES in props and int(np.count_nonzero(setting.target > 0)) >= 2
    cyc = _kinds.PROPERTY_CYCLES in props
    names: list[tuple[str, bool]] = [("epochs_shape", True)]
    if counted:
        names.append(("epochs_have_properties", True))
    if _turns_planned(setting):
        names.append(("tied_seats_take_turns", True))
    if prefix:
        names.append(("run_prefix_below_1", True))
    names.append(("epochs_differ", True))
    pair = pair_repeat_bound(setting)
    # The epochs of the run and epoch 0 of seeds s + 1 and s - 1 (a generator seeded by
    # seed + epoch gives seed s + 1 the batches of seed s's epoch 1; seed ^ epoch gives them
    # to seed s + 1 for an even s, to s - 1 for an odd one).
    if _repeats_negligible(pair, (plan.epochs + 2) * epoch_batches(setting, plan.epochs)):
        names.append(("batches_not_repeated", True))
    names.append(("epoch_reproducible", True))
    if cyc:
        names.append(("cycles_continue_across_epochs", True))
    if iid:
        names.append(("epochs_pooled_shares", False))
    for w in plan.world_sizes:
        if w < 2:
            continue
        names += [
            (f"ranks_equal_length[{w}]", True),
            (f"ranks_have_properties[{w}]", True),
            (f"ranks_differ[{w}]", True),
        ]
        if cyc:
            names.append((f"ranks_disjoint_in_cycle[{w}]", True))
        if prefix:
            names.append((f"ranks_pooled_prefix[{w}]", True))
        if _repeats_negligible(pair, w * RANK_EPOCHS * epoch_batches(setting, RANK_EPOCHS, w)):
            names.append((f"ranks_batches_not_repeated[{w}]", True))
        if iid:
            names += [(f"rank_shares[{w}/{r}]", False) for r in range(w)]
            names.append((f"ranks_pooled_shares[{w}]", False))
            if iid_checks.paired_counts_planned(setting, epoch_batches(setting, RANK_EPOCHS, w)):
                names.append((f"ranks_independent[{w}]", False))
    if plan.resume:
        names += [("resume_continues_exactly", True), ("resume_state_is_json", True)]
        if not plan.fresh_note:
            names.append(("resume_in_fresh_process", True))
        if plan.refuses_foreign:
            names.append(("resume_refuses_foreign_state", True))
    return names


def _turns_planned(setting: Setting) -> bool:
    """Whether the fixed kind's exact ties are checked across epochs: one target for the run
    (an alpha schedule moves the ties) with a tie at its cut."""
    return (
        _kinds.PROPERTY_FIXED_COUNTS in setting.properties
        and not setting.config.scheduled
        and setting.ties[0].size > 0
    )


def pair_repeat_bound(setting: Setting) -> float:
    """Bound on the chance that two given batches of one run of a correct sampler are equal
    as multisets of positions (1.0 where the kind's properties give none).

    Covers the epochs of the epoch run and of the rank runs; see the module notes for the
    derivation.

    Parameters
    ----------
    setting : Setting
        The (kind, configuration) of the run.

    Returns
    -------
    float
        The bound, in ``(0, 1]``.
    """
    from math import comb, lgamma, log

    props = setting.properties
    plan: StreamPlan | None = setting.streams
    epochs = range(max(plan.epochs if plan is not None else 1, RANK_EPOCHS))
    sizes = np.asarray(setting.config.class_counts, dtype=np.float64)
    if {_kinds.PROPERTY_IID_CLASSES, _kinds.PROPERTY_WITH_REPLACEMENT} <= props:
        collide = max(float(np.sum(setting.config.target(e) ** 2 / sizes)) for e in epochs)
        if collide <= 0:
            return 1.0
        batch = setting.config.batch_size
        return float(min(np.exp(lgamma(batch + 1) + batch * log(collide)), 1.0))
    if _kinds.PROPERTY_CYCLES not in props:
        return 1.0
    log_bound = 0.0
    for c, n in enumerate(setting.config.class_counts):
        counts = {a for e in epochs for a in _epoch_setting(setting, 1, e).achievable_counts(c)}
        if 0 in counts or max(counts) >= n:
            continue  # a class absent from both batches, or drawn whole, proves nothing
        log_bound -= log(comb(int(n), min(counts, key=lambda a: comb(int(n), a))))
    return float(np.exp(log_bound))


def _repeats_negligible(pair: float, batches: int) -> bool:
    """Whether ``batches`` batches of one run repeat one with chance below the bound."""
    return batches >= 2 and pair * batches * (batches - 1) / 2 <= REPEAT_BOUND


def epoch_batches(setting: Setting, epochs: int, world: int = 1) -> int:
    """Batches per epoch (and rank) of the epoch and rank checks.

    Kinds with the iid-classes property spread the main run's draws over the epochs (and
    ranks), so the pooled share tests have the main run's power. The exact checks of the
    other kinds need whole cycles and many batches, not power: at most
    :data:`COUNTED_BATCHES` per epoch (``/ world`` per rank).
    """
    n = max(-(-setting.n_batches // (epochs * world)), 2)
    if _kinds.PROPERTY_IID_CLASSES not in setting.properties:
        n = min(n, max(COUNTED_BATCHES // world, 2))
    return n


# -- running the sampler -------------------------------------------------------------------


class _Run:
    """Builds samplers of one (kind, configuration) and reads passes, recording problems."""

    def __init__(
        self,
        adapter: SamplerAdapter,
        setting: Setting,
        labels: Any,
        seed: int,
        timeout: float | None = None,
    ) -> None:
        self.adapter, self.setting, self.labels, self.seed = adapter, setting, labels, seed
        self.timeout = timeout
        self.problems: list[str] = []
        self.inputs: list[str] = []
        self.refused: list[str] = []
        # The labels each built sampler was given, to see whether it modified them. Kept
        # here, not on the sampler: a sampler may refuse new attributes (__slots__, a list).
        # The sampler is held too, so that its id is not reused by another while listed.
        self._given: dict[int, tuple[Any, npt.NDArray[Any]]] = {}

    def call(self, what: str, function: Callable[[], T]) -> T:
        """``function()``, a call into the sampler, under ``--timeout`` (a hang raises
        :class:`~refsampler.conformance.calls.CallTimedOut` naming ``what``)."""
        return calls.timed(function, self.timeout, what)

    def build(
        self, n_batches: int, *, seed: int | None = None, world: int = 1, rank: int = 0
    ) -> Any:
        config = self.setting.config
        given = self.labels.copy()
        sampler = self.call(
            "building the sampler" + (f" (rank {rank} of {world})" if world > 1 else ""),
            lambda: self.adapter.build(
                given,
                kind=self.setting.kind,
                alpha=config.alpha,
                batch_size=config.batch_size,
                n_batches=n_batches,
                seed=self.seed if seed is None else seed,
                num_replicas=world,
                rank=rank,
                **self.setting.options,
            ),
        )
        self._given[id(sampler)] = (sampler, given)
        return sampler

    def read(self, sampler: Any, epoch: int | None, who: str = "") -> list[npt.NDArray[np.int64]]:
        """One pass (after ``set_epoch(epoch)`` unless ``epoch`` is None); ``who`` names the
        rank in a timeout's message."""
        plan: StreamPlan | None = self.setting.streams
        has_epoch = plan is None or plan.set_epoch  # not a set_epoch that declines
        if epoch is not None and has_epoch and callable(getattr(sampler, "set_epoch", None)):
            self.call(f"set_epoch({epoch}){who}", lambda: sampler.set_epoch(epoch))
        what = f"the epoch {epoch} pass" if epoch is not None else "a pass without set_epoch"
        read = self.call(what + who, lambda: [_positions(b) for b in sampler])
        refused = [(k, problem) for k, (_, problem) in enumerate(read) if problem]
        if refused:
            k, problem = refused[0]
            hint = index_sampler_hint(self.adapter, problem)
            self.refused.append(f"batch {k} of {what}{who} {problem}{hint}")
        entry = self._given.get(id(sampler))
        if entry is not None and entry[0] is sampler and not np.array_equal(entry[1], self.labels):
            self.inputs.append("labels modified by the sampler")
        return [positions for positions, _ in read]

    def epochs(
        self, n_batches: int, epochs: int, *, set_epoch: bool = True, **where: Any
    ) -> list[list[npt.NDArray[np.int64]]]:
        sampler = self.build(n_batches, **where)
        world, rank = where.get("world", 1), where.get("rank", 0)
        who = f" of rank {rank} of {world}" if world > 1 else ""
        return [self.read(sampler, e if set_epoch else None, who) for e in range(epochs)]


def _take(sampler: Any, k: int) -> None:
    """Start a pass and take its first ``k`` batches (a state is saved after them)."""
    iterator = iter(sampler)
    for _ in range(k):
        next(iterator)


def _matrix(passes: list[npt.NDArray[np.int64]], batch: int, size: int) -> tuple[IntMatrix, int]:
    """Stack the full, in-range batches; count the malformed ones."""
    good = [
        p for p in passes if p.size == batch and p.min(initial=0) >= 0 and p.max(initial=0) < size
    ]
    bad = len(passes) - len(good)
    if not good:
        return np.zeros((0, batch), dtype=np.int64), bad
    return np.stack(good), bad


# -- the checks -----------------------------------------------------------------------------


def stream_checks(
    adapter: SamplerAdapter,
    setting: Setting,
    labels: Any,
    seed: int,
    timeout: float | None = None,
) -> list[CheckResult]:
    """Every check :func:`plan_streams` lists for ``setting``, in that order, plus notes.

    Exceptions raised by the sampler fail the checks of the section that was running (their
    detail says so), and so does a call of the sampler -- building it, ``set_epoch``, a pass,
    ``state_dict`` / ``load_state_dict``, ``len`` -- that outlasts ``timeout`` seconds (the
    detail names the call). When the sampler's methods could not be detected
    (:attr:`StreamPlan.problem`), every check fails.
    """
    plan: StreamPlan = setting.streams
    planned = dict(plan_streams(setting))
    if plan.problem:
        text = f"the sampler's methods could not be detected: {plan.problem}"
        return [
            exact(name, setting, 1, 0, text)
            if is_exact
            else _failed_statistical(name, setting, text)
            for name, is_exact in planned.items()
        ]
    run = _Run(adapter, setting, labels, seed, timeout)
    results: list[CheckResult] = []
    sections: list[Callable[[], list[CheckResult]]] = [lambda: _epoch_checks(run, planned)]
    # What to do instead when a section's calls raise NotImplementedError (which declines a
    # configuration only when its first build, with one replica, raises it).
    opt_outs = [""]
    for w in plan.world_sizes:
        if w >= 2:
            sections.append(functools.partial(_rank_checks, run, planned, w))
            opt_outs.append(
                "; a sampler that does not shard is tested with world size 1 alone "
                "(--world-size 1, or world_sizes=(1,))"
            )
    if plan.resume:
        sections.append(lambda: _resume_checks(run, planned))
        opt_outs.append("; a sampler without resume leaves out state_dict and load_state_dict")
    for section, names, opt_out in zip(
        sections, _section_names(planned, plan), opt_outs, strict=True
    ):
        try:
            results += section()
        except Exception as exc:  # the sampler raised or hung: every check of the section fails
            text = (
                str(exc)
                if isinstance(exc, calls.CallTimedOut)
                else f"the sampler raised {type(exc).__name__}: {exc}"
            )
            if isinstance(exc, NotImplementedError):
                text += (
                    " (NotImplementedError declines a configuration only when the first build "
                    f"of its sampler, with one replica, raises it{opt_out})"
                )
            results += [exact(name, setting, 1, 0, text) for name in names if planned[name]] + [
                _failed_statistical(name, setting, text) for name in names if not planned[name]
            ]
    order = {name: i for i, name in enumerate(planned)}
    results.sort(key=lambda r: order.get(r.check, len(order)))
    return results


def _section_names(planned: dict[str, bool], plan: StreamPlan) -> list[list[str]]:
    epochs = [n for n in planned if not n.startswith(("rank", "resume"))]
    out = [epochs]
    for w in plan.world_sizes:
        if w >= 2:
            out.append([n for n in planned if n.startswith("rank") and f"[{w}" in n])
    if plan.resume:
        out.append([n for n in planned if n.startswith("resume")])
    return out


def _failed_statistical(name: str, setting: Setting, text: str) -> CheckResult:
    return pending(name, setting, 0.0, 0, text, detects="")


def _epoch_targets(setting: Setting, epochs: int) -> list[npt.NDArray[np.float64]]:
    return [setting.config.target(e) for e in range(epochs)]


def _epoch_setting(setting: Setting, n: int, epoch: int) -> Setting:
    return Setting(setting.kind, setting.config, n, n, setting.floor, epoch=epoch)


def _count_properties(sample: Sample) -> list[CheckResult]:
    """The per-batch checks of the kind's properties (not the run-long ones): counts, and
    for kinds with cycles that no member repeats inside a batch."""
    props = sample.setting.properties
    out: list[CheckResult] = []
    if _kinds.PROPERTY_FIXED_COUNTS in props:
        out += counts.fixed_checks(sample)
    if _kinds.PROPERTY_QUOTA_COUNTS in props:
        out += [r for r in counts.quota_checks(sample) if r.check == "counts_within_quota"]
    if _kinds.PROPERTY_PK_SHAPE in props:
        out += appearances.pk_shape_checks(sample)
    if _kinds.PROPERTY_CYCLES in props:  # no member twice in a batch, in every epoch and rank
        distinct = cycles.distinct_check(sample)
        if distinct is not None:
            out.append(distinct)
    return out


def _rates(setting: Setting, epoch: int) -> npt.NDArray[np.float64]:
    """Expected seats per batch of ``epoch``: ``B p`` (quota) or ``P p`` (appearances)."""
    return _epoch_setting(setting, 1, epoch).seat_quotas


def _prefix_violations(
    setting: Setting, rows: IntMatrix, rates: FloatMatrix, epoch_length: int
) -> tuple[int, str]:
    """Violations of the quota / appearance bound over a run of batch count rows.

    One schedule plays over the whole run, so the bound holds across epoch boundaries; under
    an alpha schedule each epoch has a plan of its own, and the bound restarts with every
    epoch (``epoch_length`` rows).
    """
    if setting.config.scheduled and rows.shape[0] > epoch_length:
        parts = [
            _prefix_violations(
                setting, rows[i : i + epoch_length], rates[i : i + epoch_length], epoch_length
            )
            for i in range(0, rows.shape[0], epoch_length)
        ]
        bad = sum(b for b, _ in parts)
        first = next((d for b, d in parts if b), parts[0][1])
        return bad, first + " (per epoch: under an alpha schedule each epoch has its own plan)"
    if _kinds.PROPERTY_APPEARANCE_BOUND in setting.properties:
        error = appearances.appearance_errors(rows, rates)
    else:
        error = (np.cumsum(rows, axis=0) - np.cumsum(rates, axis=0)).astype(np.float64)
    drift = np.abs(error) >= 1 - EPS
    worst = float(np.abs(error).max()) if error.size else 0.0
    detail = f"max |cumulative - ideal| = {worst:.3f} over {rows.shape[0]} batches"
    if drift.any():
        k, c = np.argwhere(drift)[0]
        detail += f"; class {c} after batch {k + 1} of the run: off by {error[k, c]:+.3f}"
    return int(drift.sum()), detail


def _cycle_violations(
    setting: Setting, labels: Any, batches: IntMatrix, name_batch: Callable[[int], str]
) -> tuple[int, int, str]:
    """(violations, classes looked at, detail) of the cycles over a run of batches: no member
    twice within its class's cycle, and each member drawn floor or ceil of ``D / n_c`` times.
    ``name_batch(k)`` names row ``k`` of ``batches`` (its epoch, rank and batch)."""
    if batches.shape[0] == 0:
        return 0, 0, ""
    where = Setting(setting.kind, setting.config, batches.shape[0], 1, setting.floor)
    sample = Sample(where, labels, batches, batches[:1], batches[:1], batches[:1])
    result = next(
        r
        for r in cycles.cycle_checks(sample, name_batch)
        if r.check == "without_replacement_in_cycle"
    )
    violations = int(result.statistic or 0)
    detail = f"; {result.detail}" if violations else ""
    sizes = np.asarray(setting.config.class_counts)
    classes = labels[batches].ravel()
    hits = np.bincount(batches.ravel(), minlength=labels.size)
    drawn = np.bincount(classes, minlength=sizes.size)
    looked = 0
    for c in np.flatnonzero(drawn):
        looked += 1
        mine = hits[labels == c]
        low, high = drawn[c] // sizes[c], -(-drawn[c] // sizes[c])
        off = int(np.count_nonzero((mine < low) | (mine > high)))
        if off:
            violations += off
            if not detail:
                detail = (
                    f"; class {int(c)}: {int(drawn[c])} draws of {int(sizes[c])} members, "
                    f"hits per member from {int(mine.min())} to {int(mine.max())} "
                    f"(want {int(low)}..{int(high)})"
                )
    return violations, looked, detail


def _shares(
    name: str,
    setting: Setting,
    rows: IntMatrix,
    expected: npt.NDArray[np.float64],
    what: str,
) -> CheckResult:
    totals = rows.sum(axis=0)
    draws = int(totals.sum())
    target = expected / expected.sum() if expected.sum() > 0 else expected
    outcome = stats.chisquare_shares(totals, target)
    result = pending(
        name,
        setting,
        outcome,
        draws,
        f"chi-square of the class counts of {what} against the target",
        words=(
            "class counts depart from the target",
            "class counts closer to the target than i.i.d. draws allow",
        ),
    )
    result.detectable = stats.detectable_w(draws, max(outcome.dof, 1), level=setting.floor)
    return result


def _contents_compared(batches: IntMatrix) -> bool:
    """Whether another rank (or seed) repeating the contents of ``batches``, batch by batch,
    counts as a repeat: where the run's own contents frequencies put the chance that a correct
    sampler does so below :data:`~refsampler.conformance.checks.REPEAT_CHANCE`, the seed
    checks' guard (not where every batch must hold the same positions, say)."""
    return _log10_contents_chance(batches) < np.log10(REPEAT_CHANCE)


def _not_repeated(name: str, setting: Setting, parts: list[tuple[str, IntMatrix]]) -> CheckResult:
    """No batch of ``parts`` (named passes of one run) equals another as a multiset."""
    batch = setting.config.batch_size
    rows = np.vstack([m for _, m in parts]) if parts else np.zeros((0, batch), np.int64)
    keys = np.sort(rows, axis=1)  # a reshuffle inside a batch hides nothing
    detail = ""
    repeats = 0
    if rows.shape[0]:
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        repeats = rows.shape[0] - first.size
        if repeats:
            later = int(np.flatnonzero(first[inverse] != np.arange(rows.shape[0]))[0])
            detail = f"; {_where(parts, later)} repeats {_where(parts, int(first[inverse[later]]))}"
    return exact(
        name,
        setting,
        repeats + int(rows.shape[0] < 2),
        int(rows.size),
        f"{repeats} of {rows.shape[0]} batches repeat an earlier one (as sets of positions; "
        f"a correct sampler repeats one with probability <= {REPEAT_BOUND:g})" + detail,
    )


def _where(parts: list[tuple[str, IntMatrix]], row: int) -> str:
    for label, m in parts:
        if row < m.shape[0]:
            return f"batch {row} of {label}"
        row -= m.shape[0]
    return f"batch {row}"


def _epoch_checks(run: _Run, planned: dict[str, bool]) -> list[CheckResult]:
    setting, labels = run.setting, run.labels
    plan: StreamPlan = setting.streams
    config = setting.config
    batch, size = config.batch_size, labels.size
    n_epochs = plan.epochs
    n = epoch_batches(setting, n_epochs)
    passes = run.epochs(n, n_epochs)
    out: list[CheckResult] = []
    # epochs_shape
    bad, detail = 0, ""
    lengths = [len(p) for p in passes]
    matrices = []
    for e, p in enumerate(passes):
        m, malformed = _matrix(p, batch, size)
        matrices.append(m)
        off = abs(len(p) - n) + malformed
        if off and not detail:
            detail = f"; epoch {e}: {len(p)} batches (want {n}), {malformed} malformed"
        bad += off
    expected: Any = [n] * n_epochs
    observed: Any = lengths
    if plan.has_len:
        sampler = run.build(n)
        length = run.call("len()", lambda: len(sampler))
        if length != n:
            bad += 1
            detail += f"; len() is {length}, want {n}"
            # Show len() beside the passes, so that expected and observed differ where it does.
            expected = {"batches per epoch": expected, "len()": n}
            observed = {"batches per epoch": lengths, "len()": length}
    out.append(
        exact(
            "epochs_shape",
            setting,
            bad + int(not passes) + int(bool(run.inputs)),
            sum(lengths) * batch,
            f"{n_epochs} epochs of {n} batches of {batch} positions in range"
            + detail
            + ("" if not run.refused else "; " + run.refused[0])
            + ("" if not run.inputs else "; " + run.inputs[0]),
            expected=expected,
            observed=observed,
        )
    )
    full = [m for m in matrices if m.shape[0] == n]
    if "epochs_have_properties" in planned:
        bad, detail, looked = 0, "", 0
        for e, m in enumerate(matrices):
            if not m.shape[0]:
                continue
            sample = Sample(_epoch_setting(setting, m.shape[0], e), labels, m, m, m, m)
            for r in _count_properties(sample):
                looked += 1
                if r.verdict == "fail":
                    bad += 1
                    if not detail:
                        detail = f"; epoch {e}: {r.check}: {r.detail}"
        out.append(
            exact(
                "epochs_have_properties",
                setting,
                bad + int(looked == 0),
                sum(m.size for m in matrices),
                "every epoch has the per-batch counts of its own target" + detail,
            )
        )
    if "tied_seats_take_turns" in planned:
        out.append(_turns_check(setting, labels, matrices))
    if "run_prefix_below_1" in planned:
        rows = [per_batch_counts(m, labels, config.num_classes) for m in matrices]
        rates = np.vstack(
            [np.broadcast_to(_rates(setting, e), r.shape) for e, r in enumerate(rows)]
        )
        bad, detail = _prefix_violations(setting, np.vstack(rows), rates, n)
        out.append(
            exact(
                "run_prefix_below_1",
                setting,
                bad + int(rates.shape[0] == 0),
                int(rates.shape[0]) * batch,
                "cumulative counts over the run of epochs within 1 of ideal: " + detail,
            )
        )
    same = [
        (a, b)
        for a in range(len(full))
        for b in range(a + 1, len(full))
        if np.array_equal(full[a], full[b])
    ]
    out.append(
        exact(
            "epochs_differ",
            setting,
            len(same) + int(len(full) < 2),
            sum(m.size for m in full),
            f"{len(same)} pairs of identical epochs among {len(full)}"
            + (f"; epoch {same[0][1]} replays epoch {same[0][0]}" if same else ""),
        )
    )
    if "batches_not_repeated" in planned:
        others = [
            (f"epoch 0 of seed s {sign} 1", _matrix(run.epochs(n, 1, seed=seed)[0], batch, size)[0])
            for sign, seed in (("+", run.seed + 1), ("-", run.seed - 1))
            if seed >= 0
        ]
        out.append(
            _not_repeated(
                "batches_not_repeated",
                setting,
                [(f"epoch {e}", m) for e, m in enumerate(matrices)] + others,
            )
        )
    # epoch_reproducible: a fresh sampler per chosen epoch
    chosen = sorted({n_epochs - 1, n_epochs // 2})
    bad, detail = 0, ""
    for e in chosen:
        if plan.set_epoch:
            fresh = run.build(n)
            again = run.read(fresh, e)
        else:
            again = run.epochs(n, e + 1, set_epoch=False)[-1]
        m, _ = _matrix(again, batch, size)
        if m.shape != matrices[e].shape or not np.array_equal(m, matrices[e]):
            bad += 1
            if not detail:
                detail = f"; epoch {e} from a fresh sampler differs from the run's epoch {e}"
    out.append(
        exact(
            "epoch_reproducible",
            setting,
            bad,
            len(chosen) * n * batch,
            f"epochs {chosen} rebuilt from (seed, epoch) "
            + ("with set_epoch" if plan.set_epoch else "by passes (no set_epoch)")
            + detail,
        )
    )
    if "cycles_continue_across_epochs" in planned:
        stacked = np.vstack(matrices) if matrices else np.zeros((0, batch), np.int64)
        bad, looked, detail = _cycle_violations(
            setting, labels, stacked, _epoch_namer([m.shape[0] for m in matrices])
        )
        out.append(
            exact(
                "cycles_continue_across_epochs",
                setting,
                bad + int(looked == 0),
                int(stacked.size),
                f"cycles over {len(matrices)} epochs: no member twice in a cycle, every member "
                f"floor/ceil of D/n_c times ({looked} classes)" + detail,
            )
        )
    if "epochs_pooled_shares" in planned:
        rows = [per_batch_counts(m, labels, config.num_classes) for m in matrices]
        expected = sum(
            (r.shape[0] * t for r, t in zip(rows, _epoch_targets(setting, n_epochs), strict=True)),
            np.zeros(config.num_classes),
        )
        out.append(
            _shares(
                "epochs_pooled_shares",
                setting,
                np.vstack(rows),
                np.asarray(expected, np.float64),
                f"{n_epochs} epochs pooled",
            )
        )
    return out


def _epoch_namer(lengths: list[int]) -> Callable[[int], str]:
    """Names row ``k`` of epochs of ``lengths`` batches stacked: its batch and epoch."""
    starts = np.cumsum([0, *lengths])

    def name(k: int) -> str:
        epoch = int(np.searchsorted(starts, k, side="right")) - 1
        within = k - int(starts[epoch])
        return f"batch {within} of epoch {epoch} ({lengths[epoch]} batches an epoch)"

    return name


def _turns_check(setting: Setting, labels: Any, matrices: list[IntMatrix]) -> CheckResult:
    """``tied_seats_take_turns``: over ``E`` epochs, each of the ``T`` tied classes has its
    extra seat ``floor(E s / T)`` or ``ceil(E s / T)`` times (``s`` tied seats an epoch), read
    from each epoch's first batch (every batch of an epoch has the same counts, which
    ``epochs_have_properties`` checks). A tie-break drawn once per seed gives the same
    classes the seats every epoch and fails from two epochs on; so does one by class index."""
    group, seats = setting.ties
    firsts = [m[:1] for m in matrices if m.shape[0]]
    epochs = len(firsts)
    turns = np.zeros(group.size, dtype=np.int64)
    if firsts:
        rows = per_batch_counts(np.vstack(firsts), labels, setting.config.num_classes)
        turns = (rows[:, group] > setting.floors[group]).sum(axis=0)
    low, high = epochs * seats // group.size, -(-epochs * seats // group.size)
    bad = int(np.count_nonzero((turns < low) | (turns > high)))
    return exact(
        "tied_seats_take_turns",
        setting,
        bad + int(epochs < 2),
        epochs * int(group.size),
        f"classes {group.tolist()} tie for {seats} seats an epoch; extra seats over {epochs} "
        f"epochs: {turns.tolist()} (want {low} or {high} each"
        + (", from at least 2 epochs)" if epochs < 2 else ")"),
        expected=f"{low} or {high} per class",
        observed=turns.tolist(),
    )


def plain_loop_note(
    adapter: SamplerAdapter,
    setting: Setting,
    labels: Any,
    seed: int,
    timeout: float | None = None,
) -> str:
    """What a loop that never calls ``set_epoch`` gets: distinct epochs, or replays."""
    run = _Run(adapter, setting, labels, seed, timeout)
    plan: StreamPlan = setting.streams
    n = min(epoch_batches(setting, plan.epochs), RESUME_BATCHES)
    try:
        passes = run.epochs(n, plan.epochs, set_epoch=False)
    except calls.CallTimedOut as exc:
        return f"without set_epoch, {exc}"
    except Exception as exc:
        return f"without set_epoch the sampler raised {type(exc).__name__}: {exc}"
    keys = [tuple(tuple(p.tolist()) for p in one) for one in passes]
    distinct = len(set(keys))
    if distinct == len(keys):
        note = f"without set_epoch, {len(keys)} passes gave {distinct} distinct epochs"
        try:
            return note + _pass_rules(run, n, keys)
        except calls.CallTimedOut as exc:
            return f"{note}; {exc}"
        except Exception as exc:
            return f"{note}; then the sampler raised {type(exc).__name__}: {exc}"
    return (
        f"without set_epoch, {len(keys)} passes gave only {distinct} distinct epoch(s): a "
        "plain loop replays them (call set_epoch(epoch) every epoch)"
    )


def _pass_rules(run: _Run, n: int, keys: list[tuple[Any, ...]]) -> str:
    """How a sampler that advances its epoch by itself counts passes, against the
    specification: an iterator dropped unread is no pass, a pass abandoned after one batch
    is one (a note: samplers that leave the epoch to set_epoch alone are not held to it)."""

    def after(dropped: int | None) -> tuple[Any, ...]:
        """A fresh build's pass, after an iterator dropped after ``dropped`` batches (None:
        the build's first pass)."""
        sampler = run.build(n)

        def probe() -> list[npt.NDArray[np.int64]]:
            if dropped is not None:
                iterator = iter(sampler)
                for _ in range(dropped):
                    next(iterator)
                del iterator
            return [_positions(b)[0] for b in sampler]

        what = (
            "a fresh build's first pass"
            if dropped is None
            else f"a pass after an iterator dropped after {dropped} batch(es)"
        )
        return tuple(tuple(p.tolist()) for p in run.call(what, probe))

    if after(None) != keys[0]:
        return (
            "; a fresh build's first pass differs from the first build's, so how passes are "
            "counted is not judged"
        )
    unread = "epoch 0 again" if after(0) == keys[0] else "not epoch 0: it counted as a pass"
    abandoned = "epoch 1" if after(1) == keys[1] else "not epoch 1: it did not count"
    kept = unread == "epoch 0 again" and abandoned == "epoch 1"
    rule = " (the specification: an iterator is a pass once it has yielded a batch)"
    return (
        f"; after an iterator dropped unread, {unread}; after a pass abandoned after one "
        f"batch, {abandoned}" + ("" if kept else rule)
    )


def _rank_checks(run: _Run, planned: dict[str, bool], world: int) -> list[CheckResult]:
    setting, labels = run.setting, run.labels
    plan: StreamPlan = setting.streams
    config = setting.config
    batch, size, k = config.batch_size, labels.size, config.num_classes
    n = epoch_batches(setting, RANK_EPOCHS, world)
    streams = [run.epochs(n, RANK_EPOCHS, world=world, rank=r) for r in range(world)]
    out: list[CheckResult] = []
    lengths = [[len(p) for p in s] for s in streams]
    # Every rank yields n_batches an epoch (equal lengths alone would pass ranks that all
    # split the epoch's batches among them, as DistributedSampler does), and len() says so.
    off = sum(int(length != n) for one in lengths for length in one)
    lens: list[int] = []
    if plan.has_len:
        for r in range(world):
            sampler = run.build(n, world=world, rank=r)
            lens.append(run.call(f"len() of rank {r} of {world}", functools.partial(len, sampler)))
    wrong_len = [r for r, length in enumerate(lens) if length != n]
    expected: Any = [[n] * RANK_EPOCHS] * world
    observed: Any = lengths
    if wrong_len:
        expected = {"batches per rank and epoch": expected, "len() per rank": [n] * world}
        observed = {"batches per rank and epoch": lengths, "len() per rank": lens}
    out.append(
        exact(
            f"ranks_equal_length[{world}]",
            setting,
            off + len(wrong_len),
            sum(map(sum, lengths)) * batch,
            f"every rank yields {n} batches an epoch; batches per rank and epoch: {lengths}"
            + (f"; len() of ranks 0..{world - 1}: {lens}" if wrong_len else ""),
            expected=expected,
            observed=observed,
        )
    )
    mats = [[_matrix(p, batch, size) for p in s] for s in streams]
    bad, detail, looked = 0, "", 0
    for r in range(world):
        for e in range(RANK_EPOCHS):
            m, malformed = mats[r][e]
            bad += malformed  # a wrong number of batches is ranks_equal_length's finding
            if malformed and not detail:
                detail = f"; rank {r} epoch {e}: {malformed} malformed batches"
                pass_of = f"the epoch {e} pass of rank {r} of {world} "
                why = [text for text in run.refused if pass_of in text]
                detail += f" ({why[0]})" if why else ""
            if not m.shape[0]:
                continue
            sample = Sample(_epoch_setting(setting, m.shape[0], e), labels, m, m, m, m)
            looked += 1
            for res in _count_properties(sample):
                if res.verdict == "fail":
                    bad += 1
                    if not detail:
                        detail = f"; rank {r} epoch {e}: {res.check}: {res.detail}"
    out.append(
        exact(
            f"ranks_have_properties[{world}]",
            setting,
            bad + int(looked == 0),
            sum(m.size for s in mats for m, _ in s),
            "every rank's batches: shape, range, per-batch counts of the kind and (with cycles) "
            "no member twice in a batch" + detail,
        )
    )
    # ranks_differ: the classic DDP bug is every rank yielding the same batches (or a rank
    # that ignores the seed): R ranks then train on one batch R times. Batches are compared
    # as contents (a reshuffle inside each batch hides nothing) wherever a correct sampler
    # cannot repeat an epoch's contents by chance, as the seed checks compare seeds.
    ordered_only = False

    def repeats(base: IntMatrix, other: IntMatrix) -> str:
        nonlocal ordered_only
        if not base.size:
            return ""
        contents = _contents_compared(base)
        ordered_only = ordered_only or not contents
        return _same_contents(base, other, orders=False, shared=False, contents=contents)

    same: list[tuple[int, int, int, str]] = []
    for e in range(RANK_EPOCHS):
        for a in range(world):
            for b in range(a + 1, world):
                how = repeats(mats[a][e][0], mats[b][e][0])
                if how:
                    same.append((e, a, b, how))
    # Seed s + 1's rank r against seed s's ranks r and r +- 1: a stream keyed by seed + rank
    # (or seed - rank) hands seed s + 1's rank r the batches of seed s's neighbouring rank.
    unseeded: list[int] = []
    shifted: list[tuple[int, int]] = []
    for r in range(world):
        other = run.epochs(n, 1, seed=run.seed + 1, world=world, rank=r)[0]
        theirs, _ = _matrix(other, batch, size)
        if not theirs.size:
            continue
        if repeats(mats[r][0][0], theirs):
            unseeded.append(r)
        shifted += [
            (r, q) for q in (r - 1, r + 1) if 0 <= q < world and repeats(mats[q][0][0], theirs)
        ]
    out.append(
        exact(
            f"ranks_differ[{world}]",
            setting,
            len(same) + len(unseeded) + len(shifted),
            sum(m.size for s in mats for m, _ in s),
            f"{len(same)} pairs of ranks with the same batches in an epoch"
            + (
                f" (epoch {same[0][0]}: ranks {same[0][1]} and {same[0][2]}, {same[0][3]})"
                if same
                else ""
            )
            + f"; ranks whose batches seed s + 1 does not change: {unseeded or 'none'}"
            + "".join(
                f"; seed s + 1's rank {r} yields seed s's rank {q}" for r, q in shifted[:1]
            )
            + (
                "; only positions in order compared somewhere (a correct sampler's batches may "
                "hold the same positions on two ranks there)"
                if ordered_only
                else "; compared as contents (the order inside a batch ignored)"
            ),
        )
    )
    # Interleave by global step t = (epoch * n + k) * world + rank.
    steps = min(m.shape[0] for s in mats for m, _ in s)
    pooled = (
        np.stack(
            [
                np.stack([mats[r][e][0][:steps] for r in range(world)], axis=1)
                for e in range(RANK_EPOCHS)
            ]
        ).reshape(-1, batch)
        if steps
        else np.zeros((0, batch), np.int64)
    )
    if f"ranks_disjoint_in_cycle[{world}]" in planned:

        def step_of(t: int) -> str:
            epoch, rest = divmod(t, steps * world)
            return f"batch {rest // world} of epoch {epoch} on rank {rest % world}"

        bad, looked, detail = _cycle_violations(setting, labels, pooled, step_of)
        out.append(
            exact(
                f"ranks_disjoint_in_cycle[{world}]",
                setting,
                bad + int(looked == 0),
                int(pooled.size),
                f"the {world} ranks' draws interleaved by step: no member to two ranks within "
                f"a cycle ({looked} classes)" + detail,
            )
        )
    if f"ranks_pooled_prefix[{world}]" in planned:
        rows = per_batch_counts(pooled, labels, k)
        rates = (
            np.vstack(
                [
                    np.broadcast_to(_rates(setting, e), (steps * world, k))
                    for e in range(RANK_EPOCHS)
                ]
            )
            if steps
            else np.zeros((0, k))
        )
        bad, detail = _prefix_violations(setting, rows, rates, steps * world)
        out.append(
            exact(
                f"ranks_pooled_prefix[{world}]",
                setting,
                bad + int(rows.shape[0] == 0),
                int(pooled.size),
                "pooled counts of all ranks, step by step, within 1 of ideal: " + detail,
            )
        )
    if f"ranks_batches_not_repeated[{world}]" in planned:
        out.append(
            _not_repeated(
                f"ranks_batches_not_repeated[{world}]",
                setting,
                [
                    (f"rank {r} epoch {e}", mats[r][e][0])
                    for r in range(world)
                    for e in range(RANK_EPOCHS)
                ],
            )
        )
    if f"ranks_pooled_shares[{world}]" in planned:
        expected_rank = []
        for r in range(world):
            per_epoch = [per_batch_counts(m, labels, k) for m, _ in mats[r]]
            expected = sum(
                (x.shape[0] * config.target(e) for e, x in enumerate(per_epoch)), np.zeros(k)
            )
            expected_rank.append((np.vstack(per_epoch), np.asarray(expected, np.float64)))
            out.append(
                _shares(f"rank_shares[{world}/{r}]", setting, *expected_rank[-1], f"rank {r}")
            )
        out.append(
            _shares(
                f"ranks_pooled_shares[{world}]",
                setting,
                np.vstack([x for x, _ in expected_rank]),
                np.asarray(sum(e for _, e in expected_rank), np.float64),
                f"all {world} ranks pooled",
            )
        )
    if f"ranks_independent[{world}]" in planned:
        # Ranks 0 and 1 in epoch 0 (one target): i.i.d. draws on every rank are independent
        # of the other ranks', so their counts of the top class are too, at the same step and
        # one step apart either way (ranks that share a class generator at an offset).
        top = iid_checks.top_class(setting)
        first, second = (per_batch_counts(mats[r][0][0], labels, k)[:, top] for r in (0, 1))
        steps = min(first.size, second.size)
        pairings = {
            "at the same step": (first[:steps], second[:steps]),
            "rank 1 one step behind rank 0": (first[1:steps], second[: steps - 1]),
            "rank 1 one step ahead of rank 0": (first[: steps - 1], second[1:steps]),
        }
        tests = {
            name: stats.independence(iid_checks.paired_counts_table(a, b, batch))
            for name, (a, b) in pairings.items()
        }
        worst = min(tests, key=lambda name: tests[name].pvalue)
        # Bonferroni over the three pairings: each p-value is valid under the null.
        outcome = dataclasses.replace(
            tests[worst], pvalue=min(1.0, len(tests) * tests[worst].pvalue)
        )
        out.append(
            pending(
                f"ranks_independent[{world}]",
                setting,
                outcome,
                steps,
                f"counts of class {top} in the batches of ranks 0 and 1 of epoch 0 independent "
                "at the same step and one step apart either way (the smallest of the three "
                f"p-values, times 3: {worst}); expected/observed: pairs with equal counts",
                words=("ranks' batches depend on each other", "ranks' batches too unlike"),
            )
        )
    return out


def _resume_checks(run: _Run, planned: dict[str, bool]) -> list[CheckResult]:
    setting = run.setting
    plan: StreamPlan = setting.streams
    batch = setting.config.batch_size
    n = min(setting.n_batches, RESUME_BATCHES)
    straight = run.epochs(n, 3)
    want = [[p.tolist() for p in one] for one in straight]
    bad, compared, detail = 0, 0, ""
    not_json: list[str] = []
    kept: bytes | str = b""
    # Saved in epoch 0 (at its start, middle and end, before the pass ends) and in the middle
    # of epoch 1 (a state must carry its epoch); the last goes to a fresh process too.
    points = [(0, k) for k in sorted({0, n // 2, n})] + [(1, n // 2)]
    fresh: tuple[int, int] | str = ""
    for epoch, k in points:
        sampler = run.build(n)
        if plan.set_epoch:
            run.call(f"set_epoch({epoch})", functools.partial(sampler.set_epoch, epoch))
        else:
            for e in range(epoch):  # reach the epoch by passes
                run.call(f"pass {e} without set_epoch", functools.partial(list, sampler))
        run.call(f"the first {k} batches of epoch {epoch}", functools.partial(_take, sampler, k))
        state = run.call("state_dict()", sampler.state_dict)
        try:  # what a JSON checkpoint, or a StatefulDataLoader's, stores
            state = json.loads(json.dumps(state))
        except (TypeError, ValueError) as exc:
            not_json.append(f"epoch {epoch}, k = {k}: {exc}")
        start = _resume_start(state, epoch, k, n)
        if (epoch, k) == points[-1] and "resume_in_fresh_process" in planned:
            kept = _pickled(state)  # before load_state_dict can touch it
            fresh = start
        if isinstance(start, str):  # no training loop can resume from it
            bad += 1
            compared += len(want[epoch][k:] + want[epoch + 1])
            detail = detail or f"; {start}"
            continue
        # As a training loop that resumes from the state: set_epoch with the state's epoch.
        resumed, position = start
        resave = (epoch, k) == (0, n // 2)
        # Its own copy for the second load: the first may consume or change the dict it gets.
        own = _copied(state) if resave else None
        loaded = run.build(n)
        run.call("load_state_dict()", functools.partial(loaded.load_state_dict, state))
        expected = want[resumed][position:] + want[resumed + 1]
        if resave:
            # A job that checkpoints again right after resuming, before reading a batch.
            probe = run.build(n)
            run.call("load_state_dict()", functools.partial(probe.load_state_dict, own))
            if plan.set_epoch:
                run.call(f"set_epoch({resumed})", functools.partial(probe.set_epoch, resumed))
            saved = run.call("state_dict() right after load_state_dict()", probe.state_dict)
            again = run.build(n)
            run.call("load_state_dict()", functools.partial(again.load_state_dict, saved))
            got = _continuation(run, again, resumed, plan.set_epoch)
            compared += len(expected)
            if got != expected:
                bad += 1
                detail = detail or (
                    f"; saved after {k} batches of epoch {epoch}, loaded, saved again at once "
                    "and loaded: " + _difference(got, expected, resumed, position, plan.set_epoch)
                )
        got = _continuation(run, loaded, resumed, plan.set_epoch)
        compared += len(expected)
        if got != expected:
            bad += 1
            if not detail:
                detail = f"; saved after {k} batches of epoch {epoch}: " + _difference(
                    got, expected, resumed, position, plan.set_epoch
                )
    out = [
        exact(
            "resume_continues_exactly",
            setting,
            bad + int(compared == 0),
            compared * batch,
            f"state saved after k = 0, {n // 2}, {n} of {n} batches of epoch 0 and {n // 2} of "
            "epoch 1, loaded into a fresh sampler: the rest of the epoch and the next as "
            f"uninterrupted, also from a state saved right after loading (k = {n // 2} of "
            "epoch 0)" + detail,
        ),
        exact(
            "resume_state_is_json",
            setting,
            len(not_json),
            len(points),
            "state_dict() survives json.dumps / json.loads"
            + (f"; not at {not_json[0]}" if not_json else ""),
        ),
    ]
    if "resume_in_fresh_process" in planned:
        epoch, k = points[-1]
        if isinstance(fresh, str):
            where = f"state saved after {k} of {n} batches of epoch {epoch}"
            out.append(exact("resume_in_fresh_process", setting, 1, 0, f"{where}: {fresh}"))
        else:
            resumed, position = fresh
            out.append(
                _fresh_process_check(
                    run,
                    kept,
                    want[resumed][position:] + want[resumed + 1],
                    (epoch, k),
                    fresh,
                    n,
                )
            )
    if "resume_refuses_foreign_state" in planned:
        other = run.build(n, seed=run.seed + 1)
        state = run.call("state_dict()", other.state_dict)
        mine = run.build(n)
        try:
            run.call("load_state_dict()", functools.partial(mine.load_state_dict, state))
            refused, text = False, "a state of seed s + 1 was accepted by a sampler of seed s"
        except calls.CallTimedOut:
            raise  # a hang is no refusal
        except Exception as exc:
            refused, text = True, f"a state of seed s + 1 was refused ({type(exc).__name__})"
        out.append(exact("resume_refuses_foreign_state", setting, int(not refused), 1, text))
    return out


def _copied(state: Any) -> Any:
    """A deep copy of ``state``, or ``state`` itself when it cannot be copied (then a load
    that changes its dict shows in the check, as it would in a job that reused it)."""
    try:
        return copy.deepcopy(state)
    except Exception:  # a state holding what cannot be copied: read it as it is
        return state


def _continuation(run: _Run, sampler: Any, epoch: int, set_epoch: bool) -> list[Any]:
    """The rest of ``epoch`` and all of the next, read from a resumed ``sampler``."""
    rest = [p.tolist() for p in run.read(sampler, epoch if set_epoch else None)]
    return rest + [p.tolist() for p in run.read(sampler, epoch + 1 if set_epoch else None)]


def _resume_start(state: Any, epoch: int, k: int, n: int) -> tuple[int, int] | str:
    """Where a run resumed from ``state`` (saved after ``k`` of ``n`` batches of ``epoch``)
    continues: ``(epoch, first batch)``, or why no training loop could resume from it.

    A training loop that resumes from a checkpoint reads the epoch from it and calls
    ``set_epoch`` with it: with the state's own epoch, its integer ``"epoch"`` entry when it
    has one (the epoch saved in otherwise). A state saved after the last batch of an epoch
    may name that epoch (nothing left of it) or the next one (at its start): both are the
    same place. Any other epoch is wrong.
    """
    named: Any = state.get("epoch") if isinstance(state, Mapping) else None
    own = int(named) if _validate.is_int(named) else None
    if own is None or own == epoch:
        return epoch, k
    if own == epoch + 1 and k == n:
        return epoch + 1, 0
    return (
        f"saved after {k} of {n} batches of epoch {epoch}, the state names epoch {own} (a "
        f"loop that resumes from it calls set_epoch({own}))"
    )


def _difference(got: list[Any], expected: list[Any], epoch: int, k: int, set_epoch: bool) -> str:
    """Where a resumed run (saved after ``k`` batches of ``epoch``) leaves the uninterrupted
    one."""
    first = next(
        (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
        min(len(got), len(expected)),
    )
    # `expected` is batches k.. of `epoch` and all n of the next: n - k + n of them.
    n = (len(expected) + k) // 2
    where = (
        f"batch {k + first} of epoch {epoch}"
        if k + first < n
        else (f"batch {k + first - n} of epoch {epoch + 1}")
    )
    return (
        f"first difference at {where} ({len(got)} batches follow the resume, want "
        f"{len(expected)})"
        + (
            f" (set_epoch({epoch}), the state's epoch, called after load_state_dict)"
            if set_epoch
            else ""
        )
    )


def _pickled(state: Any) -> bytes | str:
    """The state as a fresh process gets it (pickled, as ``torch.save`` stores it), or why it
    cannot be."""
    import pickle

    try:
        return pickle.dumps(state)
    except Exception as exc:  # whatever pickling raised: no checkpoint can hold the state
        return f"the state cannot be pickled ({type(exc).__name__}: {exc})"


def _fresh_process_check(
    run: _Run,
    state: bytes | str,
    expected: list[Any],
    saved: tuple[int, int],
    start: tuple[int, int],
    n: int,
) -> CheckResult:
    """``resume_in_fresh_process``: the state saved after ``k`` batches of ``epoch``
    (``saved``), loaded in another interpreter that calls ``set_epoch`` with the state's
    epoch, gives the rest of the run from ``start`` (the state's epoch and first batch) as
    uninterrupted."""
    setting, adapter = run.setting, run.adapter
    plan: StreamPlan = setting.streams
    epoch, k = start
    where = f"state saved after {saved[1]} of {n} batches of epoch {saved[0]}"
    spec, origin, why = _fresh.import_spec(adapter.make_sampler, adapter.spec)
    if isinstance(state, str) or why:
        because = state if isinstance(state, str) else f"the target is not importable ({why})"
        return exact("resume_in_fresh_process", setting, 1, 0, f"{where}: {because}")
    config = setting.config
    try:
        passes = _fresh.resume(
            spec,
            origin,
            index_sampler=adapter.index_sampler,
            arguments={
                "labels": run.labels.copy(),
                "kind": setting.kind,
                "alpha": config.alpha,
                "batch_size": config.batch_size,
                "n_batches": n,
                "seed": run.seed,
                "num_replicas": 1,
                "rank": 0,
                **setting.options,
            },
            state=state,
            epochs=[epoch, epoch + 1] if plan.set_epoch else [None, None],
            timeout=run.timeout,
        )
    except _fresh.FreshProcessFailed as exc:
        return exact("resume_in_fresh_process", setting, 1, 0, f"{where}: {exc}")
    got = [batch for one in passes for batch in one]
    return exact(
        "resume_in_fresh_process",
        setting,
        int(got != expected) + int(not expected),
        len(expected) * config.batch_size,
        f"{where}, loaded by {spec} in a fresh Python process: "
        + (
            "the rest of the epoch and the next as uninterrupted"
            if got == expected
            else _difference(got, expected, epoch, k, plan.set_epoch)
        ),
    )


def detect(
    adapter: SamplerAdapter,
    settings: Iterable[Setting],
    epochs: int,
    world_sizes: tuple[int, ...],
    timeout: float | None = None,
) -> StreamPlan:
    """The :class:`StreamPlan` of a run: the sampler's methods, read off one sampler built for
    the first (kind, configuration) that builds.

    When none builds, every method is absent; if some build raised anything but
    ``NotImplementedError`` (a decline, which the main run lists) or hung, the plan's
    ``problem`` says so and the stream checks fail: detection that failed is no pass.
    """
    problem = ""
    for setting in settings:
        config = setting.config
        try:
            has_epoch, has_state, has_len, why, epoch_why = adapter.capabilities(
                config.labels(),
                timeout=timeout,
                kind=setting.kind,
                alpha=config.alpha,
                batch_size=config.batch_size,
                n_batches=2,
                seed=0,
                **setting.options,
            )
        except NotImplementedError:
            continue
        except Exception as exc:
            if not problem:
                what = (
                    str(exc)
                    if isinstance(exc, calls.CallTimedOut)
                    else f"building the sampler raised {type(exc).__name__}: {exc}"
                )
                problem = f"{setting.kind}/{config.name}: {what}"
            continue
        return StreamPlan(
            epochs,
            world_sizes,
            has_epoch,
            has_state,
            has_len,
            adapter.refuses_foreign,
            len_problem=why,
            epoch_problem=epoch_why,
            fresh_note=_fresh_process_note(adapter) if has_state else "",
        )
    return StreamPlan(
        epochs, world_sizes, False, False, False, adapter.refuses_foreign, problem=problem
    )


def _fresh_process_note(adapter: SamplerAdapter) -> str:
    """Why a resume in a fresh process cannot be checked, or "" (and the process starts,
    importing the target while the run goes on)."""
    spec, origin, why = _fresh.import_spec(adapter.make_sampler, adapter.spec)
    if why:
        return (
            f"resume in a fresh process not checked: target not importable ({why}); name it "
            "MODULE:CALLABLE at module level to check it"
        )
    _fresh.warm(spec, origin)
    return ""


def validate_streams(epochs: Any, world_sizes: Any) -> tuple[int, tuple[int, ...]]:
    """Check ``epochs`` (an int >= :data:`~refsampler.conformance.constants.MIN_EPOCHS`) and
    ``world_sizes`` (positive ints); return them, the world sizes without repeats.

    Parameters
    ----------
    epochs : int
        Passes of the epoch checks.
    world_sizes : iterable of int
        World sizes of the rank checks.

    Returns
    -------
    tuple
        ``(epochs, world_sizes)``.

    Raises
    ------
    InvalidArgumentError
        If ``epochs`` is not an int of at least 2, or ``world_sizes`` is empty or holds
        anything but positive ints of at most :data:`MAX_WORLD_SIZE`.
    """
    e = _epochs("epochs", epochs)
    sizes = tuple(world_sizes)
    if not sizes or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in sizes):
        raise _validate.fail("world_sizes", "must be positive integers", world_sizes)
    _world_limit("world_sizes", sizes, world_sizes)
    return e, tuple(dict.fromkeys(sizes))


def _world_limit(name: str, sizes: tuple[int, ...], value: Any) -> None:
    """Refuse world sizes above :data:`MAX_WORLD_SIZE`, naming the option and ``value``."""
    if max(sizes) > MAX_WORLD_SIZE:
        raise _validate.fail(name, f"must not exceed {MAX_WORLD_SIZE} ranks", value)


def _epochs(name: str, value: Any) -> int:
    """``value`` as the number of epochs of the epoch checks; one message for every bad value."""
    if not _validate.is_int(value) or int(value) < MIN_EPOCHS:
        raise _validate.fail(name, f"must be an int >= {MIN_EPOCHS}", value)
    return int(value)


class SamplerOptions(NamedTuple):
    """The sampler-API options of a command line, checked (see :func:`sampler_options`).

    Attributes
    ----------
    index_sampler : bool
        The sampler yields single positions (batched by ``BatchSampler``).
    epochs : int or None
        Passes of the epoch checks (None: the level's default, :data:`EPOCHS`).
    world_sizes : tuple of int or None
        World sizes of the rank checks (None: :data:`DEFAULT_WORLD_SIZES`).
    """

    index_sampler: bool
    epochs: int | None
    world_sizes: tuple[int, ...] | None


def sampler_options(
    api: str,
    *,
    index_sampler: bool = False,
    epochs: Any = None,
    world_size: Any = None,
    prefix: str = "--",
) -> SamplerOptions:
    """Check the options only ``--api sampler`` reads, as a command line gives them.

    ``refsampler verify`` (``--index-sampler``, ``--epochs E``, ``--world-size W,W,...``) and
    the pytest plugin (the same options named ``--refsampler-...``, or their ini keys) both
    read them here, so they mean the same and fail with the same messages.

    Parameters
    ----------
    api : str
        The ``--api`` of the run; the other options need ``"sampler"``.
    index_sampler : bool
        Whether ``--index-sampler`` was given.
    epochs : int or str, optional
        ``--epochs`` as given (None or "" when absent): an int of at least
        :data:`~refsampler.conformance.constants.MIN_EPOCHS`.
    world_size : str, optional
        ``--world-size`` as given (None or "" when absent): comma-separated positive ints.
    prefix : str
        What the option names start with in messages: ``"--"`` for ``refsampler verify``,
        ``"--refsampler-"`` for the pytest plugin.

    Returns
    -------
    SamplerOptions
        ``epochs`` and ``world_sizes`` are None where the option was not given.

    Raises
    ------
    InvalidArgumentError
        If an option is given with another API, ``epochs`` is not an int of at least 2, or
        ``world_size`` is not comma-separated positive ints (an empty item included) of at
        most :data:`MAX_WORLD_SIZE`; the message names the option and the value.

    Examples
    --------
    >>> from refsampler.conformance.streams import sampler_options
    >>> sampler_options("sampler", world_size="1,2,3", epochs="4")
    SamplerOptions(index_sampler=False, epochs=4, world_sizes=(1, 2, 3))
    >>> sampler_options("sampler", epochs=1)
    Traceback (most recent call last):
    ...
    refsampler.errors.InvalidArgumentError: `--epochs` must be an int >= 2; got 1.
    """
    absent = (None, "")
    if api != "sampler":
        if index_sampler or epochs not in absent or world_size not in absent:
            raise InvalidArgumentError(
                f"{prefix}index-sampler, {prefix}epochs and {prefix}world-size need "
                f"{prefix}api sampler"
            )
        return SamplerOptions(False, None, None)
    count: int | None = None
    if epochs not in absent:
        try:  # a command line's text; the number itself in the message once it is one
            value = _validate.integer(epochs) if isinstance(epochs, str) else epochs
        except ValueError:
            value = epochs
        count = _epochs(f"{prefix}epochs", value)
    sizes: tuple[int, ...] | None = None
    if world_size not in absent:
        try:  # an empty item (`1,,2`) is an error too, not read as `1,2`
            sizes = tuple(_validate.integer(part) for part in str(world_size).split(","))
        except ValueError:
            sizes = ()
        if not sizes or min(sizes) < 1:
            raise _validate.fail(
                f"{prefix}world-size", "must be comma-separated positive integers", world_size
            )
        _world_limit(f"{prefix}world-size", sizes, world_size)
    return SamplerOptions(bool(index_sampler), count, sizes)


def index_sampler_hint(adapter: Any, problem: str) -> str:
    """What to add to a refused batch's message when the refusal suggests the wrong
    ``index_sampler`` setting ("" otherwise).

    A sampler adapter without ``index_sampler`` whose batches are single values is most
    likely a per-index sampler; one with it whose batches are nested is most likely a batch
    sampler. The hint names the switch as :attr:`SamplerAdapter.index_sampler_option` does.

    Parameters
    ----------
    adapter : object
        The adapter the batches came from (no hint unless a :class:`SamplerAdapter`).
    problem : str
        Why a batch was refused (:func:`~refsampler.conformance.positions.batch_positions`).

    Returns
    -------
    str
        ``"; ..."`` or "".
    """
    if not isinstance(adapter, SamplerAdapter):
        return ""
    option = adapter.index_sampler_option
    if not adapter.index_sampler and SINGLE_VALUE in problem:
        return f"; a per-index sampler (one that yields single positions) needs {option}"
    if adapter.index_sampler and NESTED in problem:
        return f"; a batch sampler (one that yields whole batches) must be checked without {option}"
    return ""
