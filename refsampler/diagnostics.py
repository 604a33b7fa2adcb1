"""What a sampler configuration does to each class: per-class tables of counts and coverage.

:func:`describe` answers "what will every batch and every epoch look like?" before training.
It reads the plan's own tables (the kind's per-batch counts and rates), never draws a batch,
and costs ``O(K)`` whatever the number of batches. :func:`targets_by_epoch` tabulates the
target of an alpha schedule; :func:`realised_shares` measures what a sampler actually yielded.
The plots are in :mod:`refsampler.plots`.

This module imports numpy only: a sampler is recognised by its ``plan`` attribute, so that
``refsampler plan`` starts without loading torch.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from . import _validate
from . import kinds as kinds_registry
from .classes import ClassIndex, num_classes_of
from .errors import InvalidArgumentError
from .kinds.base import CountedPlan, SampledPlan, Setting
from .plan import Plan
from .schedules import AlphaSchedule, TargetOfEpoch, alpha_source
from .targets import interpolate, resolve

__all__ = ["Description", "TargetsByEpoch", "describe", "realised_shares", "targets_by_epoch"]

IntVector = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]
FloatMatrix = npt.NDArray[np.float64]
Row = dict[str, Any]
Column = tuple[str, Callable[[Row], str]]


# -- targets of an alpha schedule -----------------------------------------------------------


@dataclass(frozen=True)
class TargetsByEpoch:
    """The target of an alpha schedule at a few epochs, as returned by :func:`targets_by_epoch`.

    Attributes
    ----------
    schedule : AlphaSchedule
    epochs : numpy.ndarray of int64, shape (E,)
        Increasing epochs.
    alphas : numpy.ndarray of float64, shape (E,)
        ``schedule(epoch)`` of every epoch.
    targets : numpy.ndarray of float64, shape (E, K)
        Row ``i`` is the target of ``epochs[i]``:
        :func:`~refsampler.targets.interpolate` at ``alphas[i]``.
    """

    schedule: AlphaSchedule
    epochs: IntVector
    alphas: FloatVector
    targets: FloatMatrix

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the schedule (``AlphaSchedule.to_dict``), epochs, alphas and targets."""
        return {
            "schedule": self.schedule.to_dict(),
            "epochs": self.epochs.tolist(),
            "alphas": self.alphas.tolist(),
            "targets": self.targets.tolist(),
        }

    def to_text(self) -> str:
        """A table with one column per epoch and one line per class."""
        header = [
            ["epoch", *(f"{e}" for e in self.epochs.tolist())],
            ["alpha", *(f"{a:g}" for a in self.alphas.tolist())],
        ]
        body = [
            [f"{c}", *(_fmt_percent(p) for p in self.targets[:, c].tolist())]
            for c in range(self.targets.shape[1])
        ]
        title = f"target by epoch (class shares), alpha schedule {self.schedule}"
        return "\n".join([title, *_render(header, body)])


def targets_by_epoch(class_counts: Any, schedule: Any, epochs: Any = None) -> TargetsByEpoch:
    """The target of an alpha schedule at a few epochs.

    Parameters
    ----------
    class_counts : array_like of int, shape (K,)
    schedule : AlphaSchedule
        E.g. :func:`refsampler.schedules.piecewise` or ``refsampler.schedules.parse("0:0,90:1")``.
    epochs : array_like of int, optional
        The epochs to tabulate. By default epoch 0, every knot, and the epoch halfway between
        consecutive knots.

    Returns
    -------
    TargetsByEpoch

    Raises
    ------
    InvalidArgumentError
        If ``schedule`` is not an :class:`~refsampler.schedules.AlphaSchedule`, the counts or
        epochs are invalid, or an alpha of the schedule gives an empty class a share.

    Examples
    --------
    >>> from refsampler.diagnostics import targets_by_epoch
    >>> from refsampler.schedules import piecewise
    >>> table = targets_by_epoch([600, 300, 100], piecewise([(0, 0.0), (90, 1.0)]))
    >>> table.epochs.tolist(), table.alphas.tolist()
    ([0, 45, 90], [0.0, 0.5, 1.0])
    >>> table.targets[1].round(4).tolist()
    [0.4667, 0.3167, 0.2167]
    """
    counts = _validate.class_counts_vector("class_counts", class_counts)
    if not isinstance(schedule, AlphaSchedule):
        raise _validate.fail(
            "schedule", "must be an AlphaSchedule (see refsampler.schedules)", schedule
        )
    if epochs is None:
        grid = _table_epochs(schedule)
    else:
        grid = np.unique(_validate.int_vector("epochs", epochs))
    alphas = np.array([schedule(e) for e in grid.tolist()], dtype=np.float64)
    targets = np.stack([interpolate(counts, a) for a in alphas.tolist()])
    return TargetsByEpoch(schedule, grid, alphas, targets)


