"""Which checks prove which contract property: the kit never branches on kind names.

A kind declares its contract properties in :mod:`refsampler.kinds`; :data:`PROPERTY_CHECKS`
maps each property to the module that checks it, so a new kind is verified by declaring its
properties. Every (kind, configuration) also gets
:data:`~refsampler.conformance.checks.BASE_CHECKS`.
:func:`plan` lists, before anything runs, exactly the checks a (kind, configuration) will
report -- the runner's results match it name for name, which is what lets
:func:`~refsampler.conformance.parametrize_with_checks` make one test per check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import kinds as _kinds
from . import appearances, counts, cycles, iid, mixing, order
from .checks import BASE_CHECKS
from .results import CheckResult
from .sample import Sample, Setting
from .streams import plan_streams

__all__ = [
    "PROPERTY_CHECKS",
    "SUPPORTED_OPTIONS",
    "Family",
    "PlannedCheck",
    "checkable",
    "plan",
    "run_properties",
    "unchecked_properties",
]


@dataclass(frozen=True)
class Family:
    """The checks of one contract property.

    Attributes
    ----------
    plan : callable
        ``plan(setting) -> [(check name, exact), ...]``: the checks it will report.
    run : callable
        ``run(sample) -> [CheckResult, ...]``: exactly those checks, in that order.
    """

    plan: Callable[[Setting], list[tuple[str, bool]]]
    run: Callable[[Sample], list[CheckResult]]


def _fixed(sample: Sample) -> list[CheckResult]:
    results = counts.fixed_checks(sample)
    if sample.setting.ties[0].size:
        results.append(counts.ties_check(sample))
    return results


#: Contract property -> the family of checks that proves it.
PROPERTY_CHECKS: dict[str, Family] = {
    _kinds.PROPERTY_FIXED_COUNTS: Family(counts.plan_fixed, _fixed),
    _kinds.PROPERTY_QUOTA_COUNTS: Family(counts.plan_quota, counts.quota_checks),
    _kinds.PROPERTY_CYCLES: Family(cycles.plan_cycles, cycles.cycle_checks),
    _kinds.PROPERTY_EXCHANGEABLE: Family(order.plan_order, order.order_checks),
    _kinds.PROPERTY_MIXES_CLASSES: Family(mixing.plan_mixing, mixing.mixing_checks),
    _kinds.PROPERTY_IID_CLASSES: Family(iid.plan_iid, iid.iid_checks),
    _kinds.PROPERTY_WITH_REPLACEMENT: Family(iid.plan_replacement, iid.replacement_checks),
    _kinds.PROPERTY_PK_SHAPE: Family(appearances.plan_pk_shape, appearances.pk_shape_checks),
    _kinds.PROPERTY_APPEARANCE_BOUND: Family(
        appearances.plan_appearances, appearances.appearance_checks
    ),
}

#: Kind options the kit can pass (a configuration supplies them; an adapter that does not
#: take one declines the configurations that need it).
SUPPORTED_OPTIONS = frozenset({"samples_per_class"})


def unchecked_properties(kind: str) -> frozenset[str]:
    """Properties of ``kind`` the kit has no checks for (it then refuses to verify it)."""
    return _kinds.get(kind).properties - PROPERTY_CHECKS.keys()


def checkable(kind: str) -> bool:
    """Whether the kit checks every property of ``kind`` and can pass its options (only the
    options in :data:`SUPPORTED_OPTIONS`)."""
    traits = _kinds.get(kind)
    return not unchecked_properties(kind) and set(traits.options) <= SUPPORTED_OPTIONS


def _families(setting: Setting) -> list[Family]:
    # Registry order of the properties keeps reports stable.
    ordered = [p for p in PROPERTY_CHECKS if p in setting.properties]
    return [PROPERTY_CHECKS[p] for p in ordered]


@dataclass(frozen=True)
class PlannedCheck:
    """A check a run will report, known before it runs.

    Attributes
    ----------
    kind, config, check : str
    exact : bool
    """

    kind: str
    config: str
    check: str
    exact: bool

    @property
    def id(self) -> str:
        """A readable test id: ``kind-config-check`` (brackets become dashes)."""
        name = self.check.replace("[", "-").replace("]", "")
        return f"{self.kind}-{self.config}-{name}"


def plan(setting: Setting) -> list[PlannedCheck]:
    """Every check :func:`~refsampler.conformance.verify` reports for ``setting``, in order."""
    names: list[tuple[str, bool]] = [(name, True) for name in BASE_CHECKS]
    for family in _families(setting):
        names += family.plan(setting)
    names += plan_streams(setting)
    seen: set[str] = set()
    out = []
    for name, is_exact in names:
        if name not in seen:
            seen.add(name)
            out.append(PlannedCheck(setting.kind, setting.config.name, name, is_exact))
    return out


def run_properties(sample: Sample) -> list[CheckResult]:
    """The property checks of ``sample`` (everything but the base checks), once per name."""
    results: list[CheckResult] = []
    seen: set[str] = set()
    for family in _families(sample.setting):
        for result in family.run(sample):
            if result.check not in seen:
                seen.add(result.check)
                results.append(result)
    return results
