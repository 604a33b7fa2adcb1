"""Argument checks shared by every module, so that every message has one shape.

Each check raises :class:`~refsampler.errors.InvalidArgumentError` with the message
``"`name` <requirement>; got <value>."`` and returns the value converted to its canonical type.
This module imports numpy only (and the standard-library kind registry).

Integer arguments that feed arithmetic have an upper bound (``MAX_*`` below), chosen so that
every downstream computation stays exact in int64 and float64; a larger value is refused here
instead of overflowing later.
"""

from __future__ import annotations

import math
import numbers
import re
import reprlib
from collections.abc import Iterator, Mapping, MappingView
from typing import Any

import numpy as np
import numpy.typing as npt

from . import kinds as _kinds
from .errors import InvalidArgumentError

__all__ = [
    "KINDS",
    "MAX_BATCH_SIZE",
    "MAX_EPOCH",
    "MAX_N_BATCHES",
    "MAX_SEED",
    "MAX_STREAM_POSITION",
    "TARGET_SUM_TOLERANCE",
    "as_array",
    "batch_size",
    "class_counts_vector",
    "epoch",
    "epoch_positions",
    "fail",
    "feasible_target",
    "int_array",
    "int_vector",
    "integer",
    "is_int",
    "kind",
    "kind_options",
    "n_batches",
    "n_batches_or_default",
    "non_negative_int",
    "number",
    "positive_int",
    "probability_vector",
    "real_number",
    "seed",
    "unit_interval",
]

#: Whose messages :func:`kind_options` gives.

#: The kind names registered at import; :func:`kind` asks the registry on every call.
KINDS: tuple[str, ...] = _kinds.names()
#: A target is accepted when its sum is within this distance of 1: far above the rounding of a
#: float64 vector normalised to 1, or of decimal literals, never renormalised. The quota and pk
#: schedules give the residual to one class, whose count then drifts from its ideal by it
#: times B per batch, so a looser slack would let that class leave the bound within a run.
TARGET_SUM_TOLERANCE = 1e-12

#: Largest ``batch_size``, 2**40. The per-batch quotas ``B * p_c`` are then float64 values below
#: 2**40 with an absolute error under 2**-13, so their floors and fractional parts are right.
MAX_BATCH_SIZE = 1 << 40
#: Largest ``n_batches`` (per epoch and rank), 2**40: batch and subtask counters stay far
#: below 2**53, the last point where float64 holds every integer.
MAX_N_BATCHES = 1 << 40
#: Largest epoch, 2**40, for ``set_epoch`` and restored states; :func:`epoch` lowers it for long
#: epochs so that stream positions stay below :data:`MAX_STREAM_POSITION`.
MAX_EPOCH = 1 << 40
#: Largest seed, 2**64 - 1: the member streams and priorities are keyed by 64-bit hashes of
#: the seed, so larger seeds would share streams with their low 64 bits (torch's seeds, and
#: ``seed=None``'s, are below it).
MAX_SEED = (1 << 64) - 1
#: Largest position in a class's draw stream, 2**62: ``(epoch + 1) * num_replicas *
#: n_batches * batch_size`` must not exceed it, so stream offsets fit int64 with room to add.
MAX_STREAM_POSITION = 1 << 62

#: A rejected value is shown through this, which never builds the full repr of a long container
#: (a 3e7-element list would take seconds): it stops after a few items.
_SHOW_ITEMS = 10
_SHOW_WIDTH = 80
_REPR = reprlib.Repr()
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _SHOW_ITEMS
_REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = _SHOW_ITEMS
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = _SHOW_WIDTH
_REPR.maxlevel = 3


def _show(value: Any) -> str:
    """Render a rejected value for a message: at most about 80 characters plus its length.

    Cost is independent of the value's size: numpy arrays are summarised by numpy, Python
    containers are cut after a few items before any repr is built.
    """
    if isinstance(value, np.generic):  # np.int64(0) -> 0, as the user would write it
        value = value.item()
    if isinstance(value, np.ma.MaskedArray):  # array2string of one warns on masked ints
        with np.printoptions(threshold=8, precision=6):  # context-local in numpy >= 2.1
            return " ".join(str(value).split())
    if isinstance(value, np.ndarray):
        if value.ndim == 0:  # "array(4)", so that a 0-d array is not mistaken for a scalar
            return repr(value)
        # One line: numpy wraps long rows and puts every row of a matrix on a line of its own.
        return " ".join(np.array2string(value, threshold=8, precision=6).split())
    text = _REPR.repr(value)
    if len(text) > _SHOW_WIDTH:
        text = text[: _SHOW_WIDTH - 3] + "..."
    if isinstance(value, list | tuple | dict | set | frozenset) and len(value) > _SHOW_ITEMS:
        text += f" (length {len(value)})"
    return text