def _table_epochs(schedule: AlphaSchedule) -> IntVector:
    """Epoch 0, the knots, and the epoch halfway between consecutive knots."""
    knots = [e for e, _ in schedule.knots]
    halves = [(a + b) // 2 for a, b in itertools.pairwise(knots) if b - a > 1]
    return np.unique(np.array([0, *knots, *halves], dtype=np.int64))


# -- the per-class table --------------------------------------------------------------------


@dataclass(frozen=True)
class Description:
    """Per-class plan of a sampler configuration, as returned by :func:`describe`.

    Every per-class attribute is a numpy array of shape (K,), indexed by class id. *Per batch*
    means one batch of one rank. *Per epoch* means all ``n_batches * num_replicas`` batches of
    an epoch, summed over the ranks. Figures are long-run values of the kind's plan (see
    :func:`describe`).

    Attributes
    ----------
    kind : str
        A registered kind (``"fixed"``, ``"quota"``, ``"random"``, ``"pk"``).
    properties : frozenset of str
        The kind's contract properties (:mod:`refsampler.kinds`).
    batch_size, n_batches, num_replicas : int
        ``B``, batches per epoch on each rank, and the number of ranks ``R``.
    samples_per_class : int or None
        ``m`` of the pk kind: every batch holds ``B / m`` classes with ``m`` members each.
    alpha : float, AlphaSchedule or None
        Where the target comes from; None for an explicit target.
    epoch : int
        The epoch whose target the columns describe (it matters only when the target moves).
    moving : bool
        True when the target moves with the epoch (an alpha schedule).
    class_counts : numpy.ndarray of int64
        ``n_c``, samples per class.
    shares : numpy.ndarray of float64
        ``n_c / N``, the true class shares.
    target : numpy.ndarray of float64
        ``p_c``, the target shares of ``epoch``.
    per_batch_min, per_batch_max : numpy.ndarray of float64
        Fewest and most draws of the class in one batch over the run (NaN for random, whose
        counts are binomial).
    per_batch_mean, per_batch_sd : numpy.ndarray of float64
        Mean and standard deviation of the class's draws in one batch, over the run's batches
        (over the randomness for random: ``B p_c`` and ``sqrt(B p_c (1 - p_c))``).
    batch_share : numpy.ndarray of float64
        Fraction of batches that hold the class at all: for pk its appearance rate
        ``P p_c``; for random its expectation ``1 - (1 - p_c)^B``.
    draws_per_epoch : numpy.ndarray of float64
        Mean draws of the class per epoch, summed over all ranks:
        ``n_batches * num_replicas * per_batch_mean``.
    oversampling : numpy.ndarray of float64
        ``draws_per_epoch / n_c``, over all ranks: above 1 members repeat within an epoch,
        below 1 only part of the class is seen per epoch. NaN for an empty class.
    epochs_to_see_all : numpy.ndarray of float64
        Epochs (of all ranks) until every member of the class has been drawn; see
        :func:`describe`. 0 for an empty class, ``inf`` for a class that is never drawn.
    schedule : TargetsByEpoch or None
        The target at a few epochs, when ``alpha`` is a schedule.
    """

    kind: str
    properties: frozenset[str]
    batch_size: int
    n_batches: int
    num_replicas: int
    samples_per_class: int | None
    alpha: float | AlphaSchedule | None
    epoch: int
    moving: bool
    class_counts: IntVector
    shares: FloatVector
    target: FloatVector
    per_batch_min: FloatVector
    per_batch_max: FloatVector
    per_batch_mean: FloatVector
    per_batch_sd: FloatVector
    batch_share: FloatVector
    draws_per_epoch: FloatVector
    oversampling: FloatVector
    epochs_to_see_all: FloatVector
    schedule: TargetsByEpoch | None = field(default=None)

    @property
    def num_classes(self) -> int:
        """``K``."""
        return int(self.class_counts.size)

    @property
    def batches_per_epoch(self) -> int:
        """Batches of one epoch over all ranks: ``n_batches * num_replicas``."""
        return self.n_batches * self.num_replicas

    def ties(self) -> tuple[IntVector, int]:
        """Classes of the fixed kind that take turns on tied seats, and how many seats.

        When largest-remainder rounding of ``B p`` leaves ``s`` seats to ``T > s`` classes with
        exactly equal remainders, the fixed kind gives every batch of an epoch the same
        vector, with the ``s`` seats going to ``s`` of the ``T`` classes in rounds of random
        order over the epochs.

        Returns
        -------
        classes : numpy.ndarray of int64
            The ``T`` tied classes (empty when there are none, or for other kinds).
        seats : int
            ``s``, the tied seats of every batch.
        """
        if kinds_registry.PROPERTY_FIXED_COUNTS not in self.properties:
            return np.zeros(0, dtype=np.int64), 0
        tied = np.flatnonzero(self.per_batch_max > self.per_batch_min)
        extra = self.per_batch_mean[tied] - self.per_batch_min[tied]
        return tied, round(math.fsum(extra.tolist()))

    def rows(self) -> list[Row]:
        """One dict per class; every kind has the same keys.

        Returns
        -------
        list of dict
            Keys ``class``, ``count``, ``share``, ``target``, ``per_batch_min``,
            ``per_batch_max``, ``per_batch_mean``, ``per_batch_sd``, ``batch_share``,
            ``draws_per_epoch``, ``oversampling``, ``epochs_to_see_all`` (the attributes of
            the same names). Non-finite numbers are ``None``.
        """
        columns = {
            "per_batch_min": self.per_batch_min,
            "per_batch_max": self.per_batch_max,
            "per_batch_mean": self.per_batch_mean,
            "per_batch_sd": self.per_batch_sd,
            "batch_share": self.batch_share,
            "draws_per_epoch": self.draws_per_epoch,
            "oversampling": self.oversampling,
            "epochs_to_see_all": self.epochs_to_see_all,
        }
        lists = {name: values.tolist() for name, values in columns.items()}
        counts, shares, target = (
            self.class_counts.tolist(),
            self.shares.tolist(),
            self.target.tolist(),
        )
        out = []
        for c in range(self.num_classes):
            row: Row = {"class": c, "count": counts[c], "share": shares[c], "target": target[c]}
            for name, values in lists.items():
                row[name] = _finite_or_none(values[c])
            for name in ("per_batch_min", "per_batch_max"):
                if row[name] is not None:
                    row[name] = int(row[name])
            out.append(row)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary: the configuration, :meth:`rows` under ``classes``, and
        the schedule's table under ``schedule`` (None without one)."""
        alpha: Any = self.alpha
        if isinstance(alpha, AlphaSchedule):
            alpha = alpha.to_dict()
        return {
            "kind": self.kind,
            "properties": sorted(self.properties),
            "batch_size": self.batch_size,
            "n_batches": self.n_batches,
            "num_replicas": self.num_replicas,
            "batches_per_epoch": self.batches_per_epoch,
            "samples_per_class": self.samples_per_class,
            "alpha": alpha,
            "epoch": self.epoch,
            "moving": self.moving,
            "num_classes": self.num_classes,
            "size": int(self.class_counts.sum()),
            "classes": self.rows(),
            "schedule": None if self.schedule is None else self.schedule.to_dict(),
        }

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as a JSON string; keyword arguments go to :func:`json.dumps`."""
        return json.dumps(self.to_dict(), **kwargs)

    def to_text(self) -> str:
        """Plain text: a header naming the configuration, one line per class, and the
        schedule's table when there is one."""
        columns = self._columns()
        rows = self.rows()
        lines = [self._header()]
        lines += _render(
            [[name for name, _ in columns]], [[f(r) for _, f in columns] for r in rows]
        )
        tied, seats = self.ties()
        if tied.size:
            lines.append(_tie_note(tied, seats))
        if self.schedule is not None:
            lines += ["", self.schedule.to_text()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def _header(self) -> str:
        kind = f"kind {self.kind}"
        if self.samples_per_class is not None:
            m = self.samples_per_class
            kind += f" ({_plural(self.batch_size // m, 'class')} x {m} samples per batch)"
        ranks = ""
        if self.num_replicas > 1:
            ranks = (
                f" on each of {self.num_replicas} ranks (per-epoch columns: all "
                f"{self.batches_per_epoch} batches)"
            )
        source = ""
        if isinstance(self.alpha, AlphaSchedule):
            source = (
                f", alpha schedule {self.alpha}, epoch {self.epoch} "
                f"(alpha {self.alpha(self.epoch):g})"
            )
        elif self.alpha is not None:
            source = f", alpha {self.alpha:g}"
        elif self.moving:
            source = f", target of epoch {self.epoch}"
        return (
            f"{kind}, batch size {self.batch_size}, {_plural(self.n_batches, 'batch')} per "
            f"epoch{ranks}{source}; {_plural(int(self.class_counts.sum()), 'sample')} in "
            f"{_plural(self.num_classes, 'class')}"
        )

    def _columns(self) -> list[Column]:
        """The table's columns: the class, then the kind's per-batch view, then the epoch."""
        scope = ", all ranks" if self.num_replicas > 1 else ""
        props = self.properties
        per_batch: list[Column]
        if kinds_registry.PROPERTY_FIXED_COUNTS in props:
            per_batch = [("per batch", _count_range)]
        elif kinds_registry.PROPERTY_PK_SHAPE in props:
            per_batch = [
                ("in batches", lambda r: _fmt_percent(r["batch_share"], 1)),
                (
                    f"batches/epoch{scope}",
                    lambda r: _fmt_count(r["batch_share"] * self.batches_per_epoch),
                ),
            ]
        elif kinds_registry.PROPERTY_IID_CLASSES in props:
            per_batch = [
                ("batch E", lambda r: f"{r['per_batch_mean']:.3f}"),
                ("batch SD", lambda r: f"{r['per_batch_sd']:.3f}"),
            ]
        else:
            per_batch = [
                ("batch min", lambda r: f"{r['per_batch_min']}"),
                ("batch max", lambda r: f"{r['per_batch_max']}"),
                ("batch mean", lambda r: f"{r['per_batch_mean']:.3f}"),
            ]
        see_all = "epochs to see all"
        if self.moving:
            see_all += " (at this rate)"
        return [
            ("class", lambda r: f"{r['class']}"),
            ("count", lambda r: f"{r['count']}"),
            ("share", lambda r: _fmt_percent(r["share"])),
            ("target", lambda r: _fmt_percent(r["target"])),
            *per_batch,
            (f"draws/epoch{scope}", lambda r: _fmt_count(r["draws_per_epoch"])),
            (f"oversampling{scope}", lambda r: _fmt_number(r["oversampling"], "{:.2f}x")),
            (see_all, lambda r: _fmt_number(r["epochs_to_see_all"], "{:.4g}")),
        ]


def describe(
    sampler_or_counts: Any,
    batch_size: int | None = None,
    *,
    alpha: float | AlphaSchedule | None = None,
    target: Any = None,
    kind: str = "fixed",
    n_batches: int | None = None,
    num_replicas: int = 1,
    samples_per_class: int | None = None,
    epoch: int | None = None,
) -> Description:
    """Per-class table of what a sampler configuration does to each class.

    Parameters
    ----------
    sampler_or_counts : sampler, Plan, or array_like of int
        A sampler (anything with a ``plan`` attribute, such as
        :class:`~refsampler.BalancedBatchSampler`) or a :class:`~refsampler.plan.Plan`, whose
        configuration is used (leave the configuration arguments out); or the class counts
        ``n_c``.
    batch_size : int
        ``B``; required with class counts.
    alpha : float or AlphaSchedule, optional
        As in :class:`~refsampler.BalancedBatchSampler`: defaults to 1.0 unless ``target`` is
        given. A schedule adds its table of targets by epoch (:func:`targets_by_epoch`).
    target : array_like of float, optional
        Explicit target shares.
    kind : str, default "fixed"
        A registered kind: ``"fixed"``, ``"quota"``, ``"random"`` or ``"pk"``.
    n_batches : int, optional
        Batches per epoch on each rank; defaults to ``ceil(N / (B * num_replicas))``.
    num_replicas : int, default 1
        Data-parallel ranks ``R``; every rank draws ``n_batches`` batches per epoch.
    samples_per_class : int, optional
        ``m`` of the pk kind (required there).
    epoch : int, optional
        The epoch whose target the columns describe when it moves with the epoch; defaults
        to the epoch a sampler's next pass yields, else 0.

    Returns
    -------
    Description
        Columns per class; ``str()`` of it is a table, ``.to_dict()`` is JSON-ready.

    Raises
    ------
    InvalidArgumentError
        On an invalid configuration (the sampler's messages), or when a sampler is passed
        together with configuration arguments.

    Notes
    -----
    Nothing is drawn: the figures come from the kind's plan (:mod:`refsampler.kinds`), in
    ``O(K)`` time and memory whatever ``n_batches``. An epoch has ``S = n_batches R`` batches
    (global slots); per-epoch figures count all of them.

    *Per batch.* Fixed: every batch of an epoch has the vector of
    :func:`~refsampler.allocation.allocate_with_ties`; classes tied for the last seats get
    one more in a fraction ``s / T`` of the epochs (:meth:`Description.ties`). Quota: class
    ``c`` gets ``floor(B p_c)`` and one more in a fraction ``B p_c - floor(B p_c)`` of the
    batches. pk: a class is in a fraction ``P p_c`` of the batches (``P = B / m``), with ``m``
    members each time. Random: Binomial(``B``, ``p_c``).

    *Epochs until every member has been seen.* The counted kinds draw members from shuffled
    cycles that continue across epochs, so every member has been drawn once the class's
    cumulative draws ``D_c`` reach ``n_c``. The kinds bound ``D_c`` after every batch: fixed
    gives a tied class its extra seat in ``floor(E s / T)`` of ``E`` epochs or more, quota
    gives the extra seat in ``floor(t r_c)`` of ``t`` batches or more, pk gives
    ``floor(t P p_c)`` appearances or more. The column is the first ``E`` at which that lower
    bound reaches ``n_c``: after ``E`` epochs every member has been drawn, for every seed.
    For a target that moves with the epoch every epoch has its own plan, and the column is
    ``n_c / draws_per_epoch``, the epochs it would take at this epoch's rate.

    Random draws with replacement; by the coupon-collector argument the expected number of
    draws until all ``n_c`` members have appeared is ``n_c H_{n_c}`` with
    ``H_n = sum_{i=1}^{n} 1/i``, so

    .. math:: E_c \\approx n_c H_{n_c} / d_c

    epochs with ``d_c`` the draws per epoch (a real number, not rounded).

    References
    ----------
    .. [1] W. Feller, *An Introduction to Probability Theory and Its Applications*, vol. 1,
       3rd ed., Wiley, 1968, section IX.3 (the coupon collector's problem).

    Examples
    --------
    >>> from refsampler.diagnostics import describe
    >>> table = describe([740, 70, 150, 20, 20], 32, alpha=0.5, kind="fixed")
    >>> table.per_batch_min.tolist(), table.per_batch_max.tolist()
    ([15.0, 4.0, 6.0, 3.0, 3.0], [15.0, 4.0, 6.0, 4.0, 4.0])
    >>> tied, seats = table.ties()
    >>> tied.tolist(), seats
    ([3, 4], 1)
    >>> table.epochs_to_see_all.tolist()
    [2.0, 1.0, 1.0, 1.0, 1.0]
    """
    config = _configure(
        sampler_or_counts,
        batch_size,
        alpha=alpha,
        target=target,
        kind=kind,
        n_batches=n_batches,
        num_replicas=num_replicas,
        samples_per_class=samples_per_class,
        epoch=epoch,
    )
    return _describe(config)


# -- configuration ----------------------------------------------------------------------------


class _ClassSizes:
    """What a kind reads of a :class:`~refsampler.classes.ClassIndex` to plan counts: the class
    sizes. Describing class counts needs no member positions, so memory stays O(K)."""

    def __init__(self, counts: IntVector) -> None:
        self.counts = counts
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.num_classes = int(counts.size)
        self.size = int(counts.sum())


@dataclass(frozen=True)
class _Config:
    """A validated configuration: a sampler's plan, or the arguments of :func:`describe`."""

    counts: IntVector
    kind: str
    batch_size: int
    n_batches: int
    num_replicas: int
    options: dict[str, Any]
    alpha: float | AlphaSchedule | None
    epoch: int
    #: The sampler's plan; None when the configuration came as class counts.
    plan: Plan | None
    #: The target when it does not move with the epoch.
    constant: FloatVector | None
    #: Kind plans built from the counts, by epoch (building one may cost O(K) Python steps).
    built: dict[int, CountedPlan | SampledPlan] = field(default_factory=dict)

    @property
    def moving(self) -> bool:
        return self.plan.moving if self.plan is not None else self.constant is None

    @property
    def properties(self) -> frozenset[str]:
        return kinds_registry.get(self.kind).properties

    def target(self, epoch: int) -> FloatVector:
        if self.plan is not None:
            return self.plan.target(epoch)
        target = self.target_of_epoch()
        return target if isinstance(target, np.ndarray) else target(epoch)

    def target_of_epoch(self) -> FloatVector | TargetOfEpoch:
        """The target as :class:`~refsampler.plan.Plan` takes it (of the class counts)."""
        if self.constant is not None:
            return self.constant
        if not isinstance(self.alpha, AlphaSchedule):  # no constant target: a schedule made it
            raise TypeError("a moving target comes from an alpha schedule")
        return TargetOfEpoch(self.counts, self.alpha)

    def build_plan(self, seed: int) -> Plan:
        """The sampler's plan, or one over the samples of the counts in class order (to draw
        batches from)."""
        if self.plan is not None:
            return self.plan
        labels = np.repeat(np.arange(self.counts.size), self.counts)
        return Plan(
            ClassIndex.from_labels(labels, self.counts.size),
            self.kind,
            self.target_of_epoch(),
            self.batch_size,
            self.n_batches,
            seed,
            self.num_replicas,
            self.options,
        )

    def kind_plan(self, epoch: int) -> CountedPlan | SampledPlan:
        """The kind's plan serving ``epoch`` (built from the class sizes for counts)."""
        if self.plan is not None:
            return self.plan.kind_plan(epoch)
        if self.moving and epoch in self.built:
            return self.built[epoch]
        if not self.moving and self.built:
            return next(iter(self.built.values()))
        options = dict(self.options)
        alpha = self.alpha(epoch) if isinstance(self.alpha, AlphaSchedule) else self.alpha
        if alpha is not None:
            options["alpha"] = alpha  # pk names the feasible alphas in its message
        setting = Setting(
            cast(ClassIndex, _ClassSizes(self.counts)),
            self.target(epoch),
            self.batch_size,
            self.n_batches,
            self.num_replicas,
            0,
            options,
            epoch if self.moving else None,
        )
        built: CountedPlan | SampledPlan = kinds_registry.load(self.kind).build(setting)
        self.built[epoch] = built
        return built


def _plan_of(value: Any) -> Plan | None:
    """The plan of a sampler (anything with a ``plan``), a plan itself, or None."""
    if isinstance(value, Plan):
        return value
    plan = getattr(value, "plan", None)
    return plan if isinstance(plan, Plan) else None


def _configure(
    sampler_or_counts: Any,
    batch_size: Any,
    *,
    alpha: Any,
    target: Any,
    kind: Any,
    n_batches: Any,
    num_replicas: Any,
    samples_per_class: Any,
    epoch: Any,
) -> _Config:
    """Validate :func:`describe`'s arguments (also :func:`refsampler.plots.plot_plan`'s)."""
    plan = _plan_of(sampler_or_counts)
    if plan is not None:
        given = {
            "batch_size": batch_size,
            "alpha": alpha,
            "target": target,
            "n_batches": n_batches,
            "samples_per_class": samples_per_class,
        }
        extra = [name for name, value in given.items() if value is not None]
        if kind != "fixed":
            extra.append("kind")
        if num_replicas != 1:
            extra.append("num_replicas")
        if extra:
            raise InvalidArgumentError(
                f"give a sampler or a configuration, not both; got a "
                f"{type(sampler_or_counts).__name__} and "
                + ", ".join(f"`{name}`" for name in extra)
                + "."
            )
        source_alpha = getattr(sampler_or_counts, "alpha", None)
        if not isinstance(source_alpha, AlphaSchedule):
            number = _validate.real_number(source_alpha)
            source_alpha = None if number is None else number
        if epoch is None:
            epoch = getattr(sampler_or_counts, "epoch", 0) if plan is not sampler_or_counts else 0
        positions = _validate.epoch_positions(plan.batch_size, plan.n_batches, plan.num_replicas)
        return _Config(
            counts=plan.index.counts.copy(),
            kind=plan.kind,
            batch_size=plan.batch_size,
            n_batches=plan.n_batches,
            num_replicas=plan.num_replicas,
            options=dict(plan.options),
            alpha=source_alpha,
            epoch=_validate.epoch(epoch, positions=positions),
            plan=plan,
            constant=None if plan.moving else plan.target(0),
        )

    counts = _validate.class_counts_vector("class_counts", sampler_or_counts)
    kind = _validate.kind(kind)
    if batch_size is None:
        raise InvalidArgumentError("`batch_size` is required with class counts; got None.")
    batch = _validate.batch_size(batch_size)
    options = _validate.kind_options(kind, {"samples_per_class": samples_per_class})
    replicas = _validate.positive_int("num_replicas", num_replicas)
    batches = _validate.n_batches_or_default(n_batches, int(counts.sum()), batch, replicas)
    positions = _validate.epoch_positions(batch, batches, replicas)
    the_epoch = _validate.epoch(0 if epoch is None else epoch, positions=positions)
    constant: FloatVector | None
    schedule = alpha if isinstance(alpha, AlphaSchedule) else None
    if schedule is not None:
        if target is not None:
            resolve(counts, alpha, target)  # the "not both" message
        constant = None
        # Every knot's target (the kind checks the epochs between them with the schedule).
        targets: list[tuple[FloatVector, float | None]] = [
            (resolve(counts, a, None), a) for _, a in schedule.knots
        ]
    else:
        constant = resolve(counts, alpha, target)
        targets = [(constant, cast("float | None", alpha_source(alpha, target)))]
    source = alpha_source(alpha, target)
    # The kind's own checks, as the sampler makes them (every knot of a schedule).
    options = kinds_registry.check(kind, counts, batch, options, targets, schedule)
    config = _Config(
        counts=counts,
        kind=kind,
        batch_size=batch,
        n_batches=batches,
        num_replicas=replicas,
        options=options,
        alpha=source,
        epoch=the_epoch,
        plan=None,
        constant=constant,
    )
    # Building the kind's plans refuses what the sampler refuses (an infeasible fixed or pk
    # configuration); a schedule is checked at its knots, as the sampler does.
    checked = {the_epoch}
    if isinstance(source, AlphaSchedule):
        checked.update(e for e, _ in source.knots)
    if kinds_registry.PROPERTY_IID_CLASSES not in config.properties:
        for e in sorted(checked):
            config.kind_plan(e)
    return config


# -- the figures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PerBatch:
    """A counted kind's draws of each class in one batch: ``low``, or ``high`` in a long-run
    fraction ``num / den`` of the batches. The choice is made once per ``unit`` consecutive
    global batches, and after ``j`` choices at least ``floor(j num / den)`` were ``high``."""

    low: FloatVector
    high: FloatVector
    num: FloatVector
    den: FloatVector
    unit: int

    @property
    def rate(self) -> FloatVector:
        return self.num / self.den

    @property
    def mean(self) -> FloatVector:
        return self.low + (self.high - self.low) * self.rate

    def guaranteed(self, slots: FloatVector, live: npt.NDArray[np.bool_]) -> FloatVector:
        """The fewest draws of the ``live`` classes in the first ``slots`` global batches."""
        step = (self.high - self.low)[live]
        choices = np.floor(slots / self.unit)
        return self.low[live] * slots + step * self.unit * np.floor(
            choices * self.num[live] / self.den[live]
        )


def _per_batch(properties: frozenset[str], table: dict[str, Any], slots: int) -> _PerBatch:
    """The per-batch model of a counted kind, from its plan's ``describe()`` table."""
    if kinds_registry.PROPERTY_FIXED_COUNTS in properties:
        low = np.asarray(table["certain"], dtype=np.float64)
        tied = np.asarray(table["tied"], dtype=np.int64)
        high, num, den = low.copy(), np.zeros_like(low), np.ones_like(low)
        high[tied] += 1
        num[tied] = table["tied_seats"]
        den[tied] = tied.size
        return _PerBatch(low, high, num, den, slots)  # one vector per epoch
    if kinds_registry.PROPERTY_QUOTA_COUNTS in properties:
        low = np.asarray(table["floors"], dtype=np.float64)
        rates = np.asarray(table["extra_rates"], dtype=np.float64)
        high = low + (rates > 0).astype(np.float64)
        return _PerBatch(low, high, rates, np.ones_like(low), 1)
    if kinds_registry.PROPERTY_PK_SHAPE in properties:
        m = float(table["samples_per_class"])
        rates = np.asarray(table["appearance_rates"], dtype=np.float64)
        low = np.zeros_like(rates)
        low[np.asarray(table["every_batch"], dtype=np.int64)] = m
        high = m * (rates > 0).astype(np.float64)
        return _PerBatch(low, high, rates, np.ones_like(rates), 1)
    raise NotImplementedError(
        f"describe has no per-batch model for a kind with properties {sorted(properties)}"
    )


def _describe(config: _Config) -> Description:
    counts = config.counts
    n = counts.astype(np.float64)
    p = np.array(config.target(config.epoch), dtype=np.float64)
    batch = config.batch_size
    slots = config.n_batches * config.num_replicas
    properties = config.properties
    live = (counts > 0) & (p > 0)
    epochs = np.where(counts == 0, 0.0, np.inf)
    samples: int | None = None
    if kinds_registry.PROPERTY_IID_CLASSES in properties:
        mean = batch * p
        sd = np.sqrt(batch * p * (1.0 - p))
        low = high = np.full(counts.size, np.nan)
        with np.errstate(divide="ignore"):  # log1p(-1) for a class with the whole target
            share = -np.expm1(batch * np.log1p(-p))
        draws = slots * mean
        epochs[live] = n[live] * _harmonic(counts[live]) / draws[live]
    else:
        kind_plan = config.kind_plan(config.epoch)
        table = kind_plan.describe()
        model = _per_batch(properties, table, slots)
        if kinds_registry.PROPERTY_PK_SHAPE in properties:
            samples = int(table["samples_per_class"])
        low, high, mean = model.low, model.high, model.mean
        rate = model.rate
        sd = (high - low) * np.sqrt(rate * (1.0 - rate))
        share = np.where(low > 0, 1.0, np.where(high > 0, rate, 0.0))
        draws = slots * mean
        live &= mean > 0
        if config.moving:
            epochs[live] = n[live] / draws[live]
        else:
            epochs[live] = _first_epoch_covered(n, model, slots, live)
    with np.errstate(divide="ignore", invalid="ignore"):
        oversampling = np.where(counts > 0, draws / np.where(counts > 0, n, 1.0), np.nan)
    schedule = None
    if isinstance(config.alpha, AlphaSchedule):
        schedule = targets_by_epoch(counts, config.alpha)
    return Description(
        kind=config.kind,
        properties=properties,
        batch_size=batch,
        n_batches=config.n_batches,
        num_replicas=config.num_replicas,
        samples_per_class=samples,
        alpha=config.alpha,
        epoch=config.epoch,
        moving=config.moving,
        class_counts=counts,
        shares=n / n.sum(),
        target=p,
        per_batch_min=np.asarray(low, dtype=np.float64),
        per_batch_max=np.asarray(high, dtype=np.float64),
        per_batch_mean=np.asarray(mean, dtype=np.float64),
        per_batch_sd=np.asarray(sd, dtype=np.float64),
        batch_share=np.asarray(share, dtype=np.float64),
        draws_per_epoch=np.asarray(draws, dtype=np.float64),
        oversampling=oversampling,
        epochs_to_see_all=epochs,
        schedule=schedule,
    )


def _first_epoch_covered(
    n: FloatVector, model: _PerBatch, slots: int, live: npt.NDArray[np.bool_]
) -> FloatVector:
    """The first whole number of epochs after which the kind's lower bound of the draws of
    each ``live`` class reaches its size: a bisection over epochs, all classes at once.

    The bound lies within one choice (``high - low`` draws, ``unit`` times) below the mean,
    so the answer lies between ``n / (S mean)`` and ``(n + unit (high - low)) / (S mean)``
    epochs: O(log) rounds of O(K) whatever the number of batches.
    """
    need = n[live]
    per_epoch = slots * model.mean[live]
    slack = model.unit * (model.high - model.low)[live]
    lo = np.maximum(1.0, np.ceil(need / per_epoch))
    hi = np.maximum(lo, np.ceil((need + slack) / per_epoch) + 1.0)
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        mid = np.floor((lo + hi) / 2)
        covered = model.guaranteed(mid * slots, live) >= need
        hi = np.where(open_ & covered, mid, hi)
        lo = np.where(open_ & ~covered, mid + 1, lo)


def _harmonic(counts: IntVector) -> FloatVector:
    """``H_n = sum_{i=1}^n 1/i`` for every entry (0 for n = 0).

    Exact summation up to 64; above it the asymptotic series
    ``ln n + gamma + 1/(2n) - 1/(12 n^2) + 1/(120 n^4)``, whose error is below 1e-14 there.
    """
    small = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, 65))])
    n = np.maximum(counts.astype(np.float64), 1.0)
    series = np.log(n) + np.euler_gamma + 1 / (2 * n) - 1 / (12 * n**2) + 1 / (120 * n**4)
    return np.where(counts <= 64, small[np.minimum(counts, 64)], series)


