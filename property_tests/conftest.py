"""refsampler's own property tests test refsampler, unless told otherwise.

The kit's pytest plugin has no default implementation (a CI job that forgets
``--refsampler-impl`` must fail, not test something else). This tree is refsampler's own, so
it sets two defaults when the command line and the ini file leave them out: the
implementation is refsampler's adapter, and the shipped suite's verify run uses a
family-wise level of 1e-8 (its share of the suite's error budget, ``test_budget.py``).
"""

from __future__ import annotations

import pytest

#: The implementation these tests check when ``--refsampler-impl`` is not given.
DEFAULT_IMPL = "refsampler.conformance.adapters:refsampler"
#: Family-wise level of the shipped suite's verify run in this tree.
FAMILY_LEVEL = "1e-8"


def pytest_configure(config: pytest.Config) -> None:
    """Default the kit's options for this tree (see the module docstring)."""
    if not config.getoption("--refsampler-impl") and not config.getini("refsampler_impl"):
        config.option.refsampler_impl = DEFAULT_IMPL
    if not config.getoption("--refsampler-family-level"):
        config.option.refsampler_family_level = FAMILY_LEVEL
