"""refsampler: statistically verified class-balanced batch sampling for PyTorch.

The pure core (:mod:`refsampler.targets`, :mod:`refsampler.allocation`,
:mod:`refsampler.classes`, :mod:`refsampler.plan`) imports numpy only; the samplers are thin
layers over it.
"""

from .allocation import allocate, quota_schedule
from .classes import ClassIndex, class_counts
from .errors import InvalidArgumentError, RefSamplerError
from .sampler import BalancedBatchSampler, SamplerFactory
from .targets import effective_number, explicit, interpolate, power
from .weights import sample_weights

__version__ = "0.1.0"

__all__ = [
    "BalancedBatchSampler",
    "ClassIndex",
    "InvalidArgumentError",
    "RefSamplerError",
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
