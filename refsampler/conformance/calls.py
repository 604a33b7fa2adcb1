"""Calling an implementation safely: declines, exceptions, timeouts and modified inputs.

Everything an implementation can do wrong while it is called becomes data (:class:`Call`)
instead of a traceback: ``NotImplementedError`` raised before the first batch (by the call, or
by the first ``next``) is a decline; raised later, it is a crash like any other exception or a
timeout: a problem the ``runs`` check reports. Only ``SystemExit`` (the implementation tried to end
the process) escapes, as :class:`AdapterExit`: a broken adapter, not a finding about the
sampler.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ..errors import RefSamplerError

__all__ = ["AdapterExit", "Call", "CallTimedOut", "call", "timed", "with_timeout"]

T = TypeVar("T")


class AdapterExit(RefSamplerError):
    """The implementation (or its module) raised ``SystemExit``: an adapter error."""


class CallTimedOut(RefSamplerError):
    """A call of the implementation outlasted its time limit; the message names the call."""


class _Timeout(BaseException):
    """Raised into the implementation when its time is up (BaseException: ``except
    Exception`` in the implementation must not swallow it)."""


def with_timeout(function: Callable[[], T], seconds: float | None) -> T:
    """``function()``, interrupted after ``seconds`` (None: no limit).

    In the main thread of a POSIX process a timer signal interrupts the call where it is, so
    nothing keeps running afterwards. Elsewhere the call runs in a daemon thread that is
    abandoned on timeout (Python cannot stop a thread).

    Raises
    ------
    _Timeout
        When the time is up.
    """
    if seconds is None:
        return function()
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):

        def alarm(signum: int, frame: Any) -> None:
            raise _Timeout

        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return function()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = function()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise _Timeout
    if "error" in box:
        raise box["error"]
    return box["value"]


def timed(function: Callable[[], T], seconds: float | None, what: str) -> T:
    """``function()`` under :func:`with_timeout`, its timeout raised as :class:`CallTimedOut`.

    Parameters
    ----------
    function : callable
        The call of the implementation.
    seconds : float or None
        The limit (None: no limit).
    what : str
        What the call does, for the message: ``"the epoch 1 pass"`` gives ``"the epoch 1 pass
        did not finish within 5 s (--timeout)"``.

    Raises
    ------
    CallTimedOut
        When the time is up (an ``Exception``, unlike the signal that interrupts the call).
    """
    try:
        return with_timeout(function, seconds)
    except _Timeout:
        raise CallTimedOut(f"{what} did not finish within {seconds:g} s (--timeout)") from None


@dataclass
class Call:
    """What one call of an implementation gave.

    Attributes
    ----------
    batches : list or None
        The batches, read to the end (None when the call declined or failed).
    declined : str
        The ``NotImplementedError`` message when the implementation declined, before its first
        batch ("" otherwise).
    problem : str
        Why the call failed: ``"raised ValueError: ..."`` or a timeout ("" otherwise).
    inputs_changed : list of str
        How the caller's inputs were modified, and when.
    """

    batches: list[Any] | None = None
    declined: str = ""
    problem: str = ""
    inputs_changed: list[str] = field(default_factory=list)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def call(
    adapter: Callable[..., Any],
    labels: npt.NDArray[np.int64],
    *,
    timeout: float | None = None,
    **kwargs: Any,
) -> Call:
    """Call ``adapter(copy of labels, **kwargs)`` and read its batches to the end.

    The labels are compared with the original after the call returns (construction) and
    after the batches were read (iteration). An iterable that carries an ``inputs_changed``
    list (the factory adapter's) adds its own findings.

    Raises
    ------
    AdapterExit
        If the implementation raised ``SystemExit``.
    """
    given = labels.copy()
    out = Call()
    stages: list[str] = []
    batches: list[Any] = []
    before = _global_random_states()

    def run() -> list[Any]:
        result = adapter(given, **kwargs)
        if not np.array_equal(given, labels):
            stages.append("building the sampler")
        for batch in result:  # one by one: a decline must come before the first batch
            batches.append(batch)
        if not np.array_equal(given, labels) and not stages:
            stages.append("reading the batches")
        out.inputs_changed.extend(getattr(result, "inputs_changed", ()))
        return batches

    try:
        out.batches = with_timeout(run, timeout)
    except NotImplementedError as exc:
        if batches:
            out.problem = (
                f"raised {_describe(exc)} after {len(batches)} batches (a decline counts only "
                "before the first batch)"
            )
        else:
            out.declined = _describe(exc)
    except _Timeout:
        out.problem = f"no result within {timeout:g} s (--timeout)"
    except SystemExit as exc:
        raise AdapterExit(
            f"the implementation raised SystemExit({exc.code!r}) when called with "
            f"{kwargs}: an adapter must return batches or raise, never exit"
        ) from exc
    except Exception as exc:
        out.problem = "raised " + _describe(exc)
    for stage in stages:
        changed = int(np.count_nonzero(given != labels)) if given.shape == labels.shape else -1
        what = f"{changed} labels" if changed >= 0 else "the labels array's shape"
        out.inputs_changed.append(f"{what} modified while {stage}")
    after = _global_random_states()
    moved = [name for name in before if before[name] != after.get(name)]
    if moved:
        out.inputs_changed.append(
            f"{' and '.join(moved)} changed by building or reading the batches (a seeded "
            "sampler draws from generators of its own and leaves the caller's alone)"
        )
    return out


def _global_random_states() -> dict[str, bytes]:
    """A fingerprint of each global random generator a sampler might seed or draw from:
    Python's ``random``, numpy's legacy global generator and (when imported) torch's."""
    import pickle
    import random
    import sys

    states = {
        "Python's random state": pickle.dumps(random.getstate()),
        "numpy's global random state": pickle.dumps(np.random.get_state()),  # noqa: NPY002
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        states["torch's global random state"] = bytes(torch.random.get_rng_state().numpy())
    return states
