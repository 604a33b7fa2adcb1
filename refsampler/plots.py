"""Plots of a sampler configuration: class shares across alpha and over the epochs of a
schedule, target against realised shares, and the cumulative counts of the kinds that bound
every prefix of the run (quota, pk).

The plots need matplotlib, the ``plot`` extra (``pip install 'refsampler[plot]'``); it is
imported when a plot is drawn, so importing this module costs no more than numpy. Every
function draws into ``ax`` when given, else into a new figure, and returns what it drew on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _validate
from . import kinds as kinds_registry
from .allocation import allocate, quota_schedule
from .diagnostics import _configure, _describe, _plan_of, targets_by_epoch
from .errors import InvalidArgumentError
from .plan import Plan
from .schedules import AlphaSchedule
from .targets import interpolate

__all__ = [
    "plot_alpha_shares",
    "plot_cumulative",
    "plot_plan",
    "plot_quota_cumulative",
    "plot_schedule",
    "plot_shares",
]

IntMatrix = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]

#: Legends list every class up to this many classes; beyond it they would hide the plot.
_MAX_LEGEND = 12
#: Batches drawn by the cumulative panel of :func:`plot_plan` (and :func:`plot_cumulative`).
_CUMULATIVE_BATCHES = 40
#: Epochs evaluated by :func:`plot_schedule` by default.
_SCHEDULE_POINTS = 201
#: What the cumulative plots count (singular, plural, the ideal line): draws, or for the pk
#: kind appearances (batches holding the class).
_DRAWS = ("count", "counts", "k·B·p")
_APPEARANCES = ("appearances", "appearances", "k·P·p")


def _pyplot() -> Any:
    """Import ``matplotlib.pyplot`` lazily, with an actionable message when it is missing."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "refsampler's plots need matplotlib, which is not installed; install it with "
            "`pip install 'refsampler[plot]'` (or `pip install matplotlib`)."
        ) from exc
    return plt


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    _, new = _pyplot().subplots(figsize=(6, 4), layout="constrained")
    return new


def _legend(ax: Any, k: int) -> None:
    if k <= _MAX_LEGEND:
        ax.legend(fontsize="small")


def plot_alpha_shares(
    class_counts: Any,
    *,
    batch_size: int | None = None,
    alpha: float | None = None,
    alphas: Any = None,
    ax: Any = None,
) -> Any:
    """Class shares across alpha: the target ``p_c(alpha)`` of every class.

    Parameters
    ----------
    class_counts : array_like of int, shape (K,)
    batch_size : int, optional
        Also draw the fixed kind's per-batch share ``allocate(p, B) / B`` as steps (where the
        fixed kind is feasible).
    alpha : float, optional
        Mark this alpha with a vertical line.
    alphas : array_like of float, optional
        The alphas to evaluate; default 201 points in [0, 1].
    ax : matplotlib.axes.Axes, optional
        Draw here; by default a new figure.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from refsampler.plots import plot_alpha_shares
    >>> ax = plot_alpha_shares([740, 70, 150, 20, 20], batch_size=32, alpha=0.5)
    >>> ax.get_title()
    'Class shares across alpha'
    """
    counts = _validate.class_counts_vector("class_counts", class_counts)
    grid = np.linspace(0.0, 1.0, 201) if alphas is None else np.asarray(alphas, dtype=float)
    shares = np.stack([interpolate(counts, float(a)) for a in grid])
    ax = _axes(ax)
    colors = [f"C{c % 10}" for c in range(counts.size)]
    for c in range(counts.size):
        ax.plot(grid, shares[:, c], color=colors[c], label=f"class {c} (n={counts[c]})")
    if batch_size is not None:
        batch = _validate.batch_size(batch_size)
        fixed = np.full_like(shares, np.nan)
        for i, p in enumerate(shares):
            try:
                fixed[i] = allocate(p, batch) / batch
            except InvalidArgumentError:
                continue
        for c in range(counts.size):
            ax.plot(grid, fixed[:, c], color=colors[c], ls=":", lw=1.2, drawstyle="steps-mid")
        ax.plot([], [], color="grey", ls=":", label=f"fixed kind, B={batch}")
    if alpha is not None:
        ax.axvline(_validate.unit_interval("alpha", alpha), color="black", lw=0.8, ls="--")
    ax.set_xlabel("alpha  (0: true distribution, 1: uniform)")
    ax.set_ylabel("class share in batches")
    ax.set_xlim(float(grid.min()), float(grid.max()))
    ax.set_ylim(0, None)
    ax.set_title("Class shares across alpha")
    _legend(ax, counts.size)
    return ax


