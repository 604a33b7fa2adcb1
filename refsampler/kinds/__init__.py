"""The kinds of balanced batches: one object per kind, behind one protocol.

A kind is looked up by name with :func:`get`. Everything outside this package that needs to
know what a kind promises asks its :attr:`Kind.properties` -- a set of contract properties
named by the ``PROPERTY_*`` constants below -- instead of comparing kind names. The
conformance kit, for example, runs exactly the checks of the properties a kind declares.

This module imports nothing but the standard library, so that the kit's pytest plugin can
read kind properties without numpy or torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = [
    "PROPERTIES",
    "PROPERTY_APPEARANCE_BOUND",
    "PROPERTY_CYCLES",
    "PROPERTY_EXCHANGEABLE",
    "PROPERTY_FIXED_COUNTS",
    "PROPERTY_IID_CLASSES",
    "PROPERTY_MIXES_CLASSES",
    "PROPERTY_PK_SHAPE",
    "PROPERTY_QUOTA_COUNTS",
    "PROPERTY_WITH_REPLACEMENT",
    "KindTraits",
    "check",
    "get",
    "load",
    "names",
]

#: Every batch of an epoch has the same class-count vector: largest-remainder rounding of
#: ``B * p`` (each count floor or ceil, every positive class at least 1), exact ties broken at
#: random per epoch.
PROPERTY_FIXED_COUNTS = "fixed_counts"
#: Every per-batch count is floor or ceil of ``B * p_c``; after every batch of the run each
#: class's cumulative count is within 1 of ``k * B * p_c``.
PROPERTY_QUOTA_COUNTS = "quota_counts"
#: Each position's class is drawn i.i.d. from the target.
PROPERTY_IID_CLASSES = "iid_classes"
#: Members are drawn uniformly with replacement within their class.
PROPERTY_WITH_REPLACEMENT = "with_replacement"
#: Members come from shuffled cycles over the class (without replacement, reshuffled at every
#: wrap, continued across epochs); no member repeats inside a batch when the class has at
#: least as many members as its count in that batch.
PROPERTY_CYCLES = "cycles"
#: The order of positions inside a batch is a uniform shuffle.
PROPERTY_EXCHANGEABLE = "exchangeable"
#: Which classes share a batch changes with the seed and over the run: no pair of classes
#: with a positive chance of meeting is kept apart, none is locked together.
PROPERTY_MIXES_CLASSES = "mixes_classes"
#: Every batch holds P distinct classes with exactly m distinct members each.
PROPERTY_PK_SHAPE = "pk_shape"
#: After every batch of the run each class's number of appearances is within 1 of
#: ``k * P * p_c``.
PROPERTY_APPEARANCE_BOUND = "appearance_bound"

PROPERTIES = frozenset(
    {
        PROPERTY_FIXED_COUNTS,
        PROPERTY_QUOTA_COUNTS,
        PROPERTY_IID_CLASSES,
        PROPERTY_WITH_REPLACEMENT,
        PROPERTY_CYCLES,
        PROPERTY_EXCHANGEABLE,
        PROPERTY_MIXES_CLASSES,
        PROPERTY_PK_SHAPE,
        PROPERTY_APPEARANCE_BOUND,
    }
)


@dataclass(frozen=True)
class KindTraits:
    """What a kind promises, as data.

    Attributes
    ----------
    name : str
        The ``kind=`` string.
    properties : frozenset of str
        The contract properties the kind guarantees (``PROPERTY_*``).
    options : tuple of str
        Keyword arguments only this kind accepts (``("samples_per_class",)`` for ``"pk"``).
    summary : str
        One line for help texts.
    """

    name: str
    properties: frozenset[str]
    options: tuple[str, ...]
    summary: str

    def __post_init__(self) -> None:
        unknown = self.properties - PROPERTIES
        if unknown:
            raise ValueError(f"kind {self.name!r} declares unknown properties {sorted(unknown)}")


_TRAITS: dict[str, KindTraits] = {}


def _register(traits: KindTraits) -> None:
    _TRAITS[traits.name] = traits


_register(
    KindTraits(
        "fixed",
        frozenset(
            {
                PROPERTY_FIXED_COUNTS,
                PROPERTY_CYCLES,
                PROPERTY_EXCHANGEABLE,
                PROPERTY_MIXES_CLASSES,
            }
        ),
        (),
        "every batch of an epoch has the same class counts (largest remainder of B*p)",
    )
)
_register(
    KindTraits(
        "quota",
        frozenset(
            {
                PROPERTY_QUOTA_COUNTS,
                PROPERTY_CYCLES,
                PROPERTY_EXCHANGEABLE,
                PROPERTY_MIXES_CLASSES,
            }
        ),
        (),
        "counts vary by one so every prefix of the run is within one sample of k*B*p",
    )
)
_register(
    KindTraits(
        "random",
        frozenset({PROPERTY_IID_CLASSES, PROPERTY_WITH_REPLACEMENT, PROPERTY_EXCHANGEABLE}),
        (),
        "classes i.i.d. from the target, members uniform with replacement",
    )
)


_register(
    KindTraits(
        "pk",
        frozenset(
            {
                PROPERTY_PK_SHAPE,
                PROPERTY_APPEARANCE_BOUND,
                PROPERTY_CYCLES,
                PROPERTY_EXCHANGEABLE,
                PROPERTY_MIXES_CLASSES,
            }
        ),
        ("samples_per_class",),
        "P distinct classes x m distinct members per batch (metric learning)",
    )
)


def names() -> tuple[str, ...]:
    """The registered kind names, in registration order."""
    return tuple(_TRAITS)


def get(name: str) -> KindTraits:
    """The traits of kind ``name``.

    Raises
    ------
    KeyError
        If no kind of that name is registered (callers validating user input turn this into
        an :class:`~refsampler.errors.InvalidArgumentError`).
    """
    return _TRAITS[name]


def load(name: str) -> ModuleType:
    """The module implementing kind ``name`` (``refsampler.kinds.<name>``), imported on first
    use; it has ``build(setting)`` returning the kind's plan. Raises ``KeyError`` for an
    unregistered name."""
    get(name)
    return importlib.import_module(f"{__name__}.{name}")


def check(
    name: str,
    class_counts: Any,
    batch_size: int,
    options: dict[str, Any],
    targets: list[tuple[Any, float | None]],
    schedule: Any = None,
) -> dict[str, Any]:
    """A kind's own checks at construction, before any plan is built.

    A kind module may define ``check(class_counts, batch_size, options, targets,
    schedule)``: it validates the values of the kind's options (returning them normalised)
    and refuses every ``(target, alpha)`` of the run it cannot serve (``alpha`` is None for
    an explicit target; with an alpha ``schedule``, ``targets`` are its knots', and the kind
    checks the epochs between them where its feasibility can change), with an
    :class:`~refsampler.errors.InvalidArgumentError`. Kinds without one take ``options`` as
    given. Callers never branch on the kind's name.
    """
    hook = getattr(load(name), "check", None)
    if hook is None:
        return dict(options)
    return dict(hook(class_counts, batch_size, options, targets, schedule))
