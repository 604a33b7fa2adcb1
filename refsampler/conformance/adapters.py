"""Adapters: every checked implementation is seen through one protocol.

``make_batches(labels, *, kind, alpha, batch_size, n_batches, seed) -> Iterable[Sequence[int]]``
(``+ samples_per_class`` for kinds that take it)

* ``labels`` is a 1-D int64 numpy array of class ids ``0 .. K-1``; every class is non-empty.
* ``alpha`` is a number, or an alpha schedule (:mod:`refsampler.schedules`: a callable of the
  epoch); the batches API is epoch 0. An adapter that cannot take a schedule declines it.
* ``samples_per_class`` (``m``) is passed only for kinds whose traits name that option
  (``pk``: ``B / m`` classes of ``m`` members per batch). An adapter without that keyword
  declines those configurations (the kit reads its signature; a ``TypeError`` naming the
  keyword counts as well).
* The result is ``n_batches`` batches of ``batch_size`` positions into ``labels``.
* Raising ``NotImplementedError`` means "this configuration is not supported" (a kind, an
  alpha, a tiny class ...): the kit skips that configuration only, lists it as declined with
  the message, and still runs the others. Any other exception fails the configuration.
* The adapter must not modify ``labels`` (the kit checks it after the call and after reading
  the batches).

:func:`load` reaches other APIs (``--api``): ``batches`` (the protocol itself), ``factory``
(pytorch_balanced_sampler's ``.get``) and ``weights`` (per-sample weights run through torch's
``WeightedRandomSampler``).
"""

from __future__ import annotations

import copy
import importlib
import inspect
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..errors import InvalidArgumentError

__all__ = [
    "APIS",
    "MakeBatches",
    "WatchedBatches",
    "api_kinds",
    "from_factory",
    "from_weights",
    "load",
    "refsampler",
    "refsampler_sampler",
    "weighted_random_sampler",
    "weights_kinds",
]

APIS = ("batches", "factory", "weights", "sampler")


class MakeBatches(Protocol):
    """The adapter protocol."""

    def __call__(
        self,
        labels: npt.NDArray[np.int64],
        *,
        kind: str,
        alpha: Any,
        batch_size: int,
        n_batches: int,
        seed: int,
    ) -> Iterable[Sequence[int]]: ...


def refsampler(
    labels: npt.NDArray[np.int64],
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    samples_per_class: int | None = None,
) -> list[list[int]]:
    """refsampler's own :class:`~refsampler.BalancedBatchSampler`, for every kind (epoch 0
    of an alpha schedule)."""
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
        samples_per_class=samples_per_class,
    )
    return list(sampler)


def refsampler_sampler(
    labels: npt.NDArray[np.int64],
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    num_replicas: int,
    rank: int,
    samples_per_class: int | None = None,
) -> Any:
    """refsampler's :class:`~refsampler.BalancedBatchSampler` for ``--api sampler``.

    Its ``load_state_dict`` refuses a state of another configuration (or seed), which the
    attribute ``refuses_foreign_states`` tells the kit.
    """
    from ..sampler import BalancedBatchSampler

    return BalancedBatchSampler(
        labels,
        batch_size,
        kind=kind,
        alpha=alpha,
        n_batches=n_batches,
        seed=seed,
        num_replicas=num_replicas,
        rank=rank,
        samples_per_class=samples_per_class,
    )


refsampler_sampler.refuses_foreign_states = True  # type: ignore[attr-defined]


class WatchedBatches(list[list[int]]):
    """Batches read from an adapted factory, with what the call did to the caller's lists.

    :func:`refsampler.conformance.calls.call` reads ``inputs_changed`` after the batches.
    """

    inputs_changed: list[str]

    def __init__(self, batches: Iterable[list[int]], inputs_changed: list[str]) -> None:
        super().__init__(batches)
        self.inputs_changed = inputs_changed


