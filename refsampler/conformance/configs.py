"""The configurations a verify run puts an implementation through.

Each :class:`Config` is a labelled dataset (class counts), a batch size and an ``alpha``,
chosen to provoke one family of defects: long tails, tiny classes, small batches, more classes
than a batch holds, exact ties, alpha at 0, 1 and in between. ``refsampler verify
--list-configs`` prints them; an adapter that cannot serve one raises ``NotImplementedError``
for it and the kit lists it as declined.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import kinds as _kinds

__all__ = ["CONFIGS", "Config", "by_name", "fixed_counts_feasible"]

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
    alpha : float
        Interpolation weight of the target (0: empirical shares, 1: uniform).
    why : str
        What this configuration is there to catch.
    """

    name: str
    class_counts: tuple[int, ...]
    batch_size: int
    alpha: float
    why: str

    @property
    def num_classes(self) -> int:
        """K."""
        return len(self.class_counts)

    def labels(self) -> IntVector:
        """The labels: a fixed, name-keyed shuffle, so that positions are not sorted by class."""
        labels = np.repeat(np.arange(self.num_classes, dtype=np.int64), self.class_counts)
        key = int.from_bytes(hashlib.blake2b(self.name.encode(), digest_size=8).digest(), "little")
        return np.random.default_rng(key).permutation(labels)

    def target(self) -> FloatVector:
        """The target shares ``p_c = alpha / K + (1 - alpha) n_c / N``."""
        from ..targets import interpolate

        return np.asarray(interpolate(np.asarray(self.class_counts), self.alpha), np.float64)

    def applies_to(self, kind: str) -> bool:
        """Whether ``kind`` can serve this configuration at all.

        Only the fixed-counts property can be infeasible: it needs a seat for every class with
        a positive target (:func:`fixed_counts_feasible`).
        """
        properties = _kinds.get(kind).properties
        if _kinds.PROPERTY_FIXED_COUNTS in properties:
            return fixed_counts_feasible(self.target(), self.batch_size)
        return True

    def describe(self) -> dict[str, Any]:
        """Class counts, batch size, alpha and target as JSON-ready values."""
        return {
            "config": self.name,
            "class_counts": list(self.class_counts),
            "batch_size": self.batch_size,
            "alpha": self.alpha,
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
        (500, 500, 2, 1),
        8,
        0.0,
        "alpha 0 (empirical shares) with classes whose quota rounds to 0",
    ),
    Config("small-batch", (50, 30, 20), 3, 0.3, "batches of 3"),
    Config(
        "wrap-in-batch",
        (40, 3, 1),
        12,
        1.0,
        "classes smaller than their per-batch count: cycles wrap inside a batch",
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
        "rotation",
        (30, 25, 20, 20, 15, 15, 12, 10, 8, 6),
        4,
        1.0,
        "10 classes, 4 seats: which classes meet must change with the seed (no locked rotation)",
    ),
    Config(
        "many-classes",
        tuple(int(n) for n in np.linspace(60, 3, 24).round()),
        8,
        1.0,
        "more classes than a batch holds (fixed is infeasible)",
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