# -- realised shares --------------------------------------------------------------------------


def realised_shares(
    batches: Iterable[Sequence[int]] | npt.ArrayLike,
    labels: Any,
    *,
    num_classes: int | None = None,
) -> FloatVector:
    """Share of each class among all positions in ``batches``.

    Parameters
    ----------
    batches : iterable of sequences of int, or 2-D array
        Dataset positions, e.g. ``list(sampler)``. Passing the sampler itself reads one pass,
        like any loop over it: the epoch moves on, so the next pass is the next epoch unless
        ``set_epoch`` chooses one. To look without drawing, use :func:`describe`.
    labels : array_like of int, shape (N,)
        Class id of every dataset position.
    num_classes : int, optional
        ``K``; defaults to ``max(labels) + 1``.

    Returns
    -------
    numpy.ndarray of float64, shape (K,)
        Draws of each class divided by all draws.

    Raises
    ------
    InvalidArgumentError
        If the labels are not dense class ids (checked before anything of size ``K`` is
        allocated), ``num_classes`` is not above the largest label, or ``batches`` is not
        an iterable of 1-D sequences of ints (floats, strings and nested batches are refused,
        never cast), is empty, or holds a position outside ``0 .. N-1``.

    Examples
    --------
    >>> from refsampler import BalancedBatchSampler
    >>> from refsampler.diagnostics import realised_shares
    >>> labels = [0] * 90 + [1] * 10
    >>> sampler = BalancedBatchSampler(labels, 10, alpha=1.0, seed=0)
    >>> realised_shares(sampler, labels).tolist()
    [0.5, 0.5]
    """
    label_array = _validate.int_array("labels", labels)
    k = num_classes_of(label_array, num_classes)
    positions = _batch_positions(batches)
    if positions.size == 0:
        raise _validate.fail("batches", "must hold at least one position", positions)
    bad = (positions < 0) | (positions >= label_array.size)
    if bad.any():
        raise _validate.fail(
            "batches",
            f"must hold positions in [0, {label_array.size}) (the labels' length)",
            int(positions[bad][0]),
        )
    counts = np.bincount(label_array[positions].astype(np.int64, copy=False), minlength=k)
    return counts / counts.sum()