def _list_changes(before: list[list[int]], after: Any, stage: str) -> list[str]:
    try:
        now = [list(map(int, members)) for members in after]
    except (TypeError, ValueError):
        return [f"class_idxs replaced by something else while {stage}"]
    if len(now) != len(before):
        return [f"class_idxs changed from {len(before)} to {len(now)} lists while {stage}"]
    out = []
    for c, (old, new) in enumerate(zip(before, now, strict=True)):
        if old != new:
            how = "reordered" if sorted(old) == sorted(new) else "modified"
            out.append(f"class_idxs[{c}] {how} while {stage}")
    return out


def _rejects_kind(exc: BaseException, kind: str) -> bool:
    """Whether ``exc`` is pytorch_balanced_sampler's refusal of a kind it lacks (the message
    starts ``Received kind quota, must be``); another error that merely names the kind is a
    crash, not a decline."""
    quoted = rf"[`'\"]?{re.escape(kind)}[`'\"]?"
    return re.match(rf"\s*Received kind {quoted}, must be\b", str(exc)) is not None


def from_factory(factory: Any) -> MakeBatches:
    """Adapt an object (or class) with pytorch_balanced_sampler's ``.get`` method.

    ``get(class_idxs, batch_size, n_batches, alpha, kind)`` must return an iterable of
    batches. If ``get`` accepts ``seed=``, the seed is passed; otherwise numpy's and torch's
    global generators are seeded for the call and restored afterwards, so a factory that
    uses them is reproducible and the caller's global state is left as it was.

    A ``get`` that rejects the kind the way pytorch_balanced_sampler does (an exception whose
    message starts ``Received kind quota, must be``) does not have that kind: the
    configuration is declined, not failed. Any other exception fails it, even one whose
    message names the kind. The ``class_idxs`` lists are compared with a copy
    after ``get`` returns and after the batches are read; changes are reported by the
    ``inputs_unchanged`` check (the original shuffles them in place).
    """
    instance: Any = factory() if inspect.isclass(factory) else factory
    if not callable(getattr(instance, "get", None)):
        raise InvalidArgumentError(
            f"`factory` must have a .get(class_idxs, batch_size, n_batches, alpha, kind) "
            f"method; got {type(instance).__name__}."
        )
    parameters = inspect.signature(instance.get).parameters
    takes_seed = "seed" in parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    takes_m = takes_any or "samples_per_class" in parameters

    def build(
        class_idxs: list[list[int]], args: tuple[Any, ...], kind: str, seed: int, extra: Any
    ) -> Any:
        keywords = {"seed": seed, **extra} if takes_seed else dict(extra)
        try:
            return instance.get(class_idxs, *args, **keywords)
        except NotImplementedError:
            raise
        except Exception as exc:
            if _rejects_kind(exc, kind):
                raise NotImplementedError(f"the factory rejects kind {kind!r}: {exc}") from exc
            if callable(args[2]) and isinstance(exc, TypeError | ValueError | AttributeError):
                raise NotImplementedError(
                    f"the factory does not take an alpha schedule: {type(exc).__name__}: {exc}"
                ) from exc
            raise

    def make_batches(
        labels: npt.NDArray[np.int64],
        *,
        kind: str,
        alpha: Any,
        batch_size: int,
        n_batches: int,
        seed: int,
        samples_per_class: int | None = None,
    ) -> WatchedBatches:
        extra = {} if samples_per_class is None else {"samples_per_class": samples_per_class}
        if extra and not takes_m:
            raise NotImplementedError("the factory's get() takes no samples_per_class=")
        class_idxs = [np.flatnonzero(labels == c).tolist() for c in range(int(labels.max()) + 1)]
        original = copy.deepcopy(class_idxs)
        args = (batch_size, n_batches, alpha, kind)

        def read() -> WatchedBatches:
            sampler = build(class_idxs, args, kind, seed, extra)
            changed = _list_changes(original, class_idxs, "building the sampler")
            batches = [list(map(int, b)) for b in sampler]
            if not changed:
                changed = _list_changes(original, class_idxs, "reading the batches")
            return WatchedBatches(batches, changed)

        if takes_seed:
            return read()
        import torch

        # The adapted factory draws from numpy's legacy global generator (pytorch_balanced_sampler
        # does); seeding it for the call and restoring it after is the only way to make such a
        # factory reproducible without disturbing the caller.
        saved = np.random.get_state()  # noqa: NPY002
        try:
            np.random.set_state(np.random.RandomState(seed % 2**32).get_state())  # noqa: NPY002
            with torch.random.fork_rng(devices=[]):
                torch.default_generator.manual_seed(seed)
                return read()
        finally:
            np.random.set_state(saved)  # noqa: NPY002

    return make_batches


