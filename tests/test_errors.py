"""Tests of :mod:`refsampler.errors`: the exception hierarchy callers rely on."""

from __future__ import annotations

import re

import pytest

import refsampler
from refsampler.errors import InvalidArgumentError, RefSamplerError


def test_refsampler_error_is_an_exception() -> None:
    """RefSamplerError is the base of every deliberate error, and a plain Exception."""
    assert issubclass(RefSamplerError, Exception)
    assert not issubclass(RefSamplerError, ValueError)


def test_invalid_argument_error_is_value_error_and_refsampler_error() -> None:
    """InvalidArgumentError subclasses both RefSamplerError and ValueError."""
    assert issubclass(InvalidArgumentError, RefSamplerError)
    assert issubclass(InvalidArgumentError, ValueError)


def test_invalid_argument_error_caught_as_value_error() -> None:
    """Code that already catches ValueError keeps working, and the message is kept verbatim."""
    message = "`alpha` must be in [0, 1]; got 1.5."
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        raise InvalidArgumentError(message)
    assert isinstance(info.value, RefSamplerError)
    assert str(info.value) == message


def test_errors_are_reexported_from_package() -> None:
    """The top-level package exports the same classes, listed in __all__."""
    assert refsampler.InvalidArgumentError is InvalidArgumentError
    assert refsampler.RefSamplerError is RefSamplerError
    names = {"InvalidArgumentError", "RefSamplerError", "RefSamplerWarning"}
    assert names <= set(refsampler.__all__)
    assert set(refsampler.errors.__all__) == names
    assert refsampler.RefSamplerWarning is refsampler.errors.RefSamplerWarning
    assert issubclass(refsampler.RefSamplerWarning, UserWarning)


def test_library_raises_invalid_argument_error_from_public_api() -> None:
    """A bad argument to a public function surfaces as InvalidArgumentError, never a bare one."""
    with pytest.raises(InvalidArgumentError) as info:
        refsampler.interpolate([1, 1], 2.0)
    assert type(info.value) is InvalidArgumentError
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, RefSamplerError)