def fail(name: str, requirement: str, value: Any) -> InvalidArgumentError:
    """Build the standard error: "`name` requirement; got value."."""
    return InvalidArgumentError(f"`{name}` {requirement}; got {_show(value)}.")


# -- conversion -------------------------------------------------------------------------------


def as_array(
    name: str, value: Any, requirement: str, *, dtype: Any = None, copy: bool = False
) -> npt.NDArray[Any]:
    """``value`` as a numpy array, or the standard error ``requirement`` if numpy cannot read it.

    Accepts numpy arrays, sequences and anything with ``__array__`` (torch tensors, without
    importing torch). A tensor that requires grad is detached first (numpy refuses it
    otherwise); a tensor on another device is refused with a message saying to move it to the
    CPU. With a ``dtype``, only numbers are converted (bools, complex numbers and strings are
    refused, never cast) and the result is a new array. Without one, ``copy=False`` may return
    the caller's own buffer: the caller must only read it.
    """
    source = value
    unordered = _unordered(value)
    if unordered:
        raise fail(name, unordered, value)
    if np.ma.is_masked(value):
        # np.asarray would read the hidden values under the mask as if they were data.
        raise fail(name, "must not have masked entries (fill or drop them first)", value)
    if getattr(value, "requires_grad", False) is True and callable(getattr(value, "detach", None)):
        value = value.detach()  # a view without autograd history; the data is only read
    try:
        # asarray then copy: np.array(copy=True) warns on __array__ without a copy keyword.
        array = np.asarray(value)
        if dtype is None:
            return array.copy() if copy else array
        if array.dtype.kind not in "iufO":
            raise TypeError(f"refusing to cast {array.dtype} to {dtype}")
        return array.astype(dtype)
    except MemoryError:  # not a property of the argument: no message would be true
        raise
    except Exception as exc:  # ragged lists, device tensors, unconvertible objects
        device = getattr(source, "device", None)
        if device is not None and str(device) != "cpu":
            raise fail(
                name,
                f"must be on the CPU, but is on device {str(device)!r} (move it with .cpu())",
                source,
            ) from exc
        raise fail(name, requirement, source) from exc


def _unordered(value: Any) -> str:
    """Why numpy would misread ``value`` as an array (as one object), or "" if it would not."""
    if hasattr(value, "__array__") or hasattr(value, "__array_interface__"):
        return ""  # numpy reads these as arrays (ndarray.flat is an iterator, say)
    if isinstance(value, MappingView):  # dict.keys(), .values(), .items()
        return "must be a sequence or array, not a view of a mapping (pass list(...) of it)"
    if isinstance(value, (set, frozenset)):
        return "must be an ordered sequence or array, not a set"
    if isinstance(value, Mapping):
        return "must be a sequence or array, not a mapping"
    if isinstance(value, Iterator):  # generators, map(), iter(): numpy sees one object
        return "must be a sequence or array, not an iterator (pass list(...) of it)"
    return ""


def _scalar(value: Any) -> Any:
    """A 0-d numpy array or tensor as a numpy scalar; anything else unchanged.

    Scalar arguments then accept ``np.array(4)`` and ``torch.tensor(4)`` like ``4``.
    """
    if isinstance(value, np.generic) or getattr(value, "ndim", None) != 0:
        return value
    if not hasattr(value, "__array__"):
        return value
    try:
        return as_array("value", value, "")[()]
    except InvalidArgumentError:
        return value  # the caller's type check rejects it with the caller's name


# -- scalars ----------------------------------------------------------------------------------


def _integer(value: Any) -> int | None:
    """``value`` as a Python int if it is an integer (bools excluded), else None."""
    value = _scalar(value)
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def is_int(value: Any) -> bool:
    """True for Python and numpy integers and 0-d integer arrays, False for bools."""
    return _integer(value) is not None


def positive_int(name: str, value: Any, *, maximum: int | None = None) -> int:
    """A Python or numpy integer (or 0-d integer array) in ``[1, maximum]``."""
    result = _integer(value)
    if result is None:
        raise fail(name, "must be a positive int", value)
    if result < 1:
        raise fail(name, "must be >= 1", value)
    if maximum is not None and result > maximum:
        raise fail(name, f"must be <= {maximum}", value)
    return result


def non_negative_int(name: str, value: Any, *, maximum: int | None = None) -> int:
    """A Python or numpy integer (or 0-d integer array) in ``[0, maximum]``."""
    result = _integer(value)
    if result is None:
        raise fail(name, "must be a non-negative int", value)
    if result < 0:
        raise fail(name, "must be >= 0", value)
    if maximum is not None and result > maximum:
        raise fail(name, f"must be <= {maximum}", value)
    return result


def batch_size(value: Any, *, name: str = "batch_size") -> int:
    """Positions per batch: an int in ``[1, MAX_BATCH_SIZE]``."""
    return positive_int(name, value, maximum=MAX_BATCH_SIZE)


def n_batches(value: Any, *, name: str = "n_batches") -> int:
    """Batches per epoch: an int in ``[1, MAX_N_BATCHES]``."""
    return positive_int(name, value, maximum=MAX_N_BATCHES)


def n_batches_or_default(value: Any, size: int, batch: int, replicas: int) -> int:
    """Batches per epoch on each rank: ``value``, or by default (None)
    ``ceil(size / (batch * replicas))``, about one pass over the ``size`` samples per epoch
    over all ranks; then checked by :func:`n_batches`.

    The samplers and :func:`refsampler.diagnostics.describe` share it, so that their defaults
    cannot drift. ``batch`` and ``replicas`` are validated ints.
    """
    if value is None:
        derived = -(-size // (batch * replicas))
        if derived > MAX_N_BATCHES:  # name what the user gave: the data, not n_batches
            raise fail(
                "n_batches",
                f"must be <= {MAX_N_BATCHES}; by default it is ceil(N / (batch_size * "
                f"num_replicas)) for the N = {size} samples, so pass a smaller `n_batches`",
                derived,
            )
        value = derived
    return n_batches(value)


def seed(value: Any, *, name: str = "seed") -> int:
    """A seed: an int in ``[0, MAX_SEED]``."""
    result = non_negative_int(name, value)
    if result > MAX_SEED:
        raise fail(
            name,
            f"must be <= {MAX_SEED} (2**64 - 1: streams are keyed by 64-bit hashes of the "
            "seed, so a larger one would share them with its low 64 bits; reduce it yourself, "
            "e.g. `seed % 2**64`)",
            value,
        )
    return result


def epoch_positions(batch: int, batches: int, replicas: int) -> int:
    """Positions one epoch draws over all ranks, ``batch * batches * replicas``.

    The arguments are validated ints. Refuses ``batches`` (naming ``n_batches``) when one epoch
    would pass :data:`MAX_STREAM_POSITION`; pass the result to :func:`epoch`.

    Examples
    --------
    >>> from refsampler import _validate
    >>> _validate.epoch_positions(32, 100, 2)
    6400
    """
    per_batch_round = batch * replicas
    if per_batch_round > MAX_STREAM_POSITION:  # not even one batch a rank fits in an epoch
        raise fail(
            "num_replicas",
            f"must be <= {MAX_STREAM_POSITION // batch} with `batch_size` {batch} (at most "
            f"{MAX_STREAM_POSITION} positions an epoch)",
            replicas,
        )
    limit = MAX_STREAM_POSITION // per_batch_round
    if batches > limit:
        raise fail(
            "n_batches",
            f"must be <= {limit} with `batch_size` {batch} and `num_replicas` {replicas} "
            f"(at most {MAX_STREAM_POSITION} positions an epoch)",
            batches,
        )
    return batches * per_batch_round


def epoch(value: Any, *, name: str = "epoch", positions: int = 1) -> int:
    """An epoch: an int in ``[0, MAX_EPOCH]`` whose draw streams stay below 2**62.

    Parameters
    ----------
    value : int
        The epoch to check.
    name : str
        The argument's name in the message, e.g. ``"state['epoch']"``.
    positions : int
        Positions one epoch draws over all ranks (:func:`epoch_positions`); the epoch must
        satisfy ``(epoch + 1) * positions <= MAX_STREAM_POSITION``.

    Examples
    --------
    >>> from refsampler import _validate
    >>> _validate.epoch(3)
    3
    >>> _validate.epoch(2**41)
    Traceback (most recent call last):
    ...
    refsampler.errors.InvalidArgumentError: `epoch` must be <= 1099511627776; got 2199023255552.
    """
    limit = min(MAX_EPOCH, MAX_STREAM_POSITION // max(positions, 1) - 1)
    return non_negative_int(name, value, maximum=limit)


def real_number(value: Any) -> float | None:
    """``value`` as a float if it is a real number (bools excluded), else None."""
    value = _scalar(value)
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        return None
    try:
        return float(value)
    except OverflowError:  # an int beyond float range
        return math.copysign(math.inf, value)


# -- numbers as text (command lines, label files) ---------------------------------------------

# Python's int() and float() also read "1_0" as 10 and the digits of other scripts ("٣" as 3):
# in a label file or a command line those are typos, so only plain ASCII decimals are numbers.
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:inf|infinity|nan)",
    re.IGNORECASE,
)


def integer(text: str) -> int:
    """``text`` (surrounding whitespace aside) as an int if it is a plain ASCII decimal integer
    such as ``-12``; raises ValueError otherwise (argparse's ``type``: "invalid integer value").
    """
    stripped = text.strip()
    if not _INTEGER_TEXT.fullmatch(stripped):
        raise ValueError(f"not a plain decimal integer: {text!r}")
    return int(stripped)


def number(text: str) -> float:
    """``text`` (surrounding whitespace aside) as a float if it is a plain ASCII decimal number
    such as ``0.5``, ``.5``, ``5e-1``, ``inf`` or ``nan`` (which the library then refuses with
    its own message); raises ValueError otherwise (argparse's ``type``)."""
    stripped = text.strip()
    if not _NUMBER_TEXT.fullmatch(stripped):
        raise ValueError(f"not a plain decimal number: {text!r}")
    return float(stripped)


def unit_interval(name: str, value: Any) -> float:
    """A real number in [0, 1]; NaN, bools and strings are rejected."""
    result = real_number(value)
    if result is None:
        raise fail(name, "must be a real number in [0, 1]", value)
    if not 0.0 <= result <= 1.0:  # also rejects NaN
        raise fail(name, "must be in [0, 1]", value)
    return result


def kind(value: Any) -> str:
    """One of the registered kinds (:func:`refsampler.kinds.names`)."""
    names = _kinds.names()
    if not isinstance(value, str) or value not in names:
        listed = ", ".join(f'"{n}"' for n in names)
        raise fail("kind", f"must be one of {listed}", value)
    return value


