"""Alpha schedules: targets that move with the epoch. Imports numpy only.

Progressively balanced sampling starts from the true class shares and moves toward uniform as
training goes on (Kang et al., ICLR 2020: ``p(t) = (1 - t/T) p_instance + (t/T) p_class``,
which is :func:`refsampler.targets.interpolate` at ``alpha = t / T``). A schedule gives the
``alpha`` of every epoch. :class:`~refsampler.BalancedBatchSampler` (and so
:class:`~refsampler.SamplerFactory`'s samplers), :func:`refsampler.diagnostics.describe` and
``refsampler plan --alpha-schedule`` take one in place of ``alpha``; the functions of
:mod:`refsampler.targets` and :mod:`refsampler.weights` take a number (call the schedule with
an epoch to get one).

A schedule is a small immutable, picklable value that describes itself as JSON
(:meth:`AlphaSchedule.to_dict`), so it can be part of a sampler's configuration fingerprint.

References
----------
.. [1] B. Kang, S. Xie, M. Rohrbach, Z. Yan, A. Gordo, J. Feng, Y. Kalantidis, "Decoupling
   Representation and Classifier for Long-Tailed Recognition", ICLR 2020.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _validate
from .errors import InvalidArgumentError
from .targets import DEFAULT_ALPHA, interpolate

__all__ = ["AlphaSchedule", "linear", "parse", "piecewise"]


@dataclass(frozen=True)
class AlphaSchedule:
    """Alpha as a piecewise-linear function of the epoch.

    Attributes
    ----------
    knots : tuple of (int, float)
        ``(epoch, alpha)`` pairs, epochs strictly increasing, alphas in [0, 1]. Alpha is the
        linear interpolation between the knots around an epoch, the first knot's alpha before
        it and the last knot's after it.

    Examples
    --------
    >>> from refsampler.schedules import piecewise
    >>> schedule = piecewise([(0, 0.0), (10, 1.0)])
    >>> schedule(0), schedule(5), schedule(10), schedule(99)
    (0.0, 0.5, 1.0, 1.0)
    """

    knots: tuple[tuple[int, float], ...]

    def __post_init__(self) -> None:
        # Validated here, not only in piecewise(): the class is public and constructible.
        object.__setattr__(self, "knots", _checked_knots(self.knots))

    def __call__(self, epoch: int) -> float:
        """Alpha at ``epoch`` (a non-negative int).

        Raises
        ------
        InvalidArgumentError
            If ``epoch`` is not a non-negative int.
        """
        epoch = _validate.epoch(epoch)
        knots = self.knots
        if epoch <= knots[0][0]:
            return knots[0][1]
        for (e0, a0), (e1, a1) in itertools.pairwise(knots):
            if epoch <= e1:
                if epoch == e1:
                    return a1
                # Exact at the knots; between them the float interpolation of alpha.
                return a0 + (a1 - a0) * (epoch - e0) / (e1 - e0)
        return knots[-1][1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (``{"piecewise": [[epoch, alpha], ...]}``)."""
        return {"piecewise": [[e, a] for e, a in self.knots]}

    @classmethod
    def from_dict(cls, data: Any) -> AlphaSchedule:
        """The schedule :meth:`to_dict` described."""
        if not isinstance(data, dict) or set(data) != {"piecewise"}:
            raise _validate.fail("schedule", 'must be a dict {"piecewise": [[e, a], ...]}', data)
        return piecewise(data["piecewise"])

    def __str__(self) -> str:
        """``epoch:alpha`` pairs, as :func:`parse` reads them back (exactly: a sampler's
        configuration fingerprint is built from this text)."""
        return ",".join(f"{e}:{_alpha_text(a)}" for e, a in self.knots)


def _alpha_text(alpha: float) -> str:
    """``alpha`` in 6 significant digits when that is exact (``0.25``), else in full."""
    short = f"{alpha:g}"
    return short if float(short) == alpha else repr(alpha)


class TargetOfEpoch:
    """``interpolate(counts, schedule(epoch))``: the target of every epoch, as a picklable
    callable (read-only arrays) for :class:`~refsampler.plan.Plan`.

    Not public: :class:`~refsampler.BalancedBatchSampler` and
    :func:`refsampler.diagnostics.describe` share it so that a schedule gives both the same
    targets.
    """

    def __init__(self, counts: npt.NDArray[np.int64], schedule: AlphaSchedule) -> None:
        self.counts = counts
        self.schedule = schedule

    def __call__(self, epoch: int) -> npt.NDArray[np.float64]:
        target = interpolate(self.counts, self.schedule(epoch))
        target.flags.writeable = False
        return target


