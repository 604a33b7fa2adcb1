"""The configurations a verify run puts an implementation through.

Each :class:`Config` is a labelled dataset (class counts), a batch size and an ``alpha`` (a
number, or an alpha schedule that moves the target with the epoch), chosen to provoke one
family of defects: long tails, tiny classes, small batches, more classes than a batch holds,
cycles that end inside a batch, exact ties, alpha at 0, 1 and in between. Configurations with
``samples_per_class`` serve the kinds that take that option (P x m batches); the others never
do. ``refsampler verify --list-configs`` prints them; an adapter that cannot serve one raises
``NotImplementedError`` for it and the kit lists it as declined.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import kinds as _kinds

__all__ = ["CONFIGS", "Config", "by_name", "fixed_counts_feasible", "pk_feasible"]

IntVector = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Config:
    """One configuration the kit runs an implementation on.

    Parameters
    ----------
    name : str
        Short identifier, used in reports, ``--config`` and test ids.
    class_counts : tuple of int
        Samples per class (all positive).
    batch_size : int
    alpha : float or AlphaSchedule
        Interpolation weight of the target (0: empirical shares, 1: uniform), or a schedule
        (:mod:`refsampler.schedules`) giving it per epoch; adapters receive it as it is.
    why : str
        What this configuration is there to catch.
    samples_per_class : int, optional
        ``m`` of kinds that take ``samples_per_class`` (P = B / m classes per batch); such a
        configuration serves only those kinds unless ``all_kinds``.
    all_kinds : bool
        A configuration with ``samples_per_class`` also serves the kinds without the option
        (they are not given it).
    """

    name: str
    class_counts: tuple[int, ...]
    batch_size: int
    alpha: Any
    why: str
    samples_per_class: int | None = None
    all_kinds: bool = False

    @property
    def num_classes(self) -> int:
        """K."""
        return len(self.class_counts)

    def labels(self) -> IntVector:
        """The labels: a fixed, name-keyed shuffle, so that positions are not sorted by class."""
        labels = np.repeat(np.arange(self.num_classes, dtype=np.int64), self.class_counts)
        key = int.from_bytes(hashlib.blake2b(self.name.encode(), digest_size=8).digest(), "little")
        return np.random.default_rng(key).permutation(labels)

    @property
    def scheduled(self) -> bool:
        """Whether ``alpha`` is a schedule (the target moves with the epoch)."""
        return callable(self.alpha)

    def alpha_at(self, epoch: int = 0) -> float:
        """The alpha of ``epoch``."""
        return float(self.alpha(epoch)) if callable(self.alpha) else float(self.alpha)

    def target(self, epoch: int = 0) -> FloatVector:
        """The target shares of ``epoch``: ``p_c = alpha / K + (1 - alpha) n_c / N``."""
        from ..targets import interpolate

        return np.asarray(
            interpolate(np.asarray(self.class_counts), self.alpha_at(epoch)), np.float64
        )

    def alpha_text(self) -> float | str:
        """``alpha`` for reports: the number, or the schedule as ``epoch:alpha,...``."""
        return str(self.alpha) if self.scheduled else float(self.alpha)

    def options(self, kind: str) -> dict[str, Any]:
        """The keyword options ``kind`` is called with here (``samples_per_class`` for kinds
        that take it), from the kind's traits."""
        if "samples_per_class" in _kinds.get(kind).options and self.samples_per_class:
            return {"samples_per_class": self.samples_per_class}
        return {}

    def _epochs(self) -> list[int]:
        # Alphas between knots interpolate the knots' (every constraint below is linear in
        # alpha), so feasibility at the knots is feasibility at every epoch.
        return [int(e) for e, _ in self.alpha.knots] if self.scheduled else [0]

    def applies_to(self, kind: str) -> bool:
        """Whether ``kind`` can serve this configuration at all.

        The fixed-counts property needs a seat for every class with a positive target
        (:func:`fixed_counts_feasible`); the pk-shape property needs ``samples_per_class``,
        ``P p_c <= 1`` and ``m`` members in every positive class, at every epoch.
        """
        traits = _kinds.get(kind)
        takes_m = "samples_per_class" in traits.options
        if takes_m and self.samples_per_class is None:
            return False
        if not takes_m and self.samples_per_class is not None and not self.all_kinds:
            return False
        for epoch in self._epochs():
            target = self.target(epoch)
            if _kinds.PROPERTY_FIXED_COUNTS in traits.properties and not fixed_counts_feasible(
                target, self.batch_size
            ):
                return False
            if takes_m and not pk_feasible(
                target, self.batch_size, self.class_counts, int(self.samples_per_class or 0)
            ):
                return False
        return True

    def describe(self) -> dict[str, Any]:
        """Class counts, batch size, alpha and target as JSON-ready values."""
        return {
            "config": self.name,
            "class_counts": list(self.class_counts),
            "batch_size": self.batch_size,
            "alpha": self.alpha_text(),
            "samples_per_class": self.samples_per_class,
            "target": [float(p) for p in self.target()],
        }