def weights_kinds() -> tuple[str, ...]:
    """The registered kinds per-sample weights can implement: i.i.d. draws with replacement.

    ``WeightedRandomSampler`` draws every position independently, so only kinds whose every
    property holds for independent draws qualify.
    """
    from .. import kinds as _kinds

    iid = {
        _kinds.PROPERTY_IID_CLASSES,
        _kinds.PROPERTY_WITH_REPLACEMENT,
        _kinds.PROPERTY_EXCHANGEABLE,
    }
    return tuple(k for k in _kinds.names() if _kinds.get(k).properties <= iid)


def from_weights(weights_fn: Callable[..., Any]) -> MakeBatches:
    """Adapt ``weights_fn(labels, alpha) -> per-sample weights`` (:func:`weights_kinds` only).

    The weights drive ``torch.utils.data.WeightedRandomSampler`` (with replacement, seeded
    generator) grouped by ``BatchSampler`` -- the common recipe. ``alpha`` is passed by
    keyword when ``weights_fn`` has a parameter named ``alpha`` (so
    :func:`refsampler.sample_weights`, whose ``alpha`` is keyword-only, works as it is), and
    positionally otherwise. A ``weights_fn`` that raises ``NotImplementedError`` (say, for an
    alpha it cannot serve) declines that configuration.
    """
    try:
        by_keyword = "alpha" in inspect.signature(weights_fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        by_keyword = False

    def make_batches(
        labels: npt.NDArray[np.int64],
        *,
        kind: str,
        alpha: Any,
        batch_size: int,
        n_batches: int,
        seed: int,
        samples_per_class: int | None = None,
    ) -> list[list[int]]:
        if kind not in weights_kinds():
            raise NotImplementedError(
                f"per-sample weights can only implement {', '.join(weights_kinds())}"
            )
        import torch
        from torch.utils.data import BatchSampler, WeightedRandomSampler

        try:
            raw = weights_fn(labels, alpha=alpha) if by_keyword else weights_fn(labels, alpha)
        except (TypeError, ValueError, AttributeError) as exc:
            if callable(alpha):
                raise NotImplementedError(
                    f"the weights take no alpha schedule: {type(exc).__name__}: {exc}"
                ) from exc
            raise
        weights = np.asarray(raw, dtype=np.float64).tolist()
        generator = torch.Generator().manual_seed(seed)
        sampler = WeightedRandomSampler(
            weights, batch_size * n_batches, replacement=True, generator=generator
        )
        return list(BatchSampler(sampler, batch_size, drop_last=True))

    return make_batches


def api_kinds(api: str) -> tuple[str, ...]:
    """The kinds an API can express: every kind the kit checks, or :func:`weights_kinds`."""
    from .runner import default_kinds

    if api == "weights":
        return tuple(k for k in default_kinds() if k in weights_kinds())
    return default_kinds()


def load(spec: str, api: str = "batches", *, index_sampler: bool = False) -> MakeBatches:
    """Import ``MODULE:CALLABLE`` and adapt it to the protocol.

    Importing runs the module's code, so only load code you trust.

    Parameters
    ----------
    spec : str
        ``"package.module:name"``; ``name`` may be dotted (``module:Class.attr``).
    api : {"batches", "factory", "weights", "sampler"}
        How the object is called (``sampler``: a
        :class:`~refsampler.conformance.streams.SamplerAdapter`).
    index_sampler : bool
        For ``api="sampler"``: the sampler yields positions one by one (batched with
        ``BatchSampler(drop_last=False)``).

    Raises
    ------
    InvalidArgumentError
        If ``spec`` is malformed or ``api`` unknown, or if importing raises anything at all
        (including ``SystemExit``), or the object is not callable.
    """
    if api not in APIS:
        raise InvalidArgumentError(
            f'`api` must be one of "batches", "factory", "weights", "sampler"; got {api!r}.'
        )
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise InvalidArgumentError(f"`impl` must look like MODULE:CALLABLE; got {spec!r}.")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        hint = ""
        if isinstance(exc, ModuleNotFoundError) and exc.name == module_name.split(".")[0]:
            hint = (
                f"; run from the directory that holds {exc.name!r}, or put that directory on "
                "PYTHONPATH"
            )
        raise InvalidArgumentError(
            f"`impl` could not be imported ({exc}{hint}); got {spec!r}."
        ) from exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the module's own code failed, or exited, while importing
        raise InvalidArgumentError(
            f"`impl` could not be imported (importing it raised {type(exc).__name__}: "
            f"{exc}); got {spec!r}."
        ) from exc
    if api == "factory":
        try:
            return from_factory(target)
        except (InvalidArgumentError, KeyboardInterrupt):
            raise
        except BaseException as exc:  # building the factory object failed
            raise InvalidArgumentError(
                f"`impl` could not be instantiated ({type(exc).__name__}: {exc}); got {spec!r}."
            ) from exc
    if not callable(target):
        raise InvalidArgumentError(f"`impl` must name a callable; got {spec!r}.")
    if api == "weights":
        return from_weights(target)
    if api == "sampler":
        from .streams import SamplerAdapter

        return SamplerAdapter(target, index_sampler=index_sampler, spec=spec)
    return target


def weighted_random_sampler(
    labels: npt.NDArray[np.int64],
    *,
    kind: str,
    alpha: Any,
    batch_size: int,
    n_batches: int,
    seed: int,
    num_replicas: int,
    rank: int,
) -> Any:
    """The common recipe as a reference per-index sampler for ``--api sampler
    --index-sampler``: torch's ``WeightedRandomSampler`` over
    :func:`refsampler.sample_weights`, drawing one stream per epoch from a generator seeded by
    ``(seed, epoch)`` and sharded as ``DistributedSampler`` shards a dataset (every
    ``num_replicas``-th draw to each rank). Random kind and one alpha only (a schedule or
    another kind is declined)."""
    if kind != "random" or callable(alpha):
        raise NotImplementedError("i.i.d. draws with one fixed alpha only")
    import torch

    from ..weights import sample_weights

    weights = torch.as_tensor(sample_weights(labels, alpha=alpha))
    return _ShardedWeighted(weights, n_batches * batch_size, seed, num_replicas, rank)


class _ShardedWeighted:
    """See :func:`weighted_random_sampler`."""

    def __init__(
        self, weights: Any, num_samples: int, seed: int, num_replicas: int, rank: int
    ) -> None:
        self.weights, self.num_samples = weights, num_samples
        self.seed, self.num_replicas, self.rank, self.epoch = seed, num_replicas, rank, 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch of the next pass."""
        self.epoch = epoch

    def __iter__(self) -> Any:
        import torch
        from torch.utils.data import WeightedRandomSampler

        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        drawn = WeightedRandomSampler(
            self.weights, self.num_samples * self.num_replicas, generator=generator
        )
        return iter(list(drawn)[self.rank :: self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples
