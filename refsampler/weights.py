"""Per-sample weights for torch's ``WeightedRandomSampler``."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _validate
from .classes import class_counts
from .targets import resolve

__all__ = ["sample_weights"]


def sample_weights(
    labels: Any,
    *,
    alpha: float | None = None,
    target: Any = None,
    num_classes: int | None = None,
) -> npt.NDArray[np.float64]:
    """Weights ``w_i = p_{y_i} / n_{y_i}`` that make weighted sampling hit the target shares.

    Parameters
    ----------
    labels : array_like of int, shape (N,)
        Class id of every sample: a sequence, numpy array or CPU tensor. Ids must be dense,
        ``K <= max(2 N, 2**20)`` (see :func:`refsampler.classes.class_counts`).
    alpha : float, optional
        Interpolation weight in [0, 1]; defaults to 1.0 (uniform over classes) when ``target``
        is not given. 1.0 is the common ``1 / class_count`` recipe, up to a constant factor.
    target : array_like of float, shape (K,), optional
        Explicit target shares; excludes ``alpha``.
    num_classes : int, optional
        ``K``; defaults to ``max(labels) + 1``.

    Returns
    -------
    numpy.ndarray of float64, shape (N,)
        Weights that sum to 1. Drawing sample ``i`` with probability ``w_i`` draws class ``c``
        with probability ``p_c``.

    Notes
    -----
    Pass the result to ``torch.utils.data.WeightedRandomSampler(weights, num_samples)``. That
    sampler runs ``torch.multinomial`` over all N weights and fails beyond 2**24 samples;
    ``BalancedBatchSampler(kind="random")`` draws the same distribution without either cost.

    Examples
    --------
    >>> from refsampler import sample_weights
    >>> sample_weights([0, 0, 0, 1]).tolist()
    [0.16666666666666666, 0.16666666666666666, 0.16666666666666666, 0.5]
    """
    array = _validate.int_array("labels", labels)  # only read: no copy of N labels
    counts = class_counts(array, num_classes)
    p = resolve(counts, alpha, target)
    per_class = np.divide(p, counts, out=np.zeros(p.size), where=counts > 0)
    return per_class[array]
