"""The conformance kit: prove a class-balanced sampler right, or catch it wrong.

``verify(adapter, kinds=..., level="quick" | "full", seed=0)`` runs every check of
:mod:`~refsampler.conformance.checks` against an implementation of the adapter protocol
(:mod:`~refsampler.conformance.adapters`) and returns a JSON-serialisable
:class:`~refsampler.conformance.report.Report`. The names are imported on first use, so that
the pytest plugin can load this package without scipy or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checks import CONFIGS, CheckResult, Config
    from .report import Report
    from .runner import planned_assertions, verify
    from .stats import FAMILY_LEVEL, min_num_draws

__all__ = [
    "CONFIGS",
    "FAMILY_LEVEL",
    "CheckResult",
    "Config",
    "Report",
    "min_num_draws",
    "planned_assertions",
    "verify",
]

_LAZY = {
    "CONFIGS": ".checks",
    "CheckResult": ".checks",
    "Config": ".checks",
    "Report": ".report",
    "verify": ".runner",
    "planned_assertions": ".runner",
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