def alpha_source(alpha: Any, target: Any) -> float | AlphaSchedule | None:
    """Where a sampler's target comes from, as its ``alpha`` attribute reports it: None for an
    explicit ``target``, else the schedule or the alpha as a float (:data:`DEFAULT_ALPHA`
    for None). The arguments are validated (the sampler's ``alpha`` / ``target`` rules).

    Not public: the sampler and :func:`refsampler.diagnostics.describe` share it.
    """
    if target is not None:
        return None
    if isinstance(alpha, AlphaSchedule):
        return alpha
    # Not float(alpha): a 0-d tensor that requires grad would warn; the check reads it detached.
    return DEFAULT_ALPHA if alpha is None else _validate.unit_interval("alpha", alpha)


def piecewise(knots: Sequence[Any]) -> AlphaSchedule:
    """A piecewise-linear alpha schedule.

    Parameters
    ----------
    knots : sequence of (int, float)
        ``(epoch, alpha)`` pairs with strictly increasing non-negative epochs and alphas in
        [0, 1]; at least one.

    Returns
    -------
    AlphaSchedule

    Raises
    ------
    InvalidArgumentError
        If the knots are empty, not pairs, unsorted or repeated in epoch, or an alpha is
        outside [0, 1].

    Examples
    --------
    >>> from refsampler.schedules import piecewise
    >>> piecewise([(0, 0.0), (30, 0.5), (90, 1.0)])(60)
    0.75
    """
    return AlphaSchedule(_checked_knots(knots))


def _checked_knots(knots: Any) -> tuple[tuple[int, float], ...]:
    """The knots as (int, float) pairs, or InvalidArgumentError naming the bad one."""
    if isinstance(knots, str | bytes) or not isinstance(knots, Sequence) or len(knots) == 0:
        raise _validate.fail("knots", "must be a non-empty sequence of (epoch, alpha) pairs", knots)
    parsed: list[tuple[int, float]] = []
    for i, knot in enumerate(knots):
        if isinstance(knot, str | bytes) or not isinstance(knot, Sequence) or len(knot) != 2:
            raise _validate.fail(f"knots[{i}]", "must be an (epoch, alpha) pair", knot)
        epoch = _validate.epoch(knot[0], name=f"knots[{i}][0]")
        # + 0.0: -0.0 is 0.0 (equal schedules print alike, so their fingerprints match)
        alpha = _validate.unit_interval(f"knots[{i}][1]", knot[1]) + 0.0
        if parsed and epoch <= parsed[-1][0]:
            raise InvalidArgumentError(
                f"`knots` must have strictly increasing epochs; got epoch {epoch} after "
                f"{parsed[-1][0]} at knots[{i}]."
            )
        parsed.append((epoch, alpha))
    return tuple(parsed)


def linear(start: float, end: float, epochs: int) -> AlphaSchedule:
    """Alpha from ``start`` at epoch 0 to ``end`` at epoch ``epochs``, then constant.

    ``linear(0.0, 1.0, T)`` is Kang et al.'s progressively balanced sampling for ``t < T``.

    Parameters
    ----------
    start, end : float
        Alphas in [0, 1].
    epochs : int
        ``>= 1``.

    Examples
    --------
    >>> from refsampler.schedules import linear
    >>> linear(0.0, 1.0, 4)(1)
    0.25
    """
    epochs = _validate.positive_int("epochs", epochs)
    start = _validate.unit_interval("start", start)
    end = _validate.unit_interval("end", end)
    return AlphaSchedule(((0, start), (epochs, end)))


def parse(text: str) -> AlphaSchedule:
    """A schedule from ``"0:0,90:1"`` (epoch:alpha pairs), as the CLI takes it; the inverse
    of ``str(schedule)``.

    Raises
    ------
    InvalidArgumentError
        If ``text`` is not a string of ``epoch:alpha`` pairs with finite alphas in [0, 1] and
        increasing epochs; the message quotes the text.

    Examples
    --------
    >>> from refsampler.schedules import parse
    >>> parse("0:0,90:1")(45)
    0.5
    """
    if not isinstance(text, str):
        raise _validate.fail("alpha schedule", 'must be a string like "0:0,90:1"', text)
    pairs = []
    for part in text.split(","):
        epoch_text, sep, alpha_text = part.partition(":")
        if not sep:
            raise _validate.fail("alpha schedule", 'must look like "0:0,90:1"', text)
        try:
            pairs.append((int(epoch_text), float(alpha_text)))
        except ValueError as exc:
            raise _validate.fail("alpha schedule", 'must look like "0:0,90:1"', text) from exc
    if not all(math.isfinite(a) for _, a in pairs):
        raise _validate.fail("alpha schedule", "must hold finite alphas in [0, 1]", text)
    try:
        return piecewise(pairs)
    except InvalidArgumentError as error:  # name the text, then what is wrong in it
        raise InvalidArgumentError(
            f"`alpha schedule` {text!r} is not a schedule: {error}"
        ) from None