def plot_schedule(
    class_counts: Any,
    schedule: AlphaSchedule,
    *,
    epochs: Any = None,
    epoch: int | None = None,
    ax: Any = None,
) -> Any:
    """Class shares over the epochs of an alpha schedule, with its knots marked.

    Parameters
    ----------
    class_counts : array_like of int, shape (K,)
    schedule : AlphaSchedule
    epochs : array_like of int, optional
        The epochs to evaluate; by default about 200 from 0 to a tenth past the last knot.
    epoch : int, optional
        Mark this epoch with a vertical line.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from refsampler.plots import plot_schedule
    >>> from refsampler.schedules import piecewise
    >>> ax = plot_schedule([740, 70, 150, 20, 20], piecewise([(0, 0.0), (90, 1.0)]))
    >>> len(ax.get_lines())  # one line per class, one per knot
    7
    """
    if epochs is None and isinstance(schedule, AlphaSchedule):
        last = schedule.knots[-1][0]
        end = last + max(1, last // 10)
        epochs = np.unique(np.linspace(0, end, _SCHEDULE_POINTS).round().astype(np.int64))
    table = targets_by_epoch(class_counts, schedule, epochs)
    marked = None if epoch is None else _validate.epoch(epoch)
    k = table.targets.shape[1]
    ax = _axes(ax)
    for c in range(k):
        ax.plot(table.epochs, table.targets[:, c], color=f"C{c % 10}", label=f"class {c}")
    for knot, _ in schedule.knots:
        ax.axvline(knot, color="grey", ls=":", lw=0.8)
    if marked is not None:
        ax.axvline(marked, color="black", lw=0.8, ls="--")
    ax.set_xlabel("epoch  (dotted: knots of the schedule)")
    ax.set_ylabel("target share")
    ax.set_xlim(float(table.epochs[0]), float(table.epochs[-1]))
    ax.set_ylim(0, None)
    ax.set_title(f"Class shares over epochs, alpha {schedule}")
    _legend(ax, k)
    return ax


def plot_shares(
    target: Any,
    realised: Any,
    *,
    labels: tuple[str, str] = ("target", "realised"),
    ax: Any = None,
) -> Any:
    """Target against realised class shares, as grouped bars.

    Parameters
    ----------
    target, realised : array_like of float, shape (K,)
        E.g. ``sampler.target`` and :func:`~refsampler.diagnostics.realised_shares` of an
        epoch.
    labels : (str, str)
        Legend entries of the two bar groups.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from refsampler.plots import plot_shares
    >>> len(plot_shares([0.5, 0.5], [0.4, 0.6]).patches)
    4
    """
    p = np.asarray(target, dtype=np.float64)
    r = np.asarray(realised, dtype=np.float64)
    if p.ndim != 1 or r.shape != p.shape:
        raise InvalidArgumentError(
            f"`target` and `realised` must be 1-D of equal length; got shapes {p.shape} "
            f"and {r.shape}."
        )
    ax = _axes(ax)
    x = np.arange(p.size)
    ax.bar(x - 0.2, p, width=0.4, label=labels[0], color="C0")
    ax.bar(x + 0.2, r, width=0.4, label=labels[1], color="C1")
    ax.set_xticks(x)
    ax.set_xlabel("class")
    ax.set_ylabel("share")
    ax.set_title("Target and realised class shares")
    ax.legend(fontsize="small")
    return ax


def plot_quota_cumulative(
    target: Any, batch_size: int, n_batches: int, *, deviation: bool = False, ax: Any = None
) -> Any:
    """Cumulative per-class counts of the quota kind against the ideal line ``k B p_c``.

    Parameters
    ----------
    target : array_like of float, shape (K,)
    batch_size, n_batches : int
    deviation : bool, default False
        Plot the prefix error ``S_c(k) - k B p_c`` instead, between dotted lines at -1 and 1.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The steps never leave the band of width 1 around the dashed ideal line (the prefix error
    stays in (-1, 1)): that is the quota property of :func:`~refsampler.quota_schedule`.
    :func:`plot_cumulative` draws the same for a sampler, over all its ranks.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from refsampler.plots import plot_quota_cumulative
    >>> ax = plot_quota_cumulative([0.5, 0.3, 0.2], 4, 10)
    >>> ax.get_title()
    'Quota kind: cumulative counts (B=4)'
    """
    rows = quota_schedule(target, batch_size, n_batches)
    p = np.asarray(target, dtype=np.float64)
    return _draw_cumulative(
        _axes(ax), rows, batch_size * p, _DRAWS, "Quota kind", batch_size, deviation
    )


def plot_cumulative(
    sampler_or_plan: Any,
    n_batches: int | None = None,
    *,
    deviation: bool = False,
    ax: Any = None,
    epoch: int = 0,
) -> Any:
    """Cumulative per-class counts of a counted kind's first batches, against the ideal line.

    The batches are the first global batches (all ranks in turn) of the run, or of ``epoch``
    under a moving target, which is where the quota and pk kinds bound every prefix: quota
    counts draws, within 1 of ``k B p_c``; pk counts appearances (batches holding the class),
    within 1 of ``k P p_c``.

    Parameters
    ----------
    sampler_or_plan : sampler or Plan
        Anything with a ``plan`` attribute, or a :class:`~refsampler.plan.Plan`, of a kind
        with planned counts (not ``"random"``).
    n_batches : int, optional
        Global batches to draw; default 40, or fewer when an epoch is shorter.
    deviation : bool, default False
        Plot the prefix error ``S_c(k) - k x_c`` instead, with dotted lines at -1 and 1 for
        the kinds that bound it.
    ax : matplotlib.axes.Axes, optional
    epoch : int, default 0
        Under a moving target (an alpha schedule) every epoch has a schedule of its own,
        bounded from its first batch: the epoch to draw. With a fixed target the bound runs
        from the first batch of the run, so only epoch 0 is drawn.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    InvalidArgumentError
        If the argument has no plan, its kind draws classes at random, ``n_batches`` is
        not in ``1 .. n_batches * num_replicas`` of the plan, or ``epoch`` is not 0 with a
        fixed target.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from refsampler import BalancedBatchSampler
    >>> from refsampler.plots import plot_cumulative
    >>> labels = [0] * 50 + [1] * 30 + [2] * 20
    >>> sampler = BalancedBatchSampler(labels, 4, kind="pk", samples_per_class=2, seed=0)
    >>> plot_cumulative(sampler, 10).get_title()
    'pk kind: cumulative appearances (B=4)'
    """
    plan = _plan_of(sampler_or_plan)
    if plan is None:
        raise _validate.fail(
            "sampler_or_plan", "must be a sampler (with a `plan`) or a Plan", sampler_or_plan
        )
    slots = plan.slots_per_epoch
    count = min(_CUMULATIVE_BATCHES, slots) if n_batches is None else n_batches
    count = _validate.positive_int("n_batches", count, maximum=slots)
    epoch = _validate.epoch(epoch)
    if epoch and not plan.moving:
        raise _validate.fail(
            "epoch",
            "must be 0 with a fixed target (its prefix bound runs from the first batch of "
            "the run)",
            epoch,
        )
    rows = _global_counts(plan, count, epoch)
    properties = plan.traits.properties
    p = plan.target(epoch)
    bounded = bool(
        properties
        & {kinds_registry.PROPERTY_QUOTA_COUNTS, kinds_registry.PROPERTY_APPEARANCE_BOUND}
    )
    title = f"{plan.kind} kind, epoch {epoch}" if plan.moving else f"{plan.kind} kind"
    if kinds_registry.PROPERTY_PK_SHAPE in properties:
        m = int(plan.options["samples_per_class"])
        ideal = plan.batch_size // m * p
        return _draw_cumulative(
            _axes(ax), rows // m, ideal, _APPEARANCES, title, plan.batch_size, deviation, bounded
        )
    ideal = plan.batch_size * p
    return _draw_cumulative(
        _axes(ax), rows, ideal, _DRAWS, title, plan.batch_size, deviation, bounded
    )


def _global_counts(plan: Plan, slots: int, epoch: int = 0) -> IntMatrix:
    """Draws of every class in the first ``slots`` global batches of ``epoch``, (slots, K):
    global batch ``t`` is batch ``t // R`` of the epoch on rank ``t % R``."""
    replicas = plan.num_replicas
    rows = np.zeros((slots, plan.index.num_classes), dtype=np.int64)
    for rank in range(min(replicas, slots)):
        entries = plan.entries(epoch, rank, 0, -(-(slots - rank) // replicas))
        rows[entries.row * replicas + rank, entries.cls] = entries.count
    return rows


def _draw_cumulative(
    ax: Any,
    rows: IntMatrix,
    ideal_step: FloatVector,
    units: tuple[str, str, str],
    title: str,
    batch_size: int,
    deviation: bool,
    bounded: bool = True,
) -> Any:
    """Steps of the cumulative ``rows`` against the lines ``k * ideal_step`` (or their
    difference, inside a band of width 1 when the kind is ``bounded``). ``units`` names what
    is counted: singular, plural, and the ideal line."""
    quantity, plural, ideal_name = units
    n, k_classes = rows.shape
    cumulative = np.vstack([np.zeros(k_classes, dtype=np.int64), np.cumsum(rows, axis=0)])
    k = np.arange(n + 1)
    ideal = k[:, None] * ideal_step
    for c in range(k_classes):
        color = f"C{c % 10}"
        if deviation:
            error = cumulative[:, c] - ideal[:, c]
            ax.plot(k, error, color=color, marker=".", ms=4, lw=0.8, label=f"class {c}")
        else:
            ax.step(k, cumulative[:, c], where="post", color=color, label=f"class {c}")
            ax.plot(k, ideal[:, c], color=color, ls="--", lw=0.8)
    if deviation:
        if bounded:
            for bound in (-1, 1):
                ax.axhline(bound, color="grey", ls=":", lw=1)
            ax.set_ylim(-1.7, 1.2)
        ax.set_ylabel(f"cumulative {quantity} - {ideal_name}")
        ax.set_title(f"{title}: prefix error (B={batch_size})")
    else:
        ax.plot([], [], color="grey", ls="--", lw=0.8, label=f"ideal {ideal_name}")
        ax.set_ylabel(f"cumulative {quantity}")
        ax.set_title(f"{title}: cumulative {plural} (B={batch_size})")
    ax.set_xlabel("batches k")
    ax.set_xlim(0, n)
    if deviation and k_classes <= _MAX_LEGEND:
        ax.legend(fontsize="small", loc="lower center", ncols=min(k_classes, 6))
    else:
        _legend(ax, k_classes)
    return ax


def plot_plan(
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
    seed: int = 0,
    path: Any = None,
) -> Any:
    """The figure of ``refsampler plan --plot``: the target, one epoch, and the prefix bound.

    Panels: (1) :func:`plot_alpha_shares` with the chosen alpha marked, or
    :func:`plot_schedule` for an alpha schedule; (2) target against realised shares over one
    epoch (sampled with ``seed``; a sampler's next epoch on its rank); (3, for the kinds that
    bound every prefix of the run: quota, pk) :func:`plot_cumulative` over the first 40
    global batches.

    Parameters
    ----------
    sampler_or_counts, batch_size, alpha, target, kind, n_batches, num_replicas, samples_per_class
        As in :func:`~refsampler.diagnostics.describe`.
    epoch : int, optional
        The epoch drawn for panel 2 (and marked on a schedule, whose panel 3 draws it too:
        with a fixed target panel 3 shows the start of the run); defaults as in
        :func:`~refsampler.diagnostics.describe`.
    seed : int, default 0
        Seed of the epoch drawn for panel 2 when class counts are given.
    path : str or os.PathLike, optional
        Save the figure here (the extension picks the format), then close it.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from refsampler.plots import plot_plan
    >>> figure = plot_plan([740, 70, 150, 20, 20], 32, alpha=0.5, kind="quota")
    >>> len(figure.axes)
    3
    """
    plt = _pyplot()
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
    table = _describe(config)
    plan = config.plan if config.plan is not None else config.build_plan(_validate.seed(seed))
    rank = int(getattr(sampler_or_counts, "rank", 0)) if config.plan is not None else 0
    epoch = config.epoch
    realised = _epoch_shares(plan, epoch, rank)
    properties = table.properties
    bounded = properties & {
        kinds_registry.PROPERTY_QUOTA_COUNTS,
        kinds_registry.PROPERTY_APPEARANCE_BOUND,
    }
    panels = 3 if bounded else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.2), layout="constrained")
    if isinstance(table.alpha, AlphaSchedule):
        plot_schedule(table.class_counts, table.alpha, epoch=epoch, ax=axes[0])
    else:
        fixed = kinds_registry.PROPERTY_FIXED_COUNTS in properties
        plot_alpha_shares(
            table.class_counts,
            batch_size=table.batch_size if fixed else None,
            alpha=table.alpha,
            ax=axes[0],
        )
    plot_shares(table.target, realised, labels=("target", f"realised, epoch {epoch}"), ax=axes[1])
    where = f" on rank {rank}" if table.num_replicas > 1 else ""
    axes[1].set_title(f"{table.kind} kind: one epoch of {table.n_batches} batches{where}")
    if bounded:
        # A fixed target's bound runs from the first batch of the run, whatever the epoch.
        plot_cumulative(
            plan,
            min(_CUMULATIVE_BATCHES, table.batches_per_epoch),
            ax=axes[2],
            epoch=epoch if plan.moving else 0,
        )
        if not plan.moving:
            axes[2].set_xlabel("batches k from the first batch of the run")
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def _epoch_shares(plan: Plan, epoch: int, rank: int) -> FloatVector:
    """Realised class shares of one epoch of ``plan`` on ``rank``."""
    index = plan.index
    positions = plan.batches(epoch, rank).ravel()
    order = np.argsort(index.positions)
    owner = np.repeat(np.arange(index.num_classes), index.counts)[order]
    classes = owner[np.searchsorted(index.positions[order], positions)]
    counts = np.bincount(classes, minlength=index.num_classes)
    return counts / counts.sum()