def _batch_positions(batches: Any) -> IntVector:
    """Every position of ``batches`` in order, int64; each batch must be a 1-D sequence of
    non-negative ints (numpy's cast would truncate ``1.9`` to 1 and read ``"1"`` as 1)."""
    try:
        # A 2-D array or tensor is a sequence of batches too: iterating gives its rows.
        rows = iter(batches)
    except TypeError:
        raise _validate.fail(
            "batches", "must be an iterable of batches (sequences of ints)", batches
        ) from None
    parts = [
        _validate.int_array(f"batches[{i}]", b, allow_empty=True).astype(np.int64, copy=False)
        for i, b in enumerate(rows)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


# -- text -------------------------------------------------------------------------------------


def _render(header: list[list[str]], body: list[list[str]]) -> list[str]:
    """Right-aligned columns: the header lines, a rule, then the body lines."""
    cells = [*header, *body]
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) for v, w in zip(values, widths, strict=True))

    return [
        *(line(h) for h in header),
        "  ".join("-" * w for w in widths),
        *(line(b) for b in body),
    ]


def _plural(count: int, noun: str) -> str:
    """``1 class``, ``2 classes``, ``3 batches``, ``4 samples``."""
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun}{'es' if noun.endswith(('s', 'ch')) else 's'}"


