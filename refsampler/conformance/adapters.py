"""Adapters: every checked implementation is seen through one protocol.

``make_batches(labels, *, kind, alpha, batch_size, n_batches, seed) -> Iterable[Sequence[int]]``

* ``labels`` is a 1-D int64 numpy array of class ids ``0 .. K-1``; every class is non-empty.
* The result is ``n_batches`` batches of ``batch_size`` positions into ``labels``.
* Raising ``NotImplementedError`` means "this kind or alpha is not supported": the kit reports
  it as skipped, not failed.

:func:`load` reaches other APIs (``--api``): ``batches`` (the protocol itself), ``factory``
(pytorch_balanced_sampler's ``.get``) and ``weights`` (per-sample weights run through torch's
``WeightedRandomSampler``).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..errors import InvalidArgumentError

__all__ = ["APIS", "MakeBatches", "from_factory", "from_weights", "load", "refsampler"]

APIS = ("batches", "factory", "weights")


class MakeBatches(Protocol):
    """The adapter protocol."""

    def __call__(
        self,
        labels: npt.NDArray[np.int64],
        *,
        kind: str,
        alpha: float,
        batch_size: int,
        n_batches: int,
        seed: int,
    ) -> Iterable[Sequence[int]]: ...


def refsampler(
    labels: npt.NDArray[np.int64],
    *,
    kind: str,
    alpha: float,
    batch_size: int,
    n_batches: int,
    seed: int,
) -> list[list[int]]:
    """refsampler's own :class:`~refsampler.BalancedBatchSampler`, for all three kinds."""
    from ..sampler import BalancedBatchSampler

    sampler = BalancedBatchSampler(
        labels,
        batch_size,
        kind=kind,
        alpha=alpha,
        n_batches=n_batches,
        seed=seed,
        num_replicas=1,
        rank=0,
    )
    return list(sampler)


def from_factory(factory: Any) -> MakeBatches:
    """Adapt an object (or class) with pytorch_balanced_sampler's ``.get`` method.

    ``get(class_idxs, batch_size, n_batches, alpha, kind)`` must return an iterable of
    batches. If ``get`` accepts ``seed=``, the seed is passed; otherwise numpy's and torch's
    global generators are seeded for the call and restored afterwards, so a factory that
    uses them is reproducible and the caller's global state is left as it was.
    """
    instance: Any = factory() if inspect.isclass(factory) else factory
    if not callable(getattr(instance, "get", None)):
        raise InvalidArgumentError(
            f"`factory` must have a .get(class_idxs, batch_size, n_batches, alpha, kind) "
            f"method; got {type(instance).__name__}."
        )
    takes_seed = "seed" in inspect.signature(instance.get).parameters

    def make_batches(
        labels: npt.NDArray[np.int64],
        *,
        kind: str,
        alpha: float,
        batch_size: int,
        n_batches: int,
        seed: int,
    ) -> list[list[int]]:
        class_idxs = [np.flatnonzero(labels == c).tolist() for c in range(int(labels.max()) + 1)]
        args = (class_idxs, batch_size, n_batches, alpha, kind)
        if takes_seed:
            return [list(map(int, b)) for b in instance.get(*args, seed=seed)]
        import torch

        # The adapted factory draws from numpy's legacy global generator (pytorch_balanced_sampler
        # does); seeding it for the call and restoring it after is the only way to make such a
        # factory reproducible without disturbing the caller.
        saved = np.random.get_state()  # noqa: NPY002
        try:
            np.random.set_state(np.random.RandomState(seed % 2**32).get_state())  # noqa: NPY002
            with torch.random.fork_rng(devices=[]):
                torch.default_generator.manual_seed(seed)
                return [list(map(int, b)) for b in instance.get(*args)]
        finally:
            np.random.set_state(saved)  # noqa: NPY002

    return make_batches


def from_weights(weights_fn: Callable[..., Any]) -> MakeBatches:
    """Adapt ``weights_fn(labels, alpha) -> per-sample weights`` (random kind only).

    The weights drive ``torch.utils.data.WeightedRandomSampler`` (with replacement, seeded
    generator) grouped by ``BatchSampler`` -- the common recipe. ``alpha`` is passed by
    keyword when ``weights_fn`` has a parameter named ``alpha`` (so
    :func:`refsampler.sample_weights`, whose ``alpha`` is keyword-only, works as it is), and
    positionally otherwise.
    """
    try:
        by_keyword = "alpha" in inspect.signature(weights_fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        by_keyword = False

    def make_batches(
        labels: npt.NDArray[np.int64],
        *,
        kind: str,
        alpha: float,
        batch_size: int,
        n_batches: int,
        seed: int,
    ) -> list[list[int]]:
        if kind != "random":
            raise NotImplementedError("per-sample weights can only implement kind='random'")
        import torch
        from torch.utils.data import BatchSampler, WeightedRandomSampler

        raw = weights_fn(labels, alpha=alpha) if by_keyword else weights_fn(labels, alpha)
        weights = np.asarray(raw, dtype=np.float64).tolist()
        generator = torch.Generator().manual_seed(seed)
        sampler = WeightedRandomSampler(
            weights, batch_size * n_batches, replacement=True, generator=generator
        )
        return list(BatchSampler(sampler, batch_size, drop_last=True))

    return make_batches


def load(spec: str, api: str = "batches") -> MakeBatches:
    """Import ``MODULE:CALLABLE`` and adapt it to the protocol.

    Parameters
    ----------
    spec : str
        ``"package.module:name"``; ``name`` may be dotted (``module:Class.attr``).
    api : {"batches", "factory", "weights"}
        How the object is called.

    Raises
    ------
    InvalidArgumentError
        If ``spec`` is malformed, cannot be imported, or ``api`` is unknown.
    """
    if api not in APIS:
        raise InvalidArgumentError(
            f'`api` must be one of "batches", "factory", "weights"; got {api!r}.'
        )
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise InvalidArgumentError(f"`impl` must look like MODULE:CALLABLE; got {spec!r}.")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise InvalidArgumentError(f"`impl` could not be imported ({exc}); got {spec!r}.") from exc
    if api == "factory":
        return from_factory(target)
    if not callable(target):
        raise InvalidArgumentError(f"`impl` must name a callable; got {spec!r}.")
    if api == "weights":
        return from_weights(target)
    return target
