"""Target class distributions: pure functions of the class counts.

Every function returns a float64 vector ``p`` with ``p >= 0`` and ``sum(p) == 1`` within
1e-12, and raises :class:`~refsampler.errors.InvalidArgumentError` instead of giving a positive
share to a class with no samples. This module imports numpy only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _validate
from .errors import InvalidArgumentError

__all__ = ["effective_number", "explicit", "interpolate", "power"]

FloatVector = npt.NDArray[np.float64]

#: The ``alpha`` of a sampler given neither ``alpha`` nor ``target``: uniform over the classes.
DEFAULT_ALPHA = 1.0


def interpolate(class_counts: Any, alpha: float) -> FloatVector:
    """Move from the empirical class shares (alpha = 0) to uniform (alpha = 1).

    Parameters
    ----------
    class_counts : array_like of int, shape (K,)
        Number of samples in each class.
    alpha : float
        Interpolation weight in [0, 1].

    Returns
    -------
    numpy.ndarray of float64, shape (K,)
        The target shares ``p``.

    Raises
    ------
    InvalidArgumentError
        If ``alpha`` is outside [0, 1] or not a real number, if the counts are not
        non-negative integers with a positive total, or if ``alpha > 0`` and a class is empty.

    Notes
    -----
    .. math:: p_c = \\frac{\\alpha}{K} + (1 - \\alpha) \\frac{n_c}{N}

    This is pytorch_balanced_sampler's ``alpha``. The endpoints are exact: ``alpha=0``
    returns ``n / N`` and ``alpha=1`` returns ``1 / K`` bit for bit.

    Examples
    --------
    >>> from refsampler.targets import interpolate
    >>> interpolate([600, 300, 100], 0.0).tolist()
    [0.6, 0.3, 0.1]
    >>> interpolate([600, 300, 100], 0.5).round(4).tolist()
    [0.4667, 0.3167, 0.2167]
    """
    alpha = _validate.unit_interval("alpha", alpha)
    counts = _validate.class_counts_vector("class_counts", class_counts)
    empirical = counts / counts.sum()
    if alpha == 0.0:
        target = empirical
    elif alpha == 1.0:
        target = np.full(counts.size, 1.0 / counts.size)
    else:
        target = alpha / counts.size + (1.0 - alpha) * empirical
    _validate.feasible_target(target, counts, f"`alpha`={alpha!r}")
    return target


def power(class_counts: Any, exponent: float) -> FloatVector:
    """Shares proportional to a power of the class counts.

    Parameters
    ----------
    class_counts : array_like of int, shape (K,)
        Number of samples in each class.
    exponent : float
        The power ``q``; any finite real. ``q = 1`` is instance-balanced, ``q = 0``
        class-balanced and ``q = 0.5`` square-root sampling.

    Returns
    -------
    numpy.ndarray of float64, shape (K,)

    Raises
    ------
    InvalidArgumentError
        If ``exponent`` is not finite, the counts are invalid, or ``q <= 0`` and a class is
        empty (``0**q`` would give it a positive or infinite share).

    Notes
    -----
    .. math:: p_c = \\frac{n_c^q}{\\sum_j n_j^q} = \\frac{(n_c / n_*)^q}{\\sum_j (n_j / n_*)^q}

    computed in the second form, with ``n_*`` the largest count when ``q > 0`` and the smallest
    positive one when ``q < 0``: no term exceeds 1, so every finite ``q`` gives a finite
    result, and a huge ``|q|`` gives the limit -- all mass shared equally by the largest
    classes (``q -> +inf``) or the smallest non-empty ones (``q -> -inf``).

    An empty class gets share 0 when ``q > 0``.

    References
    ----------
    .. [1] D. Mahajan et al., "Exploring the Limits of Weakly Supervised Pretraining",
       ECCV 2018 (square-root sampling).

    Examples
    --------
    >>> from refsampler.targets import power
    >>> power([900, 100], 0.5).round(4).tolist()
    [0.75, 0.25]
    >>> power([1, 2, 2], 1e6).tolist()
    [0.0, 0.5, 0.5]
    """
    q = _finite_real("exponent", exponent)
    counts = _validate.class_counts_vector("class_counts", class_counts)
    present = counts > 0
    if q <= 0 and not present.all():
        raise _empty_class_error(counts, f"when `exponent` is {q!r} (<= 0)")
    sizes = counts[present].astype(np.float64)
    # Relative to the class that gets the most mass, every ratio is <= 1, so ratio**q cannot
    # overflow and that class's weight is exactly 1: the sum is in [1, K] for every finite q.
    reference = sizes.max() if q > 0 else sizes.min()
    weights = np.zeros(counts.size)
    with np.errstate(under="ignore"):  # a share below 1e-308 of the largest one is 0
        weights[present] = (sizes / reference) ** q
    return weights / weights.sum()


def effective_number(class_counts: Any, beta: float) -> FloatVector:
    """Shares inversely proportional to the effective number of samples.

    Parameters
    ----------
    class_counts : array_like of int, shape (K,)
        Number of samples in each class; every class must be non-empty.
    beta : float
        In [0, 1). ``beta = 0`` gives uniform shares; ``beta -> 1`` approaches ``1 / n_c``.

    Returns
    -------
    numpy.ndarray of float64, shape (K,)

    Notes
    -----
    .. math:: p_c \\propto \\frac{1 - \\beta}{1 - \\beta^{n_c}}

    computed as ``1 / -expm1(n_c log beta)`` for accuracy when ``beta`` is close to 1.

    References
    ----------
    .. [1] Y. Cui, M. Jia, T.-Y. Lin, Y. Song, S. Belongie, "Class-Balanced Loss Based on
       Effective Number of Samples", CVPR 2019.

    Examples
    --------
    >>> from refsampler.targets import effective_number
    >>> effective_number([1000, 10], 0.99).round(4).tolist()
    [0.0873, 0.9127]
    """
    b = _validate.real_number(beta)
    if b is None:
        raise _validate.fail("beta", "must be a real number in [0, 1)", beta)
    if not 0.0 <= b < 1.0:
        raise _validate.fail("beta", "must be in [0, 1)", beta)
    counts = _validate.class_counts_vector("class_counts", class_counts)
    if not (counts > 0).all():
        raise _empty_class_error(counts, "for effective_number")
    if b == 0.0:
        return np.full(counts.size, 1.0 / counts.size)
    weights = 1.0 / -np.expm1(counts * np.log(b))
    return weights / weights.sum()


def explicit(weights: Any) -> FloatVector:
    """Normalise non-negative weights into a target.

    Parameters
    ----------
    weights : array_like of float, shape (K,)
        Finite, non-negative, with a positive sum.

    Returns
    -------
    numpy.ndarray of float64, shape (K,)
        ``weights / sum(weights)``, as a new array.

    Notes
    -----
    .. math:: p_c = \\frac{w_c}{\\sum_j w_j} = \\frac{w_c 2^{-e}}{\\sum_j w_j 2^{-e}}

    with ``2**e`` the power of two above ``max(w)``: scaling by it is exact, and the scaled sum
    cannot overflow, so weights near the float64 maximum are normalised correctly.

    Examples
    --------
    >>> from refsampler.targets import explicit
    >>> explicit([2, 1, 1]).tolist()
    [0.5, 0.25, 0.25]
    >>> explicit([1e308, 1e308]).tolist()
    [0.5, 0.5]
    """
    array = _validate.as_array(
        "weights", weights, "must be a 1-D sequence of real numbers", dtype=np.float64, copy=True
    )
    if array.ndim == 0:
        raise _validate.fail("weights", "must be 1-D, but has shape ()", weights)
    if array.ndim != 1 or array.size == 0:
        raise _validate.fail("weights", "must be a non-empty 1-D sequence", weights)
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise _validate.fail("weights", "must be finite and non-negative", weights)
    largest = array.max()
    if largest <= 0:
        raise _validate.fail("weights", "must have a positive sum", weights)
    # Scale by the power of two just above the largest weight before summing: exact, so the
    # result is bit for bit weights / sum(weights) whenever that sum is finite, and the sum
    # of the scaled weights (in (0.5, K]) cannot overflow.
    with np.errstate(under="ignore"):  # weights below 1e-308 of the largest one get share 0
        array = np.ldexp(array, -np.frexp(largest)[1])
    return array / array.sum()


def _finite_real(name: str, value: Any) -> float:
    result = _validate.real_number(value)
    if result is None or not math.isfinite(result):
        raise _validate.fail(name, "must be a finite real number", value)
    return result


def _empty_class_error(counts: npt.NDArray[np.int64], when: str) -> InvalidArgumentError:
    c = int(np.flatnonzero(counts == 0)[0])
    return InvalidArgumentError(
        f"`class_counts` must all be positive {when}, but class {c} has none; "
        f"got {_validate._show(counts)}."
    )


def resolve(class_counts: npt.NDArray[np.int64], alpha: Any, target: Any) -> FloatVector:
    """The target the samplers use: ``target`` if given, else ``interpolate(alpha)``.

    ``alpha=None`` means :data:`DEFAULT_ALPHA` when no ``target`` is given; giving both is an
    error. Not public:
    the samplers and :func:`refsampler.sample_weights` share it so their rules cannot drift.
    """
    if target is not None:
        if alpha is not None:
            raise InvalidArgumentError(
                f"give `alpha` or `target`, not both; got alpha={_validate._show(alpha)} and "
                f"target={_validate._show(target)}."
            )
        p = _validate.probability_vector("target", target)
        _validate.feasible_target(p, class_counts, "`target`")
        return p
    return interpolate(class_counts, DEFAULT_ALPHA if alpha is None else alpha)
