"""Assertions shared by the test modules."""

from __future__ import annotations

import re
from typing import Any

import pytest

from refsampler.errors import InvalidArgumentError

__all__ = ["raises_exactly"]


def raises_exactly(message: str) -> Any:
    """``pytest.raises`` for :class:`~refsampler.errors.InvalidArgumentError` whose message is
    exactly ``message``."""
    return pytest.raises(InvalidArgumentError, match="^" + re.escape(message) + "$")
