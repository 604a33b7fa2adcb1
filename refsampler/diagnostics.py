"""What a sampler will do to your classes: tables of shares, counts and coverage, and plots.

:func:`describe` answers "what will every batch and every epoch look like?" before training;
:func:`realised_shares` measures what a sampler actually yielded. The plots need matplotlib
(``pip install 'refsampler[plot]'``), which is imported only when a plot is drawn.

This module is not part of the pure core: it uses numpy, the samplers and, lazily,
matplotlib.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _validate
from .allocation import allocate, quota_schedule
from .errors import InvalidArgumentError
from .sampler import BalancedBatchSampler
from .targets import interpolate, resolve

__all__ = [
    "Description",
    "describe",
    "plot_alpha_shares",
    "plot_plan",
    "plot_quota_cumulative",
    "plot_shares",
    "realised_shares",
]

IntVector = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]

#: Legends list every class up to this many classes; beyond it they would hide the plot.
_MAX_LEGEND = 12


@dataclass(frozen=True)
class Description:
    """Per-class plan of a sampler configuration, as returned by :func:`describe`.

    Every per-class attribute is a numpy array of shape (K,), indexed by class id.

    Attributes
    ----------
    kind : str
        ``"fixed"``, ``"quota"`` or ``"random"``.
    batch_size, n_batches, num_replicas : int
        ``B``, batches per epoch on one rank, and the number of ranks.
    alpha : float or None
        The interpolation weight, when the target came from ``alpha``.
    class_counts : numpy.ndarray of int64
        ``n_c``, samples per class.
    shares : numpy.ndarray of float64
        ``n_c / N``, the true class shares.
    target : numpy.ndarray of float64
        ``p_c``, the target shares.
    per_batch_mean, per_batch_sd : numpy.ndarray of float64
        Mean and standard deviation of the class's count in one batch: over the epoch's
        batches for fixed (sd 0) and quota, ``B p_c`` and ``sqrt(B p_c (1 - p_c))`` for random.
    per_batch_min, per_batch_max : numpy.ndarray of float64
        Smallest and largest count in one batch of the epoch (fixed and quota; NaN for random,
        whose counts are binomial).
    draws_per_epoch : numpy.ndarray of float64
        Draws of the class per epoch on one rank (the expectation ``n_batches B p_c`` for
        random).
    oversampling : numpy.ndarray of float64
        ``draws_per_epoch / n_c``: above 1 the class is repeated within an epoch, below 1 only
        part of it is seen per epoch. NaN for an empty class.
    epochs_to_see_all : numpy.ndarray of float64
        Epochs until every member of the class has been drawn at least once (over all ranks);
        see :func:`describe` for the formulas. ``inf`` for a class that is never drawn.
    """

    kind: str
    batch_size: int
    n_batches: int
    num_replicas: int
    alpha: float | None
    class_counts: IntVector
    shares: FloatVector
    target: FloatVector
    per_batch_mean: FloatVector
    per_batch_sd: FloatVector
    per_batch_min: FloatVector
    per_batch_max: FloatVector
    draws_per_epoch: FloatVector
    oversampling: FloatVector
    epochs_to_see_all: FloatVector

    @property
    def num_classes(self) -> int:
        """``K``."""
        return int(self.class_counts.size)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per class, with the columns that apply to this kind.

        Returns
        -------
        list of dict
            Keys ``class``, ``count``, ``share``, ``target``, then ``per_batch`` (fixed),
            ``per_batch_min``/``per_batch_max``/``per_batch_mean`` (quota) or
            ``per_batch_mean``/``per_batch_sd`` (random), then ``draws_per_epoch``,
            ``oversampling`` and ``epochs_to_see_all``. Non-finite numbers are ``None``.
        """
        out = []
        for c in range(self.num_classes):
            row: dict[str, Any] = {
                "class": c,
                "count": int(self.class_counts[c]),
                "share": float(self.shares[c]),
                "target": float(self.target[c]),
            }
            if self.kind == "fixed":
                row["per_batch"] = int(self.per_batch_mean[c])
            elif self.kind == "quota":
                row["per_batch_min"] = int(self.per_batch_min[c])
                row["per_batch_max"] = int(self.per_batch_max[c])
                row["per_batch_mean"] = float(self.per_batch_mean[c])
            else:
                row["per_batch_mean"] = float(self.per_batch_mean[c])
                row["per_batch_sd"] = float(self.per_batch_sd[c])
            draws = float(self.draws_per_epoch[c])
            row["draws_per_epoch"] = int(draws) if self.kind != "random" else draws
            row["oversampling"] = _finite_or_none(self.oversampling[c])
            row["epochs_to_see_all"] = _finite_or_none(self.epochs_to_see_all[c])
            out.append(row)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary: the configuration and :meth:`rows` under ``classes``."""
        return {
            "kind": self.kind,
            "batch_size": self.batch_size,
            "n_batches": self.n_batches,
            "num_replicas": self.num_replicas,
            "alpha": self.alpha,
            "num_classes": self.num_classes,
            "size": int(self.class_counts.sum()),
            "classes": self.rows(),
        }

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as a JSON string; keyword arguments go to :func:`json.dumps`."""
        return json.dumps(self.to_dict(), **kwargs)

    def to_text(self) -> str:
        """A plain-text table with one line per class and a header naming the configuration."""
        Column = tuple[str, Callable[[dict[str, Any]], str]]
        batch_cols: list[Column]
        if self.kind == "fixed":
            batch_cols = [("per batch", lambda r: f"{r['per_batch']}")]
        elif self.kind == "quota":
            batch_cols = [
                ("batch min", lambda r: f"{r['per_batch_min']}"),
                ("batch max", lambda r: f"{r['per_batch_max']}"),
                ("batch mean", lambda r: f"{r['per_batch_mean']:.3f}"),
            ]
        else:
            batch_cols = [
                ("batch E", lambda r: f"{r['per_batch_mean']:.3f}"),
                ("batch SD", lambda r: f"{r['per_batch_sd']:.3f}"),
            ]
        draws_fmt = "{:.1f}" if self.kind == "random" else "{}"
        columns: list[Column] = [
            ("class", lambda r: f"{r['class']}"),
            ("count", lambda r: f"{r['count']}"),
            ("share", lambda r: f"{100 * r['share']:.2f}%"),
            ("target", lambda r: f"{100 * r['target']:.2f}%"),
            *batch_cols,
            ("draws/epoch", lambda r: draws_fmt.format(r["draws_per_epoch"])),
            ("oversampling", lambda r: _fmt_number(r["oversampling"], "{:.2f}x")),
            ("epochs to see all", lambda r: _fmt_number(r["epochs_to_see_all"], "{:.4g}")),
        ]
        rows = self.rows()
        cells = [[name for name, _ in columns]]
        cells += [[fmt(r) for _, fmt in columns] for r in rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
        lines = [
            "  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)) for line in cells
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        alpha = "" if self.alpha is None else f", alpha {self.alpha:g}"
        replicas = f", {self.num_replicas} replicas" if self.num_replicas > 1 else ""
        header = (
            f"kind {self.kind}, batch size {self.batch_size}, {self.n_batches} batches per epoch"
            f"{replicas}{alpha}; {int(self.class_counts.sum())} samples in "
            f"{self.num_classes} classes"
        )
        return "\n".join([header, *lines])

    def __str__(self) -> str:
        return self.to_text()


def describe(
    sampler_or_counts: Any,
    batch_size: int | None = None,
    *,
    alpha: float | None = None,
    target: Any = None,
    kind: str = "fixed",
    n_batches: int | None = None,
    num_replicas: int = 1,
) -> Description:
    """Per-class table of what a sampler configuration does to each class.

    Parameters
    ----------
    sampler_or_counts : BalancedBatchSampler or array_like of int
        A sampler (its configuration is used and the other arguments must be left out), or
        the class counts ``n_c``.
    batch_size : int
        ``B``; required with class counts.
    alpha, target : optional
        As in :class:`~refsampler.BalancedBatchSampler`: ``alpha`` defaults to 1.0 unless
        ``target`` is given.
    kind : {"fixed", "quota", "random"}, default "fixed"
    n_batches : int, optional
        Batches per epoch on one rank; defaults to ``ceil(N / (B * num_replicas))``.
    num_replicas : int, default 1
        Data-parallel ranks; every rank draws ``n_batches`` batches per epoch.

    Returns
    -------
    Description
        Columns per class; ``str()`` of it is a table, ``.to_dict()`` is JSON-ready.

    Raises
    ------
    InvalidArgumentError
        On invalid configuration (the same messages as the sampler), or when a sampler is
        passed together with configuration arguments.

    Notes
    -----
    Per-batch counts are those of the kind: the constant vector :func:`~refsampler.allocate`
    for fixed; the rows of :func:`~refsampler.quota_schedule` over one epoch for quota; for
    random, a class's count in a batch is Binomial(``B``, ``p_c``), with mean ``B p_c`` and
    standard deviation ``sqrt(B p_c (1 - p_c))``.

    The draws of a class per epoch on one rank are ``d_c`` (the sum of its per-batch counts;
    for random its expectation ``n_batches B p_c``), and the oversampling factor is
    ``d_c / n_c``. With ``R`` ranks the class's stream advances ``R d_c`` draws per epoch.

    *Epochs until every member has been seen.* Fixed and quota draw members from shuffled
    cycles that continue across epochs, so the first cycle completes after exactly

    .. math:: E_c = \\lceil n_c / (R d_c) \\rceil

    epochs. Random draws with replacement; by the coupon-collector argument the expected
    number of draws until all ``n_c`` members have appeared is ``n_c H_{n_c}`` with
    ``H_n = sum_{i=1}^{n} 1/i``, so

    .. math:: E_c \\approx n_c H_{n_c} / (R d_c)

    epochs (expected draws needed over draws per epoch; a real number, not rounded).

    References
    ----------
    .. [1] W. Feller, *An Introduction to Probability Theory and Its Applications*, vol. 1,
       3rd ed., Wiley, 1968, section IX.3 (the coupon collector's problem).

    Examples
    --------
    >>> from refsampler.diagnostics import describe
    >>> table = describe([740, 70, 150, 20, 20], 32, alpha=0.5, kind="fixed")
    >>> [row["per_batch"] for row in table.rows()]
    [15, 4, 6, 4, 3]
    >>> table.epochs_to_see_all.tolist()
    [2.0, 1.0, 1.0, 1.0, 1.0]
    """
    if isinstance(sampler_or_counts, BalancedBatchSampler):
        given = {
            "batch_size": batch_size,
            "alpha": alpha,
            "target": target,
            "n_batches": n_batches,
        }
        extra = [name for name, value in given.items() if value is not None]
        if kind != "fixed":
            extra.append("kind")
        if num_replicas != 1:
            extra.append("num_replicas")
        if extra:
            raise InvalidArgumentError(
                "give a sampler or a configuration, not both; got a BalancedBatchSampler and "
                + ", ".join(f"`{name}`" for name in extra)
                + "."
            )
        sampler = sampler_or_counts
        plan = sampler.plan
        counts = plan.index.counts.copy()
        kind, p = plan.kind, plan.target
        batch, batches, replicas = plan.batch_size, plan.n_batches, plan.num_replicas
        rows = plan.counts_rows(0, batches) if kind != "random" else None
    else:
        counts = _validate.class_counts_vector("class_counts", sampler_or_counts)
        kind = _validate.kind(kind)
        if batch_size is None:
            raise InvalidArgumentError("`batch_size` is required with class counts; got None.")
        batch = _validate.positive_int("batch_size", batch_size)
        replicas = _validate.positive_int("num_replicas", num_replicas)
        if n_batches is None:
            n_batches = -(-int(counts.sum()) // (batch * replicas))
        batches = _validate.positive_int("n_batches", n_batches)
        p = resolve(counts, alpha, target)
        if kind == "fixed":
            rows = np.broadcast_to(allocate(p, batch), (batches, counts.size))
        elif kind == "quota":
            rows = quota_schedule(p, batch, batches)
        else:
            rows = None
    if alpha is None and target is None and not isinstance(sampler_or_counts, BalancedBatchSampler):
        alpha = 1.0
    return _build(counts, p, kind, batch, batches, replicas, rows, alpha)


def _build(
    counts: IntVector,
    p: FloatVector,
    kind: str,
    batch: int,
    batches: int,
    replicas: int,
    rows: npt.NDArray[np.int64] | None,
    alpha: float | None,
) -> Description:
    n = counts.astype(np.float64)
    if rows is None:
        mean = batch * p
        sd = np.sqrt(batch * p * (1.0 - p))
        low = high = np.full(counts.size, np.nan)
        draws = batches * mean
    else:
        mean = rows.mean(axis=0)
        sd = rows.std(axis=0)
        low, high = rows.min(axis=0).astype(np.float64), rows.max(axis=0).astype(np.float64)
        draws = rows.sum(axis=0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        oversampling = np.where(counts > 0, draws / np.where(counts > 0, n, 1.0), np.nan)
        per_epoch = replicas * draws
        needed = n if kind != "random" else n * _harmonic(counts)
        epochs = np.where(per_epoch > 0, needed / np.where(per_epoch > 0, per_epoch, 1.0), np.inf)
    if kind != "random":
        epochs = np.where(np.isfinite(epochs), np.ceil(epochs), epochs)
    epochs = np.where(counts == 0, 0.0, epochs)
    return Description(
        kind=kind,
        batch_size=batch,
        n_batches=batches,
        num_replicas=replicas,
        alpha=None if alpha is None else float(alpha),
        class_counts=counts,
        shares=n / n.sum(),
        target=np.array(p, dtype=np.float64),
        per_batch_mean=np.asarray(mean, dtype=np.float64),
        per_batch_sd=np.asarray(sd, dtype=np.float64),
        per_batch_min=low,
        per_batch_max=high,
        draws_per_epoch=draws,
        oversampling=oversampling,
        epochs_to_see_all=epochs,
    )


def _harmonic(counts: IntVector) -> FloatVector:
    """``H_n = sum_{i=1}^n 1/i`` for every entry (0 for n = 0).

    Exact summation up to 64; above it the asymptotic series
    ``ln n + gamma + 1/(2n) - 1/(12 n^2) + 1/(120 n^4)``, whose error is below 1e-14 there.
    """
    small = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, 65))])
    n = np.maximum(counts.astype(np.float64), 1.0)
    series = np.log(n) + np.euler_gamma + 1 / (2 * n) - 1 / (12 * n**2) + 1 / (120 * n**4)
    return np.where(counts <= 64, small[np.minimum(counts, 64)], series)


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
        Dataset positions, e.g. ``list(sampler)``.
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
        If ``batches`` is empty or holds a position outside ``0 .. N-1``.

    Examples
    --------
    >>> from refsampler import BalancedBatchSampler
    >>> from refsampler.diagnostics import realised_shares
    >>> labels = [0] * 90 + [1] * 10
    >>> sampler = BalancedBatchSampler(labels, 10, alpha=1.0, seed=0)
    >>> realised_shares(sampler, labels).tolist()
    [0.5, 0.5]
    """
    label_array = _validate.int_vector("labels", labels)
    k = int(label_array.max()) + 1
    if num_classes is not None:
        if _validate.positive_int("num_classes", num_classes) < k:
            raise _validate.fail(
                "num_classes", f"must exceed the largest label ({k - 1})", num_classes
            )
        k = int(num_classes)
    parts = [np.asarray(b, dtype=np.int64).ravel() for b in batches]  # type: ignore[union-attr]
    positions = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if positions.size == 0:
        raise _validate.fail("batches", "must hold at least one position", positions)
    bad = (positions < 0) | (positions >= label_array.size)
    if bad.any():
        raise _validate.fail(
            "batches",
            f"must hold positions in [0, {label_array.size}), but holds {int(positions[bad][0])}",
            "a batch of such positions",
        )
    counts = np.bincount(label_array[positions], minlength=k)
    return counts / counts.sum()


# -- plots ---------------------------------------------------------------------------------


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
    """
    counts = _validate.class_counts_vector("class_counts", class_counts)
    grid = np.linspace(0.0, 1.0, 201) if alphas is None else np.asarray(alphas, dtype=float)
    shares = np.stack([interpolate(counts, float(a)) for a in grid])
    ax = _axes(ax)
    colors = [f"C{c % 10}" for c in range(counts.size)]
    for c in range(counts.size):
        ax.plot(grid, shares[:, c], color=colors[c], label=f"class {c} (n={counts[c]})")
    if batch_size is not None:
        batch = _validate.positive_int("batch_size", batch_size)
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
        E.g. ``sampler.target`` and :func:`realised_shares` of an epoch.
    labels : (str, str)
        Legend entries of the two bar groups.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
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
    """
    schedule = quota_schedule(target, batch_size, n_batches)
    p = np.asarray(target, dtype=np.float64)
    cumulative = np.vstack([np.zeros(p.size, dtype=np.int64), np.cumsum(schedule, axis=0)])
    k = np.arange(n_batches + 1)
    ideal = k[:, None] * batch_size * p
    ax = _axes(ax)
    for c in range(p.size):
        color = f"C{c % 10}"
        if deviation:
            error = cumulative[:, c] - ideal[:, c]
            ax.plot(k, error, color=color, marker=".", ms=4, lw=0.8, label=f"class {c}")
        else:
            ax.step(k, cumulative[:, c], where="post", color=color, label=f"class {c}")
            ax.plot(k, ideal[:, c], color=color, ls="--", lw=0.8)
    if deviation:
        for bound in (-1, 1):
            ax.axhline(bound, color="grey", ls=":", lw=1)
        ax.set_ylabel("cumulative count - k·B·p")
        ax.set_ylim(-1.7, 1.2)
        ax.set_title(f"Quota kind: prefix error (B={batch_size})")
    else:
        ax.plot([], [], color="grey", ls="--", lw=0.8, label="ideal k·B·p")
        ax.set_ylabel("cumulative count")
        ax.set_title(f"Quota kind: cumulative counts (B={batch_size})")
    ax.set_xlabel("batches k")
    ax.set_xlim(0, n_batches)
    if deviation and p.size <= _MAX_LEGEND:
        ax.legend(fontsize="small", loc="lower center", ncols=min(p.size, 6))
    else:
        _legend(ax, p.size)
    return ax


def plot_plan(
    sampler_or_counts: Any,
    batch_size: int | None = None,
    *,
    alpha: float | None = None,
    target: Any = None,
    kind: str = "fixed",
    n_batches: int | None = None,
    seed: int = 0,
    path: Any = None,
) -> Any:
    """The figure of ``refsampler plan --plot``: shares across alpha, then the chosen kind.

    Panels: (1) :func:`plot_alpha_shares`, with the chosen alpha marked when the target comes
    from ``alpha``; (2) target against realised shares over one epoch (sampled with ``seed``);
    (3, quota only) :func:`plot_quota_cumulative` over the first 40 batches.

    Parameters
    ----------
    sampler_or_counts, batch_size, alpha, target, kind, n_batches
        As in :func:`describe`.
    seed : int, default 0
        Seed of the epoch drawn for panel 2 when class counts are given.
    path : str or os.PathLike, optional
        Save the figure here (PNG by default), then close it.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    if isinstance(sampler_or_counts, BalancedBatchSampler):
        table = describe(sampler_or_counts)
        sampler = sampler_or_counts
        epoch, rank = sampler.epoch, sampler.rank
    else:
        table = describe(
            sampler_or_counts,
            batch_size,
            alpha=alpha,
            target=target,
            kind=kind,
            n_batches=n_batches,
        )
        labels = np.repeat(np.arange(table.num_classes), table.class_counts)
        sampler = BalancedBatchSampler(
            labels,
            table.batch_size,
            kind=table.kind,
            target=table.target,
            n_batches=table.n_batches,
            seed=seed,
            num_replicas=1,
            rank=0,
        )
        epoch, rank = 0, 0
    realised = _epoch_shares(sampler, epoch, rank)
    panels = 3 if table.kind == "quota" else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.2), layout="constrained")
    plot_alpha_shares(
        table.class_counts,
        batch_size=table.batch_size if table.kind == "fixed" else None,
        alpha=table.alpha,
        ax=axes[0],
    )
    plot_shares(table.target, realised, labels=("target", f"realised, epoch {epoch}"), ax=axes[1])
    axes[1].set_title(f"{table.kind} kind: one epoch of {table.n_batches} batches")
    if table.kind == "quota":
        plot_quota_cumulative(table.target, table.batch_size, min(table.n_batches, 40), ax=axes[2])
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def _epoch_shares(sampler: BalancedBatchSampler, epoch: int, rank: int) -> FloatVector:
    """Realised class shares of one epoch of ``sampler``, without advancing it."""
    index = sampler.plan.index
    positions = sampler.plan.batches(epoch, rank).ravel()
    order = np.argsort(index.positions)
    owner = np.repeat(np.arange(index.num_classes), index.counts)[order]
    classes = owner[np.searchsorted(index.positions[order], positions)]
    counts = np.bincount(classes, minlength=index.num_classes)
    return counts / counts.sum()


def _finite_or_none(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _fmt_number(value: float | None, fmt: str) -> str:
    if value is None:
        return "-"
    return fmt.format(value)
