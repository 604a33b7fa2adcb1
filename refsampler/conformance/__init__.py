"""The conformance kit: prove a class-balanced sampler right, or catch it wrong.

``verify(adapter, kinds=..., level="quick" | "full", seed=0)`` runs every check the kinds'
contract properties call for (:mod:`~refsampler.conformance.properties`) against an
implementation of the adapter protocol (:mod:`~refsampler.conformance.adapters`) and returns
a JSON-serialisable :class:`~refsampler.conformance.report.Report`.
``parametrize_with_checks`` turns the same checks into one pytest test per check. The names
are imported on first use, so that the pytest plugin can load this package without scipy or
torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .calls import AdapterExit
    from .configs import CONFIGS, Config
    from .parametrize import parametrize_with_checks
    from .report import Report
    from .results import CheckResult
    from .runner import planned_assertions, verify
    from .stats import FAMILY_LEVEL, min_num_draws

__all__ = [
    "CONFIGS",
    "FAMILY_LEVEL",
    "AdapterExit",
    "CheckResult",
    "Config",
    "Report",
    "min_num_draws",
    "parametrize_with_checks",
    "planned_assertions",
    "verify",
]

_LAZY = {
    "AdapterExit": ".calls",
    "CONFIGS": ".configs",
    "Config": ".configs",
    "CheckResult": ".results",
    "Report": ".report",
    "verify": ".runner",
    "planned_assertions": ".runner",
    "parametrize_with_checks": ".parametrize",
    "FAMILY_LEVEL": ".stats",
    "min_num_draws": ".stats",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
