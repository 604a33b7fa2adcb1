"""refsampler: statistically verified class-balanced batch sampling for PyTorch.

The pure core (:mod:`refsampler.targets`, :mod:`refsampler.allocation`,
:mod:`refsampler.classes`, :mod:`refsampler.plan`) imports numpy only; the samplers are thin
layers over it. The torch-dependent names are imported on first use, so that
``import refsampler`` (and the kit's pytest plugin) does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .allocation import allocate, quota_schedule
from .classes import ClassIndex, class_counts
from .errors import InvalidArgumentError, RefSamplerError, RefSamplerWarning
from .targets import effective_number, explicit, interpolate, power
from .weights import sample_weights

if TYPE_CHECKING:
    from .sampler import BalancedBatchSampler, SamplerFactory

__version__ = "0.1.0"

__all__ = [
    "BalancedBatchSampler",
    "ClassIndex",
    "InvalidArgumentError",
    "RefSamplerError",
    "RefSamplerWarning",
    "SamplerFactory",
    "__version__",
    "allocate",
    "class_counts",
    "effective_number",
    "explicit",
    "interpolate",
    "power",
    "quota_schedule",
    "sample_weights",
]

_LAZY = {"BalancedBatchSampler": ".sampler", "SamplerFactory": ".sampler"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later look-ups skip this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
