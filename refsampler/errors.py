"""Exception types raised by refsampler."""

from __future__ import annotations

__all__ = ["InvalidArgumentError", "RefSamplerError", "RefSamplerWarning"]


class RefSamplerError(Exception):
    """Base class of every error refsampler raises on purpose."""


class InvalidArgumentError(RefSamplerError, ValueError):
    """An argument is out of its domain.

    The message names the argument in backticks and repeats the value it got, for example
    ``"`alpha` must be in [0, 1]; got 1.5."``. It subclasses :class:`ValueError`, so code that
    already catches ``ValueError`` keeps working.
    """


class RefSamplerWarning(UserWarning):
    """A setting that works but is probably not what was meant (for example a distributed
    environment with no process group, so that a sampler does not shard), or a step that will
    be slow once (a fresh sampler set to a late epoch of a sequential quota schedule)."""