def fixed_counts_feasible(target: Any, batch_size: int) -> bool:
    """Whether a fixed count vector exists: every positive class can get at least one seat."""
    from ..allocation import allocate
    from ..errors import InvalidArgumentError

    try:
        allocate(target, batch_size)
    except InvalidArgumentError:
        return False
    return True


def pk_feasible(target: Any, batch_size: int, class_counts: Any, samples: int) -> bool:
    """Whether P x m batches can meet ``target``: ``m`` divides ``B``, at least ``P`` classes
    have a positive share, each of them has ``m`` members, and every ``P p_c <= 1``."""
    from ..errors import InvalidArgumentError
    from ..kinds.pk import check_feasible

    if samples < 1 or batch_size % samples:
        return False
    try:
        check_feasible(
            np.asarray(target, np.float64),
            batch_size // samples,
            np.asarray(class_counts, np.int64),
            samples,
        )
    except InvalidArgumentError:
        return False
    return True


def _schedule(start: float, end: float, epochs: int) -> Any:
    from ..schedules import linear

    return linear(start, end, epochs)


#: The configurations of a verify run, in the order they run.
CONFIGS: tuple[Config, ...] = (
    Config(
        "uniform",
        (300, 100, 50, 20, 5),
        10,
        1.0,
        "alpha 1 (uniform) on an imbalanced dataset, equal per-batch counts",
    ),
    Config(
        "long-tail",
        (400, 150, 60, 25, 10, 4, 2, 1),
        16,
        0.5,
        "a long tail down to a single sample, alpha between the endpoints",
    ),
    Config(
        "tiny-classes",
        (2, 500, 1, 500),
        8,
        0.0,
        "alpha 0 (empirical shares) with classes whose quota rounds to 0; sizes out of step "
        "with class ids",
    ),
    Config("small-batch", (50, 30, 20), 3, 0.3, "batches of 3"),
    Config(
        "wrap-in-batch",
        (40, 5, 3, 1),
        16,
        1.0,
        "4 draws of each class a batch: the classes of 3 and 1 wrap inside a batch; the class "
        "of 5 wraps 1, 2 or 3 draws in, and its next cycle must not repeat those members",
    ),
    Config("single-class", (3,), 4, 0.5, "one class, smaller than a batch (K = 1 edge case)"),
    Config(
        "tied-remainders",
        (60, 45, 30, 24, 18, 12, 8, 3),
        12,
        1.0,
        "B p_c = 1.5 for all 8 classes: exact ties decide 4 seats, which must vary by seed",
    ),
    Config(
        "remainder-order",
        (10, 20, 40, 80, 160),
        20,
        0.0,
        "alpha 0, sizes rising with the class id: the last fixed seat goes to the largest "
        "remainder, the middle class's, not to the lowest or highest id nor the largest class",
    ),
    Config(
        "rotation",
        (30, 25, 20, 20, 15, 15, 12, 10, 8, 6),
        4,
        1.0,
        "10 classes, 4 seats: which classes meet must change with the seed (no locked rotation, "
        "no first batches by class id)",
    ),
    Config(
        "many-classes",
        tuple(int(n) for n in np.linspace(60, 3, 24).round()),
        8,
        1.0,
        "more classes than a batch holds (fixed is infeasible)",
    ),
    Config(
        "schedule",
        (40, 36, 32, 28, 24, 20),
        12,
        _schedule(0.0, 1.0, 4),
        "alpha schedule linear(0, 1, 4): every epoch has its own target (the batches API sees "
        "epoch 0)",
        samples_per_class=3,
        all_kinds=True,
    ),
    Config(
        "pk-rotation",
        (30, 25, 20, 20, 15, 15, 12, 10, 8, 6),
        8,
        1.0,
        "P x m = 4 x 2 of 10 classes: which classes meet must change with the seed",
        samples_per_class=2,
    ),
    Config(
        "pk-long-tail",
        (120, 80, 60, 40, 30, 20, 12, 8),
        12,
        0.5,
        "P x m = 4 x 3 on a long tail: unequal appearance rates, a class of 8 wraps its cycle "
        "inside an appearance",
        samples_per_class=3,
    ),
    Config(
        "pk-every-batch",
        (50, 10, 10, 10, 10, 10),
        4,
        0.0,
        "P x m = 2 x 2 with a class whose P p_c = 1: it is in every batch",
        samples_per_class=2,
    ),
)


def by_name(names: Any) -> tuple[Config, ...]:
    """The configurations called ``names`` (in the order given).

    Raises
    ------
    InvalidArgumentError
        For a name that is not in :data:`CONFIGS`, or an empty selection.

    Examples
    --------
    >>> from refsampler.conformance.configs import by_name
    >>> [c.batch_size for c in by_name(["uniform", "rotation"])]
    [10, 4]
    """
    from .. import _validate

    known = {c.name: c for c in CONFIGS}
    selected = (names,) if isinstance(names, str) else tuple(names)
    if not selected:
        raise _validate.fail("configs", "must name at least one configuration", selected)
    for name in selected:
        if name not in known:
            raise _validate.fail(
                "configs", "must name configurations among " + ", ".join(known), name
            )
    return tuple(known[name] for name in selected)