def _tie_note(tied: IntVector, seats: int) -> str:
    """One line saying how the fixed kind shares tied seats (see :meth:`Description.ties`)."""
    listed = ", ".join(str(c) for c in tied.tolist())
    plural = "s" if seats > 1 else ""
    return (
        f"tie: classes {listed} share {seats} seat{plural} per batch; each epoch gives "
        f"{'them' if seats > 1 else 'it'} to {seats} of the {tied.size}, in rounds of random "
        "order over the epochs"
    )


def _count_range(row: Row) -> str:
    low, high = row["per_batch_min"], row["per_batch_max"]
    return f"{low}" if low == high else f"{low}-{high}"


def _finite_or_none(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _fmt_count(value: float | None) -> str:
    """A count that is often whole: no decimals when it is."""
    if value is None:
        return "-"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _fmt_percent(share: float, decimals: int = 2) -> str:
    """A share as a percentage: ``decimals`` decimals, and three significant digits below
    0.1 % (tens of thousands of classes each hold a few thousandths of a percent, which
    fixed decimals would all print as 0.00 %); an exact 0 stays 0."""
    value = 100 * share
    if value == 0:
        return "0%"
    if abs(value) < 0.1:
        return f"{value:.3g}%"
    return f"{value:.{decimals}f}%"


def _fmt_number(value: float | None, fmt: str) -> str:
    if value is None:
        return "-"
    return fmt.format(value)