def kind_options(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """The options of ``kind`` (a registered name) among ``given``, by name.

    Every option the kind lists (:attr:`refsampler.kinds.KindTraits.options`) is required,
    and no other may be given: a ``None`` value counts as not given. The values are not
    checked here; the kind checks them (the sampler at once, the kind's plan when built).
    The sampler, :func:`refsampler.diagnostics.describe` and ``refsampler plan`` share it, so
    they refuse the same options with the same messages.
    """
    accepted = _kinds.get(kind).options
    for name, value in given.items():
        if value is not None and name not in accepted:
            owners = " or ".join(
                f'kind="{k}"' for k in _kinds.names() if name in _kinds.get(k).options
            )
            raise InvalidArgumentError(
                f"`{name}` is only for {owners}; got {name}={_show(value)} with kind={kind!r}."
            )
    for name in accepted:
        if given.get(name) is None:
            meaning = _OPTION_MEANINGS.get(name)
            raise InvalidArgumentError(
                f'kind="{kind}" needs `{name}`'
                + (f" ({meaning})" if meaning else "")
                + "; got None."
            )
    return {name: given[name] for name in accepted}


#: What each option of a kind is, for the messages.
_OPTION_MEANINGS = {"samples_per_class": "m, the members of each class in a batch"}


# -- vectors ----------------------------------------------------------------------------------


def int_array(name: str, value: Any, *, allow_empty: bool = False) -> npt.NDArray[np.integer[Any]]:
    """A 1-D array of non-negative integers that fit int64, in its own integer dtype.

    May be the caller's own buffer (no copy for a valid integer array): read it, never write
    it. :func:`int_vector` returns a private int64 copy instead.
    """
    array = as_array(name, value, "must be a 1-D sequence of ints")
    if array.ndim != 1:
        raise fail(name, f"must be 1-D, but has shape {array.shape}", value)
    if array.size == 0:
        if allow_empty:
            return np.zeros(0, dtype=np.int64)
        raise fail(name, "must not be empty", value)
    if array.dtype.kind not in "iu":
        wide = _wide_int(value, array)
        if wide is not None:
            raise _wide_int_error(name, wide, value)
        raise fail(name, f"must hold integers, but has dtype {array.dtype}", value)
    if array.dtype.kind == "i" and array.min() < 0:
        raise _wide_int_error(name, int(array[np.argmax(array < 0)]), value)
    if array.dtype == np.uint64 and array.max() > np.iinfo(np.int64).max:
        raise _wide_int_error(name, int(array[np.argmax(array > np.iinfo(np.int64).max)]), value)
    return array


def int_vector(name: str, value: Any, *, allow_empty: bool = False) -> npt.NDArray[np.int64]:
    """A 1-D array of non-negative integers, returned as a fresh int64 array.

    Accepts sequences, numpy arrays and anything with ``__array__`` (tensors, also ones that
    require grad), so that this module needs no torch import. The caller's object is never
    modified.
    """
    return int_array(name, value, allow_empty=allow_empty).astype(np.int64, copy=True)


def _wide_int_error(name: str, bad: int, value: Any) -> InvalidArgumentError:
    """The error for an entry of an integer vector that is negative or beyond int64."""
    if bad < 0:
        return fail(name, f"must be non-negative, but holds {bad}", value)
    return fail(name, f"must fit in int64, but holds {bad}", value)


def _wide_int(value: Any, array: npt.NDArray[Any]) -> int | None:
    """The first negative or beyond-int64 entry of integers numpy stored as float or object.

    numpy turns ``[0, 2**63]`` into float64 and ``[0, 2**64]`` into object; these are still
    integers, and the message should say which one does not fit. Runs only on the error path.
    """
    if array.dtype.kind not in "fO" or array.ndim != 1:
        return None
    items = value if isinstance(value, list | tuple) else array if array.dtype.kind == "O" else None
    # A plain type test: this may scan millions of items.
    if items is None or not all(
        type(v) is not bool and isinstance(v, int | np.integer) for v in items
    ):
        return None
    # Negatives first, as for integer arrays.
    wide = [int(v) for v in items if not 0 <= v <= np.iinfo(np.int64).max]
    return next((v for v in wide if v < 0), wide[0] if wide else None)


def class_counts_vector(name: str, value: Any) -> npt.NDArray[np.int64]:
    """Per-class sample counts: 1-D, non-negative ints, with a positive total that fits int64."""
    counts = int_vector(name, value)
    # int64 sums wrap silently; add in float first and exactly only when that is close.
    if counts.sum(dtype=np.float64) >= 2.0**62:
        total = sum(counts.tolist())
        if total > np.iinfo(np.int64).max:
            raise fail(name, f"must have a total that fits in int64, but sums to {total}", value)
    if counts.sum() == 0:
        raise fail(name, "must have a positive total", value)
    return counts


def probability_vector(name: str, value: Any) -> npt.NDArray[np.float64]:
    """A 1-D float vector with finite, non-negative entries that sum to 1."""
    # A copy: the caller's data is never touched.
    array = as_array(
        name, value, "must be a 1-D sequence of real numbers", dtype=np.float64, copy=True
    )
    if array.ndim == 0:
        raise fail(name, "must be 1-D, but has shape ()", value)
    if array.ndim != 1 or array.size == 0:
        raise fail(name, "must be a non-empty 1-D sequence", value)
    if not np.all(np.isfinite(array)):
        raise fail(name, "must hold finite numbers", value)
    if np.any(array < 0):
        raise fail(name, "must be non-negative", value)
    try:
        total = math.fsum(array.tolist())
    except OverflowError:  # entries near float max: far from summing to 1
        total = math.inf
    if abs(total - 1.0) > TARGET_SUM_TOLERANCE:
        kind = str(getattr(value, "dtype", ""))
        narrow = any(t in kind for t in ("float32", "float16"))
        raise fail(
            name,
            f"must sum to 1 (within {TARGET_SUM_TOLERANCE:g}), but sums to {total!r}; "
            + (
                f"its {kind.removeprefix('torch.')} values cannot sum to 1 that closely, so "
                "pass refsampler.targets.explicit(weights), which normalises them in float64"
                if narrow
                else "use refsampler.targets.explicit(weights) to normalise weights"
            ),
            value,
        )
    return array


def feasible_target(
    target: npt.NDArray[np.float64], class_counts: npt.NDArray[np.int64], source: str
) -> None:
    """Every class with a positive target share must have at least one sample.

    ``source`` names the argument the target came from, e.g. "`alpha`=0.5" or "`target`".
    """
    if target.shape != class_counts.shape:
        raise InvalidArgumentError(
            f"`target` must have one entry per class ({class_counts.size}); "
            f"got {target.size} entries."
        )
    starved = np.flatnonzero((target > 0) & (class_counts == 0))
    if starved.size:
        c = int(starved[0])
        raise InvalidArgumentError(
            f"{source} gives class {c} a target share of {target[c]:.6g}, but it has no "
            "samples; give it share 0 with an explicit `target`, or relabel so that every "
            f"class id has samples; got class counts {_show(class_counts)}."
        )
